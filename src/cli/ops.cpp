#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/options.h"
#include "kernels/table.h"
#include "ops/op.h"

namespace rtml::cli {

namespace {

// The kernel table (kernels/table.h): what `rtml compile` can call.
void print_kernels(bool as_json) {
  const auto& table = kernels::kernel_table();
  if (as_json) {
    nlohmann::json out = nlohmann::json::array();
    for (const kernels::KernelInfo& k : table) {
      nlohmann::json fields = nlohmann::json::array();
      if (k.params)
        for (const kernels::ParamField& f : k.params->fields)
          fields.push_back({{"name", f.name},
                            {"type", kernels::field_kind_c_type(f.kind)},
                            {"offset", f.offset},
                            {"dims", {f.dims[0], f.dims[1]}}});
      out.push_back({{"symbol", k.symbol},
                     {"operands", k.operands},
                     {"source", k.source},
                     {"header", kernels::kernel_header(k)},
                     {"portable", k.portable},
                     {"params", k.params ? nlohmann::json(k.params->c_type) : nlohmann::json(nullptr)},
                     {"params_bytes", k.params ? k.params->size : 0},
                     {"fields", std::move(fields)}});
    }
    std::printf("%s\n", out.dump(1).c_str());
    return;
  }
  size_t portable = 0;
  for (const kernels::KernelInfo& k : table) portable += k.portable;
  std::printf("%zu kernels (%zu portable: the reference and cortex-m sets, and generated C):\n", table.size(),
              portable);
  for (const kernels::KernelInfo& k : table)
    std::printf("  %-44s %-9s %-26s [%s]\n", k.symbol, k.portable ? "portable" : "host", k.source, k.operands);
}

}  // namespace

int cmd_ops(const Args& args) {
  bool list_kernels = false, as_json = false;
  OptionTable table("ops", "[--kernels [--json]]", "Lists the ONNX ops (default domain) the engine supports.");
  table.flag("--kernels", list_kernels, "list the kernel table instead: every kernel's C symbol, source and operands")
      .flag("--json", as_json, "with --kernels: as JSON, with each kernel's params fields");
  if (!table.parse(args)) return 0;
  if (as_json && !list_kernels) throw UsageError("--json goes with --kernels");
  if (list_kernels) {
    print_kernels(as_json);
    return 0;
  }
  auto names = ops::supported_ops();
  std::printf("%zu ONNX ops (default domain):\n", names.size());
  for (const auto& n : names) std::printf("  %s\n", n.c_str());
  return 0;
}

}  // namespace rtml::cli
