#include "compile/codegen.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "compile/board_files.h"
#include "compile/cmsis_nn.h"
#include "compile/embedded_sources.h"
#include "compile/qemu_runner.h"
#include "core/error.h"
#include "util/atomic_file.h"

namespace rtml::compile {

namespace fs = std::filesystem;
using kernels::FieldKind;
using kernels::KernelSet;

const std::vector<Target>& targets() {
  static const std::vector<Target> t = {
      {"host", false, KernelSet::Simd, "this machine (gcc, the simd kernels where they apply)"},
      {"armhf", false, KernelSet::Simd, "32-bit ARM Linux, e.g. the Bela's Cortex-A8 (arm-linux-gnueabihf-gcc, NEON)"},
      {"cortex-m7", true, KernelSet::CortexM, "Cortex-M7 with a single-precision FPU, e.g. STM32F746 (arm-none-eabi-gcc)"},
      {"cortex-m4", true, KernelSet::CortexM, "Cortex-M4F (arm-none-eabi-gcc)"},
      {"cortex-m55", true, KernelSet::CortexM, "Cortex-M55 with MVE (arm-none-eabi-gcc)"},
  };
  return t;
}

const Target& find_target(const std::string& name) {
  std::string known;
  for (const Target& t : targets()) {
    if (name == t.name) return t;
    known += known.empty() ? t.name : std::string(", ") + t.name;
  }
  throw Error("unknown target '" + name + "' (known: " + known + ")");
}

std::string c_identifier(const std::string& text) {
  std::string out;
  for (char c : text) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) return "_" + out;
  return out;
}

const EmbeddedSource* find_embedded(std::string_view path) {
  for (const EmbeddedSource& s : embedded_sources())
    if (s.path == path) return &s;
  return nullptr;
}

namespace {

const char* c_type(DType t) {
  switch (t) {
    case DType::F32: return "float";
    case DType::F64: return "double";
    case DType::I8: return "int8_t";
    case DType::U8: return "uint8_t";
    case DType::I16: return "int16_t";
    case DType::U16:
    case DType::F16:
    case DType::BF16: return "uint16_t";
    case DType::I32: return "int32_t";
    case DType::U32: return "uint32_t";
    case DType::I64: return "int64_t";
    case DType::U64: return "uint64_t";
    case DType::Bool: return "bool";
    default: return nullptr;
  }
}

// A C literal for a float / double that reads back bit for bit (hex floats
// are C99); inf and NaN through <math.h>'s INFINITY and NAN.
std::string float_literal(double v, bool is_float, bool& needs_math) {
  if (std::isnan(v)) {
    needs_math = true;
    return is_float ? "NAN" : "(double)NAN";
  }
  if (std::isinf(v)) {
    needs_math = true;
    return std::string(v < 0 ? "-" : "") + (is_float ? "INFINITY" : "(double)INFINITY");
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a%s", v, is_float ? "f" : "");
  return buf;
}

std::string int_literal(int64_t v) {
  if (v == INT64_MIN) return "INT64_MIN";
  if (v > INT32_MAX || v < INT32_MIN) return "INT64_C(" + std::to_string(v) + ")";
  return std::to_string(v);
}

// One element of a params field or a constant, read from raw bytes.
std::string element_literal(FieldKind kind, const uint8_t* at, bool& needs_math) {
  switch (kind) {
    case FieldKind::Bool: return *at ? "true" : "false";
    case FieldKind::I8: return std::to_string(static_cast<int8_t>(*at));
    case FieldKind::U8: return std::to_string(*at) + "u";
    case FieldKind::I32: {
      int32_t v;
      std::memcpy(&v, at, 4);
      return v == INT32_MIN ? "INT32_MIN" : std::to_string(v);
    }
    case FieldKind::U32: {
      uint32_t v;
      std::memcpy(&v, at, 4);
      return std::to_string(v) + "u";
    }
    case FieldKind::I64: {
      int64_t v;
      std::memcpy(&v, at, 8);
      return int_literal(v);
    }
    case FieldKind::F32: {
      float v;
      std::memcpy(&v, at, 4);
      return float_literal(v, true, needs_math);
    }
    case FieldKind::F64: {
      double v;
      std::memcpy(&v, at, 8);
      return float_literal(v, false, needs_math);
    }
  }
  return "0";
}

bool all_zero(const uint8_t* at, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (at[i]) return false;
  return true;
}

}  // namespace

// Value-initialised params are zero where the initialiser says nothing, as C's makes them.
std::string params_initializer(const kernels::ParamsLayout& layout, const void* params, bool& needs_math) {
  const auto* base = static_cast<const uint8_t*>(params);
  std::string out;
  for (const kernels::ParamField& f : layout.fields) {
    const size_t elem = kernels::field_kind_size(f.kind);
    for (uint32_t i = 0; i < f.dims[0]; ++i)
      for (uint32_t j = 0; j < f.dims[1]; ++j) {
        const uint8_t* at = base + f.offset + (static_cast<size_t>(i) * f.dims[1] + j) * elem;
        if (all_zero(at, elem)) continue;
        // Appended piece by piece: "[" + std::to_string(i) trips GCC 12's -Wrestrict.
        if (!out.empty()) out += ",\n    ";
        out += '.';
        out += f.name;
        if (f.dims[0] > 1 || f.dims[1] > 1) out.append("[").append(std::to_string(i)).append("]");
        if (f.dims[1] > 1) out.append("[").append(std::to_string(j)).append("]");
        out += " = ";
        out += element_literal(f.kind, at, needs_math);
      }
  }
  return out.empty() ? "{0}" : "{\n    " + out + "}";
}

namespace {

FieldKind element_kind(DType t) {
  switch (t) {
    case DType::F32: return FieldKind::F32;
    case DType::F64: return FieldKind::F64;
    case DType::I8: return FieldKind::I8;
    case DType::U8: return FieldKind::U8;
    case DType::I32: return FieldKind::I32;
    case DType::U32: return FieldKind::U32;
    case DType::I64: return FieldKind::I64;
    case DType::Bool: return FieldKind::Bool;
    default: return FieldKind::U8;  // I16 / U16 / F16 / BF16 / U64 are printed by hand below
  }
}

// The elements of a constant as a C initialiser list, 8 to a line.
void write_elements(std::ostream& out, const plan::TensorPlan& t, bool& needs_math) {
  const auto* data = static_cast<const uint8_t*>(t.constant->data());
  const size_t elem = dtype_size(t.dtype);
  const size_t n = elem ? t.bytes / elem : 0;
  if (n == 0) {
    out << "0";
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* at = data + i * elem;
    std::string lit;
    if (elem == 2) {
      uint16_t v;
      std::memcpy(&v, at, 2);
      lit = t.dtype == DType::I16 ? std::to_string(static_cast<int16_t>(v)) : std::to_string(v) + "u";
    } else if (t.dtype == DType::U64) {
      uint64_t v;
      std::memcpy(&v, at, 8);
      lit = "UINT64_C(" + std::to_string(v) + ")";
    } else {
      lit = element_literal(element_kind(t.dtype), at, needs_math);
    }
    out << lit << (i + 1 < n ? "," : "") << ((i + 1) % 8 == 0 || i + 1 == n ? "\n" : " ");
  }
}

std::string shape_comment(const plan::TensorPlan& t) {
  return std::string(dtype_name(t.dtype)) + " " + shape_str(t.shape) + ", " + std::to_string(t.bytes) + " bytes";
}

// Quotes a graph name for a C string literal or comment (no "*/" left).
std::string c_string(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
      continue;
    }
    out += c;
  }
  return out;
}
std::string c_comment(const std::string& s) {
  std::string out = c_string(s);
  for (size_t p; (p = out.find("*/")) != std::string::npos;) out.replace(p, 2, "* /");
  return out;
}

// The files a kernel source needs: itself and every "..." include, transitively.
void collect_sources(const std::string& path, std::set<std::string>& out, const std::string& needed_by) {
  if (out.count(path)) return;
  const EmbeddedSource* src = find_embedded(path);
  if (!src)
    throw Error("internal error: " + needed_by + " needs " + path +
                ", which is not part of the kernel library embedded in rtml (src/kernels)");
  out.insert(path);
  std::istringstream lines{std::string(src->text)};
  for (std::string line; std::getline(lines, line);) {
    const size_t hash = line.find_first_not_of(" \t");
    if (hash == std::string::npos || line[hash] != '#') continue;
    const size_t inc = line.find("include", hash);
    const size_t q1 = line.find('"', hash);
    if (inc == std::string::npos || q1 == std::string::npos || q1 < inc) continue;
    const size_t q2 = line.find('"', q1 + 1);
    if (q2 == std::string::npos || line.compare(q1 + 1, 8, "kernels/") != 0) continue;  // e.g. Highway's own
    collect_sources(line.substr(q1 + 1, q2 - q1 - 1), out, path);
  }
  // A header's definitions: kernels/x.h comes with kernels/x.cpp when there is one.
  const fs::path p(path);
  if (p.extension() == ".h") {
    const std::string impl = fs::path(p).replace_extension(".cpp").string();
    if (find_embedded(impl)) collect_sources(impl, out, path);
  }
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  util::write_file_atomic(path.string(), [&](std::ostream& o) { o << text; });
}

std::string banner(const CompileOptions& o, const plan::Plan& plan) {
  return std::string("/* Generated by rtml ") + RTML_VERSION + " (rtml compile) from " + c_comment(o.model_path) +
         "\n * for target " + o.target + ", kernel set " + kernels::kernel_set_name(plan.kernels) +
         ". Do not edit: run rtml compile again. */\n";
}

// The test main of a Linux target's project: inputs.bin -> outputs.bin, and
// --repeat N to time set 0 (the contract of the Cortex-M main, with stdio).
std::string host_main(const std::string& N) {
  std::string m = R"(/* Test main written by rtml compile --project. Reads INPUTS (default inputs.bin: K sets of
 * every input's bytes, concatenated in input order), runs each set (after one reset), writes
 * OUTPUTS (default outputs.bin: the K sets of outputs, concatenated). --repeat N then runs
 * set 0 N more times and prints the mean time of one inference; --samples FILE also writes
 * each of those runs' nanoseconds there (N doubles). */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "@N@.h"

static unsigned char arena[@N@_ARENA_BYTES + 64];

int main(int argc, char** argv) {
  const char* in_path = "inputs.bin";
  const char* out_path = "outputs.bin";
  const char* samples_path = 0;
  double* samples = 0;
  long repeat = 0, set_bytes = 0, out_bytes = 0, size, sets, k;
  int positional = 0, i, status = 0;
  unsigned char *data, *outs;
  const void* in[@N@_NUM_INPUTS + 1];
  void* out[@N@_NUM_OUTPUTS + 1];
  void* a = arena + (64 - (size_t)arena % 64) % 64;
  FILE* f;
  for (i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = atol(argv[++i]);
    else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) samples_path = argv[++i];
    else if (positional == 0) { in_path = argv[i]; ++positional; }
    else if (positional == 1) { out_path = argv[i]; ++positional; }
    else { fprintf(stderr, "usage: %s [INPUTS [OUTPUTS]] [--repeat N [--samples FILE]]\n", argv[0]); return 2; }
  }
  for (i = 0; i < @N@_NUM_INPUTS; ++i) set_bytes += (long)@N@_input_bytes[i];
  for (i = 0; i < @N@_NUM_OUTPUTS; ++i) out_bytes += (long)@N@_output_bytes[i];
  f = fopen(in_path, "rb");
  if (!f) { fprintf(stderr, "rtml: cannot open %s\n", in_path); return 1; }
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (size <= 0 || (set_bytes > 0 && size % set_bytes != 0)) {
    fprintf(stderr, "rtml: %s holds %ld bytes, not a whole number of %ld-byte input sets\n", in_path, size, set_bytes);
    return 1;
  }
  sets = set_bytes > 0 ? size / set_bytes : 1;
  data = malloc((size_t)size + 1);
  outs = malloc((size_t)(sets * out_bytes) + 1);
  if (!data || !outs || fread(data, 1, (size_t)size, f) != (size_t)size) {
    fprintf(stderr, "rtml: cannot read %s\n", in_path);
    return 1;
  }
  fclose(f);
  @N@_reset(a);
  for (k = 0; k < sets && status == 0; ++k) {
    long at = k * set_bytes, ot = k * out_bytes;
    for (i = 0; i < @N@_NUM_INPUTS; ++i) { in[i] = data + at; at += (long)@N@_input_bytes[i]; }
    for (i = 0; i < @N@_NUM_OUTPUTS; ++i) { out[i] = outs + ot; ot += (long)@N@_output_bytes[i]; }
    status = @N@_run(a, in, out);
  }
  if (status != 0) { fprintf(stderr, "rtml: @N@_run returned %d\n", status); return 1; }
  f = fopen(out_path, "wb");
  if (!f || fwrite(outs, 1, (size_t)(sets * out_bytes), f) != (size_t)(sets * out_bytes) || fclose(f) != 0) {
    fprintf(stderr, "rtml: cannot write %s\n", out_path);
    return 1;
  }
  if (repeat > 0) {
    struct timespec t0, t1, a0, a1;
    long at = 0;
    for (i = 0; i < @N@_NUM_INPUTS; ++i) { in[i] = data + at; at += (long)@N@_input_bytes[i]; }
    if (samples_path && !(samples = malloc((size_t)repeat * sizeof(double)))) { fprintf(stderr, "rtml: out of memory\n"); return 1; }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (k = 0; k < repeat; ++k) {
      if (samples) clock_gettime(CLOCK_MONOTONIC, &a0);
      status |= @N@_run(a, in, out);
      if (samples) {
        clock_gettime(CLOCK_MONOTONIC, &a1);
        samples[k] = (double)(a1.tv_sec - a0.tv_sec) * 1e9 + (double)(a1.tv_nsec - a0.tv_nsec);
      }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("rtml: repeat=%ld mean_ns=%.1f\n", repeat,
           ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)repeat);
    if (samples) {
      f = fopen(samples_path, "wb");
      if (!f || fwrite(samples, sizeof(double), (size_t)repeat, f) != (size_t)repeat || fclose(f) != 0) {
        fprintf(stderr, "rtml: cannot write %s\n", samples_path);
        return 1;
      }
    }
  }
  printf("rtml: sets=%ld status=%d\n", sets, status);
  return status != 0;
}
)";
  for (size_t p; (p = m.find("@N@")) != std::string::npos;) m.replace(p, 3, N);
  return m;
}

// Make rules that build CMSIS-NN's sources (cmsis_nn_source_globs) from
// $(CMSIS_NN) into OBJ_DIR with `compile` (no -Werror: not our code), add them
// to OBJS and its Include folder to the C flags.
std::string cmsis_nn_make_rules(const std::string& obj_dir, const std::string& compile, const std::string& dir) {
  std::string m = "CMSIS_NN ?= " + fs::absolute(dir).lexically_normal().string() + "\nCMSIS_NN_SRCS := $(sort";
  for (const std::string& g : cmsis_nn_source_globs()) m += " $(wildcard $(CMSIS_NN)/" + g + ")";
  m += ")\nCMSIS_NN_OBJS := $(patsubst $(CMSIS_NN)/%.c," + obj_dir + "/%.o,$(CMSIS_NN_SRCS))\n"
       "OBJS += $(CMSIS_NN_OBJS)\nC_FLAGS += -I$(CMSIS_NN)/Include\nCFLAGS += -I$(CMSIS_NN)/Include\n" +
       obj_dir + "/%.o: $(CMSIS_NN)/%.c\n\t@mkdir -p $(dir $@)\n\t" + compile + " -I$(CMSIS_NN)/Include -c $< -o $@\n";
  return m;
}

// The Makefile of a Linux target's project.
std::string host_makefile(const std::string& N, const Target& target, const std::vector<std::string>& cxx_sources,
                          bool highway, const std::string& cmsis_nn_dir) {
  const bool armhf = std::string(target.name) == "armhf";
  std::string m = "# Written by rtml compile --project for target " + std::string(target.name) + ".\n";
  m += "# make: builds ./" + N + "; make run: runs it on inputs.bin and writes outputs.bin.\n";
  if (armhf)
    m += "CC = arm-linux-gnueabihf-gcc\nCXX = arm-linux-gnueabihf-g++\n"
         "ARCH = -mcpu=cortex-a8 -mfpu=neon -mfloat-abi=hard\n"
         "# Under qemu-user on another machine: make run RUN=\"qemu-arm-static -L /usr/arm-linux-gnueabihf\"\n"
         "RUN ?=\n";
  else
    m += "CC ?= cc\nCXX ?= c++\nARCH ?=\nRUN ?=\n";
  // -O3 as the engine is built: the Highway kernels run about 2x slower at -O2.
  m += "CFLAGS ?= -O2\nCXXFLAGS ?= -O3\n"
       "C_FLAGS = -std=c99 -pedantic -Wall -Wextra -Werror -I. $(ARCH) $(CFLAGS)\n"
       "CXX_FLAGS = -std=c++17 -fno-exceptions -fno-rtti -Wall -Wextra -I. $(ARCH) $(CXXFLAGS)\n"
       "LDLIBS = " + std::string(highway ? "-lhwy " : "") + "-lm\n"
       "C_SRCS = " + N + ".c " + N + "_weights.c main.c\nCXX_SRCS =";
  for (const std::string& s : cxx_sources) m += " " + s;
  m += "\nOBJS = $(C_SRCS:.c=.o) $(CXX_SRCS:.cpp=.o)\n";
  if (!cmsis_nn_dir.empty()) m += cmsis_nn_make_rules("cmsis-nn", "$(CC) -std=c99 $(ARCH) $(CFLAGS)", cmsis_nn_dir);
  m += "\n" + N + ": $(OBJS)\n\t$(CXX) $(ARCH) -o $@ $(OBJS) $(LDLIBS)\n\n"
       "%.o: %.c\n\t$(CC) $(C_FLAGS) -c $< -o $@\n\n"
       "%.o: %.cpp\n\t$(CXX) $(CXX_FLAGS) -c $< -o $@\n\n";
  // make libNAME.so: the model alone as a shared library, with the same flags
  // plus -fPIC; -Bsymbolic binds its kernel calls to its own copies (rtml
  // bench --backend compiled loads it next to the engine's).
  if (cmsis_nn_dir.empty())
    m += "LIB_OBJS = $(patsubst %.c,pic/%.o," + N + ".c " + N + "_weights.c) $(CXX_SRCS:%.cpp=pic/%.o)\n"
         "lib" + N + ".so: $(LIB_OBJS)\n\t$(CXX) $(ARCH) -shared -Wl,-Bsymbolic -o $@ $(LIB_OBJS) $(LDLIBS)\n\n"
         "pic/%.o: %.c\n\t@mkdir -p $(dir $@)\n\t$(CC) $(C_FLAGS) -fPIC -c $< -o $@\n\n"
         "pic/%.o: %.cpp\n\t@mkdir -p $(dir $@)\n\t$(CXX) $(CXX_FLAGS) -fPIC -c $< -o $@\n\n";
  m += "run: " + N + "\n\t$(RUN) ./" + N + " inputs.bin outputs.bin\n\n"
       "clean:\n\trm -rf $(OBJS) pic lib" + N + ".so " + N + " outputs.bin\n\n.PHONY: run clean\n";
  return m;
}

}  // namespace

CompileResult generate_c(const plan::Plan& plan, const CompileOptions& o) {
  const Target& target = find_target(o.target);
  const std::string N = c_identifier(o.name);

  // 1. Every step must be a table entry (portable on a microcontroller).
  std::string refused;
  for (const plan::PlanStep& st : plan.steps) {
    const kernels::KernelInfo* k = st.step.info;
    std::string why;
    if (!k) why = "its kernel (" + st.step.kernel + ") is not in the kernel table yet";
    else if (target.microcontroller && !k->portable)
      why = std::string(k->symbol) + " is a host-only kernel (plan with --kernels cortex-m)";
    if (!why.empty()) refused += "\n  step '" + st.node_name + "' (" + st.op_type + "): " + why;
  }
  if (!refused.empty())
    throw Error(plan.source + ": cannot compile for " + target.name + ":" + refused);

  CompileResult r;
  // Stateful steps (the random generators) keep their state in the caller's
  // arena, after the intermediate tensors, 64-byte aligned: NAME_reset sets it
  // and NAME_run never writes there otherwise.
  // --memory (plan.memory.levels): level 0 holds its tensors and then the
  // state; level k its tensors at `a<k>` (NAME_run_levels). One arena
  // (NAME_run) holds the levels one after another, 64-byte aligned.
  const std::vector<plan::LevelPlan>& levels = plan.memory.levels;
  const size_t level0 = levels.empty() ? plan.arena_bytes : levels[0].bytes;
  const size_t state_base = plan.state_bytes ? (level0 + 63) / 64 * 64 : level0;
  std::vector<size_t> level_size, level_base;  // in the generated code's layout
  for (size_t k = 0; k < levels.size(); ++k) {
    level_size.push_back(k ? levels[k].bytes : state_base + plan.state_bytes);
    level_base.push_back(k ? (level_base[k - 1] + level_size[k - 1] + 63) / 64 * 64 : 0);
  }
  r.arena_bytes = levels.empty() ? state_base + plan.state_bytes : level_base.back() + level_size.back();
  r.level_bytes = level_size;
  bool needs_math = false;
  auto const_name = [&](int id) { return N + "_c" + std::to_string(id); };
  // The C expression of a tensor's bytes.
  auto pointer = [&](int id) -> std::string {
    const plan::TensorPlan& t = plan.tensors[id];
    switch (t.storage) {
      case plan::Storage::Arena:
        return levels.empty() ? "a + " + std::to_string(t.offset)
                              : (t.level ? "a" + std::to_string(t.level) : std::string("a")) + " + " +
                                    std::to_string(t.offset - levels[t.level].base);
      case plan::Storage::Constant: return "(void*)" + const_name(id);
      case plan::Storage::Input: return "(void*)inputs[" + std::to_string(t.index) + "]";
      case plan::Storage::Output: return "outputs[" + std::to_string(t.index) + "]";
      case plan::Storage::State: return "a + " + std::to_string(state_base + t.offset);
    }
    return "0";
  };

  // --kernels cmsis-nn: the int8 steps CMSIS-NN covers, its scratch after the state.
  const bool cmsis = plan.kernels == KernelSet::CmsisNn;
  CmsisNnCode cm;
  cm.call.assign(plan.steps.size(), "");
  r.step_functions.resize(plan.steps.size());
  for (size_t s = 0; s < plan.steps.size(); ++s) r.step_functions[s] = plan.steps[s].step.kernel;
  if (cmsis) {
    check_cmsis_nn_dir(o.cmsis_nn_dir);
    const std::string tn = target.name;
    const CmsisArch arch = tn == "host" ? CmsisArch::Plain : tn == "cortex-m55" ? CmsisArch::Mve : CmsisArch::Dsp;
    const size_t base = (r.arena_bytes + 63) / 64 * 64;
    cm = cmsis_nn_code(plan, N, arch, base, pointer);
    std::map<std::string, int> calls;
    for (size_t s = 0; s < plan.steps.size(); ++s) {
      const std::string& fn = cm.function[s];
      const plan::PlanStep& st = plan.steps[s];
      if (!fn.empty()) r.step_functions[s] = fn;
      if (!fn.empty() && calls[fn]++ == 0) r.cmsis_nn_calls.push_back({fn, 0});
      if (fn.empty() && st.step.kernel.rfind("rtml_s8_", 0) == 0)
        r.cmsis_nn_fallbacks.push_back("step " + std::to_string(s) + " (" + st.op_type + "): " + st.step.kernel);
    }
    for (auto& [fn, n] : r.cmsis_nn_calls) n = calls[fn];
    if (r.cmsis_nn_calls.empty())
      throw Error(plan.source + ": the cmsis-nn kernel set covers int8 convolution, fully connected, pooling, Add and "
                  "Softmax steps, and this model has none CMSIS-NN can run; compile it with --kernels cortex-m");
    if (cm.scratch_bytes) r.arena_bytes = base + cm.scratch_bytes;
    r.cmsis_nn_scratch_bytes = cm.scratch_bytes;
    r.nhwc_tensors = cm.nhwc_tensors;
  }
  auto covered = [&](size_t s) { return !cm.call[s].empty(); };

  // 2. Constants: every Constant tensor a step or an output copy reads, once.
  std::vector<int> constants;
  std::vector<bool> used(plan.tensors.size(), false);
  auto use = [&](int id) {
    if (id >= 0 && plan.tensors[id].storage == plan::Storage::Constant && !used[id]) {
      used[id] = true;
      constants.push_back(id);
    }
  };
  for (size_t s = 0; s < plan.steps.size(); ++s)
    if (!covered(s))
      for (uint32_t i = 0; i < plan.steps[s].num_operands; ++i) use(plan.operands[plan.steps[s].first_operand + i]);
  for (const plan::OutputCopy& c : plan.output_copies) use(c.source);

  std::ostringstream weights;
  weights << banner(o, plan) << "#include <stdbool.h>\n#include <stdint.h>\n";
  std::ostringstream weight_body;
  for (int id : constants) {
    const plan::TensorPlan& t = plan.tensors[id];
    const char* ty = c_type(t.dtype);
    if (!ty) throw Error(plan.source + ": constant '" + t.name + "' has type " + dtype_name(t.dtype) + ", which C code cannot hold");
    const size_t n = std::max<size_t>(1, dtype_size(t.dtype) ? t.bytes / dtype_size(t.dtype) : 0);
    weight_body << "\n/* " << c_comment(t.name) << ": " << shape_comment(t) << " */\n"
                << "const " << ty << " " << const_name(id) << "[" << n << "] " << N << "_ALIGNED = {\n";
    write_elements(weight_body, t, needs_math);
    weight_body << "};\n";
    r.constant_bytes += t.bytes;
  }
  if (needs_math) weights << "#include <math.h>\n";
  weights << "\n#if defined(__GNUC__)\n#define " << N << "_ALIGNED __attribute__((aligned(64)))\n#else\n#define " << N
          << "_ALIGNED\n#endif\n"
          << weight_body.str() << cm.weights;
  r.constant_bytes += cm.weight_bytes;

  // 3. Kernel sources: each used entry's file and its header, with their includes.
  std::set<std::string> sources;
  std::map<std::string, int> steps_of;
  std::set<std::string> headers;
  auto use_kernel = [&](const kernels::KernelInfo& k) {
    if (steps_of[k.symbol]++ == 0) r.kernel_steps.push_back({k.symbol, 0});
    collect_sources(k.source, sources, k.symbol);
    headers.insert(kernels::kernel_header(k));
  };
  for (size_t s = 0; s < plan.steps.size(); ++s)
    if (!covered(s)) use_kernel(*plan.steps[s].step.info);
  if (cm.transposes) {  // inside CMSIS-NN steps, not a step of its own
    const kernels::KernelInfo& t = kernels::kernel("rtml_x8_transpose__ref");
    collect_sources(t.source, sources, t.symbol);
    headers.insert(kernels::kernel_header(t));
  }
  for (auto& [sym, n] : r.kernel_steps) n = steps_of[sym];

  // 4. NAME.h
  std::ostringstream h;
  const std::string guard = N + "_H";
  h << banner(o, plan) << "#ifndef " << guard << "\n#define " << guard << "\n\n#include <stddef.h>\n\n"
    << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n"
    << "/* Bytes of working memory " << N << "_run needs: the caller's, 8-byte aligned (64 recommended)"
    << (plan.state_bytes ? "; the last " + std::to_string(plan.state_bytes) + " hold state that " + N + "_reset sets" : std::string())
    << ". */\n"
    << "#define " << N << "_ARENA_BYTES " << r.arena_bytes << "u\n"
    << "#define " << N << "_NUM_INPUTS " << plan.inputs.size() << "\n"
    << "#define " << N << "_NUM_OUTPUTS " << plan.outputs.size() << "\n\n";
  if (!levels.empty()) {
    h << "/* --memory: the levels " << N << "_run_levels takes, fastest first; the steps work in the first,\n"
      << " * which also holds the state. " << N << "_run puts them one after another in its arena. */\n"
      << "#define " << N << "_NUM_LEVELS " << levels.size() << "\n";
    for (size_t k = 0; k < levels.size(); ++k)
      h << "#define " << N << "_LEVEL_" << levels[k].name << "_BYTES " << level_size[k] << "u /* budget "
        << levels[k].budget_bytes << " */\n";
    h << "\n";
  }
  auto io = [&](const char* kind, const std::vector<int>& ids, const char* upper) {
    for (size_t k = 0; k < ids.size(); ++k) {
      const plan::TensorPlan& t = plan.tensors[ids[k]];
      h << "/* " << kind << " " << k << " \"" << c_comment(t.name) << "\": " << shape_comment(t) << ", dense row-major */\n"
        << "#define " << N << "_" << upper << "_" << k << "_BYTES " << t.bytes << "u\n";
    }
  };
  io("input", plan.inputs, "INPUT");
  io("output", plan.outputs, "OUTPUT");
  h << "\nextern const size_t " << N << "_input_bytes[" << N << "_NUM_INPUTS];\n"
    << "extern const size_t " << N << "_output_bytes[" << N << "_NUM_OUTPUTS];\n"
    << "extern const char* const " << N << "_input_names[" << N << "_NUM_INPUTS];\n"
    << "extern const char* const " << N << "_output_names[" << N << "_NUM_OUTPUTS];\n\n"
    << "/* Runs one inference: inputs[i] and outputs[i] point at the buffers above; the arena\n"
    << " * holds every intermediate tensor. Returns 0, -1 for a misaligned arena, or 1 + the\n"
    << " * index of the step whose kernel failed. Allocates nothing, calls no library but the\n"
    << " * kernels' (and memcpy). */\n"
    << "int " << N << "_run(void* arena, const void* const* inputs, void* const* outputs);\n\n"
    << (levels.empty() ? std::string()
                       : "/* The same with each level's memory apart: levels[k] holds " + N + "_LEVEL_<name>_BYTES. */\n"
                         "int " + N + "_run_levels(void* const* levels, const void* const* inputs, void* const* outputs);\n\n")
    << "/* Puts state back to its start (random generators); call once before the first run" << (levels.empty() ? "" : " (arena: the first level's memory)") << ". */\n"
    << "void " << N << "_reset(void* arena);\n\n"
    << "#ifdef __cplusplus\n}\n#endif\n\n#endif\n";

  // 5. NAME.c
  std::ostringstream c;
  c << banner(o, plan) << "#include <stdint.h>\n#include <string.h>\n\n#include \"" << N << ".h\"\n";
  for (const std::string& s : headers) c << "#include \"" << s << "\"\n";
  if (cmsis) c << "#include \"arm_nnfunctions.h\"\n";
  c << "\n/* Per-step instruction counts under QEMU (rtml bench --target cortex-m*): a marker call\n"
    << " * before each step when built with RTML_MARKERS (the project's Makefile does). */\n"
    << "#ifdef RTML_MARKERS\n#include \"rtml_markers.h\"\n#else\n#define RTML_STEP_BEGIN() ((void)0)\n#endif\n\n";
  for (int id : constants) {
    const plan::TensorPlan& t = plan.tensors[id];
    c << "extern const " << c_type(t.dtype) << " " << const_name(id) << "[];\n";
  }
  c << cm.statics;
  auto io_table = [&](const char* what, const std::vector<int>& ids, bool names) {
    c << (names ? "const char* const " : "const size_t ") << N << "_" << what << "[" << std::max<size_t>(1, ids.size())
      << "] = {";
    for (size_t k = 0; k < ids.size(); ++k) {
      const plan::TensorPlan& t = plan.tensors[ids[k]];
      c << (k ? ", " : "");
      if (names) c << '"' << c_string(t.name) << '"';
      else c << t.bytes << 'u';
    }
    c << (ids.empty() ? "0" : "") << "};\n";
  };
  c << "\n";
  io_table("input_bytes", plan.inputs, false);
  io_table("output_bytes", plan.outputs, false);
  io_table("input_names", plan.inputs, true);
  io_table("output_names", plan.outputs, true);
  c << "\n";
  std::ostringstream params, body, reset;
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const plan::PlanStep& st = plan.steps[s];
    const kernels::KernelInfo& k = *st.step.info;
    const std::string p = std::string("p").append(std::to_string(s));
    if (covered(s)) {
      body << "  { /* step " << s << ": " << c_comment(st.node_name) << " (" << st.op_type << "), CMSIS-NN "
           << cm.function[s] << " */\n    RTML_STEP_BEGIN();\n" << cm.call[s] << "  }\n";
      continue;
    }
    params << "/* step " << s << ": \"" << c_comment(st.node_name) << "\" (" << st.op_type << ") */\n";
    if (k.params)
      params << "static const " << k.params->c_type << " " << p << " = "
             << params_initializer(*k.params, st.step.params.get(), needs_math) << ";\n";
    body << "  { /* step " << s << ": " << c_comment(st.node_name) << " (" << st.op_type << "), "
         << c_comment(st.step.kernel) << " [" << k.operands << "] */\n"
         << "    void* const o[] = {";
    for (uint32_t i = 0; i < st.num_operands; ++i) {
      const int id = plan.operands[st.first_operand + i];
      body << (i ? ", " : "") << (id >= 0 ? pointer(id) : std::string("0"));
    }
    if (st.num_operands == 0) body << "0";
    if (k.reset) {
      const std::string state = st.step.state_bytes
          ? "a + " + std::to_string(state_base + plan.tensors[plan.operands[st.state_operand()]].offset)
          : std::string("0");
      reset << "  " << k.reset_symbol << "(" << (k.params ? "&" + p : std::string("0")) << ", " << state << ");\n";
    }
    body << "};\n    RTML_STEP_BEGIN();\n    if (" << k.symbol << "(" << (k.params ? "&" + p : std::string("0"))
         << ", o) != 0) return " << s + 1 << ";\n  }\n";
  }
  if (levels.empty()) {
    c << params.str() << "\nint " << N << "_run(void* arena, const void* const* inputs, void* const* outputs) {\n"
      << "  uint8_t* a = (uint8_t*)arena;\n"
      << "  if (((uintptr_t)arena & 7u) != 0) return -1;\n";
  } else {
    c << params.str() << "\nint " << N << "_run(void* arena, const void* const* inputs, void* const* outputs) {\n"
      << "  uint8_t* a = (uint8_t*)arena;\n  void* levels[" << levels.size() << "];\n";
    for (size_t k = 0; k < levels.size(); ++k) c << "  levels[" << k << "] = a + " << level_base[k] << ";\n";
    c << "  return " << N << "_run_levels(levels, inputs, outputs);\n}\n\n"
      << "int " << N << "_run_levels(void* const* levels, const void* const* inputs, void* const* outputs) {\n"
      << "  uint8_t* a = (uint8_t*)levels[0];\n";
    for (size_t k = 1; k < levels.size(); ++k) c << "  uint8_t* a" << k << " = (uint8_t*)levels[" << k << "];\n";
    for (size_t k = 0; k < levels.size(); ++k)
      c << "  if (((uintptr_t)levels[" << k << "] & 7u) != 0) return -1;\n";
    for (size_t k = 1; k < levels.size(); ++k) c << "  (void)a" << k << ";\n";
  }
  c << "  (void)a;\n  (void)inputs;\n  (void)outputs;\n" << body.str();
  for (const plan::OutputCopy& oc : plan.output_copies) {
    c << "  memcpy(outputs[" << oc.output << "], " << pointer(oc.source) << ", " << plan.tensors[oc.source].bytes
      << "u);\n";
  }
  c << "  return 0;\n}\n\n"
    << "void " << N << "_reset(void* arena) {\n  uint8_t* a = (uint8_t*)arena;\n  (void)a;\n" << reset.str() << "}\n";
  std::string c_text = c.str();
  if (needs_math) c_text.insert(c_text.find("#include <stdint.h>"), "#include <math.h>\n");

  // 6. Write.
  const fs::path out(o.out_dir);
  auto emit = [&](const std::string& rel, const std::string& text) {
    write_text(out / rel, text);
    r.files.push_back(rel);
  };
  emit(N + ".h", h.str());
  emit(N + ".c", c_text);
  emit(N + "_weights.c", weights.str());
  std::vector<std::string> cxx_sources;
  bool highway = false;
  for (const std::string& s : sources) {
    const std::string_view text = find_embedded(s)->text;
    emit(s, std::string(text));
    r.kernel_sources.push_back(s);
    if (fs::path(s).extension() == ".cpp") cxx_sources.push_back(s);
    if (text.find("hwy/highway.h") != std::string_view::npos) highway = true;
  }
  if (o.project && target.microcontroller) {
    // The board support files and the test main (targets/cortex-m), and the
    // header through which that main reaches this model.
    write_cortexm_board_files(o.out_dir);
    for (const BoardFile& f : cortexm_board_files()) r.files.push_back(std::string(f.name));
    // --ram: the arena in a region of exactly the budget; --memory: each level.
    std::vector<BudgetRegion> regions;
    std::string why;
    for (const plan::LevelPlan& l : levels) {
      regions.push_back({"LEVEL_" + l.name, ".rtml_level_" + l.name, l.budget_bytes});
      why += (why.empty() ? "rtml compile --memory " : ",") + l.name + ":" + std::to_string(l.budget_bytes);
    }
    if (levels.empty() && plan.tiling.budget_bytes) {
      regions.push_back({"ARENA", ".rtml_arena", plan.tiling.budget_bytes});
      why = "rtml compile --ram " + std::to_string(plan.tiling.budget_bytes);
    }
    if (!regions.empty()) {
      const std::string board = find_cortexm_target(target.name).linker_script;
      emit(std::string(target.name) + "_budget.ld",
           budget_linker_script(std::string(find_embedded("compile/targets/cortex-m/" + board)->text), regions,
                                why + (levels.empty() ? ": the arena (main.c's rtml_arena) alone in ARENA"
                                                      : ": each level's array (rtml_model_entry.h) alone in LEVEL_<name>")));
    }
    // The board Makefile includes cmsis_nn.mk when it exists.
    if (cmsis)
      emit("cmsis_nn.mk", "# CMSIS-NN for the cmsis-nn kernel set (rtml compile --kernels cmsis-nn); make CMSIS_NN=DIR\n"
                          "# builds another copy.\n" +
                              cmsis_nn_make_rules("$(BUILD)/cmsis-nn", "$(CC) -std=c99 $(CPU_FLAGS) $(SPECS) -O2 -g "
                                                  "-ffunction-sections -fdata-sections", o.cmsis_nn_dir));
    std::ostringstream e;
    e << banner(o, plan) << "/* What the test main (main.c) needs of the model. */\n#ifndef RTML_MODEL_ENTRY_H\n"
      << "#define RTML_MODEL_ENTRY_H\n#include \"" << N << ".h\"\n"
      << "#define RTML_ARENA_BYTES " << N << "_ARENA_BYTES\n#define RTML_NUM_INPUTS " << N << "_NUM_INPUTS\n"
      << "#define RTML_NUM_OUTPUTS " << N << "_NUM_OUTPUTS\n";
    for (const char* what : {"input", "output"}) {
      const std::vector<int>& ids = std::string(what) == "input" ? plan.inputs : plan.outputs;
      e << "static const unsigned long rtml_" << what << "_bytes[" << std::max<size_t>(1, ids.size()) << "] = {";
      for (size_t k = 0; k < ids.size(); ++k) e << (k ? ", " : "") << plan.tensors[ids[k]].bytes << "ul";
      e << (ids.empty() ? "0" : "") << "};\n";
    }
    if (levels.empty()) {
      e << "#define RTML_RUN(arena, inputs, outputs) " << N << "_run((arena), (inputs), (outputs))\n"
        << "#define RTML_RESET(arena) " << N << "_reset(arena)\n#endif\n";
    } else {
      // --memory: each level in its own section (TARGET_budget.ld puts it in its region); main.c has no arena.
      e << "#define RTML_LEVELS 1\n";
      for (size_t k = 0; k < levels.size(); ++k)
        e << "static unsigned char rtml_level_" << levels[k].name << "[" << std::max<size_t>(1, level_size[k])
          << "] __attribute__((section(\".rtml_level_" << levels[k].name << "\"), aligned(16)));\n";
      e << "static void* const rtml_levels[" << levels.size() << "] = {";
      for (size_t k = 0; k < levels.size(); ++k) e << (k ? ", " : "") << "rtml_level_" << levels[k].name;
      e << "};\n#define RTML_RUN(arena, inputs, outputs) " << N << "_run_levels(rtml_levels, (inputs), (outputs))\n"
        << "#define RTML_RESET(arena) " << N << "_reset(rtml_levels[0])\n#endif\n";
    }
    emit("rtml_model_entry.h", e.str());
  } else if (o.project) {
    emit("main.c", host_main(N));
    emit("Makefile", host_makefile(N, target, cxx_sources, highway, cmsis ? o.cmsis_nn_dir : std::string()));
  }
  return r;
}

}  // namespace rtml::compile
