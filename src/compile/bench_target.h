// compile/bench_target: `rtml bench MODEL --target host|cortex-m7|cortex-m4|cortex-m55`.
// host: the generated C built with this machine's cc (the simd kernels by
// default) and timed by its test main (`--repeat`), latencies in the usual
// "latency_us" section: the engine without its per-step dispatch.
// The model is planned with the target's kernel set, compiled to C
// (codegen.h), built with arm-none-eabi-gcc (qemu_runner.h) and run on
// QEMU's emulated board with the instruction-count plugin, over the test
// data when there is some (else one set of seeded random inputs). The run
// goes into the bench report like any other, with "target" and an
// "emulated" section instead of latencies: QEMU has no timing model, so
// rtml reports executed instructions, never a time.
//   emulated.instructions   per inference (one per input set) and their median
//   emulated.steps          per step: node, op, kernel, instructions (set 0)
//   emulated.memory_traffic loaded / stored bytes per memory region
//   emulated.flash          code (by kernel entry point), constants, weights
//   emulated.ram            arena (planned), stack (measured by painting), static
#pragma once

#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/runner.h"
#include "kernels/table.h"

namespace rtml::compile {

struct TargetBenchOptions {
  std::string target = "cortex-m7";
  kernels::KernelSet kernels = kernels::KernelSet::CortexM;
  double tolerance = 1e-4;
  bool accuracy = true;        // run the test data when the model has some
  std::string cmsis_nn_dir;    // kernels CmsisNn: the CMSIS-NN tree the project builds
  // A tuning record's schedule (plan/schedule.h, `--tuning`) and the run's
  // "tuning" field naming the record ("" = none: null).
  std::map<std::string, std::map<std::string, std::string>> schedule;
  std::string tuning;
  std::string keep_dir;        // keep the generated project here ("" = a temporary folder, removed)
  uint64_t ram_bytes = 0;      // --ram: PlanOptions::ram_bytes (row-band tiling, docs/tiling.md); 0: none
  std::vector<plan::MemoryLevel> memory_levels;  // --memory: PlanOptions::memory_levels; empty: none
  int runs = 1000;              // host: timed runs of test set 0 (after one run of every set)
  double build_time_limit_s = 900;
  double run_time_limit_s = 600;
};

// A bench run (rtml.bench/1 "run"): status "error" with the message when a
// step fails (no toolchain, unsupported op, a build error, QEMU failing).
nlohmann::json bench_on_target(const bench::ModelSpec& spec, const TargetBenchOptions& options,
                               const std::function<void(const std::string&)>& progress = {});

// `rtml profile --target`: an rtml.profile/1 report from an emulated run:
// one row per step with counters.instructions and the share of the
// inference's instructions as `percent`; every time field null, since QEMU
// measures none (counters.level "emulated"). Throws for a failed run.
nlohmann::json profile_from_emulated(const nlohmann::json& run);

// "1.23 M instr, flash 40.1 KiB, RAM 56.0 KiB, top1 97.2% ok" for one run.
std::string emulated_summary(const nlohmann::json& run);
// ", levels dtcm 448/512 B sram 128/2304 B" for a --memory run's "ram", else "".
std::string levels_text(const nlohmann::json& ram);

}  // namespace rtml::compile
