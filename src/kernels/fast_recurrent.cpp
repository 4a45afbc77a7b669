// Fast RNN / GRU / LSTM, compiled once per Highway target (see fast_recurrent.h).

// Same targets as fast_gemm.cpp: the padded hidden size is a multiple of
// kPanel, which must be a whole number of vectors.
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/fast_recurrent.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/contrib/math/math-inl.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "kernels/fast_recurrent.h"

HWY_BEFORE_NAMESPACE();
namespace rtml::kernels {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

using D = hn::CappedTag<float, static_cast<size_t>(kPanel)>;
using V = hn::Vec<D>;
constexpr size_t kL = hn::MaxLanes(D());
static_assert(static_cast<size_t>(kPanel) % kL == 0, "the padded hidden size must be a whole number of vectors");

// 1 / (1 + e^-x); e^-x is kept finite (Exp is valid up to +104), which
// changes nothing: 1 / (1 + e^88) is below float's normal range already.
// NaN stays NaN, as in the reference (Min may drop it).
template <class DF, class VF = hn::Vec<DF>>
HWY_INLINE VF Sigmoid(const DF d, VF x) {
  const VF one = hn::Set(d, 1.0f);
  const VF e = hn::Exp(d, hn::Min(hn::Neg(x), hn::Set(d, 88.0f)));
  return hn::IfThenElse(hn::IsNaN(x), x, hn::Div(one, hn::Add(one, e)));
}

HWY_INLINE V Activate(const D d, const RnnActivationSpec& a, V x) {
  switch (a.kind) {
    case RnnActivation::Sigmoid: return Sigmoid(d, x);
    case RnnActivation::Tanh: return hn::Tanh(d, x);
    case RnnActivation::Relu: return hn::Max(x, hn::Zero(d));
    default: {  // the rarely used ONNX activations: lane by lane, as the reference
      HWY_ALIGN float lanes[kPanel];
      hn::Store(x, d, lanes);
      for (size_t k = 0; k < kL; ++k) lanes[k] = rnn_activate(a, lanes[k]);
      return hn::Load(d, lanes);
    }
  }
}

template <class VF>
struct ClipT {
  bool on;
  VF lo, hi;
  HWY_INLINE VF operator()(VF v) const { return on ? hn::Min(hn::Max(v, lo), hi) : v; }
};
using Clip = ClipT<V>;

int64_t row_len(const RecurrentParams& p, const void* seq_lens, int64_t b) {
  if (!seq_lens) return p.seq_length;
  return p.seq_lens_i64 ? static_cast<const int64_t*>(seq_lens)[b] : static_cast<const int32_t*>(seq_lens)[b];
}

// The products of the float32 kernel: W and R packed for the GEMM (prepare_fast_recurrent).
struct PackedProjections {
  const PackedRecurrentParams& f;
  const float* packed;
  // xp[rows, G*Hp] = X[rows, I] * W^T + bias (every step's input projection)
  void input(int dd, const float* X, int64_t rows, float* xp) const {
    const int64_t I = f.r.input_size, GHp = recurrent_gates(f.r.cell) * f.hp;
    const float* w = packed + f.w_off[dd];
    if (rows > 0) fast_gemm_packed(rows, X, I, I, GHp, w, w + packed_b_floats(I, GHp), xp, GHp);
  }
  // hr[N, gates*Hp] = h[N, Hp] * R^T (+ Rb of the GRU h gate when it goes with R)
  void recurrent(int dd, const float* h, int64_t N, int64_t gates, float* hr) const {
    const int64_t H = f.r.hidden, n = gates * f.hp;
    const float* r = packed + f.r_off[dd];
    fast_gemm_packed(N, h, f.hp, H, n, r, f.r_bias ? r + packed_b_floats(H, n) : nullptr, hr, n);
  }
  // hn[N, Hp] = (r*h)[N, Hp] * R_h^T (GRU, linear_before_reset = 0)
  void recurrent_h(int dd, const float* rh, int64_t N, float* hn) const {
    fast_gemm_packed(N, rh, f.hp, f.r.hidden, f.hp, packed + f.rh_off[dd], nullptr, hn, f.hp);
  }
  // The LSTM peepholes i, o, f, each padded to Hp; nullptr when absent.
  const float* peepholes(int dd) const { return f.peep_off[dd] < 0 ? nullptr : packed + f.peep_off[dd]; }
};

// The products of the weight-only int8 kernel (recurrent.h): W, R as the
// node has them ([D, G*H, K] int8, row-major), a float scale per row. Each
// output is (sum over k of float(q) * v in vector lanes, then the lanes
// summed, then the tail in k order) * scale[row]: four rows at a time share
// the loads of v.
struct W8Projections {
  const RecurrentParams& p;
  int64_t hp;
  const int8_t* W;
  const int8_t* R;
  const float* W_scale;
  const float* R_scale;
  const float* B;  // [D, 2*G*H] Wb then Rb, or nullptr
  float* peep;     // scratch [D, 3*Hp]: P padded per gate, or nullptr

  // out[g*Hp + j] = scale[o] * q[o] . v + bias[o] for the rows o = g*H + j
  // of `gates` gate blocks from `first`; the padding columns are zero.
  static void Rows(const int8_t* q, const float* scale, int64_t K, const float* v, int64_t H, int64_t Hp,
                   int64_t first, int64_t gates, const float* bias_a, const float* bias_b, float* out) {
    const D d;
    const hn::Rebind<int8_t, D> d8;
    const hn::Rebind<int32_t, D> d32;
    auto load = [&](const int8_t* at) { return hn::ConvertTo(d, hn::PromoteTo(d32, hn::LoadU(d8, at))); };
    const int64_t Kv = K / static_cast<int64_t>(kL) * static_cast<int64_t>(kL);
    for (int64_t g = 0; g < gates; ++g) {
      float* o = out + g * Hp;
      for (int64_t j = H; j < Hp; ++j) o[j] = 0.0f;
      const int64_t row0 = (first + g) * H;
      int64_t j = 0;
      for (; j + 4 <= H; j += 4) {
        const int8_t* q0 = q + (row0 + j) * K;
        V a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
        for (int64_t k = 0; k < Kv; k += static_cast<int64_t>(kL)) {
          const V x = hn::LoadU(d, v + k);
          a0 = hn::MulAdd(load(q0 + k), x, a0);
          a1 = hn::MulAdd(load(q0 + K + k), x, a1);
          a2 = hn::MulAdd(load(q0 + 2 * K + k), x, a2);
          a3 = hn::MulAdd(load(q0 + 3 * K + k), x, a3);
        }
        float s[4] = {hn::GetLane(hn::SumOfLanes(d, a0)), hn::GetLane(hn::SumOfLanes(d, a1)),
                      hn::GetLane(hn::SumOfLanes(d, a2)), hn::GetLane(hn::SumOfLanes(d, a3))};
        for (int r = 0; r < 4; ++r) {
          for (int64_t k = Kv; k < K; ++k) s[r] += static_cast<float>(q0[r * K + k]) * v[k];
          o[j + r] = s[r] * scale[row0 + j + r];
        }
      }
      for (; j < H; ++j) {
        const int8_t* qr = q + (row0 + j) * K;
        V a = hn::Zero(d);
        for (int64_t k = 0; k < Kv; k += static_cast<int64_t>(kL)) a = hn::MulAdd(load(qr + k), hn::LoadU(d, v + k), a);
        float s = hn::GetLane(hn::SumOfLanes(d, a));
        for (int64_t k = Kv; k < K; ++k) s += static_cast<float>(qr[k]) * v[k];
        o[j] = s * scale[row0 + j];
      }
      if (bias_a)
        for (j = 0; j < H; ++j) o[j] += bias_a[row0 + j] + (bias_b ? bias_b[row0 + j] : 0.0f);
    }
  }
  int64_t GH() const { return recurrent_gates(p.cell) * p.hidden; }
  // Rb of the GRU h gate goes with R when linear_before_reset (it is multiplied by r).
  bool r_bias() const { return B && p.cell == RnnCell::Gru && p.linear_before_reset; }
  void input(int dd, const float* X, int64_t rows, float* xp) const {
    const int64_t I = p.input_size, H = p.hidden, G = recurrent_gates(p.cell), gh = GH();
    const int8_t* w = W + dd * gh * I;
    const float* ws = W_scale + dd * gh;
    const float* wb = B ? B + dd * 2 * gh : nullptr;
    for (int64_t row = 0; row < rows; ++row) {
      const float* x = X + row * I;
      float* out = xp + row * G * hp;
      const int64_t both = r_bias() ? 2 : G;  // gates whose bias is Wb + Rb here
      Rows(w, ws, I, x, H, hp, 0, both, wb, wb ? wb + gh : nullptr, out);
      if (both < G) Rows(w, ws, I, x, H, hp, both, G - both, wb, nullptr, out + both * hp);
    }
  }
  void recurrent(int dd, const float* h, int64_t N, int64_t gates, float* hr) const {
    const int64_t H = p.hidden, gh = GH();
    const int8_t* r = R + dd * gh * H;
    const float* rs = R_scale + dd * gh;
    const float* rb = r_bias() ? B + dd * 2 * gh + gh : nullptr;
    for (int64_t b = 0; b < N; ++b) {
      float* out = hr + b * gates * hp;
      const int64_t plain = rb ? 2 : gates;
      Rows(r, rs, H, h + b * hp, H, hp, 0, plain, nullptr, nullptr, out);
      if (plain < gates) Rows(r, rs, H, h + b * hp, H, hp, 2, 1, rb, nullptr, out + 2 * hp);
    }
  }
  void recurrent_h(int dd, const float* rh, int64_t N, float* hn_) const {
    const int64_t H = p.hidden, gh = GH();
    for (int64_t b = 0; b < N; ++b)
      Rows(R + dd * gh * H, R_scale + dd * gh, H, rh + b * hp, H, hp, 2, 1, nullptr, nullptr, hn_ + b * hp);
  }
  const float* peepholes(int dd) const { return peep ? peep + dd * 3 * hp : nullptr; }
};

// The float32 and the weight-only int8 kernels: the projections (Proj) differ,
// the steps and the gate equations are these.
template <class Proj>
int RecurrentSteps(const RecurrentParams& p, int64_t Hp, const Proj& proj, const float* X, const void* seq_lens,
                   const float* initial_h, const float* initial_c, float* Y, float* Y_h, float* Y_c, void* scratch) {
  const int64_t S = p.seq_length, N = p.batch, H = p.hidden;
  const int D2 = p.num_directions;
  const int G = recurrent_gates(p.cell);
  const bool gru_split = p.cell == RnnCell::Gru && !p.linear_before_reset;
  const int64_t GR = gru_split ? 2 : G;  // gates in one recurrent product

  int64_t max_len = 0;
  for (int64_t b = 0; b < N; ++b) {
    const int64_t len = row_len(p, seq_lens, b);
    if (len < 0 || len > S) return 1;
    max_len = std::max(max_len, len);
  }

  float* xp = static_cast<float*>(scratch);  // [S*N, G*Hp]
  float* hr = xp + S * N * G * Hp;           // [N, GR*Hp]
  float* hn_ = hr + N * GR * Hp;             // [N, Hp] (GRU split)
  float* h = hn_ + (gru_split ? N * Hp : 0);  // [N, Hp]
  float* c = h + N * Hp;                     // [N, Hp] (LSTM)
  float* tmp = c + (p.cell == RnnCell::Lstm ? N * Hp : 0);  // [N, Hp] (GRU split: r*h)

  const D d;
  const V one = hn::Set(d, 1.0f);
  const Clip clip{p.clip > 0, hn::Set(d, -p.clip), hn::Set(d, p.clip)};

  auto x_row = [&](int64_t t, int64_t b) { return p.layout == 0 ? t * N + b : b * S + t; };
  auto y_at = [&](int64_t t, int dd, int64_t b) {
    return Y + (p.layout == 0 ? ((t * D2 + dd) * N + b) : ((b * S + t) * D2 + dd)) * H;
  };
  auto state_off = [&](int dd, int64_t b) { return (p.layout == 0 ? (dd * N + b) : (b * D2 + dd)) * H; };

  for (int dd = 0; dd < D2; ++dd) {
    const bool rev = D2 == 2 ? dd == 1 : p.reverse;
    const RnnActivationSpec& fa = p.act[dd][0];
    const RnnActivationSpec& ga = p.act[dd][1];
    const RnnActivationSpec& ha = p.act[dd][2];
    const float* P = proj.peepholes(dd);

    proj.input(dd, X, S * N, xp);
    for (int64_t b = 0; b < N; ++b) {
      const int64_t so = state_off(dd, b);
      float* hb = h + b * Hp;
      float* cb = c + b * Hp;
      std::fill(hb, hb + Hp, 0.0f);
      if (initial_h) std::memcpy(hb, initial_h + so, static_cast<size_t>(H) * sizeof(float));
      if (p.cell == RnnCell::Lstm) {
        std::fill(cb, cb + Hp, 0.0f);
        if (initial_c) std::memcpy(cb, initial_c + so, static_cast<size_t>(H) * sizeof(float));
      }
    }

    for (int64_t s = 0; s < max_len; ++s) {
      proj.recurrent(dd, h, N, GR, hr);
      for (int64_t b = 0; b < N; ++b) {
        const int64_t len = row_len(p, seq_lens, b);
        if (s >= len) continue;
        const int64_t t = rev ? len - 1 - s : s;
        const float* x = xp + x_row(t, b) * G * Hp;
        float* r_ = hr + b * GR * Hp;
        float* hb = h + b * Hp;
        switch (p.cell) {
          case RnnCell::Rnn:
            for (int64_t j = 0; j < Hp; j += kL)
              hn::Store(Activate(d, fa, clip(hn::Add(hn::Load(d, x + j), hn::Load(d, r_ + j)))), d, hb + j);
            break;
          case RnnCell::Gru:
            for (int64_t j = 0; j < Hp; j += kL) {
              const V z = Activate(d, fa, clip(hn::Add(hn::Load(d, x + j), hn::Load(d, r_ + j))));
              const V r = Activate(d, fa, clip(hn::Add(hn::Load(d, x + Hp + j), hn::Load(d, r_ + Hp + j))));
              const V hv = hn::Load(d, hb + j);
              if (gru_split) {  // z waits in hr's z block; r*h feeds the second product
                hn::Store(z, d, r_ + j);
                hn::Store(hn::Mul(r, hv), d, tmp + b * Hp + j);
              } else {
                const V n = Activate(
                    d, ga, clip(hn::MulAdd(r, hn::Load(d, r_ + 2 * Hp + j), hn::Load(d, x + 2 * Hp + j))));
                hn::Store(hn::MulAdd(z, hn::Sub(hv, n), n), d, hb + j);  // (1-z)*n + z*h
              }
            }
            break;
          case RnnCell::Lstm: {
            float* cb = c + b * Hp;
            for (int64_t j = 0; j < Hp; j += kL) {
              const V cv = hn::Load(d, cb + j);
              V pi = hn::Add(hn::Load(d, x + j), hn::Load(d, r_ + j));
              V po = hn::Add(hn::Load(d, x + Hp + j), hn::Load(d, r_ + Hp + j));
              V pf = hn::Add(hn::Load(d, x + 2 * Hp + j), hn::Load(d, r_ + 2 * Hp + j));
              const V pc = hn::Add(hn::Load(d, x + 3 * Hp + j), hn::Load(d, r_ + 3 * Hp + j));
              if (P) {
                pi = hn::MulAdd(hn::LoadU(d, P + j), cv, pi);
                pf = hn::MulAdd(hn::LoadU(d, P + 2 * Hp + j), cv, pf);
              }
              const V ig = Activate(d, fa, clip(pi));
              const V fg = p.input_forget ? hn::Sub(one, ig) : Activate(d, fa, clip(pf));
              const V cg = Activate(d, ga, clip(pc));
              const V cn = hn::MulAdd(fg, cv, hn::Mul(ig, cg));
              if (P) po = hn::MulAdd(hn::LoadU(d, P + Hp + j), cn, po);
              const V og = Activate(d, fa, clip(po));
              hn::Store(cn, d, cb + j);
              hn::Store(hn::Mul(og, Activate(d, ha, cn)), d, hb + j);
            }
            break;
          }
        }
      }
      if (gru_split) {
        proj.recurrent_h(dd, tmp, N, hn_);
        for (int64_t b = 0; b < N; ++b) {
          const int64_t len = row_len(p, seq_lens, b);
          if (s >= len) continue;
          const int64_t t = rev ? len - 1 - s : s;
          const float* x = xp + x_row(t, b) * G * Hp + 2 * Hp;
          const float* zb = hr + b * GR * Hp;
          const float* nb = hn_ + b * Hp;
          float* hb = h + b * Hp;
          for (int64_t j = 0; j < Hp; j += kL) {
            const V n = Activate(d, ga, clip(hn::Add(hn::Load(d, x + j), hn::Load(d, nb + j))));
            const V hv = hn::Load(d, hb + j);
            hn::Store(hn::MulAdd(hn::Load(d, zb + j), hn::Sub(hv, n), n), d, hb + j);
          }
        }
      }
      if (Y)
        for (int64_t b = 0; b < N; ++b) {
          const int64_t len = row_len(p, seq_lens, b);
          if (s < len)
            std::memcpy(y_at(rev ? len - 1 - s : s, dd, b), h + b * Hp, static_cast<size_t>(H) * sizeof(float));
        }
    }

    for (int64_t b = 0; b < N; ++b) {
      if (Y)
        for (int64_t t = row_len(p, seq_lens, b); t < S; ++t) std::fill(y_at(t, dd, b), y_at(t, dd, b) + H, 0.0f);
      const int64_t so = state_off(dd, b);
      if (Y_h) std::memcpy(Y_h + so, h + b * Hp, static_cast<size_t>(H) * sizeof(float));
      if (Y_c) std::memcpy(Y_c + so, c + b * Hp, static_cast<size_t>(H) * sizeof(float));
    }
  }
  return 0;
}

int RecurrentRun(const PackedRecurrentParams& f, const float* packed, const float* X, const void* seq_lens,
                 const float* initial_h, const float* initial_c, float* Y, float* Y_h, float* Y_c, void* scratch) {
  return RecurrentSteps(f.r, f.hp, PackedProjections{f, packed}, X, seq_lens, initial_h, initial_c, Y, Y_h, Y_c,
                        scratch);
}

// Scratch: the float kernel's (fast_recurrent_scratch_bytes at Hp), then the
// padded peepholes.
int RecurrentW8Run(const RecurrentParams& p, int64_t hp, const float* X, const int8_t* W, const int8_t* R,
                   const float* W_scale, const float* R_scale, const float* B, const float* P, const void* seq_lens,
                   const float* initial_h, const float* initial_c, float* Y, float* Y_h, float* Y_c, void* scratch,
                   size_t peep_at) {
  float* peep = nullptr;
  if (P) {
    peep = reinterpret_cast<float*>(static_cast<char*>(scratch) + peep_at);
    for (int dd = 0; dd < p.num_directions; ++dd)
      for (int64_t g = 0; g < 3; ++g) {
        float* dst = peep + (dd * 3 + g) * hp;
        std::memcpy(dst, P + (dd * 3 + g) * p.hidden, static_cast<size_t>(p.hidden) * sizeof(float));
        std::fill(dst + p.hidden, dst + hp, 0.0f);
      }
  }
  const W8Projections proj{p, hp, W, R, W_scale, R_scale, B, peep};
  return RecurrentSteps(p, hp, proj, X, seq_lens, initial_h, initial_c, Y, Y_h, Y_c, scratch);
}

// ---- the small-hidden kernels (fast_recurrent.h: small_recurrent_hidden) ----

// acc[i] += b * row[i*L ..] for N accumulators: one input's weights to N vectors of gates.
template <size_t N, class DF, class VF = hn::Vec<DF>>
HWY_INLINE void AddRow(const DF d, const float* row, VF b, VF* acc) {
  for (size_t i = 0; i < N; ++i) acc[i] = hn::MulAdd(b, hn::Load(d, row + i * hn::MaxLanes(d)), acc[i]);
}

// Batch 1, default activations, H a compile-time constant: each step is one
// fused product of [x, h] with the packed [I+H, G*H] weights into G*H/L
// accumulators that the compiler keeps in registers (their loops unrolled), then
// the gate equations on them; c stays in registers across the steps of the
// block, h in a small aligned array whose elements the next step broadcasts.
template <size_t H>
int SmallRun(const PackedRecurrentParams& f, const float* packed, const float* X, const void* seq_lens,
             const float* initial_h, const float* initial_c, float* Y, float* Y_h, float* Y_c) {
  using DH = hn::CappedTag<float, H>;
  using VH = hn::Vec<DH>;
  const DH d;
  constexpr size_t L = hn::MaxLanes(DH());
  static_assert(H % L == 0, "a gate is a whole number of vectors");
  constexpr size_t NH = H / L;  // vectors per gate
  constexpr int64_t Hi = static_cast<int64_t>(H);
  const RecurrentParams& p = f.r;
  const bool lstm = p.cell == RnnCell::Lstm;
  const int64_t S = p.seq_length, I = p.input_size;
  const int D2 = p.num_directions;
  const int64_t len = row_len(p, seq_lens, 0);
  if (len < 0 || len > S) return 1;
  const ClipT<VH> clip{p.clip > 0, hn::Set(d, -p.clip), hn::Set(d, p.clip)};

  for (int dd = 0; dd < D2; ++dd) {
    // Batch 1: states at dd*H and Y rows at (t*D2 + dd)*H in both layouts.
    const float* w = packed + f.w_off[dd];  // [I][G*H], then the bias [G*H]
    const float* r = packed + f.r_off[dd];  // [H][G*H], then (GRU) Rb of the h gate [H]
    const bool rev = D2 == 2 ? dd == 1 : p.reverse;
    HWY_ALIGN float h[H];
    VH c[NH];
    for (size_t j = 0; j < H; ++j) h[j] = initial_h ? initial_h[dd * Hi + static_cast<int64_t>(j)] : 0.0f;
    for (size_t j = 0; j < NH; ++j)
      c[j] = lstm && initial_c ? hn::LoadU(d, initial_c + dd * Hi + static_cast<int64_t>(j * L)) : hn::Zero(d);
    for (int64_t s = 0; s < len; ++s) {
      const int64_t t = rev ? len - 1 - s : s;
      const float* x = X + t * I;
      if (lstm) {  // gates i, o, f, c
        VH acc[4 * NH];
        for (size_t i = 0; i < 4 * NH; ++i) acc[i] = hn::Load(d, w + I * 4 * Hi + static_cast<int64_t>(i * L));
        for (int64_t k = 0; k < I; ++k) AddRow<4 * NH>(d, w + k * 4 * Hi, hn::Set(d, x[k]), acc);
        for (int64_t k = 0; k < Hi; ++k) AddRow<4 * NH>(d, r + k * 4 * Hi, hn::Set(d, h[k]), acc);
        for (size_t j = 0; j < NH; ++j) {
          const VH ig = Sigmoid(d, clip(acc[j]));
          const VH og = Sigmoid(d, clip(acc[NH + j]));
          const VH fg = Sigmoid(d, clip(acc[2 * NH + j]));
          const VH cg = hn::Tanh(d, clip(acc[3 * NH + j]));
          c[j] = hn::MulAdd(fg, c[j], hn::Mul(ig, cg));
          hn::Store(hn::Mul(og, hn::Tanh(d, c[j])), d, h + j * L);
        }
      } else {  // gates z, r, h (linear_before_reset): acc = z, r, x's part of h, h's part of h
        VH acc[4 * NH];
        for (size_t i = 0; i < 3 * NH; ++i) acc[i] = hn::Load(d, w + I * 3 * Hi + static_cast<int64_t>(i * L));
        for (size_t i = 0; i < NH; ++i) acc[3 * NH + i] = hn::Load(d, r + Hi * 3 * Hi + static_cast<int64_t>(i * L));
        for (int64_t k = 0; k < I; ++k) AddRow<3 * NH>(d, w + k * 3 * Hi, hn::Set(d, x[k]), acc);
        for (int64_t k = 0; k < Hi; ++k) {
          const VH b = hn::Set(d, h[k]);
          AddRow<2 * NH>(d, r + k * 3 * Hi, b, acc);
          AddRow<NH>(d, r + k * 3 * Hi + 2 * Hi, b, acc + 3 * NH);
        }
        for (size_t j = 0; j < NH; ++j) {
          const VH z = Sigmoid(d, clip(acc[j]));
          const VH rg = Sigmoid(d, clip(acc[NH + j]));
          const VH n = hn::Tanh(d, clip(hn::MulAdd(rg, acc[3 * NH + j], acc[2 * NH + j])));
          hn::Store(hn::MulAdd(z, hn::Sub(hn::Load(d, h + j * L), n), n), d, h + j * L);  // (1-z)*n + z*h
        }
      }
      if (Y) std::memcpy(Y + (t * D2 + dd) * Hi, h, sizeof h);
    }
    if (Y)
      for (int64_t t = len; t < S; ++t) std::fill(Y + (t * D2 + dd) * Hi, Y + (t * D2 + dd + 1) * Hi, 0.0f);
    if (Y_h) std::memcpy(Y_h + dd * Hi, h, sizeof h);
    if (Y_c)
      for (size_t j = 0; j < NH; ++j) hn::StoreU(c[j], d, Y_c + dd * Hi + static_cast<int64_t>(j * L));
  }
  return 0;
}

int SmallRecurrentRun(const PackedRecurrentParams& f, const float* packed, const float* X, const void* seq_lens,
                      const float* initial_h, const float* initial_c, float* Y, float* Y_h, float* Y_c) {
  switch (f.small_hidden) {
    case 8: return SmallRun<8>(f, packed, X, seq_lens, initial_h, initial_c, Y, Y_h, Y_c);
    case 16: return SmallRun<16>(f, packed, X, seq_lens, initial_h, initial_c, Y, Y_h, Y_c);
    case 32: return SmallRun<32>(f, packed, X, seq_lens, initial_h, initial_c, Y, Y_h, Y_c);
    default: return 1;  // not made by prepare_fast_recurrent
  }
}

const char* RecurrentTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace rtml::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtml::kernels {

HWY_EXPORT(RecurrentRun);
HWY_EXPORT(RecurrentW8Run);
HWY_EXPORT(SmallRecurrentRun);
HWY_EXPORT(RecurrentTargetName);

namespace {

int64_t padded(int64_t n) { return (n + kPanel - 1) / kPanel * kPanel; }

// `m` ([gates*H, cols], gate blocks of H rows) with each block padded to Hp
// rows by zero rows: the weights of the padding columns of the product.
std::vector<float> pad_gate_rows(const float* m, int gates, int64_t H, int64_t Hp, int64_t cols) {
  std::vector<float> out(static_cast<size_t>(gates * Hp * cols), 0.0f);
  for (int g = 0; g < gates; ++g)
    std::memcpy(out.data() + g * Hp * cols, m + g * H * cols, static_cast<size_t>(H * cols) * sizeof(float));
  return out;
}

// The small-hidden layout (fast_recurrent.h): per direction W^T [I][G*H]
// with the bias after it, then R^T [H][G*H] (GRU: with Rb of the h gate
// after it), each block starting on 16 floats.
FastRecurrent prepare_small(const RecurrentParams& p, const float* W, const float* R, const float* B) {
  FastRecurrent f;
  f.p.r = p;
  const int64_t H = p.hidden, I = p.input_size;
  f.p.hp = H;
  f.p.small_hidden = static_cast<int32_t>(H);
  const bool gru = p.cell == RnnCell::Gru;
  const int64_t GH = recurrent_gates(p.cell) * H;
  const int64_t w_floats = padded(I * GH + GH), r_floats = padded(H * GH + (gru ? H : 0));
  f.packed.assign(static_cast<size_t>((w_floats + r_floats) * p.num_directions), 0.0f);
  for (int d = 0; d < 2; ++d) f.p.w_off[d] = f.p.r_off[d] = f.p.rh_off[d] = f.p.peep_off[d] = -1;
  for (int d = 0; d < p.num_directions; ++d) {
    f.p.w_off[d] = d * (w_floats + r_floats);
    f.p.r_off[d] = f.p.w_off[d] + w_floats;
    float* wt = f.packed.data() + f.p.w_off[d];
    float* rt = f.packed.data() + f.p.r_off[d];
    const float* Wb = B ? B + d * 2 * GH : nullptr;
    for (int64_t o = 0; o < GH; ++o) {
      for (int64_t k = 0; k < I; ++k) wt[k * GH + o] = W[(d * GH + o) * I + k];
      for (int64_t k = 0; k < H; ++k) rt[k * GH + o] = R[(d * GH + o) * H + k];
      // Rb of the GRU h gate is multiplied by r: it stays with R's product.
      if (B) wt[I * GH + o] = Wb[o] + (gru && o >= 2 * H ? 0.0f : Wb[GH + o]);
      if (B && gru && o >= 2 * H) rt[H * GH + o - 2 * H] = Wb[GH + o];
    }
  }
  return f;
}

}  // namespace

int small_recurrent_hidden(const RecurrentParams& p, bool peepholes) {
  const int64_t H = p.hidden;
  if (p.batch != 1 || peepholes || (H != 8 && H != 16 && H != 32)) return 0;
  if (p.cell == RnnCell::Rnn || (p.cell == RnnCell::Gru && !p.linear_before_reset) ||
      (p.cell == RnnCell::Lstm && p.input_forget))
    return 0;
  for (int d = 0; d < p.num_directions; ++d)
    if (p.act[d][0].kind != RnnActivation::Sigmoid || p.act[d][1].kind != RnnActivation::Tanh ||
        (p.cell == RnnCell::Lstm && p.act[d][2].kind != RnnActivation::Tanh))
      return 0;
  return static_cast<int>(H);
}

std::string fast_recurrent_kernel(const PackedRecurrentParams& p) {
  const char* cell = p.r.cell == RnnCell::Rnn ? "rnn" : p.r.cell == RnnCell::Gru ? "gru" : "lstm";
  if (p.small_hidden) return std::string("rtml_f32_") + cell + "_h" + std::to_string(p.small_hidden) + "__hwy";
  return std::string("rtml_f32_") + cell + "__packed_hwy";
}

FastRecurrent prepare_fast_recurrent(const RecurrentParams& p, const float* W, const float* R, const float* B,
                                     const float* P) {
  (void)fast_recurrent_target();  // resolve the dispatch now, at prepare, not in the first run
  if (small_recurrent_hidden(p, P != nullptr)) return prepare_small(p, W, R, B);
  FastRecurrent f;
  f.p.r = p;
  const int64_t H = p.hidden, I = p.input_size, Hp = padded(H);
  f.p.hp = Hp;
  const int G = recurrent_gates(p.cell);
  const int64_t GH = G * H;
  const bool gru_split = p.cell == RnnCell::Gru && !p.linear_before_reset;
  const int64_t GR = gru_split ? 2 : G;
  // Rb of the GRU h gate is multiplied by r (linear_before_reset = 1): it goes with R.
  f.p.r_bias = B && p.cell == RnnCell::Gru && p.linear_before_reset;
  // Every block is a whole number of panels, so each stays 64-byte aligned.
  const int64_t w_floats = packed_constant_floats(I, G * Hp, true);
  const int64_t r_floats = packed_constant_floats(H, GR * Hp, f.p.r_bias);
  const int64_t rh_floats = gru_split ? packed_constant_floats(H, Hp, false) : 0;
  const int64_t p_floats = P ? 3 * Hp : 0;
  const int64_t per_dir = w_floats + r_floats + rh_floats + p_floats;
  f.packed.assign(static_cast<size_t>(per_dir * p.num_directions), 0.0f);
  for (int d = 0; d < 2; ++d) f.p.w_off[d] = f.p.r_off[d] = f.p.rh_off[d] = f.p.peep_off[d] = -1;
  for (int d = 0; d < p.num_directions; ++d) {
    const int64_t base = d * per_dir;
    f.p.w_off[d] = base;
    f.p.r_off[d] = base + w_floats;
    if (gru_split) f.p.rh_off[d] = base + w_floats + r_floats;
    if (P) f.p.peep_off[d] = base + w_floats + r_floats + rh_floats;
    const float* Wd = W + d * GH * I;
    const float* Rd = R + d * GH * H;
    const float* Wb = B ? B + d * 2 * GH : nullptr;
    const float* Rb = B ? Wb + GH : nullptr;

    // Input projection bias: Wb + Rb, except the GRU h gate's Rb when it
    // goes with R.
    std::vector<float> wbias(static_cast<size_t>(G * Hp), 0.0f), rbias(static_cast<size_t>(GR * Hp), 0.0f);
    if (B)
      for (int g = 0; g < G; ++g)
        for (int64_t j = 0; j < H; ++j) {
          float& wb = wbias[static_cast<size_t>(g * Hp + j)];
          wb = Wb[g * H + j];
          if (f.p.r_bias && g == 2) rbias[static_cast<size_t>(g * Hp + j)] = Rb[g * H + j];
          else wb += Rb[g * H + j];
        }
    float* dst = f.packed.data();
    const std::vector<float> wpad = pad_gate_rows(Wd, G, H, Hp, I);
    pack_constant(I, G * Hp, wpad.data(), I, true, 1.0f, wbias.data(), dst + f.p.w_off[d]);
    const std::vector<float> rpad = pad_gate_rows(Rd, G, H, Hp, H);
    pack_constant(H, GR * Hp, rpad.data(), H, true, 1.0f, f.p.r_bias ? rbias.data() : nullptr, dst + f.p.r_off[d]);
    if (gru_split) pack_constant(H, Hp, rpad.data() + 2 * Hp * H, H, true, 1.0f, nullptr, dst + f.p.rh_off[d]);
    if (P)
      for (int g = 0; g < 3; ++g)
        std::memcpy(dst + f.p.peep_off[d] + g * Hp, P + d * 3 * H + g * H, static_cast<size_t>(H) * sizeof(float));
  }
  return f;
}

size_t fast_recurrent_scratch_bytes(const PackedRecurrentParams& f) {
  if (f.small_hidden) return 0;  // state and gates live in registers and on the stack
  const RecurrentParams& p = f.r;
  const int64_t N = p.batch, Hp = f.hp;
  const int G = recurrent_gates(p.cell);
  const bool gru_split = p.cell == RnnCell::Gru && !p.linear_before_reset;
  const int64_t GR = gru_split ? 2 : G;
  int64_t floats = p.seq_length * N * G * Hp + N * GR * Hp + N * Hp;  // xp, hr, h
  if (gru_split) floats += 2 * N * Hp;                                // hn, tmp
  if (p.cell == RnnCell::Lstm) floats += N * Hp;                       // c
  return static_cast<size_t>(floats) * sizeof(float);
}

int fast_recurrent_f32(const PackedRecurrentParams& p, const float* packed, const float* X, const void* seq_lens,
                       const float* initial_h, const float* initial_c, float* Y, float* Y_h, float* Y_c,
                       void* scratch) {
  if (p.small_hidden)
    return HWY_DYNAMIC_DISPATCH(SmallRecurrentRun)(p, packed, X, seq_lens, initial_h, initial_c, Y, Y_h, Y_c);
  return HWY_DYNAMIC_DISPATCH(RecurrentRun)(p, packed, X, seq_lens, initial_h, initial_c, Y, Y_h, Y_c, scratch);
}

const char* fast_recurrent_target() { return HWY_DYNAMIC_DISPATCH(RecurrentTargetName)(); }

namespace {

PackedRecurrentParams w8_layout(const RecurrentParams& p) {
  PackedRecurrentParams f{};
  f.r = p;
  f.hp = padded(p.hidden);
  return f;
}

}  // namespace

size_t fast_recurrent_w8_scratch_bytes(const RecurrentParams& p, bool peepholes) {
  const PackedRecurrentParams f = w8_layout(p);
  return fast_recurrent_scratch_bytes(f) +
         (peepholes ? static_cast<size_t>(p.num_directions * 3 * f.hp) * sizeof(float) : 0);
}

int fast_recurrent_w8_f32(const RecurrentParams& p, const float* X, const int8_t* W, const int8_t* R,
                          const float* W_scale, const float* R_scale, const float* B, const float* P,
                          const void* seq_lens, const float* initial_h, const float* initial_c, float* Y, float* Y_h,
                          float* Y_c, void* scratch) {
  const PackedRecurrentParams f = w8_layout(p);
  return HWY_DYNAMIC_DISPATCH(RecurrentW8Run)(p, f.hp, X, W, R, W_scale, R_scale, B, P, seq_lens, initial_h, initial_c,
                                              Y, Y_h, Y_c, scratch, fast_recurrent_scratch_bytes(f));
}

}  // namespace rtml::kernels

namespace {

// Operands: the node's input slots, its output slots, the packed constant, the scratch.
int run_packed_recurrent(const void* params, void* const* ops) {
  using namespace rtml::kernels;
  const auto& f = *static_cast<const rtml_packed_recurrent_params*>(params);
  const RecurrentParams& p = f.r;
  auto in = [&](int i) -> const float* { return i < p.num_inputs ? static_cast<const float*>(ops[i]) : nullptr; };
  auto out = [&](int i) -> float* { return i < p.num_outputs ? static_cast<float*>(ops[p.num_inputs + i]) : nullptr; };
  const bool lstm = p.cell == RnnCell::Lstm;
  return fast_recurrent_f32(f, static_cast<const float*>(ops[f.packed_slot]), in(0),
                            p.num_inputs > 4 ? ops[4] : nullptr, in(5), lstm ? in(6) : nullptr, out(0), out(1),
                            lstm ? out(2) : nullptr, f.small_hidden ? nullptr : ops[f.packed_slot + 1]);
}

}  // namespace

RTML_KERNEL(rtml_f32_rnn__packed_hwy) { return run_packed_recurrent(params, operands); }
RTML_KERNEL(rtml_f32_gru__packed_hwy) { return run_packed_recurrent(params, operands); }
RTML_KERNEL(rtml_f32_lstm__packed_hwy) { return run_packed_recurrent(params, operands); }
RTML_KERNEL(rtml_f32_gru_h8__hwy) { return run_packed_recurrent(params, operands); }
RTML_KERNEL(rtml_f32_gru_h16__hwy) { return run_packed_recurrent(params, operands); }
RTML_KERNEL(rtml_f32_gru_h32__hwy) { return run_packed_recurrent(params, operands); }
RTML_KERNEL(rtml_f32_lstm_h8__hwy) { return run_packed_recurrent(params, operands); }
RTML_KERNEL(rtml_f32_lstm_h16__hwy) { return run_packed_recurrent(params, operands); }
RTML_KERNEL(rtml_f32_lstm_h32__hwy) { return run_packed_recurrent(params, operands); }

namespace {

// Operands as rtml_f32_<cell>_w8__ref's (kernels/recurrent.h).
int run_recurrent_w8(const void* params, void* const* ops) {
  using namespace rtml::kernels;
  const auto& p = *static_cast<const rtml_recurrent_params*>(params);
  const bool lstm = p.cell == RnnCell::Lstm;
  auto in = [&](int i) { return static_cast<const float*>(ops[i]); };
  auto out = [&](int i) -> float* { return i < p.num_outputs ? static_cast<float*>(ops[p.num_inputs + i]) : nullptr; };
  return fast_recurrent_w8_f32(p, in(0), static_cast<const int8_t*>(ops[1]), static_cast<const int8_t*>(ops[2]),
                               in(p.num_inputs - 2), in(p.num_inputs - 1), in(3), lstm ? in(7) : nullptr, ops[4], in(5),
                               lstm ? in(6) : nullptr, out(0), out(1), lstm ? out(2) : nullptr,
                               ops[p.num_inputs + p.num_outputs]);
}

}  // namespace

RTML_KERNEL(rtml_f32_rnn_w8__hwy) { return run_recurrent_w8(params, operands); }
RTML_KERNEL(rtml_f32_gru_w8__hwy) { return run_recurrent_w8(params, operands); }
RTML_KERNEL(rtml_f32_lstm_w8__hwy) { return run_recurrent_w8(params, operands); }
#endif  // HWY_ONCE
