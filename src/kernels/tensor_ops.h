/* Data-movement kernels on the kernel table: copy (Identity, Reshape,
 * Flatten, Squeeze, Unsqueeze, Constant, Shape, Size), fill
 * (ConstantOfShape), strided copy (Transpose, Slice, Expand, Tile,
 * DepthToSpace, SpaceToDepth), Concat, Split, Gather, GatherElements,
 * GatherND, ScatterElements, ScatterND, Pad, EyeLike, ReverseSequence, Trilu
 * and Range. C/C++ header of the kernel library (kernels/rtml_kernel.h).
 *
 * Data movement does not look at values, so these kernels work on element
 * size instead of element type: rtml_x32_transpose__ref serves every 4-byte
 * type (float, int32, uint32), rtml_x8_copy__ref copies bytes. Only the
 * Scatter reductions and Range compute values and are typed. A kernel that
 * can meet bad run-time data (an index out of range) returns a nonzero code;
 * all others cannot fail.
 *
 * Entry points (operands in brackets), all portable; N = 8 16 32 64:
 *   rtml_x8_copy__ref             [X?, Y, src?]  bytes from in_slot to out_slot
 *   rtml_x8_dropout__ref          [X, ratio?, training_mode?, Y, mask?]  returns 2: training
 *   rtml_xN_fill__ref             [shape, Y]
 *   rtml_xN_<op>__ref             [X, ..., Y]    strided copy; op = transpose slice
 *                                                expand tile depth_to_space space_to_depth
 *   rtml_x8_concat__ref           [X0..Xn-1, Y, blocks]
 *   rtml_x8_split__ref            [X, split?, Y0..Yn-1, blocks]
 *   rtml_x8_gather__ref           [data, indices, Y]          returns 1: index out of range
 *   rtml_xN_pad__ref              [X, pads, value?, axes?, Y]
 *   rtml_xN_gather_elements__ref  [data, indices, Y]          returns 1: index out of range
 *   rtml_x8_gather_nd__ref        [data, indices, Y]          returns 1: index out of range
 *   rtml_xN_scatter_elements__ref, rtml_<t>_scatter_elements_<red>__ref  [data, indices, updates, Y]
 *   rtml_xN_scatter_nd__ref, rtml_<t>_scatter_nd_<red>__ref              [data, indices, updates, Y]
 *                                 t = f32 f64 s32 s64, red = add mul max min; return 1 as above
 *   rtml_xN_eye_like__ref         [X, Y]
 *   rtml_x8_reverse_sequence__ref [X, sequence_lens, Y]      returns 1: a length out of range
 *   rtml_xN_trilu__ref            [X, k?, Y]
 *   rtml_<t>_range__ref           [start, limit, delta, Y]   t = f32 f64 s16 s32 s64 */
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

/* Inference-mode Dropout: Y = X, the mask (when mask_slot >= 0 and
 * present) all ones. Returns 2 when a run-time training_mode
 * (training_slot >= 0) is true and the ratio is not 0 (ratio_zero, or the
 * run-time ratio at ratio_slot: a float (ratio_bytes 4) or double (8); 0
 * bytes: not readable, taken as nonzero). */
typedef struct rtml_dropout_params {
  int64_t bytes, mask_count;
  int32_t out_slot, mask_slot, training_slot, ratio_slot, ratio_bytes;
  bool ratio_zero;
} rtml_dropout_params;

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
 * ([repeat, dim] with strides [0, stride]), hence twice RTML_MAX_RANK.
 * With out_strides[rank - 1] != 0 the output is strided too (the row-band
 * tiling's insert, plan/passes/tile_rows.cpp: a band written into the rows
 * of the whole tensor): out[out_offset + sum_k i_k * out_strides[k]];
 * all zero (every other user) means out is written contiguously. */
#define RTML_MAX_COPY_RANK (2 * RTML_MAX_RANK)
typedef struct rtml_strided_copy_params {
  int32_t rank;
  int64_t count;     /* output elements */
  int64_t in_offset; /* elements */
  int64_t shape[RTML_MAX_COPY_RANK];
  int64_t in_strides[RTML_MAX_COPY_RANK];
  int32_t out_slot;
  int64_t out_offset; /* elements; only with out_strides */
  int64_t out_strides[RTML_MAX_COPY_RANK];
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

/* GatherElements / ScatterElements: indices (shape `shape`, `count`
 * elements, int32 or int64) address data element by element: element i at
 * coordinates c reads/writes data at c with c[axis] replaced by indices[i]
 * (negative: from the end). Scatter first copies data (data_bytes) to the
 * output, then combines the updates in row-major order of i (with no
 * reduction a later duplicate wins). Returns 1 on an out-of-range index. */
typedef struct rtml_elements_params {
  int32_t rank, axis, index_size;
  int64_t count, axis_dim, data_bytes;
  int64_t shape[RTML_MAX_RANK];
  int64_t data_strides[RTML_MAX_RANK]; /* of data, elements */
} rtml_elements_params;

/* GatherND: data viewed as [batch, d_0, ..., d_(k-1), inner]; indices as
 * [batch, tuples, k]. Each k-tuple (negative entries count from the end)
 * selects an `inner_bytes` block: out[b, t] = data[b, tuple, :]. Returns 1 on
 * an out-of-range entry. */
typedef struct rtml_gather_nd_params {
  int32_t k, index_size;
  int64_t batch, tuples, data_batch_bytes, inner_bytes;
  int64_t dims[RTML_MAX_RANK];
  int64_t strides_bytes[RTML_MAX_RANK];
} rtml_gather_nd_params;

/* ScatterND: out = data; then for each of `tuples` int64 k-tuples in
 * indices, the `inner`-element block of out it selects (op)= the next block
 * of updates. Returns 1 on an out-of-range index. */
typedef struct rtml_scatter_nd_params {
  int32_t k;
  int64_t data_bytes, tuples, inner;
  int64_t dims[RTML_MAX_RANK];
  int64_t strides[RTML_MAX_RANK]; /* elements */
} rtml_scatter_nd_params;

/* EyeLike: rows x cols of zeros with `one` (the element 1 in the output
 * type) where j - i == k. */
typedef struct rtml_eye_params {
  int64_t rows, cols, k;
  uint8_t one[8];
  int32_t out_slot;
} rtml_eye_params;

/* ReverseSequence: input viewed as [outer_len, mid_len, inner_bytes] where
 * either the outer or the middle dim is time (the other is batch). For batch
 * b with length L = lens[b] (int64), time steps t < L come from L - 1 - t;
 * the rest are copied. Returns 1 if a length is outside [0, time]. */
typedef struct rtml_reverse_sequence_params {
  bool time_outer; /* time_axis 0, batch_axis 1 */
  int64_t time, batch, inner_bytes;
} rtml_reverse_sequence_params;

/* Trilu: input [batch, rows, cols]. Keeps element (i, j) when j - i >= k
 * (upper) or j - i <= k (lower) and zeroes the rest; k is `k`, or the int64
 * operand 1 when k_runtime. */
typedef struct rtml_trilu_params {
  bool upper, k_runtime;
  int64_t batch, rows, cols, k;
  int32_t out_slot;
} rtml_trilu_params;

/* Range: out[i] = start + i * delta for i in [0, n). */
typedef struct rtml_range_params {
  int64_t n;
} rtml_range_params;

#define RTML_TENSOR_OPS_SIZES(X) X(x8, uint8_t) X(x16, uint16_t) X(x32, uint32_t) X(x64, uint64_t)
#define RTML_TENSOR_OPS_DECLARE(x, W)                                                                        \
  RTML_KERNEL(rtml_##x##_fill__ref); RTML_KERNEL(rtml_##x##_transpose__ref); RTML_KERNEL(rtml_##x##_slice__ref); \
  RTML_KERNEL(rtml_##x##_expand__ref); RTML_KERNEL(rtml_##x##_tile__ref);                                   \
  RTML_KERNEL(rtml_##x##_depth_to_space__ref); RTML_KERNEL(rtml_##x##_space_to_depth__ref);                 \
  RTML_KERNEL(rtml_##x##_pad__ref);                                                                          \
  RTML_KERNEL(rtml_##x##_gather_elements__ref); RTML_KERNEL(rtml_##x##_scatter_elements__ref);            \
  RTML_KERNEL(rtml_##x##_scatter_nd__ref); RTML_KERNEL(rtml_##x##_eye_like__ref);                           \
  RTML_KERNEL(rtml_##x##_trilu__ref);
RTML_TENSOR_OPS_SIZES(RTML_TENSOR_OPS_DECLARE)
#undef RTML_TENSOR_OPS_DECLARE
/* Scatter reductions and Range compute values: typed entries. */
#define RTML_SCATTER_TYPES(X) X(f32, float) X(f64, double) X(s32, int32_t) X(s64, int64_t)
#define RTML_RANGE_TYPES(X) X(f32, float) X(f64, double) X(s16, int16_t) X(s32, int32_t) X(s64, int64_t)
#define RTML_SCATTER_DECLARE(t, T)                                                                   \
  RTML_KERNEL(rtml_##t##_scatter_elements_add__ref); RTML_KERNEL(rtml_##t##_scatter_elements_mul__ref); \
  RTML_KERNEL(rtml_##t##_scatter_elements_max__ref); RTML_KERNEL(rtml_##t##_scatter_elements_min__ref); \
  RTML_KERNEL(rtml_##t##_scatter_nd_add__ref); RTML_KERNEL(rtml_##t##_scatter_nd_mul__ref);             \
  RTML_KERNEL(rtml_##t##_scatter_nd_max__ref); RTML_KERNEL(rtml_##t##_scatter_nd_min__ref);
#define RTML_RANGE_DECLARE(t, T) RTML_KERNEL(rtml_##t##_range__ref);
RTML_SCATTER_TYPES(RTML_SCATTER_DECLARE)
RTML_RANGE_TYPES(RTML_RANGE_DECLARE)
#undef RTML_SCATTER_DECLARE
#undef RTML_RANGE_DECLARE
RTML_KERNEL(rtml_x8_gather_nd__ref);
RTML_KERNEL(rtml_x8_reverse_sequence__ref);
RTML_KERNEL(rtml_x8_copy__ref);
RTML_KERNEL(rtml_x8_dropout__ref);
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
