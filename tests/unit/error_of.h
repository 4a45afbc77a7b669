// The message of the rtml::Error that f throws, or "(no error)".
#pragma once

#include <functional>
#include <string>

#include "core/error.h"

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const rtml::Error& e) {
    return e.what();
  }
  return "(no error)";
}
