// `rtml limits` (bench/limits.h, bench/limits_kernels.h): correctness only,
// never speed. The FMA loop's accumulators against the closed form of the
// recurrence it runs, and the read loop's sum against plain integer sums, on
// every Highway target this CPU supports; the sysfs size parser on fixture
// strings; cache detection on fixture sysfs trees (and its sysconf and
// default fallbacks); a short measurement's numbers and JSON fields.
#include "bench/limits.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "bench/limits_kernels.h"
#include "core/error.h"
#include "hwy/targets.h"
#include "simd_targets.h"

using namespace rtml;
namespace fs = std::filesystem;

namespace {

// Runs check() once per dispatched Highway target (tests/unit/simd_targets.h).
template <class F>
void on_every_target(const F& check) {
  rtml::testing::check_every_dispatched_target(bench::limits_target, check);
}

// acc[k] = k, then `iters` steps of x -> x * mul + add; compares every lane
// of every chain with want(x0).
template <class Want>
void check_fma(size_t iters, float mul, float add, const Want& want) {
  const size_t lanes = bench::limits_lanes();
  ASSERT_GE(lanes, 1u);
  ASSERT_LE(lanes, 64u);
  std::vector<float> acc(bench::kFmaChains * lanes);
  for (size_t k = 0; k < acc.size(); ++k) acc[k] = static_cast<float>(k);
  bench::fma_chains_f32(acc.data(), iters, mul, add);
  for (size_t k = 0; k < acc.size(); ++k) {
    const double expected = want(static_cast<double>(k));
    if (static_cast<double>(acc[k]) != expected) {
      ADD_FAILURE() << "chain " << k / lanes << " lane " << k % lanes << " (x0 = " << k << ", " << iters
                    << " steps of x*" << mul << "+" << add << "): got " << acc[k] << ", want " << expected;
      return;
    }
  }
}

}  // namespace

TEST(LimitsKernels, FmaChainsFollowTheClosedForm) {
  on_every_target([] {
    // x -> x/2 + 1 (what rtml limits runs): x_n = 2 + (x0 - 2) / 2^n. Every
    // value has at most 22 significant bits here, so each step is exact, fused or not.
    for (size_t n : {0, 1, 7, 20})
      check_fma(n, 0.5f, 1.0f, [n](double x0) { return 2.0 + (x0 - 2.0) * std::ldexp(1.0, -static_cast<int>(n)); });
    // x -> 2x - 1: x_n = 2^n (x0 - 1) + 1 (mul and add swapped would give another sequence).
    check_fma(10, 2.0f, -1.0f, [](double x0) { return 1024.0 * (x0 - 1.0) + 1.0; });
    // x -> x + 1: x_n = x0 + n.
    check_fma(1000, 1.0f, 1.0f, [](double x0) { return x0 + 1000.0; });
  });
}

TEST(LimitsKernels, ReadSumMatchesPlainSums) {
  on_every_target([] {
    const size_t lanes = bench::limits_lanes();
    std::vector<size_t> sizes = {0, 1, 3, lanes - 1, lanes + 1, 8 * lanes - 1, 8 * lanes, 8 * lanes + 5,
                                 17 * lanes + 3, 1000, 4099};
    std::vector<float> buf(4099 + 1);
    for (size_t n : sizes) {
      // All ones: the sum is n.
      std::fill(buf.begin(), buf.end(), 1.0f);
      EXPECT_EQ(bench::read_sum_f32(buf.data(), n), static_cast<float>(n)) << "ones, n = " << n;
      // p[i] = (i % 13) - 4 from an unaligned start, read 1 and 3 times,
      // against an integer sum (exact: every partial sum is a small integer).
      for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<float>(static_cast<int>(i % 13) - 4);
      const float* p = buf.data() + 1;
      int64_t want = 0;
      for (size_t i = 0; i < n; ++i) want += static_cast<int64_t>((i + 1) % 13) - 4;
      EXPECT_EQ(bench::read_sum_f32(p, n), static_cast<float>(want)) << "n = " << n;
      EXPECT_EQ(bench::read_sum_f32(p, n, 3), static_cast<float>(3 * want)) << "3 passes, n = " << n;
      EXPECT_EQ(bench::read_sum_f32(p, n, 0), 0.0f) << "0 passes, n = " << n;
    }
  });
}

TEST(LimitsKernels, TargetLanesAndFusion) {
  EXPECT_STRNE(bench::limits_target(), "");
  const size_t lanes = bench::limits_lanes();
  EXPECT_TRUE(lanes == 1 || lanes == 4 || lanes == 8 || lanes == 16) << lanes;
#if HWY_ARCH_ARM_A64
  EXPECT_TRUE(bench::limits_fma_fused());  // AArch64 NEON: FMLA
  EXPECT_EQ(lanes, 4u);
#elif HWY_ARCH_ARM_V7 && !defined(__ARM_VFPV4__)
  EXPECT_FALSE(bench::limits_fma_fused());  // Cortex-A8 NEON: VMUL + VADD
  EXPECT_EQ(lanes, 4u);
#endif
}

TEST(Limits, ParseCacheSize) {
  EXPECT_EQ(bench::parse_cache_size("48K"), 48 * 1024);
  EXPECT_EQ(bench::parse_cache_size("2048K"), 2048 * 1024);
  EXPECT_EQ(bench::parse_cache_size("32M"), int64_t{32} << 20);
  EXPECT_EQ(bench::parse_cache_size("1G"), int64_t{1} << 30);
  EXPECT_EQ(bench::parse_cache_size("512"), 512);
  EXPECT_EQ(bench::parse_cache_size(" 32K\n"), 32 * 1024);
  for (const char* bad : {"", " ", "K", "32Q", "32KB", "abc", "-4K", "0K", "0", "3.5M", "32 K", "99999999999999999K"})
    EXPECT_EQ(bench::parse_cache_size(bad), std::nullopt) << "'" << bad << "'";
}

namespace {

struct Tree {
  fs::path root;
  explicit Tree(const std::string& name)
      : root(fs::temp_directory_path() / ("rtml_limits_test_" + std::to_string(::getpid()) + "_" + name)) {
    fs::remove_all(root);
    fs::create_directories(root);
  }
  ~Tree() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  // One index folder of a cpu's cache folder (root/cpuN/cache/indexK).
  void cache(int cpu, int index, const std::string& level, const std::string& type, const std::string& size) const {
    fs::path d = dir(cpu) / ("index" + std::to_string(index));
    fs::create_directories(d);
    std::ofstream(d / "level") << level << "\n";
    std::ofstream(d / "type") << type << "\n";
    std::ofstream(d / "size") << size << "\n";
  }
  fs::path dir(int cpu) const { return root / ("cpu" + std::to_string(cpu)) / "cache"; }
};

long no_sysconf(int) { return 0; }
long bogus_sysconf(int) { return 12345; }  // must not be used when sysfs knows

}  // namespace

TEST(Limits, DetectCachesFromSysfs) {
  Tree t("epyc");
  t.cache(0, 0, "1", "Data", "48K");
  t.cache(0, 1, "1", "Instruction", "32K");
  t.cache(0, 2, "2", "Unified", "2048K");
  t.cache(0, 3, "3", "Unified", "32M");
  auto c = bench::detect_caches(t.dir(0).string(), bogus_sysconf);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].name, "L1d");
  EXPECT_EQ(c[0].bytes, 48 * 1024);
  EXPECT_EQ(c[0].source, "sysfs " + (t.dir(0) / "index0" / "size").string());
  EXPECT_EQ(c[1].name, "L2");
  EXPECT_EQ(c[1].bytes, 2048 * 1024);
  EXPECT_EQ(c[1].source, "sysfs " + (t.dir(0) / "index2" / "size").string());
  EXPECT_EQ(c[2].name, "L3");
  EXPECT_EQ(c[2].bytes, int64_t{32} << 20);
}

TEST(Limits, MissingLevelIsAbsentNotInvented) {
  Tree t("a8");  // Cortex-A8: L1 I/D and a 256K L2, no L3
  t.cache(0, 0, "1", "Data", "32K");
  t.cache(0, 1, "1", "Instruction", "32K");
  t.cache(0, 2, "2", "Unified", "256K");
  auto c = bench::detect_caches(t.dir(0).string(), bogus_sysconf);
  EXPECT_EQ(c[0].bytes, 32 * 1024);
  EXPECT_EQ(c[1].bytes, 256 * 1024);
  EXPECT_EQ(c[2].name, "L3");
  EXPECT_EQ(c[2].bytes, std::nullopt);
  EXPECT_EQ(c[2].source.rfind("absent", 0), 0u) << c[2].source;
}

TEST(Limits, UnreadableSizeFallsBackToSysconf) {
  Tree t("garbage");
  t.cache(0, 0, "1", "Data", "32K");
  t.cache(0, 2, "2", "Unified", "lots");
  auto c = bench::detect_caches(t.dir(0).string(), [](int level) { return level == 2 ? 524288L : 0L; });
  EXPECT_EQ(c[0].bytes, 32 * 1024);
  EXPECT_EQ(c[1].bytes, 524288);
  EXPECT_NE(c[1].source.find("sysconf(_SC_LEVEL2_CACHE_SIZE)"), std::string::npos) << c[1].source;
  EXPECT_NE(c[1].source.find("'lots'"), std::string::npos) << c[1].source;
  EXPECT_EQ(c[2].bytes, std::nullopt);  // sysfs lists caches, and no L3
}

TEST(Limits, NoSysfsUsesSysconfThenDefaults) {
  Tree t("empty");
  auto c = bench::detect_caches((t.root / "nowhere").string(), [](int level) { return level == 1 ? 65536L : 0L; });
  EXPECT_EQ(c[0].bytes, 65536);
  EXPECT_EQ(c[0].source.rfind("sysconf(_SC_LEVEL1_DCACHE_SIZE)", 0), 0u) << c[0].source;
  EXPECT_EQ(c[1].bytes, 256 * 1024);
  EXPECT_EQ(c[1].source.rfind("default", 0), 0u) << c[1].source;
  EXPECT_EQ(c[2].bytes, std::nullopt);
  EXPECT_EQ(c[2].source.rfind("absent", 0), 0u) << c[2].source;

  c = bench::detect_caches((t.root / "nowhere").string(), no_sysconf);
  EXPECT_EQ(c[0].bytes, 32 * 1024);
  EXPECT_EQ(c[0].source.rfind("default", 0), 0u) << c[0].source;
}

TEST(Limits, ShortMeasurementOnAFixtureTree) {
  // Every core gets the Cortex-A8 caches: L3 absent, so the DRAM buffer is
  // max(8 x 256K, 64 MiB) = 64 MiB.
  Tree t("measure");
  const long cores = std::max(1L, ::sysconf(_SC_NPROCESSORS_CONF));
  for (int cpu = 0; cpu < cores; ++cpu) {
    t.cache(cpu, 0, "1", "Data", "32K");
    t.cache(cpu, 1, "2", "Unified", "256K");
  }
  bench::LimitsOptions o;
  o.seconds = 0.01;
  o.repetitions = 2;
  o.sysfs_cpu_root = t.root.string();
  std::vector<std::string> steps;
  o.progress = [&](const std::string& s) { steps.push_back(s); };
  const bench::HardwareLimits h = bench::measure_limits(o);

  EXPECT_EQ(steps.size(), 4u);  // FMA, L1d, L2, DRAM
  EXPECT_EQ(h.target, bench::limits_target());
  EXPECT_EQ(h.lanes, static_cast<int>(bench::limits_lanes()));
  EXPECT_EQ(h.fma_chains, 12);
  EXPECT_TRUE(std::isfinite(h.fma_gflops) && h.fma_gflops > 0) << h.fma_gflops;
  EXPECT_TRUE(std::isfinite(h.fma_gflops_median) && h.fma_gflops_median > 0 && h.fma_gflops_median <= h.fma_gflops);
  ASSERT_EQ(h.levels.size(), 4u);
  const char* names[] = {"L1d", "L2", "L3", "DRAM"};
  const int64_t buffers[] = {16 * 1024, 128 * 1024, 0, int64_t{64} << 20};
  for (size_t i = 0; i < 4; ++i) {
    const auto& l = h.levels[i];
    SCOPED_TRACE(l.name);
    EXPECT_EQ(l.name, names[i]);
    EXPECT_EQ(l.buffer_bytes, buffers[i]);
    if (i == 2) {
      EXPECT_EQ(l.bytes, std::nullopt);
      EXPECT_EQ(l.read_gbps, std::nullopt);
      continue;
    }
    ASSERT_TRUE(l.read_gbps && l.read_gbps_median);
    EXPECT_TRUE(std::isfinite(*l.read_gbps) && *l.read_gbps > 0) << *l.read_gbps;
    EXPECT_TRUE(*l.read_gbps_median > 0 && *l.read_gbps_median <= *l.read_gbps);
  }
  EXPECT_EQ(h.levels[0].bytes_source, "sysfs " + (t.dir(h.cpu >= 0 ? h.cpu : 0) / "index0" / "size").string());
  EXPECT_GT(h.measured_seconds, 0);

  const auto j = bench::limits_json(h);
  for (const char* key : {"schema", "created", "host", "cpu_model", "cpu", "pinned", "target", "lanes", "fma_fused",
                          "fma_chains", "fma_gflops", "fma_gflops_median", "levels", "statistic", "repetitions",
                          "seconds_per_measurement", "measured_seconds", "notes"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["schema"], "rtml.limits/1");
  EXPECT_EQ(j["fma_gflops"].get<double>(), h.fma_gflops);
  ASSERT_EQ(j["levels"].size(), 4u);
  for (const auto& l : j["levels"])
    for (const char* key :
         {"name", "bytes", "bytes_source", "buffer_bytes", "buffer_rule", "read_gbps", "read_gbps_median"})
      EXPECT_TRUE(l.contains(key)) << l["name"] << " " << key;
  EXPECT_TRUE(j["levels"][2]["bytes"].is_null());
  EXPECT_TRUE(j["levels"][2]["read_gbps"].is_null());
  EXPECT_TRUE(j["levels"][2]["buffer_bytes"].is_null());
  EXPECT_TRUE(j["levels"][3]["read_gbps"].is_number());
}

TEST(Limits, BadOptionsAreErrors) {
  bench::LimitsOptions o;
  o.seconds = 0;
  EXPECT_THROW(bench::measure_limits(o), Error);
  o.seconds = 0.01;
  o.repetitions = 0;
  EXPECT_THROW(bench::measure_limits(o), Error);
}
