#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "cli/cli.h"
#include "cli/options.h"
#include "tune/tune.h"
#include "core/error.h"
#include "data/test_data.h"
#include "engine/session.h"
#include "import/tflite_import.h"
#include "util/npy.h"

namespace rtml::cli {

namespace {

void fill_random(void* data, DType t, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_int_distribution<int> small(0, 3);
  for (int64_t i = 0; i < n; ++i) switch (t) {
      case DType::F32: static_cast<float*>(data)[i] = normal(rng); break;
      case DType::F64: static_cast<double*>(data)[i] = normal(rng); break;
      case DType::I64: static_cast<int64_t*>(data)[i] = small(rng); break;
      case DType::I32: static_cast<int32_t*>(data)[i] = small(rng); break;
      case DType::Bool: static_cast<uint8_t*>(data)[i] = small(rng) & 1; break;
      default: static_cast<uint8_t*>(data)[i] = static_cast<uint8_t>(small(rng)); break;
    }
}

void print_summary(const plan::TensorPlan& t, const void* data) {
  int64_t n = shape_numel(t.shape);
  std::printf("%s: %s %s", t.name.c_str(), dtype_name(t.dtype), shape_str(t.shape).c_str());
  if (n == 0) {
    std::printf(" (empty)\n");
    return;
  }
  double lo = INFINITY, hi = -INFINITY, sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    double v = data::element_as_double(data, t.dtype, i);
    lo = std::fmin(lo, v);
    hi = std::fmax(hi, v);
    sum += v;
  }
  std::printf("  min %.6g  max %.6g  mean %.6g\n  [", lo, hi, sum / static_cast<double>(n));
  for (int64_t i = 0; i < n && i < 8; ++i) std::printf("%s%.6g", i ? ", " : "", data::element_as_double(data, t.dtype, i));
  std::printf("%s]\n", n > 8 ? ", ..." : "");
}

std::string report_json(const std::string& model, const std::string& dir, const data::Evaluation& ev) {
  std::string out = "{\n  \"model\": " + json_string(model) + ",\n  \"test_data\": " + json_string(dir) +
                    ",\n  \"sets\": " + std::to_string(ev.sets) + ",\n  \"tolerance\": " + json_number(ev.tolerance) +
                    ",\n  \"outputs\": [";
  for (size_t o = 0; o < ev.outputs.size(); ++o) {
    const auto& s = ev.outputs[o];
    out += std::string(o ? "," : "") + "\n    {\"name\": " + json_string(s.name) +
           ", \"compared\": " + (s.compared ? "true" : "false") +
           ", \"max_abs_error\": " + (s.compared ? json_number(s.max_abs_error) : "null") +
           ", \"max_rel_error\": " + (s.compared ? json_number(s.max_rel_error) : "null") +
           ", \"mismatches\": " + std::to_string(s.mismatches) + "}";
  }
  auto acc = ev.top1.accuracy();
  out += std::string(ev.outputs.empty() ? "" : "\n  ") + "],\n  \"top1\": " + (acc ? json_number(*acc) : "null") +
         ",\n  \"labelled_sets\": " + std::to_string(ev.top1.labelled) +
         ",\n  \"passed\": " + (ev.passed() ? "true" : "false") + "\n}\n";
  return out;
}

// rtml run MODEL --test-data DIR: one run per test set, outputs compared with
// the expected ones. Exit code 1 if any compared element is out of tolerance.
int run_test_data(const ModelOptions& opt, const std::string& dir, double tolerance, const std::string& report) {
  ir::Graph g = import::load_model(opt.model);
  std::vector<data::TestSet> sets = data::load_test_data(dir, g);
  data::Evaluation ev = data::evaluate(g, sets, opt.plan, tolerance, "", {resolved_threads(opt.threads)});

  std::printf("model       %s\n", opt.model.c_str());
  std::printf("test data   %s: %d set%s\n", dir.c_str(), ev.sets, ev.sets == 1 ? "" : "s");
  std::printf("tolerance   %g (an element passes if |actual - expected| <= tol or <= tol * |expected|)\n\n", tolerance);
  std::printf("  %-24s %12s %12s  %s\n", "output", "max abs err", "max rel err", "out of tolerance");
  int64_t mismatches = 0, compared = 0;
  std::string failing;
  for (const auto& s : ev.outputs) {
    if (!s.compared) {
      std::printf("  %-24s not compared (no expected data)\n", s.name.c_str());
      continue;
    }
    std::printf("  %-24s %12.4g %12.4g  %lld of %lld\n", s.name.c_str(), s.max_abs_error, s.max_rel_error,
                static_cast<long long>(s.mismatches), static_cast<long long>(s.elements));
    mismatches += s.mismatches;
    compared += s.elements;
    if (s.mismatches) failing += (failing.empty() ? "'" : ", '") + s.name + "': " + std::to_string(s.mismatches);
  }
  if (ev.top1.labelled) {
    std::printf("\ntop-1       %.2f%% (%lld of %lld labelled sets)\n", 100 * *ev.top1.accuracy(),
                static_cast<long long>(ev.top1.correct), static_cast<long long>(ev.top1.labelled));
  }
  if (!report.empty()) {
    write_text_file(report, report_json(opt.model, dir, ev));
    std::printf("\nwrote %s\n", report.c_str());
  }
  if (!ev.passed()) {
    std::fflush(stdout);
    std::fprintf(stderr, "rtml run: FAILED: %lld of %lld compared elements are out of tolerance %g (%s)\n",
                 static_cast<long long>(mismatches), static_cast<long long>(compared), tolerance, failing.c_str());
    return 1;
  }
  if (compared == 0) std::printf("\npassed: nothing to compare (no output has expected data)\n");
  else std::printf("\npassed: all %lld compared elements are within tolerance\n", static_cast<long long>(compared));
  return 0;
}

}  // namespace

int cmd_run(const Args& args) {
  ModelOptions opt;
  std::vector<std::pair<std::string, std::string>> input_files;
  std::string output_dir, test_data, report;
  std::optional<double> tolerance;
  bool random = false;
  unsigned seed = 1;
  OptionTable table(
      "run", "MODEL [--input NAME=FILE.npy]... [--random] [--seed N] [--output-dir DIR] [--shape NAME=DIMS]...\n"
             "MODEL --test-data DIR [--tolerance T] [--report FILE.json] [--shape NAME=DIMS]...",
      "Runs one inference. Inputs come from .npy files; --random fills the others with seeded\n"
      "normal noise (integers: 0..3); without either, inputs are zeros. With --output-dir every\n"
      "output is written as DIR/<output name>.npy, otherwise a summary of each is printed.\n"
      "\n"
      "--test-data DIR runs once per DIR/test_data_set_N (ONNX backend test layout: input_I.pb,\n"
      "output_I.pb, optional label.pb; DIR may also be one test_data_set_N folder) and compares\n"
      "the outputs with the expected ones. An element passes if |actual - expected| <= T or\n"
      "<= T * |expected| (--tolerance, default 1e-4); outputs without an output_I.pb are not\n"
      "compared. Prints max absolute and relative errors, elements out of tolerance and, if\n"
      "the sets have label.pb, top-1 accuracy of the first output. Exits 1 if any element is\n"
      "out of tolerance. --report writes the summary as JSON. Not combinable with --input,\n"
      "--random or --output-dir.");
  add_model_options(table, opt);
  add_tuning_option(table, opt.tuning);
  add_threads_option(table, opt.threads);
  table
      .custom("--input", "NAME=FILE.npy", "an input's values from a .npy file (repeatable)",
              [&](const std::string& spec) {
                size_t eq = spec.find('=');
                if (eq == std::string::npos || eq == 0)
                  throw UsageError("--input needs NAME=FILE.npy, got '" + spec + "'");
                input_files.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
              })
      .flag("--random", random, "fill the inputs not given with seeded normal noise (integers: 0..3)")
      .number("--seed", "N", seed, 0, "the seed for --random (default 1)")
      .value("--output-dir", "DIR", output_dir, "write every output as DIR/<output name>.npy")
      .value("--test-data", "DIR", test_data, "compare with the test sets in DIR (test_data_set_N)")
      .number("--tolerance", "T", tolerance, 0, "with --test-data: the tolerance (default 1e-4)")
      .value("--report", "FILE.json", report, "with --test-data: write the summary as JSON");
  if (!table.parse(args)) return 0;
  if (!test_data.empty()) {
    if (!input_files.empty() || random || !output_dir.empty())
      throw UsageError(std::string("--test-data cannot be combined with ") +
                  (!input_files.empty() ? "--input" : random ? "--random" : "--output-dir") +
                  ": the test data supplies the inputs, and outputs are compared, not written");
    return run_test_data(opt, test_data, tolerance.value_or(data::kDefaultTolerance), report);
  }
  if (tolerance || !report.empty())
    throw UsageError(std::string(tolerance ? "--tolerance" : "--report") + " only applies with --test-data DIR");

  apply_tuning(opt, tune::local_target());
  ir::Graph g = import::load_model(opt.model);
  // Inputs given as files fix their shapes unless --shape already did.
  std::vector<util::NpyArray> arrays;
  for (const auto& [name, file] : input_files) {
    arrays.push_back(util::read_npy(file));
    opt.plan.input_shapes.try_emplace(name, arrays.back().shape);
  }
  engine::Session session(plan::build_plan(g, opt.plan), {resolved_threads(opt.threads)});

  std::mt19937 rng(seed);
  std::vector<bool> given(session.num_inputs(), false);
  for (size_t k = 0; k < input_files.size(); ++k) {
    const auto& [name, file] = input_files[k];
    int i = session.input_index(name);
    if (i < 0) throw Error(opt.model + ": no input named '" + name + "' (from --input " + name + "=" + file + ")");
    const auto& in = session.input(i);
    if (arrays[k].dtype != in.dtype || arrays[k].shape != in.shape)
      throw Error(file + ": holds " + dtype_name(arrays[k].dtype) + " " + shape_str(arrays[k].shape) + ", input '" +
                  name + "' needs " + dtype_name(in.dtype) + " " + shape_str(in.shape));
    std::memcpy(session.input_data(i), arrays[k].bytes.data(), in.bytes);
    given[i] = true;
  }
  for (int i = 0; i < session.num_inputs(); ++i)
    if (!given[i] && random) fill_random(session.input_data(i), session.input(i).dtype, shape_numel(session.input(i).shape), rng);

  engine::RunStatus st = session.run();
  if (!st.ok()) {
    const auto& step = session.plan().steps[st.step];
    throw Error(opt.model + ": node '" + step.node_name + "' (" + step.op_type + ") failed at run time (code " +
                std::to_string(st.code) + ", e.g. an index out of range)");
  }

  if (!output_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(output_dir, ec);
    if (ec) throw Error(output_dir + ": cannot create directory: " + ec.message());
  }
  for (int o = 0; o < session.num_outputs(); ++o) {
    const auto& out = session.output(o);
    if (output_dir.empty()) {
      print_summary(out, session.output_data(o));
      continue;
    }
    std::string safe = out.name;
    for (char& c : safe)
      if (c == '/' || c == '\\' || c == ':') c = '_';
    if (safe.empty() || safe == "." || safe == "..") safe = "_" + safe;  // never a directory name
    std::string path = (std::filesystem::path(output_dir) / (safe + ".npy")).string();
    util::write_npy(path, out.dtype, out.shape, session.output_data(o));
    std::printf("wrote %s (%s %s)\n", path.c_str(), dtype_name(out.dtype), shape_str(out.shape).c_str());
  }
  return 0;
}

}  // namespace rtml::cli
