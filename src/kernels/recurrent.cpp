#include "kernels/recurrent.h"

#include <string.h>

#include "kernels/kmath.h"

namespace rtml::kernels {

float rnn_activate(const RnnActivationSpec& a, float x) {
  switch (a.kind) {
    case RnnActivation::Relu: return x > 0 ? x : 0.0f;
    case RnnActivation::Tanh: return km::tanh(x);
    case RnnActivation::Sigmoid: return 1.0f / (1.0f + km::exp(-x));
    case RnnActivation::Affine: return a.alpha * x + a.beta;
    case RnnActivation::LeakyRelu: return x >= 0 ? x : a.alpha * x;
    case RnnActivation::ThresholdedRelu: return x > a.alpha ? x : 0.0f;
    case RnnActivation::ScaledTanh: return a.alpha * km::tanh(a.beta * x);
    case RnnActivation::HardSigmoid: return km::min(1.0f, km::max(0.0f, a.alpha * x + a.beta));
    case RnnActivation::Elu: return x >= 0 ? x : a.alpha * (km::exp(x) - 1.0f);
    case RnnActivation::Softsign: return x / (1.0f + km::fabs(x));
    case RnnActivation::Softplus: return x > 20.0f ? x : km::log1p(km::exp(x));
  }
  return x;
}

int recurrent_gates(int32_t cell) {
  switch (cell) {
    case RnnCell::Rnn: return 1;
    case RnnCell::Gru: return 3;
    case RnnCell::Lstm: return 4;
  }
  return 1;
}

size_t recurrent_scratch_bytes(const RecurrentParams& p) {
  // gates (G*H) + h + c + tmp
  return static_cast<size_t>(recurrent_gates(p.cell) + 3) * static_cast<size_t>(p.hidden) * sizeof(float);
}

namespace {

inline float dot(const float* a, const float* b, int64_t n) {
  float s = 0;
  for (int64_t k = 0; k < n; ++k) s += a[k] * b[k];
  return s;
}

inline void copy(const float* src, int64_t n, float* dst) { memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); }

inline float clipv(float x, float clip) { return clip > 0 ? km::min(clip, km::max(-clip, x)) : x; }

// The gate products of direction d: row `row` of W (of R) times x (h).
struct F32Weights {
  const float* W;
  const float* R;
  int64_t I, H, GH;
  float wx(int d, int64_t row, const float* x) const { return dot(W + (d * GH + row) * I, x, I); }
  float rh(int d, int64_t row, const float* h) const { return dot(R + (d * GH + row) * H, h, H); }
};

// Weight-only int8: (sum_k float(q[k]) * x[k]) * scale[row], the sum in k order.
inline float dot_w8(const int8_t* q, const float* x, int64_t n) {
  float s = 0;
  for (int64_t k = 0; k < n; ++k) s += static_cast<float>(q[k]) * x[k];
  return s;
}

struct W8Weights {
  const int8_t* W;
  const int8_t* R;
  const float* W_scale;
  const float* R_scale;
  int64_t I, H, GH;
  float wx(int d, int64_t row, const float* x) const {
    return dot_w8(W + (d * GH + row) * I, x, I) * W_scale[d * GH + row];
  }
  float rh(int d, int64_t row, const float* h) const {
    return dot_w8(R + (d * GH + row) * H, h, H) * R_scale[d * GH + row];
  }
};

template <class Weights>
int recurrent_run(const RecurrentParams& p, const float* X, const Weights& w, const float* B, const void* seq_lens,
                  const float* initial_h, const float* initial_c, const float* P, float* Y, float* Y_h, float* Y_c,
                  void* scratch) {

  const int64_t S = p.seq_length, N = p.batch, I = p.input_size, H = p.hidden;
  const int D = p.num_directions;
  const int G = recurrent_gates(p.cell);
  const int64_t GH = G * H;
  float* gates = static_cast<float*>(scratch);
  float* h = gates + GH;
  float* c = h + H;
  float* tmp = c + H;

  // Validate every length before writing anything.
  int64_t lens_ok = 1;
  if (seq_lens)
    for (int64_t b = 0; b < N; ++b) {
      int64_t len = p.seq_lens_i64 ? static_cast<const int64_t*>(seq_lens)[b] : static_cast<const int32_t*>(seq_lens)[b];
      if (len < 0 || len > S) lens_ok = 0;
    }
  if (!lens_ok) return 1;

  auto x_at = [&](int64_t t, int64_t b) { return X + (p.layout == 0 ? (t * N + b) : (b * S + t)) * I; };
  auto y_at = [&](int64_t t, int d, int64_t b) {
    return Y + (p.layout == 0 ? ((t * D + d) * N + b) : ((b * S + t) * D + d)) * H;
  };
  auto state_off = [&](int d, int64_t b) { return (p.layout == 0 ? (d * N + b) : (b * D + d)) * H; };

  for (int d = 0; d < D; ++d) {
    const bool rev = D == 2 ? d == 1 : p.reverse;
    const float* Wb = B ? B + d * 2 * GH : nullptr;
    const float* Rb = B ? Wb + GH : nullptr;
    const float* Pd = P ? P + d * 3 * H : nullptr;
    const RnnActivationSpec& fa = p.act[d][0];
    const RnnActivationSpec& ga = p.act[d][1];
    const RnnActivationSpec& ha = p.act[d][2];

    for (int64_t b = 0; b < N; ++b) {
      int64_t len = S;
      if (seq_lens)
        len = p.seq_lens_i64 ? static_cast<const int64_t*>(seq_lens)[b] : static_cast<const int32_t*>(seq_lens)[b];
      const int64_t so = state_off(d, b);
      for (int64_t j = 0; j < H; ++j) {
        h[j] = initial_h ? initial_h[so + j] : 0.0f;
        c[j] = initial_c ? initial_c[so + j] : 0.0f;
      }

      for (int64_t s = 0; s < len; ++s) {
        const int64_t t = rev ? len - 1 - s : s;
        const float* x = x_at(t, b);
        switch (p.cell) {
          case RnnCell::Rnn: {
            for (int64_t j = 0; j < H; ++j) {
              float v = w.wx(d, j, x) + w.rh(d, j, h);
              if (Wb) v += Wb[j] + Rb[j];
              gates[j] = rnn_activate(fa, clipv(v, p.clip));
            }
            copy(gates, H, h);
            break;
          }
          case RnnCell::Gru: {
            float* z = gates;
            float* r = gates + H;
            float* n = gates + 2 * H;
            for (int64_t j = 0; j < 2 * H; ++j) {
              float v = w.wx(d, j, x) + w.rh(d, j, h);
              if (Wb) v += Wb[j] + Rb[j];
              gates[j] = rnn_activate(fa, clipv(v, p.clip));
            }
            if (!p.linear_before_reset)
              for (int64_t j = 0; j < H; ++j) tmp[j] = r[j] * h[j];
            for (int64_t j = 0; j < H; ++j) {
              float v = w.wx(d, 2 * H + j, x) + (Wb ? Wb[2 * H + j] : 0.0f);
              const float rb = Rb ? Rb[2 * H + j] : 0.0f;
              if (p.linear_before_reset) v += r[j] * (w.rh(d, 2 * H + j, h) + rb);
              else v += w.rh(d, 2 * H + j, tmp) + rb;
              n[j] = rnn_activate(ga, clipv(v, p.clip));
            }
            for (int64_t j = 0; j < H; ++j) h[j] = (1.0f - z[j]) * n[j] + z[j] * h[j];
            break;
          }
          case RnnCell::Lstm: {
            for (int64_t j = 0; j < GH; ++j) {
              float v = w.wx(d, j, x) + w.rh(d, j, h);
              if (Wb) v += Wb[j] + Rb[j];
              gates[j] = v;
            }
            const float* gi = gates;
            const float* go = gates + H;
            const float* gf = gates + 2 * H;
            const float* gc = gates + 3 * H;
            for (int64_t j = 0; j < H; ++j) {
              const float pi = Pd ? Pd[j] : 0.0f, po = Pd ? Pd[H + j] : 0.0f, pf = Pd ? Pd[2 * H + j] : 0.0f;
              const float ig = rnn_activate(fa, clipv(gi[j] + pi * c[j], p.clip));
              const float fg = p.input_forget ? 1.0f - ig : rnn_activate(fa, clipv(gf[j] + pf * c[j], p.clip));
              const float cg = rnn_activate(ga, clipv(gc[j], p.clip));
              const float cn = fg * c[j] + ig * cg;
              const float og = rnn_activate(fa, clipv(go[j] + po * cn, p.clip));
              c[j] = cn;
              h[j] = og * rnn_activate(ha, cn);
            }
            break;
          }
        }
        if (Y) copy(h, H, y_at(t, d, b));
      }
      if (Y)
        for (int64_t t = len; t < S; ++t) memset(y_at(t, d, b), 0, static_cast<size_t>(H) * sizeof(float));
      if (Y_h) copy(h, H, Y_h + so);
      if (Y_c) copy(c, H, Y_c + so);
    }
  }
  return 0;
}

}  // namespace

int recurrent_f32(const RecurrentParams& p, const float* X, const float* W, const float* R, const float* B,
                  const void* seq_lens, const float* initial_h, const float* initial_c, const float* P, float* Y,
                  float* Y_h, float* Y_c, void* scratch) {
  const int64_t GH = recurrent_gates(p.cell) * p.hidden;
  return recurrent_run(p, X, F32Weights{W, R, p.input_size, p.hidden, GH}, B, seq_lens, initial_h, initial_c, P, Y,
                       Y_h, Y_c, scratch);
}

int recurrent_w8_f32(const RecurrentParams& p, const float* X, const int8_t* W, const int8_t* R, const float* W_scale,
                     const float* R_scale, const float* B, const void* seq_lens, const float* initial_h,
                     const float* initial_c, const float* P, float* Y, float* Y_h, float* Y_c, void* scratch) {
  const int64_t GH = recurrent_gates(p.cell) * p.hidden;
  return recurrent_run(p, X, W8Weights{W, R, W_scale, R_scale, p.input_size, p.hidden, GH}, B, seq_lens, initial_h,
                       initial_c, P, Y, Y_h, Y_c, scratch);
}

}  // namespace rtml::kernels

// ---- entry points -------------------------------------------------------------

namespace {

// Operands: the node's input slots, its output slots, the scratch.
int run_recurrent(const void* params, void* const* ops) {
  const auto& p = *static_cast<const rtml_recurrent_params*>(params);
  auto in = [&](int i) -> const float* { return i < p.num_inputs ? static_cast<const float*>(ops[i]) : nullptr; };
  auto out = [&](int i) -> float* { return i < p.num_outputs ? static_cast<float*>(ops[p.num_inputs + i]) : nullptr; };
  const bool lstm = p.cell == rtml::kernels::RnnCell::Lstm;
  return rtml::kernels::recurrent_f32(p, in(0), in(1), in(2), in(3), p.num_inputs > 4 ? ops[4] : nullptr, in(5),
                                      lstm ? in(6) : nullptr, lstm ? in(7) : nullptr, out(0), out(1),
                                      lstm ? out(2) : nullptr, ops[p.num_inputs + p.num_outputs]);
}

}  // namespace

RTML_KERNEL(rtml_f32_rnn__ref) { return run_recurrent(params, operands); }
RTML_KERNEL(rtml_f32_gru__ref) { return run_recurrent(params, operands); }
RTML_KERNEL(rtml_f32_lstm__ref) { return run_recurrent(params, operands); }

namespace {

// Weight-only int8: the node's slots (all listed), W_scale, R_scale, the outputs, the scratch.
int run_recurrent_w8(const void* params, void* const* ops) {
  const auto& p = *static_cast<const rtml_recurrent_params*>(params);
  const bool lstm = p.cell == rtml::kernels::RnnCell::Lstm;
  auto in = [&](int i) { return static_cast<const float*>(ops[i]); };
  auto out = [&](int i) -> float* { return i < p.num_outputs ? static_cast<float*>(ops[p.num_inputs + i]) : nullptr; };
  return rtml::kernels::recurrent_w8_f32(p, in(0), static_cast<const int8_t*>(ops[1]), static_cast<const int8_t*>(ops[2]),
                                         in(p.num_inputs - 2), in(p.num_inputs - 1), in(3), ops[4], in(5),
                                         lstm ? in(6) : nullptr, lstm ? in(7) : nullptr, out(0), out(1),
                                         lstm ? out(2) : nullptr, ops[p.num_inputs + p.num_outputs]);
}

}  // namespace

RTML_KERNEL(rtml_f32_rnn_w8__ref) { return run_recurrent_w8(params, operands); }
RTML_KERNEL(rtml_f32_gru_w8__ref) { return run_recurrent_w8(params, operands); }
RTML_KERNEL(rtml_f32_lstm_w8__ref) { return run_recurrent_w8(params, operands); }
