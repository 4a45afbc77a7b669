// Cortex-M targets of `rtml compile`: building a generated project with
// arm-none-eabi-gcc and running it on QEMU's emulated boards, with the
// instruction-count plugin (tools/qemu-plugin/rtml_insn_count.c) loaded.
//
// A project folder holds the board support files (targets/cortex-m/: linker
// scripts, startup.c, rtml_semihost, rtml_markers, main.c, Makefile), the
// model's sources and rtml_model_entry.h (docs/cortex-m.md). build_project
// runs its Makefile for one target; run_under_qemu runs the ELF in a work
// folder that holds inputs.bin, which main reads through semihosting (and
// writes outputs.bin there), and returns the plugin's counts: executed
// instructions, never time (QEMU has no timing model).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rtml::compile {

struct MemoryRegion {
  std::string name;  // "flash" (code and constants) or "ram" (data, arena, stack, heap)
  uint64_t start = 0;
  uint64_t end = 0;  // exclusive
};

struct CortexMTarget {
  std::string name;           // "cortex-m7": what --target takes
  std::string core;           // "Cortex-M7"
  std::string machine;        // QEMU's -M: "mps2-an500"
  std::string gcc_flags;      // "-mcpu=cortex-m7 -mfpu=fpv5-sp-d16 -mfloat-abi=hard"
  std::string linker_script;  // in targets/cortex-m/: "mps2_an500.ld"
  std::vector<MemoryRegion> regions;  // as the linker script lays them out
};

const std::vector<CortexMTarget>& cortexm_targets();

// The target named name; Error listing the known names otherwise.
const CortexMTarget& find_cortexm_target(const std::string& name);

struct Toolchain {
  std::string gcc, gxx, nm, size, make, qemu;  // full paths
};

// Error naming the Debian packages when a tool is missing.
Toolchain find_toolchain();

// The instruction-count plugin (rtml-qemu-insn.so) from util::plugin_dirs();
// Error saying where it looked otherwise.
std::string find_qemu_plugin();

// Runs `make TARGET=<name>` in dir; returns the ELF's path
// (dir/build/<name>/model.elf). Error with the compiler's output when the
// build fails or passes time_limit_s.
std::string build_project(const std::string& dir, const CortexMTarget& target, double time_limit_s = 600);

// A symbol of the ELF (arm-none-eabi-nm -S): the Thumb bit cleared from
// function addresses; size 0 when nm gives none.
struct ElfSymbol {
  std::string name;
  uint64_t address = 0;
  uint64_t size = 0;
  char type = 0;  // nm's letter: T/t code, R/r constants, D/d data, B/b bss
};
std::vector<ElfSymbol> read_elf_symbols(const std::string& elf);

// What the linked program takes (arm-none-eabi-size -A): flash = vectors,
// code, constants, exception tables and .data's initial values; static RAM
// = .data + .bss (the arena is in .bss, or with --ram alone in .rtml_arena, counted with
// .bss). Stack and heap are not included.
struct ElfSizes {
  uint64_t code_bytes = 0;    // .vectors + .text
  uint64_t rodata_bytes = 0;  // .rodata + .ARM.exidx (weights are here)
  uint64_t data_bytes = 0;    // .data (in flash and in RAM)
  uint64_t bss_bytes = 0;     // .bss + .rtml_arena
  uint64_t flash_bytes() const { return code_bytes + rodata_bytes + data_bytes; }
  uint64_t static_ram_bytes() const { return data_bytes + bss_bytes; }
};
ElfSizes read_elf_sizes(const std::string& elf);

struct QemuRunOptions {
  double time_limit_s = 120;  // QEMU is killed after this: Error
  std::string plugin;         // rtml-qemu-insn.so; empty: find_qemu_plugin()
};

struct RegionTraffic {
  std::string name;  // a target region, or "other" for addresses outside them
  uint64_t load_bytes = 0;
  uint64_t store_bytes = 0;
};

struct QemuRun {
  int exit_status = -1;  // the program's (main's return, or 3 for a fault)
  std::string output;    // QEMU's stdout and stderr (the program's console)
  uint64_t program_instructions = 0;
  std::vector<uint64_t> inference_instructions;               // per inference
  std::vector<std::vector<uint64_t>> step_instructions;       // per inference, per step
  std::vector<RegionTraffic> regions;                         // during inferences
  // From main's last line "rtml: sets=K stack_bytes=S arena_bytes=A status=0";
  // -1 when the program did not print it (it failed: see output).
  int64_t sets = -1;
  int64_t stack_bytes = -1;
  int64_t arena_bytes = -1;
};

// Runs elf on target's board with workdir as the semihosting folder. Errors
// (thrown): missing ELF or workdir, no marker symbols in the ELF, QEMU or
// the plugin failing to start (with QEMU's output), the time limit. A
// program that runs and exits nonzero is a result (exit_status, output).
QemuRun run_under_qemu(const CortexMTarget& target, const std::string& elf, const std::string& workdir,
                       const QemuRunOptions& options = {});

// Parses the plugin's line format (rtml_insn_count.c) into run; Error on a
// line it does not know.
void parse_insn_counts(const std::string& text, QemuRun& run);

}  // namespace rtml::compile
