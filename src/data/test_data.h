// data/test_data: test inputs and expected outputs in the ONNX backend test
// layout, and the comparison of a session's outputs with them.
//
//   DIR/test_data_set_0/input_0.pb    serialized onnx.TensorProto per input
//                       output_0.pb   expected value per output (optional:
//                                     a stochastic output has none and is
//                                     not compared)
//                       label.pb      optional: int64, one element, the true
//                                     class (for top-1 accuracy)
//   DIR/test_data_set_1/...
//
// A set may instead use the .npy layout (what tests/models writes):
//   SET/inputs/<input name>.npy, SET/expected/<output name>.npy (optional
//   per output), SET/label.npy (optional)
// ('/', '\\' and ':' in a name become '_'). A folder holding inputs/ is one set.
//
// DIR may also be a single test_data_set_K folder. Sets are ordered by K as a
// number (0, 2, 10), not as text. A file's tensor goes to the model input or
// output its TensorProto names; a file with an empty or unknown name goes to
// position I of input_I.pb / output_I.pb.
//
// Comparison: an element passes if |a - e| <= tol or |a - e| <= tol * |e|
// (absolute near zero, relative for large values). NaN passes only where NaN
// is expected; an infinity only where the same infinity is expected. Integer
// and bool outputs must match exactly. The relative error reported is the
// largest |a - e| / |e| over elements with e != 0.
//
// Nothing here prints: the CLI (`rtml run --test-data`) and the benchmark
// report what these functions return; bad data is an rtml::Error naming the
// file, what it holds and what the model needs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/session.h"
#include "ir/graph.h"
#include "plan/plan.h"

namespace rtml::data {

constexpr double kDefaultTolerance = 1e-4;

// A model input or output as the test data must match it. A dimension of -1
// (and an empty shape with dtype Undefined) matches anything.
struct TensorSpec {
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;
};
std::vector<TensorSpec> model_inputs(const ir::Graph& g);
std::vector<TensorSpec> model_outputs(const ir::Graph& g);

// Element i of a buffer of type t, as a double (float16/bfloat16 widened; NaN
// for types without a numeric value).
double element_as_double(const void* data, DType t, int64_t i);

struct TestTensor {
  std::string name;  // the model input/output this belongs to
  std::string file;  // where it was read from, for messages
  ir::Tensor tensor;
};

struct TestSet {
  std::string dir;  // the test_data_set_K folder
  int index = 0;    // K
  std::vector<TestTensor> inputs;                  // one per model input, in the model's order
  std::vector<std::optional<TestTensor>> outputs;  // one per model output; empty: no expected data
  std::optional<int64_t> label;                    // from label.pb
  std::string label_file;
};

// The test_data_set_K folders of `dir` (or `dir` itself if it is one), in
// numeric order of K. Throws if `dir` does not exist or holds no sets.
std::vector<std::string> find_test_sets(const std::string& dir);

// Reads one set and matches its files to the model's inputs and outputs.
// Throws rtml::Error naming the file if an input is missing, a file matches
// no input/output or the same one as another file, or a tensor's dtype or a
// known dimension differs from the model's.
TestSet load_test_set(const std::string& set_dir, const std::vector<TensorSpec>& inputs,
                      const std::vector<TensorSpec>& outputs);
// All sets of `dir`, in order.
std::vector<TestSet> load_test_data(const std::string& dir, const ir::Graph& g);

// The input shapes a set fixes (for plan::PlanOptions::input_shapes).
std::map<std::string, Shape> input_shapes(const TestSet& set);

// Copies a set's inputs into the session's input buffers. Throws naming the
// file if one's dtype or shape differs from the session's input.
void copy_inputs(const TestSet& set, engine::Session& session);

// Comparison of one output, or of one output over many sets (merge).
struct OutputStats {
  std::string name;
  bool compared = false;      // some set had expected data for it
  double max_abs_error = 0;   // +inf where a NaN or infinity did not match
  double max_rel_error = 0;   // over elements whose expected value is not 0
  int64_t mismatches = 0;     // elements outside tolerance
  int64_t elements = 0;       // elements compared
};
void merge(OutputStats& into, const OutputStats& from);

// Compares `actual` (of the given dtype and shape) with an expected tensor.
// Throws naming the expected file if dtype or shape differ.
OutputStats compare(const TestTensor& expected, DType dtype, const Shape& shape, const void* actual,
                    double tolerance = kDefaultTolerance);
// One entry per session output; outputs without expected data in `set` come
// back with compared = false.
std::vector<OutputStats> compare_outputs(const TestSet& set, const engine::Session& session,
                                         double tolerance = kDefaultTolerance);

// True if every element passes: |a - e| <= tol or |a - e| <= tol * |e|.
bool within_tolerance(double actual, double expected, double tolerance);

// Index of the largest value along the last axis of a tensor that holds one
// row of class scores (shape [C], [1, C], [1, 1, C]...). Throws naming the
// tensor if it holds more than one row or is empty. NaN never wins.
int64_t argmax_last_axis(const std::string& what, DType dtype, const Shape& shape, const void* data);

struct Top1 {
  int64_t correct = 0;
  int64_t labelled = 0;  // sets that had label.pb
  std::optional<double> accuracy() const {
    if (labelled == 0) return std::nullopt;
    return static_cast<double>(correct) / static_cast<double>(labelled);
  }
};
// Counts one set into `top1` if it has a label: argmax of the session's output
// `output_name` ("" = the first output) against the label.
void count_top1(const TestSet& set, const engine::Session& session, Top1& top1, const std::string& output_name = "");

// Everything above in one loop: for each set, (re)builds a session when the
// set's input shapes differ from the last one's, copies its inputs, runs,
// compares and counts top-1. `options` may fix input shapes the data does
// not (the data's shapes take precedence only where options leave a gap);
// `session` sets the sessions' threads.
struct Evaluation {
  int sets = 0;
  double tolerance = kDefaultTolerance;
  std::vector<OutputStats> outputs;  // one per model output
  Top1 top1;
  bool passed() const {
    for (const auto& o : outputs)
      if (o.mismatches) return false;
    return true;
  }
};
Evaluation evaluate(const ir::Graph& g, const std::vector<TestSet>& sets, const plan::PlanOptions& options = {},
                    double tolerance = kDefaultTolerance, const std::string& top1_output = "",
                    const engine::SessionOptions& session = {});

}  // namespace rtml::data
