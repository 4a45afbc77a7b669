/* NumPy-style (multidirectional) broadcasting for kernels with up to three
 * inputs: C/C++ header of the kernel library (kernels/rtml_kernel.h).
 * prepare computes an rtml_broadcast once (kernels/broadcast_plan.h, host
 * only); kernels walk it without allocating.
 *
 * Strides are in elements; a broadcast dimension has stride 0. Dimensions of
 * size 1 in the output are dropped and adjacent dimensions that are
 * contiguous for every input are merged, so the common cases (same shape,
 * scalar, row vector) end up with rank 0 or 1 and a tight inner loop. */
#ifndef RTML_KERNELS_BROADCAST_H
#define RTML_KERNELS_BROADCAST_H

#include "kernels/rtml_kernel.h"

typedef struct rtml_broadcast {
  int32_t rank;       /* after merging; 0 means a single element */
  int32_t num_inputs; /* 1 to 3 */
  int64_t count;      /* output elements */
  int64_t shape[RTML_MAX_RANK];
  int64_t strides[3][RTML_MAX_RANK];
} rtml_broadcast;

#ifdef __cplusplus
namespace rtml::kernels {

using Broadcast = rtml_broadcast;

// Calls row(out_index, offset_0, offset_1, offset_2, n) for every run of the
// innermost dimension in row-major order, cut to the output elements [begin,
// end): n output elements from out_index, input k's element j of the run at
// offset_k + j * strides[k][rank - 1]. Offsets of unused inputs are 0. A
// rank-0 walk is one run of one element. (A product's store runs an
// elementwise chain on one tile's elements this way: elementwise_chain.h.)
template <class F>
inline void broadcast_for_each_row_in(const Broadcast& b, int64_t begin, int64_t end, F&& row) {
  if (end > b.count) end = b.count;
  if (begin >= end) return;
  if (b.rank == 0) {
    row(int64_t{0}, int64_t{0}, int64_t{0}, int64_t{0}, int64_t{1});
    return;
  }
  const int last = b.rank - 1;
  const int64_t n = b.shape[last];
  int64_t idx[RTML_MAX_RANK] = {};
  int64_t base[3] = {0, 0, 0};
  // The index of `begin` (row-major) and the inputs' offsets there.
  for (int64_t rest = begin, d = last; d >= 0; --d) {
    idx[d] = rest % b.shape[d];
    rest /= b.shape[d];
    for (int k = 0; k < 3; ++k) base[k] += idx[d] * b.strides[k][d];
  }
  int64_t out = begin;
  while (true) {
    const int64_t from = idx[last];
    const int64_t len = n - from < end - out ? n - from : end - out;
    row(out, base[0], base[1], base[2], len);
    out += len;
    if (out >= end) return;
    for (int k = 0; k < 3; ++k) base[k] -= from * b.strides[k][last];
    idx[last] = 0;
    for (int d = last - 1; d >= 0; --d) {
      ++idx[d];
      for (int k = 0; k < 3; ++k) base[k] += b.strides[k][d];
      if (idx[d] < b.shape[d]) break;
      for (int k = 0; k < 3; ++k) base[k] -= b.strides[k][d] * b.shape[d];
      idx[d] = 0;
    }
  }
}

// The same over every output element.
template <class F>
inline void broadcast_for_each_row(const Broadcast& b, F&& row) {
  broadcast_for_each_row_in(b, 0, b.count, row);
}

// Calls f(out_index, offset_0, offset_1, offset_2) for every output element in
// row-major order. Offsets of unused inputs are 0.
template <class F>
inline void broadcast_for_each(const Broadcast& b, F&& f) {
  const int last = b.rank - 1;
  const int64_t s0 = b.rank ? b.strides[0][last] : 0, s1 = b.rank ? b.strides[1][last] : 0,
                s2 = b.rank ? b.strides[2][last] : 0;
  broadcast_for_each_row(b, [&](int64_t out, int64_t i0, int64_t i1, int64_t i2, int64_t n) {
    for (int64_t i = 0; i < n; ++i) f(out + i, i0 + i * s0, i1 + i * s1, i2 + i * s2);
  });
}

}  // namespace rtml::kernels
#endif

#endif
