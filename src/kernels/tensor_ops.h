/* Data-movement kernels on the kernel table: copy (Identity, Reshape,
 * Flatten, Squeeze, Unsqueeze, Constant, Shape, Size), fill
 * (ConstantOfShape), strided copy (Transpose, Slice, Expand, Tile,
 * DepthToSpace, SpaceToDepth), Concat, Split, Gather and Pad. C/C++ header of
 * the kernel library (kernels/rtml_kernel.h); the index-driven and typed ones
 * (GatherElements, GatherND, Scatter*, EyeLike, ReverseSequence, Trilu,
 * Range) are in kernels/tensor_ops_index.h.
 *
 * Data movement does not look at values, so these kernels work on element
 * size instead of element type: rtml_x32_transpose__ref serves every 4-byte
 * type (float, int32, uint32), rtml_x8_copy__ref copies bytes. A kernel that
 * can meet bad run-time data (an index out of range) returns a nonzero code;
 * all others cannot fail.
 *
 * Entry points (operands in brackets), all portable; N = 8 16 32 64:
 *   rtml_x8_copy__ref             [X?, Y, src?]  bytes from in_slot to out_slot
 *   rtml_xN_fill__ref             [shape, Y]
 *   rtml_xN_<op>__ref             [X, ..., Y]    strided copy; op = transpose slice
 *                                                expand tile depth_to_space space_to_depth
 *   rtml_x8_concat__ref           [X0..Xn-1, Y, blocks]
 *   rtml_x8_split__ref            [X, split?, Y0..Yn-1, blocks]
 *   rtml_x8_gather__ref           [data, indices, Y]          returns 1: index out of range
 *   rtml_xN_pad__ref              [X, pads, value?, axes?, Y] */
#ifndef RTML_KERNELS_TENSOR_OPS_H
#define RTML_KERNELS_TENSOR_OPS_H

#include "kernels/rtml_kernel.h"

/* Copies `bytes` from operand in_slot (an input, or a step constant) to
 * operand out_slot; nothing when they are the same memory (a view the
 * planner aliased). */
typedef struct rtml_copy_params {
  int64_t bytes;
  int32_t in_slot, out_slot;
} rtml_copy_params;

/* `count` copies of the element `value` (its first N/8 bytes). */
typedef struct rtml_fill_params {
  int64_t count;
  uint8_t value[8];
  int32_t out_slot;
} rtml_fill_params;

/* out[i0, ..., i(r-1)] = in[in_offset + sum_k i_k * in_strides[k]] for every
 * output index in row-major order. Strides are in elements and may be 0
 * (broadcast: Expand, Tile) or negative (Slice with negative steps).
 * Transpose permutes the strides; Tile uses two output dims per input dim
 * ([repeat, dim] with strides [0, stride]), hence twice RTML_MAX_RANK. */
#define RTML_MAX_COPY_RANK (2 * RTML_MAX_RANK)
typedef struct rtml_strided_copy_params {
  int32_t rank;
  int64_t count;     /* output elements */
  int64_t in_offset; /* elements */
  int64_t shape[RTML_MAX_COPY_RANK];
  int64_t in_strides[RTML_MAX_COPY_RANK];
  int32_t out_slot;
} rtml_strided_copy_params;

/* Concat views every tensor as [outer, block] where block covers the concat
 * axis and everything after it. For each outer index the inputs' blocks are
 * written one after another. Their sizes in bytes (int64, one per input) are
 * the step constant at blocks_slot; the output is operand num_inputs. */
typedef struct rtml_concat_params {
  int32_t num_inputs;
  int64_t outer;
  int32_t blocks_slot;
} rtml_concat_params;

/* The inverse: each outer block of the input is cut into the outputs'
 * blocks (sizes: the step constant at blocks_slot). A null output (an
 * omitted optional one) is skipped. */
typedef struct rtml_split_params {
  int32_t num_outputs;
  int64_t outer;
  int32_t first_out, blocks_slot;
} rtml_split_params;

/* data viewed as [outer, axis_dim, inner]; indices (int32 or int64, any
 * shape, `num_indices` elements) select along axis_dim; negative indices
 * count from the end. Output: [outer, num_indices, inner]. Returns 1 if an
 * index is out of range [-axis_dim, axis_dim - 1] (the output is then
 * incomplete). */
typedef struct rtml_gather_params {
  int64_t outer, axis_dim, inner_bytes, num_indices;
  int32_t index_size; /* 4 or 8 */
} rtml_gather_params;

/* Output coordinate o maps to input coordinate x = o - pad_begin per dim.
 * Constant: x outside [0, n) gives the value (value_slot's element when
 * value_slot >= 0, a run-time constant_value; else `value`). Edge: x is
 * clamped. Reflect: x mirrors about the first/last element without repeating
 * it (period 2n-2). Wrap: x modulo n. Negative pads crop. */
enum { RTML_PAD_CONSTANT = 0, RTML_PAD_REFLECT = 1, RTML_PAD_EDGE = 2, RTML_PAD_WRAP = 3 };
typedef struct rtml_pad_params {
  int32_t rank;
  uint8_t mode; /* RTML_PAD_* */
  int64_t count; /* output elements */
  int64_t in_shape[RTML_MAX_RANK];
  int64_t out_shape[RTML_MAX_RANK];
  int64_t pad_begin[RTML_MAX_RANK];
  int64_t in_strides[RTML_MAX_RANK];
  uint8_t value[8]; /* the constant, already in the element type */
  int32_t value_slot, out_slot;
} rtml_pad_params;

#define RTML_TENSOR_OPS_SIZES(X) X(x8, uint8_t) X(x16, uint16_t) X(x32, uint32_t) X(x64, uint64_t)
#define RTML_TENSOR_OPS_DECLARE(x, W)                                                                        \
  RTML_KERNEL(rtml_##x##_fill__ref); RTML_KERNEL(rtml_##x##_transpose__ref); RTML_KERNEL(rtml_##x##_slice__ref); \
  RTML_KERNEL(rtml_##x##_expand__ref); RTML_KERNEL(rtml_##x##_tile__ref);                                   \
  RTML_KERNEL(rtml_##x##_depth_to_space__ref); RTML_KERNEL(rtml_##x##_space_to_depth__ref);                 \
  RTML_KERNEL(rtml_##x##_pad__ref);
RTML_TENSOR_OPS_SIZES(RTML_TENSOR_OPS_DECLARE)
#undef RTML_TENSOR_OPS_DECLARE
RTML_KERNEL(rtml_x8_copy__ref);
RTML_KERNEL(rtml_x8_concat__ref);
RTML_KERNEL(rtml_x8_split__ref);
RTML_KERNEL(rtml_x8_gather__ref);

#ifdef __cplusplus
namespace rtml::kernels {

constexpr int kMaxCopyRank = RTML_MAX_COPY_RANK;
using StridedCopyParams = rtml_strided_copy_params;

// Prepare-time helper: drops size-1 dims and merges dims where the input is
// contiguous across them, so plain copies become rank 1 with stride 1.
void simplify_strided_copy(StridedCopyParams& p);

// Element i of an int32 (index_size 4) or int64 index tensor.
inline int64_t read_index(const void* indices, int index_size, int64_t i) {
  return index_size == 4 ? static_cast<const int32_t*>(indices)[i] : static_cast<const int64_t*>(indices)[i];
}

}  // namespace rtml::kernels
#endif

#endif
