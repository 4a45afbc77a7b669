/* Fast RNN / GRU / LSTM (float32, constant weights) on one core, with the
 * same semantics and operand layouts as the reference kernels::recurrent_f32
 * (kernels/recurrent.h), which stays the test oracle.
 *
 * At prepare, W and R of each direction are packed for the SIMD GEMM
 * (kernels/fast_gemm.h) into one constant of the step (layout:
 * rtml_packed_recurrent_params in kernels/recurrent.h), with every gate
 * block padded to Hp = H rounded up to kPanel columns, so each gate starts
 * on a panel and the cell update runs on
 * whole vectors with no tail (padding columns are zero weights and zero
 * bias; their lanes compute finite values that are never stored). The run:
 *
 *   1. one GEMM for the input projection of every time step and batch row:
 *      XP[seq*batch, G*Hp] = X[seq*batch, I] * W^T + (Wb + Rb)
 *      (GRU with linear_before_reset keeps Rb of the h gate out: it is
 *      multiplied by r, so it goes with the recurrent product);
 *   2. per time step, one GEMM of the state of all batch rows with R
 *      (M = batch; the M = 1 path for streaming models), then the gate
 *      equations on vectors: sigmoid and tanh through Highway's Exp / Tanh
 *      (hwy/contrib/math), ReLU as a max; any other ONNX activation goes lane
 *      by lane through the scalar kernels::rnn_activate.
 *   GRU with linear_before_reset = 0 needs r before the h gate's recurrent
 *   product, so its step is two GEMMs: h * R_zr^T, then (r*h) * R_h^T.
 *
 * Small hidden sizes (small_recurrent_hidden: batch 1, H = 8, 16 or 32,
 * GRU with linear_before_reset or LSTM, default activations) take a kernel
 * with H a template constant instead (rtml_f32_{gru,lstm}_h{8,16,32}__hwy):
 * no panel padding (vectors of min(H, 16) lanes) and no GEMM calls; each
 * step is one product of [x, h] with the packed [I+H, G*H] weights into
 * accumulators held in registers, then the gate equations on them; c stays
 * in registers across the steps of a block. Its layout: per direction
 * W^T [I][G*H] then the bias (Wb + Rb; GRU h gate: Wb), from w_off; R^T
 * [H][G*H] then (GRU) Rb of the h gate [H], from r_off; no scratch.
 *
 * Rows whose sequence length has run out keep their state (their lanes of
 * the batched GEMM are computed and ignored). All temporary memory is the
 * caller's scratch (fast_recurrent_scratch_bytes): run does not allocate.
 *
 * The header compiles as C too (for generated C): there it is just the
 * family header it includes, which declares these kernels' entry points. */
#ifndef RTML_KERNELS_FAST_RECURRENT_H
#define RTML_KERNELS_FAST_RECURRENT_H

#include "kernels/recurrent.h"

#ifdef __cplusplus
#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/fast_gemm.h"

namespace rtml::kernels {

// The params and the packed constant prepare makes for constant weights.
struct FastRecurrent {
  PackedRecurrentParams p{};
  AlignedVector<float> packed;
};

// Packs the constant weights (W, R as in recurrent.h; B and P may be null);
// p.packed_slot is left for the caller. A cell that small_recurrent_hidden
// accepts gets the small-hidden layout and kernel.
FastRecurrent prepare_fast_recurrent(const RecurrentParams& p, const float* W, const float* R, const float* B,
                                     const float* P);

// The small-hidden specialisation: 8, 16 or 32 when it covers the cell
// (batch 1; hidden 8, 16 or 32; GRU with linear_before_reset = 1 or LSTM
// without peepholes and input_forget; the default activations; any clip,
// direction, layout, sequence length), else 0.
int small_recurrent_hidden(const RecurrentParams& p, bool peepholes);

// The kernel table name of a prepared cell: rtml_f32_lstm__packed_hwy, or
// rtml_f32_lstm_h16__hwy for the small-hidden kernel.
std::string fast_recurrent_kernel(const PackedRecurrentParams& p);

size_t fast_recurrent_scratch_bytes(const PackedRecurrentParams& p);
inline size_t fast_recurrent_scratch_bytes(const FastRecurrent& f) { return fast_recurrent_scratch_bytes(f.p); }

// Same contract as recurrent_f32 minus the weights: returns 0, or 1 when a
// sequence length is outside [0, seq_length] (nothing written then).
int fast_recurrent_f32(const PackedRecurrentParams& p, const float* packed, const float* X, const void* seq_lens,
                       const float* initial_h, const float* initial_c, float* Y, float* Y_h, float* Y_c,
                       void* scratch);
inline int fast_recurrent_f32(const FastRecurrent& f, const float* X, const void* seq_lens, const float* initial_h,
                              const float* initial_c, float* Y, float* Y_h, float* Y_c, void* scratch) {
  return fast_recurrent_f32(f.p, f.packed.data(), X, seq_lens, initial_h, initial_c, Y, Y_h, Y_c, scratch);
}

// Weight-only int8 (kernels/recurrent.h: rtml_f32_<cell>_w8__hwy): W and R
// int8 as the node has them (no packing: the plan holds them once), a float
// scale per row; every product a vector dot product (four rows at a time),
// then the same steps and gate equations as the float32 kernel (hidden padded
// to Hp in the scratch). Same contract as recurrent_w8_f32.
size_t fast_recurrent_w8_scratch_bytes(const RecurrentParams& p, bool peepholes);
int fast_recurrent_w8_f32(const RecurrentParams& p, const float* X, const int8_t* W, const int8_t* R,
                          const float* W_scale, const float* R_scale, const float* B, const float* P,
                          const void* seq_lens, const float* initial_h, const float* initial_c, float* Y, float* Y_h,
                          float* Y_c, void* scratch);

// The Highway target the gate math dispatches to on this CPU.
const char* fast_recurrent_target();

}  // namespace rtml::kernels
#endif

#endif
