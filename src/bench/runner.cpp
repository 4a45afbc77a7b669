#include "bench/runner.h"

#include <sched.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "bench/heap_counter.h"
#include "bench/memory_sampler.h"
#include "bench/stats.h"
#include "core/error.h"
#include "data/test_data.h"
#include "import/tflite_import.h"

#ifndef RTML_VERSION
#define RTML_VERSION "unknown"
#endif

namespace fs = std::filesystem;
using nlohmann::json;

namespace rtml::bench {

namespace {

using Clock = std::chrono::steady_clock;

// CLOCK_MONOTONIC, and an absolute sleep on it (no drift from the loop's own time).
struct SystemPeriodClock final : PeriodClock {
  int64_t now_ns() override {
    timespec t;
    ::clock_gettime(CLOCK_MONOTONIC, &t);
    return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
  }
  void sleep_until_ns(int64_t t_ns) override {
    timespec t{static_cast<time_t>(t_ns / 1000000000), static_cast<long>(t_ns % 1000000000)};
    while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, nullptr) == EINTR) {
    }
  }
};

// The sample buffer is sized before timing: at most this many timed runs
// (16 MB of samples, allocated only with --seconds; a 512 MB board has room).
constexpr double kMaxTimedRuns = 2e6;

double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

std::vector<data::TensorSpec> specs(const std::vector<backends::TensorInfo>& infos) {
  std::vector<data::TensorSpec> out;
  for (const auto& t : infos) out.push_back({t.name, t.dtype, t.shape});
  return out;
}

void fill_noise(backends::Backend& b, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int i = 0; i < static_cast<int>(b.inputs().size()); ++i) {
    const auto& t = b.inputs()[i];
    int64_t n = shape_numel(t.shape);
    void* p = b.input_data(i);
    switch (t.dtype) {
      case DType::F32: for (int64_t k = 0; k < n; ++k) static_cast<float*>(p)[k] = normal(rng); break;
      case DType::F64: for (int64_t k = 0; k < n; ++k) static_cast<double*>(p)[k] = normal(rng); break;
      default: std::memset(p, 0, t.bytes()); break;
    }
  }
}

void copy_inputs(backends::Backend& b, const data::TestSet& set) {
  for (size_t i = 0; i < set.inputs.size(); ++i) {
    const auto& t = set.inputs[i].tensor;
    const auto& want = b.inputs()[i];
    if (t.dtype != want.dtype || t.shape != want.shape)
      throw Error(set.inputs[i].file + ": holds " + dtype_name(t.dtype) + " " + shape_str(t.shape) + ", input '" +
                  want.name + "' needs " + dtype_name(want.dtype) + " " + shape_str(want.shape));
    std::memcpy(b.input_data(static_cast<int>(i)), t.data->data(), want.bytes());
  }
}

// Accuracy over every test data set: errors of every compared output, and
// top-1 of the first output against label.pb where there is one.
json accuracy(backends::Backend& b, const std::string& dir, double tolerance) {
  auto in = specs(b.inputs()), out = specs(b.outputs());
  std::vector<data::TestSet> sets;
  std::vector<std::vector<std::vector<uint8_t>>> outputs;  // per set, per output: its bytes
  for (const std::string& set_dir : data::find_test_sets(dir)) {
    sets.push_back(data::load_test_set(set_dir, in, out));
    copy_inputs(b, sets.back());
    b.run();
    auto& o = outputs.emplace_back();
    for (size_t k = 0; k < b.outputs().size(); ++k) {
      const auto* p = static_cast<const uint8_t*>(b.output_data(static_cast<int>(k)));
      o.emplace_back(p, p + b.outputs()[k].bytes());
    }
  }
  return accuracy_json(dir, sets, out, outputs, tolerance);
}

std::string first_line_of(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      auto p = line.find_first_of(":=", key.size());
      if (p == std::string::npos) continue;
      std::string v = line.substr(p + 1);
      v.erase(0, v.find_first_not_of(" \t\""));
      while (!v.empty() && (v.back() == '"' || v.back() == ' ')) v.pop_back();
      return v;
    }
  return "";
}

}  // namespace

json latency_json(const LatencyStats& s) {
  return {{"min", s.min},       {"mean", s.mean}, {"median", s.median}, {"p90", s.p90},         {"p99", s.p99},
          {"p999", s.p999},     {"max", s.max},   {"stddev", s.stddev}, {"jitter", s.jitter}};
}

json accuracy_json(const std::string& dir, const std::vector<data::TestSet>& sets,
                   const std::vector<data::TensorSpec>& outputs,
                   const std::vector<std::vector<std::vector<uint8_t>>>& actual, double tolerance) {
  double max_abs = 0, sum_abs = 0;
  int64_t elements = 0, mismatches = 0;
  data::Top1 top1;
  for (size_t s = 0; s < sets.size(); ++s) {
    const data::TestSet& set = sets[s];
    for (size_t o = 0; o < set.outputs.size() && o < outputs.size(); ++o) {
      if (!set.outputs[o]) continue;
      const data::TensorSpec& info = outputs[o];
      const void* got = actual[s][o].data();
      data::OutputStats st = data::compare(*set.outputs[o], info.dtype, info.shape, got, tolerance);
      mismatches += st.mismatches;
      max_abs = std::max(max_abs, st.max_abs_error);
      const auto& expected = set.outputs[o]->tensor;
      for (int64_t k = 0; k < st.elements; ++k) {
        double e = data::element_as_double(expected.data->data(), expected.dtype, k);
        double a = data::element_as_double(got, info.dtype, k);
        sum_abs += std::isfinite(a - e) ? std::fabs(a - e) : 0;
      }
      elements += st.elements;
    }
    if (set.label && !outputs.empty()) {
      ++top1.labelled;
      if (data::argmax_last_axis(outputs[0].name, outputs[0].dtype, outputs[0].shape, actual[s][0].data()) ==
          *set.label)
        ++top1.correct;
    }
  }
  json j = {{"test_data", dir}, {"sets", sets.size()}, {"tolerance", tolerance}, {"labelled_sets", top1.labelled}};
  j["max_abs_error"] = elements ? json(max_abs) : json(nullptr);
  j["mean_abs_error"] = elements ? json(sum_abs / static_cast<double>(elements)) : json(nullptr);
  j["top1"] = top1.accuracy() ? json(*top1.accuracy()) : json(nullptr);
  j["compared_elements"] = elements;
  j["mismatches"] = mismatches;
  j["passed"] = mismatches == 0 && (elements > 0 || top1.labelled > 0);
  return j;
}

RealtimeSetup apply_realtime(bool rt, int priority, std::optional<int> cpu, int threads) {
  RealtimeSetup s;
  if (rt) {
    sched_param p{};
    p.sched_priority = priority;
    if (::sched_setscheduler(0, SCHED_FIFO, &p) == 0)
      s.scheduler = "SCHED_FIFO priority " + std::to_string(priority);
    else
      s.scheduler = std::string("SCHED_OTHER (SCHED_FIFO refused: ") + std::strerror(errno) + ")";
    if (::mlockall(MCL_CURRENT | MCL_FUTURE) == 0)
      s.mlockall = "locked";
    else
      s.mlockall = std::string("refused: ") + std::strerror(errno);
  }
  if (cpu) {
    // One core per thread, from `cpu` on: the engine's workers inherit this
    // thread's CPU set when a session starts them, and must not share a core.
    const int last = *cpu + std::max(threads, 1) - 1;
    const std::string which = last > *cpu ? std::to_string(*cpu) + "-" + std::to_string(last) : std::to_string(*cpu);
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = *cpu; c <= last && c < CPU_SETSIZE; ++c) CPU_SET(c, &set);
    if (*cpu >= 0 && last < CPU_SETSIZE && ::sched_setaffinity(0, sizeof set, &set) == 0)
      s.cpu = which;
    else
      s.cpu = "any (cpu " + which + " refused: " + std::strerror(errno) + ")";
  }
  return s;
}

json bench_backend(backends::Backend& b, const std::string& backend_name, const ModelSpec& spec,
                   const BenchOptions& opt, const RealtimeSetup& rt, const Progress& progress) {
  auto phase = [&](const char* p) {
    if (progress) progress(p);
  };
  json run = {{"model", spec.name}, {"model_path", spec.path}, {"backend", backend_name}, {"status", "ok"},
              {"error", nullptr}};
  run["family"] = spec.family.empty() ? json(nullptr) : json(spec.family);
  run["flops"] = spec.flops ? json(*spec.flops) : json(nullptr);
  try {
    // How many timed runs, decided first: the sample buffers are allocated
    // (and touched) before the baseline reading, so neither the timed window
    // nor the memory figures include the bench's own bookkeeping.
    int64_t count;
    double budget_us = INFINITY;
    if (opt.runs) {
      count = *opt.runs;
    } else if (opt.period_us) {
      count = static_cast<int64_t>(std::ceil((opt.seconds ? *opt.seconds : opt.default_seconds) * 1e6 / *opt.period_us));
    } else if (opt.seconds) {
      budget_us = *opt.seconds * 1e6;
      count = static_cast<int64_t>(kMaxTimedRuns);  // stops at the time budget
    } else {
      budget_us = opt.default_seconds * 1e6;
      count = opt.default_runs;
    }
    count = std::clamp<int64_t>(count, 1, static_cast<int64_t>(kMaxTimedRuns));
    std::vector<double> samples(static_cast<size_t>(count));
    std::vector<double> budget_use(opt.period_us ? static_cast<size_t>(count) : 0);

    phase("load");
    int64_t rss_baseline = resident_bytes();
    backends::BackendOptions bo;
    bo.threads = opt.threads;
    bo.torch_model = opt.torch_model;
    bo.kernels = opt.kernels;
    if (backend_name == "native") bo.schedule = opt.schedule;
    run["tuning"] = backend_name == "native" && !opt.tuning.empty() ? json(opt.tuning) : json(nullptr);
    auto t0 = Clock::now();
    b.open(spec.path, bo);
    b.prepare();
    auto t1 = Clock::now();
    run["init_us"] = us_between(t0, t1);
    int64_t rss_loaded = resident_bytes();

    // Realistic inputs when there are any: test set 0's.
    bool have_data = opt.accuracy && !spec.test_data.empty();
    set_bench_inputs(b, spec, opt.accuracy);

    t0 = Clock::now();
    b.run();
    const double first_us = us_between(t0, Clock::now());
    run["first_run_us"] = first_us;

    phase("warm-up");
    int warm = 0;
    auto warm_start = Clock::now();
    while (warm < opt.warmup && us_between(warm_start, Clock::now()) < opt.warmup_max_seconds * 1e6) {
      b.run();
      ++warm;
    }
    run["warmup_runs"] = warm;

    phase("timing");
    MemorySampler sampler(opt.memory_interval_us, opt.memory_timeline_points);
    sampler.start();
    HeapCounts heap0 = heap_counts();
    heap_counting(true);
    int64_t done = 0, misses = 0, streak = 0, longest = 0;
    if (opt.period_us) {
      const int64_t period_ns = static_cast<int64_t>(*opt.period_us * 1000);
      SystemPeriodClock system_clock;
      PeriodClock& clock = opt.period_clock ? *opt.period_clock : system_clock;
      int64_t tick = clock.now_ns() + period_ns;
      for (; done < count; ++done) {
        clock.sleep_until_ns(tick);
        const int64_t a = clock.now_ns();
        b.run();
        const int64_t z = clock.now_ns();
        samples[done] = static_cast<double>(z - a) / 1000.0;
        // The callback's budget runs from its tick: lateness from an earlier
        // overrun or a slow wake-up counts against it, as in an audio driver.
        double used = static_cast<double>(z - tick) / static_cast<double>(period_ns);
        budget_use[done] = used;
        if (used > 1.0) {
          ++misses;
          longest = std::max(longest, ++streak);
        } else {
          streak = 0;
        }
        tick += period_ns;
      }
    } else {
      auto start = Clock::now();
      for (; done < count; ++done) {
        auto a = Clock::now();
        b.run();
        auto z = Clock::now();
        samples[done] = us_between(a, z);
        if (us_between(start, z) >= budget_us && done + 1 >= 10) {
          ++done;
          break;
        }
      }
    }
    heap_counting(false);
    HeapCounts heap1 = heap_counts();
    sampler.stop();
    samples.resize(static_cast<size_t>(done));

    run["timed_runs"] = done;
    LatencyStats st = summarize(samples);
    run["latency_us"] = latency_json(st);
    Histogram h = histogram(samples, opt.histogram_bins);
    run["histogram"] = {{"edges_us", h.edges}, {"counts", h.counts}};
    run["samples_us"] = opt.keep_samples ? json(samples) : json(nullptr);
    run["memory"] = {{"rss_baseline_bytes", rss_baseline},   {"rss_after_load_bytes", rss_loaded},
                     {"rss_peak_bytes", sampler.peak_bytes()}, {"rss_mean_bytes", sampler.mean_bytes()},
                     {"sample_interval_us", sampler.interval_us()}, {"samples", sampler.samples()},
                     {"timeline", {{"t_us", sampler.timeline_t_us()}, {"rss_bytes", sampler.timeline_rss_bytes()}}}};
    if (heap_counting_available())
      run["heap"] = {{"allocations_per_run", static_cast<double>(heap1.allocations - heap0.allocations) / done},
                     {"bytes_per_run", static_cast<double>(heap1.bytes - heap0.bytes) / done}};
    else
      run["heap"] = nullptr;
    if (opt.period_us) {
      budget_use.resize(static_cast<size_t>(done));
      std::vector<double> sorted = budget_use;
      std::sort(sorted.begin(), sorted.end());
      run["realtime"] = {{"period_us", *opt.period_us},
                         {"periods", done},
                         {"deadline_misses", misses},
                         {"longest_miss_streak", longest},
                         {"budget_use_median", percentile(sorted, 0.5)},
                         {"budget_use_p99", percentile(sorted, 0.99)},
                         {"budget_use_max", sorted.back()},
                         {"scheduler", rt.scheduler},
                         {"mlockall", rt.mlockall},
                         {"cpu", rt.cpu},
                         {"threads", opt.threads}};
    } else {
      run["realtime"] = nullptr;
    }

    if (have_data) {
      phase("accuracy");
      run["accuracy"] = accuracy(b, spec.test_data, opt.tolerance);
    } else {
      run["accuracy"] = nullptr;
    }
    run["backend_info"] = b.describe();
    b.close();
  } catch (const std::exception& e) {
    heap_counting(false);
    run["status"] = "error";
    run["error"] = e.what();
    // A backend that implements only some models says so from open():
    // `rtml bench` lists the pair as not covered instead of as an error.
    if (dynamic_cast<const backends::NotCovered*>(&e)) run["not_covered"] = true;
    try {
      run["backend_info"] = b.describe();
      b.close();
    } catch (...) {
    }
  }
  return run;
}

void set_bench_inputs(backends::Backend& b, const ModelSpec& spec, bool use_test_data) {
  if (use_test_data && !spec.test_data.empty()) {
    auto sets = data::find_test_sets(spec.test_data);
    if (!sets.empty()) {
      copy_inputs(b, data::load_test_set(sets.front(), specs(b.inputs()), specs(b.outputs())));
      return;
    }
  }
  fill_noise(b, 1);
}

json bench_model(const ModelSpec& spec, const std::string& backend, const BenchOptions& options,
                 const RealtimeSetup& rt, const Progress& progress) {
  std::unique_ptr<backends::Backend> b;
  try {
    b = backends::create(backend);
  } catch (const std::exception& e) {
    return {{"model", spec.name}, {"model_path", spec.path}, {"backend", backend}, {"status", "error"},
            {"error", e.what()}};
  }
  return bench_backend(*b, backend, spec, options, rt, progress);
}

json host_info() {
  utsname u{};
  ::uname(&u);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string cpu = first_line_of("/proc/cpuinfo", "model name");
  if (cpu.empty()) cpu = first_line_of("/proc/cpuinfo", "Hardware");
  if (cpu.empty()) cpu = first_line_of("/proc/cpuinfo", "Processor");
  std::string os = first_line_of("/etc/os-release", "PRETTY_NAME");
  long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return {{"hostname", host},
          {"target", nullptr},
          {"arch", u.machine},
          {"os", os.empty() ? std::string(u.sysname) : os},
          {"kernel", std::string(u.sysname) + " " + u.release},
          {"cpu_model", cpu.empty() ? "unknown" : cpu},
          {"cores", cores > 0 ? cores : 1},
          {"memory_bytes", static_cast<int64_t>(pages) * page},
          {"rtml_version", RTML_VERSION},
          {"compiler", std::string("gcc ") + __VERSION__}};
}

namespace {

bool keep(const std::string& name, const std::vector<std::string>& filter) {
  if (filter.empty()) return true;
  for (const auto& f : filter)
    if (name.find(f) != std::string::npos) return true;
  return false;
}

// Test data beside a model: test_data_set_N folders (ONNX layout) or an
// inputs/ folder of .npy files.
bool has_sets(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir / "inputs", ec)) return true;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0) return true;
  return false;
}

ModelSpec from_onnx(const fs::path& onnx, const std::string& name) {
  ModelSpec m;
  m.name = name;
  m.path = onnx.string();
  if (has_sets(onnx.parent_path())) m.test_data = onnx.parent_path().string();
  return m;
}

void from_manifest(const fs::path& manifest, const std::vector<std::string>& filter, std::vector<ModelSpec>& out) {
  std::ifstream in(manifest);
  json j;
  try {
    j = json::parse(in);
  } catch (const std::exception& e) {
    throw Error(manifest.string() + ": not a valid zoo manifest (" + e.what() + ")");
  }
  if (!j.contains("models") || !j["models"].is_array())
    throw Error(manifest.string() + ": not a zoo manifest (no \"models\" list)");
  fs::path root = manifest.parent_path();
  for (const auto& e : j["models"]) {
    std::string name = e.value("name", "");
    if (!keep(name, filter)) continue;
    ModelSpec m;
    m.name = name;
    m.path = (root / e.at("files").at("onnx").get<std::string>()).string();
    m.family = e.value("family", "");
    if (e.contains("flops") && e["flops"].is_number()) m.flops = e["flops"].get<double>();
    if (has_sets(fs::path(m.path).parent_path())) m.test_data = fs::path(m.path).parent_path().string();
    out.push_back(std::move(m));
  }
}

}  // namespace

std::vector<ModelSpec> find_models(const std::vector<std::string>& paths, const std::vector<std::string>& filter) {
  std::vector<ModelSpec> out;
  for (const std::string& arg : paths) {
    fs::path p(arg);
    std::error_code ec;
    if (!fs::exists(p, ec)) throw Error(arg + ": no such file or folder");
    if (fs::is_regular_file(p, ec)) {
      if (p.filename() == "manifest.json") {
        from_manifest(p, filter, out);
      } else if (p.extension() == ".onnx" || p.extension() == ".tflite") {
        std::string name = import::model_name(p.string());
        if (keep(name, filter)) out.push_back(from_onnx(p, name));
      } else {
        throw Error(arg + ": not a model (.onnx, .tflite), a zoo manifest (manifest.json) or a folder");
      }
      continue;
    }
    if (fs::exists(p / "manifest.json")) {
      from_manifest(p / "manifest.json", filter, out);
    } else if (fs::exists(p / "model.onnx")) {
      std::string name = fs::absolute(p).lexically_normal().filename().string();
      if (name.empty()) name = fs::absolute(p).lexically_normal().parent_path().filename().string();
      if (keep(name, filter)) out.push_back(from_onnx(p / "model.onnx", name));
    } else {
      std::vector<fs::path> found;
      for (const auto& e : fs::directory_iterator(p, ec)) {
        if (e.is_directory() && fs::exists(e.path() / "model.onnx")) found.push_back(e.path() / "model.onnx");
        else if (e.is_regular_file() && (e.path().extension() == ".onnx" || e.path().extension() == ".tflite"))
          found.push_back(e.path());
      }
      if (found.empty()) throw Error(arg + ": holds no manifest.json, no model.onnx and no .onnx or .tflite files");
      std::sort(found.begin(), found.end());
      for (const auto& f : found) {
        std::string name = import::model_name(f.string());
        if (keep(name, filter)) out.push_back(from_onnx(f, name));
      }
    }
  }
  return out;
}

}  // namespace rtml::bench
