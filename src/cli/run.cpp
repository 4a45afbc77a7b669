#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>

#include "cli/cli.h"
#include "core/error.h"
#include "engine/session.h"
#include "import/onnx_import.h"
#include "util/npy.h"

namespace rtml::cli {

namespace {

double value_at(const void* data, DType t, int64_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(data)[i];
    case DType::F64: return static_cast<const double*>(data)[i];
    case DType::I64: return static_cast<double>(static_cast<const int64_t*>(data)[i]);
    case DType::I32: return static_cast<const int32_t*>(data)[i];
    case DType::I8: return static_cast<const int8_t*>(data)[i];
    case DType::U8: case DType::Bool: return static_cast<const uint8_t*>(data)[i];
    default: return std::nan("");
  }
}

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
    double v = value_at(data, t.dtype, i);
    lo = std::fmin(lo, v);
    hi = std::fmax(hi, v);
    sum += v;
  }
  std::printf("  min %.6g  max %.6g  mean %.6g\n  [", lo, hi, sum / static_cast<double>(n));
  for (int64_t i = 0; i < n && i < 8; ++i) std::printf("%s%.6g", i ? ", " : "", value_at(data, t.dtype, i));
  std::printf("%s]\n", n > 8 ? ", ..." : "");
}

}  // namespace

int cmd_run(const Args& args) {
  ModelOptions opt;
  std::vector<std::pair<std::string, std::string>> input_files;
  std::string output_dir;
  bool random = false;
  unsigned seed = 1;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw Error(a + " needs a value (see rtml run --help)");
      return args[++i];
    };
    if (parse_shape_option(args, i, opt)) continue;
    if (a == "-h" || a == "--help") {
      std::puts("usage: rtml run MODEL [--input NAME=FILE.npy]... [--random] [--seed N] [--output-dir DIR]\n"
                "                [--shape NAME=DIMS]...\n"
                "Runs one inference. Inputs come from .npy files; --random fills the others with seeded\n"
                "normal noise (integers: 0..3); without either, inputs are zeros. With --output-dir every\n"
                "output is written as DIR/<output name>.npy, otherwise a summary of each is printed.");
      return 0;
    } else if (a == "--input") {
      const std::string& spec = value();
      size_t eq = spec.find('=');
      if (eq == std::string::npos || eq == 0) throw Error("--input needs NAME=FILE.npy, got '" + spec + "'");
      input_files.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
    } else if (a == "--random") {
      random = true;
    } else if (a == "--seed") {
      seed = static_cast<unsigned>(std::stoul(value()));
    } else if (a == "--output-dir") {
      output_dir = value();
    } else if (!a.empty() && a[0] == '-') {
      throw Error("unknown option '" + a + "' (see rtml run --help)");
    } else {
      if (!opt.model.empty()) throw Error("more than one model given: '" + opt.model + "' and '" + a + "'");
      opt.model = a;
    }
  }
  if (opt.model.empty()) throw Error("no model given (usage: rtml run MODEL)");

  ir::Graph g = import::load_onnx(opt.model);
  // Inputs given as files fix their shapes unless --shape already did.
  std::vector<util::NpyArray> arrays;
  for (const auto& [name, file] : input_files) {
    arrays.push_back(util::read_npy(file));
    opt.plan.input_shapes.try_emplace(name, arrays.back().shape);
  }
  engine::Session session(plan::build_plan(g, opt.plan));

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
