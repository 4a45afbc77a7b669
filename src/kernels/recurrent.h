/* One-layer recurrent cells as specified by ONNX: RNN, GRU and LSTM.
 *
 * Shapes (D = num_directions, G = gates per cell: RNN 1, GRU 3, LSTM 4,
 * H = hidden_size, I = input_size):
 *   X          [seq, batch, I]   (layout 0)  or [batch, seq, I]   (layout 1)
 *   W          [D, G*H, I]       gate blocks in ONNX order: GRU z,r,h; LSTM i,o,f,c
 *   R          [D, G*H, H]
 *   B          [D, 2*G*H]        Wb then Rb (optional, zero when absent)
 *   seq_lens   [batch]           int32 or int64 (optional, seq when absent)
 *   initial_h  [D, batch, H]     (layout 0)  or [batch, D, H]     (layout 1)
 *   initial_c  like initial_h    (LSTM only)
 *   P          [D, 3*H]          LSTM peepholes, order i,o,f (optional)
 *   Y          [seq, D, batch, H] (layout 0) or [batch, seq, D, H] (layout 1)
 *   Y_h, Y_c   like initial_h
 *
 * Algorithm: a clear reference implementation. For each direction and each
 * batch row (rows are independent), the state h (and c) walks the row's valid
 * time steps — forward 0..len-1, reverse len-1..0 — and each step computes
 * the gate pre-activations W·x + R·h + Wb + Rb as plain dot products, clips
 * them to [-clip, clip] when clip > 0, and applies the cell equations:
 *   RNN:  h = f(pre)
 *   GRU:  z = f(pre_z), r = f(pre_r),
 *         n = g(Wh·x + Wbh + Rh·(r*h) + Rbh)        (linear_before_reset = 0)
 *         n = g(Wh·x + Wbh + r*(Rh·h + Rbh))        (linear_before_reset = 1)
 *         h = (1-z)*n + z*h
 *   LSTM: i = f(pre_i + Pi*c), f = f(pre_f + Pf*c)  (f = 1-i if input_forget),
 *         c = f*c + i*g(pre_c), o = f(pre_o + Po*c), h = o*h(c)
 * Y rows past a row's sequence length are zero; Y_h/Y_c hold the state after
 * the row's last valid step (the initial state when the length is 0).
 * Temporary memory comes from `scratch` (recurrent_scratch_bytes).
 * In the simd kernel set, nodes with constant weights run
 * kernels/fast_recurrent.h instead; this kernel serves weights known only at
 * run time, the reference and cortex-m sets, and is the test oracle.
 *
 * Entry points (operands: the node's inputs X, W, R, B?, sequence_lens?,
 * initial_h?, initial_c?, P? and outputs Y?, Y_h?, Y_c? as far as it lists
 * them, then the scratch):
 *   rtml_f32_rnn__ref, rtml_f32_gru__ref, rtml_f32_lstm__ref
 *   rtml_f32_{rnn,gru,lstm}__packed_hwy (kernels/fast_recurrent.h; W, R, B and
 *   P are read from the packed constant, which follows the outputs)
 *   rtml_f32_{gru,lstm}_h{8,16,32}__hwy (the same, small hidden sizes; no scratch)
 *
 * Weight-only int8 (plan/passes/fuse_qdq.cpp makes them from DequantizeLinear
 * of int8 constants feeding W and R): W and R are int8 [D, G*H, I] / [D, G*H, H]
 * with a float scale per row (W_scale, R_scale [D*G*H]); state, gates, bias,
 * peepholes and every activation stay float32. Each gate's product is
 *     (sum_k float(w_q[row][k]) * x[k]) * scale[row]
 * accumulated in float32: the reference in k order, the Highway kernel in
 * vector lanes (kernels/fast_recurrent.h), so they agree to rounding (the two
 * sums are each within K * 2^-24 * sum_k |w_q x| of the exact one), not bit
 * for bit. Operands: X, W, R, B?, sequence_lens?, initial_h?, (initial_c?,
 * P?,) every slot listed (absent ones null), then W_scale, R_scale, the
 * outputs Y?, Y_h?, (Y_c?,) and the scratch (num_inputs counts the scales):
 *   rtml_f32_{rnn,gru,lstm}_w8__ref, rtml_f32_{rnn,gru,lstm}_w8__hwy */
#ifndef RTML_KERNELS_RECURRENT_H
#define RTML_KERNELS_RECURRENT_H

#include "kernels/rtml_kernel.h"

/* An activation: kind is an RnnActivation (below), alpha and beta its parameters. */
typedef struct rtml_rnn_activation {
  int32_t kind;
  float alpha, beta;
} rtml_rnn_activation;

typedef struct rtml_recurrent_params {
  int32_t cell; /* RnnCell: 0 RNN, 1 GRU, 2 LSTM */
  int64_t seq_length, batch, input_size, hidden;
  int32_t num_directions;
  bool reverse;   /* single direction running backwards ("reverse") */
  int32_t layout; /* 0: sequence-first, 1: batch-first */
  /* Per direction: f, g, h (RNN uses f; GRU f,g; LSTM f,g,h). */
  rtml_rnn_activation act[2][3];
  float clip; /* <= 0: no clipping */
  bool linear_before_reset, input_forget;
  bool seq_lens_i64;    /* sequence_lens dtype (int32 when false) */
  int32_t num_inputs;   /* node input slots (operands before the outputs) */
  int32_t num_outputs;  /* node output slots */
} rtml_recurrent_params;

/* Params of rtml_f32_{rnn,gru,lstm}__packed_hwy (kernels/fast_recurrent.h):
 * the cell's params and where each direction's weights sit in the packed
 * constant (float offsets, each a multiple of the GEMM panel): W with the
 * input-projection bias (K = I, N = G*hp, in fast_gemm.h's pack_constant
 * layout), R (K = H, N = G*hp, or 2*hp for GRU with linear_before_reset = 0;
 * with its bias when r_bias), the GRU h gate's R (rh_off; -1 when not
 * split) and the LSTM peepholes i, o, f, each padded to hp (peep_off; -1
 * when absent). */
typedef struct rtml_packed_recurrent_params {
  rtml_recurrent_params r;
  int64_t hp; /* hidden size padded to a whole number of panels */
  int32_t packed_slot;
  bool r_bias;
  int64_t w_off[2], r_off[2], rh_off[2], peep_off[2];
  /* 8, 16 or 32: the small-hidden layout and kernel rtml_f32_{gru,lstm}_hN__hwy
   * (kernels/fast_recurrent.h); 0: the panel layout above */
  int32_t small_hidden;
} rtml_packed_recurrent_params;

RTML_KERNEL(rtml_f32_rnn__ref);
RTML_KERNEL(rtml_f32_gru__ref);
RTML_KERNEL(rtml_f32_lstm__ref);
RTML_KERNEL(rtml_f32_rnn__packed_hwy);
RTML_KERNEL(rtml_f32_gru__packed_hwy);
RTML_KERNEL(rtml_f32_lstm__packed_hwy);
RTML_KERNEL(rtml_f32_gru_h8__hwy);
RTML_KERNEL(rtml_f32_gru_h16__hwy);
RTML_KERNEL(rtml_f32_gru_h32__hwy);
RTML_KERNEL(rtml_f32_lstm_h8__hwy);
RTML_KERNEL(rtml_f32_lstm_h16__hwy);
RTML_KERNEL(rtml_f32_lstm_h32__hwy);
RTML_KERNEL(rtml_f32_rnn_w8__ref);
RTML_KERNEL(rtml_f32_gru_w8__ref);
RTML_KERNEL(rtml_f32_lstm_w8__ref);
RTML_KERNEL(rtml_f32_rnn_w8__hwy);
RTML_KERNEL(rtml_f32_gru_w8__hwy);
RTML_KERNEL(rtml_f32_lstm_w8__hwy);

#ifdef __cplusplus
#include <stddef.h>

namespace rtml::kernels {

// Plain enums with an int32_t base, so that they assign to the params' int32_t
// fields; their own namespace keeps the enumerators out of rtml::kernels
// (write RnnCell::Gru).
namespace rnn_enums {
enum RnnCell : int32_t { Rnn, Gru, Lstm };
enum RnnActivation : int32_t {
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
}  // namespace rnn_enums
using rnn_enums::RnnActivation;
using rnn_enums::RnnCell;

using RnnActivationSpec = rtml_rnn_activation;
using RecurrentParams = rtml_recurrent_params;
using PackedRecurrentParams = rtml_packed_recurrent_params;

float rnn_activate(const RnnActivationSpec& a, float x);

int recurrent_gates(int32_t cell);
size_t recurrent_scratch_bytes(const RecurrentParams& p);

// Returns 0, or 1 when a sequence length is outside [0, seq_length].
// Any of B, seq_lens, initial_h, initial_c, P, Y, Y_h, Y_c may be nullptr.
int recurrent_f32(const RecurrentParams& p, const float* X, const float* W, const float* R, const float* B,
                  const void* seq_lens, const float* initial_h, const float* initial_c, const float* P, float* Y,
                  float* Y_h, float* Y_c, void* scratch);

// The same with int8 weights and a float scale per row of W and R ([D*G*H]
// each): weight-only int8 (above). Same scratch and return value.
int recurrent_w8_f32(const RecurrentParams& p, const float* X, const int8_t* W, const int8_t* R, const float* W_scale,
                     const float* R_scale, const float* B, const void* seq_lens, const float* initial_h,
                     const float* initial_c, const float* P, float* Y, float* Y_h, float* Y_c, void* scratch);

}  // namespace rtml::kernels
#endif

#endif
