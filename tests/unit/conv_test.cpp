// Conv / ConvTranspose / pooling / BatchNormalization cases the ONNX data
// covers thinly, above all 1-D convolutions with dilation, causal padding and
// groups (TCN layers for audio). Each test runs the op's prepare (so the
// geometry: auto_pad, pads, ceil_mode, output shape) and then its kernel.
// Every expected value is worked out by hand in the comment next to it.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "ops/op.h"

using namespace rtml;

namespace {

struct Attr {
  std::string name;
  std::vector<int64_t> ints;
  std::string s;
  bool is_int = false;
  float f = 0;
  bool is_float = false;
};
Attr ints(const std::string& n, std::vector<int64_t> v) { return {n, std::move(v), "", false, 0, false}; }
Attr one(const std::string& n, int64_t v) { return {n, {v}, "", true, 0, false}; }
Attr str(const std::string& n, const std::string& v) { return {n, {}, v, false, 0, false}; }
Attr flt(const std::string& n, float v) { return {n, {}, "", false, v, true}; }

struct In {
  Shape shape;
  std::vector<float> data;
};

struct Result {
  std::vector<Shape> shapes;
  std::vector<std::vector<float>> out;
  std::vector<int64_t> indices;  // MaxPool's second output, if requested
};

// Prepares `op` on the given inputs and runs the chosen kernel.
Result run_op(const std::string& op, std::vector<In> inputs, std::vector<Attr> attrs, int num_outputs = 1,
              int64_t opset = 17, bool int64_second_output = false) {
  ir::Node node;
  node.name = "n";
  node.op_type = op;
  for (size_t i = 0; i < inputs.size(); ++i) node.inputs.push_back(static_cast<ir::TensorId>(i));
  for (int i = 0; i < num_outputs; ++i) node.outputs.push_back(static_cast<ir::TensorId>(inputs.size() + i));
  for (const Attr& a : attrs) {
    ir::Attribute at;
    if (!a.s.empty()) {
      at.kind = ir::Attribute::Kind::String;
      at.s = a.s;
    } else if (a.is_float) {
      at.kind = ir::Attribute::Kind::Float;
      at.f = a.f;
    } else if (a.is_int) {
      at.kind = ir::Attribute::Kind::Int;
      at.i = a.ints[0];
    } else {
      at.kind = ir::Attribute::Kind::Ints;
      at.ints = a.ints;
    }
    node.attrs[a.name] = at;
  }
  std::vector<ops::TensorInfo> infos;
  for (const In& in : inputs) infos.push_back({DType::F32, in.shape, nullptr});
  const std::string source = "unit";
  ops::OpContext ctx(node, opset, infos, node.outputs.size(), source);
  const ops::OpDef* def = ops::find_op(op);
  if (!def) throw Error("op not registered: " + op);
  def->prepare(ctx);
  Result r;
  std::vector<void*> operands;
  for (In& in : inputs) operands.push_back(in.data.data());
  r.out.resize(num_outputs);
  for (int i = 0; i < num_outputs; ++i) {
    r.shapes.push_back(ctx.output(i).shape);
    if (i == 1 && int64_second_output) {
      r.indices.assign(static_cast<size_t>(shape_numel(ctx.output(i).shape)), -7);
      operands.push_back(r.indices.data());
    } else {
      r.out[i].assign(static_cast<size_t>(shape_numel(ctx.output(i).shape)), -777.0f);
      operands.push_back(r.out[i].data());
    }
  }
  std::vector<unsigned char> scratch(ctx.step.scratch_bytes);
  if (ctx.step.scratch_bytes) operands.push_back(scratch.data());
  EXPECT_EQ(ctx.step.run(ctx.step.params.get(), operands.data()), 0);
  return r;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5f) << "element " << i;
}

// ----------------------------------------------------------------- Conv 1-D

TEST(ConvTest, Conv1dDilated) {
  // y[o] = 1*x[o] + 10*x[o+2]; length 5 - (2-1)*2 = 3.
  Result r = run_op("Conv", {{{1, 1, 5}, {1, 2, 3, 4, 5}}, {{1, 1, 2}, {1, 10}}}, {ints("dilations", {2})});
  EXPECT_EQ(r.shapes[0], (Shape{1, 1, 3}));
  expect_near(r.out[0], {31, 42, 53});
}

TEST(ConvTest, Conv1dCausalDilatedWithBias) {
  // TCN layer: left pad (k-1)*d = 2, so y[o] = 1*x[o-2] + 10*x[o] + 0.5.
  Result r = run_op("Conv", {{{1, 1, 5}, {1, 2, 3, 4, 5}}, {{1, 1, 2}, {1, 10}}, {{1}, {0.5f}}},
                    {ints("dilations", {2}), ints("pads", {2, 0})});
  EXPECT_EQ(r.shapes[0], (Shape{1, 1, 5}));
  expect_near(r.out[0], {10.5f, 20.5f, 31.5f, 42.5f, 53.5f});
}

TEST(ConvTest, Conv1dDilation4Kernel3Causal) {
  // k=3, d=4, left pad 8: y[o] = x[o-8] + 2*x[o-4] + 3*x[o], x = 1..10.
  // o=0..3: 3x; o=4..7: 2*x[o-4] + 3*x[o]; o=8,9: x[o-8] + 2*x[o-4] + 3*x[o].
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  Result r = run_op("Conv", {{{1, 1, 10}, x}, {{1, 1, 3}, {1, 2, 3}}}, {ints("dilations", {4}), ints("pads", {8, 0})});
  expect_near(r.out[0], {3, 6, 9, 12, 2 + 15, 4 + 18, 6 + 21, 8 + 24, 1 + 10 + 27, 2 + 12 + 30});
}

TEST(ConvTest, Conv1dGroups) {
  // C=2, M=4, group=2, k=1: outputs 0,1 see channel 0 (w 1,2); outputs 2,3 see channel 1 (w 3,4).
  Result r = run_op("Conv", {{{1, 2, 2}, {1, 2, 3, 4}}, {{4, 1, 1}, {1, 2, 3, 4}}}, {one("group", 2)});
  EXPECT_EQ(r.shapes[0], (Shape{1, 4, 2}));
  expect_near(r.out[0], {1, 2, 2, 4, 9, 12, 12, 16});
}

TEST(ConvTest, Conv1dDepthwiseDilatedBatch2) {
  // Depthwise (group = C = 2), k=2, d=3: y[c][o] = w[c][0]*x[c][o] + w[c][1]*x[c][o+3].
  // batch 0: ch0 x=[1,2,3,4] w=[1,1] -> [1+4]=5; ch1 x=[5,6,7,8] w=[2,-1] -> [10-8]=2.
  // batch 1: ch0 x=[0,1,0,1] -> [0+1]=1; ch1 x=[1,1,1,3] -> [2-3]=-1.
  Result r = run_op("Conv",
                    {{{2, 2, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 1, 1, 1, 1, 3}}, {{2, 1, 2}, {1, 1, 2, -1}}},
                    {one("group", 2), ints("dilations", {3})});
  EXPECT_EQ(r.shapes[0], (Shape{2, 2, 1}));
  expect_near(r.out[0], {5, 2, 1, -1});
}

TEST(ConvTest, Conv1dStridePads) {
  // Padded x = [0,1,2,3,4,5,0], k=3 ones, stride 2: windows at 0,2,4 -> 3, 9, 9.
  Result r = run_op("Conv", {{{1, 1, 5}, {1, 2, 3, 4, 5}}, {{1, 1, 3}, {1, 1, 1}}},
                    {ints("strides", {2}), ints("pads", {1, 1})});
  EXPECT_EQ(r.shapes[0], (Shape{1, 1, 3}));
  expect_near(r.out[0], {3, 9, 9});
}

TEST(ConvTest, Conv1dStrideDilationPadsCombined) {
  // x = 1..8, k=2 w=[1,-1], d=3, stride 2, pads [3,1]: extent 4, out = (8+4-4)/2+1 = 5.
  // y[o] = x[2o-3] - x[2o] (x[i]=0 outside [0,8)), x[i] = i+1:
  // o=0: 0 - 1 = -1; o=1: 0 - 3 = -3; o=2: x1 - x4 = 2-5 = -3; o=3: x3 - x6 = -3; o=4: x5 - x8(pad) = 6.
  Result r = run_op("Conv", {{{1, 1, 8}, {1, 2, 3, 4, 5, 6, 7, 8}}, {{1, 1, 2}, {1, -1}}},
                    {ints("strides", {2}), ints("dilations", {3}), ints("pads", {3, 1})});
  EXPECT_EQ(r.shapes[0], (Shape{1, 1, 5}));
  expect_near(r.out[0], {-1, -3, -3, -3, 6});
}

TEST(ConvTest, Conv1dMultiInputChannels) {
  // group 1, C=2: y[o] = 1*x0[o] + 0*x0[o+1] + 0*x1[o] + 2*x1[o+1]; x0=[1,2,3], x1=[1,1,1] -> [3,4].
  Result r = run_op("Conv", {{{1, 2, 3}, {1, 2, 3, 1, 1, 1}}, {{1, 2, 2}, {1, 0, 0, 2}}}, {});
  expect_near(r.out[0], {3, 4});
}

TEST(ConvTest, Conv1dAutoPadSameUpperAndLower) {
  // k=2 w=[1,10], total pad 1. SAME_UPPER pads the end: y[o] = x[o] + 10*x[o+1].
  Result up = run_op("Conv", {{{1, 1, 4}, {1, 2, 3, 4}}, {{1, 1, 2}, {1, 10}}}, {str("auto_pad", "SAME_UPPER")});
  expect_near(up.out[0], {21, 32, 43, 4});
  // SAME_LOWER pads the start: y[o] = x[o-1] + 10*x[o].
  Result lo = run_op("Conv", {{{1, 1, 4}, {1, 2, 3, 4}}, {{1, 1, 2}, {1, 10}}}, {str("auto_pad", "SAME_LOWER")});
  expect_near(lo.out[0], {10, 21, 32, 43});
  // VALID: no pads, 3 outputs.
  Result va = run_op("Conv", {{{1, 1, 4}, {1, 2, 3, 4}}, {{1, 1, 2}, {1, 10}}}, {str("auto_pad", "VALID")});
  expect_near(va.out[0], {21, 32, 43});
}

TEST(ConvTest, Conv1dSameUpperStride2) {
  // in 5, stride 2 -> out 3; k=3: total = (3-1)*2 + 3 - 5 = 2, pads [1,1]: same as Conv1dStridePads.
  Result r = run_op("Conv", {{{1, 1, 5}, {1, 2, 3, 4, 5}}, {{1, 1, 3}, {1, 1, 1}}},
                    {str("auto_pad", "SAME_UPPER"), ints("strides", {2})});
  expect_near(r.out[0], {3, 9, 9});
}

// ----------------------------------------------------------------- Conv 2-D

TEST(ConvTest, Conv2dPaddedStrided) {
  // x = 1..9 (3x3), 2x2 ones, pads 1, stride 2 -> 2x2 windows at padded (0,0),(0,2),(2,0),(2,2):
  // {1}, {2,3}, {4,7}, {5,6,8,9} -> 1, 5, 11, 28.
  Result r = run_op("Conv", {{{1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}}, {{1, 1, 2, 2}, {1, 1, 1, 1}}},
                    {ints("pads", {1, 1, 1, 1}), ints("strides", {2, 2})});
  EXPECT_EQ(r.shapes[0], (Shape{1, 1, 2, 2}));
  expect_near(r.out[0], {1, 5, 11, 28});
}

TEST(ConvTest, Conv2dAsymmetricDilation) {
  // x 3x4 = 1..12, kernel 2x1 w=[1,1], dilation (2,1): y[r][c] = x[r][c] + x[r+2][c], 1x4.
  Result r = run_op("Conv", {{{1, 1, 3, 4}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}, {{1, 1, 2, 1}, {1, 1}}},
                    {ints("dilations", {2, 1})});
  EXPECT_EQ(r.shapes[0], (Shape{1, 1, 1, 4}));
  expect_near(r.out[0], {10, 12, 14, 16});
}

TEST(ConvTest, ConvRejectsBadShapes) {
  // W dim 1 must be C/group.
  EXPECT_THROW(run_op("Conv", {{{1, 2, 4}, std::vector<float>(8)}, {{1, 1, 2}, {1, 1}}}, {}), Error);
  // Channels not divisible by group.
  EXPECT_THROW(run_op("Conv", {{{1, 3, 4}, std::vector<float>(12)}, {{2, 1, 2}, std::vector<float>(4)}},
                      {one("group", 2)}),
               Error);
  // Kernel extent larger than the input.
  EXPECT_THROW(run_op("Conv", {{{1, 1, 2}, {1, 2}}, {{1, 1, 2}, {1, 1}}}, {ints("dilations", {2})}), Error);
  // Zero stride, wrong pads length.
  EXPECT_THROW(run_op("Conv", {{{1, 1, 4}, std::vector<float>(4)}, {{1, 1, 2}, {1, 1}}}, {ints("strides", {0})}),
               Error);
  EXPECT_THROW(run_op("Conv", {{{1, 1, 4}, std::vector<float>(4)}, {{1, 1, 2}, {1, 1}}}, {ints("pads", {1})}), Error);
  // kernel_shape disagreeing with W.
  EXPECT_THROW(run_op("Conv", {{{1, 1, 4}, std::vector<float>(4)}, {{1, 1, 2}, {1, 1}}}, {ints("kernel_shape", {3})}),
               Error);
}

// ----------------------------------------------------------------- ConvTranspose

TEST(ConvTest, ConvTranspose1dStride) {
  // x=[1,2], w=[1,1,1], stride 2: full length 2*1+3 = 5; y = [1,1,1+2,2,2].
  Result r = run_op("ConvTranspose", {{{1, 1, 2}, {1, 2}}, {{1, 1, 3}, {1, 1, 1}}}, {ints("strides", {2})});
  EXPECT_EQ(r.shapes[0], (Shape{1, 1, 5}));
  expect_near(r.out[0], {1, 1, 3, 2, 2});
  // pads [1,1] crop one element each side.
  Result p = run_op("ConvTranspose", {{{1, 1, 2}, {1, 2}}, {{1, 1, 3}, {1, 1, 1}}},
                    {ints("strides", {2}), ints("pads", {1, 1})});
  expect_near(p.out[0], {1, 3, 2});
  // output_padding 1 adds one element at the end (nothing lands there).
  Result op = run_op("ConvTranspose", {{{1, 1, 2}, {1, 2}}, {{1, 1, 3}, {1, 1, 1}}},
                     {ints("strides", {2}), ints("output_padding", {1})});
  expect_near(op.out[0], {1, 1, 3, 2, 2, 0});
}

TEST(ConvTest, ConvTranspose1dDilatedGroupsBias) {
  // group 2: C=2 (x0=[1,2], x1=[3,4]), W (2,1,2): w0=[1,10], w1=[2,0]; d=2, bias [0.5,-1].
  // y[i + 2t] += x[i]*w[t], length 1 + 3 = 4.
  // ch0: [1, 2, 10, 20] + 0.5; ch1: [6, 8, 0, 0] - 1.
  Result r = run_op("ConvTranspose", {{{1, 2, 2}, {1, 2, 3, 4}}, {{2, 1, 2}, {1, 10, 2, 0}}, {{2}, {0.5f, -1}}},
                    {one("group", 2), ints("dilations", {2})});
  EXPECT_EQ(r.shapes[0], (Shape{1, 2, 4}));
  expect_near(r.out[0], {1.5f, 2.5f, 10.5f, 20.5f, 5, 7, -1, -1});
}

TEST(ConvTest, ConvTranspose1dOutputShapeAndSame) {
  // x=[1,2], w=[1,1,1], stride 2, full length 5.
  // output_shape 6 (no pads): total padding -1 -> the extra element goes at the end.
  Result os = run_op("ConvTranspose", {{{1, 1, 2}, {1, 2}}, {{1, 1, 3}, {1, 1, 1}}},
                     {ints("strides", {2}), ints("output_shape", {6})});
  expect_near(os.out[0], {1, 1, 3, 2, 2, 0});
  // SAME_UPPER: out = in*stride = 4, total padding 1, pads [0,1] -> first 4 of the full output.
  Result up = run_op("ConvTranspose", {{{1, 1, 2}, {1, 2}}, {{1, 1, 3}, {1, 1, 1}}},
                     {ints("strides", {2}), str("auto_pad", "SAME_UPPER")});
  expect_near(up.out[0], {1, 1, 3, 2});
  // SAME_LOWER: pads [1,0] -> last 4.
  Result lo = run_op("ConvTranspose", {{{1, 1, 2}, {1, 2}}, {{1, 1, 3}, {1, 1, 1}}},
                     {ints("strides", {2}), str("auto_pad", "SAME_LOWER")});
  expect_near(lo.out[0], {1, 3, 2, 2});
}

TEST(ConvTest, ConvTranspose2dStride) {
  // x 2x2 = [[1,2],[3,4]], 1x1 kernel w=2, stride 2: y 3x3 with x*2 at even positions.
  Result r = run_op("ConvTranspose", {{{1, 1, 2, 2}, {1, 2, 3, 4}}, {{1, 1, 1, 1}, {2}}}, {ints("strides", {2, 2})});
  EXPECT_EQ(r.shapes[0], (Shape{1, 1, 3, 3}));
  expect_near(r.out[0], {2, 0, 4, 0, 0, 0, 6, 0, 8});
}

// ----------------------------------------------------------------- pools

TEST(PoolTest, AveragePool1dPadsCountIncludePad) {
  // x=1..5, k=2, s=2, pads [1,1]: windows [-1,0], [1,2], [3,4].
  Result ex = run_op("AveragePool", {{{1, 1, 5}, {1, 2, 3, 4, 5}}},
                     {ints("kernel_shape", {2}), ints("strides", {2}), ints("pads", {1, 1})});
  expect_near(ex.out[0], {1, 2.5f, 4.5f});
  Result in = run_op("AveragePool", {{{1, 1, 5}, {1, 2, 3, 4, 5}}},
                     {ints("kernel_shape", {2}), ints("strides", {2}), ints("pads", {1, 1}), one("count_include_pad", 1)});
  expect_near(in.out[0], {0.5f, 2.5f, 4.5f});
}

TEST(PoolTest, CeilModeClipsLastWindow) {
  // x=1..5, k=2, s=2, ceil: out 3; the last window [4,5] holds only x[4]=5.
  Result avg = run_op("AveragePool", {{{1, 1, 5}, {1, 2, 3, 4, 5}}},
                      {ints("kernel_shape", {2}), ints("strides", {2}), one("ceil_mode", 1), one("count_include_pad", 1)});
  EXPECT_EQ(avg.shapes[0], (Shape{1, 1, 3}));
  expect_near(avg.out[0], {1.5f, 3.5f, 5});
  Result mx = run_op("MaxPool", {{{1, 1, 5}, {1, 2, 3, 4, 5}}},
                     {ints("kernel_shape", {2}), ints("strides", {2}), one("ceil_mode", 1)});
  expect_near(mx.out[0], {2, 4, 5});
  // A window that would start in the right padding is dropped: in 4, k=2, s=2, pads [0,1] ->
  // ceil((4+1-2)/2)+1 = 3 but (3-1)*2 = 4 >= 4 + 0, so 2 outputs.
  Result drop = run_op("MaxPool", {{{1, 1, 4}, {1, 2, 3, 4}}},
                       {ints("kernel_shape", {2}), ints("strides", {2}), ints("pads", {0, 1}), one("ceil_mode", 1)});
  EXPECT_EQ(drop.shapes[0], (Shape{1, 1, 2}));
  expect_near(drop.out[0], {2, 4});
}

TEST(PoolTest, MaxPool1dDilationWithIndices) {
  // x=[1,5,2,4,3], k=2, d=2: windows {0,2},{1,3},{2,4} -> 2 (idx 2), 5 (idx 1), 3 (idx 4).
  // Second channel x=[0,0,9,0,0] -> 9, 0, 9 with indices offset by the plane size 5: 7, 6, 7.
  Result r = run_op("MaxPool", {{{1, 2, 5}, {1, 5, 2, 4, 3, 0, 0, 9, 0, 0}}},
                    {ints("kernel_shape", {2}), ints("dilations", {2})}, 2, 17, true);
  expect_near(r.out[0], {2, 5, 3, 9, 0, 9});
  EXPECT_EQ(r.indices, (std::vector<int64_t>{2, 1, 4, 7, 6, 7}));
}

TEST(PoolTest, MaxPool2dStorageOrder) {
  // x 2x3 = [[1,2,3],[4,9,6]], k 2x2: both windows' max is 9 at (1,1).
  // Row-major index 1*3+1 = 4; column-major 1 + 1*2 = 3.
  Result row = run_op("MaxPool", {{{1, 1, 2, 3}, {1, 2, 3, 4, 9, 6}}}, {ints("kernel_shape", {2, 2})}, 2, 17, true);
  EXPECT_EQ(row.indices, (std::vector<int64_t>{4, 4}));
  Result col = run_op("MaxPool", {{{1, 1, 2, 3}, {1, 2, 3, 4, 9, 6}}},
                      {ints("kernel_shape", {2, 2}), one("storage_order", 1)}, 2, 17, true);
  EXPECT_EQ(col.indices, (std::vector<int64_t>{3, 3}));
}

TEST(PoolTest, LpPool1d) {
  // p=2, k=2, s=2: sqrt(3^2+4^2) = 5, sqrt(6^2+8^2) = 10.
  Result r = run_op("LpPool", {{{1, 1, 4}, {3, 4, 6, 8}}}, {ints("kernel_shape", {2}), ints("strides", {2}), one("p", 2)});
  expect_near(r.out[0], {5, 10});
}

TEST(PoolTest, GlobalPools) {
  // (1,2,3): channel means 2 and 5, maxima 3 and 6.
  Result avg = run_op("GlobalAveragePool", {{{1, 2, 3}, {1, 2, 3, 4, 5, 6}}}, {});
  EXPECT_EQ(avg.shapes[0], (Shape{1, 2, 1}));
  expect_near(avg.out[0], {2, 5});
  Result mx = run_op("GlobalMaxPool", {{{1, 2, 3}, {1, 3, 2, 6, 5, 4}}}, {});
  expect_near(mx.out[0], {3, 6});
}

TEST(PoolTest, MaxOfMinusInfinityIsMinusInfinity) {
  // A plane or window of -inf has maximum -inf, not float's lowest finite value
  // (-3.4e38, which a start value of lowest() would leave); NaN wins over numbers.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  Result g = run_op("GlobalMaxPool", {{{1, 2, 2}, {-inf, -inf, -inf, nan}}}, {});
  EXPECT_EQ(g.out[0][0], -inf);
  EXPECT_TRUE(std::isnan(g.out[0][1]));
  Result w = run_op("MaxPool", {{{1, 1, 4}, {-inf, -inf, 1, nan}}}, {ints("kernel_shape", {2}), ints("strides", {2})});
  EXPECT_EQ(w.out[0][0], -inf);
  EXPECT_TRUE(std::isnan(w.out[0][1]));
}

TEST(PoolTest, PoolRejectsMissingKernelShape) {
  EXPECT_THROW(run_op("MaxPool", {{{1, 1, 4}, {1, 2, 3, 4}}}, {}), Error);
  EXPECT_THROW(run_op("AveragePool", {{{1, 1, 4}, {1, 2, 3, 4}}}, {ints("kernel_shape", {2, 2})}), Error);
}

// ----------------------------------------------------------------- BatchNormalization

TEST(BatchNormTest, Inference) {
  // x (1,2,2): ch0 [1,3], ch1 [2,4]; scale [1,2], B [0,1], mean [2,3], var [1,4], eps 0.
  // ch0: (x-2)/1*1 + 0 = [-1,1]; ch1: (x-3)/2*2 + 1 = [0,2].
  Result r = run_op("BatchNormalization",
                    {{{1, 2, 2}, {1, 3, 2, 4}}, {{2}, {1, 2}}, {{2}, {0, 1}}, {{2}, {2, 3}}, {{2}, {1, 4}}},
                    {flt("epsilon", 0)});
  expect_near(r.out[0], {-1, 1, 0, 2});
}

TEST(BatchNormTest, TrainingMode) {
  // x (2,1,1) = [1,3]: batch mean 2, population var 1; eps 0, scale 1, B 0 -> y = [-1, 1].
  // running_mean = 0*0.9 + 2*0.1 = 0.2; running_var = 1*0.9 + 1*0.1 = 1.
  Result r = run_op("BatchNormalization",
                    {{{2, 1, 1}, {1, 3}}, {{1}, {1}}, {{1}, {0}}, {{1}, {0}}, {{1}, {1}}},
                    {flt("epsilon", 0), one("training_mode", 1)}, 3, 15);
  expect_near(r.out[0], {-1, 1});
  expect_near(r.out[1], {0.2f});
  expect_near(r.out[2], {1});
}

TEST(BatchNormTest, RejectsWrongChannelCount) {
  EXPECT_THROW(run_op("BatchNormalization",
                      {{{1, 2, 2}, {1, 3, 2, 4}}, {{3}, {1, 2, 3}}, {{2}, {0, 1}}, {{2}, {2, 3}}, {{2}, {1, 4}}}, {}),
               Error);
}

}  // namespace
