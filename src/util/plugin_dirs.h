// Where rtml looks for the shared objects it loads or hands to other
// programs (backend plugins, the QEMU instruction-count plugin), in order:
// each folder of $RTML_PLUGIN_PATH (colon-separated), the folder of the
// running executable, and <that folder>/../lib/rtml (the installed layout).
#pragma once

#include <string>
#include <vector>

namespace rtml::util {

std::vector<std::string> plugin_dirs();

// The first plugin_dirs() entry holding a regular file named file, or "".
std::string find_plugin_file(const std::string& file);

}  // namespace rtml::util
