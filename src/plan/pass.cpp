#include "plan/pass.h"

#include <algorithm>
#include <map>
#include <utility>

namespace rtml::plan {

PlanState::PlanState(const ir::Graph& source_graph, PlanOptions plan_options)
    : graph(source_graph), options(std::move(plan_options)) {
  plan.source = source_graph.source;
  plan.kernels = options.kernels;
  for (const ir::Node& n : source_graph.nodes) ++plan.graph_op_counts[n.op_type];
}

void run_pass(PlanState& state, const Pass& pass) {
  PassReport report;
  report.name = pass.name;
  pass.run(state, report);
  state.plan.passes.push_back(std::move(report));
}

std::string count_by_kind(const std::vector<std::string>& kinds, size_t max) {
  std::map<std::string, int> count;
  for (const std::string& k : kinds) ++count[k];
  std::vector<std::pair<std::string, int>> sorted(count.begin(), count.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (size_t i = 0; i < sorted.size() && i < max; ++i)
    out += (i ? ", " : "") + sorted[i].first + (sorted[i].second > 1 ? " x" + std::to_string(sorted[i].second) : "");
  if (sorted.size() > max) out += ", ...";
  return out;
}

std::string first_few(const std::vector<std::string>& items, size_t max) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < max; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > max) out += ", ... (+" + std::to_string(items.size() - max) + " more)";
  return out;
}

std::string plural(size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string with_commas(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

TensorUses tensor_uses(const PlanState& s) {
  TensorUses u;
  u.producer.assign(s.graph.tensors.size(), -1);
  u.readers.assign(s.graph.tensors.size(), 0);
  for (ir::TensorId t : s.graph.outputs) ++u.readers[t];
  for (size_t i = 0; i < s.steps.size(); ++i) {
    if (!s.steps[i].keep) continue;
    for (ir::TensorId t : s.steps[i].inputs)
      if (t != ir::kNoTensor) ++u.readers[t];
    for (ir::TensorId t : s.steps[i].fused) ++u.readers[t];
    for (ir::TensorId t : s.steps[i].outputs)
      if (t != ir::kNoTensor) u.producer[t] = static_cast<int>(i);
  }
  return u;
}

PreparedStep* producer_of(PlanState& s, const TensorUses& uses, ir::TensorId t, const char* op_type) {
  if (t == ir::kNoTensor || uses.producer[t] < 0) return nullptr;
  PreparedStep& p = s.steps[uses.producer[t]];
  const ir::Node& n = s.graph.nodes[p.node];
  if (!p.keep || n.op_type != op_type || !n.domain.empty() || n.outputs.empty() || n.outputs[0] != t) return nullptr;
  return &p;
}

const ir::Attribute* find_attr(const ir::Node& n, const std::string& name) {
  auto it = n.attrs.find(name);
  return it == n.attrs.end() ? nullptr : &it->second;
}

bool constant_scalar(const PlanState& s, ir::TensorId t, float& value) {
  if (t == ir::kNoTensor) return false;
  const ops::TensorInfo& info = s.info[t];
  if (!info.data || info.dtype != DType::F32 || info.numel() != 1) return false;
  value = *info.as<float>();
  return true;
}

std::vector<int> reduced_axes(const PlanState& s, const ir::Node& n) {
  const ir::Attribute* keepdims = find_attr(n, "keepdims");
  if ((keepdims && keepdims->i != 1) || n.inputs.empty() || n.inputs[0] == ir::kNoTensor) return {};
  std::vector<int64_t> axes;
  if (const ir::Attribute* a = find_attr(n, "axes")) {
    axes = a->ints;
  } else if (n.inputs.size() > 1 && n.inputs[1] != ir::kNoTensor) {
    const ops::TensorInfo& a = s.info[n.inputs[1]];
    if (!a.data || a.dtype != DType::I64) return {};
    axes.assign(a.as<int64_t>(), a.as<int64_t>() + a.numel());
  }
  const int rank = s.info[n.inputs[0]].rank();
  std::vector<int> out;
  for (int64_t a : axes) {
    if (a < -rank || a >= rank) return {};
    out.push_back(static_cast<int>(a < 0 ? a + rank : a));
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) return {};
  return out;
}

std::vector<std::string> rewrite_chains(PlanState& s, const char* op, ChainMatcher match, size_t& absorbed) {
  std::vector<std::string> made;
  absorbed = 0;
  TensorUses uses = tensor_uses(s);
  for (PreparedStep& step : s.steps) {
    const ir::Node& n = s.graph.nodes[step.node];
    ChainRewrite r;
    if (!step.keep || n.op_type != op || !n.domain.empty() || !match(s, uses, step, r)) continue;
    PreparedStep& last = *r.chain.back();
    ir::Node& node = s.graph.nodes[last.node];
    node.op_type = r.op_type;
    node.inputs = r.inputs;
    node.attrs = r.attrs;
    std::string name;
    for (const PreparedStep* p : r.chain) name += (name.empty() ? "" : " + ") + p->name;
    made.push_back(r.chain.front()->name + " .. " + r.chain.back()->name);
    absorbed += r.chain.size();
    // The inputs are the chain's (not all constant, else it would have been folded).
    if (!prepare_node(s, last.node, last)) last.keep = false;
    last.name = name;
    for (PreparedStep* p : r.chain)
      if (p != &last) p->keep = false;
    uses = tensor_uses(s);
  }
  return made;
}

void run_chain_rewrite(PlanState& s, PassReport& report, const char* op, ChainMatcher match, const std::string& chain,
                       const std::string& replacement, const std::string& none, const std::string& count_key) {
  size_t absorbed = 0;
  const std::vector<std::string> made = s.options.fuse ? rewrite_chains(s, op, match, absorbed)
                                                       : std::vector<std::string>{};
  report.summary = !s.options.fuse ? "off (PlanOptions::fuse = false)"
                   : made.empty()  ? none
                                   : "replaced " + plural(made.size(), chain) + " (" + plural(absorbed, "node") +
                                        ") by " + replacement + ": " + first_few(made);
  report.numbers = {{count_key, static_cast<int64_t>(made.size())},
                    {"absorbed_nodes", static_cast<int64_t>(absorbed)}};
}

}  // namespace rtml::plan
