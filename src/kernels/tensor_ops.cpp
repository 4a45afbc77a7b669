// Data-movement kernels (kernels/tensor_ops.h). Portable: freestanding C++17.
#include "kernels/tensor_ops.h"

#include <string.h>

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
  int64_t idx[RTML_MAX_COPY_RANK] = {};
  int64_t base = 0;
  while (true) {
    if (s == 1) {
      memcpy(out, in + base, static_cast<size_t>(n) * sizeof(W));
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
