// `rtml limits`: cache detection, timing and the rtml.limits/1 JSON (see
// limits.h). The loops that are timed are in limits_kernels.cpp.
#include "bench/limits.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>

#include <hwy/aligned_allocator.h>

#include "bench/limits_kernels.h"
#include "bench/runner.h"
#include "core/error.h"

namespace rtml::bench {

namespace fs = std::filesystem;

std::optional<int64_t> parse_cache_size(const std::string& text) {
  size_t b = text.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return std::nullopt;
  size_t e = text.find_last_not_of(" \t\r\n") + 1;
  const std::string s = text.substr(b, e - b);
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) return std::nullopt;
  int64_t value = std::stoll(s.substr(0, digits));
  const std::string suffix = s.substr(digits);
  int64_t unit = 1;
  if (suffix == "K" || suffix == "k")
    unit = int64_t{1} << 10;
  else if (suffix == "M")
    unit = int64_t{1} << 20;
  else if (suffix == "G")
    unit = int64_t{1} << 30;
  else if (!suffix.empty())
    return std::nullopt;
  if (value == 0 || value > std::numeric_limits<int64_t>::max() / unit) return std::nullopt;
  return value * unit;
}

namespace {

std::optional<std::string> read_trimmed(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::string s;
  std::getline(in, s);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

long real_sysconf_size(int level) {
  switch (level) {
#ifdef _SC_LEVEL1_DCACHE_SIZE
    case 1: return ::sysconf(_SC_LEVEL1_DCACHE_SIZE);
    case 2: return ::sysconf(_SC_LEVEL2_CACHE_SIZE);
    case 3: return ::sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    default: return 0;
  }
}

const char* sysconf_name(int level) {
  return level == 1 ? "sysconf(_SC_LEVEL1_DCACHE_SIZE)" : level == 2 ? "sysconf(_SC_LEVEL2_CACHE_SIZE)"
                                                                      : "sysconf(_SC_LEVEL3_CACHE_SIZE)";
}

}  // namespace

std::vector<CacheLevel> detect_caches(const std::string& cache_dir, const std::function<long(int)>& sysconf_size) {
  // What sysfs says per level: a size with its file, or a file whose size
  // could not be read.
  struct Found {
    std::optional<int64_t> bytes;
    std::string file;
    std::string unreadable;  // the text that did not parse
  };
  std::optional<Found> found[4];
  bool sysfs_lists_any = false;
  std::error_code ec;
  std::vector<fs::path> entries;
  for (const auto& e : fs::directory_iterator(cache_dir, ec))
    if (e.path().filename().string().rfind("index", 0) == 0) entries.push_back(e.path());
  std::sort(entries.begin(), entries.end());
  for (const auto& dir : entries) {
    auto level = read_trimmed(dir / "level");
    auto type = read_trimmed(dir / "type");
    if (!level || !type || (*level != "1" && *level != "2" && *level != "3")) continue;
    if (*type != "Data" && *type != "Unified") continue;
    const int l = (*level)[0] - '0';
    auto size_text = read_trimmed(dir / "size");
    auto bytes = size_text ? parse_cache_size(*size_text) : std::nullopt;
    if (found[l] && found[l]->bytes) continue;  // the first readable entry of a level wins
    Found f;
    f.file = (dir / "size").string();
    if (bytes) {
      f.bytes = bytes;
      sysfs_lists_any = true;
    } else {
      f.unreadable = size_text ? "'" + *size_text + "'" : "missing";
    }
    found[l] = f;
  }

  const char* names[4] = {"", "L1d", "L2", "L3"};
  std::vector<CacheLevel> out;
  for (int l = 1; l <= 3; ++l) {
    CacheLevel c;
    c.name = names[l];
    if (found[l] && found[l]->bytes) {
      c.bytes = found[l]->bytes;
      c.source = "sysfs " + found[l]->file;
      out.push_back(c);
      continue;
    }
    if (sysfs_lists_any && !found[l]) {
      c.source = "absent: not listed in " + cache_dir;
      out.push_back(c);
      continue;
    }
    const std::string why = found[l] ? " (sysfs " + found[l]->file + " unreadable: " + found[l]->unreadable + ")"
                                     : " (no cache sizes in " + cache_dir + ")";
    const long sc = sysconf_size ? sysconf_size(l) : real_sysconf_size(l);
    if (sc > 0) {
      c.bytes = sc;
      c.source = sysconf_name(l) + why;
    } else if (l == 1) {
      c.bytes = 32 << 10;
      c.source = "default 32K: neither sysfs nor sysconf knows it" + why;
    } else if (l == 2) {
      c.bytes = 256 << 10;
      c.source = "default 256K: neither sysfs nor sysconf knows it" + why;
    } else {
      c.source = "absent: neither sysfs nor sysconf lists it" + why;
    }
    out.push_back(c);
  }
  return out;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Rate {
  double best = 0, median = 0;
};

// Runs run(count) for a growing count until one call takes >= 10 ms (or
// seconds/repetitions, if smaller; this also warms caches and clocks), then
// `repetitions` calls of about seconds/repetitions each. Returns the best and
// median of work(count)/time.
template <class Run, class Work>
Rate measure(const Run& run, const Work& work, double seconds, int repetitions, uint64_t start_count) {
  const double per_rep = seconds / repetitions;
  const double calib = std::min(0.01, per_rep);
  uint64_t count = start_count;
  double t = 0;
  for (;;) {
    auto t0 = Clock::now();
    run(count);
    t = seconds_since(t0);
    if (t >= calib || count > (uint64_t{1} << 40)) break;
    count *= t > 0 ? std::clamp<uint64_t>(static_cast<uint64_t>(calib / t * 1.5), 2, 64) : 64;
  }
  const uint64_t n = std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(count) * per_rep / std::max(t, 1e-9)));
  std::vector<double> rates;
  for (int r = 0; r < repetitions; ++r) {
    auto t0 = Clock::now();
    run(n);
    const double dt = seconds_since(t0);
    rates.push_back(work(n) / std::max(dt, 1e-12));
  }
  std::sort(rates.begin(), rates.end());
  Rate out;
  out.best = rates.back();
  const size_t m = rates.size();
  out.median = m % 2 ? rates[m / 2] : (rates[m / 2 - 1] + rates[m / 2]) / 2;
  return out;
}

// Pins the calling thread to one core and puts the old affinity back.
class Pin {
 public:
  explicit Pin(int cpu) {
    if (::sched_getaffinity(0, sizeof old_, &old_) != 0) return;
    have_old_ = true;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pinned_ = ::sched_setaffinity(0, sizeof set, &set) == 0;
    if (!pinned_) error_ = std::strerror(errno);
  }
  ~Pin() {
    if (pinned_ && have_old_) ::sched_setaffinity(0, sizeof old_, &old_);
  }
  Pin(const Pin&) = delete;
  Pin& operator=(const Pin&) = delete;
  bool pinned() const { return pinned_; }
  const std::string& error() const { return error_; }

 private:
  cpu_set_t old_{};
  bool have_old_ = false;
  bool pinned_ = false;
  std::string error_;
};

std::string now_utc() {
  char created[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return created;
}

std::string mib(int64_t bytes) {
  char buf[64];
  if (bytes % (1 << 20) == 0)
    std::snprintf(buf, sizeof buf, "%lld MiB", static_cast<long long>(bytes >> 20));
  else
    std::snprintf(buf, sizeof buf, "%lld KiB", static_cast<long long>(bytes >> 10));
  return buf;
}

}  // namespace

HardwareLimits measure_limits(const LimitsOptions& o) {
  if (!(o.seconds > 0) || !std::isfinite(o.seconds))
    throw Error("limits: seconds per measurement must be > 0, got " + std::to_string(o.seconds));
  if (o.repetitions < 1) throw Error("limits: repetitions must be >= 1, got " + std::to_string(o.repetitions));
  const auto t_start = Clock::now();
  auto progress = [&](const std::string& s) {
    if (o.progress) o.progress(s);
  };

  HardwareLimits h;
  h.created = now_utc();
  h.host = host_info();
  h.cpu_model = h.host.value("cpu_model", "unknown");
  h.repetitions = o.repetitions;
  h.seconds_per_measurement = o.seconds;

  int cpu = o.cpu >= 0 ? o.cpu : ::sched_getcpu();
  std::optional<Pin> pin;
  if (cpu >= 0 && cpu < CPU_SETSIZE) {
    pin.emplace(cpu);
    if (!pin->pinned()) {
      if (o.cpu >= 0)
        throw Error("limits: cannot run on cpu " + std::to_string(o.cpu) + ": " + pin->error() +
                    " (cores this process may use: see `taskset -p $$` or nproc)");
      h.notes.push_back("not pinned to cpu " + std::to_string(cpu) + " (" + pin->error() +
                        "): the thread may have moved between cores");
    }
  } else if (o.cpu >= 0) {
    throw Error("limits: cpu " + std::to_string(o.cpu) + " is out of range (0.." + std::to_string(CPU_SETSIZE - 1) + ")");
  } else {
    h.notes.push_back("the current core is unknown (sched_getcpu failed): not pinned; caches of cpu0");
  }
  h.cpu = cpu;
  h.pinned = pin && pin->pinned();

  // --- FMA peak ---
  h.target = limits_target();
  h.lanes = static_cast<int>(limits_lanes());
  h.fma_fused = limits_fma_fused();
  h.fma_chains = static_cast<int>(kFmaChains);
  if (!h.fma_fused)
    h.notes.push_back(std::string("the ") + h.target +
                      " target has no fused multiply-add: MulAdd is a multiply and an add (still counted as 2 flops)");
  progress("FMA peak (" + h.target + ", " + std::to_string(h.lanes) + " float32 lanes, " +
           std::to_string(kFmaChains) + " chains)");
  {
    std::vector<float> acc(kFmaChains * limits_lanes(), 0.0f);
    const double flops_per_iter = 2.0 * static_cast<double>(kFmaChains * limits_lanes());
    // x -> 0.5 x + 1 converges to 2 and stays there: no overflow, no denormals.
    Rate r = measure([&](uint64_t n) { fma_chains_f32(acc.data(), n, 0.5f, 1.0f); },
                     [&](uint64_t n) { return static_cast<double>(n) * flops_per_iter * 1e-9; }, o.seconds,
                     o.repetitions, 1024);
    h.fma_gflops = r.best;
    h.fma_gflops_median = r.median;
  }

  // --- read bandwidth ---
  const int cache_cpu = cpu >= 0 ? cpu : 0;
  const std::string cache_dir = o.sysfs_cpu_root + "/cpu" + std::to_string(cache_cpu) + "/cache";
  const auto caches = detect_caches(cache_dir);
  int64_t largest = 0;
  for (const auto& c : caches)
    if (c.bytes) largest = std::max(largest, *c.bytes);
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  const int64_t phys = pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : 0;
  for (const auto& c : caches) {
    LevelLimit l;
    l.name = c.name;
    l.bytes = c.bytes;
    l.bytes_source = c.source;
    if (c.bytes) {
      l.buffer_bytes = std::max<int64_t>(*c.bytes / 2 / 64 * 64, 64);
      l.buffer_rule = "half the cache";
    }
    h.levels.push_back(l);
  }
  {
    LevelLimit d;
    d.name = "DRAM";
    if (phys > 0) {
      d.bytes = phys;
      d.bytes_source = "sysconf(_SC_PHYS_PAGES) x sysconf(_SC_PAGESIZE)";
    } else {
      d.bytes_source = "unknown: sysconf(_SC_PHYS_PAGES) failed";
    }
    int64_t want = std::max<int64_t>(8 * largest, int64_t{64} << 20);
    d.buffer_rule = "max(8 x largest cache, 64 MiB)";
    if (phys > 0 && want > phys / 4) {
      want = phys / 4 / 64 * 64;
      d.buffer_rule += ", capped at a quarter of the memory";
      if (want < 4 * largest)
        h.notes.push_back("the DRAM buffer (" + mib(want) + ") is under 4 x the largest cache: part of it may be cached");
    }
    d.buffer_bytes = want;
    h.levels.push_back(d);
  }

  int64_t biggest = 0;
  for (const auto& l : h.levels) biggest = std::max(biggest, l.buffer_bytes);
  const size_t floats = static_cast<size_t>(biggest) / sizeof(float);
  hwy::AlignedFreeUniquePtr<float[]> buf;
  try {
    buf = hwy::AllocateAligned<float>(floats);
  } catch (const std::bad_alloc&) {
  }
  if (!buf) throw Error("limits: cannot allocate the " + mib(biggest) + " buffer for the DRAM read");
  // Touch every page before timing (small whole numbers: no denormals, no NaN).
  for (size_t i = 0; i < floats; ++i) buf[i] = static_cast<float>(i & 7);

  for (auto& l : h.levels) {
    if (!l.bytes && l.name != "DRAM") continue;
    const size_t n = static_cast<size_t>(l.buffer_bytes) / sizeof(float);
    progress("read " + l.name + " (" + mib(l.buffer_bytes) + " buffer)");
    volatile float sink = 0;
    Rate r = measure(
        [&](uint64_t passes) { sink = sink + read_sum_f32(buf.get(), n, static_cast<size_t>(passes)); },
        [&](uint64_t passes) { return static_cast<double>(passes) * static_cast<double>(n * sizeof(float)) * 1e-9; },
        o.seconds, o.repetitions, 1);
    l.read_gbps = r.best;
    l.read_gbps_median = r.median;
  }
  h.measured_seconds = seconds_since(t_start);
  return h;
}

nlohmann::ordered_json limits_json(const HardwareLimits& h) {
  using nlohmann::ordered_json;
  auto opt = [](const auto& v) { return v ? ordered_json(*v) : ordered_json(); };
  ordered_json levels = ordered_json::array();
  for (const auto& l : h.levels)
    levels.push_back({{"name", l.name},
                      {"bytes", opt(l.bytes)},
                      {"bytes_source", l.bytes_source},
                      {"buffer_bytes", l.buffer_bytes > 0 ? ordered_json(l.buffer_bytes) : ordered_json()},
                      {"buffer_rule", l.buffer_rule.empty() ? ordered_json() : ordered_json(l.buffer_rule)},
                      {"read_gbps", opt(l.read_gbps)},
                      {"read_gbps_median", opt(l.read_gbps_median)}});
  return {{"schema", kLimitsSchema},
          {"created", h.created},
          {"host", h.host},
          {"cpu_model", h.cpu_model},
          {"cpu", h.cpu >= 0 ? ordered_json(h.cpu) : ordered_json()},
          {"pinned", h.pinned},
          {"target", h.target},
          {"lanes", h.lanes},
          {"fma_fused", h.fma_fused},
          {"fma_chains", h.fma_chains},
          {"fma_gflops", h.fma_gflops},
          {"fma_gflops_median", h.fma_gflops_median},
          {"levels", levels},
          {"statistic", "best of " + std::to_string(h.repetitions) + " repetitions (median beside it)"},
          {"repetitions", h.repetitions},
          {"seconds_per_measurement", h.seconds_per_measurement},
          {"measured_seconds", h.measured_seconds},
          {"notes", h.notes}};
}

}  // namespace rtml::bench
