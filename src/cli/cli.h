// The `rtml` command: one file per subcommand, each a function taking its
// arguments (after the subcommand name) and returning the exit code.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"
#include "ir/graph.h"
#include "plan/plan.h"

namespace rtml::cli {

using Args = std::vector<std::string>;

int cmd_info(const Args& args);
int cmd_compile(const Args& args);
int cmd_run(const Args& args);
int cmd_ops(const Args& args);
int cmd_zoo(const Args& args);
int cmd_bench(const Args& args);    // cli/bench.cpp
int cmd_compare(const Args& args);  // cli/compare.cpp
int cmd_runs(const Args& args);     // cli/runs.cpp
int cmd_remote(const Args& args);   // cli/remote.cpp
int cmd_agent(const Args& args);    // cli/agent.cpp
int cmd_profile(const Args& args);  // cli/profile.cpp
int cmd_ui(const Args& args);       // cli/ui.cpp
int cmd_limits(const Args& args);   // cli/limits.cpp
int cmd_quantize(const Args& args);  // cli/quantize.cpp
int cmd_tune(const Args& args);      // cli/tune.cpp

// A wrong command line: main() prints it and exits with status 2 (other
// errors exit 1).
struct UsageError : Error {
  using Error::Error;
};

class OptionTable;  // every command's options (cli/options.h)

// split("a,b,,c", ',') -> {a, b, c}: the parts between separators, empty ones left out.
std::vector<std::string> split(const std::string& s, char separator);

// Options shared by commands.
struct ModelOptions {
  std::string model;
  plan::PlanOptions plan;
  bool kernels_given = false;  // --kernels was on the command line
  std::optional<int> threads;  // --threads (rtml run, info)
  std::string tuning;          // --tuning FILE (add_tuning_option; apply_tuning sets plan.schedule from it)
};
// --ram SIZE (a RAM budget for the arena, PlanOptions::ram_bytes) into `bytes`, with `ram_help`, and
// --memory NAME:SIZE,... (PlanOptions::memory_levels) into `levels`.
void add_ram_options(OptionTable& table, uint64_t& bytes, std::vector<plan::MemoryLevel>& levels,
                     const std::string& ram_help);
// "--ram" or "--memory": how a plan's budget was asked, for reports.
const char* budget_flag(const plan::Plan& plan);
// A zoo model folder's model.onnx (or model.tflite); any other path as given.
std::string model_in_folder(const std::string& path);
// MODEL (an .onnx or .tflite file, or a zoo model folder), --max-memory, --kernels, --ram and
// `--shape NAME=DIMS` (repeatable): rtml info, run, compile, quantize and tune.
void add_model_options(OptionTable& table, ModelOptions& out);
// --tuning FILE: a tuning record (`rtml tune`, tune/tune.h) whose schedule the plan applies.
void add_tuning_option(OptionTable& table, std::string& file);
// The schedule of the record FILE (empty when FILE is ""), checked for MODEL,
// TARGET and the kernel set (rtml::Error naming the file otherwise); `label`
// receives what reports show ("tuning.json (3 steps tuned, 1.12x faster)").
plan::Schedule tuning_schedule(const std::string& file, const std::string& model, const std::string& target,
                               kernels::KernelSet kernels, std::string* label = nullptr);
// opt.plan.schedule from opt.tuning, for a plan run on `target` (rtml run, info: this machine).
void apply_tuning(ModelOptions& opt, const std::string& target);
// --kernels SET (kernels/table.h): calls `set` with the parsed kernel set.
void add_kernels_option(OptionTable& table, std::function<void(kernels::KernelSet)> set);
// Usage errors: --kernels cmsis-nn without --cmsis-nn DIR, or DIR without it.
void check_cmsis_nn_options(kernels::KernelSet kernels, const std::string& cmsis_nn_dir);
// --threads N (engine::SessionOptions::threads; 0: every core): rtml run,
// info, bench, profile. resolved_threads turns an unset value into 1 and 0
// into the cores this process may use.
void add_threads_option(OptionTable& table, std::optional<int>& threads);
int resolved_threads(const std::optional<int>& threads);
// --max-memory SIZE: sets the process's memory limit (core/size.h) before
// anything is loaded, and calls `also` with it.
void add_memory_option(OptionTable& table, std::function<void(uint64_t)> also = {});

// The options rtml bench and rtml remote ... bench share (cli/bench.cpp).
// Unset numbers take the defaults of the rtml bench that runs.
struct BenchArgs {
  std::vector<std::string> paths, filter, backends = {"native"};
  std::optional<int> warmup, runs, threads, block, priority, cpu;
  std::optional<double> seconds, tolerance, rate, period_us;
  bool samples = false, rt = false, markdown = false, no_db = false;
  std::string json_path, csv_path, db_path;
};
// MODEL|FOLDER|manifest.json... and the run options, then (the second call,
// after a command's own run options) the real-time and output sections.
void add_bench_run_options(OptionTable& table, BenchArgs& b);
void add_bench_output_options(OptionTable& table, BenchArgs& b);
// The checks between options (--runs and --seconds, --block with --rate, --db
// and --no-db); sets period_us from --block/--rate. Throws UsageError.
void check_bench_args(BenchArgs& b);
extern const char* const kBenchExitStatus;
// The table on stdout, --json and --csv files, the runs into the results
// database (unless --no-db); `target`: the agent's name for remote runs.
void write_bench_outputs(const nlohmann::json& report, const BenchArgs& b, const std::string& command,
                         const std::string& target);
std::string format_bytes(double bytes);
std::string format_count(double n);

// JSON by hand: a quoted, escaped string; a number (null if not finite).
std::string json_string(const std::string& s);
std::string json_number(double v);
// Writes `text` to `path` atomically (temporary file + rename).
void write_text_file(const std::string& path, const std::string& text);
// Text columns padded to their widest cell (UTF-8 aware), two spaces apart;
// right[c] aligns column c to the right. rows[0] is usually the header. (cli/table.cpp)
std::string format_table(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right);

}  // namespace rtml::cli
