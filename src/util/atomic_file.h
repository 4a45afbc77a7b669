// Writes a file so that a reader sees the old file or the complete new one,
// never a half-written one: the bytes go to PATH.tmp, then rename() moves it
// into place. A failed write (disk full) removes the temporary and throws
// rtml::Error naming PATH; the previous PATH is left as it was.
#pragma once

#include <functional>
#include <ostream>
#include <string>

namespace rtml::util {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

}  // namespace rtml::util
