#include "kernels/broadcast_plan.h"

#include <algorithm>

namespace rtml::kernels {

bool broadcast_shape(const std::vector<Shape>& shapes, Shape& out) {
  size_t rank = 0;
  for (const Shape& s : shapes) rank = std::max(rank, s.size());
  out.assign(rank, 1);
  for (const Shape& s : shapes) {
    size_t off = rank - s.size();
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t d = s[i], &o = out[off + i];
      if (d == o || d == 1) continue;
      if (o == 1) o = d;
      else return false;
    }
  }
  return true;
}

bool make_broadcast(const std::vector<Shape>& shapes, const Shape& out, Broadcast& b) {
  b = Broadcast{};
  b.num_inputs = static_cast<int>(shapes.size());
  b.count = shape_numel(out);
  const int rank = static_cast<int>(out.size());
  // Full-rank element strides per input (0 where broadcast).
  std::vector<std::vector<int64_t>> st(3, std::vector<int64_t>(rank, 0));
  for (size_t k = 0; k < shapes.size() && k < 3; ++k) {
    const Shape& s = shapes[k];
    int off = rank - static_cast<int>(s.size());
    int64_t stride = 1;
    for (int i = static_cast<int>(s.size()) - 1; i >= 0; --i) {
      st[k][off + i] = s[i] == 1 ? 0 : stride;
      stride *= s[i];
    }
  }
  // Drop size-1 output dims, then merge dim d into d+1 where every input is
  // contiguous across the boundary.
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> ms(3);
  for (int i = 0; i < rank; ++i) {
    if (out[i] == 1) continue;
    if (!dims.empty()) {
      bool merge = true;
      for (int k = 0; k < 3; ++k)
        if (ms[k].back() != st[k][i] * out[i]) merge = false;
      if (merge) {
        dims.back() *= out[i];
        for (int k = 0; k < 3; ++k) ms[k].back() = st[k][i];
        continue;
      }
    }
    dims.push_back(out[i]);
    for (int k = 0; k < 3; ++k) ms[k].push_back(st[k][i]);
  }
  if (static_cast<int>(dims.size()) > kMaxRank) return false;
  b.rank = static_cast<int>(dims.size());
  for (int i = 0; i < b.rank; ++i) {
    b.shape[i] = dims[i];
    for (int k = 0; k < 3; ++k) b.strides[k][i] = ms[k][i];
  }
  return true;
}

}  // namespace rtml::kernels
