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

#include "kernels/fast_gemm.h"

namespace rtml::kernels {

// The params and the packed constant prepare makes for constant weights.
struct FastRecurrent {
  PackedRecurrentParams p{};
  AlignedVector<float> packed;
};

// Packs the constant weights (W, R as in recurrent.h; B and P may be null);
// p.packed_slot is left for the caller.
FastRecurrent prepare_fast_recurrent(const RecurrentParams& p, const float* W, const float* R, const float* B,
                                     const float* P);

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

// The Highway target the gate math dispatches to on this CPU.
const char* fast_recurrent_target();

}  // namespace rtml::kernels
#endif

#endif
