// util/subprocess (what the Cortex-M runner starts make, nm and QEMU with) and
// the parts of compile/qemu_runner that need no ARM toolchain: the target
// table and the plugin's line format. The end-to-end runs on the emulated
// boards are tests/cortexm (ctest cortexm_harness).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "compile/qemu_runner.h"
#include "error_of.h"
#include "util/subprocess.h"

using namespace rtml;

TEST(Subprocess, CapturesStdoutAndStderrAndTheExitStatus) {
  util::ProcessResult r = util::run_process({"sh", "-c", "echo to-out; echo to-err >&2; exit 3"}, "", 60);
  EXPECT_EQ(r.exit_status, 3);
  EXPECT_FALSE(r.timed_out);
  EXPECT_NE(r.output.find("to-out"), std::string::npos);
  EXPECT_NE(r.output.find("to-err"), std::string::npos);
}

TEST(Subprocess, RunsInTheGivenFolder) {
  util::ProcessResult r = util::run_process({"pwd"}, "/", 60);
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.output, "/\n");
}

TEST(Subprocess, AProgramPastItsTimeLimitIsKilledWithWhatItStartedSoFar) {
  // The shell starts a child that would outlive it; the whole group goes.
  util::ProcessResult r = util::run_process({"sh", "-c", "echo started; sleep 60 & wait"}, "", 0.5);
  EXPECT_TRUE(r.timed_out);
  EXPECT_NE(r.output.find("started"), std::string::npos);
}

TEST(Subprocess, AMissingProgramOrFolderIsAnErrorNamingIt) {
  EXPECT_NE(error_of([] { util::run_process({"rtml-no-such-program"}, "", 5); }).find("rtml-no-such-program: not found"),
            std::string::npos);
  EXPECT_NE(error_of([] { util::run_process({"true"}, "/rtml-no-such-folder", 5); })
                .find("cannot run true in /rtml-no-such-folder (No such file or directory)"),
            std::string::npos);
}

TEST(CortexMTargets, KnownNamesAndAnUnknownOneListsThem) {
  EXPECT_EQ(compile::find_cortexm_target("cortex-m7").machine, "mps2-an500");
  EXPECT_EQ(compile::find_cortexm_target("cortex-m4").machine, "mps2-an386");
  EXPECT_EQ(compile::find_cortexm_target("cortex-m55").machine, "mps3-an547");
  std::string m = error_of([] { compile::find_cortexm_target("stm32f746"); });
  EXPECT_NE(m.find("unknown Cortex-M target 'stm32f746' (known: cortex-m7, cortex-m4, cortex-m55)"), std::string::npos)
      << m;
}

TEST(CortexMTargets, ParsesThePluginsCounts) {
  compile::QemuRun run;
  compile::parse_insn_counts(
      "rtml-qemu-insn 1\n"
      "program_instructions 9000\n"
      "inference 0 instructions 70 steps 2\n"
      "step 0 0 instructions 30\n"
      "step 0 1 instructions 35\n"
      "inference 1 instructions 71 steps 0\n"
      "region flash load_bytes 16 store_bytes 0\n"
      "region other load_bytes 0 store_bytes 4\n",
      run);
  EXPECT_EQ(run.program_instructions, 9000u);
  EXPECT_EQ(run.inference_instructions, (std::vector<uint64_t>{70, 71}));
  ASSERT_EQ(run.step_instructions.size(), 2u);
  EXPECT_EQ(run.step_instructions[0], (std::vector<uint64_t>{30, 35}));
  EXPECT_TRUE(run.step_instructions[1].empty());
  ASSERT_EQ(run.regions.size(), 2u);
  EXPECT_EQ(run.regions[0].name, "flash");
  EXPECT_EQ(run.regions[0].load_bytes, 16u);
  EXPECT_EQ(run.regions[1].store_bytes, 4u);

  compile::QemuRun bad;
  EXPECT_NE(error_of([&] { compile::parse_insn_counts("rtml-qemu-insn 1\nstep 0 0 instructions 5\n", bad); })
                .find("bad line 'step 0 0 instructions 5'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { compile::parse_insn_counts("hello\n", bad); }).find("unknown line 'hello'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { compile::parse_insn_counts("", bad); }).find("not the plugin's output"), std::string::npos);
}

// The target table and the project files say the same thing: the Makefile's
// flags, machine and linker script per target, and each linker script's
// FLASH and RAM regions (the plugin's region map).
TEST(CortexMTargets, AgreeWithTheMakefileAndTheLinkerScripts) {
  const std::string dir = std::string(RTML_SOURCE_DIR) + "/src/compile/targets/cortex-m/";
  auto read = [](const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  };
  const std::string makefile = read(dir + "Makefile");
  for (const compile::CortexMTarget& t : compile::cortexm_targets()) {
    size_t block = makefile.find("ifeq ($(TARGET)," + t.name + ")");
    if (block == std::string::npos) block = makefile.find("else ifeq ($(TARGET)," + t.name + ")");
    ASSERT_NE(block, std::string::npos) << t.name;
    const std::string rest = makefile.substr(block, makefile.find("else", block + 5) - block);
    EXPECT_NE(rest.find("CPU_FLAGS := " + t.gcc_flags + "\n"), std::string::npos) << t.name;
    EXPECT_NE(rest.find("MACHINE := " + t.machine + "\n"), std::string::npos) << t.name;
    EXPECT_NE(rest.find("LDSCRIPT := " + t.linker_script + "\n"), std::string::npos) << t.name;

    const std::string script = read(dir + t.linker_script);
    ASSERT_FALSE(script.empty()) << t.linker_script;
    for (const compile::MemoryRegion& r : t.regions) {
      const std::string region = r.name == "flash" ? "FLASH" : "RAM";
      size_t at = script.find("\n  " + region + " ");
      ASSERT_NE(at, std::string::npos) << t.linker_script << ": " << region;
      unsigned long long origin = 0, length = 0;
      char unit = 0;
      const std::string line = script.substr(at, script.find('\n', at + 1) - at);
      ASSERT_EQ(std::sscanf(line.c_str() + line.find("ORIGIN"), "ORIGIN = %llx, LENGTH = %llu%c", &origin, &length,
                            &unit),
                3)
          << line;
      length *= unit == 'M' ? 1024 * 1024 : unit == 'K' ? 1024 : 1;
      EXPECT_EQ(r.start, origin) << t.linker_script << ": " << region;
      EXPECT_EQ(r.end, origin + length) << t.linker_script << ": " << region;
    }
  }
}
