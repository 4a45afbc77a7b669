#include <cstdio>

#include "cli/cli.h"
#include "core/error.h"

namespace rtml::cli {

bool parse_shape_option(const Args& args, size_t& i, ModelOptions& out) {
  if (args[i] != "--shape") return false;
  if (i + 1 >= args.size()) throw Error("--shape needs NAME=DIMS, e.g. --shape input=1x128");
  const std::string& spec = args[++i];
  size_t eq = spec.rfind('=');
  if (eq == std::string::npos || eq == 0) throw Error("--shape needs NAME=DIMS, e.g. --shape input=1x128; got '" + spec + "'");
  out.plan.input_shapes[spec.substr(0, eq)] = plan::parse_shape(spec.substr(eq + 1));
  return true;
}

std::string format_bytes(double b) {
  char buf[64];
  if (b < 1024) std::snprintf(buf, sizeof buf, "%.0f B", b);
  else if (b < 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024);
  else std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1024 * 1024));
  return buf;
}

std::string format_count(double n) {
  char buf[64];
  if (n < 1e3) std::snprintf(buf, sizeof buf, "%.0f", n);
  else if (n < 1e6) std::snprintf(buf, sizeof buf, "%.2f K", n / 1e3);
  else if (n < 1e9) std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2f G", n / 1e9);
  return buf;
}

}  // namespace rtml::cli
