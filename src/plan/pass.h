// The plan as a short list of named passes over one PlanState.
//
// build_plan (plan.cpp) makes a PlanState from the graph and the options,
// then runs the passes of plan_passes() in order; each fills a PassReport
// (what it changed, in one line) that ends up in Plan::passes (`rtml info
// --passes`). Passes run once per model, before the first inference: they
// may allocate and throw; nothing here runs in Session::run. The list, in
// order (one file each in plan/passes/):
//   fold_transpose_matmul  a Transpose swapping B's last two dims in front of
//                       a MatMul or Gemm becomes its transB (MatMul: the
//                       kFusedDomain form), read by the packing: no copy;
//                       PlanOptions::fuse
//   resolve_inputs      types and shapes of the graph inputs (the file and
//                       PlanOptions::input_shapes) and of the initializers
//   apply_schedule      checks PlanOptions::schedule (plan/schedule.h) against
//                       the graph and reports it; prepare_node applies it
//   prepare_fold        each node's prepare in topological order (types,
//                       shapes, kernel); a deterministic node whose inputs are
//                       all constant runs once now; its outputs become constants
//   fold_pad            a constant Pad along the spatial dimensions in front
//                       of a Conv, AveragePool or MaxPool becomes that node's
//                       pads when its kernel pads the same (zeros for Conv and
//                       AveragePool, -inf or zeros after a Relu for MaxPool;
//                       rewrites the node and prepares it again)
//   fold_causal_slice   a Slice keeping a contiguous run of a Conv's outputs
//                       (the causal Conv1d(padding=p)(x)[..., :-p]) becomes
//                       the Conv's pads (p, 0)
//   fuse_layer_norm     LayerNorm written out (ReduceMean, Sub, Pow, ReduceMean,
//                       Add, Sqrt, Div [, Mul gamma] [, Add beta]) over the
//                       trailing dims becomes one LayerNormalization step;
//                       PlanOptions::fuse
//   fuse_softmax        softmax written out ([ReduceMax, Sub,] Exp, ReduceSum,
//                       Div) over one axis becomes one Softmax step (as exact
//                       or more: it cannot overflow); PlanOptions::fuse
//   fuse_qdq            DequantizeLinear (activation, constant weights, bias)
//                       -> Conv / MatMul / Gemm / Add / Mul -> [Relu | Clip]
//                       -> QuantizeLinear becomes one int8 step (an
//                       ops::kFusedDomain QLinear node, prepared again);
//                       pools and views with equal scales run on int8,
//                       Sigmoid / Tanh as a table; LSTM / GRU / RNN with
//                       dequantized int8 W and R keep them int8 (weight-only);
//                       PlanOptions::fuse
//   drop_dead_steps     steps whose results no graph output needs
//   fuse_epilogues      a Relu or a same-shaped Add runs inside the step before
//                       it when that kernel can (Step::fuse; PlanOptions::fuse)
//   fuse_elementwise_chains  float32 elementwise steps whose intermediates
//                       only they read (unary ops, binary ops with a
//                       constant, a broadcast tensor or another input, Pow
//                       by 2/3/0.5, Clip) run as one step: a program over
//                       the data in one pass (kernels/elementwise_chain.h),
//                       named after every node it holds; PlanOptions::fuse
//   tile_rows           with PlanOptions::tile_steps: the first steps (a chain
//                       of Conv / pools / elementwise) run band by band of
//                       rows, halos recomputed (docs/tiling.md)
//   alias_views         a view step (Reshape, Flatten...) whose input and
//                       output are both in the arena shares its input's bytes
//   emit_steps          a storage class per tensor (arena, constant, input,
//                       output), the PlanSteps with their operands, and each
//                       arena buffer's lifetime
//   place_arena         arena offsets (memory_planner.h); with
//                       PlanOptions::memory_levels, place_levels: tensors
//                       kept out of the first level and the copies in and out
//
// Adding a pass: write `void my_pass(PlanState&, PassReport&)` in
// plan/passes/my_pass.cpp, declare it below, put one line in plan_passes()
// (plan.cpp), fill report.summary with what it changed ("nothing to do"
// when nothing) and report.numbers with its counts, and test it in
// tests/unit/plan_passes_test.cpp. Three kinds fit naturally:
//   - a graph rewrite whose pattern needs only the nodes and the constant
//     initializers (graph.tensors[t].data) runs BEFORE resolve_inputs, over
//     `graph` only: the planner's own copy, free to change (add tensors
//     with add_tensor, rewire node inputs, erase nodes); info and steps are
//     still empty.
//   - a rewrite that needs folded values, types or shapes (like
//     fold_pad: exporters compute pads, axes and shapes with
//     small subgraphs that only prepare_fold turns into constants; also
//     LayerNorm spelled out, QDQ around a Conv) runs right AFTER
//     prepare_fold: it reads `info` and `constant`, changes nodes of
//     `graph`, calls prepare_node for each node it changed and sets
//     keep = false on the steps it made redundant.
//   - a step pass (fusion, tiling, a schedule) runs AFTER drop_dead_steps
//     and before alias_views, over `steps`: it may change a step's kernel
//     and operands, or absorb a later step (keep = false).
// A pass reads the state that the passes before it left and nothing else;
// errors are rtml::Error with the file, node and op in the message.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ops/op.h"
#include "plan/memory_planner.h"
#include "plan/plan.h"

namespace rtml::plan {

// One node after prepare that was not folded: the step it will run.
struct PreparedStep {
  int node = 0;  // index into PlanState::graph.nodes
  ops::Step step;
  // The step's operands: the node's, until epilogue fusion gives the step the
  // output of a node it absorbed and that node's other addend (`fused`).
  std::vector<ir::TensorId> inputs, outputs, fused;
  std::string name, op_type;  // "conv1 + relu1", "Conv+Relu" after fusion
  bool keep = true;    // false: dead, or absorbed by an earlier step
  bool alias = false;  // a view whose output shares its input's bytes: no step is emitted
};

// What the passes share. Each pass owns no state of its own.
struct PlanState {
  PlanState(const ir::Graph& source_graph, PlanOptions plan_options);

  ir::Graph graph;      // a copy of the model's graph; graph rewrites change it
  PlanOptions options;
  // Per tensor of `graph` (from resolve_inputs on): type, shape, and the
  // bytes of constants (initializers and folded results).
  std::vector<ops::TensorInfo> info;
  std::vector<std::shared_ptr<const ir::Buffer>> constant;
  std::vector<PreparedStep> steps;  // in topological order (prepare_fold on)
  uint64_t folded_bytes = 0;        // constants folding made so far (held to options.max_memory_bytes)
  // emit_steps -> place_arena: one request per arena tensor and its plan tensor index.
  std::vector<BufferRequest> requests;
  std::vector<int> request_tensor;
  Plan plan;  // what build_plan returns
};

using PassFn = void (*)(PlanState& state, PassReport& report);
struct Pass {
  const char* name;
  PassFn run;
};

// The passes build_plan runs, in order.
const std::vector<Pass>& plan_passes();
// Runs one pass and appends its report to state.plan.passes.
void run_pass(PlanState& state, const Pass& pass);

void fold_transpose_matmul(PlanState& state, PassReport& report);
void resolve_inputs(PlanState& state, PassReport& report);
// Prepares node `node` of state.graph from state.info (prepare_fold does
// this for every node, in topological order). A node whose inputs are all
// constant is run now: its outputs become constants and it returns false;
// else `prepared` is its step and it returns true. Throws rtml::Error.
bool prepare_node(PlanState& state, int node, PreparedStep& prepared);
void prepare_fold(PlanState& state, PassReport& report);
// Checks PlanOptions::schedule (plan/schedule.h) and reports it; prepare_node applies it.
void apply_schedule(PlanState& state, PassReport& report);
void fold_pad(PlanState& state, PassReport& report);
void fold_causal_slice(PlanState& state, PassReport& report);
void fuse_layer_norm(PlanState& state, PassReport& report);
void fuse_softmax(PlanState& state, PassReport& report);
void fuse_qdq(PlanState& state, PassReport& report);
void drop_dead_steps(PlanState& state, PassReport& report);
void fuse_epilogues(PlanState& state, PassReport& report);
void fuse_elementwise_chains(PlanState& state, PassReport& report);
void tile_rows(PlanState& state, PassReport& report);
void alias_views(PlanState& state, PassReport& report);
void emit_steps(PlanState& state, PassReport& report);
void place_arena(PlanState& state, PassReport& report);
// place_arena over PlanOptions::memory_levels (plan/passes/place_levels.cpp).
void place_levels(PlanState& state, PassReport& report);

// For the rewrites that match chains of steps after prepare_fold (fold_pad,
// fold_causal_slice, fuse_layer_norm, fuse_softmax, fuse_elementwise_chains): where each tensor of
// state.graph comes from among the kept steps, and how often it is read (each
// input slot of a kept step and each graph output count once), so a rewrite
// absorbs only intermediates nothing else reads. An epilogue's addend
// (PreparedStep::fused) counts as a read too.
struct TensorUses {
  std::vector<int> producer;  // index into state.steps; -1 for inputs and constants
  std::vector<int> readers;
};
TensorUses tensor_uses(const PlanState& state);
// The kept step whose output 0 is t when its node is `op_type` in the
// default domain, else nullptr.
PreparedStep* producer_of(PlanState& state, const TensorUses& uses, ir::TensorId t, const char* op_type);
const ir::Attribute* find_attr(const ir::Node& node, const std::string& name);
// A known one-element float32 value (a constant or folded tensor).
bool constant_scalar(const PlanState& state, ir::TensorId t, float& value);
// What a ReduceSum/ReduceMean/ReduceMax step reduces: sorted dims in
// [0, rank) of its input when keepdims is 1 and the axes are listed (the
// attribute, or input 1 once known); empty otherwise.
std::vector<int> reduced_axes(const PlanState& state, const ir::Node& reduce);
// A chain of steps a rewrite replaces by one node: the last step's node
// becomes `op_type` over `inputs` with `attrs` (its outputs stay).
struct ChainRewrite {
  std::vector<PreparedStep*> chain;  // in order
  std::string op_type;
  std::vector<ir::TensorId> inputs;
  std::map<std::string, ir::Attribute> attrs;
};
using ChainMatcher = bool (*)(PlanState& state, const TensorUses& uses, PreparedStep& from, ChainRewrite& rewrite);
// Tries `match` from every kept step of `op` (default domain) in order; each
// match is rewritten: the chain's last node becomes the new node, prepared
// again, the other steps of the chain are dropped (keep = false), and the
// step is named after every node it replaced ("n1 + n2 + n3", as epilogue
// fusion does). Returns "first .. last" node names per rewrite; `absorbed`
// counts the nodes replaced.
std::vector<std::string> rewrite_chains(PlanState& state, const char* op, ChainMatcher match, size_t& absorbed);
// A chain-rewrite pass whole: rewrite_chains from `op` (none when
// PlanOptions::fuse is off), then the report: "replaced N <chain>s (M nodes)
// by <replacement>: ..." or `none`, and the numbers {count_key, absorbed_nodes}.
void run_chain_rewrite(PlanState& state, PassReport& report, const char* op, ChainMatcher match,
                       const std::string& chain, const std::string& replacement, const std::string& none,
                       const std::string& count_key);

// For summaries: "Constant x5, Shape x3, Gather" (most frequent first, at
// most `max` kinds, then "..."), and "a, b, c, ... (+4 more)".
std::string count_by_kind(const std::vector<std::string>& kinds, size_t max = 5);
std::string first_few(const std::vector<std::string>& items, size_t max = 4);
// (3, "step") -> "3 steps", (1, "step") -> "1 step"
std::string plural(size_t n, const std::string& noun);
// 3072 -> "3,072"
std::string with_commas(size_t n);

}  // namespace rtml::plan
