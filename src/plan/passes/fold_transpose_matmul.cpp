// fold_transpose_matmul: a Transpose that swaps the last two dims of B in
// front of a MatMul or Gemm becomes that product's transB, so the packing
// (a constant B packed at prepare, or a B packed at run time) reads B's rows
// as columns and no transposed copy is made or run: x @ W.T with W kept as
// exported, attention's Q @ K.transpose(-2, -1).
//   - Gemm(A, Transpose(X, perm [1, 0])) -> Gemm(A, X) with transB flipped.
//   - MatMul(A, Transpose(X, perm [0, .., r-3, r-1, r-2])) -> MatMul(A, X)
//     in ops::kFusedDomain with transB = 1 and b_rank = r (prepare fails when
//     X's rank is not r, as the Transpose would have).
// The Transpose node goes when nothing else reads its output. A graph rewrite
// (before resolve_inputs): it needs the nodes' attributes only, and a
// Transpose of a constant must go before prepare_fold folds it into a
// transposed copy. Off with PlanOptions::fuse = false.
#include <algorithm>

#include "plan/pass.h"

namespace rtml::plan {

namespace {

// The rank r of a perm that swaps the last two dims only, else 0. A missing
// perm reverses the dims: a swap for a rank-2 input whose rank is known.
size_t swap_last_two(const ir::Graph& g, const ir::Node& t) {
  if (t.op_type != "Transpose" || !t.domain.empty() || t.inputs.size() != 1 || t.outputs.size() != 1) return 0;
  const ir::Attribute* perm = find_attr(t, "perm");
  if (!perm) return g.tensors[t.inputs[0]].shape.size() == 2 && g.tensors[t.inputs[0]].is_constant() ? 2 : 0;
  const std::vector<int64_t>& p = perm->ints;
  const size_t r = p.size();
  if (perm->kind != ir::Attribute::Kind::Ints || r < 2) return 0;
  for (size_t d = 0; d + 2 < r; ++d)
    if (p[d] != static_cast<int64_t>(d)) return 0;
  return p[r - 2] == static_cast<int64_t>(r - 1) && p[r - 1] == static_cast<int64_t>(r - 2) ? r : 0;
}

ir::Attribute int_attr(int64_t v) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::Int;
  a.i = v;
  return a;
}

}  // namespace

void fold_transpose_matmul(PlanState& s, PassReport& report) {
  if (!s.options.fuse) {
    report.summary = "off (PlanOptions::fuse = false)";
    report.numbers = {{"folded", 0}};
    return;
  }
  ir::Graph& g = s.graph;
  std::vector<int> producer(g.tensors.size(), -1);
  for (size_t i = 0; i < g.nodes.size(); ++i)
    for (ir::TensorId t : g.nodes[i].outputs)
      if (t != ir::kNoTensor) producer[t] = static_cast<int>(i);
  std::vector<std::string> folded;
  std::vector<int> transposes;
  for (ir::Node& n : g.nodes) {
    if (!n.domain.empty() || n.inputs.size() < 2 || n.inputs[1] == ir::kNoTensor) continue;
    const bool gemm = n.op_type == "Gemm", matmul = n.op_type == "MatMul";
    if (!gemm && !matmul) continue;
    const int tp = producer[n.inputs[1]];
    if (tp < 0) continue;
    const ir::Node& t = g.nodes[tp];
    const size_t rank = swap_last_two(g, t);
    if (rank == 0 || (gemm && rank != 2)) continue;
    n.inputs[1] = t.inputs[0];
    if (gemm) {
      const ir::Attribute* tb = find_attr(n, "transB");
      n.attrs["transB"] = int_attr(tb && tb->i != 0 ? 0 : 1);
    } else {
      n.domain = ops::kFusedDomain;
      n.attrs["transB"] = int_attr(1);
      n.attrs["b_rank"] = int_attr(static_cast<int64_t>(rank));
    }
    folded.push_back(t.name + " -> " + n.name);
    transposes.push_back(tp);
  }
  // Transposes nothing reads any more.
  std::vector<bool> read(g.tensors.size(), false);
  for (const ir::Node& n : g.nodes)
    for (ir::TensorId t : n.inputs)
      if (t != ir::kNoTensor) read[t] = true;
  for (ir::TensorId t : g.outputs) read[t] = true;
  std::sort(transposes.begin(), transposes.end());
  transposes.erase(std::unique(transposes.begin(), transposes.end()), transposes.end());
  size_t erased = 0;
  for (size_t k = transposes.size(); k-- > 0;)
    if (!read[g.nodes[transposes[k]].outputs[0]]) {
      g.nodes.erase(g.nodes.begin() + transposes[k]);
      ++erased;
    }
  report.summary = folded.empty() ? "nothing to do"
                                  : "folded " + plural(folded.size(), "Transpose") + " into MatMul/Gemm transB (" +
                                        std::to_string(erased) + " removed): " + first_few(folded);
  report.numbers = {{"folded", static_cast<int64_t>(folded.size())}, {"removed", static_cast<int64_t>(erased)}};
}

}  // namespace rtml::plan
