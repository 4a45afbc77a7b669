// rtml bench's measurements, checked against hand-computed values and
// synthetic backends whose behaviour is known exactly.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "backends/backend.h"
#include "bench/heap_counter.h"
#include "bench/report.h"
#include "bench/runner.h"
#include "bench/stats.h"
#include "core/error.h"

using namespace rtml;
using nlohmann::json;

TEST(BenchStats, HandComputedPercentilesMeanStddevJitter) {
  // 1..10 in order. Linear interpolation at q*(n-1): median at 4.5 -> 5.5,
  // p90 at 8.1 -> 9.1, p99 at 8.91 -> 9.91, p99.9 at 8.991 -> 9.991.
  // Population variance of 1..10 = (n^2 - 1) / 12 = 8.25. Consecutive
  // differences are all 1 -> jitter 1.
  std::vector<double> s = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  bench::LatencyStats st = bench::summarize(s);
  EXPECT_DOUBLE_EQ(st.min, 1);
  EXPECT_DOUBLE_EQ(st.max, 10);
  EXPECT_DOUBLE_EQ(st.mean, 5.5);
  EXPECT_DOUBLE_EQ(st.median, 5.5);
  EXPECT_NEAR(st.p90, 9.1, 1e-12);
  EXPECT_NEAR(st.p99, 9.91, 1e-12);
  EXPECT_NEAR(st.p999, 9.991, 1e-12);
  EXPECT_NEAR(st.stddev, std::sqrt(8.25), 1e-12);
  EXPECT_DOUBLE_EQ(st.jitter, 1);
}

TEST(BenchStats, JitterFollowsRunOrderNotSortedOrder) {
  // 3, 1, 2: |1-3| + |2-1| = 3 over 2 differences -> 1.5 (sorted it would be 1).
  bench::LatencyStats st = bench::summarize({3, 1, 2});
  EXPECT_DOUBLE_EQ(st.jitter, 1.5);
  EXPECT_DOUBLE_EQ(st.median, 2);
  // One sample: everything is that sample, no spread.
  st = bench::summarize({7});
  EXPECT_DOUBLE_EQ(st.p999, 7);
  EXPECT_DOUBLE_EQ(st.stddev, 0);
  EXPECT_DOUBLE_EQ(st.jitter, 0);
  EXPECT_THROW(bench::summarize({}), Error);
}

TEST(BenchStats, HistogramCountsEverySampleInOrderedBins) {
  std::vector<double> s = {1, 1, 2, 4, 8, 16, 100};
  bench::Histogram h = bench::histogram(s, 4);
  ASSERT_EQ(h.edges.size(), 5u);
  ASSERT_EQ(h.counts.size(), 4u);
  EXPECT_DOUBLE_EQ(h.edges.front(), 1);
  EXPECT_DOUBLE_EQ(h.edges.back(), 100);
  int64_t total = 0;
  for (auto c : h.counts) total += c;
  EXPECT_EQ(total, 7);
  // Log edges 1, 3.16, 10, 31.6, 100: {1,1,2} {4,8} {16} {100}.
  EXPECT_EQ(h.counts, (std::vector<int64_t>{3, 2, 1, 1}));
  h = bench::histogram({5, 5, 5}, 10);
  EXPECT_EQ(h.counts, (std::vector<int64_t>{3}));
}

namespace {

// A backend with one float input and output whose run() is whatever the test says.
class FakeBackend : public backends::Backend {
 public:
  explicit FakeBackend(std::function<void(int call)> body) : body_(std::move(body)) {}
  void open(const std::string&, const backends::BackendOptions&) override {}
  void prepare() override {}
  void run() override { body_(calls_++); out_ = in_ * 2; }
  void close() override {}
  const std::vector<backends::TensorInfo>& inputs() const override { return io_; }
  const std::vector<backends::TensorInfo>& outputs() const override { return io_; }
  void* input_data(int) override { return &in_; }
  const void* output_data(int) const override { return &out_; }
  int calls() const { return calls_; }

 private:
  std::function<void(int)> body_;
  int calls_ = 0;
  float in_ = 0, out_ = 0;
  std::vector<backends::TensorInfo> io_ = {{"x", DType::F32, {1}}};
};

bench::ModelSpec fake_model() { return {"fake", "fake.onnx", "", "", std::nullopt}; }

}  // namespace

TEST(BenchHeap, CountsTheAllocationsOfAnAllocatingBackend) {
  if (!bench::heap_counting_available()) GTEST_SKIP() << "heap counting is off under sanitizers";
  FakeBackend b([](int) {
    void* volatile p = std::malloc(1000);  // one allocation of 1000 bytes per run
    std::free(p);
  });
  bench::BenchOptions opt;
  opt.warmup = 5;
  opt.runs = 100;
  json run = bench::bench_backend(b, "fake", fake_model(), opt, {});
  ASSERT_EQ(run["status"], "ok") << run.dump();
  EXPECT_DOUBLE_EQ(run["heap"]["allocations_per_run"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(run["heap"]["bytes_per_run"].get<double>(), 1000.0);
  EXPECT_EQ(run["timed_runs"], 100);
  EXPECT_EQ(b.calls(), 1 + 5 + 100);  // first run, warm-up, timed
}

#ifdef RTML_ZOO_TEST_DIR
TEST(BenchHeap, NativeEngineAllocatesNothingPerRun) {
  if (!bench::heap_counting_available()) GTEST_SKIP() << "heap counting is off under sanitizers";
  bench::BenchOptions opt;
  opt.warmup = 5;
  opt.runs = 200;
  bench::ModelSpec m = {"gru_stream_h64", RTML_ZOO_TEST_DIR "/gru_stream_h64/model.onnx", "rnn",
                        RTML_ZOO_TEST_DIR "/gru_stream_h64", std::nullopt};
  json run = bench::bench_model(m, "native", opt, {});
  ASSERT_EQ(run["status"], "ok") << run.dump();
  EXPECT_EQ(run["heap"]["allocations_per_run"].get<double>(), 0.0);
  EXPECT_EQ(run["heap"]["bytes_per_run"].get<double>(), 0.0);
  EXPECT_TRUE(run["accuracy"]["passed"].get<bool>()) << run["accuracy"].dump();
}
#endif

// Timing margins are half a period (25 ms) so that a loaded
// machine or a sanitizer build does not change the counts.
// A virtual clock for real-time mode: sleeping jumps to the deadline (if it
// is ahead), and the fake backend's "work" advances the time by what it says.
// The deadline accounting is then exact, whatever the machine's load.
struct VirtualClock final : bench::PeriodClock {
  int64_t t_ns = 1000000000;
  int64_t now_ns() override { return t_ns; }
  void sleep_until_ns(int64_t until) override { t_ns = std::max(t_ns, until); }
  void work_ms(int64_t ms) { t_ns += ms * 1000000; }
};

TEST(BenchRealtime, CountsMissesOfAWorkloadThatOverrunsEveryFourthPeriod) {
  // Period 50 ms. Calls 3, 7, 11, ... (counting the first run as call 0)
  // take 75 ms: each finishes 25 ms past its deadline; the call after it
  // starts 25 ms late and, being instant, finishes 25 ms before its own
  // deadline. 20 timed calls (1..20) hold 5 such calls: 5 misses, never two
  // in a row. Budget use: 1.5 for those, 0.5 for the call after each, 0
  // for the rest.
  VirtualClock clock;
  FakeBackend b([&](int call) {
    if (call % 4 == 3) clock.work_ms(75);
  });
  bench::BenchOptions opt;
  opt.warmup = 0;
  opt.runs = 20;
  opt.period_us = 50000;
  opt.period_clock = &clock;
  json run = bench::bench_backend(b, "fake", fake_model(), opt, {});
  ASSERT_EQ(run["status"], "ok") << run.dump();
  const json& rt = run["realtime"];
  EXPECT_EQ(rt["periods"], 20);
  EXPECT_EQ(rt["deadline_misses"], 5);
  EXPECT_EQ(rt["longest_miss_streak"], 1);
  EXPECT_DOUBLE_EQ(rt["budget_use_max"].get<double>(), 1.5);  // 75 ms of a 50 ms budget
  // Sorted: 10 x 0, 5 x 0.5, 5 x 1.5; the median lies halfway between the 10th and 11th.
  EXPECT_DOUBLE_EQ(rt["budget_use_median"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(rt["period_us"].get<double>(), 50000);
  EXPECT_DOUBLE_EQ(run["latency_us"]["max"].get<double>(), 75000);
}

TEST(BenchRealtime, ConsecutiveOverrunsMakeAStreak) {
  // Calls 5, 6 and 7 take 75 ms of a 50 ms period; with t = call 5's tick,
  // call k's tick is t + 50 (k - 5) and its deadline 50 ms later:
  //   5: runs t..t+75         deadline t+50    miss (budget 1.5)
  //   6: runs t+75..t+150     deadline t+100   miss (2.0)
  //   7: runs t+150..t+225    deadline t+150   miss (2.5)
  //   8: runs t+225 (instant) deadline t+200   miss (1.5): still 75 ms behind
  //   9: runs t+225           deadline t+250   in time: caught up
  // 4 misses in one streak.
  VirtualClock clock;
  FakeBackend b([&](int call) {
    if (call >= 5 && call <= 7) clock.work_ms(75);
  });
  bench::BenchOptions opt;
  opt.warmup = 0;
  opt.runs = 12;
  opt.period_us = 50000;
  opt.period_clock = &clock;
  json run = bench::bench_backend(b, "fake", fake_model(), opt, {});
  ASSERT_EQ(run["status"], "ok") << run.dump();
  EXPECT_EQ(run["realtime"]["longest_miss_streak"], 4);
  EXPECT_EQ(run["realtime"]["deadline_misses"], 4);
  EXPECT_DOUBLE_EQ(run["realtime"]["budget_use_max"].get<double>(), 2.5);
}

// The system clock drives the same loop: periods and calls are counted (no
// timing asserted: how late a wake-up is depends on the machine's load).
TEST(BenchRealtime, RunsOnePeriodPerCallOnTheSystemClock) {
  FakeBackend b([](int) {});
  bench::BenchOptions opt;
  opt.warmup = 0;
  opt.runs = 5;
  opt.period_us = 2000;
  json run = bench::bench_backend(b, "fake", fake_model(), opt, {});
  ASSERT_EQ(run["status"], "ok") << run.dump();
  EXPECT_EQ(run["realtime"]["periods"], 5);
  EXPECT_EQ(b.calls(), 1 + 5);
}

TEST(BenchRunner, AFailingBackendIsAnErrorRowNotAnException) {
  FakeBackend b([](int call) {
    if (call > 2) throw Error("simulated failure");
  });
  bench::BenchOptions opt;
  opt.warmup = 5;
  json run;
  ASSERT_NO_THROW(run = bench::bench_backend(b, "fake", fake_model(), opt, {}));
  EXPECT_EQ(run["status"], "error");
  EXPECT_NE(run["error"].get<std::string>().find("simulated failure"), std::string::npos);
  // The table lists it with its message.
  json report = bench::new_report(json::object(), json::object());
  report["runs"].push_back(run);
  EXPECT_NE(bench::format_table(report).find("simulated failure"), std::string::npos);
}

TEST(BenchRunner, UnknownBackendIsAnErrorRow) {
  json run = bench::bench_model(fake_model(), "no-such-runtime", {}, {});
  EXPECT_EQ(run["status"], "error");
  EXPECT_NE(run["error"].get<std::string>().find("native"), std::string::npos);  // lists what exists
}
