#include "util/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "core/error.h"

namespace rtml::util {

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot create (" + std::strerror(errno) + ")");
    write(out);
    out.flush();
    if (!out) {
      std::remove(tmp.c_str());
      throw Error(path + ": write failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": cannot move into place (" + std::strerror(errno) + ")");
  }
}

}  // namespace rtml::util
