// Index-driven and typed data-movement kernels (kernels/tensor_ops_index.h).
// Host only for now: not yet in the kernel table.
#include "kernels/tensor_ops_index.h"

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

void copy_bytes(const void* in, void* out, size_t bytes) {
  if (bytes && in != out) std::memmove(out, in, bytes);
}

}  // namespace

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
