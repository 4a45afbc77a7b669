// `rtml zoo`: a thin front end to the Python zoo generator (zoo/generate.py).
// It finds the generator and a Python that has torch, onnx, numpy and
// scikit-learn (Debian's /usr/bin/python3 by default, not the first python3 on
// PATH), then runs it with fork/execve: arguments pass through unmodified (no
// shell), its output goes straight to ours and its exit code is ours.
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "core/error.h"
#include "util/subprocess.h"

extern char** environ;

namespace fs = std::filesystem;

namespace rtml::cli {

namespace {

const std::string kPackages = "python3-torch python3-onnx python3-numpy python3-sklearn";
const std::string kInstall = "sudo apt-get install " + kPackages;

bool has_generator(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "generate.py", ec);
}

// RTML_ZOO_DIR; else <folder of this executable>/../share/rtml/zoo (an
// installed rtml); else the source tree's zoo/ (a build directory).
fs::path find_zoo_dir() {
  if (const char* env = std::getenv("RTML_ZOO_DIR"); env && *env) {
    if (has_generator(env)) return env;
    throw Error(std::string("RTML_ZOO_DIR is '") + env + "', but " + (fs::path(env) / "generate.py").string() +
                " does not exist (point it at the folder holding generate.py, or unset it)");
  }
  std::vector<std::string> tried = {"$RTML_ZOO_DIR (not set)"};
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path installed = (exe.parent_path() / ".." / "share" / "rtml" / "zoo").lexically_normal();
    if (has_generator(installed)) return installed;
    tried.push_back(installed.string());
  } else {
    tried.push_back("<folder of rtml>/../share/rtml/zoo (cannot read /proc/self/exe: " + ec.message() + ")");
  }
#ifdef RTML_SOURCE_ZOO_DIR
  if (has_generator(RTML_SOURCE_ZOO_DIR)) return RTML_SOURCE_ZOO_DIR;
  tried.push_back(RTML_SOURCE_ZOO_DIR);
#endif
  std::string msg = "cannot find the zoo generator (generate.py); looked in:";
  for (const auto& t : tried) msg += "\n  " + t;
  throw Error(msg + "\nSet RTML_ZOO_DIR to the folder that holds generate.py.");
}

// RTML_PYTHON (a path, or a name looked up on PATH), default /usr/bin/python3.
std::string find_python() {
  const char* env = std::getenv("RTML_PYTHON");
  std::string py = env && *env ? env : "/usr/bin/python3";
  if (py.find('/') == std::string::npos) {
    if (std::string found = util::find_in_path(py); !found.empty()) return found;
    throw Error("RTML_PYTHON is '" + py + "', which is not on PATH (give the full path, e.g. /usr/bin/python3)");
  }
  if (::access(py.c_str(), X_OK) != 0)
    throw Error(py + ": cannot run it (" + std::strerror(errno) + "); " +
                (env && *env ? "RTML_PYTHON must name a Python 3 interpreter"
                             : "install Python 3 and the zoo's libraries with:\n  sudo apt-get install python3 " +
                                   kPackages + "\nor set RTML_PYTHON to a Python 3 that has them"));
  return py;
}

// Runs argv (argv[0] is a path; no shell, no PATH search). The child gets our
// stdin/stdout/stderr, or with `capture` a pipe for stdout and stderr whose
// text lands there.
struct ExitStatus {
  int code = 0;    // exit code, or 128 + signal like a shell's $?
  int signal = 0;  // the signal that stopped it, 0 if it exited
};
ExitStatus spawn(const std::vector<std::string>& argv, std::string* capture) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  // Progress should appear as it is printed, also when our output is a pipe.
  std::vector<std::string> env_strings;
  bool has_unbuffered = false;
  for (char** e = environ; e && *e; ++e) {
    env_strings.emplace_back(*e);
    if (env_strings.back().rfind("PYTHONUNBUFFERED=", 0) == 0) has_unbuffered = true;
  }
  if (!has_unbuffered) env_strings.emplace_back("PYTHONUNBUFFERED=1");
  std::vector<char*> cenv;
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};  // err_pipe: exec failure's errno
  if (capture && ::pipe2(out_pipe, O_CLOEXEC) != 0) throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));

  // Like system(): while the child runs, Ctrl-C goes to it (the terminal
  // signals the whole process group) and we wait for it to finish.
  struct sigaction ignore = {}, old_int, old_quit;
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGINT, &ignore, &old_int);
  ::sigaction(SIGQUIT, &ignore, &old_quit);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGQUIT, &old_quit, nullptr);
    if (capture) {
      ::dup2(out_pipe[1], STDOUT_FILENO);
      ::dup2(out_pipe[1], STDERR_FILENO);
    }
    ::execve(cargv[0], cargv.data(), cenv.data());
    int err = errno;
    (void)!::write(err_pipe[1], &err, sizeof err);
    ::_exit(127);
  }
  int fork_errno = errno;
  if (capture) ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (pid < 0) {
    if (capture) ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGQUIT, &old_quit, nullptr);
    throw Error(std::string("cannot start ") + argv[0] + ": fork failed (" + std::strerror(fork_errno) + ")");
  }
  if (capture) {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(out_pipe[0], buf, sizeof buf)) != 0) {
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      capture->append(buf, static_cast<size_t>(n));
    }
    ::close(out_pipe[0]);
  }
  int exec_errno = 0;
  ssize_t got;
  while ((got = ::read(err_pipe[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  ::close(err_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGQUIT, &old_quit, nullptr);
  if (got == static_cast<ssize_t>(sizeof exec_errno))
    throw Error(std::string("cannot run ") + argv[0] + " (" + std::strerror(exec_errno) + ")");
  if (WIFSIGNALED(status)) return {128 + WTERMSIG(status), WTERMSIG(status)};
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 1, 0};
}

// Throws, naming each module `python` cannot import and the fix, unless it
// imports torch, onnx, numpy and sklearn.
void check_python(const std::string& python) {
  const char* script =
      "import importlib\n"
      "for name in ('torch', 'onnx', 'numpy', 'sklearn'):\n"
      "    try:\n"
      "        importlib.import_module(name)\n"
      "    except Exception as e:\n"
      "        print('rtml-missing ' + name + ': ' + (str(e).splitlines() or [type(e).__name__])[0])\n";
  std::string out;
  int code = spawn({python, "-c", script}, &out).code;
  // Our script's "rtml-missing NAME: why" lines; failing that (the
  // interpreter did not get as far as our script), Python's own
  // "No module named 'NAME'".
  std::vector<std::string> missing, details;
  auto add = [&](const std::string& name, const std::string& why) {
    for (const auto& m : missing)
      if (m == name) return;
    missing.push_back(name);
    details.push_back(name + ": " + why);
  };
  const std::string marker = "rtml-missing ", no_module = "No module named '";
  for (size_t pos = 0; pos < out.size();) {
    size_t end = out.find('\n', pos);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind(marker, 0) == 0) {
      std::string rest = line.substr(marker.size());
      size_t colon = rest.find(':');
      add(rest.substr(0, colon), colon == std::string::npos ? "" : rest.substr(std::min(colon + 2, rest.size())));
    } else if (size_t at = line.find(no_module); at != std::string::npos) {
      size_t start = at + no_module.size(), stop = line.find('\'', start);
      if (stop == std::string::npos) continue;
      std::string module = line.substr(start, stop - start);
      add(module.substr(0, module.find('.')), line.substr(at, stop + 1 - at));
    }
  }
  const std::string fix = "The zoo generator needs torch, onnx, numpy and scikit-learn. Install them with:\n  " + kInstall +
                          "\n(or set RTML_PYTHON to a Python 3 that has them)";
  if (!missing.empty()) {
    std::string names, why;
    for (size_t i = 0; i < missing.size(); ++i) {
      names += (i ? ", " : "") + missing[i];
      why += "\n  " + details[i];
    }
    throw Error(python + " cannot import " + names + ":" + why + "\n" + fix);
  }
  if (code != 0) {
    if (out.size() > 2000) out = "..." + out.substr(out.size() - 2000);
    throw Error(python + " failed to check its libraries (exit code " + std::to_string(code) + "):\n" + out + fix);
  }
}

// For showing a command line: quotes what a shell would split or expand.
std::string shell_quoted(const std::string& a) {
  bool plain = !a.empty();
  for (char c : a)
    if (!std::isalnum(static_cast<unsigned char>(c)) && !std::strchr("_-./=:,+@%", c)) plain = false;
  if (plain) return a;
  std::string out = "'";
  for (char c : a) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  out += '\'';
  return out;
}

}  // namespace

int cmd_zoo(const Args& args) {
  std::string out = "rtml-zoo", set = "default";
  std::vector<std::string> only;
  bool list = false;
  OptionTable table("zoo", "[--out DIR] [--set default|sweep|patterns|all] [--only NAME]... [--list]",
                    "Generates the example model zoo by running zoo/generate.py: trains and exports the models\n"
                    "into DIR, then makes int8 versions of matvec_256, digits_mlp, digits_cnn and gesture_cnn\n"
                    "(NAME_int8) with rtml quantize.");
  table.value("--out", "DIR", out, "where the zoo goes (default ./rtml-zoo)")
      .choice("--set", set, {"default", "sweep", "patterns", "all"}, "which models (default: default)")
      .repeatable("--only", "NAME", only, "only these models (repeatable; --list shows the names)")
      .flag("--list", list, "list the models instead")
      .notes("Needs a Python with torch, onnx, numpy and scikit-learn:\n  " + kInstall +
             "\nEnvironment: RTML_PYTHON (default /usr/bin/python3), RTML_ZOO_DIR (the folder holding\n"
             "generate.py; default: <rtml's folder>/../share/rtml/zoo, then the source tree's zoo/).\n"
             "The exit code is the generator's.");
  if (!table.parse(args)) return 0;
  if (out.empty()) throw UsageError("--out needs a directory name");
  for (const auto& name : only)
    if (name.empty()) throw UsageError("--only needs a model name (rtml zoo --list shows them)");

  fs::path zoo = find_zoo_dir();
  std::string python = find_python();
  check_python(python);

  std::vector<std::string> argv = {python, (zoo / "generate.py").string(), "--out", out, "--set", set};
  for (const auto& n : only) {
    argv.push_back("--only");
    argv.push_back(n);
  }
  if (list) argv.push_back("--list");
  // The int8 models (zoo/quantized.py) are made by this rtml's `quantize`.
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!list && !ec) {
    argv.push_back("--rtml");
    argv.push_back(self.string());
  }
  std::string shown;
  for (const auto& a : argv) {
    if (!shown.empty()) shown += ' ';
    shown += shell_quoted(a);
  }
  std::fprintf(stderr, "rtml zoo: running %s\n", shown.c_str());
  ExitStatus st = spawn(argv, nullptr);
  if (st.signal) std::fprintf(stderr, "rtml zoo: generate.py was stopped by signal %d (%s)\n", st.signal, strsignal(st.signal));
  else if (st.code != 0) std::fprintf(stderr, "rtml zoo: generate.py failed (exit code %d)\n", st.code);
  return st.code;
}

}  // namespace rtml::cli
