#include "plan/plan.h"

#include <cstdio>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "plan/pass.h"

namespace rtml::plan {

Shape parse_shape(const std::string& text) {
  Shape s;
  if (text.empty() || text == "scalar") return s;
  std::string part;
  std::stringstream ss(text);
  while (std::getline(ss, part, text.find(',') != std::string::npos ? ',' : 'x')) {
    if (part.empty() || part.size() > 18 || part.find_first_not_of("0123456789") != std::string::npos)
      throw Error("bad shape '" + text + "': expected dimensions like 1x128");
    s.push_back(std::stoll(part));
  }
  return s;
}

// The passes, in order (pass.h says what each does and how to add one).
const std::vector<Pass>& plan_passes() {
  static const std::vector<Pass> passes = {
      {"fold_transpose_matmul", fold_transpose_matmul},  // Transpose -> MatMul/Gemm B becomes its transB
      {"resolve_inputs", resolve_inputs},          // input and constant types and shapes
      {"apply_schedule", apply_schedule},          // check the schedule (--tuning); prepare applies it
      {"prepare_fold", prepare_fold},              // prepare every node; fold the constant ones
      {"fold_pad", fold_pad},                      // a Pad -> Conv/pool becomes the Conv's or pool's pads
      {"fold_causal_slice", fold_causal_slice},    // Conv -> Slice dropping outputs becomes the Conv's pads
      {"fuse_layer_norm", fuse_layer_norm},        // LayerNorm written out (ReduceMean ... Add) -> LayerNormalization
      {"fuse_softmax", fuse_softmax},              // softmax written out (Exp, ReduceSum, Div) -> Softmax
      {"fuse_qdq", fuse_qdq},                      // DequantizeLinear -> Conv/MatMul/Gemm -> QuantizeLinear: one int8 step
      {"drop_dead_steps", drop_dead_steps},        // steps no graph output needs
      {"fuse_epilogues", fuse_epilogues},          // Relu / Add into the step before
      {"fuse_elementwise_chains", fuse_elementwise_chains},  // elementwise chains -> one step, one pass
      {"tile_rows", tile_rows},                    // --ram: the first layers band by band of rows
      {"alias_views", alias_views},                // views share their input's bytes
      {"emit_steps", emit_steps},                  // storage classes, PlanSteps, lifetimes
      {"place_arena", place_arena},                // arena offsets
  };
  return passes;
}

namespace {

Plan run_passes(const ir::Graph& graph, const PlanOptions& options) {
  PlanState state(graph, options);
  for (const Pass& pass : plan_passes()) run_pass(state, pass);
  return std::move(state.plan);
}

int64_t pass_number(const Plan& p, const char* pass, const char* key) {
  for (const PassReport& r : p.passes)
    if (r.name == pass)
      for (const auto& [k, v] : r.numbers)
        if (k == key) return v;
  return 0;
}

std::string bytes_text(uint64_t n) { return with_commas(static_cast<size_t>(n)) + " B"; }

std::string tiling_text(const Plan& p) {
  for (const PassReport& r : p.passes)
    if (r.name == "tile_rows") return r.summary;
  return "";
}

}  // namespace

// PlanOptions::ram_bytes: the untiled plan if its arena fits, else the
// search over tile_rows' tilings (steps x bands) for the fitting one with
// the fewest FLOPs, then the smallest arena.
Plan build_plan(const ir::Graph& graph, const PlanOptions& options) {
  if (options.ram_bytes == 0 || options.tile_steps > 0) return run_passes(graph, options);
  const uint64_t budget = options.ram_bytes;
  PlanOptions o = options;
  o.ram_bytes = 0;
  o.store_chains = false;  // the same steps in every plan of the search (PlanOptions::store_chains)
  Plan untiled = run_passes(graph, o);
  TilingReport t;
  t.budget_bytes = budget;
  t.untiled_arena_bytes = untiled.arena_bytes;
  t.untiled_flops = untiled.flops;
  t.tileable_steps = static_cast<int>(pass_number(untiled, "tile_rows", "tileable_steps"));
  if (untiled.arena_bytes <= budget) {
    t.summary = "fits untiled: arena " + bytes_text(untiled.arena_bytes) + " <= --ram " + bytes_text(budget);
    untiled.tiling = t;
    return untiled;
  }
  if (options.kernels == kernels::KernelSet::CmsisNn)
    throw Error(graph.source + ": the arena needs " + bytes_text(untiled.arena_bytes) + ", over --ram " +
                bytes_text(budget) + ", and row-band tiling is not available with --kernels cmsis-nn " +
                "(use cortex-m or reference)");
  std::optional<Plan> best;
  size_t smallest = untiled.arena_bytes;
  std::string smallest_how = "untiled", first_error;
  for (int steps = 1; steps <= t.tileable_steps; ++steps)
    for (int bands = 2; bands <= kMaxTileBands; ++bands) {
      o.tile_steps = steps;
      o.tile_bands = bands;
      Plan p;
      try {
        p = run_passes(graph, o);
      } catch (const Error& e) {  // a length the region cannot end at, or a step that refused its band
        const std::string m = e.what();
        if (first_error.empty() && m.find("the region that can be cut ends after") == std::string::npos)
          first_error = m;
        continue;
      }
      ++t.candidates;
      if (pass_number(p, "tile_rows", "bands") != bands) break;  // no more rows to cut
      if (p.arena_bytes < smallest) {
        smallest = p.arena_bytes;
        smallest_how = tiling_text(p);
      }
      if (p.arena_bytes > budget) continue;
      if (!best || p.flops < best->flops || (p.flops == best->flops && p.arena_bytes < best->arena_bytes)) {
        t.steps = steps;
        t.bands = bands;
        best = std::move(p);
      }
    }
  if (!best) {
    std::string why = graph.source + ": the activations do not fit in --ram " + bytes_text(budget) +
                      ": the layer-by-layer arena needs " + bytes_text(untiled.arena_bytes) + " (lower bound " +
                      bytes_text(untiled.arena_lower_bound_bytes) + ")";
    if (t.tileable_steps == 0)
      why += ", and no step at the start of the model can be cut into row bands (docs/tiling.md says which can)";
    else
      why += "; the smallest of " + std::to_string(t.candidates) + " row-band tilings needs " + bytes_text(smallest) +
             " (" + smallest_how + ")";
    if (!first_error.empty()) why += "; a tiling failed: " + first_error;
    throw Error(why);
  }
  t.copy_bytes = pass_number(*best, "tile_rows", "copy_bytes");
  char pct[64];
  std::snprintf(pct, sizeof pct, "%.2fx the untiled arena, FLOPs %+.1f%%",
                static_cast<double>(best->arena_bytes) / static_cast<double>(untiled.arena_bytes),
                untiled.flops > 0 ? 100.0 * (best->flops / untiled.flops - 1) : 0.0);
  t.summary = "tiled: arena " + bytes_text(best->arena_bytes) + " <= --ram " + bytes_text(budget) + " (" + pct +
              "; untiled " + bytes_text(untiled.arena_bytes) + "): " + tiling_text(*best);
  best->tiling = t;
  return std::move(*best);
}

}  // namespace rtml::plan
