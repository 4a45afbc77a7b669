// RNN / GRU / LSTM kernel edge cases the ONNX data does not cover: reverse
// and bidirectional directions, per-row sequence lengths, batch-first layout,
// GRU linear_before_reset, LSTM input_forget/peepholes/clip, and streaming
// (seq_length 1 with the state carried through Y_h/Y_c -> initial_h/initial_c).
// Expected values are worked out by hand (see the comments) or written as the
// cell equations on scalars.
#include "kernels/recurrent.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/session.h"
#include "plan/plan.h"

using namespace rtml;
using namespace rtml::kernels;

namespace {

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

RecurrentParams relu_rnn(int64_t seq, int64_t batch, int dirs) {
  RecurrentParams p{};
  p.cell = RnnCell::Rnn;
  p.seq_length = seq;
  p.batch = batch;
  p.input_size = 1;
  p.hidden = 1;
  p.num_directions = dirs;
  for (auto& d : p.act) d[0].kind = RnnActivation::Relu;
  return p;
}

std::vector<float> scratch_for(const RecurrentParams& p) {
  return std::vector<float>(recurrent_scratch_bytes(p) / sizeof(float) + 1);
}

// Scalar RNN, h = relu(2x + 1*h + 1):  x = 1, -2, 2
//   forward: 3, relu(-4+3+1)=0, relu(4+0+1)=5
//   reverse (t=2,1,0): 5, relu(-4+5+1)=2, relu(2+2+1)=5
const float kW[] = {2, 2}, kR[] = {1, 1}, kB[] = {1, 0, 1, 0};

TEST(Recurrent, RnnForwardAndReverse) {
  const float x[] = {1, -2, 2};
  for (bool reverse : {false, true}) {
    RecurrentParams p = relu_rnn(3, 1, 1);
    p.reverse = reverse;
    auto s = scratch_for(p);
    float y[3], yh[1];
    ASSERT_EQ(recurrent_f32(p, x, kW, kR, kB, nullptr, nullptr, nullptr, nullptr, y, yh, nullptr, s.data()), 0);
    const std::vector<float> want = reverse ? std::vector<float>{5, 2, 5} : std::vector<float>{3, 0, 5};
    EXPECT_EQ(std::vector<float>(y, y + 3), want) << "reverse=" << reverse;
    EXPECT_EQ(yh[0], 5);
  }
}

TEST(Recurrent, RnnBidirectionalLayouts) {
  const float x[] = {1, -2, 2};
  RecurrentParams p = relu_rnn(3, 1, 2);
  auto s = scratch_for(p);
  float y[6], yh[2];
  ASSERT_EQ(recurrent_f32(p, x, kW, kR, kB, nullptr, nullptr, nullptr, nullptr, y, yh, nullptr, s.data()), 0);
  // Y [seq, dirs, batch, hidden]
  EXPECT_EQ(std::vector<float>(y, y + 6), (std::vector<float>{3, 5, 0, 2, 5, 5}));
  EXPECT_EQ(yh[0], 5);
  EXPECT_EQ(yh[1], 5);

  // Batch-first with two rows: row 0 is x above, row 1 is x * 0 -> relu(0 + h + 1) = 1, 2, 3 forward;
  // reverse: 1, 2, 3 at t = 2, 1, 0.
  RecurrentParams q = relu_rnn(3, 2, 2);
  q.layout = 1;
  const float xb[] = {1, -2, 2, 0, 0, 0};  // [batch, seq, 1]
  float yb[12], yhb[4];
  auto s2 = scratch_for(q);
  ASSERT_EQ(recurrent_f32(q, xb, kW, kR, kB, nullptr, nullptr, nullptr, nullptr, yb, yhb, nullptr, s2.data()), 0);
  // Y [batch, seq, dirs, hidden]
  EXPECT_EQ(std::vector<float>(yb, yb + 12), (std::vector<float>{3, 5, 0, 2, 5, 5, 1, 3, 2, 2, 3, 1}));
  // Y_h [batch, dirs, hidden]
  EXPECT_EQ(std::vector<float>(yhb, yhb + 4), (std::vector<float>{5, 5, 3, 3}));
}

TEST(Recurrent, SequenceLengthsPerRow) {
  // seq 3, batch 2 (layout 0: x[t][b]); row 0 = 1,-2,2 (len 3); row 1 = 1,-2,9 (len 2).
  const float x[] = {1, 1, -2, -2, 2, 9};
  const int32_t lens[] = {3, 2};
  RecurrentParams p = relu_rnn(3, 2, 2);
  auto s = scratch_for(p);
  float y[12], yh[4];
  ASSERT_EQ(recurrent_f32(p, x, kW, kR, kB, lens, nullptr, nullptr, nullptr, y, yh, nullptr, s.data()), 0);
  // row 1 forward: 3, 0; reverse over t=1,0: relu(-4+0+1)=0, relu(2+0+1)=3; t=2 zero-filled.
  // Y [t][d][b]
  EXPECT_EQ(std::vector<float>(y, y + 12), (std::vector<float>{3, 3, 5, 3, 0, 0, 2, 0, 5, 0, 5, 0}));
  // Y_h [d][b]: forward row0 5, row1 0 (after t=1); reverse row0 5, row1 3 (after t=0)
  EXPECT_EQ(std::vector<float>(yh, yh + 4), (std::vector<float>{5, 0, 5, 3}));

  const int32_t bad[] = {4, 1};
  EXPECT_EQ(recurrent_f32(p, x, kW, kR, kB, bad, nullptr, nullptr, nullptr, y, yh, nullptr, s.data()), 1);
}

TEST(Recurrent, GruLinearBeforeReset) {
  // hidden 1, input 1; gate order z, r, h.
  const float W[] = {0.5f, -1.0f, 2.0f}, R[] = {1.0f, 0.5f, -1.0f};
  const float B[] = {0.1f, 0.2f, 0.3f, 0.0f, 0.0f, 0.4f};
  const float x[] = {1.0f}, h0[] = {0.5f};
  const float z = sigmoid(0.5f * 1 + 1 * 0.5f + 0.1f), r = sigmoid(-1 * 1 + 0.5f * 0.5f + 0.2f);
  for (bool lbr : {false, true}) {
    RecurrentParams p{};
    p.num_directions = 1;
    p.cell = RnnCell::Gru;
    p.seq_length = p.batch = p.input_size = p.hidden = 1;
    p.act[0][0].kind = RnnActivation::Sigmoid;
    p.act[0][1].kind = RnnActivation::Tanh;
    p.linear_before_reset = lbr;
    auto s = scratch_for(p);
    float y[1], yh[1];
    ASSERT_EQ(recurrent_f32(p, x, W, R, B, nullptr, h0, nullptr, nullptr, y, yh, nullptr, s.data()), 0);
    const float n = lbr ? std::tanh(2 + 0.3f + r * (-1 * 0.5f + 0.4f)) : std::tanh(2 + 0.3f + (-1) * (r * 0.5f) + 0.4f);
    const float want = (1 - z) * n + z * 0.5f;
    EXPECT_NEAR(y[0], want, 1e-6f) << "linear_before_reset=" << lbr;
    EXPECT_EQ(yh[0], y[0]);
  }
}

TEST(Recurrent, LstmPeepholesInputForgetAndClip) {
  // hidden 1, input 1; gate order i, o, f, c; peepholes i, o, f.
  const float W[] = {1.0f, -0.5f, 0.25f, 2.0f}, R[] = {0.5f, 1.0f, -1.0f, 0.5f};
  const float B[] = {0.1f, 0.0f, 0.2f, 0.0f, 0.0f, 0.3f, 0.0f, 0.1f};
  const float P[] = {0.5f, -0.25f, 1.0f};
  const float x[] = {1.5f}, h0[] = {0.2f}, c0[] = {-0.4f};
  const float pi = 1.0f * 1.5f + 0.5f * 0.2f + 0.1f, po = -0.5f * 1.5f + 1.0f * 0.2f + 0.3f;
  const float pf = 0.25f * 1.5f - 1.0f * 0.2f + 0.2f, pc = 2.0f * 1.5f + 0.5f * 0.2f + 0.1f;
  for (int variant = 0; variant < 3; ++variant) {
    RecurrentParams p{};
    p.num_directions = 1;
    p.cell = RnnCell::Lstm;
    p.seq_length = p.batch = p.input_size = p.hidden = 1;
    p.act[0][0].kind = RnnActivation::Sigmoid;
    p.act[0][1].kind = RnnActivation::Tanh;
    p.act[0][2].kind = RnnActivation::Tanh;
    p.input_forget = variant == 1;
    p.clip = variant == 2 ? 1.0f : 0.0f;
    auto cl = [&](float v) { return p.clip > 0 ? std::fmax(-p.clip, std::fmin(p.clip, v)) : v; };
    const float i = sigmoid(cl(pi + 0.5f * c0[0]));
    const float f = p.input_forget ? 1 - i : sigmoid(cl(pf + 1.0f * c0[0]));
    const float c = f * c0[0] + i * std::tanh(cl(pc));
    const float o = sigmoid(cl(po - 0.25f * c));
    const float h = o * std::tanh(c);
    auto s = scratch_for(p);
    float y[1], yh[1], yc[1];
    ASSERT_EQ(recurrent_f32(p, x, W, R, B, nullptr, h0, c0, P, y, yh, yc, s.data()), 0);
    EXPECT_NEAR(yh[0], h, 1e-6f) << "variant " << variant;
    EXPECT_NEAR(yc[0], c, 1e-6f) << "variant " << variant;
    EXPECT_EQ(y[0], yh[0]);
  }
}

// --- streaming through a Session ---------------------------------------------

ir::TensorId add_const(ir::Graph& g, const std::string& name, Shape shape, const std::vector<float>& v) {
  ir::Tensor t;
  t.name = name;
  t.dtype = DType::F32;
  t.shape = std::move(shape);
  auto buf = std::make_shared<ir::Buffer>(v.size() * sizeof(float));
  std::memcpy(buf->data(), v.data(), v.size() * sizeof(float));
  t.data = buf;
  return g.add_tensor(std::move(t));
}

ir::TensorId add_value(ir::Graph& g, const std::string& name, Shape shape) {
  ir::Tensor t;
  t.name = name;
  t.dtype = DType::F32;
  t.shape = std::move(shape);
  return g.add_tensor(std::move(t));
}

// One LSTM node: X [seq, 1, 2], hidden 3, state in h_in/c_in, state out Y_h/Y_c.
ir::Graph lstm_graph(int64_t seq) {
  const int64_t H = 3, I = 2;
  ir::Graph g;
  g.opset = 14;
  g.source = "lstm_test";
  std::vector<float> w(4 * H * I), r(4 * H * H), b(8 * H);
  for (size_t k = 0; k < w.size(); ++k) w[k] = 0.1f * static_cast<float>((k * 7) % 11) - 0.5f;
  for (size_t k = 0; k < r.size(); ++k) r[k] = 0.05f * static_cast<float>((k * 5) % 13) - 0.3f;
  for (size_t k = 0; k < b.size(); ++k) b[k] = 0.02f * static_cast<float>(k % 5);
  ir::TensorId x = add_value(g, "X", {seq, 1, I});
  ir::TensorId h_in = add_value(g, "h_in", {1, 1, H});
  ir::TensorId c_in = add_value(g, "c_in", {1, 1, H});
  ir::TensorId W = add_const(g, "W", {1, 4 * H, I}, w);
  ir::TensorId R = add_const(g, "R", {1, 4 * H, H}, r);
  ir::TensorId B = add_const(g, "B", {1, 8 * H}, b);
  ir::TensorId yh = add_value(g, "Y_h", {1, 1, H});
  ir::TensorId yc = add_value(g, "Y_c", {1, 1, H});
  ir::Node n;
  n.name = "lstm";
  n.op_type = "LSTM";
  n.inputs = {x, W, R, B, ir::kNoTensor, h_in, c_in};
  n.outputs = {ir::kNoTensor, yh, yc};
  ir::Attribute hs;
  hs.kind = ir::Attribute::Kind::Int;
  hs.i = H;
  n.attrs["hidden_size"] = hs;
  g.nodes.push_back(n);
  g.inputs = {x, h_in, c_in};
  g.outputs = {yh, yc};
  return g;
}

TEST(Recurrent, StreamingOneStepAtATimeMatchesWholeSequence) {
  const float xs[] = {0.3f, -1.0f, 0.8f, 0.1f, -0.6f, 0.9f, 1.2f, -0.2f};  // 4 steps x 2 inputs
  engine::Session whole(plan::build_plan(lstm_graph(4), {}));
  std::memcpy(whole.input_data(0), xs, sizeof xs);
  std::memset(whole.input_data(1), 0, 3 * sizeof(float));
  std::memset(whole.input_data(2), 0, 3 * sizeof(float));
  ASSERT_TRUE(whole.run().ok());

  engine::Session stream(plan::build_plan(lstm_graph(1), {}));
  stream.link_state("Y_h", "h_in");
  stream.link_state("Y_c", "c_in");
  for (int pass = 0; pass < 2; ++pass) {  // the second pass checks reset() clears the state
    stream.reset();
    for (int t = 0; t < 4; ++t) {
      std::memcpy(stream.input_data(0), xs + 2 * t, 2 * sizeof(float));
      ASSERT_TRUE(stream.run().ok());
    }
    for (int o = 0; o < 2; ++o)
      for (int j = 0; j < 3; ++j)
        EXPECT_NEAR(static_cast<const float*>(stream.output_data(o))[j],
                    static_cast<const float*>(whole.output_data(o))[j], 1e-6f)
            << "pass " << pass << " output " << o << " unit " << j;
  }
}

}  // namespace
