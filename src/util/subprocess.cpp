#include "util/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

extern char** environ;

namespace rtml::util {

std::string find_in_path(const std::string& name) {
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = (end > start ? dirs.substr(start, end - start) : ".") + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return "";
}

namespace {

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& workdir, double time_limit_s) {
  if (argv.empty()) throw Error("run_process: no program given");
  const std::string program = find_in_path(argv[0]);
  if (program.empty()) throw Error("cannot run " + argv[0] + ": not found in PATH");
  std::vector<char*> cargv;
  for (const std::string& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  int out[2] = {-1, -1};  // the child's stdout and stderr
  int err[2] = {-1, -1};  // an exec failure's errno (closed on exec when it works)
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    close_fd(out[0]), close_fd(out[1]);
    throw Error("cannot run " + argv[0] + ": pipe failed (" + std::strerror(errno) + ")");
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::setpgid(0, 0);
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(out[1], STDERR_FILENO);
    int null_in = ::open("/dev/null", O_RDONLY);
    if (null_in >= 0) ::dup2(null_in, STDIN_FILENO);
    int failure[2] = {0, 0};  // {1: chdir, 2: execve; errno}
    if (!workdir.empty() && ::chdir(workdir.c_str()) != 0) {
      failure[0] = 1, failure[1] = errno;
    } else {
      ::execve(program.c_str(), cargv.data(), environ);
      failure[0] = 2, failure[1] = errno;
    }
    (void)!::write(err[1], failure, sizeof failure);
    ::_exit(127);
  }
  const int fork_errno = errno;
  close_fd(out[1]);
  close_fd(err[1]);
  if (pid < 0) {
    close_fd(out[0]), close_fd(err[0]);
    throw Error("cannot run " + argv[0] + ": fork failed (" + std::strerror(fork_errno) + ")");
  }
  ::setpgid(pid, pid);  // also here, so a kill below never races the child's own call

  ProcessResult result;
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::duration<double>(time_limit_s);
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      break;
    }
    pollfd p{out[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left < 1000 ? left : 1000));
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    ssize_t n = ::read(out[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child and everything it started closed the pipe
    result.output.append(buf, static_cast<size_t>(n));
  }
  close_fd(out[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (result.timed_out) ::kill(-pid, SIGKILL);  // anything left in the group
  int failure[2] = {0, 0};
  ssize_t got;
  while ((got = ::read(err[0], failure, sizeof failure)) < 0 && errno == EINTR) {
  }
  close_fd(err[0]);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    if (failure[0] == 1)
      throw Error("cannot run " + argv[0] + " in " + workdir + " (" + std::strerror(failure[1]) + ")");
    throw Error("cannot run " + program + " (" + std::strerror(failure[1]) + ")");
  }
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace rtml::util
