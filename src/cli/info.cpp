#include <cstdio>
#include <optional>

#include "cli/cli.h"
#include "cli/options.h"
#include "tune/tune.h"
#include "core/error.h"
#include "engine/session.h"
#include "kernels/parallel.h"
#include "plan/pass.h"  // with_commas
#include "import/tflite_import.h"

namespace rtml::cli {

namespace {

struct Quantization {
  float scale = 0;
  int64_t zero_point = 0;
};

// The per-tensor scale and zero point of an integer input (as the
// DequantizeLinear reading it says) or output (the QuantizeLinear writing it),
// looking through data movement (Reshape, Transpose: a TFLite file's layout
// change at its 4-D inputs and outputs). None for float or per-axis tensors.
std::optional<Quantization> quantization_of(const ir::Graph& g, const std::string& name, bool input) {
  ir::TensorId id = g.find(name);
  auto moves = [](const ir::Node& n) {
    return n.op_type == "Reshape" || n.op_type == "Transpose" || n.op_type == "Squeeze" || n.op_type == "Identity";
  };
  for (size_t hops = 0; id != ir::kNoTensor && hops <= g.nodes.size(); ++hops) {
    const ir::Node* next = nullptr;
    for (const ir::Node& n : g.nodes) {
      const auto& ends = input ? n.inputs : n.outputs;
      if (!ends.empty() && ends[0] == id) next = &n;
    }
    if (!next) return std::nullopt;
    const char* want = input ? "DequantizeLinear" : "QuantizeLinear";
    if (next->op_type == want && next->inputs.size() == 3) {
      const ir::Tensor& s = g.tensors[next->inputs[1]];
      const ir::Tensor& z = g.tensors[next->inputs[2]];
      if (!s.is_constant() || !z.is_constant() || shape_numel(s.shape) != 1 || shape_numel(z.shape) != 1 ||
          s.dtype != DType::F32)
        return std::nullopt;
      Quantization q{*s.as<float>(), 0};
      if (z.dtype == DType::I8) q.zero_point = *z.as<int8_t>();
      else if (z.dtype == DType::U8) q.zero_point = *z.as<uint8_t>();
      else return std::nullopt;
      return q;
    }
    if (!moves(*next)) return std::nullopt;
    id = input ? next->outputs[0] : next->inputs[0];
  }
  return std::nullopt;
}

// `"tiling": {...},` for --ram or --memory (docs/tiling.md), else nothing; --memory adds
// "levels": [{name, budget_bytes, bytes, lower_bound_bytes}] and "level_copy_bytes".
std::string tiling_json(const plan::TilingReport& t, const plan::LevelsReport& m) {
  if (!t.budget_bytes) return "";
  std::string levels;
  for (const plan::LevelPlan& l : m.levels)
    levels += std::string(levels.empty() ? "" : ", ") + "{\"name\": " + json_string(l.name) +
              ", \"budget_bytes\": " + std::to_string(l.budget_bytes) + ", \"bytes\": " + std::to_string(l.bytes) +
              ", \"lower_bound_bytes\": " + std::to_string(l.lower_bound_bytes) + "}";
  if (!m.levels.empty())
    levels = ", \"levels\": [" + levels + "], \"level_copy_bytes\": " + std::to_string(m.copy_bytes);
  return "  \"tiling\": {\"budget_bytes\": " + std::to_string(t.budget_bytes) +
         ", \"untiled_arena_bytes\": " + std::to_string(t.untiled_arena_bytes) +
         ", \"untiled_flops\": " + json_number(t.untiled_flops) + ", \"tileable_steps\": " +
         std::to_string(t.tileable_steps) + ", \"steps\": " + std::to_string(t.steps) +
         ", \"bands\": " + std::to_string(t.bands) + ", \"copy_bytes\": " + std::to_string(t.copy_bytes) +
         ", \"candidates\": " + std::to_string(t.candidates) + levels + ", \"summary\": " + json_string(t.summary) +
         "},\n";
}

}  // namespace

int cmd_info(const Args& args) {
  ModelOptions opt;
  bool json = false, passes = false;
  OptionTable table("info", "MODEL [options]",
                    "Prints inputs, outputs, op counts, parameter bytes, FLOPs per inference and the memory plan.");
  add_model_options(table, opt);
  add_tuning_option(table, opt.tuning);
  add_threads_option(table, opt.threads);
  table.flag("--json", json,
             "the same numbers as one JSON object: model, format (onnx or tflite), opset (ONNX) or\n"
             "tflite_schema_version (TFLite), inputs and outputs\n"
             "([{name, dtype, shape, and for an integer tensor quantization: {scale, zero_point}}]), parameters, parameter_bytes, flops, steps, kernels (the set),\n"
             "threads (--threads), split_steps (the steps split over threads when threads > 1),\n"
             "step_kernels ([{node, op_type, kernel, splits}]), constant_bytes, step_constant_bytes, arena_bytes,\n"
             "lower_bound_bytes, no_reuse_bytes, with --ram or --memory tiling ({budget_bytes,\n"
             "untiled_arena_bytes, untiled_flops, tileable_steps, steps, bands, copy_bytes, candidates,\n"
             "summary; --memory: levels [{name, budget_bytes, bytes, lower_bound_bytes}],\n"
             "level_copy_bytes}),\n"
             "and passes ([{name, summary, and its counts}])");
  table.flag("--passes", passes,
             "print instead one line per pass of the planner: what it changed (folded nodes,\n"
             "dropped steps, fused steps, aliased views, arena size against the lower bound)");
  if (!table.parse(args)) return 0;
  apply_tuning(opt, tune::local_target());

  ir::Graph g = import::load_model(opt.model);
  // The file's format and version: an ONNX opset, or a .tflite file's schema version (its
  // graph's opset is only the ONNX semantics the importer gave its nodes).
  const bool tflite = import::is_tflite_file(opt.model);
  const std::string version = tflite ? "tflite (schema version " + std::to_string(import::kTfliteSchemaVersion) + ")"
                                     : "onnx (opset " + std::to_string(g.opset) + ")";
  size_t param_bytes = 0, params = 0;
  for (const auto& t : g.tensors)
    if (t.is_constant()) {
      param_bytes += t.data->size();
      params += static_cast<size_t>(shape_numel(t.shape));
    }
  plan::Plan p = plan::build_plan(g, opt.plan);
  const int threads = resolved_threads(opt.threads);
  size_t split_steps = 0;
  for (const plan::PlanStep& st : p.steps) split_steps += engine::step_splits(st);

  if (json) {
    auto tensors = [&](const std::vector<int>& ids, bool input) {
      std::string out = "[";
      for (size_t k = 0; k < ids.size(); ++k) {
        const auto& t = p.tensors[ids[k]];
        std::string dims;
        for (size_t d = 0; d < t.shape.size(); ++d) dims += (d ? ", " : "") + std::to_string(t.shape[d]);
        out += std::string(k ? ", " : "") + "{\"name\": " + json_string(t.name) + ", \"dtype\": " +
               json_string(dtype_name(t.dtype)) + ", \"shape\": [" + dims + "]";
        if (auto q = quantization_of(g, t.name, input))
          out += ", \"quantization\": {\"scale\": " + json_number(q->scale) + ", \"zero_point\": " +
                 std::to_string(q->zero_point) + "}";
        out += "}";
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
                     json_string(p.steps[k].step.kernel) +
                     ", \"splits\": " + (engine::step_splits(p.steps[k]) ? "true" : "false") + "}";
    kernel_list += p.steps.empty() ? "]" : "\n  ]";
    std::printf("{\n"
                "  \"model\": %s,\n"
                "  \"format\": %s,\n"
                "  %s: %lld,\n"
                "  \"inputs\": %s,\n"
                "  \"outputs\": %s,\n"
                "  \"parameters\": %zu,\n"
                "  \"parameter_bytes\": %zu,\n"
                "  \"flops\": %s,\n"
                "  \"steps\": %zu,\n"
                "  \"threads\": %d,\n"
                "  \"split_steps\": %zu,\n"
                "  \"kernels\": %s,\n"
                "  \"step_kernels\": %s,\n"
                "  \"constant_bytes\": %zu,\n"
                "  \"step_constant_bytes\": %zu,\n"
                "  \"arena_bytes\": %zu,\n"
                "  \"lower_bound_bytes\": %zu,\n"
                "  \"no_reuse_bytes\": %zu,\n"
                "%s"
                "  \"passes\": %s\n"
                "}\n",
                json_string(opt.model).c_str(), json_string(tflite ? "tflite" : "onnx").c_str(),
                json_string(tflite ? "tflite_schema_version" : "opset").c_str(),
                static_cast<long long>(tflite ? import::kTfliteSchemaVersion : g.opset), tensors(p.inputs, true).c_str(),
                tensors(p.outputs, false).c_str(), params, param_bytes, json_number(p.flops).c_str(), p.steps.size(),
                threads, split_steps, json_string(kernels::kernel_set_name(p.kernels)).c_str(), kernel_list.c_str(), p.constant_bytes,
                p.step_constant_bytes, p.arena_bytes, p.arena_lower_bound_bytes, p.arena_no_reuse_bytes, tiling_json(p.tiling, p.memory).c_str(),
                pass_list.c_str());
    return 0;
  }
  if (passes) {
    for (const plan::PassReport& r : p.passes) std::printf("%-20s %s\n", r.name.c_str(), r.summary.c_str());
    return 0;
  }

  std::printf("model       %s\n", opt.model.c_str());
  std::printf("format      %s\n", version.c_str());
  auto print_tensors = [&](const char* title, const std::vector<int>& ids, bool input) {
    std::printf("\n%s\n", title);
    for (int id : ids) {
      const auto& t = p.tensors[id];
      std::string quant;
      if (auto q = quantization_of(g, t.name, input))
        quant = "  scale " + json_number(q->scale) + ", zero point " + std::to_string(q->zero_point);
      std::printf("  %-24s %-8s %s%s\n", t.name.c_str(), dtype_name(t.dtype), shape_str(t.shape).c_str(), quant.c_str());
    }
  };
  print_tensors("inputs", p.inputs, true);
  print_tensors("outputs", p.outputs, false);
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
  const std::string large = "GEMMs and convolutions of >= " + format_count(kernels::kParallelMinFlops) + " FLOPs";
  if (threads > 1)
    std::printf("threads     %d: %zu of the %zu steps split over them (%s)\n", threads, split_steps, p.steps.size(),
                large.c_str());
  else
    std::printf("threads     1 (--threads N splits %zu of the %zu steps: %s)\n", split_steps, p.steps.size(),
                large.c_str());
  std::printf("\nmemory plan (intermediate tensors, one arena)\n");
  std::printf("  arena_bytes        %zu (%s)\n", p.arena_bytes, format_bytes(static_cast<double>(p.arena_bytes)).c_str());
  std::printf("  lower_bound_bytes  %zu (%s)  most bytes live at any step\n", p.arena_lower_bound_bytes,
              format_bytes(static_cast<double>(p.arena_lower_bound_bytes)).c_str());
  std::printf("  no_reuse_bytes     %zu (%s)  every tensor its own buffer\n", p.arena_no_reuse_bytes,
              format_bytes(static_cast<double>(p.arena_no_reuse_bytes)).c_str());
  if (p.tiling.budget_bytes) std::printf("  %-18s %s\n", budget_flag(p), p.tiling.summary.c_str());
  for (const plan::LevelPlan& l : p.memory.levels)
    std::printf("  level %-12s %s B of %s B (lower bound %s B; at %s in one arena)\n", l.name.c_str(),
                plan::with_commas(l.bytes).c_str(), plan::with_commas(l.budget_bytes).c_str(),
                plan::with_commas(l.lower_bound_bytes).c_str(), plan::with_commas(l.base).c_str());
  return 0;
}

}  // namespace rtml::cli
