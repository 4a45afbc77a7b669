#include "tune/tune.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <set>

#include "compile/codegen.h"
#include "compile/qemu_runner.h"
#include "core/error.h"
#include "engine/session.h"
#include "import/tflite_import.h"

namespace rtml::tune {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* local_target() {
#if defined(__arm__)
  return "armhf";
#else
  return "host";
#endif
}

std::string model_hash(const std::string& model_path) {
  std::ifstream in(model_path, std::ios::binary);
  if (!in) throw Error(model_path + ": cannot read the model file");
  uint64_t h = 1469598103934665603ull;  // FNV-1a, 64 bits
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    for (std::streamsize i = 0; i < in.gcount(); ++i) {
      h ^= static_cast<uint8_t>(buf[i]);
      h *= 1099511628211ull;
    }
    if (!in) break;
  }
  char out[40];
  std::snprintf(out, sizeof out, "fnv1a64:%016llx", static_cast<unsigned long long>(h));
  return out;
}

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string utc_now() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

double median(std::vector<double> v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

using Outputs = std::vector<std::vector<uint8_t>>;

// Seeded inputs, one buffer per graph input: floats ~ N(0, 1), integers
// over their whole range (int8 data exercises saturation), int64 zeros
// (indices), bools 0/1.
Outputs seeded_inputs(const plan::Plan& plan) {
  std::mt19937 rng(20260318);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Outputs in;
  for (int id : plan.inputs) {
    const plan::TensorPlan& t = plan.tensors[id];
    std::vector<uint8_t> b(t.bytes, 0);
    if (t.dtype == DType::F32) {
      for (size_t i = 0; i + 4 <= b.size(); i += 4) {
        const float v = normal(rng);
        std::memcpy(b.data() + i, &v, 4);
      }
    } else if (t.dtype == DType::Bool) {
      for (uint8_t& v : b) v = rng() & 1;
    } else if (t.dtype != DType::I64 && t.dtype != DType::F64 && t.dtype != DType::F16) {
      for (uint8_t& v : b) v = static_cast<uint8_t>(rng());
    }
    in.push_back(std::move(b));
  }
  return in;
}

void bind(engine::Session& s, Outputs& inputs) {
  for (int i = 0; i < s.num_inputs(); ++i) s.bind_input(i, inputs[static_cast<size_t>(i)].data());
}

Outputs outputs_of(engine::Session& s) {
  Outputs out;
  for (int i = 0; i < s.num_outputs(); ++i) {
    const auto* p = static_cast<const uint8_t*>(s.output_data(i));
    out.emplace_back(p, p + s.output(i).bytes);
  }
  return out;
}

// "" when `b` matches the reference `a`: bit for bit, float32 within 1e-5
// (absolute, or relative past 1); else what differs.
std::string compare_outputs(const plan::Plan& plan, const Outputs& a, const Outputs& b) {
  if (a.size() != b.size()) return "a different number of outputs";
  for (size_t o = 0; o < a.size(); ++o) {
    const plan::TensorPlan& t = plan.tensors[plan.outputs[o]];
    if (a[o].size() != b[o].size()) return "output '" + t.name + "' has another size";
    if (t.dtype != DType::F32) {
      if (a[o] != b[o]) return "output '" + t.name + "' differs (not bit-exact)";
      continue;
    }
    for (size_t i = 0; i + 4 <= a[o].size(); i += 4) {
      float x, y;
      std::memcpy(&x, a[o].data() + i, 4);
      std::memcpy(&y, b[o].data() + i, 4);
      if (std::isnan(x) && std::isnan(y)) continue;
      if (!(std::fabs(x - y) <= 1e-5 * std::max(1.0f, std::fabs(x))))
        return "output '" + t.name + "' element " + std::to_string(i / 4) + ": " + std::to_string(y) + " vs " +
               std::to_string(x) + " (over 1e-5)";
    }
  }
  return {};
}

// Per-step clocks around run_observed (no allocation in the loop: room reserved).
struct StepClock final : engine::StepObserver {
  explicit StepClock(size_t steps, int runs) : t0(steps), ns(steps) {
    for (auto& v : ns) v.reserve(static_cast<size_t>(runs) * 8);
  }
  void before(int i) noexcept override { t0[static_cast<size_t>(i)] = Clock::now(); }
  void after(int i) noexcept override {
    auto& v = ns[static_cast<size_t>(i)];
    if (v.size() < v.capacity())
      v.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0[static_cast<size_t>(i)]).count());
  }
  std::vector<double> medians() const {
    std::vector<double> m;
    for (const auto& v : ns) m.push_back(median(v));
    return m;
  }
  std::vector<Clock::time_point> t0;
  std::vector<std::vector<double>> ns;
};

// A plan run in this process, on the seeded inputs.
struct Local {
  explicit Local(const plan::Plan& p, Outputs& inputs) : session(p) {
    bind(session, inputs);
    for (int i = 0; i < 3; ++i) run();  // warm: caches, page faults, dispatch
  }
  void run() {
    const engine::RunStatus st = session.run();
    if (st.code != 0) throw Error("the plan failed at step " + std::to_string(st.step) + " (code " + std::to_string(st.code) + ")");
  }
  engine::Session session;
};

// Steps of plans a and b that run the same nodes as `key`'s step: its steps
// in both, grown over shared node names (fusion may differ) until closed.
// joint: b's side holds another changed key's step too (costs cannot be told apart).
struct Group {
  std::vector<int> a, b;
  bool joint = false;
};

std::vector<std::string> node_names(const plan::PlanStep& s) {
  std::vector<std::string> out;
  size_t at = 0;
  for (;;) {
    const size_t k = s.node_name.find(" + ", at);
    out.push_back(s.node_name.substr(at, k == std::string::npos ? std::string::npos : k - at));
    if (k == std::string::npos) return out;
    at = k + 3;
  }
}

Group group_of(const plan::Plan& a, const plan::Plan& b, const std::string& key, const std::set<std::string>& changed) {
  Group g;
  std::set<std::string> nodes;
  std::vector<bool> in_a(a.steps.size()), in_b(b.steps.size());
  bool grew = true;
  bool first = true;
  while (grew) {
    grew = false;
    for (int side = 0; side < 2; ++side) {
      const plan::Plan& p = side ? b : a;
      std::vector<bool>& in = side ? in_b : in_a;
      for (size_t i = 0; i < p.steps.size(); ++i) {
        if (in[i]) continue;
        const std::vector<std::string> names = node_names(p.steps[i]);
        bool hit = first && p.steps[i].key == key;
        for (const std::string& n : names) hit = hit || nodes.count(n);
        if (!hit) continue;
        in[i] = grew = true;
        nodes.insert(names.begin(), names.end());
      }
    }
    first = false;
  }
  for (size_t i = 0; i < a.steps.size(); ++i)
    if (in_a[i]) g.a.push_back(static_cast<int>(i));
  for (size_t i = 0; i < b.steps.size(); ++i)
    if (in_b[i]) {
      g.b.push_back(static_cast<int>(i));
      if (b.steps[i].key != key && changed.count(b.steps[i].key)) g.joint = true;
    }
  return g;
}

double sum_at(const std::vector<double>& cost, const std::vector<int>& idx) {
  double s = 0;
  for (int i : idx) s += cost[static_cast<size_t>(i)];
  return s;
}

std::string kernel_of(const plan::PlanStep& s) { return s.step.info ? s.step.info->symbol : s.step.kernel; }

struct Candidate {
  plan::StepChoices choices;
  std::string kernel;
  double cost = std::numeric_limits<double>::quiet_NaN();  // measured, with the default's in the same measurement
  double base = std::numeric_limits<double>::quiet_NaN();
  std::string rejected;  // why it was dropped
  bool measured = false;
};

struct StepSpace {
  std::string key, node, op_type, kernel;
  double cost = 0;  // the default's, from the first measurement
  std::vector<Candidate> cands;
  int best = -1;
};

// The knob values to try on `target` with kernel set `ks`, each as the
// choices every step gets in one enumeration plan.
std::vector<plan::StepChoices> combos(bool microcontroller, kernels::KernelSet ks) {
  using kernels::KernelSet;
  std::vector<KernelSet> impls = microcontroller ? std::vector<KernelSet>{KernelSet::CortexM, KernelSet::Reference}
                                                 : std::vector<KernelSet>{KernelSet::Simd, KernelSet::Reference, KernelSet::CortexM};
  if (ks == KernelSet::CmsisNn) impls = {KernelSet::CmsisNn, KernelSet::CortexM, KernelSet::Reference};
  std::vector<plan::StepChoices> out;
  for (KernelSet x : impls) {
    plan::StepChoices c;
    if (x != ks) c["impl"] = kernels::kernel_set_name(x);
    if (!c.empty()) out.push_back(c);
    if (x == KernelSet::Simd) {
      for (const auto& [k, v] : {std::pair<const char*, const char*>{"conv", "im2row"}, {"gemm", "dense"}}) {
        plan::StepChoices d = c;
        d[k] = v;
        out.push_back(d);
      }
    }
  }
  return out;
}

// A plan the engine can run with the same kernels as `po` (a cmsis-nn plan
// runs the reference kernels, which CMSIS-NN matches bit for bit).
plan::PlanOptions engine_twin(plan::PlanOptions po) {
  if (po.kernels != kernels::KernelSet::CmsisNn) return po;
  po.kernels = kernels::KernelSet::Reference;
  for (auto& [key, c] : po.schedule)
    if (c.count("impl") && c["impl"] == "cmsis-nn") c.erase("impl");
  return po;
}

// One build and QEMU run of a plan: instructions per step and the outputs.
struct TargetRun {
  std::vector<double> steps;
  double total = 0;
  std::vector<uint8_t> outputs;
};

TargetRun run_on_target(const plan::Plan& plan, const TuneOptions& o, const std::vector<uint8_t>& inputs,
                        const std::string& dir) {
  const compile::CortexMTarget& target = compile::find_cortexm_target(o.target);
  compile::CompileOptions co;
  co.name = "tune";
  co.target = o.target;
  co.out_dir = dir;
  co.project = true;
  co.cmsis_nn_dir = o.cmsis_nn_dir;
  compile::generate_c(plan, co);
  {
    std::ofstream f(fs::path(dir) / "inputs.bin", std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(inputs.data()), static_cast<std::streamsize>(inputs.size()));
    if (!f.good()) throw Error(dir + "/inputs.bin: cannot write it");
  }
  fs::remove(fs::path(dir) / "outputs.bin");
  const std::string elf = compile::build_project(dir, target, 900);
  compile::QemuRunOptions qo;
  qo.time_limit_s = 600;
  const compile::QemuRun q = compile::run_under_qemu(target, elf, dir, qo);
  if (q.exit_status != 0)
    throw Error("the compiled model exited with status " + std::to_string(q.exit_status) + " on " + target.machine +
                ": " + q.output);
  if (q.step_instructions.empty() || q.step_instructions[0].size() != plan.steps.size())
    throw Error("QEMU counted no inference of " + std::to_string(plan.steps.size()) + " steps");
  TargetRun r;
  for (uint64_t n : q.step_instructions[0]) r.steps.push_back(static_cast<double>(n));
  r.total = static_cast<double>(q.inference_instructions.at(0));
  std::ifstream in(fs::path(dir) / "outputs.bin", std::ios::binary);
  r.outputs.assign(std::istreambuf_iterator<char>(in), {});
  return r;
}

std::vector<uint8_t> concat(const Outputs& parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Outputs split_outputs(const plan::Plan& plan, const std::vector<uint8_t>& raw) {
  Outputs out;
  size_t at = 0;
  for (int id : plan.outputs) {
    const size_t n = plan.tensors[id].bytes;
    if (at + n > raw.size()) return {};
    out.emplace_back(raw.begin() + static_cast<std::ptrdiff_t>(at), raw.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  }
  return out;
}

// Pins the calling thread to the core it runs on, for the tune; restored after.
struct Pin {
  Pin() {
    have_old = ::sched_getaffinity(0, sizeof old, &old) == 0;
    const int cpu = ::sched_getcpu();
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu >= 0) CPU_SET(cpu, &set);
    pinned = cpu >= 0 && ::sched_setaffinity(0, sizeof set, &set) == 0;
    where = pinned ? "cpu " + std::to_string(cpu) : "not pinned";
  }
  ~Pin() {
    if (pinned && have_old) ::sched_setaffinity(0, sizeof old, &old);
  }
  cpu_set_t old{};
  bool have_old = false, pinned = false;
  std::string where;
};

}  // namespace

json tune_model(const std::string& model_path, const TuneOptions& o, const Progress& progress) {
  const auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  const Clock::time_point t0 = Clock::now();
  const bool micro = o.target != "host" && o.target != "armhf";
  if (!micro && o.target != local_target())
    throw Error(std::string("--target ") + o.target + " is measured by running rtml tune on that machine; this one is " +
                local_target() + " (copy rtml and the model there, or use rtml remote)");
  if (micro) {
    compile::find_cortexm_target(o.target);
    compile::find_toolchain();
    if (o.kernels == kernels::KernelSet::Simd)
      throw Error(std::string("--kernels simd runs on Linux targets only; ") + o.target + " takes cortex-m, cmsis-nn or reference");
  } else if (o.kernels == kernels::KernelSet::CmsisNn) {
    throw Error("--kernels cmsis-nn is tuned on a Cortex-M target (the engine does not run it)");
  }

  const ir::Graph graph = import::load_model(model_path);
  plan::PlanOptions po;
  po.kernels = o.kernels;
  po.input_shapes = o.input_shapes;
  const plan::Plan base = plan::build_plan(graph, po);
  const plan::Plan base_twin = plan::build_plan(graph, engine_twin(po));
  Outputs inputs = seeded_inputs(base);
  Outputs reference_out;
  {
    Local l(base_twin, inputs);
    reference_out = outputs_of(l.session);
  }

  // The space: per step key, the knob values that pick another kernel.
  std::vector<StepSpace> space;
  std::map<std::string, size_t> by_key;
  for (const plan::PlanStep& s : base.steps) {
    if (by_key.count(s.key)) continue;  // one entry per key (a key has one step)
    by_key[s.key] = space.size();
    space.push_back({s.key, s.node_name, s.op_type, kernel_of(s), 0, {}, -1});
  }
  for (const plan::StepChoices& c : combos(micro, o.kernels)) {
    plan::PlanOptions all = po;
    for (const StepSpace& sp : space) all.schedule[sp.key] = c;
    plan::Plan p;
    try {
      p = plan::build_plan(graph, all);
    } catch (const Error& e) {
      say("  (" + plan::choices_str(c) + " does not plan: " + e.what() + ")");
      continue;
    }
    for (const plan::PlanStep& s : p.steps) {
      auto it = by_key.find(s.key);
      if (it == by_key.end()) continue;
      StepSpace& sp = space[it->second];
      const std::string k = kernel_of(s);
      if (k == sp.kernel || std::any_of(sp.cands.begin(), sp.cands.end(), [&](const Candidate& x) { return x.kernel == k; }))
        continue;
      if (!micro && !s.step.info) continue;
      if (micro && s.step.info && !s.step.info->portable) continue;
      Candidate cand;
      cand.choices = c;
      cand.kernel = k;
      space[it->second].cands.push_back(cand);
    }
  }
  size_t n_cands = 0;
  for (const StepSpace& sp : space) n_cands += sp.cands.size();
  say("tune " + model_path + " on " + o.target + " (kernels " + kernels::kernel_set_name(o.kernels) + "): " +
      std::to_string(space.size()) + " steps, " + std::to_string(n_cands) + " candidates");

  // Each candidate's outputs against the default's, on the host (the same kernels).
  int rejected = 0;
  const auto check = [&](const std::string& key, Candidate& c) -> bool {
    plan::PlanOptions one = po;
    one.schedule[key] = c.choices;
    try {
      const plan::Plan p = plan::build_plan(graph, engine_twin(one));
      Local l(p, inputs);
      c.rejected = compare_outputs(p, reference_out, outputs_of(l.session));
    } catch (const Error& e) {
      c.rejected = e.what();
    }
    if (!c.rejected.empty()) ++rejected;
    return c.rejected.empty();
  };

  json notes = json::array();
  int measured = 0;
  std::string unit = micro ? "instructions" : "ns";
  double total_before = 0, total_after = 0;
  plan::Schedule schedule;
  std::string pinned = "not pinned (emulated: instructions do not depend on it)";

  if (!micro) {
    Pin pin;
    pinned = pin.where;
    // The default's per-step costs order the search: the costliest steps first.
    {
      Local l(base, inputs);
      StepClock clock(base.steps.size(), o.runs);
      for (int r = 0; r < o.runs; ++r) l.session.run_observed(clock);
      const std::vector<double> m = clock.medians();
      for (size_t i = 0; i < base.steps.size(); ++i) space[by_key[base.steps[i].key]].cost += m[i];
    }
    std::vector<size_t> order(space.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return space[a].cost > space[b].cost; });
    Local def(base, inputs);
    size_t done = 0;
    for (size_t k : order) {
      StepSpace& sp = space[k];
      for (Candidate& c : sp.cands) {
        ++done;
        if (seconds_since(t0) > o.budget_s) break;
        if (!check(sp.key, c)) continue;
        plan::PlanOptions one = po;
        one.schedule[sp.key] = c.choices;
        const plan::Plan p = plan::build_plan(graph, one);
        Local cand(p, inputs);
        StepClock ca(base.steps.size(), o.runs * 3), cb(p.steps.size(), o.runs * 3);
        for (int block = 0; block < 3; ++block) {
          for (int r = 0; r < o.runs; ++r) def.session.run_observed(ca);
          for (int r = 0; r < o.runs; ++r) cand.session.run_observed(cb);
        }
        const Group g = group_of(base, p, sp.key, {sp.key});
        c.base = sum_at(ca.medians(), g.a);
        c.cost = sum_at(cb.medians(), g.b);
        c.measured = true;
        ++measured;
        if (c.cost < (1 - o.margin) * c.base && (sp.best < 0 || c.cost / c.base < sp.cands[sp.best].cost / sp.cands[sp.best].base))
          sp.best = static_cast<int>(&c - sp.cands.data());
        char line[400];
        std::snprintf(line, sizeof line, "[%zu/%zu %.0fs] %s %s: %.0f ns vs %.0f ns default%s", done, n_cands,
                      seconds_since(t0), sp.key.c_str(), plan::choices_str(c.choices).c_str(), c.cost, c.base,
                      sp.best >= 0 && &sp.cands[sp.best] == &c ? " (best so far)" : "");
        say(line);
      }
    }
    for (const StepSpace& sp : space)
      if (sp.best >= 0) schedule[sp.key] = sp.cands[sp.best].choices;
    // The whole model, default vs tuned in alternating blocks: never slower.
    std::vector<double> td, tt;
    if (!schedule.empty()) {
      plan::PlanOptions tuned_po = po;
      tuned_po.schedule = schedule;
      const plan::Plan tuned = plan::build_plan(graph, tuned_po);
      Local lt(tuned, inputs);
      const std::string why = compare_outputs(tuned, reference_out, outputs_of(lt.session));
      if (!why.empty()) {
        notes.push_back("the winners together differ from the default (" + why + "): default kept");
        schedule.clear();
      } else {
        for (int block = 0; block < 5; ++block)
          for (int side = 0; side < 2; ++side)
            for (int r = 0; r < o.runs; ++r) {
              const Clock::time_point a = Clock::now();
              (side ? lt : def).run();
              (side ? tt : td).push_back(std::chrono::duration<double, std::nano>(Clock::now() - a).count());
            }
        if (!(median(tt) < median(td))) {
          notes.push_back("the tuned plan was not faster on the whole model (" + std::to_string(median(tt)) + " vs " +
                          std::to_string(median(td)) + " ns): default kept");
          schedule.clear();
        }
      }
    }
    if (schedule.empty()) {
      for (int r = 0; r < o.runs * 5; ++r) {
        const Clock::time_point a = Clock::now();
        def.run();
        td.push_back(std::chrono::duration<double, std::nano>(Clock::now() - a).count());
      }
      tt = td;
    }
    total_before = median(td);
    total_after = median(tt);
  } else {
    // Cortex-M: one build per round, round r trying every step's r-th candidate.
    const std::vector<uint8_t> in_bytes = concat(inputs);
    char tmpl[] = "/tmp/rtml-tune-XXXXXX";
    if (!::mkdtemp(tmpl)) throw Error("cannot make a temporary folder for the builds");
    const std::string dir = tmpl;
    struct Cleanup {
      std::string d;
      ~Cleanup() {
        std::error_code ec;
        fs::remove_all(d, ec);
      }
    } cleanup{dir};
    say("[build 1] the default schedule");
    const TargetRun def = run_on_target(base, o, in_bytes, dir);
    const Outputs def_out = split_outputs(base, def.outputs);
    const std::string def_why = compare_outputs(base, reference_out, def_out);
    if (!def_why.empty()) notes.push_back("the default plan on " + o.target + " differs from the host's: " + def_why);
    for (size_t i = 0; i < base.steps.size(); ++i) space[by_key[base.steps[i].key]].cost += def.steps[i];
    // Round r: every step on its r-th candidate (checked on the host first).
    // A round whose build fails (e.g. a cmsis-nn plan left with no CMSIS-NN
    // step) is split in two and both halves tried again.
    struct Round {
      size_t r;
      std::vector<std::string> keys;
    };
    std::deque<Round> rounds;
    size_t most = 0;
    for (const StepSpace& sp : space) most = std::max(most, sp.cands.size());
    for (size_t r = 0; r < most; ++r) {
      Round round{r, {}};
      for (StepSpace& sp : space)
        if (r < sp.cands.size() && check(sp.key, sp.cands[r])) round.keys.push_back(sp.key);
      if (!round.keys.empty()) rounds.push_back(round);
    }
    int builds = 1;
    while (!rounds.empty()) {
      if (seconds_since(t0) > o.budget_s) {
        notes.push_back("budget spent with " + std::to_string(rounds.size()) + " builds left to measure");
        break;
      }
      const Round round = rounds.front();
      rounds.pop_front();
      const size_t r = round.r;
      plan::PlanOptions ro = po;
      const std::set<std::string> changed(round.keys.begin(), round.keys.end());
      for (const std::string& k : round.keys) ro.schedule[k] = space[by_key[k]].cands[r].choices;
      const plan::Plan p = plan::build_plan(graph, ro);
      say("[build " + std::to_string(++builds) + ", " + std::to_string(static_cast<int>(seconds_since(t0))) + "s] " +
          std::to_string(changed.size()) + " steps on their candidate " + std::to_string(r + 1));
      TargetRun tr;
      try {
        tr = run_on_target(p, o, in_bytes, dir);
      } catch (const Error& e) {
        if (round.keys.size() > 1) {
          const auto half = round.keys.begin() + static_cast<std::ptrdiff_t>(round.keys.size() / 2);
          rounds.push_back({r, std::vector<std::string>(round.keys.begin(), half)});
          rounds.push_back({r, std::vector<std::string>(half, round.keys.end())});
          continue;
        }
        space[by_key[round.keys[0]]].cands[r].rejected = std::string("build or run failed: ") + e.what();
        ++rejected;
        continue;
      }
      const std::string why = compare_outputs(p, def_out, split_outputs(p, tr.outputs));
      for (const std::string& k : round.keys) {
        StepSpace& sp = space[by_key[k]];
        Candidate& c = sp.cands[r];
        if (!why.empty()) {
          c.rejected = "outputs on " + o.target + ": " + why;
          ++rejected;
          continue;
        }
        const Group g = group_of(base, p, sp.key, changed);
        if (g.joint) {
          c.rejected = "shares steps with another changed step in its build: not measured alone";
          continue;
        }
        c.base = sum_at(def.steps, g.a);
        c.cost = sum_at(tr.steps, g.b);
        c.measured = true;
        ++measured;
        if (c.cost < c.base && (sp.best < 0 || c.cost < sp.cands[sp.best].cost)) sp.best = static_cast<int>(r);
      }
    }
    for (const StepSpace& sp : space)
      if (sp.best >= 0) schedule[sp.key] = sp.cands[sp.best].choices;
    total_before = total_after = def.total;
    if (!schedule.empty()) {
      // The winners together (layouts between CMSIS-NN steps may interact):
      // kept only when the whole inference takes fewer instructions; else the
      // winners one at a time, the largest gain first, while the budget lasts.
      const auto try_schedule = [&](const plan::Schedule& s, double* total) {
        plan::PlanOptions tp = po;
        tp.schedule = s;
        const plan::Plan p = plan::build_plan(graph, tp);
        say("[build " + std::to_string(++builds) + ", " + std::to_string(static_cast<int>(seconds_since(t0))) + "s] " +
            std::to_string(s.size()) + " tuned steps together");
        const TargetRun tr = run_on_target(p, o, in_bytes, dir);
        if (!compare_outputs(p, def_out, split_outputs(p, tr.outputs)).empty()) return false;
        *total = tr.total;
        return true;
      };
      double t = 0;
      if (try_schedule(schedule, &t) && t < def.total) {
        total_after = t;
      } else {
        notes.push_back("the winners together were not fewer instructions: added one at a time");
        std::vector<std::pair<double, std::string>> gains;
        for (const StepSpace& sp : space)
          if (sp.best >= 0) gains.push_back({sp.cands[sp.best].base - sp.cands[sp.best].cost, sp.key});
        std::sort(gains.rbegin(), gains.rend());
        plan::Schedule kept;
        double best_total = def.total;
        for (const auto& [gain, key] : gains) {
          if (seconds_since(t0) > o.budget_s) break;
          plan::Schedule trial = kept;
          trial[key] = schedule[key];
          if (try_schedule(trial, &t) && t < best_total) {
            kept = trial;
            best_total = t;
          }
        }
        schedule = kept;
        total_after = best_total;
      }
    }
  }

  json steps = json::array();
  for (const StepSpace& sp : space) {
    json cands = json::array();
    for (const Candidate& c : sp.cands) {
      json j = {{"choice", c.choices}, {"kernel", c.kernel}};
      if (c.measured) j["cost"] = c.cost, j["default_cost"] = c.base;
      if (!c.rejected.empty()) j["rejected"] = c.rejected;
      cands.push_back(j);
    }
    const bool tuned = schedule.count(sp.key) > 0;
    const Candidate* win = tuned ? &sp.cands[sp.best] : nullptr;
    steps.push_back({{"key", sp.key},
                     {"node", sp.node},
                     {"op_type", sp.op_type},
                     {"kernel_before", sp.kernel},
                     {"kernel_after", win ? win->kernel : sp.kernel},
                     {"choice", win ? json(win->choices) : json::object()},
                     {"cost_before", win ? win->base : sp.cost},
                     {"cost_after", win ? win->cost : sp.cost},
                     {"candidates", cands}});
  }
  json record = {
      {"schema", kRecordSchema},
      {"created", utc_now()},
      {"model", model_path},
      {"model_name", import::model_name(model_path)},
      {"model_hash", model_hash(model_path)},
      {"target", o.target},
      {"kernels", kernels::kernel_set_name(o.kernels)},
      {"unit", unit},
      {"measurement", micro ? "instructions per step under QEMU (deterministic), seeded inputs"
                            : "median ns per step over " + std::to_string(o.runs * 3) +
                                  " runs, default and candidate in alternating blocks; " + pinned},
      {"search", "per step, every candidate (steps independent), costliest steps first, within the budget"},
      {"budget_s", o.budget_s},
      {"elapsed_s", seconds_since(t0)},
      {"candidates", n_cands},
      {"candidates_measured", measured},
      {"candidates_rejected", rejected},
      {"total_before", total_before},
      {"total_after", total_after},
      {"ratio", total_after > 0 ? total_before / total_after : 1.0},
      {"schedule", schedule},
      {"steps", steps},
      {"notes", notes},
  };
  return record;
}

json load_record(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw Error(file + ": cannot read the tuning record");
  json j;
  try {
    j = json::parse(in);
  } catch (const std::exception& e) {
    throw Error(file + ": not a tuning record (" + e.what() + ")");
  }
  if (!j.is_object() || j.value("schema", std::string()) != kRecordSchema)
    throw Error(file + ": not a tuning record (expected \"schema\": \"" + kRecordSchema + "\")");
  for (const char* k : {"model_hash", "target", "kernels"})
    if (!j.contains(k) || !j[k].is_string()) throw Error(file + ": tuning record without \"" + k + "\"");
  if (!j.contains("schedule") || !j["schedule"].is_object()) throw Error(file + ": tuning record without a \"schedule\" object");
  for (const auto& [key, c] : j["schedule"].items()) {
    if (!c.is_object()) throw Error(file + ": schedule step '" + key + "' is not an object of knob: value");
    for (const auto& [knob, v] : c.items())
      if (!v.is_string()) throw Error(file + ": schedule step '" + key + "' knob '" + knob + "' is not a string");
  }
  return j;
}

plan::Schedule record_schedule(const json& record, const std::string& file, const std::string& model_path,
                               const std::string& target, kernels::KernelSet ks) {
  const std::string hash = model_hash(model_path);
  const std::string want = record["model_hash"].get<std::string>();
  if (hash != want)
    throw Error(file + ": this tuning record is for another model (" + record.value("model", std::string("?")) + ", " +
                want + "); " + model_path + " is " + hash + ". Tune it with: rtml tune " + model_path);
  const std::string t = record["target"].get<std::string>();
  if (t != target)
    throw Error(file + ": this tuning record is for target " + t + ", not " + target +
                " (a schedule measured on one target says nothing about another)");
  const std::string k = record["kernels"].get<std::string>();
  if (k != kernels::kernel_set_name(ks))
    throw Error(file + ": this tuning record is for --kernels " + k + ", not " + kernels::kernel_set_name(ks) +
                " (pass --kernels " + k + ")");
  return record["schedule"].get<plan::Schedule>();
}

std::string record_summary(const json& record, const std::string& file) {
  char buf[200];
  std::snprintf(buf, sizeof buf, " (%zu steps tuned, %.2fx %s)", record["schedule"].size(), record.value("ratio", 1.0),
                record.value("unit", std::string()) == "instructions" ? "fewer instructions" : "faster");
  return fs::path(file).filename().string() + buf;
}

}  // namespace rtml::tune
