#include "plan/plan.h"

#include <cctype>
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

std::string levels_text(const std::vector<MemoryLevel>& levels) {
  std::string t;
  for (const MemoryLevel& l : levels) t += (t.empty() ? "" : ",") + l.name + ":" + std::to_string(l.bytes);
  return "--memory " + t;
}

void check_levels(const ir::Graph& graph, const PlanOptions& o) {
  if (o.memory_levels.empty()) return;
  if (o.ram_bytes) throw Error(graph.source + ": --ram and --memory are exclusive (--ram N is --memory ram:N)");
  if (o.kernels == kernels::KernelSet::CmsisNn)
    throw Error(graph.source + ": --memory is not available with --kernels cmsis-nn (its scratch is outside the "
                "levels); use cortex-m or reference");
  for (size_t k = 0; k < o.memory_levels.size(); ++k) {
    const MemoryLevel& l = o.memory_levels[k];
    bool ident = !l.name.empty() && !std::isdigit(static_cast<unsigned char>(l.name[0]));
    for (char c : l.name) ident = ident && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!ident) throw Error("--memory: a level's name must be a C identifier (letters, digits, _): '" + l.name + "'");
    if (l.bytes == 0) throw Error("--memory: level " + l.name + " has 0 bytes");
    for (size_t j = 0; j < k; ++j)
      if (o.memory_levels[j].name == l.name) throw Error("--memory: level " + l.name + " is named twice");
  }
}

// The place_arena line of a --memory plan: where each level stands.
std::string levels_line(const Plan& p) {
  for (const PassReport& r : p.passes)
    if (r.name == "place_arena") return r.summary;
  return "";
}

}  // namespace

// PlanOptions::ram_bytes (or memory_levels): the untiled plan if it fits,
// else the search over tile_rows' tilings (steps x bands) for the fitting
// one with the fewest FLOPs, then the fewest bytes copied, then the smallest
// arena.
Plan build_plan(const ir::Graph& graph, const PlanOptions& options) {
  check_levels(graph, options);
  const bool levels = !options.memory_levels.empty();
  auto fail_levels = [&](Plan p) {
    if (!p.memory.fits) throw Error(graph.source + ": the activations do not fit in " +
                                    levels_text(options.memory_levels) + ": " + p.memory.why);
    return p;
  };
  if ((options.ram_bytes == 0 && !levels) || options.tile_steps > 0) return fail_levels(run_passes(graph, options));
  const uint64_t budget = options.ram_bytes;
  const std::string asked = levels ? levels_text(options.memory_levels) : "--ram " + bytes_text(budget);
  auto fits = [&](const Plan& p) { return levels ? p.memory.fits : p.arena_bytes <= budget; };
  auto copies = [&](const Plan& p) { return pass_number(p, "tile_rows", "copy_bytes") + p.memory.copy_bytes; };
  PlanOptions o = options;
  o.ram_bytes = 0;
  // The default plan (chains in the products' stores) when it fits; else the
  // search, whose plans all keep chains as their own steps
  // (PlanOptions::store_chains), the untiled one first.
  Plan untiled = run_passes(graph, o);
  TilingReport t;
  t.budget_bytes = levels ? options.memory_levels[0].bytes : budget;
  t.untiled_arena_bytes = untiled.arena_bytes;
  t.untiled_flops = untiled.flops;
  const size_t untiled_lower_bound = untiled.arena_lower_bound_bytes;
  const std::string untiled_why = untiled.memory.why;
  if (options.store_chains && !fits(untiled)) {
    o.store_chains = false;
    untiled = run_passes(graph, o);
  }
  t.tileable_steps = static_cast<int>(pass_number(untiled, "tile_rows", "tileable_steps"));
  if (fits(untiled)) {
    t.summary = levels ? "fits untiled in " + asked + ": " + levels_line(untiled)
                       : "fits untiled: arena " + bytes_text(untiled.arena_bytes) + " <= " + asked;
    t.copy_bytes = untiled.memory.copy_bytes;
    untiled.tiling = t;
    return untiled;
  }
  if (options.kernels == kernels::KernelSet::CmsisNn)
    throw Error(graph.source + ": the arena needs " + bytes_text(t.untiled_arena_bytes) + ", over " + asked +
                ", and row-band tiling is not available with --kernels cmsis-nn (use cortex-m or reference)");
  std::optional<Plan> best;
  size_t smallest = levels ? untiled.memory.levels[0].bytes : untiled.arena_bytes;
  std::string smallest_how = levels ? "untiled: " + untiled.memory.why : "untiled", first_error;
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
      const size_t size = levels ? p.memory.levels[0].bytes : p.arena_bytes;
      if (size < smallest) {
        smallest = size;
        smallest_how = tiling_text(p) + (levels && !p.memory.fits ? ": " + p.memory.why : "");
      }
      if (!fits(p)) continue;
      if (!best || p.flops < best->flops ||
          (p.flops == best->flops && (copies(p) < copies(*best) ||
                                      (copies(p) == copies(*best) && p.arena_bytes < best->arena_bytes)))) {
        t.steps = steps;
        t.bands = bands;
        best = std::move(p);
      }
    }
  if (!best) {
    std::string why = graph.source + ": the activations do not fit in " + asked + ": ";
    why += levels ? "the layer-by-layer plan: " + untiled_why
                  : "the layer-by-layer arena needs " + bytes_text(t.untiled_arena_bytes) + " (lower bound " +
                        bytes_text(untiled_lower_bound) + ")";
    if (t.tileable_steps == 0)
      why += ", and no step at the start of the model can be cut into row bands (docs/tiling.md says which can)";
    else
      why += "; the smallest of " + std::to_string(t.candidates) + " row-band tilings needs " + bytes_text(smallest) +
             (levels ? " as one arena" : "") + " (" + smallest_how + ")";
    if (!first_error.empty()) why += "; a tiling failed: " + first_error;
    throw Error(why);
  }
  t.copy_bytes = copies(*best);
  char flops[32], ratio[32];
  std::snprintf(flops, sizeof flops, "FLOPs %+.1f%%",
                t.untiled_flops > 0 ? 100.0 * (best->flops / t.untiled_flops - 1) : 0.0);
  std::snprintf(ratio, sizeof ratio, "%.2fx", static_cast<double>(best->arena_bytes) / t.untiled_arena_bytes);
  t.summary = levels ? "tiled in " + asked + " (" + flops + "): " + levels_line(*best) + "; " + tiling_text(*best)
                     : "tiled: arena " + bytes_text(best->arena_bytes) + " <= " + asked + " (" + ratio +
                           " the untiled arena, " + flops + "; untiled " + bytes_text(t.untiled_arena_bytes) +
                           "): " + tiling_text(*best);
  best->tiling = t;
  return std::move(*best);
}

}  // namespace rtml::plan
