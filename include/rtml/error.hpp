// The error type thrown by rtml's C++ API (and internally at its edges):
// loading, preparing, the command line. Session::run never throws.
#pragma once

#include <stdexcept>
#include <string>

namespace rtml {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace rtml
