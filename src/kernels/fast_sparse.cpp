// Sparse constant weights, compiled once per Highway target (see fast_sparse.h).
//
// Per row of A and column group: one vector of L accumulators (two, used
// alternately, so consecutive steps do not wait on each other's FMA); per
// entry, the block of A's row is loaded once and each step looks its lanes
// up in it (TableLookupLanes: vpermps on x86, TBL on NEON).

#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/fast_sparse.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/fast_sparse.h"
#include "kernels/linear.h"

HWY_BEFORE_NAMESPACE();
namespace rtml::kernels {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

using D = hn::CappedTag<float, 16>;
using DI = hn::RebindToSigned<D>;
using DB = hn::Rebind<uint8_t, DI>;
using V = hn::Vec<D>;
constexpr size_t kL = hn::MaxLanes(D());
static_assert(kL <= 16, "a row within a block must fit the byte indices");

static bool AllFinite(const float* a, int64_t K) {
  const D d;
  int64_t k = 0;
  auto ok = hn::IsFinite(hn::Zero(d));
  for (; k + static_cast<int64_t>(kL) <= K; k += static_cast<int64_t>(kL))
    ok = hn::And(ok, hn::IsFinite(hn::LoadU(d, a + k)));
  if (!hn::AllTrue(d, ok)) return false;
  for (; k < K; ++k)
    if (!std::isfinite(a[k])) return false;
  return true;
}

// The dense product of one row, as the reference computes it (0 * inf and 0 * NaN are NaN).
static void DenseRow(const float* a, const SparseView& B, const float* dense_b, int64_t ldb, bool trans_b, bool relu, float* c) {
  const float* bias = B.bias;
  for (int64_t j = 0; j < B.N; ++j) {
    float s = 0.0f;
    for (int64_t k = 0; k < B.K; ++k) s += a[k] * (B.scale * (trans_b ? dense_b[j * ldb + k] : dense_b[k * ldb + j]));
    if (bias) s += bias[j];
    c[j] = relu ? (s > 0.0f ? s : 0.0f) : s;
  }
}

HWY_INLINE V SparseStep(const V xb, const uint8_t* idx, const float* val, V acc) {
  const D d;
  const DI di;
  const DB db;
  const auto lanes = hn::IndicesFromVec(d, hn::PromoteTo(di, hn::LoadU(db, idx)));
  return hn::MulAdd(hn::TableLookupLanes(xb, lanes), hn::LoadU(d, val), acc);
}

size_t SparseLanes() { return kL; }

void SparseGemmBlocks(int64_t M, const float* A, int64_t lda, const SparseView& B, const float* dense_b, int64_t ldb,
                bool trans_b, float* C, int64_t ldc, bool relu) {
  const D d;
  const int64_t L = static_cast<int64_t>(kL);
  const int64_t groups = (B.N + L - 1) / L;
  const float* bias = B.bias;
  const int64_t full_blocks = B.K / L;
  for (int64_t i = 0; i < M; ++i) {
    const float* HWY_RESTRICT a = A + i * lda;
    float* c = C + i * ldc;
    // Packed for another target (cannot happen through the ops: they pack and
    // run on the same CPU) or A not all finite: the dense product.
    if (B.lanes != L || !AllFinite(a, B.K)) {
      DenseRow(a, B, dense_b, ldb, trans_b, relu, c);
      continue;
    }
    // The last block of A's row, zero-padded when K is not a multiple of L.
    HWY_ALIGN float tail[kL] = {};
    for (int64_t k = full_blocks * L; k < B.K; ++k) tail[k - full_blocks * L] = a[k];
    const uint8_t* idx = B.index;
    const float* val = B.value;
    for (int64_t g = 0; g < groups; ++g) {
      V acc0 = hn::Zero(d), acc1 = hn::Zero(d);
      for (int32_t e = B.group_entry[g]; e < B.group_entry[g + 1]; ++e) {
        const int64_t blk = B.entry_block[e];
        const V xb = hn::LoadU(d, blk < full_blocks ? a + blk * L : tail);
        const int32_t steps = B.entry_steps[e];
        int32_t s = 0;
        for (; s + 2 <= steps; s += 2, idx += 2 * L, val += 2 * L) {
          acc0 = SparseStep(xb, idx, val, acc0);
          acc1 = SparseStep(xb, idx + L, val + L, acc1);
        }
        if (s < steps) {
          acc0 = SparseStep(xb, idx, val, acc0);
          idx += L;
          val += L;
        }
      }
      HWY_ALIGN float out[kL];
      hn::Store(hn::Add(acc0, acc1), d, out);
      const int64_t j0 = g * L;
      const int64_t ncols = std::min<int64_t>(L, B.N - j0);
      for (int64_t j = 0; j < ncols; ++j) {
        float y = out[j];
        if (bias) y += bias[j0 + j];
        c[j0 + j] = relu ? (y > 0.0f ? y : 0.0f) : y;
      }
    }
  }
}

const char* SparseTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace rtml::kernels
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace rtml::kernels {

HWY_EXPORT(SparseGemmBlocks);
HWY_EXPORT(SparseLanes);
HWY_EXPORT(SparseTargetName);

double zero_fraction(int64_t K, int64_t N, const float* B, int64_t ldb, bool trans_b) {
  if (K * N == 0) return 0.0;
  int64_t zeros = 0;
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) zeros += (trans_b ? B[j * ldb + k] : B[k * ldb + j]) == 0.0f;
  return static_cast<double>(zeros) / static_cast<double>(K * N);
}

SparseB pack_sparse_b(int64_t K, int64_t N, const float* B, int64_t ldb, bool trans_b, float scale, const float* bias) {
  SparseB sb;
  sb.K = K;
  sb.N = N;
  sb.scale = scale;
  sb.lanes = static_cast<int64_t>(HWY_DYNAMIC_DISPATCH(SparseLanes)());  // also resolves the dispatch now, at prepare
  const int64_t L = sb.lanes;
  const int64_t groups = sb.groups(), blocks = (K + L - 1) / L;
  auto at = [&](int64_t k, int64_t j) { return trans_b ? B[j * ldb + k] : B[k * ldb + j]; };
  sb.group_entry.assign(1, 0);
  std::vector<std::vector<int32_t>> rows(static_cast<size_t>(L));  // per column of the group: rows within the block
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t blk = 0; blk < blocks; ++blk) {
      size_t steps = 0;
      for (int64_t l = 0; l < L; ++l) {
        auto& r = rows[static_cast<size_t>(l)];
        r.clear();
        const int64_t j = g * L + l;
        for (int64_t k = blk * L; j < N && k < std::min(K, blk * L + L); ++k)
          if (at(k, j) != 0.0f) r.push_back(static_cast<int32_t>(k - blk * L));
        steps = std::max(steps, r.size());
      }
      if (steps == 0) continue;
      sb.entry_block.push_back(static_cast<int32_t>(blk));
      sb.entry_steps.push_back(static_cast<int32_t>(steps));
      const size_t base = sb.value.size();
      sb.index.resize(base + steps * static_cast<size_t>(L), 0);
      sb.value.resize(base + steps * static_cast<size_t>(L), 0.0f);
      for (int64_t l = 0; l < L; ++l) {
        const auto& r = rows[static_cast<size_t>(l)];
        for (size_t s = 0; s < r.size(); ++s) {
          const size_t at_slot = base + s * static_cast<size_t>(L) + static_cast<size_t>(l);
          sb.index[at_slot] = static_cast<uint8_t>(r[s]);
          sb.value[at_slot] = scale * at(blk * L + r[s], g * L + l);
        }
      }
    }
    sb.group_entry.push_back(static_cast<int32_t>(sb.entry_block.size()));
  }
  if (bias) sb.bias.assign(bias, bias + N);
  return sb;
}

SparseView view(const SparseB& b) {
  return {b.K, b.N, b.lanes, b.scale, b.group_entry.data(), b.entry_block.data(), b.entry_steps.data(),
          b.index.data(), b.value.data(), b.bias.empty() ? nullptr : b.bias.data()};
}

void fast_sparse_gemm(int64_t M, const float* A, int64_t lda, const SparseView& packed, const float* dense_b,
                      int64_t ldb, bool trans_b, float* C, int64_t ldc, bool relu) {
  HWY_DYNAMIC_DISPATCH(SparseGemmBlocks)(M, A, lda, packed, dense_b, ldb, trans_b, C, ldc, relu);
}

void fast_sparse_gemm(int64_t M, const float* A, int64_t lda, const SparseB& packed, const float* dense_b, int64_t ldb,
                      bool trans_b, float* C, int64_t ldc, bool relu) {
  fast_sparse_gemm(M, A, lda, view(packed), dense_b, ldb, trans_b, C, ldc, relu);
}

namespace {
int64_t align64(int64_t n) { return (n + 63) / 64 * 64; }
}  // namespace

SparseFlat sparse_flat_layout(const SparseB& b) {
  SparseFlat f;
  int64_t at = 0;
  auto place = [&](int64_t bytes) {
    const int64_t off = at;
    at = align64(at + bytes);
    return off;
  };
  f.group_entry = place(static_cast<int64_t>(b.group_entry.size() * sizeof(int32_t)));
  f.entry_block = place(static_cast<int64_t>(b.entry_block.size() * sizeof(int32_t)));
  f.entry_steps = place(static_cast<int64_t>(b.entry_steps.size() * sizeof(int32_t)));
  f.index = place(static_cast<int64_t>(b.index.size()));
  f.value = place(static_cast<int64_t>(b.value.size() * sizeof(float)));
  f.bias = b.bias.empty() ? -1 : place(static_cast<int64_t>(b.bias.size() * sizeof(float)));
  f.bytes = at;
  return f;
}

void sparse_flatten(const SparseB& b, const SparseFlat& f, void* dst) {
  auto* base = static_cast<uint8_t*>(dst);
  std::memset(base, 0, static_cast<size_t>(f.bytes));
  auto put = [&](int64_t off, const void* src, size_t bytes) {
    if (bytes) std::memcpy(base + off, src, bytes);
  };
  put(f.group_entry, b.group_entry.data(), b.group_entry.size() * sizeof(int32_t));
  put(f.entry_block, b.entry_block.data(), b.entry_block.size() * sizeof(int32_t));
  put(f.entry_steps, b.entry_steps.data(), b.entry_steps.size() * sizeof(int32_t));
  put(f.index, b.index.data(), b.index.size());
  put(f.value, b.value.data(), b.value.size() * sizeof(float));
  if (f.bias >= 0) put(f.bias, b.bias.data(), b.bias.size() * sizeof(float));
}

const char* fast_sparse_target() { return HWY_DYNAMIC_DISPATCH(SparseTargetName)(); }

}  // namespace rtml::kernels

RTML_KERNEL(rtml_f32_gemm__sparse_hwy) {
  const auto& p = *static_cast<const rtml_sparse_gemm_params*>(params);
  const auto* base = static_cast<const uint8_t*>(operands[p.packed_slot]);
  auto at = [&](int64_t off) { return base + off; };
  const rtml::kernels::SparseView b{p.K,
                                    p.N,
                                    p.lanes,
                                    p.scale,
                                    reinterpret_cast<const int32_t*>(at(p.group_entry)),
                                    reinterpret_cast<const int32_t*>(at(p.entry_block)),
                                    reinterpret_cast<const int32_t*>(at(p.entry_steps)),
                                    at(p.index),
                                    reinterpret_cast<const float*>(at(p.value)),
                                    p.bias < 0 ? nullptr : reinterpret_cast<const float*>(at(p.bias))};
  rtml::kernels::fast_sparse_gemm(p.rows, static_cast<const float*>(operands[0]), p.K, b,
                                  static_cast<const float*>(operands[1]), p.ldb, p.trans_b,
                                  static_cast<float*>(operands[p.out_slot]), p.N, p.relu);
  return 0;
}
#endif  // HWY_ONCE
