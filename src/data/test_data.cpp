#include "data/test_data.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>

#include "core/error.h"
#include "import/onnx_import.h"
#include "kernels/elementwise.h"
#include "util/npy.h"

namespace fs = std::filesystem;

namespace rtml::data {

namespace {

const std::string kSetPrefix = "test_data_set_";

// Parses the K of `<prefix>K<suffix>`; false if `name` is not of that form
// (K: 1 to 9 decimal digits).
bool parse_numbered(const std::string& name, const std::string& prefix, const std::string& suffix, int& k) {
  if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return false;
  std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 9) return false;
  for (char c : digits)
    if (c < '0' || c > '9') return false;
  k = std::stoi(digits);
  return true;
}

std::string describe(DType t, const Shape& s) { return std::string(dtype_name(t)) + " " + shape_str(s); }

// Does a tensor of dtype `t` and shape `s` fit the model's declared `spec`?
// Unknown dims (-1), an undefined dtype and an empty declared shape (the file
// may have declared none) match anything; the session checks exactly later.
bool fits(const TensorSpec& spec, DType t, const Shape& s) {
  if (spec.dtype != DType::Undefined && spec.dtype != t) return false;
  if (spec.shape.empty()) return true;
  if (spec.shape.size() != s.size()) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (spec.shape[i] >= 0 && spec.shape[i] != s[i]) return false;
  return true;
}

// The model's declaration, as far as it goes.
std::string declared(const TensorSpec& spec) {
  if (spec.shape.empty()) return dtype_name(spec.dtype);
  bool any = std::find(spec.shape.begin(), spec.shape.end(), -1) != spec.shape.end();
  return describe(spec.dtype, spec.shape) + (any ? " (? = any size)" : "");
}

std::string names_of(const std::vector<TensorSpec>& specs) {
  std::string out;
  for (const auto& s : specs) out += (out.empty() ? "'" : ", '") + s.name + "'";
  return out.empty() ? "none" : out;
}

std::vector<std::pair<int, fs::path>> numbered_files(const fs::path& dir, const std::string& prefix) {
  std::vector<std::pair<int, fs::path>> found;
  for (const auto& e : fs::directory_iterator(dir)) {
    int k;
    if (e.is_regular_file() && parse_numbered(e.path().filename().string(), prefix, ".pb", k))
      found.emplace_back(k, e.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

// Reads input_I.pb or output_I.pb files and gives each to the model
// input/output its tensor names, else to position I.
std::vector<std::optional<TestTensor>> match_files(const fs::path& dir, const std::string& prefix,
                                                   const std::vector<TensorSpec>& specs, const char* kind) {
  std::vector<std::optional<TestTensor>> slots(specs.size());
  for (const auto& [k, path] : numbered_files(dir, prefix)) {
    TestTensor t;
    t.file = path.string();
    t.tensor = import::load_tensor_pb(t.file);
    int slot = -1;
    if (!t.tensor.name.empty())
      for (size_t i = 0; i < specs.size(); ++i)
        if (specs[i].name == t.tensor.name) slot = static_cast<int>(i);
    if (slot < 0) {
      if (static_cast<size_t>(k) >= specs.size())
        throw Error(t.file + ": the model has " + std::to_string(specs.size()) + " " + kind +
                    (specs.size() == 1 ? "" : "s") + " (" + names_of(specs) + "); this file's tensor " +
                    (t.tensor.name.empty() ? std::string("has no name") : "is named '" + t.tensor.name + "'") +
                    " and its number " + std::to_string(k) + " is past the last " + kind);
      slot = k;
    }
    const TensorSpec& spec = specs[slot];
    if (slots[slot])
      throw Error(t.file + " and " + slots[slot]->file + " both hold " + kind + " '" + spec.name +
                  "' (a file goes to the " + kind + " its TensorProto names, else to its number)");
    if (dtype_size(t.tensor.dtype) == 0)
      throw Error(t.file + ": holds a " + dtype_name(t.tensor.dtype) + " tensor, which rtml cannot compute with");
    if (!fits(spec, t.tensor.dtype, t.tensor.shape))
      throw Error(t.file + ": holds " + describe(t.tensor.dtype, t.tensor.shape) + ", but the model's " + kind + " '" +
                  spec.name + "' is " + declared(spec));
    t.name = spec.name;
    slots[slot] = std::move(t);
  }
  return slots;
}

ir::Tensor tensor_of(util::NpyArray a) {
  auto buffer = std::make_shared<ir::Buffer>(a.bytes.size());
  std::memcpy(buffer->data(), a.bytes.data(), a.bytes.size());
  ir::Tensor t;
  t.dtype = a.dtype;
  t.shape = std::move(a.shape);
  t.data = std::move(buffer);
  return t;
}

// The .npy layout: DIR/inputs/<name>.npy and DIR/expected/<name>.npy, by the
// model's input and output names ('/', '\\' and ':' in a name become '_', as
// `rtml run --output-dir` writes them).
std::vector<std::optional<TestTensor>> match_npy(const fs::path& dir, const std::vector<TensorSpec>& specs,
                                                 const char* kind, bool required) {
  std::vector<std::optional<TestTensor>> slots(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    std::string file_name = specs[i].name;
    for (char& c : file_name)
      if (c == '/' || c == '\\' || c == ':') c = '_';
    fs::path path = dir / (file_name + ".npy");
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      if (required)
        throw Error(dir.string() + ": no data for the model's " + kind + " '" + specs[i].name + "' (expected " +
                    path.string() + ")");
      continue;
    }
    util::NpyArray a = util::read_npy(path.string());
    if (!fits(specs[i], a.dtype, a.shape))
      throw Error(path.string() + ": holds " + describe(a.dtype, a.shape) + ", but the model's " + kind + " '" +
                  specs[i].name + "' is " + declared(specs[i]));
    TestTensor t;
    t.name = specs[i].name;
    t.file = path.string();
    t.tensor = tensor_of(std::move(a));
    t.tensor.name = specs[i].name;
    slots[i] = std::move(t);
  }
  return slots;
}

bool is_npy_set(const fs::path& dir) {
  std::error_code ec;
  return fs::is_directory(dir / "inputs", ec);
}

std::vector<TensorSpec> specs_of(const ir::Graph& g, const std::vector<ir::TensorId>& ids) {
  std::vector<TensorSpec> out;
  for (ir::TensorId id : ids) out.push_back({g.tensors[id].name, g.tensors[id].dtype, g.tensors[id].shape});
  return out;
}

}  // namespace

double element_as_double(const void* data, DType t, int64_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(data)[i];
    case DType::F64: return static_cast<const double*>(data)[i];
    case DType::F16: return kernels::half_to_float(static_cast<const uint16_t*>(data)[i]);
    case DType::BF16: return kernels::bfloat16_to_float(static_cast<const uint16_t*>(data)[i]);
    case DType::I64: return static_cast<double>(static_cast<const int64_t*>(data)[i]);
    case DType::I32: return static_cast<const int32_t*>(data)[i];
    case DType::I16: return static_cast<const int16_t*>(data)[i];
    case DType::I8: return static_cast<const int8_t*>(data)[i];
    case DType::U8: case DType::Bool: return static_cast<const uint8_t*>(data)[i];
    case DType::U16: return static_cast<const uint16_t*>(data)[i];
    case DType::U32: return static_cast<const uint32_t*>(data)[i];
    case DType::U64: return static_cast<double>(static_cast<const uint64_t*>(data)[i]);
    default: return std::nan("");
  }
}

std::vector<TensorSpec> model_inputs(const ir::Graph& g) { return specs_of(g, g.inputs); }
std::vector<TensorSpec> model_outputs(const ir::Graph& g) { return specs_of(g, g.outputs); }

std::vector<std::string> find_test_sets(const std::string& dir) {
  std::error_code ec;
  fs::path p = fs::path(dir).lexically_normal();
  if (p.has_parent_path() && p.filename().empty()) p = p.parent_path();  // "dir/" -> "dir"
  if (!fs::exists(p, ec))
    throw Error(dir + ": no such directory (test data is a folder holding test_data_set_0, test_data_set_1, ... "
                      "or one test_data_set_N folder)");
  if (!fs::is_directory(p, ec))
    throw Error(dir + ": not a directory (test data is a folder holding test_data_set_0, test_data_set_1, ... "
                      "or one test_data_set_N folder)");
  int k;
  if (parse_numbered(p.filename().string(), kSetPrefix, "", k) || is_npy_set(p)) return {dir};

  std::vector<std::pair<int, std::string>> found;
  bool loose_inputs = false;
  for (const auto& e : fs::directory_iterator(p, ec)) {
    std::string name = e.path().filename().string();
    if (e.is_directory() && parse_numbered(name, kSetPrefix, "", k)) found.emplace_back(k, e.path().string());
    if (e.is_regular_file() && parse_numbered(name, "input_", ".pb", k)) loose_inputs = true;
  }
  if (ec) throw Error(dir + ": cannot list (" + ec.message() + ")");
  if (found.empty())
    throw Error(dir + ": no test_data_set_N folders inside (expected " + (fs::path(dir) / "test_data_set_0").string() +
                "/input_0.pb and so on, or inputs/NAME.npy and expected/NAME.npy)" +
                (loose_inputs ? "; it holds input_N.pb files itself: name it test_data_set_0 or put it in one" : ""));
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

TestSet load_test_set(const std::string& set_dir, const std::vector<TensorSpec>& inputs,
                      const std::vector<TensorSpec>& outputs) {
  std::error_code ec;
  if (!fs::is_directory(set_dir, ec)) throw Error(set_dir + ": no such directory");
  TestSet set;
  set.dir = set_dir;
  fs::path p = fs::path(set_dir).lexically_normal();
  if (p.has_parent_path() && p.filename().empty()) p = p.parent_path();
  if (!parse_numbered(p.filename().string(), kSetPrefix, "", set.index)) set.index = 0;

  const bool npy = is_npy_set(p);
  auto in = npy ? match_npy(p / "inputs", inputs, "input", true) : match_files(set_dir, "input_", inputs, "input");
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i])
      throw Error(set_dir + ": no data for the model's input '" + inputs[i].name + "' (expected input_" +
                  std::to_string(i) + ".pb, or an input_N.pb whose TensorProto is named '" + inputs[i].name + "')");
    set.inputs.push_back(std::move(*in[i]));
  }
  set.outputs = npy ? match_npy(p / "expected", outputs, "output", false)
                    : match_files(set_dir, "output_", outputs, "output");

  fs::path label = fs::path(set_dir) / (npy ? "label.npy" : "label.pb");
  if (fs::exists(label, ec)) {
    set.label_file = label.string();
    ir::Tensor t = npy ? tensor_of(util::read_npy(set.label_file)) : import::load_tensor_pb(set.label_file);
    bool integer = t.dtype == DType::I64 || t.dtype == DType::I32 || t.dtype == DType::I16 || t.dtype == DType::I8 ||
                   t.dtype == DType::U8 || t.dtype == DType::U16 || t.dtype == DType::U32 || t.dtype == DType::U64;
    if (!integer || shape_numel(t.shape) != 1)
      throw Error(set.label_file + ": holds " + describe(t.dtype, t.shape) +
                  "; a label must be one int64 value (the true class index)");
    if (t.dtype == DType::I64) set.label = *t.as<int64_t>();
    else if (t.dtype == DType::U64) set.label = static_cast<int64_t>(*t.as<uint64_t>());
    else set.label = static_cast<int64_t>(element_as_double(t.data->data(), t.dtype, 0));  // exact for 32 bits and less
  }
  return set;
}

std::vector<TestSet> load_test_data(const std::string& dir, const ir::Graph& g) {
  auto inputs = model_inputs(g), outputs = model_outputs(g);
  std::vector<TestSet> sets;
  for (const auto& d : find_test_sets(dir)) sets.push_back(load_test_set(d, inputs, outputs));
  return sets;
}

std::map<std::string, Shape> input_shapes(const TestSet& set) {
  std::map<std::string, Shape> out;
  for (const auto& t : set.inputs) out[t.name] = t.tensor.shape;
  return out;
}

void copy_inputs(const TestSet& set, engine::Session& session) {
  for (const auto& t : set.inputs) {
    int i = session.input_index(t.name);
    if (i < 0) throw Error(t.file + ": the model has no input named '" + t.name + "'");
    const auto& in = session.input(i);
    if (t.tensor.dtype != in.dtype || t.tensor.shape != in.shape)
      throw Error(t.file + ": holds " + describe(t.tensor.dtype, t.tensor.shape) + ", but the model's input '" +
                  t.name + "' needs " + describe(in.dtype, in.shape));
    if (in.bytes) std::memcpy(session.input_data(i), t.tensor.data->data(), in.bytes);
  }
}

bool within_tolerance(double actual, double expected, double tolerance) {
  if (actual == expected) return true;  // also equal infinities
  if (std::isnan(actual) && std::isnan(expected)) return true;
  if (!std::isfinite(actual) || !std::isfinite(expected)) return false;  // a NaN or infinity not matched
  double d = std::fabs(actual - expected);
  return d <= tolerance || d <= tolerance * std::fabs(expected);
}

void merge(OutputStats& into, const OutputStats& from) {
  if (into.name.empty()) into.name = from.name;
  into.compared = into.compared || from.compared;
  into.max_abs_error = std::max(into.max_abs_error, from.max_abs_error);
  into.max_rel_error = std::max(into.max_rel_error, from.max_rel_error);
  into.mismatches += from.mismatches;
  into.elements += from.elements;
}

OutputStats compare(const TestTensor& expected, DType dtype, const Shape& shape, const void* actual, double tolerance) {
  const ir::Tensor& e = expected.tensor;
  if (e.dtype != dtype || e.shape != shape)
    throw Error(expected.file + ": holds " + describe(e.dtype, e.shape) + ", but the model's output '" + expected.name +
                "' is " + describe(dtype, shape));
  size_t size = dtype_size(dtype);
  if (size == 0) throw Error(expected.file + ": cannot compare " + dtype_name(dtype) + " tensors");
  OutputStats st;
  st.name = expected.name;
  st.compared = true;
  st.elements = shape_numel(shape);
  const auto* ebytes = static_cast<const uint8_t*>(e.data->data());
  const auto* abytes = static_cast<const uint8_t*>(actual);
  const bool exact = !dtype_is_float(dtype);
  constexpr double inf = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < st.elements; ++i) {
    double ev = element_as_double(ebytes, dtype, i), av = element_as_double(abytes, dtype, i);
    bool ok;
    double abs_err, rel_err = 0;
    if (exact) {
      ok = std::memcmp(ebytes + i * size, abytes + i * size, size) == 0;  // exact even for 64-bit integers
      abs_err = ok ? 0 : std::fabs(av - ev);
    } else {
      ok = within_tolerance(av, ev, tolerance);
      abs_err = std::fabs(av - ev);
      if (av == ev || (std::isnan(av) && std::isnan(ev))) abs_err = 0;
      else if (!std::isfinite(abs_err)) abs_err = inf;  // a NaN or infinity where none was expected
    }
    if (ev != 0 && !std::isnan(ev)) rel_err = std::isinf(abs_err) ? inf : abs_err / std::fabs(ev);
    else if (std::isnan(ev) && abs_err != 0) rel_err = inf;
    st.max_abs_error = std::max(st.max_abs_error, abs_err);
    st.max_rel_error = std::max(st.max_rel_error, rel_err);
    if (!ok) ++st.mismatches;
  }
  return st;
}

std::vector<OutputStats> compare_outputs(const TestSet& set, const engine::Session& session, double tolerance) {
  std::vector<OutputStats> out(session.num_outputs());
  for (int o = 0; o < session.num_outputs(); ++o) out[o].name = session.output(o).name;
  for (const auto& expected : set.outputs) {
    if (!expected) continue;
    int o = session.output_index(expected->name);
    if (o < 0) throw Error(expected->file + ": the model has no output named '" + expected->name + "'");
    const auto& t = session.output(o);
    out[o] = compare(*expected, t.dtype, t.shape, session.output_data(o), tolerance);
  }
  return out;
}

int64_t argmax_last_axis(const std::string& what, DType dtype, const Shape& shape, const void* data) {
  int64_t n = shape_numel(shape), classes = shape.empty() ? 1 : shape.back();
  if (n == 0) throw Error(what + " is empty (" + shape_str(shape) + "); top-1 needs class scores");
  if (n != classes)
    throw Error(what + " is " + shape_str(shape) + ": top-1 needs one row of class scores per test set (shape C or 1xC)");
  if (dtype_size(dtype) == 0) throw Error(what + " holds " + dtype_name(dtype) + " values, not class scores");
  int64_t best = -1;
  double best_value = 0;
  for (int64_t i = 0; i < n; ++i) {
    double v = element_as_double(data, dtype, i);
    if (std::isnan(v)) continue;
    if (best < 0 || v > best_value) {
      best = i;
      best_value = v;
    }
  }
  return best;
}

void count_top1(const TestSet& set, const engine::Session& session, Top1& top1, const std::string& output_name) {
  if (!set.label) return;
  int o = output_name.empty() ? (session.num_outputs() > 0 ? 0 : -1) : session.output_index(output_name);
  if (o < 0)
    throw Error(set.label_file + ": a label needs a class-score output, but the model has " +
                (output_name.empty() ? std::string("no outputs") : "no output named '" + output_name + "'"));
  const auto& t = session.output(o);
  int64_t predicted;
  try {
    predicted = argmax_last_axis("output '" + t.name + "'", t.dtype, t.shape, session.output_data(o));
  } catch (const Error& e) {
    throw Error(set.label_file + ": a label needs class scores, but " + e.what());
  }
  ++top1.labelled;
  if (predicted == *set.label) ++top1.correct;
}

Evaluation evaluate(const ir::Graph& g, const std::vector<TestSet>& sets, const plan::PlanOptions& options,
                    double tolerance, const std::string& top1_output, const engine::SessionOptions& session_options) {
  Evaluation ev;
  ev.tolerance = tolerance;
  for (const auto& spec : model_outputs(g)) ev.outputs.push_back(OutputStats{spec.name});
  std::unique_ptr<engine::Session> session;
  std::map<std::string, Shape> shapes_now;
  for (const auto& set : sets) {
    plan::PlanOptions po = options;
    for (const auto& [name, shape] : input_shapes(set)) po.input_shapes.try_emplace(name, shape);
    if (!session || po.input_shapes != shapes_now) {
      session = std::make_unique<engine::Session>(plan::build_plan(g, po), session_options);
      shapes_now = po.input_shapes;
    }
    session->reset();  // every set runs as on a fresh session (random ops re-seeded)
    copy_inputs(set, *session);
    engine::RunStatus st = session->run();
    if (!st.ok()) {
      const auto& step = session->plan().steps[st.step];
      throw Error(g.source + ": on " + set.dir + ", node '" + step.node_name + "' (" + step.op_type +
                  ") failed at run time (code " + std::to_string(st.code) + ", e.g. an index out of range)");
    }
    auto stats = compare_outputs(set, *session, tolerance);
    for (size_t o = 0; o < stats.size() && o < ev.outputs.size(); ++o) merge(ev.outputs[o], stats[o]);
    count_top1(set, *session, ev.top1, top1_output);
    ++ev.sets;
  }
  return ev;
}

}  // namespace rtml::data
