// Data-movement kernels: edge cases the ONNX node tests cover thinly.
// Expected values are worked out by hand in the comments.
#include "kernels/tensor_ops.h"
#include "kernels/table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "engine/session.h"
#include "plan/plan.h"
#include "kernel_call.h"

using namespace rtml;
using namespace rtml::kernels;

TEST(TensorOps, StridedCopyNegativeStepReversesRows) {
  // Slice of a 2x4 matrix, rows reversed (step -1), columns 3,1 (start 3, step -2).
  const std::vector<int32_t> in = {0, 1, 2, 3, 4, 5, 6, 7};
  StridedCopyParams p{};
  p.out_slot = 1;
  p.rank = 2;
  p.count = 4;
  p.shape[0] = 2;
  p.shape[1] = 2;
  p.in_strides[0] = -4;
  p.in_strides[1] = -2;
  p.in_offset = 1 * 4 + 3;  // row 1, column 3
  simplify_strided_copy(p);
  std::vector<int32_t> out(4, -1);
  call(rtml_x32_slice__ref, &p, {in.data(), out.data()});
  EXPECT_EQ(out, (std::vector<int32_t>{7, 5, 3, 1}));
}

TEST(TensorOps, StridedCopyWithOutStridesWritesABandIntoRows) {
  // The tiling's insert: a band [2 channels, 2 rows, 3] written into rows 1..2
  // of a [2, 4, 3] tensor; every other element stays as it was (-1).
  std::vector<int8_t> band(12);
  for (int i = 0; i < 12; ++i) band[i] = static_cast<int8_t>(i + 1);
  StridedCopyParams p{};
  p.out_slot = 1;
  p.rank = 3;
  p.count = 12;
  const int64_t shape[3] = {2, 2, 3}, in_strides[3] = {6, 3, 1}, out_strides[3] = {12, 3, 1};
  for (int d = 0; d < 3; ++d) {
    p.shape[d] = shape[d];
    p.in_strides[d] = in_strides[d];
    p.out_strides[d] = out_strides[d];
  }
  p.out_offset = 1 * 3;  // row 1
  std::vector<int8_t> out(24, -1);
  call(rtml_x8_slice__ref, &p, {band.data(), out.data()});
  EXPECT_EQ(out, (std::vector<int8_t>{-1, -1, -1, 1, 2, 3, 4, 5, 6, -1, -1, -1,
                                      -1, -1, -1, 7, 8, 9, 10, 11, 12, -1, -1, -1}));
}

TEST(TensorOps, StridedCopyTileUsesZeroStrides) {
  // Tile [a, b] (int64) by 3: shape [3, 2], strides [0, 1] -> a b a b a b.
  const std::vector<int64_t> in = {10, -20};
  StridedCopyParams p{};
  p.out_slot = 1;
  p.rank = 2;
  p.count = 6;
  p.shape[0] = 3;
  p.shape[1] = 2;
  p.in_strides[0] = 0;
  p.in_strides[1] = 1;
  simplify_strided_copy(p);
  std::vector<int64_t> out(6);
  call(rtml_x64_tile__ref, &p, {in.data(), out.data()});
  EXPECT_EQ(out, (std::vector<int64_t>{10, -20, 10, -20, 10, -20}));
}

TEST(TensorOps, SimplifyMergesContiguousDims) {
  // A 2x1x3 contiguous copy becomes one run of 6 with stride 1.
  StridedCopyParams p{};
  p.out_slot = 1;
  p.rank = 3;
  p.shape[0] = 2;
  p.shape[1] = 1;
  p.shape[2] = 3;
  p.in_strides[0] = 3;
  p.in_strides[1] = 3;
  p.in_strides[2] = 1;
  simplify_strided_copy(p);
  EXPECT_EQ(p.rank, 1);
  EXPECT_EQ(p.shape[0], 6);
  EXPECT_EQ(p.in_strides[0], 1);
}

TEST(TensorOps, StridedCopyTransposeOneByteElements) {
  // Transpose of a 2x3 uint8 matrix [[1,2,3],[4,5,6]] -> [[1,4],[2,5],[3,6]].
  const std::vector<uint8_t> in = {1, 2, 3, 4, 5, 6};
  StridedCopyParams p{};
  p.out_slot = 1;
  p.rank = 2;
  p.count = 6;
  p.shape[0] = 3;
  p.shape[1] = 2;
  p.in_strides[0] = 1;
  p.in_strides[1] = 3;
  std::vector<uint8_t> out(6);
  call(rtml_x8_transpose__ref, &p, {in.data(), out.data()});
  EXPECT_EQ(out, (std::vector<uint8_t>{1, 4, 2, 5, 3, 6}));
}

TEST(TensorOps, GatherNegativeAndOutOfRangeIndices) {
  // data 3x2 (axis 0), indices {-1, 0} -> rows 2 and 0.
  const std::vector<float> data = {1, 2, 3, 4, 5, 6};
  rtml_gather_params p{};
  p.outer = 1;
  p.axis_dim = 3;
  p.inner_bytes = 2 * sizeof(float);
  p.num_indices = 2;
  p.index_size = 8;
  const std::vector<int64_t> idx = {-1, 0};
  std::vector<float> out(4);
  EXPECT_EQ(call(rtml_x8_gather__ref, &p, {data.data(), idx.data(), out.data()}), 0);
  EXPECT_EQ(out, (std::vector<float>{5, 6, 1, 2}));

  const std::vector<int32_t> bad = {3};  // one past the end
  p.index_size = 4;
  p.num_indices = 1;
  EXPECT_NE(call(rtml_x8_gather__ref, &p, {data.data(), bad.data(), out.data()}), 0);
  const std::vector<int32_t> bad_neg = {-4};
  EXPECT_NE(call(rtml_x8_gather__ref, &p, {data.data(), bad_neg.data(), out.data()}), 0);
}

TEST(TensorOps, GatherElementsAxis1) {
  // data [[1,2],[3,4]], indices [[1,1],[-2,1]] on axis 1 -> [[2,2],[3,4]].
  const std::vector<int16_t> data = {1, 2, 3, 4};
  const std::vector<int64_t> idx = {1, 1, -2, 1};
  rtml_elements_params p{};
  p.rank = 2;
  p.axis = 1;
  p.index_size = 8;
  p.count = 4;
  p.axis_dim = 2;
  p.shape[0] = 2;
  p.shape[1] = 2;
  p.data_strides[0] = 2;
  p.data_strides[1] = 1;
  std::vector<int16_t> out(4);
  EXPECT_EQ(call(rtml_x16_gather_elements__ref, &p, {data.data(), idx.data(), out.data()}), 0);
  EXPECT_EQ(out, (std::vector<int16_t>{2, 2, 3, 4}));
  const std::vector<int64_t> bad = {0, 2, 0, 0};
  EXPECT_NE(call(rtml_x16_gather_elements__ref, &p, {data.data(), bad.data(), out.data()}), 0);
}

namespace {
// A 1-D int32 pad; a run-time value is operand 1 when value_slot is 1.
rtml_pad_params pad1d(uint8_t mode, int64_t n, int64_t before, int64_t after) {
  rtml_pad_params p{};
  p.rank = 1;
  p.mode = mode;
  p.value_slot = -1;
  p.out_slot = 2;
  p.in_shape[0] = n;
  p.out_shape[0] = n + before + after;
  p.pad_begin[0] = before;
  p.in_strides[0] = 1;
  p.count = p.out_shape[0];
  return p;
}
}  // namespace

TEST(TensorOps, PadReflectWiderThanInput) {
  // numpy.pad([1,2,3], 4, 'reflect'): the reflection repeats with period 4.
  const std::vector<int32_t> in = {1, 2, 3};
  auto p = pad1d(RTML_PAD_REFLECT, 3, 4, 4);
  std::vector<int32_t> out(11);
  call(rtml_x32_pad__ref, &p, {in.data(), nullptr, out.data()});
  EXPECT_EQ(out, (std::vector<int32_t>{1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3}));
}

TEST(TensorOps, PadEdgeWrapConstantAndCrop) {
  const std::vector<int32_t> in = {1, 2, 3};
  std::vector<int32_t> out(6);
  auto edge = pad1d(RTML_PAD_EDGE, 3, 2, 1);
  call(rtml_x32_pad__ref, &edge, {in.data(), nullptr, out.data()});
  EXPECT_EQ(out, (std::vector<int32_t>{1, 1, 1, 2, 3, 3}));
  auto wrap = pad1d(RTML_PAD_WRAP, 3, 2, 1);
  call(rtml_x32_pad__ref, &wrap, {in.data(), nullptr, out.data()});
  EXPECT_EQ(out, (std::vector<int32_t>{2, 3, 1, 2, 3, 1}));
  auto c = pad1d(RTML_PAD_CONSTANT, 3, 1, 2);
  c.value_slot = 1;
  const int32_t seven = 7;
  call(rtml_x32_pad__ref, &c, {in.data(), &seven, out.data()});
  EXPECT_EQ(out, (std::vector<int32_t>{7, 1, 2, 3, 7, 7}));
  // Negative pads crop: drop one element at the front, pad one at the back.
  std::vector<int32_t> cropped(3);
  auto crop = pad1d(RTML_PAD_CONSTANT, 3, -1, 1);
  call(rtml_x32_pad__ref, &crop, {in.data(), nullptr, cropped.data()});
  EXPECT_EQ(cropped, (std::vector<int32_t>{2, 3, 0}));
}

TEST(TensorOps, ConcatAndSplitRoundTripWithEmptyPart) {
  // Concat along axis 1 of [2x1] and [2x0] and [2x2] -> 2x3; split restores them.
  const std::vector<float> a = {1, 2}, c = {3, 4, 5, 6};
  const int64_t in_bytes[3] = {4, 0, 8};
  rtml_concat_params p{};
  p.num_inputs = 3;
  p.outer = 2;
  p.blocks_slot = 4;
  std::vector<float> out(6);
  call(rtml_x8_concat__ref, &p, {a.data(), nullptr, c.data(), out.data(), in_bytes});
  EXPECT_EQ(out, (std::vector<float>{1, 3, 4, 2, 5, 6}));

  rtml_split_params s{};
  s.num_outputs = 3;
  s.outer = 2;
  s.first_out = 1;
  s.blocks_slot = 4;
  std::vector<float> a2(2), c2(4);
  call(rtml_x8_split__ref, &s, {out.data(), a2.data(), nullptr, c2.data(), in_bytes});
  EXPECT_EQ(a2, a);
  EXPECT_EQ(c2, c);
}

TEST(TensorOps, TriluUpperAndLowerWithOffset) {
  // 3x3 of ones. upper k=1 keeps j - i >= 1; lower k=-1 keeps j - i <= -1.
  const std::vector<double> in(9, 1.0);
  std::vector<double> out(9);
  rtml_trilu_params p{};
  p.batch = 1;
  p.rows = 3;
  p.cols = 3;
  p.upper = true;
  p.k = 1;
  p.out_slot = 1;
  call(rtml_x64_trilu__ref, &p, {in.data(), out.data()});
  EXPECT_EQ(out, (std::vector<double>{0, 1, 1, 0, 0, 1, 0, 0, 0}));
  p.upper = false;
  p.k_runtime = true;  // k = -1 as a run-time input
  p.out_slot = 2;
  const int64_t k = -1;
  call(rtml_x64_trilu__ref, &p, {in.data(), &k, out.data()});
  EXPECT_EQ(out, (std::vector<double>{0, 0, 0, 1, 0, 0, 1, 1, 0}));
}

TEST(TensorOps, RangeIntegerNegativeDelta) {
  // Range(10, 4, -3) -> 10, 7 (ceil(6 / 3) = 2 elements).
  const int32_t start = 10, delta = -3;
  std::vector<int32_t> out(2);
  const int32_t limit = 4;
  rtml_range_params p{2};
  EXPECT_EQ(call(rtml_s32_range__ref, &p, {&start, &limit, &delta, out.data()}), 0);
  EXPECT_EQ(out, (std::vector<int32_t>{10, 7}));
  EXPECT_EQ(find_kernel("rtml_u8_range__ref"), nullptr);  // Range has no uint8 kernel
}

TEST(TensorOps, FillRepeatsValueBytes) {
  const int64_t v = -5;
  std::vector<int64_t> out(3);
  rtml_fill_params p{};
  p.count = 3;
  p.out_slot = 1;
  std::memcpy(p.value, &v, sizeof v);
  call(rtml_x64_fill__ref, &p, {nullptr, out.data()});
  EXPECT_EQ(out, (std::vector<int64_t>{-5, -5, -5}));
}

// ---- op-level checks through plan + session (one-node graphs) -------------------

namespace {

template <class T>
ir::Tensor make_const(const std::string& name, DType dt, Shape shape, std::vector<T> values) {
  ir::Tensor t;
  t.name = name;
  t.dtype = dt;
  t.shape = std::move(shape);
  auto buf = std::make_shared<ir::Buffer>(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(buf->data(), values.data(), values.size() * sizeof(T));
  t.data = std::move(buf);
  return t;
}

// A graph with one float input "x" of `shape`, extra constant inputs, and one
// node of `op` with `num_outputs` outputs.
struct OneNode {
  ir::Graph g;
  ir::Node node;
  OneNode(const std::string& op, Shape shape, int64_t opset = 13) {
    g.source = "test";
    g.opset = opset;
    ir::Tensor x;
    x.name = "x";
    x.dtype = DType::F32;
    x.shape = std::move(shape);
    TensorId id = g.add_tensor(x);
    g.inputs.push_back(id);
    node.name = "n";
    node.op_type = op;
    node.inputs.push_back(id);
  }
  using TensorId = ir::TensorId;
  void add_const(ir::Tensor t) { node.inputs.push_back(g.add_tensor(std::move(t))); }
  void add_ints(const std::string& name, std::vector<int64_t> v) {
    const int64_t n = static_cast<int64_t>(v.size());
    add_const(make_const<int64_t>(name, DType::I64, {n}, std::move(v)));
  }
  plan::Plan finish(int num_outputs = 1) {
    for (int i = 0; i < num_outputs; ++i) {
      ir::Tensor y;
      y.name = "y";
      y.name += std::to_string(i);  // (not "y" + ...: GCC 12 -Wrestrict false positive)
      TensorId id = g.add_tensor(y);
      node.outputs.push_back(id);
      g.outputs.push_back(id);
    }
    g.nodes.push_back(node);
    return plan::build_plan(g, {});
  }
};

std::vector<float> iota(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i);
  return v;
}

std::vector<float> output(engine::Session& s, int i) {
  const auto& t = s.output(i);
  const float* p = static_cast<const float*>(s.output_data(i));
  return std::vector<float>(p, p + shape_numel(t.shape));
}

}  // namespace

TEST(TensorOpsGraph, SliceClampsAndStepsBackwards) {
  // x = 0..9 (shape 10). starts 100 (clamped to 9), ends -100 (clamped to -1), step -3 -> 9, 6, 3, 0.
  OneNode t("Slice", {10});
  t.add_ints("starts", {100});
  t.add_ints("ends", {-100});
  t.add_ints("axes", {0});
  t.add_ints("steps", {-3});
  engine::Session s(t.finish());
  auto x = iota(10);
  std::memcpy(s.input_data(0), x.data(), x.size() * sizeof(float));
  ASSERT_TRUE(s.run().ok());
  EXPECT_EQ(s.output(0).shape, (Shape{4}));
  EXPECT_EQ(output(s, 0), (std::vector<float>{9, 6, 3, 0}));
}

TEST(TensorOpsGraph, ReshapeCopiesZeroAndInfersMinusOne) {
  // 2x3x4 with shape [0, -1] -> 2x12.
  OneNode t("Reshape", {2, 3, 4});
  t.add_ints("shape", {0, -1});
  plan::Plan p = t.finish();
  EXPECT_EQ(p.tensors[p.outputs[0]].shape, (Shape{2, 12}));
}

TEST(TensorOpsGraph, ReshapeRejectsWrongElementCount) {
  OneNode t("Reshape", {2, 3});
  t.add_ints("shape", {4, 2});
  EXPECT_THROW(t.finish(), Error);
}

TEST(TensorOpsGraph, SplitOpset18UnevenChunks) {
  // 5 elements into 2 outputs (num_outputs 2): ceil(5/2) = 3, then 2.
  OneNode t("Split", {5}, 18);
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::Int;
  a.i = 2;
  t.node.attrs["num_outputs"] = a;
  engine::Session s(t.finish(2));
  auto x = iota(5);
  std::memcpy(s.input_data(0), x.data(), x.size() * sizeof(float));
  ASSERT_TRUE(s.run().ok());
  EXPECT_EQ(output(s, 0), (std::vector<float>{0, 1, 2}));
  EXPECT_EQ(output(s, 1), (std::vector<float>{3, 4}));
}

TEST(TensorOpsGraph, GatherRuntimeIndexOutOfRangeFailsTheRun) {
  // Indices are a graph input, so the bad value is only seen at run time.
  OneNode t("Gather", {3});
  ir::Tensor idx;
  idx.name = "idx";
  idx.dtype = DType::I64;
  idx.shape = {1};
  ir::TensorId id = t.g.add_tensor(idx);
  t.g.inputs.push_back(id);
  t.node.inputs.push_back(id);
  engine::Session s(t.finish());
  const int64_t good = -1, bad = 3;
  auto x = iota(3);
  std::memcpy(s.input_data(0), x.data(), x.size() * sizeof(float));
  std::memcpy(s.input_data(1), &good, sizeof good);
  ASSERT_TRUE(s.run().ok());
  EXPECT_EQ(output(s, 0), (std::vector<float>{2}));
  std::memcpy(s.input_data(1), &bad, sizeof bad);
  EXPECT_FALSE(s.run().ok());
}

TEST(TensorOpsGraph, ShapeFoldsForNonConstantInput) {
  // Shape(x) with start=1 is known at prepare time: no step remains.
  OneNode t("Shape", {2, 3, 4}, 15);
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::Int;
  a.i = 1;
  t.node.attrs["start"] = a;
  plan::Plan p = t.finish();
  EXPECT_TRUE(p.steps.empty());
  const auto& out = p.tensors[p.outputs[0]];
  ASSERT_EQ(out.storage, plan::Storage::Constant);
  const auto* v = static_cast<const int64_t*>(out.constant->data());
  EXPECT_EQ(v[0], 3);
  EXPECT_EQ(v[1], 4);
}
