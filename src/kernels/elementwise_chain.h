/* Elementwise chains: a small program of float32 elementwise ops run as one
 * pass over the data (plan/passes/fuse_elementwise_chains.cpp makes them
 * from chains of single-reader nodes: GELU written as Div/Erf/Add/Mul/Mul,
 * Swish as Mul(x, Sigmoid(x)), bias + LeakyRelu). C header of the kernel
 * library (kernels/rtml_kernel.h).
 *
 *   rtml_f32_elementwise_chain__ref  [I0, (I1, (I2,)) Y]  portable, scalar
 *   rtml_f32_elementwise_chain__hwy  [I0, (I1, (I2,)) Y]  Highway vectors
 *
 * The program: n instructions; instruction i applies op[i] to its operands
 * a[i] (and b[i] for a binary op) and its result is value i; Y is value
 * n - 1. An operand code k >= 0 is value k (k < i), RTML_EW_CHAIN_IMM the
 * constant alpha[i] (binary ops only), RTML_EW_CHAIN_INPUT(j) input Ij,
 * broadcast to Y's shape by bc (1 to 3 inputs; the innermost stride of each
 * is 0 or 1, which make_broadcast gives). Unary ops take their attributes
 * from alpha[i], beta[i], gamma[i] as rtml_unary_params does; Clip has lo in
 * alpha and hi in beta; Square, Cube and SqrtPow are Pow by 2, 3 and 0.5.
 *
 * Neither kernel has maths of its own: the reference calls the reference
 * kernels' per-element functions (elementwise.cpp: unary_op, binary_op),
 * the Highway one the fast kernels' row functions (fast_elementwise.cpp:
 * UnaryRow, BinaryRow) per block of 256 elements held on the stack. So a
 * chain gives, bit for bit, what its nodes give one step each with the same
 * kernel set. */
#ifndef RTML_KERNELS_ELEMENTWISE_CHAIN_H
#define RTML_KERNELS_ELEMENTWISE_CHAIN_H

#include "kernels/elementwise.h"

#define RTML_EW_CHAIN_MAX_OPS 16
#define RTML_EW_CHAIN_IMM (-1)
#define RTML_EW_CHAIN_INPUT(j) (-2 - (j))

/* X(op, Enum): the chain's unary ops (those with a vector kernel, then Pow
 * by 2 / 3 / 0.5 and Clip) and its binary ops, in op-number order. */
#define RTML_EW_CHAIN_UNARY_OPS(X) \
  RTML_EW_HWY_UNARY_OPS(X) X(square, Square) X(cube, Cube) X(sqrt_pow, SqrtPow) X(clip, Clip)
#define RTML_EW_CHAIN_BINARY_OPS(X) RTML_EW_HWY_BINARY_OPS(X) X(max, Max) X(min, Min)

enum rtml_ew_chain_op {
#define RTML_EW_CHAIN_ENUM(op, Op) RTML_EW_CHAIN_##Op,
  RTML_EW_CHAIN_UNARY_OPS(RTML_EW_CHAIN_ENUM)
  RTML_EW_CHAIN_BINARY_OPS(RTML_EW_CHAIN_ENUM)
#undef RTML_EW_CHAIN_ENUM
  RTML_EW_CHAIN_NUM_OPS
};
/* Ops below this number are unary. */
#define RTML_EW_CHAIN_FIRST_BINARY RTML_EW_CHAIN_Add

typedef struct rtml_ew_chain_params {
  rtml_broadcast bc; /* the inputs against Y */
  int32_t n;         /* instructions, 1 to RTML_EW_CHAIN_MAX_OPS */
  int32_t op[RTML_EW_CHAIN_MAX_OPS], a[RTML_EW_CHAIN_MAX_OPS], b[RTML_EW_CHAIN_MAX_OPS];
  float alpha[RTML_EW_CHAIN_MAX_OPS], beta[RTML_EW_CHAIN_MAX_OPS], gamma[RTML_EW_CHAIN_MAX_OPS];
} rtml_ew_chain_params;

RTML_KERNEL(rtml_f32_elementwise_chain__ref);
RTML_KERNEL(rtml_f32_elementwise_chain__hwy);

/* A chain in a product's store: the chain that follows a Conv, Gemm or
 * MatMul (plan/passes/fuse_elementwise_chains.cpp) runs inside that kernel,
 * on each block of Y right after the block is stored, while it is in cache.
 * I0 is Y itself (the program runs in place); I1 and I2, when the program
 * has them, are the operands in_slot and in_slot + 1 of the step; the
 * step's scratch, if any, follows them. The product kernels that take one
 * have a "_chain" entry whose params are theirs followed by this. */
typedef struct rtml_ew_epilogue {
  rtml_ew_chain_params chain; /* bc: Y, then the other inputs, against Y */
  int32_t in_slot;
} rtml_ew_epilogue;

/* Runs e's program in place on Y's elements [begin, end) (row-major), the
 * reference's per-element functions (elementwise.cpp). */
RTML_EXTERN_C void rtml_ew_epilogue_apply_ref(const rtml_ew_epilogue* e, float* y, void* const* operands, int64_t begin,
                                int64_t end);

#endif
