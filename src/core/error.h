// The one error type thrown at rtml's edges (import, planning, the CLI).
//
// Messages are written for the user: they name the file, the node, its op
// type and what was expected. Session::run never throws; it returns a status.
#pragma once

#include <stdexcept>
#include <string>

namespace rtml {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace rtml
