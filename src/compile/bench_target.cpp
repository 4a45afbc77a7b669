#include "compile/bench_target.h"

#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "bench/report.h"
#include "bench/stats.h"
#include "compile/codegen.h"
#include "compile/qemu_runner.h"
#include "core/error.h"
#include "data/test_data.h"
#include "import/tflite_import.h"
#include "util/subprocess.h"

namespace rtml::compile {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A temporary project folder, removed at the end unless the caller keeps it.
struct WorkDir {
  fs::path path;
  bool keep = false;
  explicit WorkDir(const std::string& keep_dir) {
    if (!keep_dir.empty()) {
      path = keep_dir;
      keep = true;
      fs::create_directories(path);
      return;
    }
    std::string tmpl = (fs::temp_directory_path() / "rtml-target-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw Error("cannot create a temporary folder in " + fs::temp_directory_path().string());
    path = tmpl;
  }
  ~WorkDir() {
    std::error_code ec;
    if (!keep) fs::remove_all(path, ec);
  }
};

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out.good()) throw Error(path.string() + ": cannot write it (disk full?)");
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": the program wrote no outputs");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Seeded normal noise for float inputs, zeros for the others (as rtml bench
// does without test data).
std::vector<uint8_t> random_inputs(const plan::Plan& plan) {
  std::vector<uint8_t> out;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int id : plan.inputs) {
    const plan::TensorPlan& t = plan.tensors[id];
    const size_t at = out.size();
    out.resize(at + t.bytes, 0);
    if (t.dtype == DType::F32)
      for (size_t i = 0; i < t.bytes / 4; ++i) {
        const float v = normal(rng);
        std::memcpy(out.data() + at + i * 4, &v, 4);
      }
  }
  return out;
}

double median_of(std::vector<uint64_t> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? static_cast<double>(v[n / 2]) : (static_cast<double>(v[n / 2 - 1]) + static_cast<double>(v[n / 2])) / 2;
}

}  // namespace

json bench_on_target(const bench::ModelSpec& spec, const TargetBenchOptions& opt,
                     const std::function<void(const std::string&)>& progress) {
  auto phase = [&](const char* p) {
    if (progress) progress(p);
  };
  json run = {{"model", spec.name},   {"model_path", spec.path}, {"backend", "compiled"},
              {"target", opt.target}, {"status", "ok"},          {"family", spec.family.empty() ? json(nullptr) : json(spec.family)},
              {"latency_us", nullptr}, {"accuracy", nullptr}};
  if (spec.flops) run["flops"] = *spec.flops;
  try {
    // host: built with this machine's cc and timed; a Cortex-M: built with
    // arm-none-eabi-gcc and counted under QEMU.
    const bool host = opt.target == "host";
    const CortexMTarget* target = host ? nullptr : &find_cortexm_target(opt.target);
    if (target) {
      find_toolchain();
    } else {
      for (const char* tool : {"cc", "c++", "make"})
        if (util::find_in_path(tool).empty())
          throw Error(std::string(tool) + " is not installed: --target host builds the generated C with it "
                      "(Debian packages gcc, g++ and make)");
    }
    phase("plan");
    ir::Graph g = import::load_model(spec.path);
    std::vector<data::TestSet> sets;
    plan::PlanOptions po;
    po.kernels = opt.kernels;
    po.ram_bytes = opt.ram_bytes;
    po.memory_levels = opt.memory_levels;
    po.schedule = opt.schedule;
    run["tuning"] = opt.tuning.empty() ? json(nullptr) : json(opt.tuning);
    if (opt.accuracy && !spec.test_data.empty()) {
      sets = data::load_test_data(spec.test_data, g);
      if (!sets.empty()) po.input_shapes = data::input_shapes(sets[0]);
    }
    const plan::Plan plan = plan::build_plan(g, po);

    phase("generate C");
    WorkDir dir(opt.keep_dir);
    CompileOptions co;
    co.name = c_identifier(spec.name);
    co.target = opt.target;
    co.out_dir = dir.path.string();
    co.project = true;
    co.model_path = spec.path;
    co.cmsis_nn_dir = opt.cmsis_nn_dir;
    const CompileResult cr = generate_c(plan, co);

    std::vector<uint8_t> inputs;
    for (const data::TestSet& set : sets)
      for (const data::TestTensor& t : set.inputs) {
        const auto* p = static_cast<const uint8_t*>(t.tensor.data->data());
        inputs.insert(inputs.end(), p, p + t.tensor.data->size());
      }
    if (sets.empty()) inputs = random_inputs(plan);
    write_bytes(dir.path / "inputs.bin", inputs);

    const size_t n_sets = std::max<size_t>(1, sets.size());
    std::string elf;
    QemuRun q;
    if (host) {
      phase("build");
      const util::ProcessResult b = util::run_process({"make", "-s", "-j2"}, dir.path.string(), opt.build_time_limit_s);
      if (b.exit_status != 0 || b.timed_out)
        throw Error("building the generated C failed" + std::string(b.timed_out ? " (time limit)" : "") + ":\n" + b.output);
      phase("run");
      const util::ProcessResult r =
          util::run_process({(dir.path / co.name).string(), "inputs.bin", "outputs.bin", "--repeat",
                             std::to_string(opt.runs), "--samples", "samples.bin"},
                            dir.path.string(), opt.run_time_limit_s);
      if (r.exit_status != 0 || r.timed_out)
        throw Error("the compiled model failed" + std::string(r.timed_out ? " (time limit)" : "") + ":\n" + r.output);
      const std::vector<uint8_t> raw = read_bytes(dir.path / "samples.bin");
      std::vector<double> us(raw.size() / sizeof(double));
      std::memcpy(us.data(), raw.data(), us.size() * sizeof(double));
      for (double& v : us) v /= 1000.0;
      if (us.empty()) throw Error("the compiled model timed no runs");
      run["timed_runs"] = us.size();
      run["latency_us"] = bench::latency_json(bench::summarize(us));
      const bench::Histogram h = bench::histogram(us);
      run["histogram"] = {{"edges_us", h.edges}, {"counts", h.counts}};
    } else {
      phase("build");
      elf = build_project(dir.path.string(), *target, opt.build_time_limit_s);
      phase("run under QEMU");
      QemuRunOptions qo;
      qo.time_limit_s = opt.run_time_limit_s;
      q = run_under_qemu(*target, elf, dir.path.string(), qo);
      if (q.exit_status != 0)
        throw Error("the compiled model exited with status " + std::to_string(q.exit_status) + " on " +
                    target->machine + ": " + q.output);
      if (q.inference_instructions.size() != n_sets)
        throw Error("QEMU counted " + std::to_string(q.inference_instructions.size()) + " inferences, expected " +
                    std::to_string(n_sets));
    }

    // Outputs: per set, per output.
    const std::vector<uint8_t> raw = read_bytes(dir.path / "outputs.bin");
    size_t set_bytes = 0;
    for (int id : plan.outputs) set_bytes += plan.tensors[id].bytes;
    if (raw.size() != set_bytes * n_sets)
      throw Error("outputs.bin holds " + std::to_string(raw.size()) + " bytes, expected " +
                  std::to_string(set_bytes * n_sets));
    if (!sets.empty()) {
      phase("accuracy");
      std::vector<data::TensorSpec> out_specs;
      for (int id : plan.outputs) out_specs.push_back({plan.tensors[id].name, plan.tensors[id].dtype, plan.tensors[id].shape});
      std::vector<std::vector<std::vector<uint8_t>>> actual(sets.size());
      size_t at = 0;
      for (size_t s = 0; s < sets.size(); ++s)
        for (int id : plan.outputs) {
          actual[s].emplace_back(raw.begin() + static_cast<std::ptrdiff_t>(at),
                                 raw.begin() + static_cast<std::ptrdiff_t>(at + plan.tensors[id].bytes));
          at += plan.tensors[id].bytes;
        }
      run["accuracy"] = bench::accuracy_json(spec.test_data, sets, out_specs, actual, opt.tolerance);
    }

    run["backend_info"] = {{"runtime", "generated C (rtml compile)"},
                           {"kernels", kernels::kernel_set_name(plan.kernels)},
                           {"target", opt.target},
                           {"steps", std::to_string(plan.steps.size())}};
    if (host) return run;

    // Instructions.
    json steps = json::array();
    const std::vector<uint64_t>& first = q.step_instructions.at(0);
    if (first.size() != plan.steps.size())
      throw Error("QEMU counted " + std::to_string(first.size()) + " steps in an inference, the plan has " +
                  std::to_string(plan.steps.size()));
    for (size_t s = 0; s < plan.steps.size(); ++s)
      steps.push_back({{"index", s},
                       {"node", plan.steps[s].node_name},
                       {"op_type", plan.steps[s].op_type},
                       {"kernel", cr.step_functions.at(s)},
                       {"flops", plan.steps[s].step.flops},
                       {"instructions", first[s]}});
    json traffic = json::array();
    for (const RegionTraffic& r : q.regions)
      traffic.push_back({{"region", r.name}, {"load_bytes", r.load_bytes}, {"store_bytes", r.store_bytes}});

    // Flash and RAM from the linked program.
    const ElfSizes sizes = read_elf_sizes(elf);
    json kernel_code = json::array();
    uint64_t library = 0, weights = 0;
    const std::string weight_prefix = co.name + "_c";
    std::vector<std::pair<std::string, uint64_t>> entries;
    for (const ElfSymbol& sym : read_elf_symbols(elf)) {
      const bool code = sym.type == 'T' || sym.type == 't' || sym.type == 'W' || sym.type == 'w';
      if (code && (kernels::find_kernel(sym.name) || sym.name.rfind("arm_", 0) == 0)) {  // rtml's or CMSIS-NN's
        entries.push_back({sym.name, sym.size});
        library += sym.size;
      } else if (code && sym.name.rfind("_ZN4rtml7kernels", 0) == 0) {
        library += sym.size;  // templates and helpers the entry points share
      } else if (!code && sym.name.rfind(weight_prefix, 0) == 0) {
        weights += sym.size;
      }
    }
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    for (const auto& [name, bytes] : entries) kernel_code.push_back({{"symbol", name}, {"bytes", bytes}});
    const uint64_t stack = q.stack_bytes < 0 ? 0 : static_cast<uint64_t>(q.stack_bytes);

    run["emulated"] = {
        {"tool", "qemu-system-arm -M " + target->machine + " (TCG, instruction-count plugin)"},
        {"core", target->core},
        {"kernels", kernels::kernel_set_name(plan.kernels)},
        {"instructions", {{"per_inference", q.inference_instructions}, {"median", median_of(q.inference_instructions)}}},
        {"program_instructions", q.program_instructions},
        {"steps", std::move(steps)},
        {"memory_traffic", std::move(traffic)},
        {"flash", {{"total_bytes", sizes.flash_bytes()},
                   {"code_bytes", sizes.code_bytes},
                   {"constant_bytes", sizes.rodata_bytes},
                   {"weights_bytes", weights},
                   {"kernel_library_bytes", library},
                   {"kernel_entry_points", std::move(kernel_code)}}},
        {"ram", {{"arena_bytes", cr.arena_bytes},  // with the state and CMSIS-NN's scratch
                 {"stack_bytes", stack},
                 {"static_bytes", sizes.static_ram_bytes()},
                 {"total_bytes", sizes.static_ram_bytes() + stack}}}};
    if (!plan.memory.levels.empty()) {  // --memory: each level's bytes (of arena_bytes) and budget
      json levels = json::array();
      for (size_t k = 0; k < plan.memory.levels.size(); ++k)
        levels.push_back({{"name", plan.memory.levels[k].name},
                          {"bytes", cr.level_bytes[k]},
                          {"budget_bytes", plan.memory.levels[k].budget_bytes}});
      run["emulated"]["ram"]["levels"] = std::move(levels);
      run["emulated"]["ram"]["level_copy_bytes"] = plan.memory.copy_bytes;
    }
  } catch (const std::exception& e) {
    run["status"] = "error";
    run["error"] = e.what();
  }
  return run;
}

json profile_from_emulated(const json& run) {
  if (run.value("status", "") != "ok" || !run.contains("emulated"))
    throw Error(run.value("model", std::string("?")) + " on " + run.value("target", std::string("?")) + ": " +
                run.value("error", std::string("the emulated run failed")));
  const json& e = run["emulated"];
  const int64_t sets = static_cast<int64_t>(e["instructions"]["per_inference"].size());
  auto counters = [](const json& instructions) {
    return json{{"cycles", nullptr}, {"instructions", instructions}, {"cache_misses", nullptr},
                {"branch_misses", nullptr}, {"task_clock_ns", nullptr}};
  };
  double total = 0;
  for (const json& s : e["steps"]) total += s["instructions"].get<double>();
  json ops = json::array();
  std::vector<std::pair<double, size_t>> order;
  for (const json& s : e["steps"]) {
    const double n = s["instructions"].get<double>();
    ops.push_back({{"index", s["index"]}, {"node", s["node"]}, {"op_type", s["op_type"]}, {"kernel", s["kernel"]},
                   {"calls", sets}, {"mean_us", nullptr}, {"median_us", nullptr}, {"total_us", nullptr},
                   {"percent", total > 0 ? 100.0 * n / total : 0.0}, {"cumulative_percent", 0.0},
                   {"flops", s.value("flops", 0.0)}, {"gflops", nullptr}, {"output_bytes", nullptr},
                   {"counters", counters(s["instructions"])}});
    order.push_back({n, ops.size() - 1});
  }
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  double cumulative = 0;
  for (const auto& [n, i] : order) ops[i]["cumulative_percent"] = cumulative += ops[i]["percent"].get<double>();
  // By op type, most instructions first.
  std::vector<json> types;
  for (const json& o : ops) {
    auto it = std::find_if(types.begin(), types.end(), [&](const json& t) { return t["op_type"] == o["op_type"]; });
    if (it == types.end()) {
      types.push_back({{"op_type", o["op_type"]}, {"nodes", 0}, {"calls", 0}, {"mean_us", nullptr}, {"total_us", nullptr},
                       {"percent", 0.0}, {"cumulative_percent", 0.0}, {"flops", 0.0}, {"gflops", nullptr},
                       {"instructions", 0}});
      it = types.end() - 1;
    }
    (*it)["nodes"] = (*it)["nodes"].get<int64_t>() + 1;
    (*it)["calls"] = (*it)["calls"].get<int64_t>() + sets;
    (*it)["percent"] = (*it)["percent"].get<double>() + o["percent"].get<double>();
    (*it)["flops"] = (*it)["flops"].get<double>() + o["flops"].get<double>();
    (*it)["instructions"] = (*it)["instructions"].get<int64_t>() + o["counters"]["instructions"].get<int64_t>();
  }
  std::sort(types.begin(), types.end(), [](const json& a, const json& b) { return a["percent"] > b["percent"]; });
  cumulative = 0;
  for (json& t : types) t["cumulative_percent"] = cumulative += t["percent"].get<double>();
  json p = bench::new_report(bench::host_info(), json::object());
  p.erase("runs");
  p["schema"] = "rtml.profile/1";
  p["model"] = run["model"];
  p["model_path"] = run["model_path"];
  p["backend"] = run["backend"];
  p["backend_info"] = run["backend_info"];
  p["run_id"] = nullptr;
  p["options"] = {{"runs", sets}, {"warmup", 0}, {"perf", false}, {"counters", "emulated"}, {"trace_runs", 0}};
  p["runs"] = sets;
  p["total_us"] = {{"mean", nullptr}, {"median", nullptr}};
  p["ops_us"] = nullptr;
  p["overhead_us"] = nullptr;
  p["engine_overhead"] = nullptr;
  p["ops"] = std::move(ops);
  p["by_type"] = std::move(types);
  p["counters"] = {{"level", "emulated"},
                   {"notes", {"instructions executed on QEMU's " + e.value("core", std::string("")) +
                              " (TCG plugin); QEMU has no timing model: no cycles, no time"}},
                   {"per_op", true},
                   {"read_overhead", counters(0)},
                   {"per_run", counters(e["instructions"]["median"])},
                   {"ipc", nullptr}};
  p["threads"] = json::array();
  p["threads_wall_us"] = nullptr;
  p["perf"] = nullptr;
  p["trace"] = nullptr;
  p["memory"] = nullptr;
  p["target"] = run["target"];
  p["emulated"] = e;
  return p;
}

std::string levels_text(const json& ram) {
  if (!ram.contains("levels")) return "";
  std::string s = ", levels";
  for (const json& l : ram["levels"])
    s += " " + l["name"].get<std::string>() + " " + std::to_string(l["bytes"].get<uint64_t>()) + "/" +
         std::to_string(l["budget_bytes"].get<uint64_t>()) + " B";
  return s;
}

std::string emulated_summary(const json& run) {
  if (run.value("status", "") != "ok") return "error: " + run.value("error", std::string("?"));
  if (!run.contains("emulated")) return bench::summary_line(run);
  const json& e = run["emulated"];
  char buf[256];
  std::snprintf(buf, sizeof buf, "%.0f instructions per inference, flash %.1f KiB, RAM %.1f KiB (arena %.1f + stack %.1f)",
                e["instructions"]["median"].get<double>(), e["flash"]["total_bytes"].get<double>() / 1024,
                e["ram"]["total_bytes"].get<double>() / 1024, e["ram"]["arena_bytes"].get<double>() / 1024,
                e["ram"]["stack_bytes"].get<double>() / 1024);
  std::string s = buf + levels_text(e["ram"]);
  const json& acc = run["accuracy"];
  if (acc.is_object()) {
    if (acc["top1"].is_number()) {
      std::snprintf(buf, sizeof buf, ", top1 %.1f%%", acc["top1"].get<double>() * 100);
      s += buf;
    }
    s += acc.value("passed", false) ? ", accuracy ok" : ", ACCURACY FAILED";
  }
  return s;
}

}  // namespace rtml::compile
