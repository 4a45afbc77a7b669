#include <cstdio>

#include "cli/cli.h"
#include "cli/options.h"
#include "ops/op.h"

namespace rtml::cli {

int cmd_ops(const Args& args) {
  if (!OptionTable("ops", "", "Lists the ONNX ops (default domain) the engine supports.").parse(args)) return 0;
  auto names = ops::supported_ops();
  std::printf("%zu ONNX ops (default domain):\n", names.size());
  for (const auto& n : names) std::printf("  %s\n", n.c_str());
  return 0;
}

}  // namespace rtml::cli
