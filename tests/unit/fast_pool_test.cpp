// The fast 1-D / 2-D float32 pools and int8 / uint8 MaxPool (kernels/fast_pool.h) against the
// reference kernels (kernels/pool.h) on random shapes, on every Highway
// target this CPU supports; and MaxPool / AveragePool nodes through
// build_plan and a Session: the fast kernel is chosen when it applies (and
// not with dilation, an Indices output or 3-D), and gives hand-computed
// values.
#include "kernels/fast_pool.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "kernels/pool.h"
#include "attributes.h"
#include "one_node.h"
#include "simd_targets.h"

using namespace rtml;
using rtml::testing::Operand;

namespace {

struct Geometry {
  std::vector<int64_t> in, kernel, stride, pad_begin, pad_end;
  bool ceil_mode = false;
};

// ONNX's output size for one dimension (no dilation): floor or ceil of
// (in + pads - kernel) / stride, plus one; with ceil_mode the last window
// must start inside the input or the left padding.
int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, bool ceil_mode) {
  const int64_t span = in + pb + pe - k;
  if (!ceil_mode) return span / s + 1;
  int64_t o = (span + s - 1) / s + 1;
  if ((o - 1) * s >= in + pb) --o;
  return o;
}

kernels::PoolParams params_of(const Geometry& g, int64_t planes, bool count_include_pad) {
  kernels::PoolParams p{};
  p.spatial = static_cast<int>(g.in.size());
  p.in_size = p.out_size = p.kernel_size = 1;
  p.planes = planes;
  for (int d = 0; d < p.spatial; ++d) {
    p.in_shape[d] = g.in[d];
    p.kernel[d] = g.kernel[d];
    p.stride[d] = g.stride[d];
    p.dilation[d] = 1;
    p.pad_begin[d] = g.pad_begin[d];
    p.pad_end[d] = g.pad_end[d];
    p.out_shape[d] = out_size(g.in[d], g.kernel[d], g.stride[d], g.pad_begin[d], g.pad_end[d], g.ceil_mode);
    p.in_size *= p.in_shape[d];
    p.out_size *= p.out_shape[d];
    p.kernel_size *= p.kernel[d];
  }
  p.count_include_pad = count_include_pad;
  return p;
}

// Random values in [-1, 1); with `specials`, some NaN, +-inf, +-0 and
// repeated values (ties), which MaxPool must treat like the reference.
std::vector<float> random_input(size_t n, std::mt19937& rng, bool specials) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::uniform_int_distribution<int> pick(0, 39);
  std::vector<float> v(n);
  for (float& x : v) {
    x = u(rng);
    if (!specials) continue;
    switch (pick(rng)) {
      case 0: x = std::numeric_limits<float>::quiet_NaN(); break;
      case 1: x = -std::numeric_limits<float>::infinity(); break;
      case 2: x = std::numeric_limits<float>::infinity(); break;
      case 3: x = 0.0f; break;
      case 4: x = -0.0f; break;
      case 5: x = 0.5f; break;
      default: break;
    }
  }
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// A random geometry, 1-D (even iter) or 2-D: odd and even widths up to max_width, kernels
// 1/2/3/5, strides 1/2/3/4, pads up to kernel - 1 (none every third iter),
// ceil_mode, count_include_pad, batch and channels; `where` describes it.
kernels::PoolParams random_params(std::mt19937& rng, int iter, int64_t max_width, std::string& where) {
  std::uniform_int_distribution<int64_t> width(1, max_width), height(1, 9), coin(0, 1);
  const int64_t kernels_[] = {1, 2, 3, 5};
  const int64_t strides[] = {1, 2, 3, 4};
  const int spatial = 1 + static_cast<int>(iter % 2);
  Geometry g;
  for (int d = 0; d < spatial; ++d) {
    const bool last = d == spatial - 1;
    const int64_t k = kernels_[rng() % 4];
    const bool padded = iter % 3 != 0;
    const int64_t pb = padded ? static_cast<int64_t>(rng() % static_cast<uint32_t>(k)) : 0;
    const int64_t pe = padded ? static_cast<int64_t>(rng() % static_cast<uint32_t>(k)) : 0;
    int64_t in = last ? width(rng) : height(rng);
    if (in + pb + pe < k) in = k;  // the window must fit the padded input
    g.in.push_back(in);
    g.kernel.push_back(k);
    g.stride.push_back(strides[rng() % 4]);
    g.pad_begin.push_back(pb);
    g.pad_end.push_back(pe);
  }
  g.ceil_mode = coin(rng) == 1;
  const int64_t n = 1 + coin(rng), c = 1 + 2 * coin(rng);
  const bool cip = coin(rng) == 1;
  where = "spatial=" + std::to_string(spatial) + " planes=" + std::to_string(n * c);
  for (int d = 0; d < spatial; ++d)
    where += " [in=" + std::to_string(g.in[d]) + " k=" + std::to_string(g.kernel[d]) + " s=" +
             std::to_string(g.stride[d]) + " pads=" + std::to_string(g.pad_begin[d]) + "," +
             std::to_string(g.pad_end[d]) + "]";
  where += std::string(" ceil=") + (g.ceil_mode ? "1" : "0") + " cip=" + (cip ? "1" : "0") + " on " +
           kernels::fast_pool_target();
  return params_of(g, n * c, cip);
}

// 600 random geometries (random_params); checks fast == reference bit for
// bit. Returns the number of cases checked.
int check_random_shapes() {
  std::mt19937 rng(7);
  int cases = 0;
  for (int iter = 0; iter < 600; ++iter) {
    std::string where;
    const kernels::PoolParams p = random_params(rng, iter, 41, where);
    const std::vector<float> x = random_input(static_cast<size_t>(p.planes * p.in_size), rng, iter % 4 == 1);
    const size_t out_n = static_cast<size_t>(p.planes * p.out_size);
    // Poisoned outputs: a kernel that skips an element leaves the marker.
    std::vector<float> want(out_n, 12345.0f), got(out_n, -12345.0f);

    kernels::maxpool<float>(p, x.data(), want.data(), nullptr);
    kernels::fast_maxpool_f32(p, x.data(), got.data());
    for (size_t i = 0; i < out_n; ++i)
      if (!same_bits(got[i], want[i])) {
        ADD_FAILURE() << "MaxPool " << where << ": y[" << i << "] = " << got[i] << ", reference " << want[i];
        return cases;
      }
    std::fill(want.begin(), want.end(), 12345.0f);
    std::fill(got.begin(), got.end(), -12345.0f);
    kernels::avgpool_f32(p, x.data(), want.data());
    kernels::fast_avgpool_f32(p, x.data(), got.data());
    for (size_t i = 0; i < out_n; ++i)
      if (!same_bits(got[i], want[i]) && !(std::isnan(got[i]) && std::isnan(want[i]))) {
        ADD_FAILURE() << "AveragePool " << where << ": y[" << i << "] = " << got[i] << ", reference " << want[i];
        return cases;
      }
    ++cases;
  }
  return cases;
}

// The int8 / uint8 MaxPool on 600 random geometries, with wider rows than
// the float check (up to 160 columns, so that 32- and 64-lane vectors run)
// and values over the whole range, the type's lowest and highest included.
template <class T>
int check_random_int_shapes(void (*fast)(const kernels::PoolParams&, const T*, T*), const char* name) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> value(std::numeric_limits<T>::lowest(), std::numeric_limits<T>::max());
  int cases = 0;
  for (int iter = 0; iter < 600; ++iter) {
    std::string where;
    const kernels::PoolParams p = random_params(rng, iter, iter % 5 == 0 ? 160 : 41, where);
    std::vector<T> x(static_cast<size_t>(p.planes * p.in_size));
    for (T& v : x) v = static_cast<T>(value(rng));
    const size_t out_n = static_cast<size_t>(p.planes * p.out_size);
    std::vector<T> want(out_n, T(17)), got(out_n, T(91));
    kernels::maxpool<T>(p, x.data(), want.data(), nullptr);
    fast(p, x.data(), got.data());
    for (size_t i = 0; i < out_n; ++i)
      if (got[i] != want[i]) {
        ADD_FAILURE() << name << " MaxPool " << where << ": y[" << i << "] = " << int(got[i]) << ", reference "
                      << int(want[i]);
        return cases;
      }
    ++cases;
  }
  return cases;
}

// Planes of one row whose windows tile it (no padding, kernel <= stride,
// width = outputs x stride) run as one long row: every such geometry, 1-D
// and 2-D of height 1, against the reference, float (NaN, infinities, ties
// included) and int8 / uint8.
int check_planes_as_one_row() {
  std::mt19937 rng(5);
  const std::pair<int64_t, int64_t> windows[] = {{1, 1}, {2, 2}, {1, 2}, {3, 3}, {2, 4}, {4, 4}};
  int cases = 0;
  for (int spatial = 1; spatial <= 2; ++spatial)
    for (const auto& [k, st] : windows)
      for (int64_t planes : {2, 3, 16, 37})
        for (int64_t ow : {1, 5, 50, 67}) {
          Geometry g;
          if (spatial == 2) g = {{1}, {1}, {1}, {0}, {0}};
          g.in.push_back(ow * st);
          g.kernel.push_back(k);
          g.stride.push_back(st);
          g.pad_begin.push_back(0);
          g.pad_end.push_back(0);
          const kernels::PoolParams p = params_of(g, planes, false);
          const std::string where = std::to_string(spatial) + "-D planes=" + std::to_string(planes) + " in=" +
                                    std::to_string(ow * st) + " k=" + std::to_string(k) + " s=" + std::to_string(st) +
                                    " on " + kernels::fast_pool_target();
          const size_t in_n = static_cast<size_t>(planes * p.in_size), out_n = static_cast<size_t>(planes * p.out_size);
          const std::vector<float> x = random_input(in_n, rng, true);
          std::vector<float> want(out_n, 12345.0f), got(out_n, -12345.0f);
          kernels::maxpool<float>(p, x.data(), want.data(), nullptr);
          kernels::fast_maxpool_f32(p, x.data(), got.data());
          for (size_t i = 0; i < out_n; ++i)
            if (!same_bits(got[i], want[i])) return ADD_FAILURE() << "MaxPool " << where << ": y[" << i << "]", cases;
          kernels::avgpool_f32(p, x.data(), want.data());
          kernels::fast_avgpool_f32(p, x.data(), got.data());
          for (size_t i = 0; i < out_n; ++i)
            if (!same_bits(got[i], want[i]) && !(std::isnan(got[i]) && std::isnan(want[i])))
              return ADD_FAILURE() << "AveragePool " << where << ": y[" << i << "]", cases;
          std::vector<int8_t> xi(in_n), want_i(out_n, 17), got_i(out_n, 91);
          for (int8_t& v : xi) v = static_cast<int8_t>(rng());
          kernels::maxpool<int8_t>(p, xi.data(), want_i.data(), nullptr);
          kernels::fast_maxpool_s8(p, xi.data(), got_i.data());
          if (want_i != got_i) return ADD_FAILURE() << "int8 MaxPool " << where, cases;
          ++cases;
        }
  return cases;
}

TEST(FastPool, PlanesOfOneTiledRowMatchReferenceOnEveryTarget) {
  rtml::testing::check_every_dispatched_target(kernels::fast_pool_target,
                                               [] { EXPECT_EQ(check_planes_as_one_row(), 2 * 6 * 4 * 4); });
}

TEST(FastPool, MatchesReferenceOnRandomShapesOnEveryTarget) {
  const std::set<std::string> checked = rtml::testing::check_every_dispatched_target(
      kernels::fast_pool_target, [] {
        EXPECT_EQ(check_random_shapes(), 600);
        EXPECT_EQ(check_random_int_shapes<int8_t>(kernels::fast_maxpool_s8, "int8"), 600);
        EXPECT_EQ(check_random_int_shapes<uint8_t>(kernels::fast_maxpool_u8, "uint8"), 600);
      });
#if HWY_ARCH_X86
  EXPECT_EQ(checked.size(), hwy::SupportedAndGeneratedTargets().size());
#endif
}

TEST(FastPool, Supported) {
  kernels::PoolParams p{};
  p.spatial = 2;
  p.dilation[0] = p.dilation[1] = 1;
  EXPECT_TRUE(kernels::fast_pool_supported(p));
  p.dilation[1] = 2;
  EXPECT_FALSE(kernels::fast_pool_supported(p));
  p.spatial = 3;
  p.dilation[1] = p.dilation[2] = 1;
  EXPECT_FALSE(kernels::fast_pool_supported(p));
}

rtml::testing::NodeRun run_pool(const std::string& op, const Shape& shape, const std::vector<float>& x,
                                std::map<std::string, ir::Attribute> attrs, int num_outputs = 1) {
  return rtml::testing::run_one_node(op, 19, {Operand{shape, x}}, {false}, num_outputs, std::move(attrs), 2);
}

// x = [[1 2 3 4] [5 6 7 8] [9 10 11 12]], kernel 2x2, stride 2, one row and
// one column of padding before: windows {1}, {2 3}, {5 9}, {6 7 10 11}.
TEST(FastPool, TwoDimensionalPaddedByHandThroughTheEngine) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  const std::map<std::string, ir::Attribute> attrs = {
      {"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}, {"pads", attr_ints({1, 1, 0, 0})}};
  auto mx = run_pool("MaxPool", {1, 1, 3, 4}, x, attrs);
  EXPECT_EQ(mx.kernel, "rtml_f32_maxpool__hwy");
  EXPECT_EQ(mx.outputs[0], (std::vector<float>{1, 3, 9, 11}));

  auto avg = run_pool("AveragePool", {1, 1, 3, 4}, x, attrs);
  EXPECT_EQ(avg.kernel, "rtml_f32_avgpool__hwy");
  EXPECT_EQ(avg.outputs[0], (std::vector<float>{1, 2.5f, 7, 8.5f}));

  auto cip_attrs = attrs;
  cip_attrs["count_include_pad"] = attr_int(1);
  auto cip = run_pool("AveragePool", {1, 1, 3, 4}, x, cip_attrs);
  EXPECT_EQ(cip.kernel, "rtml_f32_avgpool__hwy");
  EXPECT_EQ(cip.outputs[0], (std::vector<float>{0.25f, 1.25f, 3.5f, 8.5f}));
}

// A row long enough for the vector loop on every target: 2 channels of 67
// values, kernel 2 stride 2 (the digits/gesture CNN pool) and kernel 3
// stride 1.
TEST(FastPool, OneDimensionalLongRowsThroughTheEngine) {
  const int64_t w = 67;
  std::vector<float> x(2 * w);
  for (int64_t i = 0; i < 2 * w; ++i) x[i] = static_cast<float>(i % 5 == 0 ? -i : (i * 7) % 11);
  auto k2 = run_pool("MaxPool", {1, 2, w}, x, {{"kernel_shape", attr_ints({2})}, {"strides", attr_ints({2})}});
  EXPECT_EQ(k2.kernel, "rtml_f32_maxpool__hwy");
  ASSERT_EQ(k2.outputs[0].size(), 2u * 33u);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t j = 0; j < 33; ++j)
      EXPECT_EQ(k2.outputs[0][c * 33 + j], std::max(x[c * w + 2 * j], x[c * w + 2 * j + 1])) << c << "," << j;

  auto k3 = run_pool("AveragePool", {1, 2, w}, x, {{"kernel_shape", attr_ints({3})}});
  EXPECT_EQ(k3.kernel, "rtml_f32_avgpool__hwy");
  ASSERT_EQ(k3.outputs[0].size(), 2u * 65u);
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t j = 0; j < 65; ++j) {
      const float* t = &x[c * w + j];
      EXPECT_EQ(k3.outputs[0][c * 65 + j], (t[0] + t[1] + t[2]) / 3.0f) << c << "," << j;
    }
}

// Dilation, a requested Indices output and 3-D pools keep the reference kernel.
TEST(FastPool, OtherCasesKeepTheReferenceKernel) {
  const std::vector<float> x(2 * 5 * 5 * 5, 1.0f);
  auto dil = run_pool("MaxPool", {1, 2, 25}, std::vector<float>(x.begin(), x.begin() + 50),
                      {{"kernel_shape", attr_ints({2})}, {"dilations", attr_ints({2})}});
  EXPECT_EQ(dil.kernel, "rtml_f32_maxpool__ref");
  auto with_indices = run_pool("MaxPool", {1, 2, 25}, std::vector<float>(x.begin(), x.begin() + 50),
                               {{"kernel_shape", attr_ints({2})}}, 2);
  EXPECT_EQ(with_indices.kernel, "rtml_f32_maxpool__ref");
  EXPECT_EQ(with_indices.outputs[0], std::vector<float>(2 * 24, 1.0f));
  auto avg3 = run_pool("AveragePool", {1, 2, 5, 5, 5}, x, {{"kernel_shape", attr_ints({2, 2, 2})}});
  EXPECT_EQ(avg3.kernel, "rtml_f32_avgpool__ref");
  EXPECT_EQ(avg3.outputs[0], std::vector<float>(2 * 4 * 4 * 4, 1.0f));
}

}  // namespace
