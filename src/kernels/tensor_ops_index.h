// Index-driven and typed data-movement kernels: GatherElements, GatherND,
// ScatterElements, ScatterND, EyeLike, ReverseSequence, Trilu, Range.
// Host-only C++ (not yet in the kernel table: `rtml compile` refuses these
// ops). Same conventions as kernels/tensor_ops.h: element size instead of
// type where values are only moved; a nonzero return for bad run-time data.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "kernels/tensor_ops.h"

namespace rtml::kernels {

// ---- GatherElements / GatherND -------------------------------------------------

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
