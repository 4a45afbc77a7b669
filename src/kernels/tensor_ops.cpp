#include "kernels/tensor_ops.h"

#include <cstring>

namespace rtml::kernels {

namespace {

// Calls f(W{}) with W the unsigned integer type of `elem_size` bytes.
template <class F>
void by_size(int elem_size, F&& f) {
  switch (elem_size) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    default: f(uint64_t{}); break;
  }
}

inline int64_t read_index(const void* indices, int index_size, int64_t i) {
  return index_size == 4 ? static_cast<const int32_t*>(indices)[i] : static_cast<const int64_t*>(indices)[i];
}

}  // namespace

void copy_bytes(const void* in, void* out, size_t bytes) {
  if (bytes && in != out) std::memmove(out, in, bytes);
}

void fill(const void* value, int elem_size, int64_t count, void* out) {
  auto* o = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < count; ++i) std::memcpy(o + i * elem_size, value, static_cast<size_t>(elem_size));
}

// ---- strided copy -------------------------------------------------------------

void simplify_strided_copy(StridedCopyParams& p) {
  int r = 0;
  int64_t shape[kMaxCopyRank], strides[kMaxCopyRank];
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
  for (int d = 0; d < kMaxCopyRank; ++d) {
    p.shape[d] = d < r ? shape[d] : 0;
    p.in_strides[d] = d < r ? strides[d] : 0;
  }
  p.rank = r;
}

namespace {
template <class W>
void strided_copy_t(const StridedCopyParams& p, const W* in, W* out) {
  if (p.count == 0) return;
  in += p.in_offset;
  if (p.rank == 0) {
    out[0] = in[0];
    return;
  }
  const int last = p.rank - 1;
  const int64_t n = p.shape[last], s = p.in_strides[last];
  int64_t idx[kMaxCopyRank] = {};
  int64_t base = 0;
  while (true) {
    if (s == 1) {
      std::memcpy(out, in + base, static_cast<size_t>(n) * sizeof(W));
    } else {
      const W* src = in + base;
      for (int64_t i = 0; i < n; ++i) out[i] = src[i * s];
    }
    out += n;
    int d = last - 1;
    for (; d >= 0; --d) {
      base += p.in_strides[d];
      if (++idx[d] < p.shape[d]) break;
      base -= p.in_strides[d] * p.shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}
}  // namespace

void strided_copy(const StridedCopyParams& p, const void* in, void* out) {
  by_size(p.elem_size, [&](auto w) {
    using W = decltype(w);
    strided_copy_t(p, static_cast<const W*>(in), static_cast<W*>(out));
  });
}

// ---- Concat / Split -----------------------------------------------------------

void concat(const ConcatParams& p, const void* const* inputs, void* out) {
  auto* o = static_cast<unsigned char*>(out);
  for (int64_t i = 0; i < p.outer; ++i)
    for (int k = 0; k < p.num_inputs; ++k) {
      const int64_t b = p.in_block_bytes[k];
      if (b) std::memcpy(o, static_cast<const unsigned char*>(inputs[k]) + i * b, static_cast<size_t>(b));
      o += b;
    }
}

void split(const SplitParams& p, const void* in, void* const* outputs) {
  const auto* s = static_cast<const unsigned char*>(in);
  for (int64_t i = 0; i < p.outer; ++i)
    for (int k = 0; k < p.num_outputs; ++k) {
      const int64_t b = p.out_block_bytes[k];
      if (outputs[k] && b) std::memcpy(static_cast<unsigned char*>(outputs[k]) + i * b, s, static_cast<size_t>(b));
      s += b;
    }
}

// ---- Gather ---------------------------------------------------------------------

int gather(const GatherParams& p, const void* data, const void* indices, void* out) {
  const auto* d = static_cast<const unsigned char*>(data);
  auto* o = static_cast<unsigned char*>(out);
  const size_t inner = static_cast<size_t>(p.inner_bytes);
  for (int64_t i = 0; i < p.outer; ++i) {
    const unsigned char* slab = d + i * p.axis_dim * p.inner_bytes;
    for (int64_t j = 0; j < p.num_indices; ++j) {
      int64_t idx = read_index(indices, p.index_size, j);
      if (idx < 0) idx += p.axis_dim;
      if (idx < 0 || idx >= p.axis_dim) return 1;
      if (inner) std::memcpy(o, slab + idx * p.inner_bytes, inner);
      o += inner;
    }
  }
  return 0;
}

namespace {
// Calls f(i, offset) for every index element i with the data offset (in
// elements) it addresses; 1 for an index out of range, else what f's first
// failure returns (f returns 0 to go on).
template <class F>
int for_each_indexed_element(const ElementsIndexing& p, const void* indices, F&& f) {
  int64_t idx[kMaxRank] = {};
  for (int64_t i = 0; i < p.count; ++i) {
    int64_t k = read_index(indices, p.index_size, i);
    if (k < 0) k += p.axis_dim;
    if (k < 0 || k >= p.axis_dim) return 1;
    int64_t off = 0;
    for (int d = 0; d < p.rank; ++d) off += (d == p.axis ? k : idx[d]) * p.data_strides[d];
    if (int rc = f(i, off)) return rc;
    for (int d = p.rank - 1; d >= 0; --d) {
      if (++idx[d] < p.shape[d]) break;
      idx[d] = 0;
    }
  }
  return 0;
}

template <class W>
int gather_elements_t(const ElementsIndexing& p, const W* data, const void* indices, W* out) {
  return for_each_indexed_element(p, indices, [&](int64_t i, int64_t off) {
    out[i] = data[off];
    return 0;
  });
}
}  // namespace

int gather_elements(const GatherElementsParams& p, const void* data, const void* indices, void* out) {
  int rc = 0;
  by_size(p.elem_size, [&](auto w) {
    using W = decltype(w);
    rc = gather_elements_t(p, static_cast<const W*>(data), indices, static_cast<W*>(out));
  });
  return rc;
}

int gather_nd(const GatherNDParams& p, const void* data, const void* indices, void* out) {
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
      if (p.inner_bytes) std::memcpy(o, slab + off, static_cast<size_t>(p.inner_bytes));
      o += p.inner_bytes;
    }
  }
  return 0;
}

// ---- Scatter ----------------------------------------------------------------------

namespace {
template <class T>
void reduce_into(ScatterReduce r, T* dst, const T* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    switch (r) {
      case ScatterReduce::None: dst[i] = src[i]; break;
      case ScatterReduce::Add: dst[i] = static_cast<T>(dst[i] + src[i]); break;
      case ScatterReduce::Mul: dst[i] = static_cast<T>(dst[i] * src[i]); break;
      case ScatterReduce::Max: dst[i] = dst[i] < src[i] ? src[i] : dst[i]; break;
      case ScatterReduce::Min: dst[i] = src[i] < dst[i] ? src[i] : dst[i]; break;
    }
  }
}

// Combines n elements at src into dst; returns false for an unsupported type.
bool combine(ScatterReduce r, DType t, int elem_size, void* dst, const void* src, int64_t n) {
  if (r == ScatterReduce::None) {
    if (n) std::memmove(dst, src, static_cast<size_t>(n * elem_size));
    return true;
  }
  switch (t) {
    case DType::F32: reduce_into(r, static_cast<float*>(dst), static_cast<const float*>(src), n); return true;
    case DType::F64: reduce_into(r, static_cast<double*>(dst), static_cast<const double*>(src), n); return true;
    case DType::I32: reduce_into(r, static_cast<int32_t*>(dst), static_cast<const int32_t*>(src), n); return true;
    case DType::I64: reduce_into(r, static_cast<int64_t*>(dst), static_cast<const int64_t*>(src), n); return true;
    default: return false;
  }
}
}  // namespace

int scatter_elements(const ScatterElementsParams& p, const void* data, const void* indices, const void* updates,
                     void* out) {
  copy_bytes(data, out, static_cast<size_t>(p.data_bytes));
  auto* o = static_cast<unsigned char*>(out);
  const auto* u = static_cast<const unsigned char*>(updates);
  const int es = p.ix.elem_size;
  return for_each_indexed_element(p.ix, indices, [&](int64_t i, int64_t off) {
    return combine(p.reduce, p.dtype, es, o + off * es, u + i * es, 1) ? 0 : 2;
  });
}

int scatter_nd(const ScatterNDParams& p, const void* data, const void* indices, const void* updates, void* out) {
  copy_bytes(data, out, static_cast<size_t>(p.data_bytes));
  auto* o = static_cast<unsigned char*>(out);
  const auto* u = static_cast<const unsigned char*>(updates);
  for (int64_t t = 0; t < p.tuples; ++t) {
    int64_t off = 0;
    for (int q = 0; q < p.k; ++q) {
      int64_t x = read_index(indices, p.index_size, t * p.k + q);
      if (x < 0) x += p.dims[q];
      if (x < 0 || x >= p.dims[q]) return 1;
      off += x * p.strides[q];
    }
    if (!combine(p.reduce, p.dtype, p.elem_size, o + off * p.elem_size, u + t * p.inner * p.elem_size, p.inner))
      return 2;
  }
  return 0;
}

// ---- EyeLike / ReverseSequence ------------------------------------------------------

void eye(int64_t rows, int64_t cols, int64_t k, int elem_size, const void* one, void* out) {
  auto* o = static_cast<unsigned char*>(out);
  std::memset(o, 0, static_cast<size_t>(rows * cols * elem_size));
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t j = i + k;
    if (j >= 0 && j < cols) std::memcpy(o + (i * cols + j) * elem_size, one, static_cast<size_t>(elem_size));
  }
}

int reverse_sequence(const ReverseSequenceParams& p, const void* in, const void* lens, void* out) {
  const auto* s = static_cast<const unsigned char*>(in);
  auto* o = static_cast<unsigned char*>(out);
  const size_t inner = static_cast<size_t>(p.inner_bytes);
  for (int64_t b = 0; b < p.batch; ++b) {
    const int64_t len = read_index(lens, p.index_size, b);
    if (len < 0 || len > p.time) return 1;
    for (int64_t t = 0; t < p.time; ++t) {
      const int64_t src_t = t < len ? len - 1 - t : t;
      const int64_t dst = p.time_outer ? t * p.batch + b : b * p.time + t;
      const int64_t src = p.time_outer ? src_t * p.batch + b : b * p.time + src_t;
      if (inner) std::memcpy(o + dst * p.inner_bytes, s + src * p.inner_bytes, inner);
    }
  }
  return 0;
}

// ---- Pad ------------------------------------------------------------------------

namespace {
// Maps an output coordinate to an input coordinate, or -1 for "use the value".
inline int64_t pad_source(PadMode mode, int64_t x, int64_t n) {
  if (x >= 0 && x < n) return x;
  switch (mode) {
    case PadMode::Constant: return -1;
    case PadMode::Edge: return x < 0 ? 0 : n - 1;
    case PadMode::Wrap: {
      int64_t m = x % n;
      return m < 0 ? m + n : m;
    }
    case PadMode::Reflect: {
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
void pad_t(const PadParams& p, const W* in, W value, W* out) {
  int64_t o[kMaxRank] = {};
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
}  // namespace

void pad(const PadParams& p, const void* in, const void* value_override, void* out) {
  by_size(p.elem_size, [&](auto w) {
    using W = decltype(w);
    W value;
    std::memcpy(&value, value_override ? value_override : p.value, sizeof(W));
    pad_t(p, static_cast<const W*>(in), value, static_cast<W*>(out));
  });
}

// ---- Trilu ----------------------------------------------------------------------

void trilu(const TriluParams& p, int64_t k, const void* in, void* out) {
  const auto* s = static_cast<const unsigned char*>(in);
  auto* o = static_cast<unsigned char*>(out);
  const size_t es = static_cast<size_t>(p.elem_size);
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t i = 0; i < p.rows; ++i)
      for (int64_t j = 0; j < p.cols; ++j) {
        const bool keep = p.upper ? j - i >= k : j - i <= k;
        const size_t off = static_cast<size_t>((b * p.rows + i) * p.cols + j) * es;
        if (keep) std::memcpy(o + off, s + off, es);
        else std::memset(o + off, 0, es);
      }
}

// ---- Range ----------------------------------------------------------------------

namespace {
template <class T>
void range_t(const void* start, const void* delta, int64_t n, void* out) {
  const T s = *static_cast<const T*>(start), d = *static_cast<const T*>(delta);
  T* o = static_cast<T*>(out);
  for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(s + static_cast<T>(i) * d);
}
}  // namespace

int range(DType dtype, const void* start, const void* delta, int64_t n, void* out) {
  switch (dtype) {
    case DType::F32: range_t<float>(start, delta, n, out); return 0;
    case DType::F64: range_t<double>(start, delta, n, out); return 0;
    case DType::I16: range_t<int16_t>(start, delta, n, out); return 0;
    case DType::I32: range_t<int32_t>(start, delta, n, out); return 0;
    case DType::I64: range_t<int64_t>(start, delta, n, out); return 0;
    default: return 1;
  }
}

}  // namespace rtml::kernels
