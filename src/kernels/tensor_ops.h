// Data-movement kernels: copy, strided copy (Transpose, Slice, Expand, Tile,
// DepthToSpace, SpaceToDepth), Concat, Split, Gather, GatherElements,
// GatherND, ScatterElements, ScatterND, Pad, Trilu, EyeLike,
// ReverseSequence, fill (ConstantOfShape) and Range.
//
// Data movement does not look at values, so these kernels work on element
// size (1, 2, 4 or 8 bytes) instead of element type: one instantiation per
// size serves every dtype (float, int64, bool, uint8, float16...). Only Range
// and the Scatter reductions compute values and are typed.
//
// Params are plain structs with fixed-size arrays filled at prepare time;
// kernels never allocate. A kernel that can meet bad run-time data (an index
// out of range) returns a nonzero code; all others cannot fail.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace rtml::kernels {

// ---- plain copy ---------------------------------------------------------------

// Identity, Reshape, Squeeze, ... : the output holds exactly the input bytes.
void copy_bytes(const void* in, void* out, size_t bytes);

// Writes `count` copies of the `elem_size`-byte `value` (ConstantOfShape).
void fill(const void* value, int elem_size, int64_t count, void* out);

// ---- strided copy -------------------------------------------------------------

// out[i0, ..., i(r-1)] = in[offset + sum_k i_k * in_strides[k]] for every
// output index in row-major order. Strides are in elements and may be 0
// (broadcast: Expand, Tile) or negative (Slice with negative steps).
// Transpose permutes the strides; Tile uses two output dims per input dim
// ([repeat, dim] with strides [0, stride]), hence twice kMaxRank.
constexpr int kMaxCopyRank = 2 * kMaxRank;
struct StridedCopyParams {
  int rank = 0;
  int elem_size = 4;
  int64_t count = 0;      // output elements
  int64_t in_offset = 0;  // elements
  int64_t shape[kMaxCopyRank] = {};
  int64_t in_strides[kMaxCopyRank] = {};
};
// Prepare-time helper: drops size-1 dims and merges dims where the input is
// contiguous across them, so plain copies become rank 1 with stride 1.
void simplify_strided_copy(StridedCopyParams& p);
void strided_copy(const StridedCopyParams& p, const void* in, void* out);

// ---- Concat / Split -----------------------------------------------------------

// Views every tensor as [outer, block] where block covers the concat axis and
// everything after it. For each outer index the inputs' blocks are written
// one after another. `in_block_bytes` points at `num_inputs` sizes owned by
// the op layer.
struct ConcatParams {
  int num_inputs = 0;
  int64_t outer = 1;
  int64_t out_block_bytes = 0;
  const int64_t* in_block_bytes = nullptr;
};
void concat(const ConcatParams& p, const void* const* inputs, void* out);

// The inverse: each outer block of the input is cut into the outputs' blocks.
// A null output pointer (omitted optional output) is skipped.
struct SplitParams {
  int num_outputs = 0;
  int64_t outer = 1;
  int64_t in_block_bytes = 0;
  const int64_t* out_block_bytes = nullptr;
};
void split(const SplitParams& p, const void* in, void* const* outputs);

// ---- Gather / GatherElements ---------------------------------------------------

// data viewed as [outer, axis_dim, inner]; indices (int32 or int64, any shape,
// `num_indices` elements) select along axis_dim; negative indices count from
// the end. Output: [outer, num_indices, inner]. Returns 1 if an index is out
// of range [-axis_dim, axis_dim - 1] (the output is then incomplete).
struct GatherParams {
  int64_t outer = 1;
  int64_t axis_dim = 0;
  int64_t inner_bytes = 0;
  int64_t num_indices = 0;
  int index_size = 8;  // 4 or 8
};
int gather(const GatherParams& p, const void* data, const void* indices, void* out);

// out[i] = data[i with coordinate `axis` replaced by indices[i]]; out and
// indices share `shape`. Returns 1 on an out-of-range index.
// GatherElements / ScatterElements: indices (shape `shape`, `count`
// elements) address data element by element: element i at coordinates c
// reads/writes data at c with c[axis] replaced by indices[i].
struct ElementsIndexing {
  int rank = 0;
  int axis = 0;
  int elem_size = 4;
  int index_size = 8;
  int64_t count = 0;
  int64_t axis_dim = 0;  // data.shape[axis]
  int64_t shape[kMaxRank] = {};
  int64_t data_strides[kMaxRank] = {};  // of data (elements)
};
using GatherElementsParams = ElementsIndexing;
int gather_elements(const GatherElementsParams& p, const void* data, const void* indices, void* out);

// data viewed as [batch, d_0, ..., d_(k-1), inner]; indices as [batch,
// tuples, k]. Each k-tuple (negative entries count from the end) selects an
// `inner_bytes` block: out[b, t] = data[b, tuple, :]. Returns 1 on an
// out-of-range entry.
struct GatherNDParams {
  int k = 1;
  int index_size = 8;
  int64_t batch = 1;
  int64_t tuples = 0;            // per batch
  int64_t data_batch_bytes = 0;  // bytes of one batch of data
  int64_t inner_bytes = 0;
  int64_t dims[kMaxRank] = {};
  int64_t strides_bytes[kMaxRank] = {};  // byte stride of each indexed dim
};
int gather_nd(const GatherNDParams& p, const void* data, const void* indices, void* out);

// ---- Scatter ---------------------------------------------------------------------

// How an update combines with the value already in the output.
enum class ScatterReduce : uint8_t { None, Add, Mul, Max, Min };

// ScatterElements: out = data; then for every update element u at index i
// (updates and indices share `shape`), out[i with coordinate `axis` replaced
// by indices[i]] (op)= u, in row-major order of i (so with reduction None a
// later duplicate wins). Reductions need `dtype` F32, F64, I32 or I64
// (returns 2 otherwise); returns 1 on an out-of-range index.
struct ScatterElementsParams {
  ElementsIndexing ix;
  DType dtype = DType::F32;
  ScatterReduce reduce = ScatterReduce::None;
  int64_t data_bytes = 0;  // the whole data tensor
};
int scatter_elements(const ScatterElementsParams& p, const void* data, const void* indices, const void* updates,
                     void* out);

// ScatterND: out = data; then for each of `tuples` k-tuples in indices, the
// `inner`-element block of out it selects (op)= the next block of updates.
// Same return codes as scatter_elements.
struct ScatterNDParams {
  int k = 1;
  int elem_size = 4;
  int index_size = 8;
  DType dtype = DType::F32;
  ScatterReduce reduce = ScatterReduce::None;
  int64_t data_bytes = 0;
  int64_t tuples = 0;
  int64_t inner = 0;  // elements per block
  int64_t dims[kMaxRank] = {};
  int64_t strides[kMaxRank] = {};  // element stride of each indexed dim
};
int scatter_nd(const ScatterNDParams& p, const void* data, const void* indices, const void* updates, void* out);

// ---- EyeLike / ReverseSequence ------------------------------------------------------

// rows x cols of zeros with `one` (elem_size bytes) where j - i == k.
void eye(int64_t rows, int64_t cols, int64_t k, int elem_size, const void* one, void* out);

// Input viewed as [outer_len, mid_len, inner_bytes] where either the outer
// or the middle dim is time (the other is batch). For batch b with length
// L = lens[b], time steps t < L come from L - 1 - t; the rest are copied.
// Returns 1 if a length is outside [0, time].
struct ReverseSequenceParams {
  bool time_outer = true;  // time_axis 0, batch_axis 1
  int index_size = 8;
  int64_t time = 0, batch = 0;
  int64_t inner_bytes = 0;
};
int reverse_sequence(const ReverseSequenceParams& p, const void* in, const void* lens, void* out);

// ---- Pad ------------------------------------------------------------------------

// Output coordinate o maps to input coordinate x = o - pad_begin per dim.
// Constant: x outside [0, n) gives `value`. Edge: x is clamped. Reflect: x
// mirrors about the first/last element without repeating it (period 2n-2).
// Wrap: x modulo n. Negative pads crop.
enum class PadMode : uint8_t { Constant, Reflect, Edge, Wrap };
struct PadParams {
  int rank = 0;
  int elem_size = 4;
  PadMode mode = PadMode::Constant;
  int64_t count = 0;  // output elements
  int64_t in_shape[kMaxRank] = {};
  int64_t out_shape[kMaxRank] = {};
  int64_t pad_begin[kMaxRank] = {};
  int64_t in_strides[kMaxRank] = {};
  alignas(8) unsigned char value[8] = {};  // the constant, already in the element type
};
// `value_override`, if not null, replaces params.value (a run-time
// constant_value input).
void pad(const PadParams& p, const void* in, const void* value_override, void* out);

// ---- Trilu ---------------------------------------------------------------------

// Input [batch, rows, cols]. Keeps element (i, j) when j - i >= k (upper) or
// j - i <= k (lower) and zeroes the rest.
struct TriluParams {
  int elem_size = 4;
  bool upper = true;
  int64_t batch = 1, rows = 0, cols = 0;
};
void trilu(const TriluParams& p, int64_t k, const void* in, void* out);

// ---- Range ---------------------------------------------------------------------

// out[i] = start + i * delta for i in [0, n). `dtype` is F32, F64, I16, I32
// or I64; returns 1 for another type.
int range(DType dtype, const void* start, const void* delta, int64_t n, void* out);

}  // namespace rtml::kernels
