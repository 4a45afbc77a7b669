// tile_rows: row-band tiling of the first layers (patch-based inference as
// MCUNetV2 runs it, one dimension: bands of rows), so that only bands of
// their intermediate tensors are live at once. docs/tiling.md.
//
// The region is a run of steps from the first one that can be cut: Conv,
// QLinearConv, MaxPool, AveragePool (with a fused Relu or not), and
// elementwise steps (Relu, Clip, QuantizeLinear, Add, QLinearAdd...) whose
// activations have their output's shape and whose constants are scalars,
// over rank-3 or rank-4 tensors (N, C, rows[, columns]); every activation
// comes from the region's input or from a step before it in the region, so
// residual blocks fit, as long as they close inside it (no tensor made in
// the region but the last step's output is read after it).
// PlanOptions::tile_steps says how many steps to cut and tile_bands into how
// many bands of the last step's output rows. For each band the rows every
// step reads of each activation are found backwards (a window's rows with
// their halo: the overlapping borders are recomputed by the neighbouring
// bands; a tensor's band holds the union of what its readers read), and the
// band runs as:
//   TileSlice   the band's rows of the region's input (with halo) copied
//               into a band tensor (rtml_xN_slice__ref); also where a step
//               reads fewer rows than its input's band holds (a residual
//               Add next to a conv's halo)
//   the steps   each a copy of its node over band tensors, prepared again by
//               the op's own prepare: the kernel, params and constants of the
//               same kernel set, the pads along the rows set to the true
//               padding the band touches (none inside the image), so every
//               output is the same sum in the same order (bit-exact)
//   TileInsert  the last band tensor written into its rows of the whole
//               output (rtml_xN_slice__ref with out_strides)
// Band steps whose constants come out byte-equal (packed weights) share the
// first band's (emit_steps emits a constant once).
//
// Off (PlanOptions::tile_steps == 0), the pass only reports how many steps
// could be cut (the number build_plan's search reads: plan/plan.cpp).
#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>

#include "core/error.h"
#include "kernels/table.h"
#include "kernels/tensor_ops.h"
#include "plan/pass.h"

namespace rtml::plan {

namespace {

// One region step's window along the rows (axis 2): output row o reads
// input rows o*stride - pad .. o*stride - pad + extent - 1 (clipped to the
// input: the rest is padding). Elementwise: extent 1, stride 1, pad 0.
struct RowWindow {
  int64_t extent = 1, stride = 1, pad = 0;
  bool window = false;
  std::vector<int64_t> pads;  // the node's resolved pads (2n values) for a window op
};

bool elementwise_op(const ir::Node& n) {
  static const char* const unary[] = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
                                      "QuantizeLinear", "DequantizeLinear", "Abs", "Neg", "Add", "Sub", "Mul"};
  if (n.domain == ops::kFusedDomain) return n.op_type == "QLinearAdd" || n.op_type == "QLinearMul";
  if (!n.domain.empty()) return false;
  for (const char* o : unary)
    if (n.op_type == o) return true;
  return false;
}

int64_t attr_int_at(const ir::Node& n, const char* name, size_t k, int64_t fill) {
  const ir::Attribute* a = find_attr(n, name);
  return a && a->ints.size() > k ? a->ints[k] : fill;
}

// The inputs of a step that are activations (not constants).
std::vector<ir::TensorId> activations(const PlanState& s, const PreparedStep& p) {
  std::vector<ir::TensorId> a;
  for (ir::TensorId t : p.inputs)
    if (t != ir::kNoTensor && !s.constant[t] && std::find(a.begin(), a.end(), t) == a.end()) a.push_back(t);
  return a;
}

// Whether kept step p can be cut into row bands, and its window. A window op
// reads one activation (input 0), its other inputs constants; an
// elementwise step reads activations of its output's shape and scalar
// constants.
bool tileable(const PlanState& s, const PreparedStep& p, RowWindow& w) {
  const ir::Node& n = s.graph.nodes[p.node];
  if (p.step.info && std::string_view(p.step.info->symbol).find("_chain") != std::string_view::npos)
    return false;  // a chain in the product's store (PlanOptions::store_chains)
  if (!p.keep || p.alias || !p.fused.empty() || p.step.state_bytes || p.inputs.empty() || p.outputs.size() != 1 ||
      p.outputs[0] == ir::kNoTensor || p.inputs[0] == ir::kNoTensor)
    return false;
  // A fused-domain step (fuse_qdq's int8 steps) carries its clamp in the
  // node; a default-domain one may have a Relu fused by fuse_epilogues.
  if (n.domain != ops::kFusedDomain && p.op_type != n.op_type && p.op_type != n.op_type + "+Relu") return false;
  const ops::TensorInfo& x = s.info[p.inputs[0]];
  const ops::TensorInfo& y = s.info[p.outputs[0]];
  const std::vector<ir::TensorId> acts = activations(s, p);
  if (acts.empty() || acts[0] != p.inputs[0] || x.rank() < 3 || x.rank() > 4 || y.rank() != x.rank() ||
      x.shape[0] != y.shape[0])
    return false;
  const bool conv = n.domain.empty() && n.op_type == "Conv";
  const bool qconv = (n.domain.empty() || n.domain == ops::kFusedDomain) && n.op_type == "QLinearConv";
  const bool pool = n.domain.empty() && (n.op_type == "MaxPool" || n.op_type == "AveragePool");
  if (!conv && !qconv && !pool) {
    if (!elementwise_op(n)) return false;
    for (ir::TensorId t : p.inputs) {
      if (t == ir::kNoTensor) continue;
      if (s.constant[t] ? s.info[t].numel() != 1 : s.info[t].shape != y.shape) return false;
    }
    w = RowWindow{};
    return true;
  }
  if (acts.size() != 1) return false;
  if (pool && find_attr(n, "ceil_mode") && find_attr(n, "ceil_mode")->i != 0) return false;
  const int sp = x.rank() - 2;
  int64_t kernel = 0;
  if (pool) {
    kernel = attr_int_at(n, "kernel_shape", 0, 0);
  } else {
    const ops::TensorInfo& wt = s.info[p.inputs[conv ? 1 : 3]];
    if (wt.rank() != x.rank()) return false;
    kernel = wt.shape[2];
  }
  if (kernel < 1) return false;
  w.window = true;
  w.stride = attr_int_at(n, "strides", 0, 1);
  w.extent = (kernel - 1) * attr_int_at(n, "dilations", 0, 1) + 1;
  // The pads, resolved as prepare resolves them.
  const ir::Attribute* ap = find_attr(n, "auto_pad");
  const std::string auto_pad = ap && !ap->s.empty() ? ap->s : "NOTSET";
  w.pads.assign(static_cast<size_t>(2 * sp), 0);
  if (auto_pad == "NOTSET") {
    const ir::Attribute* pads = find_attr(n, "pads");
    if (pads && pads->ints.size() == w.pads.size()) w.pads = pads->ints;
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (int d = 0; d < sp; ++d) {
      int64_t k = pool ? attr_int_at(n, "kernel_shape", d, 1) : s.info[p.inputs[conv ? 1 : 3]].shape[2 + d];
      const int64_t st = attr_int_at(n, "strides", d, 1);
      const int64_t ek = (k - 1) * attr_int_at(n, "dilations", d, 1) + 1;
      const int64_t total = std::max<int64_t>(0, (y.shape[2 + d] - 1) * st + ek - x.shape[2 + d]);
      w.pads[d] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      w.pads[d + sp] = total - w.pads[d];
    }
  } else if (auto_pad != "VALID") {
    return false;
  }
  w.pad = w.pads[0];
  return true;
}

// The steps (indices into s.steps, consecutive kept ones) from the first
// tileable step on whose activations come from the region's input (the first
// step's input 0) or from steps before them in it; `ends` the lengths at
// which the region is closed: no tensor made inside but the last step's
// output is read after it (a residual branch must end inside).
std::vector<size_t> find_region(const PlanState& s, std::vector<RowWindow>& windows, std::vector<size_t>& ends) {
  std::vector<size_t> region;
  const TensorUses uses = tensor_uses(s);
  size_t i = 0;
  RowWindow w;
  for (; i < s.steps.size(); ++i)
    if (s.steps[i].keep && tileable(s, s.steps[i], w)) break;
  if (i == s.steps.size()) return region;
  const ir::TensorId in0 = s.steps[i].inputs[0];
  std::map<ir::TensorId, int> inside;  // tensor made in the region -> reads by region steps
  for (; i < s.steps.size(); ++i) {
    const PreparedStep& p = s.steps[i];
    if (!p.keep) continue;
    if (!tileable(s, p, w)) break;
    bool fed = true;
    for (ir::TensorId t : activations(s, p))
      if (t != in0 && !inside.count(t)) fed = false;
    if (!fed) break;
    for (ir::TensorId t : p.inputs)
      if (t != ir::kNoTensor && inside.count(t)) ++inside[t];
    inside[p.outputs[0]] = 0;
    region.push_back(i);
    windows.push_back(w);
    bool closed = true;
    for (const auto& [t, reads] : inside)
      if (t != p.outputs[0] && reads != uses.readers[t]) closed = false;
    if (closed) ends.push_back(region.size());
  }
  return region;
}

struct Rows {
  int64_t lo = 0, hi = 0;  // [lo, hi); empty when lo >= hi
  bool operator!=(const Rows& o) const { return lo != o.lo || hi != o.hi; }
};

ir::TensorId add_band_tensor(PlanState& s, ir::TensorId whole, int64_t rows, const std::string& name) {
  ir::Tensor t;
  t.name = name;
  t.dtype = s.info[whole].dtype;
  t.shape = s.info[whole].shape;
  t.shape[2] = rows;
  const ir::TensorId id = s.graph.add_tensor(t);
  s.info.resize(s.graph.tensors.size());
  s.constant.resize(s.graph.tensors.size());
  s.info[id] = {t.dtype, t.shape, nullptr};
  return id;
}

std::vector<int64_t> strides_of(const Shape& shape) {
  std::vector<int64_t> st(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d) st[d] = st[d + 1] * shape[d + 1];
  return st;
}

// A copy between a band tensor and rows [row0, row0 + rows) of the whole
// tensor: TileSlice (whole -> band) or TileInsert (band -> whole).
PreparedStep copy_step(PlanState& s, ir::TensorId whole, ir::TensorId band, int64_t row0, bool insert,
                       const std::string& name) {
  const Shape& full = s.info[whole].shape;
  const Shape& part = s.info[band].shape;
  const std::string symbol = "rtml_x" + std::to_string(dtype_size(s.info[whole].dtype) * 8) + "_slice__ref";
  const kernels::KernelInfo& k = kernels::kernel(symbol);
  auto params = std::make_shared<kernels::StridedCopyParams>();
  kernels::StridedCopyParams& p = *params;
  const std::vector<int64_t> fs = strides_of(full), bs = strides_of(part);
  p.rank = static_cast<int32_t>(part.size());
  p.count = shape_numel(part);
  for (size_t d = 0; d < part.size(); ++d) {
    p.shape[d] = part[d];
    p.in_strides[d] = insert ? bs[d] : fs[d];
    if (insert) p.out_strides[d] = fs[d];
  }
  if (insert) {
    p.out_offset = row0 * fs[2];
  } else {
    p.in_offset = row0 * fs[2];
    kernels::simplify_strided_copy(p);
  }
  p.out_slot = 1;

  ir::Node node;
  node.name = name;
  node.op_type = insert ? "TileInsert" : "TileSlice";
  node.inputs = {insert ? band : whole};
  node.outputs = {insert ? whole : band};
  s.graph.nodes.push_back(node);
  PreparedStep ps;
  ps.node = static_cast<int>(s.graph.nodes.size() - 1);
  ps.step.run = k.fn;
  ps.step.info = &k;
  ps.step.kernel = k.symbol;
  ps.step.params = params;
  ps.inputs = node.inputs;
  ps.outputs = node.outputs;
  ps.name = name;
  ps.op_type = node.op_type;
  return ps;
}

// A step's name for a summary line: fused int8 steps are named after every
// node they hold (hundreds of characters in a .tflite file).
std::string brief(const std::string& name) { return name.size() <= 48 ? name : name.substr(0, 45) + "..."; }

std::string rows_label(int64_t a, int64_t b) { return "rows " + std::to_string(a) + "-" + std::to_string(b - 1); }

}  // namespace

void tile_rows(PlanState& s, PassReport& report) {
  std::vector<RowWindow> windows;
  std::vector<size_t> ends;
  std::vector<size_t> region = find_region(s, windows, ends);
  const int64_t tileable_steps = ends.empty() ? 0 : static_cast<int64_t>(ends.back());
  const int steps = s.options.tile_steps;
  if (steps <= 0) {
    report.summary = "off";
    if (tileable_steps)
      report.summary += "; " + plural(static_cast<size_t>(tileable_steps), "step") +
                        " could be cut into row bands: " + brief(s.steps[region.front()].name) +
                        (tileable_steps > 1 ? " .. " + brief(s.steps[region[tileable_steps - 1]].name) : "");
    report.numbers = {{"tileable_steps", tileable_steps}, {"tiled_steps", 0}, {"bands", 0}};
    return;
  }
  if (std::find(ends.begin(), ends.end(), static_cast<size_t>(steps)) == ends.end())
    throw Error(s.graph.source + ": row-band tiling of the first " + plural(steps, "step") +
                " asked for; the region that can be cut ends after " +
                (ends.empty() ? std::string("none") : first_few([&] {
                  std::vector<std::string> v;
                  for (size_t e : ends) v.push_back(std::to_string(e));
                  return v;
                }(), 8)) + " steps (a chain or residual blocks of Conv, pools and elementwise steps)");
  region.resize(static_cast<size_t>(steps));
  windows.resize(region.size());
  const size_t k = region.size();
  const ir::TensorId in0 = s.steps[region.front()].inputs[0];
  const ir::TensorId out_k = s.steps[region.back()].outputs[0];
  const int64_t rows_out = s.info[out_k].shape[2];
  const int64_t bands = std::min<int64_t>(s.options.tile_bands, rows_out);
  if (bands < 1) throw Error(s.graph.source + ": row-band tiling needs at least one band");

  std::vector<PreparedStep> made;
  uint64_t copy_bytes = 0;
  std::vector<size_t> first_band(k);  // index into `made` of each step's band 0
  for (int64_t b = 0; b < bands; ++b) {
    // Backwards: the rows each step reads of each activation (req) and the
    // rows each tensor's band holds (need: the union of its readers' req).
    std::map<ir::TensorId, Rows> need;
    std::vector<std::map<ir::TensorId, Rows>> req(k);
    need[out_k] = {rows_out * b / bands, rows_out * (b + 1) / bands};
    for (size_t j = k; j-- > 0;) {
      const PreparedStep& p = s.steps[region[j]];
      const Rows out = need.at(p.outputs[0]);
      const RowWindow& w = windows[j];
      for (ir::TensorId t : activations(s, p)) {
        Rows r = out;
        if (w.window) {
          r.lo = std::max<int64_t>(0, out.lo * w.stride - w.pad);
          r.hi = std::min<int64_t>(s.info[t].shape[2], (out.hi - 1) * w.stride - w.pad + w.extent);
        }
        req[j][t] = r;
        auto it = need.find(t);
        if (it == need.end()) {
          need[t] = r;
        } else {
          it->second.lo = std::min(it->second.lo, r.lo);
          it->second.hi = std::max(it->second.hi, r.hi);
        }
      }
    }
    const std::string tag = "@" + rows_label(need[out_k].lo, need[out_k].hi);
    std::map<ir::TensorId, ir::TensorId> band_of;  // whole tensor -> its band tensor
    const Rows in_rows = need.at(in0);
    if (in_rows.lo != 0 || in_rows.hi != s.info[in0].shape[2]) {
      band_of[in0] = add_band_tensor(s, in0, in_rows.hi - in_rows.lo, s.graph.tensors[in0].name + tag);
      made.push_back(copy_step(s, in0, band_of[in0], in_rows.lo, false, s.steps[region.front()].name + " input" + tag));
      copy_bytes += s.info[band_of[in0]].bytes();
    } else {
      band_of[in0] = in0;
    }
    for (size_t j = 0; j < k; ++j) {
      const PreparedStep& orig = s.steps[region[j]];
      const RowWindow& w = windows[j];
      const Rows out = need.at(orig.outputs[0]);
      ir::Node node = s.graph.nodes[orig.node];
      node.name += tag;
      // Each activation: its band, or the rows of it this step reads when
      // the band holds more (another reader's halo).
      for (ir::TensorId& t : node.inputs) {
        if (t == ir::kNoTensor || s.constant[t]) continue;
        const Rows held = need.at(t), r = req[j].at(t);
        ir::TensorId band = band_of.at(t);
        if (r != held) {
          const ir::TensorId part = add_band_tensor(s, t, r.hi - r.lo, s.graph.tensors[t].name + "@" + rows_label(r.lo, r.hi) + " for " + node.name);
          made.push_back(copy_step(s, band, part, r.lo - held.lo, false, orig.name + " reads " + s.graph.tensors[t].name + tag));
          copy_bytes += s.info[part].bytes();
          band = part;
        }
        t = band;
      }
      const ir::TensorId band_out = add_band_tensor(s, orig.outputs[0], out.hi - out.lo,
                                                    s.graph.tensors[orig.outputs[0]].name + tag);
      band_of[orig.outputs[0]] = band_out;
      node.outputs = {band_out};
      if (w.window) {
        // The band's own padding along the rows: what of the window falls
        // outside the image (true padding), none inside it.
        const Rows r = req[j].at(orig.inputs[0]);
        const int64_t start = out.lo * w.stride - w.pad;
        const int64_t end = (out.hi - 1) * w.stride - w.pad + w.extent;
        std::vector<int64_t> pads = w.pads;
        const size_t sp = pads.size() / 2;
        pads[0] = r.lo - start;
        pads[sp] = end - r.hi;
        ir::Attribute a;
        a.kind = ir::Attribute::Kind::Ints;
        a.ints = pads;
        node.attrs["pads"] = a;
        node.attrs.erase("auto_pad");
      }
      s.graph.nodes.push_back(node);
      PreparedStep ps;
      if (!prepare_node(s, static_cast<int>(s.graph.nodes.size() - 1), ps))
        throw Error(s.graph.source + ": node '" + node.name + "': internal error: a band step folded");
      if (s.info[band_out].shape[2] != out.hi - out.lo)
        throw Error(s.graph.source + ": node '" + node.name + "': internal error: the band has " +
                    std::to_string(s.info[band_out].shape[2]) + " rows, expected " + std::to_string(out.hi - out.lo));
      if (node.domain.empty() && orig.op_type != node.op_type) {  // "+Relu": fused again
        if (!ps.step.fuse || !ps.step.fuse(ps.step, ops::Step::Epilogue::Relu))
          throw Error(s.graph.source + ": node '" + node.name + "': internal error: the band step lost its Relu");
        ps.step.flops += static_cast<double>(s.info[band_out].numel());
      }
      ps.name = orig.name + tag;
      ps.op_type = orig.op_type;
      // Byte-equal constants (packed weights) are the first band's.
      if (b == 0) {
        first_band[j] = made.size();
      } else {
        const std::vector<ops::StepConstant>& firsts = made[first_band[j]].step.constants;
        for (size_t c = 0; c < ps.step.constants.size() && c < firsts.size(); ++c) {
          ops::StepConstant& mine = ps.step.constants[c];
          const ops::StepConstant& first = firsts[c];
          if (mine.role == first.role && mine.data->size() == first.data->size() &&
              std::memcmp(mine.data->data(), first.data->data(), mine.data->size()) == 0)
            mine.data = first.data;
        }
      }
      made.push_back(std::move(ps));
    }
    const ir::TensorId last = band_of.at(out_k);
    made.push_back(copy_step(s, out_k, last, need[out_k].lo, true, s.steps[region.back()].name + " output" + tag));
    copy_bytes += s.info[last].bytes();
  }
  std::vector<PreparedStep> spliced;
  spliced.reserve(s.steps.size() + made.size());
  std::vector<std::string> names;
  for (size_t i = 0; i < s.steps.size(); ++i) {
    if (i == region.front())
      for (PreparedStep& m : made) spliced.push_back(std::move(m));
    if (std::find(region.begin(), region.end(), i) != region.end()) {
      names.push_back(s.steps[i].name);
      continue;
    }
    spliced.push_back(std::move(s.steps[i]));
  }
  s.steps = std::move(spliced);
  report.summary = "cut " + plural(k, "step") + " (" + brief(names.front()) + (k > 1 ? " .. " + brief(names.back()) : "") +
                   ") into " + plural(static_cast<size_t>(bands), "row band") + ", halos recomputed; copies " +
                   with_commas(copy_bytes) + " B per inference";
  report.numbers = {{"tileable_steps", tileable_steps}, {"tiled_steps", static_cast<int64_t>(k)},
                    {"bands", bands}, {"copy_bytes", static_cast<int64_t>(copy_bytes)}};
}

}  // namespace rtml::plan
