#include <cstdio>

#include "cli/cli.h"
#include "cli/options.h"
#include "core/error.h"
#include "import/tflite_import.h"

namespace rtml::cli {

int cmd_info(const Args& args) {
  ModelOptions opt;
  bool json = false, passes = false;
  OptionTable table("info", "MODEL [options]",
                    "Prints inputs, outputs, op counts, parameter bytes, FLOPs per inference and the memory plan.");
  add_model_options(table, opt);
  table.flag("--json", json,
             "the same numbers as one JSON object: model, opset, inputs and outputs\n"
             "([{name, dtype, shape}]), parameters, parameter_bytes, flops, steps, kernels (the set),\n"
             "step_kernels ([{node, op_type, kernel}]), constant_bytes, step_constant_bytes, arena_bytes,\n"
             "lower_bound_bytes, no_reuse_bytes, and passes ([{name, summary, and its counts}])");
  table.flag("--passes", passes,
             "print instead one line per pass of the planner: what it changed (folded nodes,\n"
             "dropped steps, fused steps, aliased views, arena size against the lower bound)");
  if (!table.parse(args)) return 0;

  ir::Graph g = import::load_model(opt.model);
  size_t param_bytes = 0, params = 0;
  for (const auto& t : g.tensors)
    if (t.is_constant()) {
      param_bytes += t.data->size();
      params += static_cast<size_t>(shape_numel(t.shape));
    }
  plan::Plan p = plan::build_plan(g, opt.plan);

  if (json) {
    auto tensors = [&](const std::vector<int>& ids) {
      std::string out = "[";
      for (size_t k = 0; k < ids.size(); ++k) {
        const auto& t = p.tensors[ids[k]];
        std::string dims;
        for (size_t d = 0; d < t.shape.size(); ++d) dims += (d ? ", " : "") + std::to_string(t.shape[d]);
        out += std::string(k ? ", " : "") + "{\"name\": " + json_string(t.name) + ", \"dtype\": " +
               json_string(dtype_name(t.dtype)) + ", \"shape\": [" + dims + "]}";
      }
      return out + "]";
    };
    std::string pass_list = "[";
    for (size_t k = 0; k < p.passes.size(); ++k) {
      pass_list += std::string(k ? ",\n    " : "\n    ") + "{\"name\": " + json_string(p.passes[k].name) +
                   ", \"summary\": " + json_string(p.passes[k].summary);
      for (const auto& [key, value] : p.passes[k].numbers) pass_list += ", " + json_string(key) + ": " + std::to_string(value);
      pass_list += "}";
    }
    pass_list += p.passes.empty() ? "]" : "\n  ]";
    std::string kernel_list = "[";
    for (size_t k = 0; k < p.steps.size(); ++k)
      kernel_list += std::string(k ? ",\n    " : "\n    ") + "{\"node\": " + json_string(p.steps[k].node_name) +
                     ", \"op_type\": " + json_string(p.steps[k].op_type) + ", \"kernel\": " +
                     json_string(p.steps[k].step.kernel) + "}";
    kernel_list += p.steps.empty() ? "]" : "\n  ]";
    std::printf("{\n"
                "  \"model\": %s,\n"
                "  \"opset\": %lld,\n"
                "  \"inputs\": %s,\n"
                "  \"outputs\": %s,\n"
                "  \"parameters\": %zu,\n"
                "  \"parameter_bytes\": %zu,\n"
                "  \"flops\": %s,\n"
                "  \"steps\": %zu,\n"
                "  \"kernels\": %s,\n"
                "  \"step_kernels\": %s,\n"
                "  \"constant_bytes\": %zu,\n"
                "  \"step_constant_bytes\": %zu,\n"
                "  \"arena_bytes\": %zu,\n"
                "  \"lower_bound_bytes\": %zu,\n"
                "  \"no_reuse_bytes\": %zu,\n"
                "  \"passes\": %s\n"
                "}\n",
                json_string(opt.model).c_str(), static_cast<long long>(g.opset), tensors(p.inputs).c_str(),
                tensors(p.outputs).c_str(), params, param_bytes, json_number(p.flops).c_str(), p.steps.size(),
                json_string(kernels::kernel_set_name(p.kernels)).c_str(), kernel_list.c_str(), p.constant_bytes,
                p.step_constant_bytes, p.arena_bytes, p.arena_lower_bound_bytes, p.arena_no_reuse_bytes, pass_list.c_str());
    return 0;
  }
  if (passes) {
    for (const plan::PassReport& r : p.passes) std::printf("%-20s %s\n", r.name.c_str(), r.summary.c_str());
    return 0;
  }

  std::printf("model       %s\n", opt.model.c_str());
  std::printf("opset       %lld\n", static_cast<long long>(g.opset));
  std::printf("\ninputs\n");
  for (int id : p.inputs)
    std::printf("  %-24s %-8s %s\n", p.tensors[id].name.c_str(), dtype_name(p.tensors[id].dtype),
                shape_str(p.tensors[id].shape).c_str());
  std::printf("\noutputs\n");
  for (int id : p.outputs)
    std::printf("  %-24s %-8s %s\n", p.tensors[id].name.c_str(), dtype_name(p.tensors[id].dtype),
                shape_str(p.tensors[id].shape).c_str());
  std::printf("\nops (in file -> left to run after folding; a fused Relu / Add runs in the step before it)\n");
  for (const auto& [op, n] : p.graph_op_counts) {
    auto it = p.plan_op_counts.find(op);
    std::printf("  %-24s %4d -> %d\n", op.c_str(), n, it == p.plan_op_counts.end() ? 0 : it->second);
  }
  std::printf("\nparameters  %s values, %s (%zu bytes)\n", format_count(static_cast<double>(params)).c_str(),
              format_bytes(static_cast<double>(param_bytes)).c_str(), param_bytes);
  std::printf("constants   %s held by the plan (%zu bytes), of which %s prepared for its steps (packed weights)\n",
              format_bytes(static_cast<double>(p.constant_bytes)).c_str(), p.constant_bytes,
              format_bytes(static_cast<double>(p.step_constant_bytes)).c_str());
  std::printf("flops       %s per inference (estimate)\n", format_count(p.flops).c_str());
  std::printf("steps       %zu (kernel set %s; rtml info --json lists each step's kernel)\n", p.steps.size(),
              kernels::kernel_set_name(p.kernels));
  std::printf("\nmemory plan (intermediate tensors, one arena)\n");
  std::printf("  arena_bytes        %zu (%s)\n", p.arena_bytes, format_bytes(static_cast<double>(p.arena_bytes)).c_str());
  std::printf("  lower_bound_bytes  %zu (%s)  most bytes live at any step\n", p.arena_lower_bound_bytes,
              format_bytes(static_cast<double>(p.arena_lower_bound_bytes)).c_str());
  std::printf("  no_reuse_bytes     %zu (%s)  every tensor its own buffer\n", p.arena_no_reuse_bytes,
              format_bytes(static_cast<double>(p.arena_no_reuse_bytes)).c_str());
  return 0;
}

}  // namespace rtml::cli
