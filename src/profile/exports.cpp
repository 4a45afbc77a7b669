#include "profile/exports.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"

namespace rtml::profile {

using nlohmann::json;

namespace {

constexpr int kPid = 1, kTid = 1;

// What a timeline shows for op row `index`: the node name, else the op type.
std::string op_label(const json& op) {
  std::string node = op.value("node", "");
  std::string type = op.value("op_type", "");
  if (node.empty()) return type + " #" + std::to_string(op.value("index", 0));
  return node;
}

// The speedscope frame name: "node (op_type)" unless they say the same.
std::string frame_label(const json& op) {
  std::string node = op.value("node", "");
  std::string type = op.value("op_type", "");
  if (node.empty() || node == type) return op_label(op);
  return node + " (" + type + ")";
}

const json& field(const json& j, const char* key, const char* what) {
  auto it = j.find(key);
  if (it == j.end()) throw Error(std::string("profile has no \"") + key + "\" (" + what + "): not an rtml.profile/1 report");
  return *it;
}

struct Run {
  int run;
  double start, dur;
};

struct Call {
  int run, index, depth;
  double start, dur;  // start on the run clock (run start + offset)
};

// The traced runs and their op calls, ordered by run, start, depth.
void timeline(const json& profile, std::vector<Run>& runs, std::vector<Call>& calls) {
  const json& trace = field(profile, "trace", "the timeline");
  std::map<int, double> run_start;
  for (const auto& r : trace.value("run_events", json::array())) {
    runs.push_back({r.at("run").get<int>(), r.at("start_us").get<double>(), r.at("dur_us").get<double>()});
    run_start[runs.back().run] = runs.back().start;
  }
  for (const auto& e : trace.value("events", json::array())) {
    int run = e.at("run").get<int>();
    auto it = run_start.find(run);
    if (it == run_start.end()) continue;  // a call of a run without its run event: nowhere to place it
    calls.push_back({run, e.at("index").get<int>(), e.value("depth", 0), it->second + e.at("start_us").get<double>(),
                     e.at("dur_us").get<double>()});
  }
  std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.start < b.start; });
  std::stable_sort(calls.begin(), calls.end(), [](const Call& a, const Call& b) {
    if (a.run != b.run) return a.run < b.run;
    if (a.start != b.start) return a.start < b.start;
    return a.depth < b.depth;
  });
}

}  // namespace

json chrome_trace(const json& profile) {
  const json& ops = field(profile, "ops", "the operators");
  std::string model = profile.value("model", "model"), backend = profile.value("backend", "backend");
  std::vector<Run> runs;
  std::vector<Call> calls;
  timeline(profile, runs, calls);

  json events = json::array();
  events.push_back({{"name", "process_name"}, {"ph", "M"}, {"pid", kPid}, {"tid", kTid},
                    {"args", {{"name", "rtml profile: " + model + " on " + backend}}}});
  events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", kPid}, {"tid", kTid},
                    {"args", {{"name", "inference (first " + std::to_string(runs.size()) + " profiled runs)"}}}});
  for (const Run& r : runs)
    events.push_back({{"name", "run " + std::to_string(r.run)}, {"cat", "run"}, {"ph", "X"}, {"ts", r.start},
                      {"dur", r.dur}, {"pid", kPid}, {"tid", kTid}, {"args", {{"run", r.run}}}});
  for (const Call& c : calls) {
    if (c.index < 0 || static_cast<size_t>(c.index) >= ops.size()) continue;
    const json& op = ops[c.index];
    json args = {{"index", c.index}, {"op_type", op.value("op_type", "")}, {"run", c.run}};
    if (op.contains("kernel") && op["kernel"].is_string()) args["kernel"] = op["kernel"];
    if (op.contains("flops") && op["flops"].is_number()) args["flops"] = op["flops"];
    if (op.contains("output_bytes") && op["output_bytes"].is_number()) args["output_bytes"] = op["output_bytes"];
    events.push_back({{"name", op_label(op)}, {"cat", op.value("op_type", "op")}, {"ph", "X"}, {"ts", c.start},
                      {"dur", c.dur}, {"pid", kPid}, {"tid", kTid}, {"args", std::move(args)}});
  }
  if (profile.contains("memory") && profile["memory"].is_object() && profile["memory"].contains("timeline")) {
    const json& tl = profile["memory"]["timeline"];
    const json& t = tl.at("t_us");
    const json& rss = tl.at("rss_bytes");
    for (size_t i = 0; i < t.size() && i < rss.size(); ++i)
      events.push_back({{"name", "RSS"}, {"cat", "memory"}, {"ph", "C"}, {"ts", t[i]}, {"pid", kPid}, {"tid", kTid},
                        {"args", {{"rss_bytes", rss[i]}}}});
  }
  return {{"traceEvents", std::move(events)},
          {"displayTimeUnit", "ns"},
          {"otherData",
           {{"generator", "rtml profile"},
            {"schema", profile.value("schema", "")},
            {"model", model},
            {"backend", backend},
            {"run_id", profile.value("run_id", json(nullptr))}}}};
}

json speedscope(const json& profile, const FoldedStacks* folded) {
  const json& ops = field(profile, "ops", "the operators");
  std::string model = profile.value("model", "model"), backend = profile.value("backend", "backend");
  json frames = json::array();
  std::map<std::string, int> frame_of;
  auto frame = [&](const std::string& name) {
    auto [it, inserted] = frame_of.emplace(name, static_cast<int>(frames.size()));
    if (inserted) frames.push_back({{"name", name}});
    return it->second;
  };
  const int run_frame = frame("run");
  std::vector<int> op_frame;
  for (const auto& op : ops) op_frame.push_back(frame(frame_label(op)));

  std::vector<Run> runs;
  std::vector<Call> calls;
  timeline(profile, runs, calls);
  json profiles = json::array();

  // Evented: open/close events in non-decreasing time, balanced. A call is
  // clamped into its parent, and the parent of a call at depth d is the
  // (d+1)-th frame on the stack (the run is the first).
  json ev = json::array();
  double last = runs.empty() ? 0 : runs.front().start;
  const double begin = last;
  auto emit = [&](const char* type, int f, double at) {
    last = std::max(last, at);
    ev.push_back({{"type", type}, {"frame", f}, {"at", last}});
  };
  size_t next = 0;
  for (const Run& r : runs) {
    while (next < calls.size() && calls[next].run != r.run) ++next;  // runs and calls share one order
    struct Open {
      int frame;
      double end;
    };
    std::vector<Open> stack = {{run_frame, r.start + r.dur}};
    emit("O", run_frame, r.start);
    for (; next < calls.size() && calls[next].run == r.run; ++next) {
      const Call& c = calls[next];
      if (c.index < 0 || static_cast<size_t>(c.index) >= op_frame.size()) continue;
      size_t keep = static_cast<size_t>(std::max(0, c.depth)) + 1;
      while (stack.size() > 1 && (stack.size() > keep || stack.back().end <= c.start)) {
        emit("C", stack.back().frame, stack.back().end);
        stack.pop_back();
      }
      double end = std::min(c.start + c.dur, stack.back().end);
      emit("O", op_frame[c.index], c.start);
      stack.push_back({op_frame[c.index], std::max(end, last)});
    }
    while (!stack.empty()) {
      emit("C", stack.back().frame, stack.back().end);
      stack.pop_back();
    }
  }
  profiles.push_back({{"type", "evented"},
                      {"name", model + " on " + backend + ": " + std::to_string(runs.size()) + " profiled runs"},
                      {"unit", "microseconds"},
                      {"startValue", begin},
                      {"endValue", last},
                      {"events", std::move(ev)}});

  if (folded && !folded->counts.empty()) {
    json samples = json::array(), weights = json::array();
    int64_t total = 0;
    for (const auto& [stack, count] : folded->counts) {
      json s = json::array();
      size_t start = 0;
      while (true) {
        size_t end = stack.find(';', start);
        std::string f = stack.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!f.empty()) s.push_back(frame(f));
        if (end == std::string::npos) break;
        start = end + 1;
      }
      samples.push_back(std::move(s));
      weights.push_back(count);
      total += count;
    }
    std::string event = folded->event.empty() ? "perf" : folded->event;
    profiles.push_back({{"type", "sampled"},
                        {"name", model + " on " + backend + ": perf " + event + " call stacks"},
                        {"unit", "none"},
                        {"startValue", 0},
                        {"endValue", total},
                        {"samples", std::move(samples)},
                        {"weights", std::move(weights)}});
  }
  return {{"$schema", "https://www.speedscope.app/file-format-schema.json"},
          {"shared", {{"frames", std::move(frames)}}},
          {"profiles", std::move(profiles)},
          {"name", model + " on " + backend},
          {"activeProfileIndex", 0},
          {"exporter", "rtml profile"}};
}

}  // namespace rtml::profile
