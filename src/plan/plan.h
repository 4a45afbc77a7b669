// plan/: from an ir::Graph and fixed input shapes to a Plan — the flat list
// of steps the engine walks (and, later, the code generator prints).
//
// build_plan runs a short list of named passes over one shared state
// (plan/pass.h: the list, what each does, how to add one):
//   - shape and type inference (each op's prepare),
//   - constant folding (a deterministic node whose inputs are all constant is
//     run once now; Constant, Shape->Gather->Concat chains, Identity on
//     weights... disappear),
//   - dropping steps whose results no graph output needs, epilogue fusion,
//     letting view ops (Reshape, Squeeze, Flatten, Identity, Dropout) share
//     their input's bytes,
//   - giving every intermediate tensor an arena offset (memory_planner.h).
// Each pass says what it changed in Plan::passes (`rtml info --passes`).
//
// Graph inputs and outputs are not in the arena: the engine binds them to
// caller-owned buffers. Constants stay where import put them (read-only,
// shared, never copied per run).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/size.h"
#include "ir/graph.h"
#include "ops/op.h"
#include "plan/schedule.h"

namespace rtml::plan {

// One memory level of `--memory NAME:BYTES,...` (docs/tiling.md), fastest first.
struct MemoryLevel {
  std::string name;    // "dtcm": a C identifier, used in the generated code's section names
  uint64_t bytes = 0;  // its budget for the arena's tensors
};

struct PlanOptions {
  // Fixed shapes for graph inputs, by name. Required for every input whose
  // declared shape has an unknown dimension; must agree with known ones.
  std::map<std::string, Shape> input_shapes;
  // Epilogue fusion (ops::Step::fuse): a Relu, or a residual Add, after a
  // kernel that can apply it to its output runs inside that kernel's step.
  // false keeps one step per node (the reference for tests).
  bool fuse = true;
  // What the plan may make rtml allocate (`--max-memory`): each output a
  // prepare computes, the constants folding creates, and the session's
  // arena plus input and output buffers. Over it, build_plan throws with
  // the numbers before allocating.
  uint64_t max_memory_bytes = default_memory_limit();
  // Which kernels prepare may pick (kernels/table.h, `--kernels`): simd
  // takes the Highway kernels where they apply; reference and cortex-m use
  // the portable scalar kernels only.
  kernels::KernelSet kernels = kernels::KernelSet::Simd;
  // A RAM budget for the arena in bytes (`--ram`, docs/tiling.md); 0: none.
  // When the arena is over it, build_plan cuts the first layers into row
  // bands (the tile_rows pass) and keeps, of the tilings that fit, the one
  // with the fewest FLOPs (recomputed halos); none fits: rtml::Error.
  uint64_t ram_bytes = 0;
  // Several memory levels, fastest first (`--memory`, docs/tiling.md): the
  // steps work in the first level; a tensor that does not fit there is kept
  // in a later one and copied in before each step that reads it and out
  // after the step that writes it (the place_arena pass). When the untiled
  // plan does not fit, the same search as ram_bytes cuts row bands; their
  // slices and inserts read and write the later levels directly. Exclusive
  // with ram_bytes; empty: one arena.
  std::vector<MemoryLevel> memory_levels;
  // The tiling itself (what that search sets; tests may set it directly):
  // tile_steps steps from the first one that can be cut, in tile_bands bands
  // of the last one's output rows. 0: no tiling.
  int tile_steps = 0;
  int tile_bands = 0;
  // Chains in a product's store (fuse_elementwise_chains): off in every plan
  // of a --ram search and whenever tile_steps is set, because tile_rows
  // prepares each band step again from its node and cannot give it back a
  // chain built for the whole tensor; the chain then runs as its own step
  // (the same per-element functions: bit for bit the same outputs).
  bool store_chains = true;
  // Per-step choices (plan/schedule.h; a tuning record's, `--tuning`):
  // empty = the default schedule.
  Schedule schedule;
};

enum class Storage : uint8_t {
  Arena,     // offset into the session's arena
  Constant,  // read-only weight or folded value
  Input,     // graph input `index`
  Output,    // graph output `index`
  State,     // a step's persistent state (ops::Step::state_bytes): offset
             // into the session's state block, which no other tensor shares
             // and which lives across runs; the step's reset sets it
};

struct TensorPlan {
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;
  size_t bytes = 0;
  Storage storage = Storage::Arena;
  size_t offset = 0;  // Arena, State: byte offset
  int index = 0;      // Input / Output: which one
  int level = 0;      // Arena with PlanOptions::memory_levels: which level (offset is from the arena's start)
  std::shared_ptr<const ir::Buffer> constant;  // Constant: the bytes
};

struct PlanStep {
  std::string node_name;
  // The graph node whose prepare picked the kernel: the step's key in a
  // schedule (plan/schedule.h); node_name may add fused nodes around it.
  std::string key;
  std::string op_type;
  ops::Step step;
  uint32_t first_operand = 0;  // into Plan::operands
  uint32_t num_operands = 0;
  uint32_t num_inputs = 0;   // operands: the node's inputs, then its outputs, then the
  uint32_t num_outputs = 0;  // step's constants, fused addends, the scratch (when scratch_bytes > 0),
                             // the state (when state_bytes > 0: the last operand)
  // Plan::operands' index of the step's state (meaningful when step.state_bytes > 0).
  uint32_t state_operand() const { return first_operand + num_operands - 1; }
};

// A graph output whose value is not written by a step (it is a constant, a
// graph input, or the same tensor as an earlier output): the engine copies
// it into the output buffer after the steps.
struct OutputCopy {
  int output = 0;  // graph output index
  int source = 0;  // tensor index
};

// What one pass of build_plan changed (plan/pass.h), for `rtml info --passes`.
struct PassReport {
  std::string name;     // "fuse_epilogues"
  std::string summary;  // "fused 3 nodes into 2 steps: conv1 + relu1, ..."
  // The summary's main numbers by name ("fused_nodes", 3), for `rtml info --json`.
  std::vector<std::pair<std::string, int64_t>> numbers;
};

// The most row bands build_plan's search tries per tiling.
constexpr int kMaxTileBands = 16;

// What build_plan did with PlanOptions::ram_bytes (docs/tiling.md).
struct TilingReport {
  uint64_t budget_bytes = 0;       // PlanOptions::ram_bytes; 0: no budget asked
  size_t untiled_arena_bytes = 0;  // the layer-by-layer plan's arena
  double untiled_flops = 0;
  int tileable_steps = 0;          // steps tile_rows could cut
  int steps = 0, bands = 0;        // the tiling kept; 0: none (fits as it is)
  int64_t copy_bytes = 0;          // the bands' slice and insert copies per inference
  int candidates = 0;              // tilings tried
  std::string summary;             // one line: how the model fits
};

// Where PlanOptions::memory_levels put the arena (place_arena).
struct LevelPlan {
  std::string name;
  uint64_t budget_bytes = 0;
  size_t base = 0;   // the level's first byte in the one host arena (64-byte aligned)
  size_t bytes = 0;  // its tensors' high-water mark
  size_t lower_bound_bytes = 0;
};
struct LevelsReport {
  std::vector<LevelPlan> levels;  // empty: one arena (no --memory)
  bool fits = true;               // false: `why` says which level is over its budget
  std::string why;
  int spilled = 0;                // tensors kept in a later level
  int copy_steps = 0;             // the copies in and out of the first level
  int64_t copy_bytes = 0;         // per inference
};

struct Plan {
  std::string source;  // model file, for messages
  std::vector<TensorPlan> tensors;
  std::vector<PlanStep> steps;
  std::vector<int32_t> operands;  // tensor index per operand slot, -1 for none
  std::vector<int> inputs;        // tensor index of each graph input
  std::vector<int> outputs;       // tensor index of each graph output
  std::vector<OutputCopy> output_copies;

  size_t arena_bytes = 0;
  size_t arena_lower_bound_bytes = 0;
  size_t arena_no_reuse_bytes = 0;
  size_t state_bytes = 0;        // the steps' persistent state (Storage::State), 64-byte aligned each
  size_t constant_bytes = 0;     // weights, folded constants and packed weights the steps read
  size_t step_constant_bytes = 0;  // of which prepare made for its step (ops::Step::constants)
  kernels::KernelSet kernels = kernels::KernelSet::Simd;  // PlanOptions::kernels
  double flops = 0;              // per inference, estimated
  std::map<std::string, int> graph_op_counts;  // ops in the file
  std::map<std::string, int> plan_op_counts;   // ops left to run after folding (fused ones count as their head op)
  std::vector<PassReport> passes;              // one per pass, in the order they ran
  TilingReport tiling;                         // PlanOptions::ram_bytes or memory_levels
  LevelsReport memory;                         // PlanOptions::memory_levels
};

// Throws rtml::Error for unsupported ops, bad attributes, shape mismatches,
// unknown input names and dynamic dimensions left unset.
Plan build_plan(const ir::Graph& graph, const PlanOptions& options = {});

// Parses "1x128" or "1,128" into a shape; throws rtml::Error on bad syntax.
Shape parse_shape(const std::string& text);

}  // namespace rtml::plan
