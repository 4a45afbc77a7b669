// fuse_elementwise_chains: a group of float32 elementwise steps whose
// intermediate results nothing else reads runs as one step, an elementwise
// program (kernels/elementwise_chain.h) that passes over the data once.
//   1. Each kept step that runs an elementwise kernel the chain knows (the
//      unary ops with a vector kernel, Add/Sub/Mul/Div/PRelu, Max/Min of two,
//      Pow by a constant 2, 3 or 0.5, Clip with constant bounds) and is not
//      already fused is a candidate instruction.
//   2. Walking the steps backwards, an unused candidate starts a group (its
//      last instruction); the producer of a group input joins when it is a
//      candidate with the group's output shape whose output only the group
//      reads (not a graph output), and the group still has at most three
//      tensor inputs (each broadcast to the output shape) and 16 instructions.
//      So a DAG from one input fuses too: GELU as Div/Erf/Add/Mul/Mul, Swish
//      as Mul(x, Sigmoid(x)).
//   3. A group of two or more becomes its last step: the program in the
//      params, scalar constants as immediates, the others keep = false, the
//      step named after every node it holds ("n1 + n2 + n3", op type
//      "Div+Erf+Add"), so profiles keep the names.
//   4. A group (of one or more) one of whose inputs is the output 0 of a
//      Conv, Gemm or MatMul step that takes a chain (Step::fuse_chain), of
//      the group's output shape and read by nothing else, runs in that
//      step's store instead: the program with that output as I0, in place
//      (kernels/elementwise_chain.h: rtml_ew_epilogue), when the group's
//      other inputs are ready before the product runs. The product step
//      takes the group's output and names ("conv1 + div + erf + ...").
// Runs after fuse_epilogues, so a Relu or residual Add that a Conv or GEMM
// takes in its store stays there (the chain runs after them). Off with
// PlanOptions::fuse = false.
#include <algorithm>
#include <cmath>

#include "kernels/broadcast_plan.h"
#include "kernels/elementwise.h"
#include "kernels/elementwise_chain.h"
#include "plan/pass.h"

namespace rtml::plan {

namespace {

// One candidate step as an instruction: op, attributes, and its tensor
// operands (one or two), the second possibly replaced by a scalar constant.
struct Instr {
  int32_t op = -1;
  float alpha = 0, beta = 0, gamma = 0;
  std::vector<ir::TensorId> operands;
};

// kernel "rtml_f32_<name>__ref" or "__hwy" -> "<name>"; "" otherwise.
std::string kernel_op(const std::string& kernel) {
  const std::string prefix = "rtml_f32_";
  if (kernel.compare(0, prefix.size(), prefix) != 0 || kernel.size() < prefix.size() + 5) return "";
  const std::string suffix = kernel.substr(kernel.size() - 5);
  if (suffix != "__ref" && suffix != "__hwy") return "";
  return kernel.substr(prefix.size(), kernel.size() - prefix.size() - 5);
}

int32_t chain_op(const std::string& name) {
#define RTML_EW_CHAIN_NAME(op, Op) \
  if (name == #op) return RTML_EW_CHAIN_##Op;
  RTML_EW_CHAIN_UNARY_OPS(RTML_EW_CHAIN_NAME)
  RTML_EW_CHAIN_BINARY_OPS(RTML_EW_CHAIN_NAME)
#undef RTML_EW_CHAIN_NAME
  return -1;
}

// What step p computes as one instruction, or false.
bool as_instr(const PlanState& s, const PreparedStep& p, Instr& in) {
  if (!p.keep || p.alias || !p.fused.empty() || !s.graph.nodes[p.node].domain.empty()) return false;
  if (p.outputs.size() != 1 || p.outputs[0] == ir::kNoTensor || s.info[p.outputs[0]].dtype != DType::F32) return false;
  if (p.op_type.find('+') != std::string::npos) return false;  // already holds a fused node
  const std::string name = kernel_op(p.step.kernel);
  if (name.empty() || !p.step.params) return false;
  for (ir::TensorId t : p.inputs)
    if (t == ir::kNoTensor || s.info[t].dtype != DType::F32) return false;
  const Shape& out = s.info[p.outputs[0]].shape;
  if (name == "pow_f32") {
    // Pow by a constant 2, 3 or 0.5 of a base of the output's shape.
    float e = 0;
    if (p.inputs.size() != 2 || !constant_scalar(s, p.inputs[1], e) || s.info[p.inputs[0]].shape != out) return false;
    in.op = e == 2.0f ? RTML_EW_CHAIN_Square : e == 3.0f ? RTML_EW_CHAIN_Cube : e == 0.5f ? RTML_EW_CHAIN_SqrtPow : -1;
    in.operands = {p.inputs[0]};
    return in.op >= 0;
  }
  if (name == "clip") {
    const auto& c = *static_cast<const rtml_clip_params*>(p.step.params.get());
    in.op = RTML_EW_CHAIN_Clip;
    in.alpha = c.has_min ? c.min : -HUGE_VALF;
    in.beta = c.has_max ? c.max : HUGE_VALF;
    if (p.inputs.size() > 1 && !constant_scalar(s, p.inputs[1], in.alpha)) return false;
    if (p.inputs.size() > 2 && !constant_scalar(s, p.inputs[2], in.beta)) return false;
    in.operands = {p.inputs[0]};
    return true;
  }
  in.op = chain_op(name);
  if (in.op < 0) return false;
  if (in.op < RTML_EW_CHAIN_FIRST_BINARY) {
    if (p.inputs.size() != 1) return false;
    const auto& u = *static_cast<const rtml_unary_params*>(p.step.params.get());
    in.alpha = u.alpha;
    in.beta = u.beta;
    in.gamma = u.gamma;
  } else if (p.inputs.size() != 2) {
    return false;  // Max / Min of more than two
  } else if (find_attr(s.graph.nodes[p.node], "broadcast")) {
    return false;  // opset < 7 broadcasting (B aligned at an axis): not NumPy's
  }
  in.operands = p.inputs;
  return true;
}

// A group being grown: members (step indices) and its tensor inputs.
struct Group {
  std::vector<int> members;
  std::vector<ir::TensorId> inputs;  // tensors no member produces and not scalar constants
  bool has(int step) const { return std::find(members.begin(), members.end(), step) != members.end(); }
};

bool scalar_operand(const PlanState& s, ir::TensorId t) {
  float v;
  return constant_scalar(s, t, v);
}

// The group's tensor inputs, given that each member's operands produced by
// a member are internal.
std::vector<ir::TensorId> group_inputs(const PlanState& s, const std::vector<int>& members,
                                       const std::vector<Instr>& instr, const TensorUses& uses) {
  std::vector<ir::TensorId> inputs;
  for (int m : members)
    for (size_t k = 0; k < instr[m].operands.size(); ++k) {
      const ir::TensorId t = instr[m].operands[k];
      const int p = uses.producer[t];
      if (p >= 0 && std::find(members.begin(), members.end(), p) != members.end()) continue;
      if (k == 1 && scalar_operand(s, t)) continue;  // an immediate
      if (std::find(inputs.begin(), inputs.end(), t) == inputs.end()) inputs.push_back(t);
    }
  return inputs;
}

// How many operand slots of the members read t.
int reads_in(const std::vector<int>& members, const std::vector<Instr>& instr, ir::TensorId t) {
  int n = 0;
  for (int m : members) n += static_cast<int>(std::count(instr[m].operands.begin(), instr[m].operands.end(), t));
  return n;
}

// Grows a group backwards from step `last` (see the file comment).
Group grow(const PlanState& s, int last, const std::vector<Instr>& instr, const std::vector<bool>& taken,
           const TensorUses& uses) {
  const Shape& shape = s.info[s.steps[last].outputs[0]].shape;
  Group g;
  g.members = {last};
  for (bool grew = true; grew;) {
    grew = false;
    for (size_t mi = 0; mi < g.members.size() && !grew; ++mi) {
      for (ir::TensorId t : instr[g.members[mi]].operands) {
        const int p = uses.producer[t];
        if (p < 0 || taken[p] || instr[p].op < 0 || g.has(p) || s.info[t].shape != shape) continue;
        if (g.members.size() >= RTML_EW_CHAIN_MAX_OPS) continue;
        std::vector<int> with = g.members;
        with.push_back(p);
        if (reads_in(with, instr, t) != uses.readers[t]) continue;  // read outside, or a graph output
        if (group_inputs(s, with, instr, uses).size() > 3) continue;
        g.members = std::move(with);
        grew = true;
        break;
      }
    }
  }
  std::sort(g.members.begin(), g.members.end());
  g.inputs = group_inputs(s, g.members, instr, uses);
  return g;
}

// The program of a group over its inputs (g.inputs, in that order) broadcast
// to `shape`; false when a broadcast walk does not fit the kernel (an inner
// stride other than 0, 1).
bool program(const PlanState& s, const Group& g, const std::vector<Instr>& instr, const TensorUses& uses,
             const Shape& shape, rtml_ew_chain_params& p) {
  if (g.inputs.empty()) return false;
  std::vector<Shape> shapes;
  for (ir::TensorId t : g.inputs) {
    Shape out;
    if (!kernels::broadcast_shape({s.info[t].shape, shape}, out) || out != shape) return false;
    shapes.push_back(s.info[t].shape);
  }
  if (!kernels::make_broadcast(shapes, shape, p.bc)) return false;
  for (int k = 0; k < p.bc.num_inputs && p.bc.rank > 0; ++k) {
    const int64_t inner = p.bc.strides[k][p.bc.rank - 1];
    if (inner != 0 && inner != 1) return false;
  }
  p.n = static_cast<int32_t>(g.members.size());
  for (int i = 0; i < p.n; ++i) {
    const Instr& in = instr[g.members[i]];
    p.op[i] = in.op;
    p.alpha[i] = in.alpha;
    p.beta[i] = in.beta;
    p.gamma[i] = in.gamma;
    p.b[i] = RTML_EW_CHAIN_IMM;
    for (size_t k = 0; k < in.operands.size(); ++k) {
      const ir::TensorId t = in.operands[k];
      int32_t code;
      const auto member = std::find(g.members.begin(), g.members.end(), uses.producer[t]);
      if (uses.producer[t] >= 0 && member != g.members.end()) {
        code = static_cast<int32_t>(member - g.members.begin());
      } else if (k == 1 && constant_scalar(s, t, p.alpha[i])) {
        code = RTML_EW_CHAIN_IMM;
      } else {
        code = RTML_EW_CHAIN_INPUT(static_cast<int32_t>(std::find(g.inputs.begin(), g.inputs.end(), t) - g.inputs.begin()));
      }
      (k == 0 ? p.a[i] : p.b[i]) = code;
    }
  }
  return true;
}

// The members' names and op types go to `into` (after its own when
// `append`), their flops to `step`; the members are marked taken and all but
// `keep` (-1: none) are dropped.
void absorb(PlanState& s, const Group& g, PreparedStep& into, ops::Step& step, int keep, std::vector<bool>& taken,
            bool append) {
  std::string name = append ? into.name : "", op_type = append ? into.op_type : "";
  for (int m : g.members) {
    PreparedStep& member = s.steps[m];
    taken[m] = true;
    step.flops += member.step.flops;
    name += (name.empty() ? "" : " + ") + member.name;
    op_type += (op_type.empty() ? "" : "+") + member.op_type;
    if (m != keep) member.keep = false;
  }
  into.name = name;
  into.op_type = op_type;
}

// Step 4: runs group g in the store of the product step making one of its
// inputs, when there is one that can; returns that step's index, or -1.
int fuse_into_product(PlanState& s, Group g, const std::vector<Instr>& instr, const TensorUses& uses,
                       std::vector<bool>& taken) {
  if (!s.options.store_chains || s.options.tile_steps > 0) return -1;  // tile_rows re-prepares band steps
  const PreparedStep& last = s.steps[g.members.back()];
  const Shape& shape = s.info[last.outputs[0]].shape;
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const ir::TensorId t = g.inputs[k];
    const int pi = uses.producer[t];
    if (pi < 0) continue;
    PreparedStep& p = s.steps[pi];
    if (!p.keep || p.alias || !p.step.fuse_chain || p.outputs.empty() || p.outputs[0] != t) continue;
    if (s.info[t].dtype != DType::F32 || s.info[t].shape != shape) continue;
    if (reads_in(g.members, instr, t) != uses.readers[t]) continue;  // read outside, or a graph output
    bool ready = true;  // the other inputs exist when the product runs
    for (ir::TensorId u : g.inputs)
      if (u != t && uses.producer[u] >= pi) ready = false;
    if (!ready) continue;
    std::swap(g.inputs[0], g.inputs[k]);  // Y is I0
    rtml_ew_epilogue epi{};
    if (!program(s, g, instr, uses, shape, epi.chain)) continue;
    epi.in_slot = static_cast<int32_t>(p.inputs.size() + p.outputs.size() + p.step.constants.size() + p.fused.size());
    if (!p.step.fuse_chain(p.step, epi)) continue;
    p.fused.insert(p.fused.end(), g.inputs.begin() + 1, g.inputs.end());
    p.outputs[0] = last.outputs[0];
    absorb(s, g, p, p.step, -1, taken, true);
    return pi;
  }
  return -1;
}

}  // namespace

void fuse_elementwise_chains(PlanState& s, PassReport& report) {
  if (!s.options.fuse) {
    report.summary = "off (PlanOptions::fuse = false)";
    report.numbers = {{"chains", 0}, {"fused_nodes", 0}};
    return;
  }
  const TensorUses uses = tensor_uses(s);
  const size_t n = s.steps.size();
  std::vector<Instr> instr(n);
  for (size_t i = 0; i < n; ++i)
    if (!as_instr(s, s.steps[i], instr[i])) instr[i].op = -1;
  const kernels::KernelInfo& kernel = kernels::kernel(s.options.kernels == kernels::KernelSet::Simd
                                                          ? "rtml_f32_elementwise_chain__hwy"
                                                          : "rtml_f32_elementwise_chain__ref");
  std::vector<bool> taken(n, false);
  std::vector<std::string> chains, stores;
  size_t absorbed = 0, in_stores = 0;
  for (size_t i = n; i-- > 0;) {
    if (instr[i].op < 0 || taken[i]) continue;
    const Group g = grow(s, static_cast<int>(i), instr, taken, uses);
    if (const int product = fuse_into_product(s, g, instr, uses, taken); product >= 0) {
      stores.push_back(s.steps[product].name);
      in_stores += g.members.size();
      continue;
    }
    if (g.members.size() < 2) continue;
    PreparedStep& last = s.steps[i];
    ops::Step step;
    auto& p = ops::make_params<rtml_ew_chain_params>(step);
    if (!program(s, g, instr, uses, s.info[last.outputs[0]].shape, p)) continue;
    step.run = kernel.fn;
    step.info = &kernel;
    step.kernel = kernel.symbol;
    absorb(s, g, last, step, static_cast<int>(i), taken, false);
    last.step = std::move(step);
    last.inputs = g.inputs;
    chains.push_back(last.name);
    absorbed += g.members.size();
  }
  std::reverse(chains.begin(), chains.end());
  std::reverse(stores.begin(), stores.end());
  std::string summary;
  if (!chains.empty())
    summary = "fused " + plural(absorbed, "node") + " into " + plural(chains.size(), "chain step") + ": " +
              first_few(chains);
  if (!stores.empty())
    summary += (summary.empty() ? "" : "; ") + plural(in_stores, "node") + " into the store of " +
               plural(stores.size(), "Conv/Gemm/MatMul step") + ": " + first_few(stores);
  report.summary = summary.empty() ? "nothing fused" : summary;
  report.numbers = {{"chains", static_cast<int64_t>(chains.size())},
                    {"fused_nodes", static_cast<int64_t>(absorbed)},
                    {"store_chains", static_cast<int64_t>(stores.size())},
                    {"store_fused_nodes", static_cast<int64_t>(in_stores)}};
}

}  // namespace rtml::plan
