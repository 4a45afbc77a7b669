// Prepare-time helpers of the normalization kernels (host only).
#include "kernels/normalize_plan.h"

namespace rtml::kernels {

bool make_reduce(const Shape& shape, const std::vector<bool>& reduced, ReduceParams& p) {
  p.kept_rank = p.red_rank = 0;
  p.out_count = p.red_count = 1;
  const int rank = static_cast<int>(shape.size());
  int last_group = -1;  // 0 kept, 1 reduced
  int64_t stride = 1;
  // Walk from the innermost dim so strides accumulate; build groups reversed.
  int64_t ks[kMaxRank * 2], kd[kMaxRank * 2], rs[kMaxRank * 2], rd[kMaxRank * 2];
  int nk = 0, nr = 0;
  for (int d = rank - 1; d >= 0; --d) {
    const int64_t dim = shape[d];
    const bool red = reduced[d];
    if (red) p.red_count *= dim;
    else p.out_count *= dim;
    if (dim != 1) {
      const int group = red ? 1 : 0;
      if (group == last_group) {
        // Adjacent (inner) dim of the same group: merge; stride stays the inner one.
        (red ? rd[nr - 1] : kd[nk - 1]) *= dim;
      } else {
        if (nk >= kMaxRank || nr >= kMaxRank) return false;
        if (red) {
          rd[nr] = dim;
          rs[nr++] = stride;
        } else {
          kd[nk] = dim;
          ks[nk++] = stride;
        }
        last_group = group;
      }
    }
    stride *= dim;
  }
  p.kept_rank = nk;
  p.red_rank = nr;
  for (int i = 0; i < nk; ++i) {
    p.kept_shape[i] = kd[nk - 1 - i];
    p.kept_stride[i] = ks[nk - 1 - i];
  }
  for (int i = 0; i < nr; ++i) {
    p.red_shape[i] = rd[nr - 1 - i];
    p.red_stride[i] = rs[nr - 1 - i];
  }
  return true;
}

bool make_layer_norm_affine(const Shape& norm, const Shape& scale, const Shape* bias, LayerNormParams& p) {
  const int rank = static_cast<int>(norm.size());
  if (rank > kMaxRank) return false;
  p.rank = rank;
  int64_t* strides[2] = {p.scale_stride, p.bias_stride};
  const Shape* shapes[2] = {&scale, bias};
  for (int k = 0; k < 2; ++k) {
    if (!shapes[k]) continue;
    Shape s = *shapes[k];
    while (s.size() > norm.size() && s.front() == 1) s.erase(s.begin());
    if (s.size() > norm.size()) return false;
    s.insert(s.begin(), norm.size() - s.size(), 1);
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      if (s[d] != norm[d] && s[d] != 1) return false;
      strides[k][d] = s[d] == 1 ? 0 : stride;
      stride *= s[d];
    }
  }
  for (int d = 0; d < rank; ++d) p.shape[d] = norm[d];
  return true;
}

}  // namespace rtml::kernels
