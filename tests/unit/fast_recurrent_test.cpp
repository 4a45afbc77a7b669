// The packed SIMD recurrent kernel (kernels/fast_recurrent.h) against the
// scalar reference kernels::recurrent_f32 on random weights and shapes:
// hidden sizes that are not a multiple of any vector width, I != H, batch
// rows, both directions, sequence lengths 1 and several, per-row lengths,
// with and without initial state, LSTM peepholes and input_forget, GRU
// linear_before_reset 0 and 1, clip, non-default activations; on every SIMD
// target this CPU supports. The small-hidden kernels (H = 8, 16, 32, batch 1)
// the same way, over 128 steps too, and one step per call with the state
// carried from call to call. And through the engine: RNN / GRU / LSTM nodes
// with constant weights take the packed kernel and agree with the same nodes
// whose weights are graph inputs (the reference kernel); and the ONNX backend
// test cases of the three ops (whose weights are graph inputs, so the
// conformance run checks the reference) with the weights made initializers,
// against ONNX's own expected outputs.
#include "kernels/fast_recurrent.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/session.h"
#include "hwy/targets.h"
#include "import/onnx_import.h"
#include "kernels/recurrent.h"
#include "plan/plan.h"
#include "attributes.h"
#include "one_node.h"
#include "simd_targets.h"

using namespace rtml;
using namespace rtml::kernels;

namespace {

std::vector<float> random_floats(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

struct Case {
  RnnCell cell = RnnCell::Lstm;
  int64_t seq = 1, batch = 1, input = 3, hidden = 5;
  int dirs = 1;
  bool reverse = false;
  int layout = 0;
  bool bias = true, init = true, lens = false, peep = false, lbr = false, input_forget = false;
  float clip = 0;
  bool odd_activations = false;
  bool small = false;  // expects the small-hidden kernel (small_recurrent_hidden)
  float tol = 2e-5f;
  float weight_scale = 1.0f;  // W, R, B uniform in [-scale, scale]
};

std::string describe(const Case& c) {
  const char* cell = c.cell == RnnCell::Rnn ? "rnn" : c.cell == RnnCell::Gru ? "gru" : "lstm";
  return std::string(cell) + " seq=" + std::to_string(c.seq) + " batch=" + std::to_string(c.batch) +
         " I=" + std::to_string(c.input) + " H=" + std::to_string(c.hidden) + " dirs=" + std::to_string(c.dirs) +
         " reverse=" + std::to_string(c.reverse) + " layout=" + std::to_string(c.layout) +
         " bias=" + std::to_string(c.bias) + " init=" + std::to_string(c.init) + " lens=" + std::to_string(c.lens) +
         " peep=" + std::to_string(c.peep) + " lbr=" + std::to_string(c.lbr) +
         " input_forget=" + std::to_string(c.input_forget) + " clip=" + std::to_string(c.clip) +
         " odd_act=" + std::to_string(c.odd_activations);
}

// max |got - want| over all elements (the outputs are bounded by the
// activations, so an absolute error is the meaningful one).
float max_abs_diff(const std::vector<float>& got, const std::vector<float>& want) {
  float err = 0;
  for (size_t i = 0; i < got.size(); ++i) err = std::max(err, std::fabs(got[i] - want[i]));
  return err;
}

// The kernels' params for a case.
RecurrentParams params_of(const Case& c) {
  RecurrentParams p{};
  p.num_directions = 1;
  p.cell = c.cell;
  p.seq_length = c.seq;
  p.batch = c.batch;
  p.input_size = c.input;
  p.hidden = c.hidden;
  p.num_directions = c.dirs;
  p.reverse = c.reverse;
  p.layout = c.layout;
  p.clip = c.clip;
  p.linear_before_reset = c.lbr;
  p.input_forget = c.input_forget;
  for (int d = 0; d < 2; ++d) {
    if (c.cell == RnnCell::Rnn) {
      p.act[d][0].kind = c.odd_activations ? RnnActivation::Relu : RnnActivation::Tanh;
    } else {
      p.act[d][0].kind = RnnActivation::Sigmoid;
      p.act[d][1].kind = RnnActivation::Tanh;
      p.act[d][2].kind = RnnActivation::Tanh;
      if (c.odd_activations) {  // the scalar fallback lanes, one per slot
        p.act[d][0] = {RnnActivation::HardSigmoid, 0.2f, 0.5f};
        p.act[d][1] = {RnnActivation::ScaledTanh, 0.8f, 1.2f};
        p.act[d][2] = {RnnActivation::Softsign, 0, 0};
      }
    }
  }
  return p;
}

// Runs one case through both kernels; a failure names the case.
void check_case(const Case& c, std::mt19937& rng) {
  SCOPED_TRACE(describe(c));
  const RecurrentParams p = params_of(c);
  const int G = recurrent_gates(c.cell);
  const int64_t H = c.hidden, I = c.input, N = c.batch, S = c.seq, D = c.dirs;
  // Larger weights than 1/sqrt(H) so that gates saturate and clip bites.
  const std::vector<float> X = random_floats(static_cast<size_t>(S * N * I), rng, 2.0f);
  const std::vector<float> W = random_floats(static_cast<size_t>(D * G * H * I), rng, c.weight_scale);
  const std::vector<float> R = random_floats(static_cast<size_t>(D * G * H * H), rng, c.weight_scale);
  const std::vector<float> B = random_floats(static_cast<size_t>(D * 2 * G * H), rng, c.weight_scale);
  const std::vector<float> P = random_floats(static_cast<size_t>(D * 3 * H), rng);
  const std::vector<float> h0 = random_floats(static_cast<size_t>(D * N * H), rng);
  const std::vector<float> c0 = random_floats(static_cast<size_t>(D * N * H), rng);
  std::vector<int32_t> lens(static_cast<size_t>(N), static_cast<int32_t>(S));
  if (c.lens)
    for (int64_t b = 0; b < N; ++b) lens[static_cast<size_t>(b)] = static_cast<int32_t>((b * 2 + 1) % (S + 1));
  const bool lstm = c.cell == RnnCell::Lstm;

  const size_t ny = static_cast<size_t>(S * D * N * H), ns = static_cast<size_t>(D * N * H);
  std::vector<float> want_y(ny, -7.0f), want_h(ns, -7.0f), want_c(ns, -7.0f);
  std::vector<float> ref_scratch(recurrent_scratch_bytes(p) / sizeof(float) + 1);
  ASSERT_EQ(recurrent_f32(p, X.data(), W.data(), R.data(), c.bias ? B.data() : nullptr, c.lens ? lens.data() : nullptr,
                          c.init ? h0.data() : nullptr, c.init && lstm ? c0.data() : nullptr,
                          c.peep && lstm ? P.data() : nullptr, want_y.data(), want_h.data(),
                          lstm ? want_c.data() : nullptr, ref_scratch.data()),
            0);

  const FastRecurrent f = prepare_fast_recurrent(p, W.data(), R.data(), c.bias ? B.data() : nullptr,
                                                 c.peep && lstm ? P.data() : nullptr);
  if (c.small) {
    ASSERT_EQ(f.p.small_hidden, c.hidden);
  }
  // 64-byte aligned scratch, as the engine's arena gives.
  std::vector<float> scratch(fast_recurrent_scratch_bytes(f) / sizeof(float) + 16);
  float* aligned = scratch.data();
  while (reinterpret_cast<uintptr_t>(aligned) % 64 != 0) ++aligned;
  std::vector<float> y(ny, 123.0f), yh(ns, 123.0f), yc(ns, 123.0f);
  ASSERT_EQ(fast_recurrent_f32(f, X.data(), c.lens ? lens.data() : nullptr, c.init ? h0.data() : nullptr,
                               c.init && lstm ? c0.data() : nullptr, y.data(), yh.data(), lstm ? yc.data() : nullptr,
                               aligned),
            0);
  // float32 sums in a different order and a few-ulp exp/tanh.
  const float tol = c.tol;
  EXPECT_LT(max_abs_diff(y, want_y), tol);
  EXPECT_LT(max_abs_diff(yh, want_h), tol);
  if (lstm) {
    EXPECT_LT(max_abs_diff(yc, want_c), tol);
  }
  // Rows past a sequence length are exactly zero in both.
  if (c.lens) {
    for (size_t i = 0; i < ny; ++i) {
      if (want_y[i] == 0.0f) {
        ASSERT_EQ(y[i], 0.0f) << "Y[" << i << "]";
      }
    }
  }
}

// Every combination the brief lists; returns the number of cases.
int check_all_cases() {
  std::mt19937 rng(2024);
  int cases = 0;
  for (RnnCell cell : {RnnCell::Rnn, RnnCell::Gru, RnnCell::Lstm})
    for (int64_t hidden : {1, 5, 16, 37})
      for (int64_t seq : {1, 4})
        for (int variant = 0; variant < 8; ++variant) {
          Case c;
          c.cell = cell;
          c.hidden = hidden;
          c.seq = seq;
          c.input = variant % 2 == 0 ? 3 : hidden;  // I != H and I == H
          c.batch = variant % 4 < 2 ? 1 : 3;
          c.dirs = variant == 2 || variant == 5 ? 2 : 1;
          c.reverse = variant == 3;
          c.layout = variant == 4 || variant == 5 ? 1 : 0;
          c.bias = variant != 6;
          c.init = variant % 3 != 0;
          c.lens = c.batch > 1 && variant != 3;
          c.peep = variant % 2 == 1;
          c.input_forget = variant == 7;
          c.clip = variant == 5 || variant == 6 ? 0.75f : 0.0f;
          c.odd_activations = variant == 6 || (variant == 4 && seq == 1);
          for (bool lbr : {false, true}) {
            if (lbr && cell != RnnCell::Gru) continue;
            c.lbr = lbr;
            check_case(c, rng);
            ++cases;
            if (::testing::Test::HasFatalFailure()) return cases;
          }
        }
  return cases;
}

constexpr int kCases = (3 + 1) * 4 * 2 * 8;  // GRU twice (linear_before_reset 0 and 1)

TEST(FastRecurrent, MatchesReferenceOnEveryTarget) {
  rtml::testing::check_every_dispatched_target(fast_recurrent_target, [] {
    // The GEMM inside follows the same forced target.
    EXPECT_EQ(std::string(fast_recurrent_target()), std::string(fast_gemm_target()));
    EXPECT_EQ(check_all_cases(), kCases);
  });
}

// The small-hidden kernels (batch 1, H = 8, 16, 32; GRU with
// linear_before_reset, LSTM): sequence lengths 1 and 128, with and without
// initial state and bias, forward, reverse and bidirectional, both layouts,
// clip, a sequence_lens shorter than the block; returns the number of cases.
// The weights are in PyTorch's initial range, 1/sqrt(H): with weights up to 1
// a 128-step GRU of hidden 32 grows float32 rounding to 5e-6 on NEON, too
// near 1e-5 (the short sequences of SmallHiddenCarriesStateAcrossCalls use
// weights up to 1, saturating the gates).
int check_small_cases() {
  std::mt19937 rng(77);
  int cases = 0;
  for (RnnCell cell : {RnnCell::Gru, RnnCell::Lstm})
    for (int64_t hidden : {8, 16, 32})
      for (int64_t seq : {1, 128})
        for (int variant = 0; variant < 5; ++variant) {
          Case c;
          c.cell = cell;
          c.hidden = hidden;
          c.seq = seq;
          c.batch = 1;
          c.lbr = true;
          c.small = true;
          c.tol = 1e-5f;
          c.weight_scale = 1.0f / std::sqrt(static_cast<float>(hidden));
          c.input = variant % 2 == 0 ? 16 : 3;
          c.init = variant != 1;
          c.bias = variant != 1;
          c.dirs = variant == 2 ? 2 : 1;
          c.reverse = variant == 3;
          c.lens = variant == 3;  // batch 1: length 1
          c.layout = variant == 4 ? 1 : 0;
          c.clip = variant == 4 ? 0.75f : 0.0f;
          check_case(c, rng);
          ++cases;
          if (::testing::Test::HasFatalFailure()) return cases;
        }
  return cases;
}

// Weight-only int8 (rtml_f32_<cell>_w8__*): int8 weights in [-127, 127] with
// a float scale per row ((0.5 .. 1.5) * weight_scale / 127, so the
// dequantized weights span about the float cases' range). Two checks per
// case: the int8 reference against the float32 reference on the dequantized
// weights (the oracle: the same cell, rounding apart), and the Highway kernel
// against the int8 reference. Each gate's sum of K = I + H products differs
// between two orders by at most 2 * K * 2^-24 * sum |w x| (about 1e-4 here at
// worst; random signs make it far smaller), and sigmoid and tanh do not
// enlarge it: 5e-5 on outputs bounded by the activations, as the float cases.
void check_w8_case(const Case& c, std::mt19937& rng) {
  SCOPED_TRACE("w8 " + describe(c));
  const RecurrentParams p = params_of(c);
  const int G = recurrent_gates(c.cell);
  const int64_t H = c.hidden, I = c.input, N = c.batch, S = c.seq, D = c.dirs, GH = G * H;
  const std::vector<float> X = random_floats(static_cast<size_t>(S * N * I), rng, 2.0f);
  std::uniform_int_distribution<int> qd(-127, 127);
  std::uniform_real_distribution<float> sd(0.5f, 1.5f);
  auto int8s = [&](int64_t n) {
    std::vector<int8_t> q(static_cast<size_t>(n));
    for (int8_t& v : q) v = static_cast<int8_t>(qd(rng));
    return q;
  };
  const std::vector<int8_t> Wq = int8s(D * GH * I), Rq = int8s(D * GH * H);
  std::vector<float> ws(static_cast<size_t>(D * GH)), rs(ws.size());
  for (float& v : ws) v = sd(rng) * c.weight_scale / 127.0f;
  for (float& v : rs) v = sd(rng) * c.weight_scale / 127.0f;
  std::vector<float> W(Wq.size()), R(Rq.size());
  for (size_t i = 0; i < W.size(); ++i) W[i] = static_cast<float>(Wq[i]) * ws[i / static_cast<size_t>(I)];
  for (size_t i = 0; i < R.size(); ++i) R[i] = static_cast<float>(Rq[i]) * rs[i / static_cast<size_t>(H)];
  const std::vector<float> B = random_floats(static_cast<size_t>(D * 2 * GH), rng, c.weight_scale);
  const std::vector<float> P = random_floats(static_cast<size_t>(D * 3 * H), rng);
  const std::vector<float> h0 = random_floats(static_cast<size_t>(D * N * H), rng);
  const std::vector<float> c0 = random_floats(static_cast<size_t>(D * N * H), rng);
  std::vector<int32_t> lens(static_cast<size_t>(N), static_cast<int32_t>(S));
  if (c.lens)
    for (int64_t b = 0; b < N; ++b) lens[static_cast<size_t>(b)] = static_cast<int32_t>((b * 2 + 1) % (S + 1));
  const bool lstm = c.cell == RnnCell::Lstm;
  const float* b = c.bias ? B.data() : nullptr;
  const void* l = c.lens ? lens.data() : nullptr;
  const float* ih = c.init ? h0.data() : nullptr;
  const float* ic = c.init && lstm ? c0.data() : nullptr;
  const float* pp = c.peep && lstm ? P.data() : nullptr;

  const size_t ny = static_cast<size_t>(S * D * N * H), ns = static_cast<size_t>(D * N * H);
  struct Out {
    std::vector<float> y, h, c;
  };
  auto fresh = [&] { return Out{std::vector<float>(ny, -7.0f), std::vector<float>(ns, -7.0f), std::vector<float>(ns, -7.0f)}; };
  Out f32 = fresh(), ref = fresh(), fast = fresh();
  std::vector<float> ref_scratch(recurrent_scratch_bytes(p) / sizeof(float) + 1);
  ASSERT_EQ(recurrent_f32(p, X.data(), W.data(), R.data(), b, l, ih, ic, pp, f32.y.data(), f32.h.data(),
                          lstm ? f32.c.data() : nullptr, ref_scratch.data()),
            0);
  ASSERT_EQ(recurrent_w8_f32(p, X.data(), Wq.data(), Rq.data(), ws.data(), rs.data(), b, l, ih, ic, pp, ref.y.data(),
                             ref.h.data(), lstm ? ref.c.data() : nullptr, ref_scratch.data()),
            0);
  std::vector<float> scratch(fast_recurrent_w8_scratch_bytes(p, pp != nullptr) / sizeof(float) + 16);
  float* aligned = scratch.data();
  while (reinterpret_cast<uintptr_t>(aligned) % 64 != 0) ++aligned;
  ASSERT_EQ(fast_recurrent_w8_f32(p, X.data(), Wq.data(), Rq.data(), ws.data(), rs.data(), b, pp, l, ih, ic,
                                  fast.y.data(), fast.h.data(), lstm ? fast.c.data() : nullptr, aligned),
            0);
  const float tol = 5e-5f;
  EXPECT_LT(max_abs_diff(ref.y, f32.y), tol);
  EXPECT_LT(max_abs_diff(ref.h, f32.h), tol);
  EXPECT_LT(max_abs_diff(fast.y, ref.y), tol);
  EXPECT_LT(max_abs_diff(fast.h, ref.h), tol);
  if (lstm) {
    EXPECT_LT(max_abs_diff(ref.c, f32.c), tol);
    EXPECT_LT(max_abs_diff(fast.c, ref.c), tol);
  }
  for (size_t i = 0; i < ny; ++i)  // rows past a sequence length: exactly zero in all three
    if (f32.y[i] == 0.0f) {
      ASSERT_EQ(ref.y[i], 0.0f) << "Y[" << i << "]";
      ASSERT_EQ(fast.y[i], 0.0f) << "Y[" << i << "]";
    }
}

// Odd and even hidden sizes (1, 5, 37: rows not a multiple of the four-row
// blocks; I = 3 and 37 shorter and longer than a vector), every cell and
// option as check_all_cases, 64 too (the zoo's streaming models).
int check_w8_cases() {
  std::mt19937 rng(4242);
  int cases = 0;
  for (RnnCell cell : {RnnCell::Rnn, RnnCell::Gru, RnnCell::Lstm})
    for (int64_t hidden : {1, 5, 37, 64})
      for (int variant = 0; variant < 8; ++variant) {
        Case c;
        c.cell = cell;
        c.hidden = hidden;
        c.seq = variant % 3 == 0 ? 1 : 4;
        c.input = variant % 2 == 0 ? 3 : hidden == 64 ? 16 : hidden;
        c.batch = variant % 4 < 2 ? 1 : 3;
        c.dirs = variant == 2 || variant == 5 ? 2 : 1;
        c.reverse = variant == 3;
        c.layout = variant == 4 || variant == 5 ? 1 : 0;
        c.bias = variant != 6;
        c.init = variant % 3 != 0;
        c.lens = c.batch > 1 && variant != 3;
        c.peep = variant % 2 == 1;
        c.input_forget = variant == 7;
        c.clip = variant == 5 || variant == 6 ? 0.75f : 0.0f;
        c.odd_activations = variant == 6;
        c.weight_scale = hidden == 64 ? 0.125f : 1.0f;  // PyTorch's initial range, 1/sqrt(H)
        for (bool lbr : {false, true}) {
          if (lbr && cell != RnnCell::Gru) continue;
          c.lbr = lbr;
          check_w8_case(c, rng);
          ++cases;
          if (::testing::Test::HasFatalFailure()) return cases;
        }
      }
  return cases;
}

TEST(FastRecurrent, WeightInt8MatchesReferencesOnEveryTarget) {
  rtml::testing::check_every_dispatched_target(fast_recurrent_target,
                                               [] { EXPECT_EQ(check_w8_cases(), (3 + 1) * 4 * 8); });
}

TEST(FastRecurrent, SmallHiddenMatchesReferenceOnEveryTarget) {
  rtml::testing::check_every_dispatched_target(fast_recurrent_target,
                                               [] { EXPECT_EQ(check_small_cases(), 2 * 3 * 2 * 5); });
}

// A streaming cell run one step per call, its Y_h and Y_c fed back as the
// next call's initial state, gives the reference's outputs for the whole
// sequence in one call.
TEST(FastRecurrent, SmallHiddenCarriesStateAcrossCalls) {
  rtml::testing::check_every_dispatched_target(fast_recurrent_target, [] {
    std::mt19937 rng(12);
    for (RnnCell cell : {RnnCell::Gru, RnnCell::Lstm})
      for (int64_t H : {8, 16, 32}) {
        SCOPED_TRACE((cell == RnnCell::Gru ? "gru H=" : "lstm H=") + std::to_string(H));
        const bool lstm = cell == RnnCell::Lstm;
        const int64_t I = 16, S = 6, G = recurrent_gates(cell);
        RecurrentParams p{};
        p.cell = cell;
        p.seq_length = S;
        p.batch = 1;
        p.input_size = I;
        p.hidden = H;
        p.num_directions = 1;
        p.linear_before_reset = true;
        p.act[0][0].kind = RnnActivation::Sigmoid;
        p.act[0][1].kind = RnnActivation::Tanh;
        p.act[0][2].kind = RnnActivation::Tanh;
        const std::vector<float> X = random_floats(static_cast<size_t>(S * I), rng, 2.0f);
        const std::vector<float> W = random_floats(static_cast<size_t>(G * H * I), rng);
        const std::vector<float> R = random_floats(static_cast<size_t>(G * H * H), rng);
        const std::vector<float> B = random_floats(static_cast<size_t>(2 * G * H), rng);
        std::vector<float> h = random_floats(static_cast<size_t>(H), rng), c = random_floats(static_cast<size_t>(H), rng);
        std::vector<float> want_y(static_cast<size_t>(S * H)), want_h(static_cast<size_t>(H)), want_c(want_h);
        std::vector<float> ref_scratch(recurrent_scratch_bytes(p) / sizeof(float) + 1);
        ASSERT_EQ(recurrent_f32(p, X.data(), W.data(), R.data(), B.data(), nullptr, h.data(), c.data(), nullptr,
                                want_y.data(), want_h.data(), lstm ? want_c.data() : nullptr, ref_scratch.data()),
                  0);
        RecurrentParams one = p;
        one.seq_length = 1;
        const FastRecurrent f = prepare_fast_recurrent(one, W.data(), R.data(), B.data(), nullptr);
        ASSERT_EQ(f.p.small_hidden, H);
        ASSERT_EQ(fast_recurrent_scratch_bytes(f), 0u);
        std::vector<float> y(static_cast<size_t>(H)), h2(y), c2(y);
        for (int64_t t = 0; t < S; ++t) {
          ASSERT_EQ(fast_recurrent_f32(f, X.data() + t * I, nullptr, h.data(), lstm ? c.data() : nullptr, y.data(),
                                       h2.data(), lstm ? c2.data() : nullptr, nullptr),
                    0);
          const std::vector<float> want(want_y.begin() + t * H, want_y.begin() + (t + 1) * H);
          EXPECT_LT(max_abs_diff(y, want), 1e-5f) << "step " << t;
          h = h2;
          if (lstm) c = c2;
        }
        EXPECT_LT(max_abs_diff(h, want_h), 1e-5f);
        if (lstm) {
          EXPECT_LT(max_abs_diff(c, want_c), 1e-5f);
        }
      }
  });
}

TEST(FastRecurrent, BadSequenceLengthWritesNothing) {
  RecurrentParams p{};
  p.num_directions = 1;
  p.cell = RnnCell::Gru;
  p.seq_length = 2;
  p.batch = 2;
  p.input_size = 2;
  p.hidden = 3;
  p.act[0][0].kind = RnnActivation::Sigmoid;
  p.act[0][1].kind = RnnActivation::Tanh;
  std::mt19937 rng(5);
  const std::vector<float> W = random_floats(18, rng), R = random_floats(27, rng), X = random_floats(8, rng);
  const FastRecurrent f = prepare_fast_recurrent(p, W.data(), R.data(), nullptr, nullptr);
  std::vector<float> scratch(fast_recurrent_scratch_bytes(f) / sizeof(float) + 16);
  float* aligned = scratch.data();
  while (reinterpret_cast<uintptr_t>(aligned) % 64 != 0) ++aligned;
  std::vector<float> y(12, 9.0f), yh(6, 9.0f);
  for (int32_t bad : {-1, 3}) {
    const int32_t lens[] = {1, bad};
    EXPECT_EQ(fast_recurrent_f32(f, X.data(), lens, nullptr, nullptr, y.data(), yh.data(), nullptr, aligned), 1);
    EXPECT_EQ(y, std::vector<float>(12, 9.0f));
    EXPECT_EQ(yh, std::vector<float>(6, 9.0f));
  }
}

TEST(FastRecurrent, SigmoidAndTanhSaturateAndPassNan) {
  // Pre-activations far outside exp's range: h = tanh(+-big) = +-1 exactly,
  // and an LSTM whose gates are sigmoid(+-big) = 1 / 0.
  RecurrentParams p{};
  p.num_directions = 1;
  p.cell = RnnCell::Rnn;
  p.seq_length = 1;
  p.batch = 1;
  p.input_size = 1;
  p.hidden = 2;
  p.act[0][0].kind = RnnActivation::Tanh;
  const float W[] = {1e30f, -1e30f}, R[] = {0, 0, 0, 0}, X[] = {1.0f};
  const FastRecurrent f = prepare_fast_recurrent(p, W, R, nullptr, nullptr);
  std::vector<float> scratch(fast_recurrent_scratch_bytes(f) / sizeof(float) + 16);
  float* aligned = scratch.data();
  while (reinterpret_cast<uintptr_t>(aligned) % 64 != 0) ++aligned;
  float yh[2];
  ASSERT_EQ(fast_recurrent_f32(f, X, nullptr, nullptr, nullptr, nullptr, yh, nullptr, aligned), 0);
  EXPECT_EQ(yh[0], 1.0f);
  EXPECT_EQ(yh[1], -1.0f);

  // LSTM, hidden 1: i = sigmoid(1e30) = 1, o = 1, f = sigmoid(-1e30) = 0,
  // c = 0*c0 + 1*tanh(1e30) = 1, h = tanh(1).
  RecurrentParams q = p;
  q.cell = RnnCell::Lstm;
  q.hidden = 1;
  q.act[0][0].kind = RnnActivation::Sigmoid;
  q.act[0][1].kind = RnnActivation::Tanh;
  q.act[0][2].kind = RnnActivation::Tanh;
  const float Wl[] = {1e30f, 1e30f, -1e30f, 1e30f}, Rl[] = {0, 0, 0, 0}, c0[] = {5.0f};
  const FastRecurrent fl = prepare_fast_recurrent(q, Wl, Rl, nullptr, nullptr);
  std::vector<float> scratch2(fast_recurrent_scratch_bytes(fl) / sizeof(float) + 16);
  aligned = scratch2.data();
  while (reinterpret_cast<uintptr_t>(aligned) % 64 != 0) ++aligned;
  float h[1], c[1];
  ASSERT_EQ(fast_recurrent_f32(fl, X, nullptr, nullptr, c0, nullptr, h, c, aligned), 0);
  EXPECT_EQ(c[0], 1.0f);
  EXPECT_NEAR(h[0], std::tanh(1.0f), 1e-6f);

  // A NaN input reaches the state through every gate, as in the reference
  // (not clamped to a saturated sigmoid).
  const float Xnan[] = {std::nanf("")};
  ASSERT_EQ(fast_recurrent_f32(fl, Xnan, nullptr, nullptr, c0, nullptr, h, c, aligned), 0);
  EXPECT_TRUE(std::isnan(h[0]));
  EXPECT_TRUE(std::isnan(c[0]));
  // GRU whose z gate alone is NaN (its bias): h = (1-z)*n + z*h0 is NaN,
  // where a sigmoid that lost the NaN would give z = 0 and h = n = tanh(0.3).
  RecurrentParams gq = q;
  gq.cell = RnnCell::Gru;
  const float Wg[] = {1.0f, 0.0f, 0.0f}, Rg[] = {0, 0, 0}, h0[] = {0.5f};
  const float Bg[] = {std::nanf(""), 0.0f, 0.3f, 0.0f, 0.0f, 0.0f};
  const FastRecurrent fg = prepare_fast_recurrent(gq, Wg, Rg, Bg, nullptr);
  std::vector<float> scratch3(fast_recurrent_scratch_bytes(fg) / sizeof(float) + 16);
  aligned = scratch3.data();
  while (reinterpret_cast<uintptr_t>(aligned) % 64 != 0) ++aligned;
  ASSERT_EQ(fast_recurrent_f32(fg, X, nullptr, h0, nullptr, nullptr, h, nullptr, aligned), 0);
  EXPECT_TRUE(std::isnan(h[0]));
}

// ------------------------------------------------------------ through the engine

using rtml::testing::NodeRun;
using rtml::testing::Operand;

// One node: X (and initial_h) are graph inputs; W, R, B (and P) are
// initializers when `constant`, else graph inputs (the reference kernel).
NodeRun run_node(const std::string& op, const std::vector<Operand>& operands, int num_outputs,
                 std::map<std::string, ir::Attribute> attrs, bool constant) {
  std::vector<bool> is_constant(operands.size(), false);
  for (size_t i : {1, 2, 3, 7})
    if (i < operands.size()) is_constant[i] = constant;
  return rtml::testing::run_one_node(op, 14, operands, is_constant, num_outputs, std::move(attrs), 2);
}

void expect_packed_matches(const std::string& op, int G, int64_t H, int64_t I, int64_t S, int64_t N, int D,
                           std::map<std::string, ir::Attribute> attrs, const std::string& packed_kernel,
                           bool peepholes = true) {
  SCOPED_TRACE(op + " H=" + std::to_string(H) + " D=" + std::to_string(D));
  std::mt19937 rng(static_cast<unsigned>(H * 31 + D));
  auto rand = [&](Shape s) { return Operand{s, random_floats(static_cast<size_t>(shape_numel(s)), rng)}; };
  const bool lstm = op == "LSTM";
  std::vector<Operand> ops = {rand({S, N, I}), rand({D, G * H, I}), rand({D, G * H, H}), rand({D, 2 * G * H}),
                              Operand{}, rand({D, N, H})};
  if (lstm) {
    ops.push_back(rand({D, N, H}));
    if (peepholes) ops.push_back(rand({D, 3 * H}));
  }
  attrs["hidden_size"] = attr_int(H);
  const int outs = lstm ? 3 : 2;
  const NodeRun fast = run_node(op, ops, outs, attrs, true);
  const NodeRun ref = run_node(op, ops, outs, attrs, false);
  EXPECT_EQ(fast.kernel, packed_kernel);
  EXPECT_EQ(ref.kernel.find("packed"), std::string::npos) << ref.kernel;
  ASSERT_EQ(fast.outputs.size(), ref.outputs.size());
  for (size_t k = 0; k < fast.outputs.size(); ++k) {
    ASSERT_EQ(fast.outputs[k].size(), ref.outputs[k].size());
    ASSERT_FALSE(fast.outputs[k].empty());
    EXPECT_LT(max_abs_diff(fast.outputs[k], ref.outputs[k]), 2e-5f) << "output " << k;
  }
}

ir::Attribute attr_string(const std::string& s) {
  ir::Attribute a;
  a.kind = ir::Attribute::Kind::String;
  a.s = s;
  return a;
}

TEST(FastRecurrentOps, ConstantWeightsTakeThePackedKernel) {
  expect_packed_matches("RNN", 1, 7, 4, 3, 2, 1, {}, "rtml_f32_rnn__packed_hwy");
  expect_packed_matches("GRU", 3, 20, 16, 5, 1, 2, {{"direction", attr_string("bidirectional")}}, "rtml_f32_gru__packed_hwy");
  expect_packed_matches("GRU", 3, 20, 16, 5, 2, 1, {{"linear_before_reset", attr_int(1)}}, "rtml_f32_gru__packed_hwy");
  expect_packed_matches("LSTM", 4, 9, 5, 4, 3, 2, {{"direction", attr_string("bidirectional")}}, "rtml_f32_lstm__packed_hwy");
  // Batch 1, small hidden sizes: the specialised kernels.
  expect_packed_matches("LSTM", 4, 16, 16, 1, 1, 1, {}, "rtml_f32_lstm_h16__hwy", false);
  expect_packed_matches("LSTM", 4, 8, 5, 7, 1, 2, {{"direction", attr_string("bidirectional")}},
                        "rtml_f32_lstm_h8__hwy", false);
  expect_packed_matches("GRU", 3, 32, 16, 128, 1, 1, {{"linear_before_reset", attr_int(1)}}, "rtml_f32_gru_h32__hwy");
  // Peepholes and linear_before_reset = 0 stay on the general kernel.
  expect_packed_matches("LSTM", 4, 16, 16, 1, 1, 1, {}, "rtml_f32_lstm__packed_hwy");
  expect_packed_matches("GRU", 3, 32, 16, 3, 1, 1, {}, "rtml_f32_gru__packed_hwy");
}

// ------------------------------------------------- ONNX backend test data

#ifndef RTML_ONNX_NODE_TESTS
#define RTML_ONNX_NODE_TESTS "/usr/share/libonnx-testdata/data/node"
#endif

TEST(FastRecurrentOps, OnnxNodeTestsWithConstantWeights) {
  const char* cases[] = {"test_gru_batchwise",        "test_gru_defaults",          "test_gru_seq_length",
                         "test_gru_with_initial_bias", "test_lstm_batchwise",        "test_lstm_defaults",
                         "test_lstm_with_initial_bias", "test_lstm_with_peepholes", "test_rnn_seq_length",
                         "test_simple_rnn_batchwise",  "test_simple_rnn_defaults", "test_simple_rnn_with_initial_bias"};
  const std::string root = RTML_ONNX_NODE_TESTS;
  if (!std::ifstream(root + "/test_gru_defaults/model.onnx")) GTEST_SKIP() << "no ONNX test data at " << root;
  for (const char* name : cases) {
    SCOPED_TRACE(name);
    const std::string dir = root + "/" + name;
    ir::Graph g = import::load_onnx(dir + "/model.onnx");
    ASSERT_EQ(g.nodes.size(), 1u);
    const ir::Node& node = g.nodes[0];
    // Graph inputs feeding W, R, B, P become initializers; the rest stay inputs.
    std::vector<ir::TensorId> fed;
    std::vector<ir::Tensor> fed_data;
    const std::vector<ir::TensorId> inputs = g.inputs;
    g.inputs.clear();
    for (size_t k = 0; k < inputs.size(); ++k) {
      ir::Tensor t = import::load_tensor_pb(dir + "/test_data_set_0/input_" + std::to_string(k) + ".pb");
      bool weight = false;
      for (int slot : {1, 2, 3, 7})
        if (slot < static_cast<int>(node.inputs.size()) && node.inputs[static_cast<size_t>(slot)] == inputs[k])
          weight = true;
      if (weight) {
        g.tensors[static_cast<size_t>(inputs[k])].data = t.data;
      } else {
        g.inputs.push_back(inputs[k]);
        fed_data.push_back(t);
      }
    }
    plan::Plan plan = plan::build_plan(g, {});
    ASSERT_FALSE(plan.steps.empty());
    EXPECT_NE(std::string(plan.steps.back().step.kernel).find("packed"), std::string::npos)
        << plan.steps.back().step.kernel;
    engine::Session s(std::move(plan));
    for (size_t k = 0; k < fed_data.size(); ++k)
      std::memcpy(s.input_data(static_cast<int>(k)), fed_data[k].data->data(),
                  static_cast<size_t>(shape_numel(fed_data[k].shape)) * dtype_size(fed_data[k].dtype));
    ASSERT_TRUE(s.run().ok());
    for (size_t o = 0; o < g.outputs.size(); ++o) {
      const ir::Tensor want = import::load_tensor_pb(dir + "/test_data_set_0/output_" + std::to_string(o) + ".pb");
      const int64_t n = shape_numel(want.shape);
      ASSERT_EQ(shape_numel(s.output(static_cast<int>(o)).shape), n) << "output " << o;
      const float* got = static_cast<const float*>(s.output_data(static_cast<int>(o)));
      const float* exp = want.as<float>();
      for (int64_t i = 0; i < n; ++i)
        EXPECT_NEAR(got[i], exp[i], 1e-5f + 1e-4f * std::fabs(exp[i])) << "output " << o << " element " << i;
    }
  }
}

}  // namespace
