#include "util/plugin_dirs.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

namespace fs = std::filesystem;

namespace rtml::util {

std::vector<std::string> plugin_dirs() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("RTML_PLUGIN_PATH")) {
    std::string s = env;
    for (size_t start = 0; start <= s.size();) {
      size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) dirs.push_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    fs::path dir = fs::path(std::string(exe, static_cast<size_t>(n))).parent_path();
    dirs.push_back(dir.string());
    dirs.push_back((dir.parent_path() / "lib" / "rtml").string());
  }
  return dirs;
}

std::string find_plugin_file(const std::string& file) {
  for (const std::string& dir : plugin_dirs()) {
    std::error_code ec;
    fs::path p = fs::path(dir) / file;
    if (fs::is_regular_file(p, ec)) return p.string();
  }
  return "";
}

}  // namespace rtml::util
