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

// Calls f(out_index, offset_0, offset_1, offset_2) for every output element in
// row-major order. Offsets of unused inputs are 0.
template <class F>
inline void broadcast_for_each(const Broadcast& b, F&& f) {
  if (b.count == 0) return;
  if (b.rank == 0) {
    f(int64_t{0}, int64_t{0}, int64_t{0}, int64_t{0});
    return;
  }
  const int last = b.rank - 1;
  const int64_t n = b.shape[last];
  const int64_t s0 = b.strides[0][last], s1 = b.strides[1][last], s2 = b.strides[2][last];
  int64_t idx[RTML_MAX_RANK] = {};
  int64_t base[3] = {0, 0, 0};
  int64_t out = 0;
  while (true) {
    for (int64_t i = 0; i < n; ++i) f(out + i, base[0] + i * s0, base[1] + i * s1, base[2] + i * s2);
    out += n;
    int d = last - 1;
    for (; d >= 0; --d) {
      ++idx[d];
      for (int k = 0; k < 3; ++k) base[k] += b.strides[k][d];
      if (idx[d] < b.shape[d]) break;
      for (int k = 0; k < 3; ++k) base[k] -= b.strides[k][d] * b.shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

}  // namespace rtml::kernels
#endif

#endif
