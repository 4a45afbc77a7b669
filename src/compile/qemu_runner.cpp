#include "compile/qemu_runner.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "util/plugin_dirs.h"
#include "util/subprocess.h"

namespace fs = std::filesystem;

namespace rtml::compile {

namespace {

constexpr uint64_t kMiB = 1024 * 1024;
const char* const kPluginFile = "rtml-qemu-insn.so";
const char* const kInstallHint = "scripts/install-deps.sh installs them";

std::string hex(uint64_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

// QEMU's option syntax: a comma inside a value is written twice.
std::string qemu_option_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

std::string tail_of(const std::string& text, size_t max_chars = 4000) {
  return text.size() <= max_chars ? text : "..." + text.substr(text.size() - max_chars);
}

const char* const kMarkers[] = {"rtml_inference_begin", "rtml_step_begin", "rtml_inference_end"};

// A helper tool's output, or Error naming the ELF.
std::string tool_output(const std::vector<std::string>& argv, const std::string& elf) {
  util::ProcessResult r = util::run_process(argv, "", 60);
  if (r.timed_out || r.exit_status != 0)
    throw Error(elf + ": cannot read it with " + argv[0] + ": " + tail_of(r.output));
  return r.output;
}

// The marker functions' entry addresses, from the ELF's symbol table.
std::map<std::string, uint64_t> marker_addresses(const std::string& elf) {
  std::map<std::string, uint64_t> found;
  for (const ElfSymbol& s : read_elf_symbols(elf))
    for (const char* name : kMarkers)
      if (s.name == name) found[name] = s.address;
  for (const char* name : kMarkers)
    if (!found.count(name))
      throw Error(elf + ": has no " + name +
                  " (the marker functions of rtml_markers.c): build the project with MARKERS=1 (the default)");
  return found;
}

int64_t field_after(const std::string& line, const std::string& key) {
  size_t at = line.find(" " + key + "=");
  if (at == std::string::npos) return -1;
  return std::strtoll(line.c_str() + at + key.size() + 2, nullptr, 10);
}

void parse_main_line(const std::string& output, QemuRun& run) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("rtml: sets=", 0) != 0) continue;
    run.sets = field_after(line, "sets");
    run.stack_bytes = field_after(line, "stack_bytes");
    run.arena_bytes = field_after(line, "arena_bytes");
  }
}

}  // namespace

const std::vector<CortexMTarget>& cortexm_targets() {
  static const std::vector<CortexMTarget> targets = {
      {"cortex-m7", "Cortex-M7", "mps2-an500", "-mcpu=cortex-m7 -mfpu=fpv5-sp-d16 -mfloat-abi=hard", "mps2_an500.ld",
       {{"flash", 0x00000000, 4 * kMiB}, {"ram", 0x20000000, 0x20000000 + 4 * kMiB}}},
      {"cortex-m4", "Cortex-M4", "mps2-an386", "-mcpu=cortex-m4 -mfpu=fpv4-sp-d16 -mfloat-abi=hard", "mps2_an386.ld",
       {{"flash", 0x00000000, 4 * kMiB}, {"ram", 0x20000000, 0x20000000 + 4 * kMiB}}},
      {"cortex-m55", "Cortex-M55", "mps3-an547", "-mcpu=cortex-m55 -mfloat-abi=hard", "mps3_an547.ld",
       {{"flash", 0x01000000, 0x01000000 + 2 * kMiB}, {"ram", 0x21000000, 0x21000000 + 4 * kMiB}}},
  };
  return targets;
}

const CortexMTarget& find_cortexm_target(const std::string& name) {
  std::string known;
  for (const CortexMTarget& t : cortexm_targets()) {
    if (t.name == name) return t;
    known += (known.empty() ? "" : ", ") + t.name;
  }
  throw Error("unknown Cortex-M target '" + name + "' (known: " + known + ")");
}

Toolchain find_toolchain() {
  struct Tool {
    const char* name;
    const char* package;
    std::string Toolchain::*slot;
  };
  const Tool tools[] = {
      {"arm-none-eabi-gcc", "gcc-arm-none-eabi", &Toolchain::gcc},
      {"arm-none-eabi-g++", "gcc-arm-none-eabi", &Toolchain::gxx},
      {"arm-none-eabi-nm", "binutils-arm-none-eabi", &Toolchain::nm},
      {"arm-none-eabi-size", "binutils-arm-none-eabi", &Toolchain::size},
      {"make", "make", &Toolchain::make},
      {"qemu-system-arm", "qemu-system-arm", &Toolchain::qemu},
  };
  Toolchain tc;
  std::string missing;
  for (const Tool& t : tools) {
    tc.*t.slot = util::find_in_path(t.name);
    if ((tc.*t.slot).empty()) missing += std::string(missing.empty() ? "" : ", ") + t.name + " (Debian: " + t.package + ")";
  }
  if (!missing.empty())
    throw Error("the Cortex-M targets need " + missing +
                "; with gcc-arm-none-eabi also picolibc-arm-none-eabi and libnewlib-arm-none-eabi (" + kInstallHint +
                ")");
  return tc;
}

std::string find_qemu_plugin() {
  std::string path = util::find_plugin_file(kPluginFile);
  if (!path.empty()) return path;
  std::string where;
  for (const std::string& d : util::plugin_dirs()) where += (where.empty() ? "" : ", ") + d;
  throw Error(std::string("the QEMU instruction-count plugin ") + kPluginFile + " is not installed here (looked in " +
              where + "): it is built with rtml (tools/qemu-plugin), or set RTML_PLUGIN_PATH to its folder");
}

std::vector<ElfSymbol> read_elf_symbols(const std::string& elf) {
  const std::string text = tool_output({find_toolchain().nm, "-S", elf}, elf);
  std::vector<ElfSymbol> symbols;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::vector<std::string> w;
    for (std::string word; f >> word;) w.push_back(word);
    if (w.size() != 3 && w.size() != 4) continue;  // "ADDR [SIZE] TYPE NAME"; undefined symbols have no address
    ElfSymbol s;
    s.address = std::stoull(w[0], nullptr, 16);
    if (w.size() == 4) s.size = std::stoull(w[1], nullptr, 16);
    s.type = w[w.size() - 2][0];
    s.name = w.back();
    if (s.type == 'T' || s.type == 't') s.address &= ~uint64_t{1};  // Thumb bit
    symbols.push_back(s);
  }
  return symbols;
}

ElfSizes read_elf_sizes(const std::string& elf) {
  const std::string text = tool_output({find_toolchain().size, "-A", elf}, elf);
  ElfSizes sizes;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string section;
    uint64_t bytes = 0;
    if (!(f >> section >> bytes)) continue;
    if (section == ".vectors" || section == ".text") sizes.code_bytes += bytes;
    else if (section == ".rodata" || section == ".ARM.exidx") sizes.rodata_bytes += bytes;
    else if (section == ".data") sizes.data_bytes += bytes;
    else if (section == ".bss" || section == ".rtml_arena" || section.rfind(".rtml_level_", 0) == 0)
      sizes.bss_bytes += bytes;  // the --ram arena, the --memory levels: NOLOAD
  }
  return sizes;
}

std::string build_project(const std::string& dir, const CortexMTarget& target, double time_limit_s) {
  const Toolchain tc = find_toolchain();
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(dir) / "Makefile", ec))
    throw Error(dir + ": not a Cortex-M project (no Makefile): write one with rtml compile --project");
  util::ProcessResult r = util::run_process({tc.make, "-s", "TARGET=" + target.name}, dir, time_limit_s);
  if (r.timed_out)
    throw Error(dir + ": building for " + target.name + " did not finish within " + std::to_string(time_limit_s) +
                " s (stopped): " + tail_of(r.output));
  if (r.exit_status != 0)
    throw Error(dir + ": building for " + target.name + " failed:\n" + tail_of(r.output));
  const std::string elf = (fs::path(dir) / "build" / target.name / "model.elf").string();
  if (!fs::is_regular_file(elf, ec)) throw Error(dir + ": make succeeded but wrote no " + elf);
  return elf;
}

void parse_insn_counts(const std::string& text, QemuRun& run) {
  std::istringstream lines(text);
  std::string line;
  bool header = false;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::istringstream f(line);
    std::string kind, word1, word2;
    f >> kind;
    if (kind == "rtml-qemu-insn") {
      header = true;
    } else if (kind == "program_instructions") {
      f >> run.program_instructions;
    } else if (kind == "inference") {
      size_t index = 0, steps = 0;
      uint64_t insns = 0;
      f >> index >> word1 >> insns >> word2 >> steps;
      if (!f || index != run.inference_instructions.size()) throw Error("instruction counts: bad line '" + line + "'");
      run.inference_instructions.push_back(insns);
      run.step_instructions.emplace_back();
      run.step_instructions.back().reserve(steps);
    } else if (kind == "step") {
      size_t inference = 0, step = 0;
      uint64_t insns = 0;
      f >> inference >> step >> word1 >> insns;
      if (!f || inference + 1 != run.step_instructions.size() || step != run.step_instructions.back().size())
        throw Error("instruction counts: bad line '" + line + "'");
      run.step_instructions.back().push_back(insns);
    } else if (kind == "region") {
      RegionTraffic r;
      f >> r.name >> word1 >> r.load_bytes >> word2 >> r.store_bytes;
      if (!f) throw Error("instruction counts: bad line '" + line + "'");
      run.regions.push_back(r);
    } else {
      throw Error("instruction counts: unknown line '" + line + "'");
    }
  }
  if (!header) throw Error("instruction counts: not the plugin's output (no 'rtml-qemu-insn' line)");
}

QemuRun run_under_qemu(const CortexMTarget& target, const std::string& elf, const std::string& workdir,
                       const QemuRunOptions& options) {
  std::error_code ec;
  if (!fs::is_regular_file(elf, ec)) throw Error(elf + ": no such ELF file (build the project first)");
  if (!fs::is_directory(workdir, ec)) throw Error(workdir + ": no such folder (the run's inputs.bin goes there)");
  const Toolchain tc = find_toolchain();
  const std::string plugin = options.plugin.empty() ? find_qemu_plugin() : options.plugin;
  if (!fs::is_regular_file(plugin, ec)) throw Error(plugin + ": no such QEMU plugin");
  const auto markers = marker_addresses(elf);

  const fs::path counts_path = fs::absolute(fs::path(workdir) / "rtml-insn-counts.txt");
  fs::remove(counts_path, ec);
  std::string plugin_arg = qemu_option_value(fs::absolute(plugin).string()) +
                           ",begin=" + hex(markers.at("rtml_inference_begin")) +
                           ",step=" + hex(markers.at("rtml_step_begin")) +
                           ",end=" + hex(markers.at("rtml_inference_end"));
  for (const MemoryRegion& r : target.regions)
    plugin_arg += ",region=" + r.name + ":" + hex(r.start) + ":" + hex(r.end);
  plugin_arg += ",out=" + qemu_option_value(counts_path.string());

  const std::vector<std::string> argv = {
      tc.qemu, "-M", target.machine, "-nographic", "-monitor", "none", "-serial", "none",
      "-semihosting-config", "enable=on,target=native", "-kernel", fs::absolute(elf).string(),
      "-plugin", plugin_arg};
  util::ProcessResult r = util::run_process(argv, workdir, options.time_limit_s);
  QemuRun run;
  run.output = r.output;
  run.exit_status = r.exit_status;
  if (r.timed_out)
    throw Error(elf + " on " + target.machine + " (" + target.core + ") did not finish within " +
                std::to_string(options.time_limit_s) + " s: QEMU was stopped. Its output:\n" + tail_of(r.output));
  if (r.signal != 0)
    throw Error("QEMU (" + tc.qemu + ") ended by signal " + std::to_string(r.signal) + " running " + elf + ":\n" +
                tail_of(r.output));
  std::ifstream counts(counts_path);
  if (!counts)
    throw Error("QEMU or its plugin " + plugin + " failed (exit status " + std::to_string(r.exit_status) +
                ", no counts written) running " + elf + " on " + target.machine + ":\n" + tail_of(r.output));
  std::stringstream text;
  text << counts.rdbuf();
  parse_insn_counts(text.str(), run);
  parse_main_line(r.output, run);
  return run;
}

}  // namespace rtml::compile
