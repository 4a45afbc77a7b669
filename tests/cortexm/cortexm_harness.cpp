// The Cortex-M harness end to end, on every board (cortex-m7, m4, m55):
// the board files build with the test programs, QEMU runs them, the plugin
// counts, and qemu_runner reads it all back. Exits 77 (ctest: skipped) when
// the ARM toolchain or qemu-system-arm is missing.
//
// Expected values are worked out by hand, not taken from a run:
// - count/count_main.c: one inference = rtml_inference_begin's body (B_begin
//   instructions, straight-line, read from the ELF's disassembly), then
//   `bl rtml_step_begin`, then three steps. Step k is rtml_step_begin's body
//   (B_step), `movw r0, #N_k`, the loop (subs + bne, N_k times: 2 N_k) and
//   the `bl` to the next marker: B_step + 2 + 2 N_k. The inference is
//   B_begin + 1 + the three steps.
// - toy/: y = 2x + 1 on 10 floats (exact in float32 for the inputs used),
//   each inference reads x and t (80 bytes) and writes t and y (80 bytes)
//   in RAM: the RAM traffic is at least that.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "compile/board_files.h"
#include "compile/qemu_runner.h"
#include "core/error.h"
#include "util/subprocess.h"
#include "../unit/error_of.h"

namespace fs = std::filesystem;
using namespace rtml;
using namespace rtml::compile;

namespace {

int failures = 0;

#define CHECK(cond, what)                                                                      \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      ++failures;                                                                              \
      std::fprintf(stderr, "FAIL %s:%d: %s (%s)\n", __FILE__, __LINE__, std::string(what).c_str(), #cond); \
    }                                                                                          \
  } while (0)

const uint64_t kLoops[3] = {1000, 2500, 7};  // count_main.c's movw immediates

fs::path source_dir() { return fs::path(RTML_SOURCE_DIR); }

// A project folder: the board files as rtml embeds them (without main.c when the program has its
// own) and the test's sources.
fs::path make_project(const fs::path& work, const std::string& name, const fs::path& sources, bool with_main) {
  fs::path dir = work / name;
  fs::remove_all(dir);
  write_cortexm_board_files(dir.string(), with_main);
  for (const auto& e : fs::directory_iterator(sources)) fs::copy_file(e.path(), dir / e.path().filename());
  return dir;
}

// Instructions in a function's disassembly (objdump -d): every line "  addr:\tbytes\tmnemonic"
// except data (a literal pool's .word).
uint64_t function_instructions(const std::string& elf, const std::string& function) {
  util::ProcessResult r =
      util::run_process({"arm-none-eabi-objdump", "-d", "--disassemble=" + function, elf}, "", 60);
  if (r.exit_status != 0) throw Error("objdump failed: " + r.output);
  std::istringstream lines(r.output);
  std::string line;
  uint64_t n = 0;
  bool branches = false;
  while (std::getline(lines, line)) {
    if (line.size() < 3 || line[0] != ' ' || line.find(":\t") == std::string::npos) continue;
    const size_t mnemonic = line.find('\t', line.find(":\t") + 2);
    if (mnemonic == std::string::npos || line[mnemonic + 1] == '.') continue;  // a literal pool's .word
    ++n;
    if (line.find("\tb") != std::string::npos && line.find("bx\tlr") == std::string::npos) branches = true;
  }
  if (n == 0 || branches)
    throw Error(function + " is not a straight-line function in " + elf + ":\n" + r.output);
  return n;
}

void write_floats(const fs::path& path, const std::vector<float>& v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}

std::vector<float> read_floats(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

const RegionTraffic* region(const QemuRun& run, const std::string& name) {
  for (const RegionTraffic& r : run.regions)
    if (r.name == name) return &r;
  return nullptr;
}

void test_counts(const CortexMTarget& target, const fs::path& work) {
  const std::string label = target.name + " count: ";
  fs::path dir = make_project(work, target.name + "-count", source_dir() / "tests/cortexm/count", false);
  const std::string elf = build_project(dir.string(), target);
  const uint64_t b_begin = function_instructions(elf, "rtml_inference_begin");
  const uint64_t b_step = function_instructions(elf, "rtml_step_begin");
  std::vector<uint64_t> steps;
  uint64_t inference = b_begin + 1;
  for (uint64_t n : kLoops) {
    steps.push_back(b_step + 2 + 2 * n);
    inference += steps.back();
  }
  fs::path run_dir = dir / "run";
  fs::create_directories(run_dir);
  QemuRun a = run_under_qemu(target, elf, run_dir.string());
  QemuRun b = run_under_qemu(target, elf, run_dir.string());
  CHECK(a.exit_status == 0, label + "exit status " + std::to_string(a.exit_status) + ", output: " + a.output);
  CHECK(a.inference_instructions.size() == 2, label + "two inferences");
  for (size_t i = 0; i < a.inference_instructions.size(); ++i) {
    CHECK(a.inference_instructions[i] == inference,
          label + "inference " + std::to_string(i) + ": " + std::to_string(a.inference_instructions[i]) +
              " instructions, expected " + std::to_string(inference));
    CHECK(a.step_instructions[i] == steps, label + "inference " + std::to_string(i) + "'s steps");
    for (size_t k = 0; k < a.step_instructions[i].size() && k < steps.size(); ++k)
      if (a.step_instructions[i][k] != steps[k])
        std::fprintf(stderr, "  %s step %zu: %llu, expected %llu\n", label.c_str(), k,
                     static_cast<unsigned long long>(a.step_instructions[i][k]),
                     static_cast<unsigned long long>(steps[k]));
  }
  CHECK(a.program_instructions > 2 * inference, label + "the program runs more than its inferences");
  CHECK(a.program_instructions == b.program_instructions && a.inference_instructions == b.inference_instructions &&
            a.step_instructions == b.step_instructions,
        label + "two runs count the same");
  std::printf("%s: inference %llu instructions (steps %llu %llu %llu), program %llu\n", target.name.c_str(),
              static_cast<unsigned long long>(inference), static_cast<unsigned long long>(steps[0]),
              static_cast<unsigned long long>(steps[1]), static_cast<unsigned long long>(steps[2]),
              static_cast<unsigned long long>(a.program_instructions));

  if (target.name == "cortex-m7") {  // the time limit: the same program, told to loop forever
    std::ofstream(run_dir / "hang") << "";
    QemuRunOptions quick;
    quick.time_limit_s = 1;
    std::string m = error_of([&] { run_under_qemu(target, elf, run_dir.string(), quick); });
    CHECK(m.find("did not finish within") != std::string::npos,
          label + "a program that never exits is stopped at the time limit: " + m);

    QemuRunOptions broken;  // QEMU cannot load the plugin: its own message comes through
    broken.plugin = (run_dir / "not-a-plugin.so").string();
    std::ofstream(broken.plugin) << "not a shared object\n";
    fs::remove(run_dir / "hang");
    m = error_of([&] { run_under_qemu(target, elf, run_dir.string(), broken); });
    CHECK(m.find("Could not load plugin") != std::string::npos, label + "broken plugin message: " + m);
  }
}

void test_toy_model(const CortexMTarget& target, const fs::path& work) {
  const std::string label = target.name + " toy: ";
  fs::path dir = make_project(work, target.name + "-toy", source_dir() / "tests/cortexm/toy", true);
  const std::string elf = build_project(dir.string(), target);
  // The ELF's symbols and sizes: main.c's arena is RTML_ARENA_BYTES (40) of .bss.
  bool arena_found = false, run_found = false;
  for (const ElfSymbol& sym : read_elf_symbols(elf)) {
    if (sym.name == "rtml_arena") arena_found = sym.size == 40 && (sym.type == 'b' || sym.type == 'B');
    if (sym.name == "toy_run") run_found = sym.type == 'T' && sym.size > 0 && sym.address % 2 == 0;
  }
  CHECK(arena_found, label + "rtml_arena: 40 bytes of .bss");
  CHECK(run_found, label + "toy_run: code, with a size, at an even address");
  const ElfSizes sizes = read_elf_sizes(elf);
  CHECK(sizes.code_bytes > 0 && sizes.bss_bytes >= 40 && sizes.flash_bytes() >= sizes.code_bytes &&
            sizes.static_ram_bytes() >= sizes.bss_bytes,
        label + "ELF sizes: code " + std::to_string(sizes.code_bytes) + ", bss " + std::to_string(sizes.bss_bytes));

  fs::path run_dir = dir / "run";
  fs::create_directories(run_dir);

  // main's own errors: no inputs.bin, then a size that is not a multiple of a set.
  QemuRun missing = run_under_qemu(target, elf, run_dir.string());
  CHECK(missing.exit_status == 2 && missing.output.find("cannot open inputs.bin") != std::string::npos,
        label + "missing inputs.bin: " + missing.output);
  write_floats(run_dir / "inputs.bin", std::vector<float>(15, 1.0f));
  QemuRun ragged = run_under_qemu(target, elf, run_dir.string());
  CHECK(ragged.exit_status == 2 && ragged.output.find("not a positive multiple") != std::string::npos,
        label + "60-byte inputs.bin: " + ragged.output);

  const int sets = 3;
  std::vector<float> x(sets * 10);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f * static_cast<float>(i) - 3.0f;
  write_floats(run_dir / "inputs.bin", x);
  QemuRun run = run_under_qemu(target, elf, run_dir.string());
  CHECK(run.exit_status == 0, label + "exit status " + std::to_string(run.exit_status) + ": " + run.output);
  std::vector<float> y = read_floats(run_dir / "outputs.bin");
  CHECK(y.size() == x.size(), label + "outputs.bin holds " + std::to_string(y.size()) + " floats");
  for (size_t i = 0; i < y.size() && i < x.size(); ++i)
    CHECK(y[i] == 0.5f * static_cast<float>(i) - 5.0f, label + "y[" + std::to_string(i) + "] = 2x + 1");
  CHECK(run.sets == sets, label + "sets=" + std::to_string(run.sets));
  CHECK(run.arena_bytes == 40, label + "arena_bytes=" + std::to_string(run.arena_bytes));
  CHECK(run.stack_bytes > 0 && run.stack_bytes < 64 * 1024, label + "stack_bytes=" + std::to_string(run.stack_bytes));
  CHECK(run.inference_instructions.size() == sets, label + "one count per set");
  for (const auto& steps : run.step_instructions) CHECK(steps.size() == 2, label + "two steps per inference");
  const RegionTraffic* ram = region(run, "ram");
  CHECK(ram && ram->load_bytes >= sets * 80u && ram->store_bytes >= sets * 80u,
        label + "RAM traffic covers x, t and y: " +
            (ram ? std::to_string(ram->load_bytes) + " loaded, " + std::to_string(ram->store_bytes) + " stored" : "none"));
  const RegionTraffic* other = region(run, "other");
  CHECK(other && other->load_bytes == 0 && other->store_bytes == 0, label + "no access outside flash and RAM");
  std::printf("%s: toy %lld sets, stack %lld bytes, RAM %llu loaded %llu stored\n", target.name.c_str(),
              static_cast<long long>(run.sets), static_cast<long long>(run.stack_bytes),
              static_cast<unsigned long long>(ram ? ram->load_bytes : 0),
              static_cast<unsigned long long>(ram ? ram->store_bytes : 0));
}

// A project whose C does not compile: build_project's error carries the compiler's message.
void test_compile_error(const fs::path& work) {
  fs::path dir = make_project(work, "broken", source_dir() / "tests/cortexm/toy", true);
  std::ofstream(dir / "broken.c") << "int rtml_broken(void) { return undeclared_name; }\n";
  const std::string m = error_of([&] { build_project(dir.string(), find_cortexm_target("cortex-m4")); });
  CHECK(m.find("building for cortex-m4 failed") != std::string::npos && m.find("undeclared_name") != std::string::npos,
        "compile error message: " + m);
}

void test_bad_input(const fs::path& work) {
  std::string m = error_of([] { find_cortexm_target("cortex-m3"); });
  CHECK(m.find("cortex-m3") != std::string::npos && m.find("cortex-m7") != std::string::npos &&
            m.find("cortex-m55") != std::string::npos,
        "unknown target message names it and the known ones: " + m);
  m = error_of([&] { run_under_qemu(find_cortexm_target("cortex-m4"), (work / "no-such.elf").string(), work.string()); });
  CHECK(m.find("no-such.elf: no such ELF file") != std::string::npos, "missing ELF message: " + m);
}

}  // namespace

int main() {
  try {
    find_toolchain();
  } catch (const Error& e) {
    std::printf("SKIP: %s\n", e.what());
    return 77;
  }
  fs::path work = fs::absolute(fs::path("cortexm-work"));
  fs::create_directories(work);
  try {
    test_bad_input(work);
    test_compile_error(work);
    for (const CortexMTarget& target : cortexm_targets()) {
      test_counts(target, work);
      test_toy_model(target, work);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "FAIL: %s\n", e.what());
    return 1;
  }
  if (failures) std::fprintf(stderr, "%d check(s) failed\n", failures);
  else std::printf("cortexm_harness: all checks passed\n");
  return failures ? 1 : 0;
}
