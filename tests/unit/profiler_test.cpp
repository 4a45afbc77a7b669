// rtml profile's own parts: Session::run_observed (order, outputs, no heap
// calls), the native backend's step view, and the exports' structure against
// hand-built profiles.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <random>

#include "backends/backend.h"
#include "bench/heap_counter.h"
#include "engine/session.h"
#include "import/onnx_import.h"
#include "plan/plan.h"
#include "profile/exports.h"
#include "profile/profiler.h"

using nlohmann::json;

namespace rtml {
namespace {

// Records (step, before?) pairs into a buffer sized up front.
class Recorder final : public engine::StepObserver {
 public:
  explicit Recorder(size_t capacity) : events_(capacity) {}
  void before(int step) noexcept override { put(step, true); }
  void after(int step) noexcept override { put(step, false); }
  size_t size() const { return n_; }
  std::pair<int, bool> operator[](size_t i) const { return events_[i]; }
  void clear() { n_ = 0; }

 private:
  void put(int step, bool before) noexcept {
    if (n_ < events_.size()) events_[n_] = {step, before};
    ++n_;
  }
  std::vector<std::pair<int, bool>> events_;
  size_t n_ = 0;
};

void fill_inputs(engine::Session& s, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 1.f);
  for (int i = 0; i < s.num_inputs(); ++i) {
    ASSERT_EQ(s.input(i).dtype, DType::F32);
    float* p = static_cast<float*>(s.input_data(i));
    for (size_t k = 0; k < s.input(i).bytes / sizeof(float); ++k) p[k] = noise(rng);
  }
}

#ifdef RTML_ZOO_TEST_DIR
std::string zoo(const std::string& name) { return std::string(RTML_ZOO_TEST_DIR) + "/" + name + "/model.onnx"; }

TEST(RunObserved, ObserverSeesEveryStepInOrder) {
  ir::Graph g = import::load_onnx(zoo("transformer_d64_h4_s16"));
  engine::Session s(plan::build_plan(g));
  const int n = static_cast<int>(s.plan().steps.size());
  ASSERT_GT(n, 10);
  fill_inputs(s, 1);
  Recorder rec(static_cast<size_t>(2 * n) + 4);
  ASSERT_TRUE(s.run_observed(rec).ok());
  ASSERT_EQ(rec.size(), static_cast<size_t>(2 * n));
  for (int k = 0; k < n; ++k) {
    EXPECT_EQ(rec[2 * k], std::make_pair(k, true)) << "event " << 2 * k;
    EXPECT_EQ(rec[2 * k + 1], std::make_pair(k, false)) << "event " << 2 * k + 1;
  }
}

// Same outputs as run(), run after run, with state carried between runs.
TEST(RunObserved, OutputsEqualRun) {
  for (const char* name : {"gru_stream_h64", "digits_cnn", "transformer_d64_h4_s16"}) {
    ir::Graph g = import::load_onnx(zoo(name));
    engine::Session plain(plan::build_plan(g)), observed(plan::build_plan(g));
    for (int o = 0; o < plain.num_outputs(); ++o) {  // streaming state: h_out -> h, as the zoo names them
      std::string out = plain.output(o).name;
      if (out.size() > 4 && out.compare(out.size() - 4, 4, "_out") == 0 && plain.input_index(out.substr(0, out.size() - 4)) >= 0) {
        plain.link_state(out, out.substr(0, out.size() - 4));
        observed.link_state(out, out.substr(0, out.size() - 4));
      }
    }
    fill_inputs(plain, 3);
    fill_inputs(observed, 3);
    Recorder rec(4096);
    for (int run = 0; run < 3; ++run) {
      ASSERT_TRUE(plain.run().ok());
      ASSERT_TRUE(observed.run_observed(rec).ok());
      for (int o = 0; o < plain.num_outputs(); ++o)
        EXPECT_EQ(std::memcmp(plain.output_data(o), observed.output_data(o), plain.output(o).bytes), 0)
            << name << " output " << plain.output(o).name << " run " << run;
    }
  }
}

class Clocking final : public engine::StepObserver {
 public:
  void before(int) noexcept override { ++calls; }
  void after(int) noexcept override { ++calls; }
  int64_t calls = 0;
};

TEST(RunObserved, NoHeapCalls) {
  if (!bench::heap_counting_available()) GTEST_SKIP() << "heap counting is off under sanitizers";
  ir::Graph g = import::load_onnx(zoo("transformer_d64_h4_s16"));
  engine::Session s(plan::build_plan(g));
  fill_inputs(s, 5);
  Clocking obs;
  ASSERT_TRUE(s.run_observed(obs).ok());
  // The counter works: it sees one allocation made on purpose.
  int64_t probe0 = bench::heap_counts().allocations;
  bench::heap_counting(true);
  void* volatile p = std::malloc(24);
  std::free(p);
  bench::heap_counting(false);
  ASSERT_EQ(bench::heap_counts().allocations - probe0, 1);

  int64_t before = bench::heap_counts().allocations;
  bench::heap_counting(true);
  for (int r = 0; r < 100; ++r) s.run_observed(obs);
  bench::heap_counting(false);
  EXPECT_EQ(bench::heap_counts().allocations - before, 0);
  EXPECT_EQ(obs.calls, 2 * 101 * static_cast<int64_t>(s.plan().steps.size()));
}

TEST(NativeSteps, DescribeThePlanAndRunObserved) {
  auto b = backends::create("native");
  b->open(zoo("digits_cnn"), {});
  b->prepare();
  std::vector<backends::StepInfo> steps = b->steps();
  // digits_cnn (zoo/families/trained.py): 8x8 input, conv 1->16 (pad 1),
  // relu, conv 16->32, relu, 2x2 max pool, linear 512->10; the Flatten before
  // the linear layer is a view and needs no step, and each Relu runs in its
  // Conv's store (plan fusion: one step "Conv+Relu"). float32 outputs:
  // 16*8*8*4, 32*8*8*4, 32*4*4*4, 10*4 bytes.
  std::vector<std::string> types;
  std::vector<int64_t> bytes;
  for (const auto& s : steps) {
    types.push_back(s.op_type);
    bytes.push_back(s.output_bytes.value_or(-1));
  }
  EXPECT_EQ(types, (std::vector<std::string>{"Conv+Relu", "Conv+Relu", "MaxPool", "Gemm"}));
  EXPECT_EQ(bytes, (std::vector<int64_t>{4096, 8192, 2048, 40}));
  for (const auto& s : steps) {
    EXPECT_FALSE(s.kernel.empty()) << s.node;
    EXPECT_TRUE(s.flops.has_value()) << s.node;
  }
  Recorder rec(64);
  b->run_observed(rec);
  EXPECT_EQ(rec.size(), 2 * steps.size());
  b->close();
}

TEST(Profiler, NativeProfileIsConsistent) {
  bench::ModelSpec m = {"gru_stream_h64", zoo("gru_stream_h64"), "rnn", "", std::nullopt};
  profile::ProfileOptions opt;
  opt.runs = 30;
  opt.warmup = 2;
  opt.trace_runs = 4;
  profile::ProfileResult r = profile::profile_model(m, "native", opt);
  const json& p = r.report;
  EXPECT_EQ(p["schema"], "rtml.profile/1");
  const int n = static_cast<int>(p["ops"].size());
  ASSERT_GT(n, 0);
  double pct = 0;
  for (const auto& op : p["ops"]) {
    EXPECT_EQ(op["calls"], 30);
    EXPECT_LE(op["median_us"].get<double>(), op["total_us"].get<double>());
    pct += op["percent"].get<double>();
  }
  EXPECT_NEAR(pct, 100, 1e-6);
  EXPECT_EQ(p["trace"]["run_events"].size(), 4u);
  EXPECT_EQ(p["trace"]["events"].size(), static_cast<size_t>(4 * n));
  // Every traced step lies inside its run.
  for (const auto& e : p["trace"]["events"]) {
    double run_dur = p["trace"]["run_events"][e["run"].get<int>()]["dur_us"].get<double>();
    EXPECT_GE(e["start_us"].get<double>(), 0);
    EXPECT_LE(e["start_us"].get<double>() + e["dur_us"].get<double>(), run_dur + 1e-9);
  }
  // Counters the level does not measure are null, never 0.
  for (const auto& op : p["ops"])
    for (auto it = op["counters"].begin(); it != op["counters"].end(); ++it)
      EXPECT_TRUE(it.value().is_null() || it.value().is_number()) << it.key();
  EXPECT_TRUE(p["perf"].is_null());
  EXPECT_FALSE(r.folded.has_value());
}
#endif  // RTML_ZOO_TEST_DIR

// A profile by hand: two runs of two ops, the second run starting at 100 µs.
json small_profile() {
  json ops = json::array();
  ops.push_back({{"index", 0}, {"node", "/a/Conv"}, {"op_type", "Conv"}, {"kernel", "conv_f32"}, {"flops", 1000},
                 {"output_bytes", 64}, {"total_us", 12.0}});
  ops.push_back({{"index", 1}, {"node", ""}, {"op_type", "Relu"}, {"kernel", "relu_f32"}, {"flops", 16},
                 {"output_bytes", 64}, {"total_us", 2.0}});
  json events = json::array({{{"run", 0}, {"index", 0}, {"start_us", 1.0}, {"dur_us", 6.0}},
                             {{"run", 0}, {"index", 1}, {"start_us", 7.5}, {"dur_us", 1.0}},
                             {{"run", 1}, {"index", 0}, {"start_us", 0.5}, {"dur_us", 6.0}},
                             {{"run", 1}, {"index", 1}, {"start_us", 7.0}, {"dur_us", 1.0}}});
  json run_events = json::array({{{"run", 0}, {"start_us", 10.0}, {"dur_us", 9.0}},
                                 {{"run", 1}, {"start_us", 100.0}, {"dur_us", 8.5}}});
  return {{"schema", "rtml.profile/1"},
          {"model", "m"},
          {"backend", "native"},
          {"run_id", 7},
          {"ops", ops},
          {"trace", {{"runs", 2}, {"run_events", run_events}, {"events", events}}},
          {"memory", {{"timeline", {{"t_us", {0.0, 50.0, 120.0}}, {"rss_bytes", {1000, 2000, 1500}}}}}}};
}

TEST(Exports, ChromeTrace) {
  json t = profile::chrome_trace(small_profile());
  ASSERT_TRUE(t["traceEvents"].is_array());
  std::vector<json> x, c, m;
  for (const auto& e : t["traceEvents"]) {
    if (e["ph"] == "X") x.push_back(e);
    if (e["ph"] == "C") c.push_back(e);
    if (e["ph"] == "M") m.push_back(e);
  }
  ASSERT_EQ(x.size(), 6u);  // 2 runs + 4 op calls
  ASSERT_EQ(m.size(), 2u);  // process and thread names
  ASSERT_EQ(c.size(), 3u);  // one RSS point per timeline point
  EXPECT_EQ(m[0]["name"], "process_name");
  EXPECT_EQ(m[1]["name"], "thread_name");
  // Run 1's Conv starts at 100 + 0.5 and lasts 6; the unnamed Relu gets its type and index.
  bool found_conv = false, found_relu = false;
  for (const auto& e : x) {
    for (const char* k : {"name", "ph", "ts", "dur", "pid", "tid"}) EXPECT_TRUE(e.contains(k)) << k;
    if (e["name"] == "/a/Conv" && e["args"]["run"] == 1) {
      found_conv = true;
      EXPECT_DOUBLE_EQ(e["ts"].get<double>(), 100.5);
      EXPECT_DOUBLE_EQ(e["dur"].get<double>(), 6.0);
      EXPECT_EQ(e["cat"], "Conv");
      EXPECT_EQ(e["args"]["kernel"], "conv_f32");
      EXPECT_EQ(e["args"]["flops"], 1000);
    }
    if (e["name"] == "Relu #1" && e["args"]["run"] == 0) {
      found_relu = true;
      EXPECT_DOUBLE_EQ(e["ts"].get<double>(), 17.5);
    }
  }
  EXPECT_TRUE(found_conv);
  EXPECT_TRUE(found_relu);
  EXPECT_DOUBLE_EQ(c[1]["ts"].get<double>(), 50.0);
  EXPECT_EQ(c[1]["args"]["rss_bytes"], 2000);
  EXPECT_EQ(t["displayTimeUnit"], "ns");
  EXPECT_EQ(t["otherData"]["run_id"], 7);
}

TEST(Exports, SpeedscopeEventedAndSampled) {
  profile::FoldedStacks folded;
  folded.counts = {{"main;a;b", 3}, {"main;c", 2}};
  folded.samples = 5;
  folded.event = "cpu-clock";
  json s = profile::speedscope(small_profile(), &folded);
  EXPECT_EQ(s["$schema"], "https://www.speedscope.app/file-format-schema.json");
  const json& frames = s["shared"]["frames"];
  std::vector<std::string> names;
  for (const auto& f : frames) names.push_back(f["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"run", "/a/Conv (Conv)", "Relu #1", "main", "a", "b", "c"}));
  ASSERT_EQ(s["profiles"].size(), 2u);
  const json& ev = s["profiles"][0];
  EXPECT_EQ(ev["type"], "evented");
  EXPECT_EQ(ev["unit"], "microseconds");
  // Expected, by hand: run 0 at 10..19 holding Conv 11..17 and Relu 17.5..18.5; run 1 at 100..108.5.
  std::vector<std::tuple<std::string, int, double>> want = {
      {"O", 0, 10}, {"O", 1, 11}, {"C", 1, 17}, {"O", 2, 17.5}, {"C", 2, 18.5}, {"C", 0, 19},
      {"O", 0, 100}, {"O", 1, 100.5}, {"C", 1, 106.5}, {"O", 2, 107}, {"C", 2, 108}, {"C", 0, 108.5}};
  ASSERT_EQ(ev["events"].size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(ev["events"][i]["type"], std::get<0>(want[i])) << i;
    EXPECT_EQ(ev["events"][i]["frame"], std::get<1>(want[i])) << i;
    EXPECT_DOUBLE_EQ(ev["events"][i]["at"].get<double>(), std::get<2>(want[i])) << i;
  }
  EXPECT_DOUBLE_EQ(ev["startValue"].get<double>(), 10);
  EXPECT_DOUBLE_EQ(ev["endValue"].get<double>(), 108.5);
  const json& sp = s["profiles"][1];
  EXPECT_EQ(sp["type"], "sampled");
  EXPECT_EQ(sp["samples"], json::parse("[[3, 4, 5], [3, 6]]"));  // root first
  EXPECT_EQ(sp["weights"], json::parse("[3, 2]"));
  EXPECT_EQ(sp["endValue"], 5);
}

// Nested op calls (the torch backend's timeline) nest in the evented profile.
TEST(Exports, SpeedscopeNestsByDepth) {
  json p = small_profile();
  p["trace"]["run_events"] = json::array({{{"run", 0}, {"start_us", 0.0}, {"dur_us", 20.0}}});
  p["trace"]["events"] = json::array({{{"run", 0}, {"index", 0}, {"depth", 0}, {"start_us", 1.0}, {"dur_us", 10.0}},
                                      {{"run", 0}, {"index", 1}, {"depth", 1}, {"start_us", 2.0}, {"dur_us", 3.0}},
                                      {{"run", 0}, {"index", 1}, {"depth", 0}, {"start_us", 12.0}, {"dur_us", 2.0}}});
  json s = profile::speedscope(p);
  ASSERT_EQ(s["profiles"].size(), 1u);
  std::vector<std::tuple<std::string, int, double>> want = {{"O", 0, 0},  {"O", 1, 1},  {"O", 2, 2}, {"C", 2, 5},
                                                            {"C", 1, 11}, {"O", 2, 12}, {"C", 2, 14}, {"C", 0, 20}};
  const json& ev = s["profiles"][0]["events"];
  ASSERT_EQ(ev.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(ev[i]["type"], std::get<0>(want[i])) << i;
    EXPECT_EQ(ev[i]["frame"], std::get<1>(want[i])) << i;
    EXPECT_DOUBLE_EQ(ev[i]["at"].get<double>(), std::get<2>(want[i])) << i;
  }
  // The Chrome trace keeps the nesting as containment.
  json t = profile::chrome_trace(p);
  int x = 0;
  for (const auto& e : t["traceEvents"]) x += e["ph"] == "X";
  EXPECT_EQ(x, 4);
}

TEST(Exports, TopFrames) {
  profile::FoldedStacks f;
  f.counts = {{"main;a;b", 3}, {"main;b", 2}, {"main;a", 1}, {"main;a;a", 4}};
  // self: b 3+2 = 5, a 1+4 = 5, main 0; total: main 10, a 3+1+4 = 8 (once per stack), b 5.
  std::vector<profile::FrameCount> top = profile::top_frames(f, 10);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].frame, "a");
  EXPECT_EQ(top[0].self, 5);
  EXPECT_EQ(top[0].total, 8);
  EXPECT_EQ(top[1].frame, "b");
  EXPECT_EQ(top[1].self, 5);
  EXPECT_EQ(top[1].total, 5);
  EXPECT_EQ(top[2].frame, "main");
  EXPECT_EQ(top[2].self, 0);
  EXPECT_EQ(top[2].total, 10);
  EXPECT_EQ(profile::top_frames(f, 1).size(), 1u);
}

}  // namespace
}  // namespace rtml
