// plan/passes/fuse_qdq.cpp: QDQ groups (DequantizeLinear -> Conv / MatMul /
// Gemm -> [Relu | Clip] -> QuantizeLinear) run as one int8 step. Oracles:
// (a) the same computation written with the ONNX QLinear ops (their kernels
// are checked bit-exact against CMSIS-NN in tests/cmsis_nn/): the fused
// step must be bit-identical; a Relu / Clip there is a clamp of the int8
// result by hand; (b) the unfused float path (PlanOptions::fuse = false:
// DequantizeLinear -> float op -> QuantizeLinear) within 1 unit; (c) for a
// group the pass leaves in float, a direct computation in double here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "attributes.h"
#include "engine/session.h"
#include "graph_builder.h"
#include "kernels/quant.h"
#include "plan/plan.h"

using namespace rtml;
using rtml::testing::GraphBuilder;

namespace {

template <class T>
ir::TensorId constant_of(GraphBuilder& gb, const std::string& name, DType dtype, Shape shape, const std::vector<T>& v) {
  ir::Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  auto buf = std::make_shared<ir::Buffer>(v.size() * sizeof(T));
  std::memcpy(buf->data(), v.data(), buf->size());
  t.data = buf;
  return gb.g.add_tensor(t);
}

ir::TensorId scalar(GraphBuilder& gb, const std::string& name, float v) {
  return constant_of(gb, name, DType::F32, {}, std::vector<float>{v});
}

template <class T>
ir::TensorId zero_point(GraphBuilder& gb, const std::string& name, int v) {
  return constant_of(gb, name, std::is_same<T, int8_t>::value ? DType::I8 : DType::U8, {}, std::vector<T>{static_cast<T>(v)});
}

template <class T>
std::vector<T> random_values(size_t n, int lo, int hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(n);
  for (T& e : v) e = static_cast<T>(d(rng));
  return v;
}

// Runs g on one input per graph input; returns the output.
template <class T>
std::vector<T> run_inputs(const ir::Graph& g, const std::vector<std::vector<T>>& xs, bool fuse,
                          plan::Plan* kept = nullptr) {
  plan::PlanOptions po;
  po.fuse = fuse;
  plan::Plan p = plan::build_plan(g, po);
  if (kept) *kept = p;
  engine::Session s(std::move(p));
  for (size_t k = 0; k < xs.size(); ++k) std::memcpy(s.input_data(k), xs[k].data(), xs[k].size() * sizeof(T));
  EXPECT_TRUE(s.run().ok());
  const T* y = static_cast<const T*>(s.output_data(0));
  return std::vector<T>(y, y + s.output(0).bytes / sizeof(T));
}

// Runs the graph on the one input x; returns the output's first out_count values.
template <class T>
std::vector<T> run(const ir::Graph& g, const std::vector<T>& x, size_t out_count, bool fuse = true,
                   plan::Plan* kept = nullptr) {
  std::vector<T> y = run_inputs<T>(g, {x}, fuse, kept);
  y.resize(out_count);
  return y;
}

template <class T>
void expect_within_one(const std::vector<T>& a, const std::vector<T>& b) {
  ASSERT_EQ(a.size(), b.size());
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int(a[i]) - int(b[i])));
  EXPECT_LE(worst, 1);
}

const plan::PassReport& report_of(const plan::Plan& p, const std::string& name) {
  for (const plan::PassReport& r : p.passes)
    if (r.name == name) return r;
  throw std::runtime_error("no pass " + name);
}

// A 2-D int8 Conv, weights per output channel, int32 bias, pads 1, stride 2.
struct ConvCase {
  static constexpr int64_t C = 3, H = 7, W = 6, CO = 4;
  const float xs = 0.05f, ys = 0.1f;
  const int xzp = -3, yzp = -10;
  std::vector<float> ws{0.01f, 0.02f, 0.015f, 0.03f};
  std::vector<int8_t> x = random_values<int8_t>(C * H * W, -128, 127, 1);
  std::vector<int8_t> w = random_values<int8_t>(CO * C * 9, -127, 127, 2);
  std::vector<int32_t> b = random_values<int32_t>(CO, -2000, 2000, 3);
  std::map<std::string, ir::Attribute> conv_attrs{{"pads", attr_ints({1, 1, 1, 1})}, {"strides", attr_ints({2, 2})}};
  static constexpr size_t out_count = CO * 4 * 3;

  // DequantizeLinear x, W, B -> Conv -> `act` (Relu, Clip or "") -> QuantizeLinear.
  ir::Graph qdq(const std::string& act) const {
    GraphBuilder gb;
    const ir::TensorId in = gb.input("x", {1, C, H, W});
    gb.g.tensors[in].dtype = DType::I8;
    std::vector<float> bs(CO);
    for (int64_t c = 0; c < CO; ++c) bs[c] = xs * ws[c];
    const ir::TensorId xf = gb.node("DequantizeLinear", {in, scalar(gb, "xs", xs), zero_point<int8_t>(gb, "xzp", xzp)});
    const ir::TensorId wf = gb.node("DequantizeLinear", {constant_of(gb, "w", DType::I8, {CO, C, 3, 3}, w),
                                                         constant_of(gb, "ws", DType::F32, {CO}, ws)},
                                    {{"axis", attr_int(0)}});
    const ir::TensorId bf = gb.node("DequantizeLinear", {constant_of(gb, "b", DType::I32, {CO}, b),
                                                         constant_of(gb, "bs", DType::F32, {CO}, bs)},
                                    {{"axis", attr_int(0)}});
    ir::TensorId y = gb.node("Conv", {xf, wf, bf}, conv_attrs);
    if (act == "Relu") y = gb.node("Relu", {y});
    if (act == "Clip") y = gb.node("Clip", {y, scalar(gb, "lo", -0.5f), scalar(gb, "hi", 0.6f)});
    gb.g.outputs = {gb.node("QuantizeLinear", {y, scalar(gb, "ys", ys), zero_point<int8_t>(gb, "yzp", yzp)})};
    return gb.g;
  }
  // The same with QLinearConv.
  ir::Graph qlinear() const {
    GraphBuilder gb;
    const ir::TensorId in = gb.input("x", {1, C, H, W});
    gb.g.tensors[in].dtype = DType::I8;
    gb.g.outputs = {gb.node("QLinearConv",
                            {in, scalar(gb, "xs", xs), zero_point<int8_t>(gb, "xzp", xzp),
                             constant_of(gb, "w", DType::I8, {CO, C, 3, 3}, w), constant_of(gb, "ws", DType::F32, {CO}, ws),
                             zero_point<int8_t>(gb, "wzp", 0), scalar(gb, "ys", ys), zero_point<int8_t>(gb, "yzp", yzp),
                             constant_of(gb, "b", DType::I32, {CO}, b)},
                            conv_attrs)};
    return gb.g;
  }
};

// Clamps an int8 result to [lo, hi]: a Relu / Clip applied by hand.
std::vector<int8_t> clamped(std::vector<int8_t> v, int lo, int hi) {
  for (int8_t& e : v) e = static_cast<int8_t>(std::max(lo, std::min(hi, int(e))));
  return v;
}

}  // namespace

TEST(FuseQdq, ConvReluRunsAsOneInt8StepBitIdenticalWithQLinearConv) {
  const ConvCase c;
  plan::Plan p;
  const std::vector<int8_t> fused = run(c.qdq("Relu"), c.x, c.out_count, true, &p);
  ASSERT_EQ(p.steps.size(), 1u) << report_of(p, "fuse_qdq").summary;
  // Nodes n0..n5: DequantizeLinear x, W, B, Conv, Relu, QuantizeLinear.
  EXPECT_EQ(p.steps[0].node_name, "n0 + n1 + n2 + n3 + n4 + n5");
  EXPECT_EQ(p.steps[0].op_type, "DequantizeLinear+Conv+Relu+QuantizeLinear");
  EXPECT_EQ(report_of(p, "fuse_qdq").summary, "fused 1 QDQ group into int8 steps: n3 (Conv+Relu)");

  plan::Plan q;
  const std::vector<int8_t> qlinear = run(c.qlinear(), c.x, c.out_count, true, &q);
  EXPECT_EQ(p.steps[0].step.kernel, q.steps[0].step.kernel);  // the same kernel choice
  // Relu before QuantizeLinear: nothing below the output zero point.
  EXPECT_EQ(fused, clamped(qlinear, c.yzp, 127));
  EXPECT_NE(fused, qlinear);  // the Relu did clamp something
  expect_within_one(fused, run(c.qdq("Relu"), c.x, c.out_count, false));
}

TEST(FuseQdq, ConvWithoutActivationAndWithClip) {
  const ConvCase c;
  const std::vector<int8_t> qlinear = run(c.qlinear(), c.x, c.out_count);
  EXPECT_EQ(run(c.qdq(""), c.x, c.out_count), qlinear);
  expect_within_one(run(c.qdq(""), c.x, c.out_count), run(c.qdq(""), c.x, c.out_count, false));
  // Clip(-0.5, 0.6) at scale 0.1, zero point -10: [-15, -4].
  plan::Plan p;
  const std::vector<int8_t> clip = run(c.qdq("Clip"), c.x, c.out_count, true, &p);
  EXPECT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(clip, clamped(qlinear, -15, -4));
  expect_within_one(clip, run(c.qdq("Clip"), c.x, c.out_count, false));
}

namespace {

// Gemm(x [M x K], W [N x K] with transB, C) on uint8 data and int8 weights
// per output column, bias C given as a float constant (quantized by the pass)
// or as DequantizeLinear(int32).
struct GemmCase {
  static constexpr int64_t M = 3, K = 10, N = 5;
  const float xs = 0.02f, ys = 0.05f;
  const int xzp = 120, yzp = 100;
  std::vector<float> ws{0.01f, 0.012f, 0.02f, 0.008f, 0.011f};
  std::vector<uint8_t> x = random_values<uint8_t>(M * K, 0, 255, 4);
  std::vector<int8_t> w = random_values<int8_t>(N * K, -127, 127, 5);
  std::vector<int32_t> b = random_values<int32_t>(N, -3000, 3000, 6);

  ir::Graph qdq(bool int32_bias) const {
    GraphBuilder gb;
    const ir::TensorId in = gb.input("x", {M, K});
    gb.g.tensors[in].dtype = DType::U8;
    const ir::TensorId xf = gb.node("DequantizeLinear", {in, scalar(gb, "xs", xs), zero_point<uint8_t>(gb, "xzp", xzp)});
    const ir::TensorId wf = gb.node("DequantizeLinear", {constant_of(gb, "w", DType::I8, {N, K}, w),
                                                         constant_of(gb, "ws", DType::F32, {N}, ws)},
                                    {{"axis", attr_int(0)}});
    std::vector<float> bs(N), bf(N);
    for (int64_t n = 0; n < N; ++n) {
      bs[n] = xs * ws[n];
      bf[n] = static_cast<float>(b[n]) * bs[n];
    }
    const ir::TensorId bias =
        int32_bias ? gb.node("DequantizeLinear", {constant_of(gb, "b", DType::I32, {N}, b), constant_of(gb, "bs", DType::F32, {N}, bs)},
                             {{"axis", attr_int(0)}})
                   : constant_of(gb, "bf", DType::F32, {1, N}, bf);
    const ir::TensorId y = gb.node("Gemm", {xf, wf, bias}, {{"transB", attr_int(1)}});
    gb.g.outputs = {gb.node("QuantizeLinear", {y, scalar(gb, "ys", ys), zero_point<uint8_t>(gb, "yzp", yzp)})};
    return gb.g;
  }
  // The same as a 1x1 QLinearConv over x viewed as [M, K, 1, 1]: W [N, K]
  // is already the conv's [C_out, C_in] layout.
  ir::Graph qlinear() const {
    GraphBuilder gb;
    const ir::TensorId in = gb.input("x", {M, K, 1, 1});
    gb.g.tensors[in].dtype = DType::U8;
    gb.g.outputs = {gb.node("QLinearConv",
                            {in, scalar(gb, "xs", xs), zero_point<uint8_t>(gb, "xzp", xzp),
                             constant_of(gb, "w", DType::I8, {N, K, 1, 1}, w), constant_of(gb, "ws", DType::F32, {N}, ws),
                             zero_point<int8_t>(gb, "wzp", 0), scalar(gb, "ys", ys), zero_point<uint8_t>(gb, "yzp", yzp),
                             constant_of(gb, "b", DType::I32, {N}, b)})};
    return gb.g;
  }
};

}  // namespace

TEST(FuseQdq, GemmTransBWithInt32OrFloatBiasBitIdenticalWithQLinearConv) {
  const GemmCase c;
  const std::vector<uint8_t> qlinear = run(c.qlinear(), c.x, c.M * c.N);
  for (bool int32_bias : {true, false}) {
    SCOPED_TRACE(int32_bias ? "DequantizeLinear(int32) bias" : "float bias");
    plan::Plan p;
    const std::vector<uint8_t> fused = run(c.qdq(int32_bias), c.x, c.M * c.N, true, &p);
    ASSERT_EQ(p.steps.size(), 1u) << report_of(p, "fuse_qdq").summary;
    EXPECT_EQ(p.steps[0].step.kernel, "rtml_u8s8_fully_connected__ref");
    EXPECT_EQ(fused, qlinear);
    expect_within_one(fused, run(c.qdq(int32_bias), c.x, c.M * c.N, false));
  }
}

TEST(FuseQdq, MatMulPerTensorUint8BitIdenticalWithQLinearMatMul) {
  constexpr int64_t B = 2, M = 3, K = 8, N = 4;
  const std::vector<uint8_t> x = random_values<uint8_t>(B * M * K, 0, 255, 7);
  const std::vector<uint8_t> w = random_values<uint8_t>(K * N, 0, 255, 8);
  const auto graph = [&](bool qdq) {
    GraphBuilder gb;
    const ir::TensorId in = gb.input("x", {B, M, K});
    gb.g.tensors[in].dtype = DType::U8;
    const ir::TensorId xs = scalar(gb, "xs", 0.03f), xzp = zero_point<uint8_t>(gb, "xzp", 128);
    const ir::TensorId wq = constant_of(gb, "w", DType::U8, {K, N}, w), ws = scalar(gb, "ws", 0.004f),
                       wzp = zero_point<uint8_t>(gb, "wzp", 131);
    const ir::TensorId ys = scalar(gb, "ys", 0.02f), yzp = zero_point<uint8_t>(gb, "yzp", 127);
    if (qdq) {
      const ir::TensorId y = gb.node("MatMul", {gb.node("DequantizeLinear", {in, xs, xzp}), gb.node("DequantizeLinear", {wq, ws, wzp})});
      gb.g.outputs = {gb.node("QuantizeLinear", {y, ys, yzp})};
    } else {
      gb.g.outputs = {gb.node("QLinearMatMul", {in, xs, xzp, wq, ws, wzp, ys, yzp})};
    }
    return gb.g;
  };
  plan::Plan p;
  const std::vector<uint8_t> fused = run(graph(true), x, B * M * N, true, &p);
  ASSERT_EQ(p.steps.size(), 1u) << report_of(p, "fuse_qdq").summary;
  EXPECT_EQ(fused, run(graph(false), x, B * M * N));
  expect_within_one(fused, run(graph(true), x, B * M * N, false));
}

TEST(FuseQdq, AGroupItCannotFuseRunsInFloatAndSaysWhy) {
  // MatMul with weights quantized per row (axis 0 = K), not per output
  // column: no int8 kernel takes that; it stays DequantizeLinear -> MatMul ->
  // QuantizeLinear. Oracle: the same arithmetic in double here.
  constexpr int64_t M = 2, K = 3, N = 2;
  const std::vector<int8_t> x{10, -20, 30, 5, 0, -7};
  const std::vector<int8_t> w{1, -2, 3, 4, -5, 6};  // [K x N]
  const std::vector<float> ws{0.5f, 0.25f, 0.125f};
  const float xs = 0.1f, ys = 0.2f;
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {M, K});
  gb.g.tensors[in].dtype = DType::I8;
  const ir::TensorId xf = gb.node("DequantizeLinear", {in, scalar(gb, "xs", xs), zero_point<int8_t>(gb, "xzp", 0)});
  const ir::TensorId wf = gb.node("DequantizeLinear", {constant_of(gb, "w", DType::I8, {K, N}, w),
                                                       constant_of(gb, "ws", DType::F32, {K}, ws)},
                                  {{"axis", attr_int(0)}});
  const ir::TensorId y = gb.node("MatMul", {xf, wf});
  gb.g.outputs = {gb.node("QuantizeLinear", {y, scalar(gb, "ys", ys), zero_point<int8_t>(gb, "yzp", 1)})};
  plan::Plan p;
  const std::vector<int8_t> got = run(gb.g, x, M * N, true, &p);
  EXPECT_EQ(p.steps.size(), 3u);  // DequantizeLinear, MatMul, QuantizeLinear
  EXPECT_EQ(report_of(p, "fuse_qdq").summary,
            "fused 0 QDQ groups into int8 steps; left in float: n2 (the weights are quantized along axis 0, not the "
            "output channels)");
  std::vector<int8_t> want(M * N);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += xs * x[m * K + k] * ws[k] * w[k * N + n];
      want[m * N + n] = static_cast<int8_t>(std::max(-128.0, std::min(127.0, std::nearbyint(acc / ys) + 1)));
    }
  EXPECT_EQ(got, want);
}

TEST(FuseQdq, ADequantizedInputOthersAlsoReadStays) {
  // The float x also feeds a graph output: its DequantizeLinear step stays,
  // the Conv group still fuses.
  const ConvCase c;
  ir::Graph g = c.qdq("Relu");
  g.outputs.push_back(g.nodes[0].outputs[0]);
  plan::PlanOptions po;
  const plan::Plan p = plan::build_plan(g, po);
  ASSERT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(p.steps[0].op_type, "DequantizeLinear");
  EXPECT_EQ(p.steps[1].op_type, "DequantizeLinear+Conv+Relu+QuantizeLinear");
}

TEST(FuseQdq, OffWithFusionOff) {
  const ConvCase c;
  plan::PlanOptions po;
  po.fuse = false;
  const plan::Plan p = plan::build_plan(c.qdq("Relu"), po);
  EXPECT_EQ(p.steps.size(), 4u);  // DequantizeLinear x, Conv, Relu, QuantizeLinear (W and B folded)
  EXPECT_EQ(report_of(p, "fuse_qdq").summary, "off (PlanOptions::fuse = false)");
}

namespace {

// DequantizeLinear(a) op DequantizeLinear(b) -> [Relu] -> QuantizeLinear,
// a [2, 3, 4] a graph input, b a constant [4] (broadcast) or a second input
// of a's shape; int8 or uint8.
template <class T>
struct BinaryCase {
  static constexpr DType kType = std::is_same<T, int8_t>::value ? DType::I8 : DType::U8;
  std::vector<T> a = random_values<T>(24, std::is_same<T, int8_t>::value ? -128 : 0,
                                      std::is_same<T, int8_t>::value ? 127 : 255, 9);
  std::vector<T> b = random_values<T>(24, std::is_same<T, int8_t>::value ? -128 : 0,
                                      std::is_same<T, int8_t>::value ? 127 : 255, 10);
  ir::Graph graph(const std::string& op, bool b_constant, bool relu, float as, float bs, float ys) const {
    GraphBuilder gb;
    const int zp = kType == DType::I8 ? 0 : 128;
    const ir::TensorId ain = gb.input("a", {2, 3, 4});
    gb.g.tensors[ain].dtype = kType;
    ir::TensorId bin;
    if (b_constant) {
      bin = constant_of(gb, "b", kType, {4}, std::vector<T>(b.begin(), b.begin() + 4));
    } else {
      bin = gb.input("b", {2, 3, 4});
      gb.g.tensors[bin].dtype = kType;
    }
    const ir::TensorId af = gb.node("DequantizeLinear", {ain, scalar(gb, "as", as), zero_point<T>(gb, "azp", zp + 3)});
    const ir::TensorId bf = gb.node("DequantizeLinear", {bin, scalar(gb, "bs", bs), zero_point<T>(gb, "bzp", zp - 7)});
    ir::TensorId y = gb.node(op, {af, bf});
    if (relu) y = gb.node("Relu", {y});
    gb.g.outputs = {gb.node("QuantizeLinear", {y, scalar(gb, "ys", ys), zero_point<T>(gb, "yzp", zp - 20)})};
    return gb.g;
  }
  std::vector<T> run_graph(const ir::Graph& g, bool fuse, plan::Plan* kept = nullptr) const {
    plan::PlanOptions po;
    po.fuse = fuse;
    plan::Plan p = plan::build_plan(g, po);
    if (kept) *kept = p;
    engine::Session s(std::move(p));
    std::memcpy(s.input_data(0), a.data(), a.size());
    if (g.inputs.size() > 1) std::memcpy(s.input_data(1), b.data(), b.size());
    EXPECT_TRUE(s.run().ok());
    const T* y = static_cast<const T*>(s.output_data(0));
    return std::vector<T>(y, y + 24);
  }
};

template <class T>
void check_binary(const std::string& op, float as, float bs, float ys) {
  const BinaryCase<T> c;
  for (bool b_constant : {false, true})
    for (bool relu : {false, true}) {
      SCOPED_TRACE(op + (b_constant ? " with a constant B" : " of two inputs") + (relu ? " + Relu" : ""));
      const ir::Graph g = c.graph(op, b_constant, relu, as, bs, ys);
      plan::Plan p;
      const std::vector<T> fused = c.run_graph(g, true, &p);
      ASSERT_EQ(p.steps.size(), 1u) << report_of(p, "fuse_qdq").summary;
      // The simd set's int8 Add of two tensors of one shape runs on vectors; the rest on the reference.
      const bool vector = c.kType == DType::I8 && op == "Add" && !b_constant;
      EXPECT_EQ(p.steps[0].step.kernel, std::string("rtml_") + (c.kType == DType::I8 ? "s8_" : "u8_") +
                                            (op == "Add" ? "qadd" : "qmul") + (vector ? "__hwy" : "__ref"));
      expect_within_one(fused, c.run_graph(g, false));
    }
}

}  // namespace

// The integer Add and Mul kernels are CMSIS-NN's bit for bit
// (tests/cmsis_nn/); here the fused step against the float path.
TEST(FuseQdq, AddAndMulRunAsInt8StepsWithinOneOfTheFloatPath) {
  check_binary<int8_t>("Add", 0.05f, 0.02f, 0.06f);
  check_binary<int8_t>("Mul", 0.05f, 0.02f, 0.004f);
  check_binary<uint8_t>("Add", 0.01f, 0.03f, 0.035f);
  check_binary<uint8_t>("Mul", 0.1f, 0.01f, 0.05f);
}

TEST(FuseQdq, AveragePoolRoundsAsTFLite) {
  // TFLite averages the stored values (input and output share the zero
  // point) and rounds ties away from zero. Windows of 2 (kernel 1x2, stride 2):
  // (6 + 7) / 2 = 6.5 -> 7; (-4 - 3) / 2 = -3.5 -> -4; (7 + 8) / 2 = 7.5 -> 8;
  // (3 + 2) / 2 = 2.5 -> 3. The float path averages x - 5 and rounds half to
  // even: 1.5 -> 2 (7); -8.5 -> -8 (-3); 2.5 -> 2 (7); -2.5 -> -2 (3).
  const std::map<std::string, ir::Attribute> pool{{"kernel_shape", attr_ints({1, 2})}, {"strides", attr_ints({1, 2})}};
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {1, 1, 1, 8});
  gb.g.tensors[in].dtype = DType::I8;
  const ir::TensorId xf = gb.node("DequantizeLinear", {in, scalar(gb, "xs", 0.5f), zero_point<int8_t>(gb, "xzp", 5)});
  const ir::TensorId y = gb.node("AveragePool", {xf}, pool);
  gb.g.outputs = {gb.node("QuantizeLinear", {y, scalar(gb, "ys", 0.5f), zero_point<int8_t>(gb, "yzp", 5)})};
  const std::vector<int8_t> x{6, 7, -4, -3, 7, 8, 3, 2};
  EXPECT_EQ(run(gb.g, x, 4), (std::vector<int8_t>{7, -4, 8, 3}));
  EXPECT_EQ(run(gb.g, x, 4, false), (std::vector<int8_t>{7, -3, 7, 3}));
}

TEST(FuseQdq, AddByHand) {
  // By hand, TFLite's scheme: twice_max = 2 * max(0.5, 0.25) = 1; a's
  // multiplier 0.5 (2^30, shift 0), b's 0.25 (2^30, shift -1), the output's
  // 1 / (2^20 * 0.1) = 0.625 * 2^-16 (1342177280, shift -16).
  // a = 10, b = -20: 10 * 2^20 * 0.5 = 5242880, -20 * 2^20 * 0.25 = -5242880;
  // sum 0, plus the zero point 3: 3 (5.0 - 5.0 = 0).
  // a = 7, b = 2: 3670016 + 524288 = 4194304; * 0.625 = 2621440; / 2^16 =
  // 40, plus 3: 43 (3.5 + 0.5 = 4.0 = 40 * 0.1).
  GraphBuilder gb;
  const ir::TensorId a = gb.input("a", {2});
  gb.g.tensors[a].dtype = DType::I8;
  const ir::TensorId b = constant_of(gb, "b", DType::I8, {2}, std::vector<int8_t>{-20, 2});
  const ir::TensorId y = gb.node("Add", {gb.node("DequantizeLinear", {a, scalar(gb, "as", 0.5f)}),
                                         gb.node("DequantizeLinear", {b, scalar(gb, "bs", 0.25f)})});
  gb.g.outputs = {gb.node("QuantizeLinear", {y, scalar(gb, "ys", 0.1f), zero_point<int8_t>(gb, "yzp", 3)})};
  plan::Plan p;
  EXPECT_EQ(run(gb.g, std::vector<int8_t>{10, 7}, 2, true, &p), (std::vector<int8_t>{3, 43}));
  EXPECT_EQ(p.steps.size(), 1u);
}

namespace {

// DequantizeLinear(x int8 [1, 2, 4, 4]) -> op -> QuantizeLinear, the output
// scale and zero point `ys`, `yzp` (the input's: 0.1, 5).
ir::Graph pass_through_graph(const std::string& op, std::map<std::string, ir::Attribute> attrs, float ys, int yzp) {
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {1, 2, 4, 4});
  gb.g.tensors[in].dtype = DType::I8;
  const ir::TensorId xf = gb.node("DequantizeLinear", {in, scalar(gb, "xs", 0.1f), zero_point<int8_t>(gb, "xzp", 5)});
  const ir::TensorId y = gb.node(op, {xf}, std::move(attrs));
  gb.g.outputs = {gb.node("QuantizeLinear", {y, scalar(gb, "ys", ys), zero_point<int8_t>(gb, "yzp", yzp)})};
  return gb.g;
}

}  // namespace

TEST(FuseQdq, PoolingAndDataMovementRunOnTheInt8DataWhenScalesMatch) {
  const std::vector<int8_t> x = random_values<int8_t>(32, -128, 127, 11);
  const std::map<std::string, ir::Attribute> pool{{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}};
  const std::map<std::string, ir::Attribute> perm{{"perm", attr_ints({0, 2, 3, 1})}};
  for (const auto& [op, attrs, count] : {std::make_tuple("MaxPool", pool, 8), std::make_tuple("AveragePool", pool, 8),
                                         std::make_tuple("Transpose", perm, 32),
                                         std::make_tuple("Flatten", std::map<std::string, ir::Attribute>{}, 32)}) {
    SCOPED_TRACE(op);
    plan::Plan p;
    const ir::Graph g = pass_through_graph(op, attrs, 0.1f, 5);
    const std::vector<int8_t> fused = run(g, x, count, true, &p);
    // One step (Flatten: none, its output shares its input's bytes).
    EXPECT_EQ(report_of(p, "fuse_qdq").summary,
              std::string("fused 0 QDQ groups into int8 steps; 1 op on int8 data: n1 (") + op + ")");
    EXPECT_LE(p.steps.size(), 1u);
    // Exact: the float path rounds (x - 5) * 0.1 / 0.1 back to x - 5. The
    // average rounds ties away from zero (TFLite), the float path to even.
    if (std::string(op) == "AveragePool") {
      expect_within_one(fused, run(g, x, count, false));
      EXPECT_EQ(p.steps[0].step.kernel, "rtml_s8_avgpool__ref");
    } else {
      EXPECT_EQ(fused, run(g, x, count, false));
    }
  }
  // Another output scale: requantizing is not a pass-through, it stays float.
  plan::Plan p;
  run(pass_through_graph("MaxPool", pool, 0.2f, 5), x, 8, true, &p);
  EXPECT_EQ(p.steps.size(), 3u);
}

TEST(FuseQdq, SigmoidAndTanhAreTableLookups) {
  // Every int8 value through DequantizeLinear (scale 0.05, zero point 10) ->
  // Sigmoid / Tanh -> QuantizeLinear (scale 1/256, zero point -128 / scale
  // 1/128, zero point 0): one lookup step, within one unit of the float path.
  std::vector<int8_t> x(256);
  for (int i = 0; i < 256; ++i) x[i] = static_cast<int8_t>(i - 128);
  for (const char* op : {"Sigmoid", "Tanh"}) {
    SCOPED_TRACE(op);
    const bool sigmoid = std::string(op) == "Sigmoid";
    GraphBuilder gb;
    const ir::TensorId in = gb.input("x", {2, 128});
    gb.g.tensors[in].dtype = DType::I8;
    const ir::TensorId xf = gb.node("DequantizeLinear", {in, scalar(gb, "xs", 0.05f), zero_point<int8_t>(gb, "xzp", 10)});
    gb.g.outputs = {gb.node("QuantizeLinear", {gb.node(op, {xf}), scalar(gb, "ys", sigmoid ? 1.0f / 256 : 1.0f / 128),
                                               zero_point<int8_t>(gb, "yzp", sigmoid ? -128 : 0)})};
    plan::Plan p;
    const std::vector<int8_t> fused = run(gb.g, x, 256, true, &p);
    ASSERT_EQ(p.steps.size(), 1u) << report_of(p, "fuse_qdq").summary;
    EXPECT_EQ(p.steps[0].step.kernel, "rtml_s8_lookup__ref");
    expect_within_one(fused, run(gb.g, x, 256, false));
    // By hand: x = 10 is 0.0: sigmoid 0.5 -> 128 - 128 = 0, tanh 0 -> 0;
    // x = 127 is 5.85: sigmoid 0.99713 -> 255.3 -> 255 - 128 = 127, tanh
    // 0.99998 -> 127.997 -> 128, saturated to 127.
    EXPECT_EQ(fused[10 + 128], 0);
    EXPECT_EQ(fused[255], 127);
  }
}

TEST(FuseQdq, AChainOfPassThroughOpsRunsOnInt8) {
  // DequantizeLinear -> MaxPool -> Flatten -> QuantizeLinear (what `rtml
  // quantize` writes): both on the int8 data, equal to the float path.
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {1, 2, 4, 4});
  gb.g.tensors[in].dtype = DType::I8;
  const ir::TensorId xf = gb.node("DequantizeLinear", {in, scalar(gb, "xs", 0.1f), zero_point<int8_t>(gb, "xzp", 5)});
  const ir::TensorId pooled =
      gb.node("MaxPool", {xf}, {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}});
  const ir::TensorId flat = gb.node("Flatten", {pooled});
  gb.g.outputs = {gb.node("QuantizeLinear", {flat, scalar(gb, "ys", 0.1f), zero_point<int8_t>(gb, "yzp", 5)})};
  const std::vector<int8_t> x = random_values<int8_t>(32, -128, 127, 12);
  plan::Plan p;
  const std::vector<int8_t> fused = run(gb.g, x, 8, true, &p);
  EXPECT_EQ(report_of(p, "fuse_qdq").summary,
            "fused 0 QDQ groups into int8 steps; 2 ops on int8 data: n1 (MaxPool), n2 (Flatten)");
  ASSERT_EQ(p.steps.size(), 2u);  // the Flatten copies into the graph output
  EXPECT_EQ(p.steps[0].step.kernel, "rtml_s8_maxpool__hwy");  // the simd set's vector MaxPool
  EXPECT_EQ(p.steps[0].node_name, "n0 + n1");
  EXPECT_EQ(p.steps[1].node_name, "n2 + n3");
  EXPECT_EQ(fused, run(gb.g, x, 8, false));
}

TEST(FuseQdq, ReduceMeanAndGlobalAveragePoolAreInt8Means) {
  // DequantizeLinear(scale 0.1, zero point 5) -> the mean -> QuantizeLinear
  // (scale 0.07, zero point -3): one int8 step, within one unit of the float path.
  const std::vector<int8_t> x = random_values<int8_t>(32, -128, 127, 13);
  // Means over the last axes run on the simd set's vector kernel, others
  // (runs strided: inner > 1) on the reference.
  struct Case {
    const char* op;
    std::map<std::string, ir::Attribute> attrs;
    size_t count;
    const char* kernel;
  };
  for (const Case& c :
       {Case{"ReduceMean", {{"axes", attr_ints({-1})}, {"keepdims", attr_int(0)}}, 8, "rtml_s8_mean__hwy"},
        Case{"ReduceMean", {{"axes", attr_ints({2, 3})}}, 2, "rtml_s8_mean__hwy"},
        Case{"ReduceMean", {{"axes", attr_ints({1})}}, 16, "rtml_s8_mean__ref"},
        Case{"GlobalAveragePool", {}, 2, "rtml_s8_mean__hwy"}}) {
    SCOPED_TRACE(c.op);
    plan::Plan p;
    const ir::Graph g = pass_through_graph(c.op, c.attrs, 0.07f, -3);
    const std::vector<int8_t> fused = run(g, x, c.count, true, &p);
    ASSERT_EQ(p.steps.size(), 1u) << report_of(p, "fuse_qdq").summary;
    EXPECT_EQ(p.steps[0].step.kernel, c.kernel);
    expect_within_one(fused, run(g, x, c.count, false));
  }
}

TEST(FuseQdq, ReduceMeanByHand) {
  // x [3, 4] (scale 0.5, zero point 1) averaged over the last axis into
  // scale 0.25, zero point -2: the multiplier 0.5 / (0.25 * 4) = 0.5. Sums
  // of x - 1: {0, 1, 2, 3} = 6 -> 3, -2: 1; {1, 1, 1, 2} = 5 -> 2.5, away
  // from zero 3, -2: 1 (the float path: 0.625 / 0.25 = 2.5, to even 2, -2:
  // 0); {-1, -1, -2, -2} = -6 -> -3, -2: -5.
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {3, 4});
  gb.g.tensors[in].dtype = DType::I8;
  const ir::TensorId xf = gb.node("DequantizeLinear", {in, scalar(gb, "xs", 0.5f), zero_point<int8_t>(gb, "xzp", 1)});
  const ir::TensorId y = gb.node("ReduceMean", {xf}, {{"axes", attr_ints({1})}});
  gb.g.outputs = {gb.node("QuantizeLinear", {y, scalar(gb, "ys", 0.25f), zero_point<int8_t>(gb, "yzp", -2)})};
  const std::vector<int8_t> x{1, 2, 3, 4, 2, 2, 2, 3, 0, 0, -1, -1};
  EXPECT_EQ(run(gb.g, x, 3), (std::vector<int8_t>{1, 1, -5}));
  EXPECT_EQ(run(gb.g, x, 3, false), (std::vector<int8_t>{1, 0, -5}));
}

TEST(FuseQdq, GlobalAveragePoolUint8ByHand) {
  // uint8 x [1, 2, 2, 2] (scale 1, zero point 128) into scale 1, zero point
  // 100: the real multiplier 1 / 4 = 2^30 * 2^(-1 - 31) (multiplier 2^30,
  // shift -1). Channel 0: {130, 130, 130, 131} - 128 sums to 9; the doubling
  // high multiply gives 9 * 2^30 / 2^31 = 4.5, rounded away from zero to 5,
  // then / 2^1 = 2.5, again away from zero: 3, + 100: 103 (TFLite's two
  // roundings; the float path rounds 2.25 to 2: 102). Channel 1: {120, 121,
  // 122, 125} sums to -24 -> -12 -> -6, + 100: 94.
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", {1, 2, 2, 2});
  gb.g.tensors[in].dtype = DType::U8;
  const ir::TensorId xf = gb.node("DequantizeLinear", {in, scalar(gb, "xs", 1.0f), zero_point<uint8_t>(gb, "xzp", 128)});
  gb.g.outputs = {gb.node("QuantizeLinear", {gb.node("GlobalAveragePool", {xf}), scalar(gb, "ys", 1.0f),
                                             zero_point<uint8_t>(gb, "yzp", 100)})};
  plan::Plan p;
  EXPECT_EQ(run(gb.g, std::vector<uint8_t>{130, 130, 130, 131, 120, 121, 122, 125}, 2, true, &p),
            (std::vector<uint8_t>{103, 94}));
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].step.kernel, "rtml_u8_mean__ref");
  EXPECT_EQ(run(gb.g, std::vector<uint8_t>{130, 130, 130, 131, 120, 121, 122, 125}, 2, false),
            (std::vector<uint8_t>{102, 94}));
}

namespace {

// DequantizeLinear (x_scale, zero point 7) -> Softmax (attrs) ->
// QuantizeLinear (y_scale, y_zero_point), x of `shape` int8.
ir::Graph softmax_graph(Shape shape, float xs, float ys, int yzp, std::map<std::string, ir::Attribute> attrs = {}) {
  GraphBuilder gb;
  const ir::TensorId in = gb.input("x", std::move(shape));
  gb.g.tensors[in].dtype = DType::I8;
  const ir::TensorId xf = gb.node("DequantizeLinear", {in, scalar(gb, "xs", xs), zero_point<int8_t>(gb, "xzp", 7)});
  gb.g.outputs = {gb.node("QuantizeLinear", {gb.node("Softmax", {xf}, std::move(attrs)), scalar(gb, "ys", ys),
                                             zero_point<int8_t>(gb, "yzp", yzp)})};
  return gb.g;
}

}  // namespace

TEST(FuseQdq, SoftmaxIsTFLitesIntegerSoftmax) {
  // Into scale 1/256, zero point -128 (what TFLite requires): one int8 step.
  // By hand at x_scale 1/16: a row of 4 equal values gives 1/4 -> 64 - 128
  // = -64; {0, -1} (x - max) gives 0.7311 -> 187 - 128 = 59 and 0.2689 ->
  // 69 - 128 = -59, whatever the zero point.
  plan::Plan p;
  const ir::Graph g = softmax_graph({2, 4}, 1.0f / 16, 1.0f / 256, -128);
  const std::vector<int8_t> x{5, 5, 5, 5, 30, 14, -128, -128};
  const std::vector<int8_t> y = run(g, x, 8, true, &p);
  ASSERT_EQ(p.steps.size(), 1u) << report_of(p, "fuse_qdq").summary;
  EXPECT_EQ(p.steps[0].step.kernel, "rtml_s8_softmax__ref");
  EXPECT_EQ(std::vector<int8_t>(y.begin(), y.begin() + 4), std::vector<int8_t>(4, -64));
  EXPECT_EQ(y[4], 59);
  EXPECT_EQ(y[5], -59);
  // Random rows at another scale: within one unit of the float path.
  const ir::Graph g2 = softmax_graph({3, 10}, 0.2f, 1.0f / 256, -128, {{"axis", attr_int(-1)}});
  const std::vector<int8_t> x2 = random_values<int8_t>(30, -128, 127, 21);
  expect_within_one(run(g2, x2, 30), run(g2, x2, 30, false));
}

TEST(FuseQdq, SoftmaxBeforeOpset13NormalizesTheFlattenedRows) {
  // Opset 11, axis 1 of [2, 2, 3]: rows of 6 values. One row of six equal
  // values: round(256 / 6) = 43 -> -85; the other within one of the float path.
  ir::Graph g = softmax_graph({2, 2, 3}, 0.1f, 1.0f / 256, -128, {{"axis", attr_int(1)}});
  g.opset = 11;
  std::vector<int8_t> x = random_values<int8_t>(12, -128, 127, 23);
  std::fill(x.begin(), x.begin() + 6, int8_t{-20});
  plan::Plan p;
  const std::vector<int8_t> y = run(g, x, 12, true, &p);
  ASSERT_EQ(p.steps.size(), 1u) << report_of(p, "fuse_qdq").summary;
  EXPECT_EQ(std::vector<int8_t>(y.begin(), y.begin() + 6), std::vector<int8_t>(6, -85));
  expect_within_one(y, run(g, x, 12, false));
}

TEST(FuseQdq, SoftmaxStaysFloatWithOtherOutputParamsOrAxis) {
  const std::vector<int8_t> x = random_values<int8_t>(8, -128, 127, 22);
  for (const ir::Graph& g : {softmax_graph({2, 4}, 0.1f, 1.0f / 128, -128), softmax_graph({2, 4}, 0.1f, 1.0f / 256, 0),
                             softmax_graph({2, 4}, 0.1f, 1.0f / 256, -128, {{"axis", attr_int(0)}})}) {
    plan::Plan p;
    const std::vector<int8_t> y = run(g, x, 8, true, &p);
    ASSERT_EQ(p.steps.size(), 3u) << report_of(p, "fuse_qdq").summary;
    EXPECT_EQ(p.steps[1].op_type, "Softmax");
    const std::string summary = report_of(p, "fuse_qdq").summary;
    EXPECT_NE(summary.find("left in float: n1 ("), std::string::npos) << summary;
    EXPECT_TRUE(summary.find("scale 1/256") != std::string::npos || summary.find("not the last axis") != std::string::npos)
        << summary;
    EXPECT_EQ(y, run(g, x, 8, false));
  }
}

namespace {

// One input of a QDQ Concat.
struct ConcatInput {
  Shape shape;
  float scale;
  int zero_point;
};

// DequantizeLinear on each input -> Concat(axis) -> QuantizeLinear(ys, yzp),
// all of type T; inputs x0, x1, ...
template <class T>
ir::Graph concat_graph(const std::vector<ConcatInput>& ins, int64_t axis, float ys, int yzp) {
  GraphBuilder gb;
  std::vector<ir::TensorId> dequantized;
  for (size_t k = 0; k < ins.size(); ++k) {
    const std::string n = std::to_string(k);
    const ir::TensorId x = gb.input("x" + n, ins[k].shape);
    gb.g.tensors[x].dtype = std::is_same<T, int8_t>::value ? DType::I8 : DType::U8;
    dequantized.push_back(gb.node(
        "DequantizeLinear", {x, scalar(gb, "xs" + n, ins[k].scale), zero_point<T>(gb, "xzp" + n, ins[k].zero_point)}));
  }
  const ir::TensorId c = gb.node("Concat", dequantized, {{"axis", attr_int(axis)}});
  gb.g.outputs = {gb.node("QuantizeLinear", {c, scalar(gb, "ys", ys), zero_point<T>(gb, "yzp", yzp)})};
  return gb.g;
}

// ONNX's QuantizeLinear(DequantizeLinear(q)) in float32 as its spec (and
// numpy) computes it: (q - zx) * xs, divided by ys, rounded half to even,
// plus zy, saturated.
template <class T>
T onnx_requantize(T q, float xs, int zx, float ys, int zy) {
  const float real = static_cast<float>(static_cast<int>(q) - zx) * xs;
  const float v = std::nearbyint(real / ys) + static_cast<float>(zy);
  const float lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
  return static_cast<T>(std::max(lo, std::min(hi, v)));
}

// The expected Concat of the requantized inputs along axis.
template <class T>
std::vector<T> expected_concat(const std::vector<ConcatInput>& ins, const std::vector<std::vector<T>>& xs, int axis,
                               float ys, int yzp) {
  int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= ins[0].shape[d];
  std::vector<T> y;
  for (int64_t o = 0; o < outer; ++o)
    for (size_t k = 0; k < ins.size(); ++k) {
      const int64_t block = static_cast<int64_t>(xs[k].size()) / outer;
      for (int64_t i = 0; i < block; ++i)
        y.push_back(onnx_requantize<T>(xs[k][o * block + i], ins[k].scale, ins[k].zero_point, ys, yzp));
    }
  return y;
}

template <class T>
void check_concat(int axis, unsigned seed) {
  SCOPED_TRACE("axis " + std::to_string(axis) + (std::is_same<T, int8_t>::value ? " int8" : " uint8"));
  std::mt19937 rng(seed);
  const int lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
  std::uniform_int_distribution<int> zp(lo, hi);
  std::uniform_real_distribution<float> log2_scale(-8, 2);
  const float ys = std::exp2(log2_scale(rng));
  const int yzp = zp(rng);
  // Odd sizes; the axis dim differs per input; input 1 is quantized as the output (copied).
  std::vector<ConcatInput> ins;
  const int64_t axis_dims[] = {3, 1, 5};
  for (int k = 0; k < 3; ++k) {
    Shape shape{3, 5, 7};
    shape[axis] = axis_dims[k];
    ins.push_back({shape, k == 1 ? ys : std::exp2(log2_scale(rng)), k == 1 ? yzp : zp(rng)});
  }
  std::vector<std::vector<T>> xs;
  for (int k = 0; k < 3; ++k) xs.push_back(random_values<T>(shape_numel(ins[k].shape), lo, hi, seed + k + 1));
  const ir::Graph g = concat_graph<T>(ins, axis == 2 ? -1 : axis, ys, yzp);
  plan::Plan p;
  const std::vector<T> fused = run_inputs(g, xs, true, &p);
  ASSERT_EQ(p.steps.size(), 1u) << report_of(p, "fuse_qdq").summary;
  EXPECT_EQ(p.steps[0].step.kernel, "rtml_x8_qconcat__ref");
  EXPECT_EQ(p.steps[0].op_type, "DequantizeLinear+Concat+QuantizeLinear");
  EXPECT_EQ(report_of(p, "fuse_qdq").summary, "fused 1 QDQ group into int8 steps: n3 (Concat)");
  EXPECT_EQ(fused, expected_concat(ins, xs, axis, ys, yzp));
  EXPECT_EQ(fused, run_inputs(g, xs, false));
}

}  // namespace

TEST(FuseQdq, ConcatByHand) {
  // x0 (scale 0.5, zero point 1) = [4, -1, 2] is 1.5, -1, 0.5; at the
  // output's scale 1, zero point 3: round half to even 2, -1, 0 -> 5, 2, 3
  // (TFLite's fixed-point rounding, ties away from zero, would give 0.5 -> 1:
  // 4). x1 is quantized as the output: copied, -128 included.
  const std::vector<ConcatInput> ins{{{1, 3}, 0.5f, 1}, {{1, 2}, 1.0f, 3}};
  const ir::Graph g = concat_graph<int8_t>(ins, 1, 1.0f, 3);
  plan::Plan p;
  const std::vector<int8_t> y = run_inputs<int8_t>(g, {{4, -1, 2}, {7, -128}}, true, &p);
  EXPECT_EQ(y, (std::vector<int8_t>{5, 2, 3, 7, -128}));
  ASSERT_EQ(p.steps.size(), 1u);
  EXPECT_EQ(p.steps[0].node_name, "n0 + n1 + n2 + n3");
}

TEST(FuseQdq, ConcatRequantizesAsOnnxOnAnyAxis) {
  // Random scales and zero points, odd sizes, axes 0, 1 and the last (as -1),
  // one input with the output's quantization: identical with ONNX's float
  // definition computed here and with the unfused float path.
  for (int axis : {0, 1, 2}) {
    check_concat<int8_t>(axis, 100 + axis);
    check_concat<uint8_t>(axis, 200 + axis);
  }
}

TEST(FuseQdq, ConcatIsExactOverEveryInt8Value) {
  // All 256 values of an input through DequantizeLinear -> Concat ->
  // QuantizeLinear for 300 random scale pairs and for ratios whose results
  // tie (0.5, 1.5, 2.5 x an integer): the fused step equals ONNX's float
  // definition for every value. TFLite's fixed-point requantization
  // (rtml_requantize, rounding ties away from zero) would differ by one at
  // the ties, as docs/quantization.md measures.
  std::vector<int8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = static_cast<int8_t>(i - 128);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> log2_scale(-10, 3);
  std::uniform_int_distribution<int> zp(-128, 127);
  std::vector<std::pair<float, float>> scales{{0.5f, 1.0f}, {0.75f, 0.5f}, {1.0f, 4.0f}, {0.1f, 0.2f}};
  for (int i = 0; i < 300; ++i) scales.emplace_back(std::exp2(log2_scale(rng)), std::exp2(log2_scale(rng)));
  int fixed_point_differs = 0;
  for (const auto& [xs, ys] : scales) {
    const int zx = zp(rng), zy = zp(rng);
    const std::vector<ConcatInput> ins{{{2, 128}, xs, zx}, {{2, 3}, ys, zy}};
    const std::vector<int8_t> copied{1, -2, 3, 127, -128, 0};
    const std::vector<int8_t> y = run_inputs<int8_t>(concat_graph<int8_t>(ins, 1, ys, zy), {all, copied}, true);
    ASSERT_EQ(y, expected_concat<int8_t>(ins, {all, copied}, 1, ys, zy)) << "x_scale " << xs << ", y_scale " << ys;
    int32_t multiplier = 0, shift = 0;
    rtml_quantize_multiplier(static_cast<double>(xs) / ys, &multiplier, &shift);
    for (int q = -128; q < 128; ++q)
      fixed_point_differs +=
          rtml_requantize_output(q - zx, multiplier, shift, zy, -128, 127) != onnx_requantize<int8_t>(q, xs, zx, ys, zy);
  }
  EXPECT_GT(fixed_point_differs, 0);
}

TEST(FuseQdq, ConcatLeftInFloatSaysWhy) {
  // One input not dequantized: the Concat stays float, named with the reason.
  GraphBuilder gb;
  const ir::TensorId x = gb.input("x", {1, 2});
  gb.g.tensors[x].dtype = DType::I8;
  const ir::TensorId f = gb.input("f", {1, 2});
  const ir::TensorId xf = gb.node("DequantizeLinear", {x, scalar(gb, "xs", 0.5f), zero_point<int8_t>(gb, "xzp", 0)});
  const ir::TensorId c = gb.node("Concat", {xf, f}, {{"axis", attr_int(1)}});
  gb.g.outputs = {gb.node("QuantizeLinear", {c, scalar(gb, "ys", 1.0f), zero_point<int8_t>(gb, "yzp", 0)})};
  const plan::Plan p = plan::build_plan(gb.g, plan::PlanOptions{});
  EXPECT_EQ(report_of(p, "fuse_qdq").summary,
            "fused 0 QDQ groups into int8 steps; left in float: n1 (not every input is dequantized)");
  EXPECT_EQ(p.steps.size(), 3u);
}

// Weight-only recurrent layers: DequantizeLinear of int8 (per row, with zero
// points) and uint8 (per tensor, zero point 128) constants feeding an LSTM's
// or GRU's W and R. The plan keeps the weights int8 (one byte each, plus a
// float scale per row) in a rtml_f32_<cell>_w8__* step, on the simd and the
// reference kernel sets; the oracle is the float cell on the dequantized
// weights (fusion off: DequantizeLinear folded to float), within 5e-5 (two
// float32 summation orders; kernels/recurrent.h).
struct RecurrentW8Case {
  static constexpr int64_t S = 3, I = 5, H = 7;
  std::string cell;
  int G() const { return cell == "LSTM" ? 4 : 3; }
  ir::Graph graph(int w_zero = 3) const {
    GraphBuilder gb;
    const ir::TensorId x = gb.input("x", {S, 1, I});
    const int64_t GH = G() * H;
    std::vector<float> ws(static_cast<size_t>(GH));
    for (size_t r = 0; r < ws.size(); ++r) ws[r] = 0.004f + 0.0005f * static_cast<float>(r % 7);
    std::vector<int8_t> wz(static_cast<size_t>(GH));
    for (size_t r = 0; r < wz.size(); ++r) wz[r] = static_cast<int8_t>(static_cast<int>(r % 3) * w_zero - w_zero);
    const ir::TensorId w = gb.node(
        "DequantizeLinear", {constant_of(gb, "w", DType::I8, {1, GH, I}, random_values<int8_t>(GH * I, -120, 120, 5)),
                             constant_of(gb, "ws", DType::F32, {GH}, ws), constant_of(gb, "wz", DType::I8, {GH}, wz)},
        {{"axis", attr_int(1)}});
    const ir::TensorId r = gb.node(
        "DequantizeLinear", {constant_of(gb, "r", DType::U8, {1, GH, H}, random_values<uint8_t>(GH * H, 0, 255, 6)),
                             scalar(gb, "rs", 0.006f), zero_point<uint8_t>(gb, "rz", 128)});
    std::vector<float> b(static_cast<size_t>(2 * GH));
    for (size_t k = 0; k < b.size(); ++k) b[k] = 0.05f * static_cast<float>(static_cast<int>(k % 9) - 4);
    std::map<std::string, ir::Attribute> attrs{{"hidden_size", attr_int(H)}};
    if (cell == "GRU") attrs["linear_before_reset"] = attr_int(1);
    gb.g.outputs = {gb.node(cell, {x, w, r, gb.constant("b", {1, 2 * GH}, b)}, attrs)};
    return gb.g;
  }
};

std::vector<float> run_recurrent(const ir::Graph& g, bool fuse, kernels::KernelSet set, plan::Plan* kept) {
  plan::PlanOptions po;
  po.fuse = fuse;
  po.kernels = set;
  plan::Plan p = plan::build_plan(g, po);
  *kept = p;
  engine::Session s(std::move(p));
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  float* x = static_cast<float*>(s.input_data(0));
  for (int64_t k = 0; k < RecurrentW8Case::S * RecurrentW8Case::I; ++k) x[k] = u(rng);
  EXPECT_TRUE(s.run().ok());
  const float* y = static_cast<const float*>(s.output_data(0));
  return std::vector<float>(y, y + s.output(0).bytes / sizeof(float));
}

TEST(FuseQdq, RecurrentWeightsStayInt8AndMatchTheFloatCell) {
  for (const char* cell : {"LSTM", "GRU"})
    for (kernels::KernelSet set : {kernels::KernelSet::Simd, kernels::KernelSet::Reference}) {
      SCOPED_TRACE(std::string(cell) + " " + kernels::kernel_set_name(set));
      const RecurrentW8Case c{cell};
      plan::Plan fused, unfused;
      const std::vector<float> got = run_recurrent(c.graph(), true, set, &fused);
      const std::vector<float> want = run_recurrent(c.graph(), false, set, &unfused);
      ASSERT_EQ(got.size(), static_cast<size_t>(c.S * c.H));
      float err = 0;
      for (size_t k = 0; k < got.size(); ++k) err = std::max(err, std::fabs(got[k] - want[k]));
      EXPECT_LT(err, 5e-5f);
      EXPECT_GT(err, 0.0f);  // not the float cell itself
      ASSERT_EQ(fused.steps.size(), 1u);
      const std::string symbol = fused.steps[0].step.info->symbol;
      EXPECT_EQ(symbol, std::string("rtml_f32_") + (c.cell == "LSTM" ? "lstm" : "gru") +
                            (set == kernels::KernelSet::Simd ? "_w8__hwy" : "_w8__ref"));
      EXPECT_EQ(fused.steps[0].op_type, "DequantizeLinear+" + c.cell);
      // int8 W and R, a float scale per row of each, the float bias.
      const int64_t GH = c.G() * c.H;
      EXPECT_EQ(fused.constant_bytes, static_cast<size_t>(GH * (c.I + c.H) + 2 * GH * 4 + 2 * GH * 4));
      EXPECT_NE(report_of(fused, "fuse_qdq").summary.find(c.cell + " weight-only"), std::string::npos);
    }
}

TEST(FuseQdq, RecurrentWeightsOutsideInt8StayFloatAndSayWhy) {
  const RecurrentW8Case c{"LSTM"};
  plan::Plan p;
  // zero points of -100 and 100: q - zero point leaves int8
  const std::vector<float> got = run_recurrent(c.graph(100), true, kernels::KernelSet::Simd, &p);
  EXPECT_EQ(std::string(p.steps[0].step.info->symbol).find("_w8_"), std::string::npos);
  EXPECT_NE(report_of(p, "fuse_qdq").summary.find("does not fit int8"), std::string::npos)
      << report_of(p, "fuse_qdq").summary;
}
