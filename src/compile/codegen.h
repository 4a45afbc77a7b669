// compile/codegen: a Plan as standalone C (`rtml compile`).
//
// The generated code holds no maths: it is the plan (each step's params as a
// `static const` C initialiser, arena offsets, constants as `const` arrays)
// plus one call per step into the kernel library, the same table entries
// (kernels/table.h) the engine's steps call, with the same params and
// operands in the same order. So the engine, planned with the same kernel
// set, and the generated code compute the same thing.
//
// Files written into CompileOptions::out_dir:
//   NAME.h          arena size, input / output sizes, names and types,
//                   NAME_run(arena, inputs, outputs), NAME_reset(arena)
//   NAME.c          one params literal and one call per step
//   NAME_weights.c  the constants (weights, folded values, packed weights),
//                   64-byte aligned `const` arrays (flash on a microcontroller)
//   kernels/...     the kernel library's sources the steps use, and the
//                   headers they include (from the copies embedded in rtml)
// and with `project`: a Makefile and a test main (inputs.bin -> outputs.bin),
// plus for a Cortex-M the board support files (src/compile/targets/cortex-m).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kernels/table.h"
#include "plan/plan.h"

namespace rtml::compile {

// Where the generated code runs. host: this machine (gcc); armhf: a 32-bit
// ARM Linux board such as the Bela (arm-linux-gnueabihf-gcc, Cortex-A8 NEON);
// cortex-m7 / m4 / m55: a microcontroller (arm-none-eabi-gcc, no OS).
struct Target {
  const char* name;
  bool microcontroller;
  kernels::KernelSet default_kernels;
  const char* about;
};
const std::vector<Target>& targets();
// Throws rtml::Error listing the known targets.
const Target& find_target(const std::string& name);

struct CompileOptions {
  std::string name = "model";  // C prefix: letters, digits and '_' (sanitised from the model's name)
  std::string target = "host";
  std::string out_dir;
  bool project = false;        // also a Makefile and a test main (and board files for a Cortex-M)
  std::string model_path;      // for the header comment
  std::string cmsis_nn_dir;    // --kernels cmsis-nn: the CMSIS-NN tree the project builds (compile/cmsis_nn.h)
};

struct CompileResult {
  std::vector<std::string> files;                         // written, relative to out_dir
  size_t arena_bytes = 0;
  std::vector<size_t> level_bytes;  // --memory: NAME_LEVEL_<name>_BYTES (level 0 with the state)
  size_t constant_bytes = 0;                              // NAME_weights.c's arrays
  std::vector<std::pair<std::string, int>> kernel_steps;  // symbol -> steps calling it, in first-use order
  std::vector<std::string> kernel_sources;                // kernels/... written
  // --kernels cmsis-nn: CMSIS-NN function -> steps calling it; the int8 steps left to rtml's kernels
  std::vector<std::pair<std::string, int>> cmsis_nn_calls;
  std::vector<std::string> cmsis_nn_fallbacks;            // "step 'name' (op): rtml_s8_..."
  std::vector<std::string> step_functions;                // per step: the function NAME.c calls (rtml kernel or CMSIS-NN)
  size_t cmsis_nn_scratch_bytes = 0;                      // of arena_bytes: transposes and ctx.buf
  int nhwc_tensors = 0;                                   // activations held channels-last
};

// `{.M = 1, .a_stride[0] = 64}`: the nonzero members of a params struct as a C
// initialiser; needs_math is set when a value needs <math.h> (INFINITY, NAN).
std::string params_initializer(const kernels::ParamsLayout& layout, const void* params, bool& needs_math);

// "digits-cnn v2" -> "digits_cnn_v2"; a leading digit gets a '_' in front.
std::string c_identifier(const std::string& text);

// Throws rtml::Error, naming every step that cannot be compiled (a kernel not
// in the table yet, or a host-only kernel for a microcontroller), before
// writing anything.
CompileResult generate_c(const plan::Plan& plan, const CompileOptions& options);

}  // namespace rtml::compile
