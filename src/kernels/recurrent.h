// One-layer recurrent cells as specified by ONNX: RNN, GRU and LSTM.
//
// Shapes (D = num_directions, G = gates per cell: RNN 1, GRU 3, LSTM 4,
// H = hidden_size, I = input_size):
//   X          [seq, batch, I]   (layout 0)  or [batch, seq, I]   (layout 1)
//   W          [D, G*H, I]       gate blocks in ONNX order: GRU z,r,h; LSTM i,o,f,c
//   R          [D, G*H, H]
//   B          [D, 2*G*H]        Wb then Rb (optional, zero when absent)
//   seq_lens   [batch]           int32 or int64 (optional, seq when absent)
//   initial_h  [D, batch, H]     (layout 0)  or [batch, D, H]     (layout 1)
//   initial_c  like initial_h    (LSTM only)
//   P          [D, 3*H]          LSTM peepholes, order i,o,f (optional)
//   Y          [seq, D, batch, H] (layout 0) or [batch, seq, D, H] (layout 1)
//   Y_h, Y_c   like initial_h
//
// Algorithm: a clear reference implementation. For each direction and each
// batch row (rows are independent), the state h (and c) walks the row's valid
// time steps — forward 0..len-1, reverse len-1..0 — and each step computes
// the gate pre-activations W·x + R·h + Wb + Rb as plain dot products, clips
// them to [-clip, clip] when clip > 0, and applies the cell equations:
//   RNN:  h = f(pre)
//   GRU:  z = f(pre_z), r = f(pre_r),
//         n = g(Wh·x + Wbh + Rh·(r*h) + Rbh)        (linear_before_reset = 0)
//         n = g(Wh·x + Wbh + r*(Rh·h + Rbh))        (linear_before_reset = 1)
//         h = (1-z)*n + z*h
//   LSTM: i = f(pre_i + Pi*c), f = f(pre_f + Pf*c)  (f = 1-i if input_forget),
//         c = f*c + i*g(pre_c), o = f(pre_o + Po*c), h = o*h(c)
// Y rows past a row's sequence length are zero; Y_h/Y_c hold the state after
// the row's last valid step (the initial state when the length is 0).
// Temporary memory comes from `scratch` (recurrent_scratch_bytes).
// Nodes with constant weights run kernels/fast_recurrent.h instead; this
// kernel serves weights known only at run time and is its test oracle.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rtml::kernels {

enum class RnnCell : int32_t { Rnn, Gru, Lstm };

enum class RnnActivation : int32_t {
  Relu,
  Tanh,
  Sigmoid,
  Affine,           // alpha*x + beta
  LeakyRelu,        // x >= 0 ? x : alpha*x
  ThresholdedRelu,  // x > alpha ? x : 0
  ScaledTanh,       // alpha*tanh(beta*x)
  HardSigmoid,      // clamp(alpha*x + beta, 0, 1)
  Elu,              // x >= 0 ? x : alpha*(exp(x)-1)
  Softsign,         // x / (1 + |x|)
  Softplus,         // log(1 + exp(x))
};

struct RnnActivationSpec {
  RnnActivation kind = RnnActivation::Tanh;
  float alpha = 0;
  float beta = 0;
};

float rnn_activate(const RnnActivationSpec& a, float x);

struct RecurrentParams {
  RnnCell cell = RnnCell::Rnn;
  int64_t seq_length = 0;
  int64_t batch = 0;
  int64_t input_size = 0;
  int64_t hidden = 0;
  int32_t num_directions = 1;
  bool reverse = false;  // single direction running backwards ("reverse")
  int32_t layout = 0;    // 0: sequence-first, 1: batch-first
  // Per direction: f, g, h (RNN uses f; GRU f,g; LSTM f,g,h).
  RnnActivationSpec act[2][3] = {};
  float clip = 0;  // <= 0: no clipping
  bool linear_before_reset = false;
  bool input_forget = false;
  bool seq_lens_i64 = false;  // sequence_lens dtype (int32 when false)
};

int recurrent_gates(RnnCell cell);
size_t recurrent_scratch_bytes(const RecurrentParams& p);

// Returns 0, or 1 when a sequence length is outside [0, seq_length].
// Any of B, seq_lens, initial_h, initial_c, P, Y, Y_h, Y_c may be nullptr.
int recurrent_f32(const RecurrentParams& p, const float* X, const float* W, const float* R, const float* B,
                  const void* seq_lens, const float* initial_h, const float* initial_c, const float* P, float* Y,
                  float* Y_h, float* Y_c, void* scratch);

}  // namespace rtml::kernels
