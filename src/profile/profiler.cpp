#include "profile/profiler.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <numeric>
#include <set>

#include "bench/memory_sampler.h"
#include "bench/report.h"
#include "bench/stats.h"
#include "core/error.h"
#include "engine/session.h"

namespace rtml::profile {

using nlohmann::json;

namespace {

using Clock = std::chrono::steady_clock;

double us_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return bench::percentile(v, 0.5);
}

json number_or_null(std::optional<double> v) { return v ? json(*v) : json(nullptr); }
json string_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// Pass 1 (native): a steady clock around every step. Every sample slot is
// allocated by the constructor; before()/after() only read the clock and store.
class TimingObserver final : public engine::StepObserver {
 public:
  TimingObserver(int steps, int runs, int trace_runs)
      : steps_(steps),
        runs_(runs),
        trace_runs_(trace_runs),
        step_us_(static_cast<size_t>(steps) * runs),
        trace_start_us_(static_cast<size_t>(steps) * trace_runs) {}

  void begin_run(int run, Clock::time_point start) noexcept {
    run_ = run;
    run_start_ = start;
  }
  void before(int) noexcept override { t0_ = Clock::now(); }
  void after(int step) noexcept override {
    const Clock::time_point t1 = Clock::now();
    step_us_[static_cast<size_t>(step) * runs_ + run_] = us_between(t0_, t1);
    if (run_ < trace_runs_) trace_start_us_[static_cast<size_t>(run_) * steps_ + step] = us_between(run_start_, t0_);
  }

  // Every run's time of one step, in run order.
  std::vector<double> step_samples(int step) const {
    auto first = step_us_.begin() + static_cast<std::ptrdiff_t>(step) * runs_;
    return std::vector<double>(first, first + runs_);
  }
  double step_us(int step, int run) const { return step_us_[static_cast<size_t>(step) * runs_ + run]; }
  double trace_start_us(int run, int step) const { return trace_start_us_[static_cast<size_t>(run) * steps_ + step]; }

 private:
  int steps_, runs_, trace_runs_, run_ = 0;
  Clock::time_point run_start_{}, t0_{};
  std::vector<double> step_us_;         // [step][run]
  std::vector<double> trace_start_us_;  // [run][step], the first trace_runs runs
};

using CounterSums = std::array<double, kNumCounters>;

void accumulate(CounterSums& sum, const CounterValues& a, const CounterValues& b) noexcept {
  for (int c = 0; c < kNumCounters; ++c)
    if (a[c] && b[c]) sum[c] += *b[c] - *a[c];
}

// Pass 2 (native): the counters read around every step.
class CounterObserver final : public engine::StepObserver {
 public:
  CounterObserver(CounterSet& counters, int steps) : counters_(counters), sums_(static_cast<size_t>(steps)) {
    for (auto& s : sums_) s.fill(0);
  }
  void before(int) noexcept override { counters_.read(v0_); }
  void after(int step) noexcept override {
    counters_.read(v1_);
    accumulate(sums_[step], v0_, v1_);
  }
  const CounterSums& sums(int step) const { return sums_[step]; }

 private:
  CounterSet& counters_;
  std::vector<CounterSums> sums_;
  CounterValues v0_{}, v1_{};
};

// {"cycles": ..., ...}: sum / divisor for what `counters` measures, else null
// (all null without sums).
json counters_json(const CounterSet& counters, const CounterSums* sums, double divisor) {
  json j = json::object();
  for (int c = 0; c < kNumCounters; ++c)
    j[counter_name(c)] = sums && counters.measures(c) && divisor > 0 ? json((*sums)[c] / divisor) : json(nullptr);
  return j;
}

// percent and cumulative_percent of every row (cumulative from the most expensive).
void add_percentages(json& rows) {
  double sum = 0;
  for (const auto& r : rows) sum += r["total_us"].get<double>();
  std::vector<size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return rows[a]["total_us"].get<double>() > rows[b]["total_us"].get<double>();
  });
  double cumulative = 0;
  for (size_t k : order) {
    double pct = sum > 0 ? rows[k]["total_us"].get<double>() / sum * 100 : 0;
    cumulative += pct;
    rows[k]["percent"] = pct;
    rows[k]["cumulative_percent"] = std::min(cumulative, 100.0);
  }
}

// GFLOP/s of `flops` done in `us` microseconds; null when either is unknown or 0.
json gflops(const json& flops, double us) {
  if (!flops.is_number() || !(us > 0)) return nullptr;
  return flops.get<double>() / us / 1e3;
}

json by_type(const json& ops, int runs) {
  struct Agg {
    int nodes = 0;
    int64_t calls = 0;
    double total_us = 0, flops = 0;
    bool flops_known = true;
  };
  std::map<std::string, Agg> agg;
  for (const auto& op : ops) {
    Agg& a = agg[op["op_type"].get<std::string>()];
    ++a.nodes;
    a.calls += op["calls"].get<int64_t>();
    a.total_us += op["total_us"].get<double>();
    if (op["flops"].is_number())
      a.flops += op["flops"].get<double>();  // per call = per run (native steps run once per run)
    else
      a.flops_known = false;
  }
  json rows = json::array();
  for (const auto& [type, a] : agg) {
    json flops = a.flops_known ? json(a.flops) : json(nullptr);
    rows.push_back({{"op_type", type},
                    {"nodes", a.nodes},
                    {"calls", a.calls},
                    {"total_us", a.total_us},
                    {"mean_us", a.calls ? a.total_us / static_cast<double>(a.calls) : 0.0},
                    {"flops", flops},
                    {"gflops", gflops(flops, a.total_us / runs)}});
  }
  add_percentages(rows);
  std::stable_sort(rows.begin(), rows.end(), [](const json& a, const json& b) {
    return a["total_us"].get<double>() > b["total_us"].get<double>();
  });
  return rows;
}

double epoch_us(Clock::time_point t) { return std::chrono::duration<double, std::micro>(t.time_since_epoch()).count(); }

}  // namespace

std::vector<FrameCount> top_frames(const FoldedStacks& folded, int k) {
  std::map<std::string, FrameCount> by_name;
  for (const auto& [stack, count] : folded.counts) {
    std::set<std::string> seen;
    size_t start = 0;
    std::string frame;
    while (true) {
      size_t end = stack.find(';', start);
      frame = stack.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (!frame.empty() && seen.insert(frame).second) {
        FrameCount& f = by_name[frame];
        f.frame = frame;
        f.total += count;
      }
      if (end == std::string::npos) break;
      start = end + 1;
    }
    if (!frame.empty()) by_name[frame].self += count;  // the leaf
  }
  std::vector<FrameCount> out;
  for (auto& [name, f] : by_name) out.push_back(std::move(f));
  std::sort(out.begin(), out.end(), [](const FrameCount& a, const FrameCount& b) {
    if (a.self != b.self) return a.self > b.self;
    if (a.total != b.total) return a.total > b.total;
    return a.frame < b.frame;
  });
  if (k >= 0 && out.size() > static_cast<size_t>(k)) out.resize(static_cast<size_t>(k));
  return out;
}

namespace {

// Pass 4: Linux perf samples call stacks over a steady-state loop of
// opt.perf_seconds; the report's "perf" object, and the folded stacks.
json perf_pass(backends::Backend& b, const ProfileOptions& opt, const Progress& phase,
               std::optional<FoldedStacks>& folded) {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%g", opt.perf_seconds);
  phase(std::string("perf: sampling call stacks for ") + secs + " s");
  SampleOptions so;
  so.frequency_hz = opt.perf_frequency_hz;
  so.perf = opt.perf_executable;
  int64_t loop_runs = 0;
  const auto budget = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.perf_seconds));
  // A run that throws stops perf and propagates (sample_with_perf's contract).
  SampleResult sr = sample_with_perf(
      [&] {
        const Clock::time_point end = Clock::now() + budget;
        do {
          b.run();
          ++loop_runs;
        } while (Clock::now() < end);
      },
      so);
  json top = json::array();
  if (sr.ok)
    for (const FrameCount& f : top_frames(sr.folded, opt.top_frames))
      top.push_back({{"frame", f.frame}, {"self", f.self}, {"total", f.total}});
  json report = {{"ok", sr.ok},
                 {"tool", string_or_null(sr.tool)},
                 {"event", string_or_null(sr.event)},
                 {"call_graph", string_or_null(sr.call_graph)},
                 {"frequency_hz", opt.perf_frequency_hz},
                 {"seconds", sr.seconds},
                 {"runs", loop_runs},
                 {"samples", sr.ok ? json(sr.folded.samples) : json(nullptr)},
                 {"skipped", sr.ok ? json(sr.folded.skipped) : json(nullptr)},
                 {"error", sr.ok ? json(nullptr) : json(sr.error.empty() ? "perf failed" : sr.error)},
                 {"notes", sr.notes},
                 {"top", std::move(top)}};
  if (sr.ok) folded = std::move(sr.folded);
  return report;
}

}  // namespace

ProfileResult profile_backend(backends::Backend& b, const std::string& backend_name, const bench::ModelSpec& spec,
                              const ProfileOptions& opt, const Progress& progress) {
  auto phase = [&](const std::string& p) {
    if (progress) progress(p);
  };
  if (opt.runs < 1) throw Error("profile: runs must be at least 1 (got " + std::to_string(opt.runs) + ")");
  const int runs = opt.runs;
  const int trace_runs = std::clamp(opt.trace_runs, 0, runs);
  ProfileResult result;
  json& j = result.report;
  j = bench::new_report(bench::host_info(), json::object());  // for "created"; the rest is replaced
  j.erase("runs");
  j["schema"] = kProfileSchema;
  j["model"] = spec.name;
  j["model_path"] = spec.path;
  j["backend"] = backend_name;
  j["run_id"] = nullptr;
  j["options"] = {{"runs", runs},
                  {"warmup", opt.warmup},
                  {"perf", opt.perf},
                  {"perf_seconds", opt.perf ? json(opt.perf_seconds) : json(nullptr)},
                  {"counters", opt.counters ? level_name(*opt.counters) : "auto"},
                  {"trace_runs", trace_runs},
                  {"threads", opt.threads}};
  try {
    phase("load");
    backends::BackendOptions bo;
    bo.threads = opt.threads;
    bo.kernels = opt.kernels;
    bo.schedule = opt.schedule;
    bo.torch_model = opt.torch_model;
    b.open(spec.path, bo);
    b.prepare();
    bench::set_bench_inputs(b, spec, opt.use_test_data);
    b.run();
    phase("warm-up");
    for (int w = 0; w < opt.warmup; ++w) b.run();

    const std::vector<backends::StepInfo> steps = b.steps();
    const bool stepwise = !steps.empty();
    const int n = static_cast<int>(steps.size());
    std::vector<double> total_us(static_cast<size_t>(runs)), start_us(static_cast<size_t>(runs));
    bench::MemorySampler sampler(opt.memory_interval_us);
    json ops = json::array(), events = json::array(), run_events = json::array();
    json ops_us = nullptr;
    json engine_overhead = nullptr;  // native only
    bool totals_known = true, starts_known = true;
    std::vector<ThreadTimes> threads0, threads1;
    Clock::time_point wall0, wall1;

    std::optional<TimingObserver> timing;
    if (stepwise) {
      phase("timing " + std::to_string(runs) + " runs step by step");
      timing.emplace(n, runs, trace_runs);
      sampler.start();
      threads0 = thread_times();
      wall0 = Clock::now();
      for (int r = 0; r < runs; ++r) {
        const Clock::time_point a = Clock::now();
        timing->begin_run(r, a);
        b.run_observed(*timing);
        const Clock::time_point z = Clock::now();
        total_us[r] = us_between(a, z);
        start_us[r] = us_between(sampler.started(), a);
      }
      wall1 = Clock::now();
      threads1 = thread_times();
      sampler.stop();

      double sum_of_means = 0;
      for (int s = 0; s < n; ++s) {
        std::vector<double> v = timing->step_samples(s);
        double total = std::accumulate(v.begin(), v.end(), 0.0);
        double mean = total / runs;
        sum_of_means += mean;
        const backends::StepInfo& st = steps[s];
        json flops = number_or_null(st.flops);
        ops.push_back({{"index", s},
                       {"node", st.node},
                       {"op_type", st.op_type},
                       {"kernel", string_or_null(st.kernel)},
                       {"calls", runs},
                       {"mean_us", mean},
                       {"median_us", median_of(std::move(v))},
                       {"total_us", total},
                       {"flops", flops},
                       {"gflops", gflops(flops, mean)},
                       {"output_bytes", st.output_bytes ? json(*st.output_bytes) : json(nullptr)}});
      }
      ops_us = sum_of_means;

      // The engine's own cost per run, free of the step clocks: the median of
      // plain runs (no observer) minus the steps' median times, each less the
      // cost of an empty clock window (what every step's window holds beside
      // its kernel).
      phase("timing " + std::to_string(runs) + " plain runs");
      std::vector<double> plain(static_cast<size_t>(runs)), empty(1000);
      for (int r = 0; r < runs; ++r) {
        const Clock::time_point a = Clock::now();
        b.run();
        plain[r] = us_between(a, Clock::now());
      }
      for (double& e : empty) {
        const Clock::time_point a = Clock::now();
        e = us_between(a, Clock::now());
      }
      const double clock_window = median_of(std::move(empty));
      double kernels = 0;
      for (const json& op : ops) kernels += std::max(0.0, op["median_us"].get<double>() - clock_window);
      const double plain_median = median_of(std::move(plain));
      engine_overhead = {{"plain_median_us", plain_median},
                         {"kernels_us", kernels},
                         {"clock_window_us", clock_window},
                         {"overhead_us", plain_median - kernels}};
      for (int r = 0; r < trace_runs; ++r)
        for (int s = 0; s < n; ++s)
          events.push_back({{"run", r}, {"index", s}, {"start_us", timing->trace_start_us(r, s)},
                            {"dur_us", timing->step_us(s, r)}});
    } else {
      phase("timing " + std::to_string(runs) + " runs under the runtime's profiler");
      sampler.start();
      threads0 = thread_times();
      wall0 = Clock::now();
      backends::OpProfile p = b.profile_op_timeline(runs, trace_runs);
      wall1 = Clock::now();
      threads1 = thread_times();
      sampler.stop();
      if (p.ops.empty())
        throw Error(backend_name + ": this backend neither shows its steps nor profiles itself: no per-operator "
                    "profile is possible");
      if (p.run_us.size() == static_cast<size_t>(runs)) {
        total_us = p.run_us;
      } else {
        totals_known = false;
      }
      const double origin = epoch_us(sampler.started());
      starts_known = p.run_start_us.size() == static_cast<size_t>(runs);
      if (starts_known)
        for (int r = 0; r < runs; ++r) start_us[r] = p.run_start_us[r] - origin;
      double self_sum = 0;
      for (size_t k = 0; k < p.ops.size(); ++k) {
        const backends::OpCost& c = p.ops[k];
        self_sum += c.total_us;
        ops.push_back({{"index", k},
                       {"node", c.node},
                       {"op_type", c.op_type},
                       {"kernel", nullptr},
                       {"calls", c.calls},
                       {"mean_us", c.calls ? c.total_us / static_cast<double>(c.calls) : 0.0},
                       {"median_us", number_or_null(c.median_us)},
                       {"total_us", c.total_us},
                       {"flops", nullptr},
                       {"gflops", nullptr},
                       {"output_bytes", nullptr}});
      }
      ops_us = self_sum / runs;
      if (starts_known && totals_known)  // else no timeline: the runtime did not time its runs
        for (const backends::OpEvent& e : p.events)
          events.push_back({{"run", e.run}, {"index", e.row}, {"depth", e.depth}, {"start_us", e.start_us},
                            {"dur_us", e.dur_us}});
    }
    add_percentages(ops);
    j["runs"] = runs;
    if (totals_known) {
      double mean = std::accumulate(total_us.begin(), total_us.end(), 0.0) / runs;
      j["total_us"] = {{"mean", mean}, {"median", median_of(total_us)}};
      j["ops_us"] = ops_us;
      j["overhead_us"] = ops_us.is_number() ? json(mean - ops_us.get<double>()) : json(nullptr);
      j["engine_overhead"] = engine_overhead;
      for (int r = 0; starts_known && r < trace_runs; ++r)
        run_events.push_back({{"run", r}, {"start_us", start_us[r]}, {"dur_us", total_us[r]}});
    } else {
      j["total_us"] = {{"mean", nullptr}, {"median", nullptr}};
      j["ops_us"] = ops_us;
      j["overhead_us"] = nullptr;
      j["engine_overhead"] = nullptr;
    }

    // Pass 2 and 3: counters around every step, then around whole runs.
    CounterSet counters(opt.counters);
    // What one read-to-read window costs with nothing in it (the read system
    // call itself counts on task-clock): the mean of many empty windows,
    // subtracted from every per-step value.
    CounterSums read_cost{};
    read_cost.fill(0);
    {
      constexpr int kEmpty = 1000;
      CounterValues a{}, z{};
      for (int k = 0; k < kEmpty; ++k) {
        counters.read(a);
        counters.read(z);
        accumulate(read_cost, a, z);
      }
      for (double& c : read_cost) c /= kEmpty;
    }
    std::optional<CounterObserver> per_op;
    if (stepwise) {
      phase("counters per step (" + std::string(level_name(counters.level())) + ")");
      per_op.emplace(counters, n);
      for (int r = 0; r < runs; ++r) b.run_observed(*per_op);
    }
    for (int s = 0; s < static_cast<int>(ops.size()); ++s) {
      if (!per_op) {
        ops[s]["counters"] = counters_json(counters, nullptr, 0);
        continue;
      }
      CounterSums net = per_op->sums(s);
      for (int c = 0; c < kNumCounters; ++c) net[c] = std::max(0.0, net[c] - read_cost[c] * runs);
      ops[s]["counters"] = counters_json(counters, &net, runs);
    }
    phase("counters per run");
    CounterSums run_sums{};
    run_sums.fill(0);
    CounterValues v0{}, v1{};
    for (int r = 0; r < runs; ++r) {
      counters.read(v0);
      b.run();
      counters.read(v1);
      accumulate(run_sums, v0, v1);
    }
    json per_run = counters_json(counters, &run_sums, runs);
    json ipc = nullptr;
    if (per_run["cycles"].is_number() && per_run["instructions"].is_number() && per_run["cycles"].get<double>() > 0)
      ipc = per_run["instructions"].get<double>() / per_run["cycles"].get<double>();
    j["counters"] = {{"level", level_name(counters.level())},
                     {"notes", counters.notes()},
                     {"per_op", stepwise},
                     {"read_overhead", counters_json(counters, &read_cost, 1)},
                     {"per_run", per_run},
                     {"ipc", ipc}};

    j["ops"] = std::move(ops);
    j["by_type"] = by_type(j["ops"], runs);

    const double wall_us = us_between(wall0, wall1);
    json threads = json::array();
    for (const ThreadUse& t : thread_use(threads0, threads1, wall_us))
      threads.push_back({{"tid", t.tid}, {"name", t.name}, {"cpu_us", t.cpu_us}, {"utilisation", t.utilisation}});
    j["threads"] = std::move(threads);
    j["threads_wall_us"] = wall_us;

    j["trace"] = {{"runs", run_events.size()}, {"run_events", std::move(run_events)}, {"events", std::move(events)}};
    j["memory"] = {{"sample_interval_us", sampler.interval_us()},
                   {"rss_peak_bytes", sampler.peak_bytes()},
                   {"timeline", {{"t_us", sampler.timeline_t_us()}, {"rss_bytes", sampler.timeline_rss_bytes()}}}};

    // Pass 4: perf over a steady-state loop.
    j["perf"] = opt.perf ? perf_pass(b, opt, phase, result.folded) : json(nullptr);

    j["backend_info"] = b.describe();
    b.close();
  } catch (...) {
    try {
      b.close();
    } catch (...) {
    }
    throw;
  }
  return result;
}

ProfileResult profile_model(const bench::ModelSpec& spec, const std::string& backend, const ProfileOptions& options,
                            const Progress& progress) {
  std::unique_ptr<backends::Backend> b = backends::create(backend);
  return profile_backend(*b, backend, spec, options, progress);
}

}  // namespace rtml::profile
