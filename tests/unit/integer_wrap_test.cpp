// Integer arithmetic on hostile data wraps around in two's complement (as
// ONNX Runtime and NumPy compute it) instead of overflowing, which for signed
// types is undefined behaviour: UBSan (make test-asan) reports every kernel
// here that computes in the signed type. Expected values are worked out by
// hand modulo 2^64 (or 2^32): INT64_MAX + 1 = INT64_MIN, 2^62 * 2 = -2^63,
// 2^32 * 2^32 = 0, |INT64_MIN| = INT64_MIN.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "kernel_call.h"
#include "kernels/broadcast_plan.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "kernels/normalize.h"
#include "kernels/normalize_plan.h"
#include "kernels/tensor_ops.h"

using namespace rtml;
using namespace rtml::kernels;

namespace {

constexpr int64_t kMax64 = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin64 = std::numeric_limits<int64_t>::min();
constexpr int32_t kMax32 = std::numeric_limits<int32_t>::max();
constexpr int32_t kMin32 = std::numeric_limits<int32_t>::min();
constexpr int64_t k2to62 = int64_t(1) << 62;
constexpr int64_t k2to32 = int64_t(1) << 32;

// Reduces all of x (one output) with the table entry fn.
template <class T>
T reduce_all(rtml_kernel_fn fn, const std::vector<T>& x) {
  ReduceParams p{};
  p.out_slot = 1;
  EXPECT_TRUE(make_reduce({static_cast<int64_t>(x.size())}, {true}, p));
  T y{};
  call(fn, &p, {x.data(), &y});
  return y;
}

// Elementwise a op b, both of shape [n].
template <class T>
std::vector<T> binary(rtml_kernel_fn fn, const std::vector<T>& a, const std::vector<T>& b) {
  const int64_t n = static_cast<int64_t>(a.size());
  rtml_broadcast_params p{};
  EXPECT_TRUE(make_broadcast({{n}, {n}}, {n}, p.bc));
  std::vector<T> y(a.size());
  call(fn, &p, {a.data(), b.data(), y.data()});
  return y;
}

}  // namespace

TEST(IntegerWrap, ReduceSumAndMeanWrap) {
  EXPECT_EQ(reduce_all(rtml_s64_reduce_sum__ref, std::vector<int64_t>{kMax64, 1}), kMin64);
  // INT64_MIN - 1 wraps to INT64_MAX; + 5 wraps again to INT64_MIN + 4.
  EXPECT_EQ(reduce_all(rtml_s64_reduce_sum__ref, std::vector<int64_t>{kMin64, -1, 5}), kMin64 + 4);
  EXPECT_EQ(reduce_all(rtml_s32_reduce_sum__ref, std::vector<int32_t>{kMax32, 1}), kMin32);
  // Mean sums first: INT64_MAX + INT64_MAX wraps to -2, then / 2.
  EXPECT_EQ(reduce_all(rtml_s64_reduce_mean__ref, std::vector<int64_t>{kMax64, kMax64}), -1);
  // LogSum of a sum that wraps to INT64_MIN: the log of a negative number is NaN, which becomes 0.
  EXPECT_EQ(reduce_all(rtml_s64_reduce_log_sum__ref, std::vector<int64_t>{kMax64, 1}), 0);
}

TEST(IntegerWrap, ReduceProdWraps) {
  EXPECT_EQ(reduce_all(rtml_s64_reduce_prod__ref, std::vector<int64_t>{k2to62, 2}), kMin64);
  EXPECT_EQ(reduce_all(rtml_s64_reduce_prod__ref, std::vector<int64_t>{k2to32, k2to32, 7}), 0);
  EXPECT_EQ(reduce_all(rtml_s64_reduce_prod__ref, std::vector<int64_t>{kMin64, -1}), kMin64);
  // int8: 2^7 = 128 wraps to -128 (the product is taken in 64 bits, then its low 8 bits).
  EXPECT_EQ(reduce_all(rtml_s8_reduce_prod__ref, std::vector<int8_t>{2, 2, 2, 2, 2, 2, 2}), -128);
  // uint8: 255^8 overflows int64; 255 = -1 mod 256, so the product is 1.
  EXPECT_EQ(reduce_all(rtml_u8_reduce_prod__ref, std::vector<uint8_t>(8, 255)), 1);
}

TEST(IntegerWrap, ReduceL1AndSumSquareWrap) {
  // |INT64_MIN| is 2^63 = INT64_MIN modulo 2^64.
  EXPECT_EQ(reduce_all(rtml_s64_reduce_l1__ref, std::vector<int64_t>{kMin64}), kMin64);
  EXPECT_EQ(reduce_all(rtml_s64_reduce_l1__ref, std::vector<int64_t>{kMax64, -1}), kMin64);
  // (2^32)^2 = 2^64 = 0, + 3^2 = 9; (2^31)^2 = 2^62, twice = 2^63 = INT64_MIN.
  EXPECT_EQ(reduce_all(rtml_s64_reduce_sum_square__ref, std::vector<int64_t>{k2to32, 3}), 9);
  EXPECT_EQ(reduce_all(rtml_s64_reduce_sum_square__ref, std::vector<int64_t>{int64_t(1) << 31, int64_t(1) << 31}),
            kMin64);
}

TEST(IntegerWrap, ElementwiseAddMulSumAndPReluWrap) {
  EXPECT_EQ(binary(rtml_s64_add__ref, std::vector<int64_t>{kMax64, kMin64}, {1, -1}),
            (std::vector<int64_t>{kMin64, kMax64}));
  EXPECT_EQ(binary(rtml_s64_mul__ref, std::vector<int64_t>{k2to32, k2to62, kMin64}, {k2to32, 2, -1}),
            (std::vector<int64_t>{0, kMin64, kMin64}));
  EXPECT_EQ(binary(rtml_s32_mul__ref, std::vector<int32_t>{65536, kMax32}, {65536, 2}),
            (std::vector<int32_t>{0, -2}));
  // PRelu: x < 0 gives x * slope; INT64_MIN * -1 = INT64_MIN, -2^62 * 4 = 0.
  EXPECT_EQ(binary(rtml_s64_prelu__ref, std::vector<int64_t>{kMin64, -k2to62, 5}, {-1, 4, 9}),
            (std::vector<int64_t>{kMin64, 0, 5}));

  // Sum(INT64_MAX, INT64_MAX, 3) = 2^64 - 2 + 3 = 1.
  std::vector<int64_t> x0 = {kMax64}, x1 = {kMax64}, x2 = {3}, y(1);
  rtml_variadic_params vp{};
  vp.n = 3;
  vp.count = 1;
  ASSERT_TRUE(make_broadcast({{1}, {1}}, {1}, vp.bc[0]));
  ASSERT_TRUE(make_broadcast({{1}, {1}}, {1}, vp.bc[1]));
  call(rtml_s64_sum__ref, &vp, {x0.data(), x1.data(), x2.data(), y.data()});
  EXPECT_EQ(y[0], 1);
}

TEST(IntegerWrap, MatMulWraps) {
  // [2^62, 2^62] . [2, 2] = 2^63 + 2^63 = 2^64 = 0; [2^62, 1] . [2, 2] = 2^63 + 2 = INT64_MIN + 2.
  const int64_t a[] = {k2to62, k2to62, k2to62, 1}, b[] = {2, 2};
  int64_t y[2] = {7, 7};
  rtml_matmul_params p{};
  p.M = 2;
  p.N = 1;
  p.K = 2;
  p.batch_count = 1;
  call(rtml_s64_matmul__ref, &p, {a, b, y});
  EXPECT_EQ(y[0], 0);
  EXPECT_EQ(y[1], kMin64 + 2);
}

TEST(IntegerWrap, RangeWithAStepProductBeyondInt32) {
  // Range(-2^31, 2^31 - 1, 2^30): 4 elements; the last one's i * delta = 3 * 2^30 exceeds int32.
  const int32_t start = kMin32, limit = kMax32, delta = int32_t(1) << 30;
  std::vector<int32_t> out(4);
  rtml_range_params p{4};
  EXPECT_EQ(call(rtml_s32_range__ref, &p, {&start, &limit, &delta, out.data()}), 0);
  EXPECT_EQ(out, (std::vector<int32_t>{kMin32, -(int32_t(1) << 30), 0, int32_t(1) << 30}));
}
