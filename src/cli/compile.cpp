#include <cstdio>
#include <filesystem>

#include "cli/cli.h"
#include "cli/options.h"
#include "compile/codegen.h"
#include "core/error.h"
#include "import/tflite_import.h"

namespace rtml::cli {

namespace {
const char* const kAbout =
    "Writes the planned model as standalone C into DIR: NAME.h (arena size, inputs and outputs,\n"
    "NAME_run, NAME_reset), NAME.c (one params literal and one kernel call per step, at fixed arena\n"
    "offsets), NAME_weights.c (the constants as const arrays) and the kernel library's sources the\n"
    "steps use. The code allocates nothing and holds no maths of its own: it calls the same kernels,\n"
    "with the same params, as the engine planned with the same --kernels.";
}  // namespace

int cmd_compile(const Args& args) {
  ModelOptions opt;
  compile::CompileOptions co;
  std::string name;
  OptionTable table("compile", "MODEL --out DIR [options]", kAbout);
  add_model_options(table, opt);
  add_tuning_option(table, opt.tuning);
  std::string targets;
  for (const compile::Target& t : compile::targets())
    targets += std::string(targets.empty() ? "" : "\n") + t.name + ": " + t.about;
  table.value("--target", "NAME", co.target, "where the code runs (default host):\n" + targets)
      .value("--out", "DIR", co.out_dir, "the folder to write (created; files in it are replaced)")
      .value("--name", "NAME", name, "the C prefix of every symbol (default: the model file's folder or name)")
      .flag("--project", co.project,
            "also a Makefile and a test main that reads inputs.bin and writes outputs.bin\n"
            "(for a Cortex-M: startup code, linker script and semihosting, runs under QEMU)")
      .value("--cmsis-nn", "DIR", co.cmsis_nn_dir,
             "with --kernels cmsis-nn: the CMSIS-NN source tree (v7) the code calls and the project builds;\n"
             "the int8 convolutions, fully connected layers, Adds and Softmaxes become CMSIS-NN calls");
  if (!table.parse(args)) return 0;
  if (co.out_dir.empty()) throw UsageError("--out DIR is required");
  const compile::Target& target = compile::find_target(co.target);
  if (!opt.kernels_given) opt.plan.kernels = target.default_kernels;
  if (target.microcontroller && opt.plan.kernels == kernels::KernelSet::Simd)
    throw UsageError(std::string("--kernels simd runs on Linux targets only; ") + target.name +
                     " takes cortex-m, cmsis-nn or reference");
  check_cmsis_nn_options(opt.plan.kernels, co.cmsis_nn_dir);
  apply_tuning(opt, target.name);
  if (name.empty()) name = import::model_name(opt.model);
  co.name = compile::c_identifier(name);
  co.model_path = opt.model;

  ir::Graph g = import::load_model(opt.model);
  plan::Plan plan = plan::build_plan(g, opt.plan);
  compile::CompileResult r = compile::generate_c(plan, co);

  std::printf("%s -> %s/%s.{h,c} for %s, kernels %s\n", opt.model.c_str(), co.out_dir.c_str(), co.name.c_str(),
              target.name, kernels::kernel_set_name(plan.kernels));
  std::printf("  arena      %zu bytes (RAM; the caller passes it to %s_run)\n", r.arena_bytes, co.name.c_str());
  if (plan.tiling.budget_bytes) std::printf("  %-10s %s\n", budget_flag(plan), plan.tiling.summary.c_str());
  std::printf("  constants  %zu bytes (%s_weights.c: const, flash on a microcontroller)\n", r.constant_bytes,
              co.name.c_str());
  if (!opt.tuning.empty())
    std::printf("  tuning     %s: %zu steps with their own choices\n", opt.tuning.c_str(), opt.plan.schedule.size());
  std::printf("  steps      %zu, calling %zu kernels:\n", plan.steps.size(), r.kernel_steps.size());
  for (const auto& [sym, n] : r.kernel_steps) std::printf("    %-44s x%d\n", sym.c_str(), n);
  if (plan.kernels == kernels::KernelSet::CmsisNn) {
    std::printf("  CMSIS-NN   from %s, %d activations held channels-last, scratch %zu bytes (in the arena):\n",
                co.cmsis_nn_dir.c_str(), r.nhwc_tensors, r.cmsis_nn_scratch_bytes);
    for (const auto& [fn, n] : r.cmsis_nn_calls) std::printf("    %-44s x%d\n", fn.c_str(), n);
    if (!r.cmsis_nn_fallbacks.empty())
      std::printf("  int8 steps CMSIS-NN does not run (rtml's reference kernels do):\n");
    for (const std::string& f : r.cmsis_nn_fallbacks) std::printf("    %s\n", f.c_str());
  }
  std::printf("  files      %zu written (%zu kernel library sources)\n", r.files.size(), r.kernel_sources.size());
  return 0;
}

}  // namespace rtml::cli
