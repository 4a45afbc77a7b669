// `rtml limits`: how fast this core can go, measured, so a model's speed can
// be put next to the hardware's limit (issue 7). Single thread, pinned to one
// core:
//   - float32 FMA peak (GFLOP/s): kFmaChains independent chains of Highway
//     MulAdd on full vectors (bench/limits_kernels), 2 flops per lane;
//   - read bandwidth (GB/s) from L1d, L2, L3 and DRAM: a buffer of about half
//     of each cache level (DRAM: max(8 x the last level, 64 MiB), at most a
//     quarter of the memory), summed with vector loads into 8 accumulators,
//     pass after pass.
// Every measurement is repeated (`repetitions` times, about seconds /
// repetitions each, after a calibration run that also warms up); the best
// repetition is the estimate of the limit (interference only slows a run
// down), the median is given beside it. docs/limits.md has the caveats.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rtml::bench {

inline constexpr const char* kLimitsSchema = "rtml.limits/1";

// A cache size as sysfs writes it ("32K", "1024K", "32M"; plain digits are
// bytes; surrounding whitespace allowed). nullopt for anything else: empty,
// no digits, an unknown suffix, trailing text, zero, or an overflow.
std::optional<int64_t> parse_cache_size(const std::string& text);

// One cache level: "L1d", "L2" or "L3". bytes is nullopt when the level is
// absent (source then says why).
struct CacheLevel {
  std::string name;
  std::optional<int64_t> bytes;
  std::string source;  // "sysfs DIR/index0/size", "sysconf(_SC_LEVEL2_CACHE_SIZE)", "default ...", "absent: ..."
};

// The L1 data, L2 and L3 caches of a CPU, from its sysfs cache folder
// (cache_dir, e.g. /sys/devices/system/cpu/cpu0/cache: index*/{level,type,size};
// a level's data or unified cache counts, instruction caches do not).
//   - When cache_dir lists at least one readable cache, it is the truth: a
//     level it does not list is absent (a Cortex-A8 has no L3).
//   - Otherwise (no folder, nothing readable) and for a listed level whose
//     size cannot be read: sysconf_size(level) when > 0 (by default glibc's
//     sysconf(_SC_LEVEL1_DCACHE_SIZE / _SC_LEVEL2_CACHE_SIZE /
//     _SC_LEVEL3_CACHE_SIZE), then a default for L1d (32 KiB) and L2
//     (256 KiB); L3 is then absent, never invented.
// Always three entries, in the order L1d, L2, L3.
std::vector<CacheLevel> detect_caches(const std::string& cache_dir,
                                      const std::function<long(int level)>& sysconf_size = {});

// Read bandwidth of one memory level.
struct LevelLimit {
  std::string name;                         // "L1d", "L2", "L3", "DRAM"
  std::optional<int64_t> bytes;             // the level's size (DRAM: physical memory); nullopt: absent
  std::string bytes_source;                 // where bytes came from (CacheLevel::source)
  int64_t buffer_bytes = 0;                 // the buffer read; 0 when absent
  std::string buffer_rule;                  // how buffer_bytes was chosen
  std::optional<double> read_gbps;          // best repetition, 1 GB = 1e9 bytes; nullopt when absent
  std::optional<double> read_gbps_median;   // median repetition
};

struct HardwareLimits {
  std::string created;    // UTC, ISO 8601
  nlohmann::json host;    // bench::host_info()
  std::string cpu_model;  // host's cpu_model
  int cpu = -1;           // the core measured on (-1: unknown)
  bool pinned = false;    // whether the thread was pinned to it
  std::string target;     // Highway target ("AVX2", "AVX3", "NEON"...)
  int lanes = 0;          // float32 lanes per vector on that target
  bool fma_fused = false; // false: MulAdd is a multiply and an add (SSE4, ARMv7 NEON without VFPv4)
  int fma_chains = 0;
  double fma_gflops = 0;         // best repetition
  double fma_gflops_median = 0;  // median repetition
  std::vector<LevelLimit> levels;  // L1d, L2, L3, DRAM
  int repetitions = 0;
  double seconds_per_measurement = 0;
  double measured_seconds = 0;  // wall time of the whole measurement
  std::vector<std::string> notes;
};

struct LimitsOptions {
  double seconds = 0.2;  // per measurement (FMA, each level); split into `repetitions`
  int repetitions = 5;
  int cpu = -1;          // pin to this core; -1: the core the thread is running on
  std::string sysfs_cpu_root = "/sys/devices/system/cpu";  // cpuN/cache/ below it
  // Called before each measurement with what is being measured (the CLI
  // prints it on stderr).
  std::function<void(const std::string&)> progress;
};

// Measures. Throws rtml::Error when --cpu names a core the thread may not run
// on, or the DRAM buffer cannot be allocated.
HardwareLimits measure_limits(const LimitsOptions& options);

// rtml.limits/1 (docs/limits.md): every field of HardwareLimits, absent
// levels with null numbers.
nlohmann::ordered_json limits_json(const HardwareLimits& limits);

}  // namespace rtml::bench
