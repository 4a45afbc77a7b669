// tune/: `rtml tune`, a schedule search measured on a target, and the tuning
// record it writes (docs/tuning.md).
//
// The space: per step, the candidates plan/schedule.h's knobs give it (its
// kernel from another kernel set, the im2row conv, the dense GEMM), found by
// planning the model once per knob value and keeping, per step, each value
// that picks a different kernel. Steps are searched independently (a step's
// choice changes no other step's kernel), each one exhaustively, the steps
// that cost most by default first, until the budget runs out.
//
// The measurement: host (and armhf, run on the board) the median time of the
// step in a warmed loop pinned to one core (Session::run_observed clocks),
// the default plan and the candidate measured in alternating blocks; a
// Cortex-M the step's instructions under QEMU (compile/qemu_runner.h), one
// build for one candidate of every step at once. Every candidate's outputs
// are first compared with the default plan's on the same seeded inputs
// (bit for bit for integer outputs, 1e-5 for float) and a candidate that
// differs is dropped. The winners together are measured once more on the
// whole model; a schedule that is not faster there (or not fewer
// instructions) is never returned: the record then keeps the default.
#pragma once

#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "kernels/table.h"
#include "plan/plan.h"

namespace rtml::tune {

inline constexpr const char* kRecordSchema = "rtml.tuning/1";

struct TuneOptions {
  std::string target = "host";  // host, armhf, cortex-m7, cortex-m4, cortex-m55
  kernels::KernelSet kernels = kernels::KernelSet::Simd;
  double budget_s = 60;         // search time; the default's and the final measurements come on top
  std::string cmsis_nn_dir;     // kernels CmsisNn
  std::map<std::string, Shape> input_shapes;
  int runs = 30;                // host: runs per measurement block
  double margin = 0.03;         // host: a candidate must be this much faster than the default (noise)
};

// Progress lines ("[3/12] conv1: 2 candidates, ...").
using Progress = std::function<void(const std::string&)>;

// Searches and returns the tuning record (JSON, schema kRecordSchema).
// Throws rtml::Error for a model that does not plan or a target that cannot run.
nlohmann::json tune_model(const std::string& model_path, const TuneOptions& options, const Progress& progress = {});

// The model file's content hash ("fnv1a64:0123456789abcdef") a record names.
std::string model_hash(const std::string& model_path);

// Reads a record; rtml::Error naming the file when it is not one.
nlohmann::json load_record(const std::string& file);
// The record's schedule, after checking it was made for this model (by its
// content hash), this target and this kernel set: rtml::Error naming the file
// and both sides otherwise.
plan::Schedule record_schedule(const nlohmann::json& record, const std::string& file, const std::string& model_path,
                               const std::string& target, kernels::KernelSet kernels);
// "tuning.json (12 steps tuned, 1.31x fewer instructions)": what bench reports.
std::string record_summary(const nlohmann::json& record, const std::string& file);

// The target a plan run in this process measures on: "armhf" on 32-bit Arm, else "host".
const char* local_target();

}  // namespace rtml::tune
