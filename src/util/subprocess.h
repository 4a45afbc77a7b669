// Running a helper program (make, qemu-system-arm, arm-none-eabi-nm) as a
// child process with a time limit, its stdout and stderr captured together.
// fork/execve; the child leads its own process group, so a time limit ends
// the program and everything it started (make's compilers). Not for the
// real-time path.
#pragma once

#include <string>
#include <vector>

namespace rtml::util {

struct ProcessResult {
  int exit_status = -1;   // the exit code when the program exited
  int signal = 0;         // the signal that ended it, else 0
  bool timed_out = false; // killed at the time limit
  std::string output;     // stdout and stderr, interleaved as written
};

// Runs argv (argv[0] is looked up in PATH when it has no '/') in workdir
// (empty: this process's) with this process's environment. Throws Error
// when it cannot start (not found, not executable); a program that starts
// and fails is a result.
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& workdir, double time_limit_s);

// The full path of the executable file name (looked up in PATH when it has no '/'), or "".
std::string find_in_path(const std::string& name);

}  // namespace rtml::util
