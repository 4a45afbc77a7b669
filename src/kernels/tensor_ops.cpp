// Data-movement kernels (kernels/tensor_ops.h). Portable: freestanding C++17.
#include "kernels/tensor_ops.h"

#include <string.h>

#include "kernels/kmath.h"

namespace rtml::kernels {

void simplify_strided_copy(StridedCopyParams& p) {
  int r = 0;
  int64_t shape[RTML_MAX_COPY_RANK], strides[RTML_MAX_COPY_RANK];
  for (int d = 0; d < p.rank; ++d) {
    if (p.shape[d] == 1) continue;
    if (r > 0 && strides[r - 1] == p.in_strides[d] * p.shape[d]) {
      // The previous dim steps exactly over this one: merge.
      shape[r - 1] *= p.shape[d];
      strides[r - 1] = p.in_strides[d];
      continue;
    }
    shape[r] = p.shape[d];
    strides[r] = p.in_strides[d];
    ++r;
  }
  for (int d = 0; d < RTML_MAX_COPY_RANK; ++d) {
    p.shape[d] = d < r ? shape[d] : 0;
    p.in_strides[d] = d < r ? strides[d] : 0;
  }
  p.rank = r;
}

namespace {

template <class W>
void strided_copy_t(const rtml_strided_copy_params& p, const W* in, W* out) {
  if (p.count == 0) return;
  in += p.in_offset;
  if (p.rank == 0) {
    out[0] = in[0];
    return;
  }
  const int last = p.rank - 1;
  const int64_t n = p.shape[last], s = p.in_strides[last];
  // A strided output (the tiling's insert) steps by out_strides; its inner
  // rows are contiguous (out_strides[last] == 1).
  const bool scatter = p.out_strides[last] != 0;
  if (scatter) out += p.out_offset;
  int64_t idx[RTML_MAX_COPY_RANK] = {};
  int64_t base = 0, obase = 0;
  while (true) {
    W* dst = scatter ? out + obase : out;
    if (s == 1) {
      memcpy(dst, in + base, static_cast<size_t>(n) * sizeof(W));
    } else {
      const W* src = in + base;
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i * s];
    }
    if (!scatter) out += n;
    int d = last - 1;
    for (; d >= 0; --d) {
      base += p.in_strides[d];
      obase += p.out_strides[d];
      if (++idx[d] < p.shape[d]) break;
      base -= p.in_strides[d] * p.shape[d];
      obase -= p.out_strides[d] * p.shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

// ---- Concat / Split -----------------------------------------------------------

void concat(const rtml_concat_params& p, void* const* operands) {
  const auto* blocks = static_cast<const int64_t*>(operands[p.blocks_slot]);
  auto* o = static_cast<unsigned char*>(operands[p.num_inputs]);
  for (int64_t i = 0; i < p.outer; ++i)
    for (int k = 0; k < p.num_inputs; ++k) {
      const int64_t b = blocks[k];
      if (b) memcpy(o, static_cast<const unsigned char*>(operands[k]) + i * b, static_cast<size_t>(b));
      o += b;
    }
}

void split(const rtml_split_params& p, void* const* operands) {
  const auto* blocks = static_cast<const int64_t*>(operands[p.blocks_slot]);
  const auto* s = static_cast<const unsigned char*>(operands[0]);
  void* const* outputs = operands + p.first_out;
  for (int64_t i = 0; i < p.outer; ++i)
    for (int k = 0; k < p.num_outputs; ++k) {
      const int64_t b = blocks[k];
      if (outputs[k] && b) memcpy(static_cast<unsigned char*>(outputs[k]) + i * b, s, static_cast<size_t>(b));
      s += b;
    }
}

// ---- Gather ---------------------------------------------------------------------

int gather(const rtml_gather_params& p, const void* data, const void* indices, void* out) {
  const auto* d = static_cast<const unsigned char*>(data);
  auto* o = static_cast<unsigned char*>(out);
  const size_t inner = static_cast<size_t>(p.inner_bytes);
  for (int64_t i = 0; i < p.outer; ++i) {
    const unsigned char* slab = d + i * p.axis_dim * p.inner_bytes;
    for (int64_t j = 0; j < p.num_indices; ++j) {
      int64_t idx = read_index(indices, p.index_size, j);
      if (idx < 0) idx += p.axis_dim;
      if (idx < 0 || idx >= p.axis_dim) return 1;
      if (inner) memcpy(o, slab + idx * p.inner_bytes, inner);
      o += inner;
    }
  }
  return 0;
}

// ---- Pad ------------------------------------------------------------------------

// Maps an output coordinate to an input coordinate, or -1 for "use the value".
inline int64_t pad_source(uint8_t mode, int64_t x, int64_t n) {
  if (x >= 0 && x < n) return x;
  switch (mode) {
    case RTML_PAD_CONSTANT: return -1;
    case RTML_PAD_EDGE: return x < 0 ? 0 : n - 1;
    case RTML_PAD_WRAP: {
      int64_t m = x % n;
      return m < 0 ? m + n : m;
    }
    case RTML_PAD_REFLECT: {
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      int64_t m = x % period;
      if (m < 0) m += period;
      return m < n ? m : period - m;
    }
  }
  return -1;
}

template <class W>
void pad_t(const rtml_pad_params& p, const W* in, W value, W* out) {
  int64_t o[RTML_MAX_RANK] = {};
  for (int64_t i = 0; i < p.count; ++i) {
    int64_t off = 0;
    bool inside = true;
    for (int d = 0; d < p.rank; ++d) {
      const int64_t x = pad_source(p.mode, o[d] - p.pad_begin[d], p.in_shape[d]);
      if (x < 0) {
        inside = false;
        break;
      }
      off += x * p.in_strides[d];
    }
    out[i] = inside ? in[off] : value;
    for (int d = p.rank - 1; d >= 0; --d) {
      if (++o[d] < p.out_shape[d]) break;
      o[d] = 0;
    }
  }
}
// ---- GatherElements / GatherND / Scatter -----------------------------------------

// Calls f(i, offset) for every index element i with the data offset (in
// elements) it addresses; 1 for an index out of range, else 0.
template <class F>
int for_each_indexed_element(const rtml_elements_params& p, const void* indices, F&& f) {
  int64_t idx[RTML_MAX_RANK] = {};
  for (int64_t i = 0; i < p.count; ++i) {
    int64_t k = read_index(indices, p.index_size, i);
    if (k < 0) k += p.axis_dim;
    if (k < 0 || k >= p.axis_dim) return 1;
    int64_t off = 0;
    for (int d = 0; d < p.rank; ++d) off += (d == p.axis ? k : idx[d]) * p.data_strides[d];
    f(i, off);
    for (int d = p.rank - 1; d >= 0; --d) {
      if (++idx[d] < p.shape[d]) break;
      idx[d] = 0;
    }
  }
  return 0;
}

template <class W>
int gather_elements_entry(const void* params, void* const* operands) {
  const auto& p = *static_cast<const rtml_elements_params*>(params);
  const W* data = static_cast<const W*>(operands[0]);
  W* out = static_cast<W*>(operands[2]);
  return for_each_indexed_element(p, operands[1], [&](int64_t i, int64_t off) { out[i] = data[off]; });
}

int gather_nd(const rtml_gather_nd_params& p, const void* data, const void* indices, void* out) {
  const auto* d = static_cast<const unsigned char*>(data);
  auto* o = static_cast<unsigned char*>(out);
  int64_t t = 0;  // running tuple number over all batches
  for (int64_t b = 0; b < p.batch; ++b) {
    const unsigned char* slab = d + b * p.data_batch_bytes;
    for (int64_t j = 0; j < p.tuples; ++j, ++t) {
      int64_t off = 0;
      for (int q = 0; q < p.k; ++q) {
        int64_t x = read_index(indices, p.index_size, t * p.k + q);
        if (x < 0) x += p.dims[q];
        if (x < 0 || x >= p.dims[q]) return 1;
        off += x * p.strides_bytes[q];
      }
      if (p.inner_bytes) memcpy(o, slab + off, static_cast<size_t>(p.inner_bytes));
      o += p.inner_bytes;
    }
  }
  return 0;
}

// How an update combines with the value already in the output.
enum Reduction { kAssign, kAdd, kMul, kMax, kMin };

template <int R, class T>
inline void combine(T& dst, T src) {
  if constexpr (R == kAssign) dst = src;
  else if constexpr (R == kAdd) dst = static_cast<T>(dst + src);
  else if constexpr (R == kMul) dst = static_cast<T>(dst * src);
  else if constexpr (R == kMax) dst = dst < src ? src : dst;
  else dst = src < dst ? src : dst;
}

inline void copy_data(const void* data, void* out, int64_t bytes) {
  if (bytes && data != out) memmove(out, data, static_cast<size_t>(bytes));
}

template <class T, int R>
int scatter_elements_entry(const void* params, void* const* operands) {
  const auto& p = *static_cast<const rtml_elements_params*>(params);
  T* out = static_cast<T*>(operands[3]);
  const T* upd = static_cast<const T*>(operands[2]);
  copy_data(operands[0], out, p.data_bytes);
  return for_each_indexed_element(p, operands[1], [&](int64_t i, int64_t off) { combine<R>(out[off], upd[i]); });
}

template <class T, int R>
int scatter_nd_entry(const void* params, void* const* operands) {
  const auto& p = *static_cast<const rtml_scatter_nd_params*>(params);
  const int64_t* indices = static_cast<const int64_t*>(operands[1]);
  const T* upd = static_cast<const T*>(operands[2]);
  T* out = static_cast<T*>(operands[3]);
  copy_data(operands[0], out, p.data_bytes);
  for (int64_t t = 0; t < p.tuples; ++t) {
    int64_t off = 0;
    for (int q = 0; q < p.k; ++q) {
      int64_t x = indices[t * p.k + q];
      if (x < 0) x += p.dims[q];
      if (x < 0 || x >= p.dims[q]) return 1;
      off += x * p.strides[q];
    }
    for (int64_t j = 0; j < p.inner; ++j) combine<R>(out[off + j], upd[t * p.inner + j]);
  }
  return 0;
}

// ---- EyeLike / ReverseSequence / Trilu / Range -------------------------------------

template <class W>
int eye_entry(const void* params, void* const* operands) {
  const auto& p = *static_cast<const rtml_eye_params*>(params);
  W one;
  memcpy(&one, p.one, sizeof one);
  W* out = static_cast<W*>(operands[p.out_slot]);
  for (int64_t i = 0; i < p.rows; ++i)
    for (int64_t j = 0; j < p.cols; ++j) out[i * p.cols + j] = j - i == p.k ? one : W(0);
  return 0;
}

int reverse_sequence(const rtml_reverse_sequence_params& p, const void* in, const void* lens, void* out) {
  const auto* s = static_cast<const unsigned char*>(in);
  auto* o = static_cast<unsigned char*>(out);
  const size_t inner = static_cast<size_t>(p.inner_bytes);
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t len = static_cast<const int64_t*>(lens)[b];
    if (len < 0 || len > p.time) return 1;
    for (int64_t t = 0; t < p.time; ++t) {
      const int64_t src_t = t < len ? len - 1 - t : t;
      const int64_t dst = p.time_outer ? t * p.batch + b : b * p.time + t;
      const int64_t src = p.time_outer ? src_t * p.batch + b : b * p.time + src_t;
      if (inner) memcpy(o + dst * p.inner_bytes, s + src * p.inner_bytes, inner);
    }
  }
  return 0;
}

template <class W>
int trilu_entry(const void* params, void* const* operands) {
  const auto& p = *static_cast<const rtml_trilu_params*>(params);
  const int64_t k = p.k_runtime ? *static_cast<const int64_t*>(operands[1]) : p.k;
  const W* in = static_cast<const W*>(operands[0]);
  W* out = static_cast<W*>(operands[p.out_slot]);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t i = 0; i < p.rows; ++i)
      for (int64_t j = 0; j < p.cols; ++j) {
        const int64_t off = (b * p.rows + i) * p.cols + j;
        out[off] = (p.upper ? j - i >= k : j - i <= k) ? in[off] : W(0);
      }
  return 0;
}

template <class T>
int range_entry(const void* params, void* const* operands) {
  const auto& p = *static_cast<const rtml_range_params*>(params);
  const T s = *static_cast<const T*>(operands[0]), d = *static_cast<const T*>(operands[2]);
  T* o = static_cast<T*>(operands[3]);
  // start + i * delta stays in T's range, but i * delta alone may not: wrapped.
  for (int64_t i = 0; i < p.n; ++i) o[i] = km::wrap_add(s, km::wrap_mul(static_cast<T>(i), d));
  return 0;
}

// ---- entry points' bodies ---------------------------------------------------------

template <class W>
int fill_entry(const void* params, void* const* operands) {
  const auto& p = *static_cast<const rtml_fill_params*>(params);
  W value;
  memcpy(&value, p.value, sizeof value);
  W* y = static_cast<W*>(operands[p.out_slot]);
  for (int64_t i = 0; i < p.count; ++i) y[i] = value;
  return 0;
}

template <class W>
int strided_entry(const void* params, void* const* operands) {
  const auto& p = *static_cast<const rtml_strided_copy_params*>(params);
  strided_copy_t(p, static_cast<const W*>(operands[0]), static_cast<W*>(operands[p.out_slot]));
  return 0;
}

template <class W>
int pad_entry(const void* params, void* const* operands) {
  const auto& p = *static_cast<const rtml_pad_params*>(params);
  W value;
  memcpy(&value, p.value_slot >= 0 ? operands[p.value_slot] : p.value, sizeof value);
  pad_t(p, static_cast<const W*>(operands[0]), value, static_cast<W*>(operands[p.out_slot]));
  return 0;
}

}  // namespace
}  // namespace rtml::kernels

// ---- entry points -------------------------------------------------------------

RTML_KERNEL(rtml_x8_copy__ref) {
  const auto& p = *static_cast<const rtml_copy_params*>(params);
  const void* in = operands[p.in_slot];
  void* out = operands[p.out_slot];
  if (p.bytes && in != out) memmove(out, in, static_cast<size_t>(p.bytes));
  return 0;
}

RTML_KERNEL(rtml_x8_dropout__ref) {
  const auto& p = *static_cast<const rtml_dropout_params*>(params);
  if (p.training_slot >= 0 && operands[p.training_slot] && *static_cast<const uint8_t*>(operands[p.training_slot])) {
    const void* r = p.ratio_slot >= 0 ? operands[p.ratio_slot] : nullptr;
    const bool zero = p.ratio_zero || (r && p.ratio_bytes == 4 && *static_cast<const float*>(r) == 0.f) ||
                      (r && p.ratio_bytes == 8 && *static_cast<const double*>(r) == 0.0);
    if (!zero) return 2;
  }
  if (p.bytes && operands[0] != operands[p.out_slot]) memmove(operands[p.out_slot], operands[0], static_cast<size_t>(p.bytes));
  if (p.mask_slot >= 0 && operands[p.mask_slot]) memset(operands[p.mask_slot], 1, static_cast<size_t>(p.mask_count));
  return 0;
}

RTML_KERNEL(rtml_x8_concat__ref) {
  rtml::kernels::concat(*static_cast<const rtml_concat_params*>(params), operands);
  return 0;
}

RTML_KERNEL(rtml_x8_split__ref) {
  rtml::kernels::split(*static_cast<const rtml_split_params*>(params), operands);
  return 0;
}

RTML_KERNEL(rtml_x8_gather__ref) {
  return rtml::kernels::gather(*static_cast<const rtml_gather_params*>(params), operands[0], operands[1],
                               operands[2]);
}

#define RTML_TENSOR_OPS_DEFINE(x, W)                                                                           \
  RTML_KERNEL(rtml_##x##_fill__ref) { return rtml::kernels::fill_entry<W>(params, operands); }                 \
  RTML_KERNEL(rtml_##x##_transpose__ref) { return rtml::kernels::strided_entry<W>(params, operands); }         \
  RTML_KERNEL(rtml_##x##_slice__ref) { return rtml::kernels::strided_entry<W>(params, operands); }             \
  RTML_KERNEL(rtml_##x##_expand__ref) { return rtml::kernels::strided_entry<W>(params, operands); }            \
  RTML_KERNEL(rtml_##x##_tile__ref) { return rtml::kernels::strided_entry<W>(params, operands); }              \
  RTML_KERNEL(rtml_##x##_depth_to_space__ref) { return rtml::kernels::strided_entry<W>(params, operands); }    \
  RTML_KERNEL(rtml_##x##_space_to_depth__ref) { return rtml::kernels::strided_entry<W>(params, operands); }    \
  RTML_KERNEL(rtml_##x##_pad__ref) { return rtml::kernels::pad_entry<W>(params, operands); }
RTML_TENSOR_OPS_SIZES(RTML_TENSOR_OPS_DEFINE)

#define RTML_TENSOR_OPS_DEFINE_INDEXED(x, W)                                                                  \
  RTML_KERNEL(rtml_##x##_gather_elements__ref) { return rtml::kernels::gather_elements_entry<W>(params, operands); } \
  RTML_KERNEL(rtml_##x##_scatter_elements__ref) {                                                            \
    return rtml::kernels::scatter_elements_entry<W, rtml::kernels::kAssign>(params, operands);               \
  }                                                                                                          \
  RTML_KERNEL(rtml_##x##_scatter_nd__ref) {                                                                  \
    return rtml::kernels::scatter_nd_entry<W, rtml::kernels::kAssign>(params, operands);                     \
  }                                                                                                          \
  RTML_KERNEL(rtml_##x##_eye_like__ref) { return rtml::kernels::eye_entry<W>(params, operands); }            \
  RTML_KERNEL(rtml_##x##_trilu__ref) { return rtml::kernels::trilu_entry<W>(params, operands); }
RTML_TENSOR_OPS_SIZES(RTML_TENSOR_OPS_DEFINE_INDEXED)

#define RTML_SCATTER_DEFINE_RED(t, T, red, R)                                                                \
  RTML_KERNEL(rtml_##t##_scatter_elements_##red##__ref) {                                                    \
    return rtml::kernels::scatter_elements_entry<T, rtml::kernels::R>(params, operands);                     \
  }                                                                                                          \
  RTML_KERNEL(rtml_##t##_scatter_nd_##red##__ref) {                                                          \
    return rtml::kernels::scatter_nd_entry<T, rtml::kernels::R>(params, operands);                           \
  }
#define RTML_SCATTER_DEFINE(t, T)                                                                 \
  RTML_SCATTER_DEFINE_RED(t, T, add, kAdd) RTML_SCATTER_DEFINE_RED(t, T, mul, kMul)               \
  RTML_SCATTER_DEFINE_RED(t, T, max, kMax) RTML_SCATTER_DEFINE_RED(t, T, min, kMin)
RTML_SCATTER_TYPES(RTML_SCATTER_DEFINE)

#define RTML_RANGE_DEFINE(t, T) \
  RTML_KERNEL(rtml_##t##_range__ref) { return rtml::kernels::range_entry<T>(params, operands); }
RTML_RANGE_TYPES(RTML_RANGE_DEFINE)

RTML_KERNEL(rtml_x8_gather_nd__ref) {
  return rtml::kernels::gather_nd(*static_cast<const rtml_gather_nd_params*>(params), operands[0], operands[1],
                                  operands[2]);
}

RTML_KERNEL(rtml_x8_reverse_sequence__ref) {
  return rtml::kernels::reverse_sequence(*static_cast<const rtml_reverse_sequence_params*>(params), operands[0],
                                         operands[1], operands[2]);
}
