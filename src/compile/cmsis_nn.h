// compile/cmsis_nn: the `cmsis-nn` kernel set of `rtml compile` (--kernels
// cmsis-nn --cmsis-nn DIR): the int8 steps CMSIS-NN covers become calls into
// the user's copy of CMSIS-NN (v7 API, arm_nnfunctions.h), the rest stay
// rtml kernel calls (the plan is made with the portable reference kernels).
//
// Covered (the plan step's kernel -> CMSIS-NN function), when the weights,
// zero points and requantization are constants (weight zero point 0):
//   rtml_s8_conv__ref (group 1)          -> arm_convolve_wrapper_s8
//   rtml_s8_depthwise_conv__ref          -> arm_depthwise_conv_wrapper_s8
//   rtml_s8_fully_connected__ref (1 batch of weights; not on Helium, where
//   CMSIS-NN wants the weights' column sums in ctx.buf)
//                                        -> arm_fully_connected_s8 / _per_channel_s8
//   rtml_s8_qadd__ref (no broadcasting)  -> arm_elementwise_add_s8
//   rtml_s8_softmax__ref                 -> arm_softmax_s8
//   rtml_s8_avgpool__ref, _maxpool__ref (one image, no dilation)
//                                        -> arm_avgpool_s8, arm_max_pool_s8
// The numbers are the same (rtml's int8 is TFLite's scheme, as CMSIS-NN's;
// shifts in the same convention: positive = left), so the output is
// bit-identical to `rtml run --kernels cortex-m`.
//
// Layout: CMSIS-NN reads activations channels-last (NHWC), rtml's plan is
// NCHW. An int8 activation of rank >= 3 that a covered convolution, pool or
// Add writes and only such steps read is held channels-last
// in its arena slot for its whole life; where a covered step meets an NCHW
// tensor (a graph input or output, a view, a step rtml runs) it transposes
// into or out of a scratch buffer with rtml_x8_transpose__ref. Weights are
// re-laid out at compile (OIHW -> OHWI, depthwise -> [1, KH, KW, C_out], fully
// connected -> [N, K]) into new const arrays; the original constants are
// emitted only if another step reads them.
//
// Scratch: per covered step its transposes' buffers and CMSIS-NN's ctx.buf,
// sized at compile by the *_get_buffer_size formulas of CMSIS-NN v7 for the
// target's architecture (plain C on the host, DSP on the M4/M7, MVE on the
// M55); the largest step's need sits after the arena (and state) in the
// caller's arena, so NAME_ARENA_BYTES counts it. The generated code checks
// each size against CMSIS-NN's own *_get_buffer_size before the call and
// fails the step (1 + its index) rather than overrun.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "plan/plan.h"

namespace rtml::compile {

enum class CmsisArch { Plain, Dsp, Mve };

struct CmsisNnCode {
  std::vector<std::string> call;      // per step: "" = an rtml kernel runs it, else the C block's body
  std::vector<std::string> function;  // per step: the CMSIS-NN function called ("" = none)
  std::string statics;                // NAME.c: extern declarations of the arrays below
  std::string weights;                // NAME_weights.c: re-laid weights, biases, multipliers, shifts
  size_t weight_bytes = 0;
  size_t scratch_bytes = 0;           // after scratch_base in the arena
  bool transposes = false;            // the code calls rtml_x8_transpose__ref
  int nhwc_tensors = 0;               // activations held channels-last
};

// The CMSIS-NN calls of `plan` (planned with KernelSet::CmsisNn). `pointer(id)`
// is the C expression of a tensor's bytes (an arena offset, a caller's input
// or output); the scratch starts at arena byte `scratch_base` (64-aligned).
CmsisNnCode cmsis_nn_code(const plan::Plan& plan, const std::string& name, CmsisArch arch, size_t scratch_base,
                          const std::function<std::string(int)>& pointer);

// Throws rtml::Error unless DIR/Include/arm_nnfunctions.h exists.
void check_cmsis_nn_dir(const std::string& dir);

// The CMSIS-NN source folders a project compiles (relative to DIR; the
// linker keeps what the calls reach).
const std::vector<std::string>& cmsis_nn_source_globs();

}  // namespace rtml::compile
