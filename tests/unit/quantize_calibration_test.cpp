// quantize/calibration: the arithmetic of rtml quantize against answers
// worked out by hand (docs/quantization.md, "Making an int8 model").
#include "quantize/calibration.h"

#include <gtest/gtest.h>

#include <cmath>

namespace rtml::quantize {
namespace {

Histogram uniform_counts(double lo, double hi, int bins, double each) {
  Histogram h(lo, hi, bins);
  for (auto& c : h.counts) c = each;
  return h;
}

TEST(QuantizeCalibration, ActivationParamsHoldZeroAndRoundTheZeroPoint) {
  // [-1, 3]: scale 4 / 255; int8 zero point round(-128 + 63.75) = -64, uint8 round(63.75) = 64.
  QuantParams p = activation_params({-1, 3}, DType::I8);
  EXPECT_FLOAT_EQ(p.scale, 4.0f / 255.0f);
  EXPECT_EQ(p.zero_point, -64);
  EXPECT_EQ(activation_params({-1, 3}, DType::U8).zero_point, 64);
  // [0.5, 2] widens to [0, 2]: 0 is exact at the lowest code.
  p = activation_params({0.5, 2}, DType::I8);
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 255.0f);
  EXPECT_EQ(p.zero_point, -128);
  EXPECT_EQ(activation_params({0.5, 2}, DType::U8).zero_point, 0);
  // [-3, -1] widens to [-3, 0]: zero at the top code.
  EXPECT_EQ(activation_params({-3, -1}, DType::I8).zero_point, 127);
  // A tensor that is always 0: scale 1, zero point 0.
  p = activation_params({0, 0}, DType::I8);
  EXPECT_EQ(p.scale, 1.0f);
  EXPECT_EQ(p.zero_point, 0);
  // The round trip clamps to the top code: 4 -> 127, back to (127 + 64) * 4 / 255
  // (the rounded zero point moves the grid by a quarter step).
  EXPECT_NEAR(round_trip(4.0, activation_params({-1, 3}, DType::I8), -128, 127), 764.0 / 255.0, 1e-6);
}

TEST(QuantizeCalibration, PercentileOfAUniformHistogram) {
  // 100 bins of width 1 over [0, 100), one value each: the central 90% is [5, 95].
  Histogram h = uniform_counts(0, 100, 100, 1);
  Range r = percentile_range(h, 90);
  EXPECT_NEAR(r.lo, 5, 1e-9);
  EXPECT_NEAR(r.hi, 95, 1e-9);
  r = percentile_range(h, 100);
  EXPECT_NEAR(r.lo, 0, 1e-9);
  EXPECT_NEAR(r.hi, 100, 1e-9);
}

TEST(QuantizeCalibration, PercentileInterpolatesInsideABin) {
  // 98 values in [0, 1), 2 in [99, 100]; 98% keeps 1 value off each end:
  // low end 1/98 into the first bin, high end halfway through the last one.
  Histogram h(0, 100, 100);
  h.counts[0] = 98;
  h.counts[99] = 2;
  Range r = percentile_range(h, 98);
  EXPECT_NEAR(r.lo, 1.0 / 98, 1e-12);
  EXPECT_NEAR(r.hi, 99.5, 1e-12);
}

TEST(QuantizeCalibration, HistogramAddsValuesToTheirBins) {
  Histogram h(0, 4, 4);
  const float v[] = {0.f, 0.5f, 1.f, 3.99f, 4.f, NAN};
  h.add(v, 6);
  EXPECT_EQ(h.counts, (std::vector<double>{2, 1, 0, 2}));  // hi lands in the last bin; NaN nowhere
}

TEST(QuantizeCalibration, MseKeepsARangeWhoseGridHoldsEveryValue) {
  // Values 0, 100 and 254 (bin centres of [-0.5, 254.5] in 255 bins). The full
  // range has scale 1 and zero point round(-128 + 0.5) = -128: every value is a
  // grid point, error 0. Any narrower range clips 254 or moves the grid off 100.
  Histogram h(-0.5, 254.5, 255);
  h.counts[0] = 5;
  h.counts[100] = 3;
  h.counts[254] = 1;
  Range r = mse_range(h, DType::I8);
  EXPECT_DOUBLE_EQ(r.lo, -0.5);
  EXPECT_DOUBLE_EQ(r.hi, 254.5);
  EXPECT_EQ(histogram_mse(h, r, DType::I8), 0.0);
}

TEST(QuantizeCalibration, MseClipsARareOutlier) {
  // Ten million values in [0, 10) and one at 999.5. Keeping the outlier costs
  // every value a step of 1000 / 255 (error ~ step^2 / 12 each, ~1.3e7 in all);
  // clipping it costs at most 1000^2 = 1e6 once. So the range must clip it
  // and keep the bulk (for a smooth distribution the best top would be near 72,
  // where the two costs' slopes meet; ten distinct values move it a little).
  Histogram h(0, 1000, 1000);
  for (int i = 0; i < 10; ++i) h.counts[i] = 1e6;
  h.counts[999] = 1;
  Range r = mse_range(h, DType::I8);
  EXPECT_EQ(r.lo, 0);
  EXPECT_LT(r.hi, 500);
  EXPECT_GE(r.hi, 10);
  EXPECT_LT(histogram_mse(h, r, DType::I8), histogram_mse(h, {0, 1000}, DType::I8));
}

TEST(QuantizeCalibration, WeightsSymmetricPerChannelAndPerTensor) {
  // Rows (axis 0) [0.25, -2, 0.5] and [0, 0, 0]: scales 2/127 and 1 (an all-zero row).
  const float w[] = {0.25f, -2.f, 0.5f, 0.f, 0.f, 0.f};
  QuantizedWeights q = quantize_weights(w, {2, 3}, 0, true);
  ASSERT_EQ(q.scales.size(), 2u);
  EXPECT_FLOAT_EQ(q.scales[0], 2.0f / 127.0f);
  EXPECT_EQ(q.scales[1], 1.0f);
  // 0.25 * 63.5 = 15.875 -> 16; -2 -> -127; 0.5 * 63.5 = 31.75 -> 32
  EXPECT_EQ(q.values, (std::vector<int8_t>{16, -127, 32, 0, 0, 0}));
  // Columns (axis 1, a MatMul weight [K, N]): 0.25 -> 127, -2 -> -127, 0.5 -> 127.
  q = quantize_weights(w, {2, 3}, 1, true);
  EXPECT_FLOAT_EQ(q.scales[0], 0.25f / 127.0f);
  EXPECT_FLOAT_EQ(q.scales[2], 0.5f / 127.0f);
  EXPECT_EQ(q.values, (std::vector<int8_t>{127, -127, 127, 0, 0, 0}));
  // Per tensor: one scale for all.
  q = quantize_weights(w, {2, 3}, 0, false);
  ASSERT_EQ(q.scales.size(), 1u);
  EXPECT_EQ(q.values, (std::vector<int8_t>{16, -127, 32, 0, 0, 0}));
}

TEST(QuantizeCalibration, BiasScaleIsInputScaleTimesWeightScale) {
  const float b[] = {1.0f, -0.5f};
  QuantizedBias q = quantize_bias(b, 2, 0.5f, {0.1f, 0.2f});
  EXPECT_FLOAT_EQ(q.scales[0], 0.05f);
  EXPECT_FLOAT_EQ(q.scales[1], 0.1f);
  EXPECT_EQ(q.values, (std::vector<int32_t>{20, -5}));
}

TEST(QuantizeCalibration, SqnrInDecibels) {
  EXPECT_DOUBLE_EQ(sqnr_db(100, 1), 20);
  EXPECT_DOUBLE_EQ(sqnr_db(1, 1), 0);
  EXPECT_TRUE(std::isinf(sqnr_db(1, 0)));
}

}  // namespace
}  // namespace rtml::quantize
