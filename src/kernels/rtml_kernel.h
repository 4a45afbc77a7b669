/* The kernel library's one calling convention, shared by the engine and the
 * C that `rtml compile` generates (C99 and C++; no other include).
 *
 * Every kernel is a C-linkage function
 *     int rtml_<dtype>_<op>__<impl>(const void* params, void* const* operands);
 * `params` points at the kernel's params struct, which holds scalars only
 * (sizes, strides, flags, activation ranges: printable as a C initialiser);
 * `operands` lists the tensors in the step's order: the node's inputs, its
 * outputs, the constants the plan made for the step (packed weights), a
 * fused addend, the scratch (src/ops/op.h). It returns 0, or a nonzero
 * code that the caller reports with the step.
 *
 * The name says the data type (f32, f64, s8, s32, s64, u8, b8 (bool), x32
 * (any 4-byte element)...), the operation and, after two underscores, the
 * implementation (`ref`: the scalar reference, portable; `hwy`: Highway SIMD,
 * Linux targets only). XNNPACK's `xnn_f32_gemm_minmax_ukernel_4x8__neon` is
 * the model.
 *
 * A kernel source marked portable in the kernel table is freestanding C++17:
 * it includes C headers only (<stdint.h>, <string.h>, <math.h>...), throws
 * nothing, allocates nothing, and builds with arm-none-eabi-g++
 * -fno-exceptions -fno-rtti for a Cortex-M. */
#ifndef RTML_KERNEL_H
#define RTML_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define RTML_EXTERN_C extern "C"
#else
#define RTML_EXTERN_C
#endif

/* Most dimensions a kernel handles (params hold fixed arrays of this size). */
#define RTML_MAX_RANK 8

typedef int (*rtml_kernel_fn)(const void* params, void* const* operands);

/* A stateful kernel's reset (the random ops): returns the step's state
 * operand (ops::Step::state_bytes, kept across runs) to its start from the
 * params. Called when a session is created and on every reset; generated C
 * calls it from NAME_init and NAME_reset. */
typedef void (*rtml_kernel_reset_fn)(const void* params, void* state);

/* Declares (or, followed by a body, defines) a kernel entry point. */
#define RTML_KERNEL(symbol) RTML_EXTERN_C int symbol(const void* params, void* const* operands)

#endif
