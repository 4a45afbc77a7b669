// profile/sampler: `perf record` on this process, `perf script`, and folding
// its text into folded stacks. See sampler.h.
//
// Starting perf without losing the beginning or sampling perf's own start-up:
// perf record is started with its events disabled (`-D -1`) and a control
// channel (`--control fd:CTL,ACK`, two pipes it inherits). We write "enable"
// at once; perf reads it only from its main loop, i.e. after it has attached
// to every thread of this process and written the existing memory maps, then
// enables the events and answers "ack". work() starts only after that ack, so
// the sampled window is exactly work(). While waiting we also watch for perf
// exiting (refused event, bad option): its stderr, kept in a log file, becomes
// the error. A perf without --control (older than 5.9) gets a second start
// without it, and we wait for perf.data to appear plus 200 ms (noted).
//
// perf silently replaces `cycles` by `cpu-clock` when the hardware has no
// cycle counter; the event really used is read back from the samples.
#include "profile/sampler.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "util/subprocess.h"

namespace fs = std::filesystem;

namespace rtml::profile {

// ---- folding ---------------------------------------------------------------

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// "13066.705165:"
bool is_time_token(std::string_view t) {
  if (t.size() < 4 || t.back() != ':') return false;
  t.remove_suffix(1);
  size_t dot = t.find('.');
  return dot != std::string_view::npos && all_digits(t.substr(0, dot)) && all_digits(t.substr(dot + 1));
}

// "12345/12346" or "12346"
bool is_pid_token(std::string_view t) {
  size_t slash = t.find('/');
  if (slash == std::string_view::npos) return all_digits(t);
  return all_digits(t.substr(0, slash)) && all_digits(t.substr(slash + 1));
}

// "cpu-clock:ppp" -> "cpu-clock", "cycles:u" -> "cycles"; a tracepoint
// "sched:sched_switch" keeps its name (only modifier letters are dropped).
std::string base_event(std::string_view e) {
  size_t colon = e.rfind(':');
  if (colon != std::string_view::npos && colon + 1 < e.size()) {
    std::string_view mods = e.substr(colon + 1);
    if (std::all_of(mods.begin(), mods.end(), [](char c) { return std::strchr("ukhIGHpPSDWe", c) != nullptr; }))
      e = e.substr(0, colon);
  }
  return std::string(e);
}

struct Token {
  std::string_view text;
  size_t pos;  // offset in the line
};

std::vector<Token> tokenize(std::string_view line) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    if (i >= line.size()) break;
    size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    out.push_back({line.substr(start, i - start), start});
  }
  return out;
}

struct Frame {
  std::string name;  // folded name
  bool kernel = false;
};

std::string basename_of(std::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// "ADDRESS SYMBOL[+0xOFF] (DSO)" (the frame text after the tab, trimmed).
// Returns false when it does not start with a hex address.
bool parse_frame(std::string_view s, Frame& frame) {
  size_t i = 0;
  while (i < s.size() && is_hex(s[i])) ++i;
  if (i == 0 || (i < s.size() && !is_space(s[i]))) return false;
  uint64_t address = 0;
  for (size_t k = 0; k < i; ++k) {
    char c = s[k];
    address = address * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  std::string_view rest = trim(s.substr(i));
  std::string_view dso;
  if (!rest.empty() && rest.back() == ')') {
    // the dso is the last parenthesised group; symbols may hold parentheses
    // themselves ("f(int)", "(anonymous namespace)::g").
    int depth = 0;
    for (size_t k = rest.size(); k-- > 0;) {
      if (rest[k] == ')') ++depth;
      else if (rest[k] == '(' && --depth == 0) {
        if (k == 0 || is_space(rest[k - 1])) {
          dso = rest.substr(k + 1, rest.size() - k - 2);
          rest = trim(rest.substr(0, k));
        }
        break;
      }
    }
  }
  std::string_view sym = rest;
  // drop "+0x1f6f"
  size_t plus = sym.rfind("+0x");
  if (plus != std::string_view::npos && plus + 3 < sym.size() &&
      std::all_of(sym.begin() + static_cast<long>(plus) + 3, sym.end(), is_hex))
    sym = sym.substr(0, plus);
  if (sym.empty() || sym == "[unknown]") {
    frame.name = (dso.empty() || dso == "[unknown]") ? "[unknown]" : "[unknown] (" + basename_of(dso) + ")";
  } else {
    frame.name.assign(sym);
    std::replace(frame.name.begin(), frame.name.end(), ';', ':');  // ';' separates folded frames
  }
  frame.kernel = dso.rfind("[kernel.", 0) == 0 ||
                 (dso.size() > 2 && dso.front() == '[' && dso != "[unknown]" && address >= 0xffff000000000000ull);
  return true;
}

struct PendingSample {
  bool active = false;
  size_t line = 0;
  std::string comm;
  int64_t period = -1;
  std::vector<Frame> frames;  // leaf first
};

}  // namespace

FoldedStacks fold_perf_script(const std::string& text, const FoldOptions& options) {
  FoldedStacks out;
  std::vector<std::string> events;
  PendingSample cur;
  std::string stack;

  auto finish = [&]() {
    if (!cur.active) return;
    cur.active = false;
    ++out.samples;
    if (!options.comm.empty() && cur.comm != options.comm) {
      ++out.skipped;
      return;
    }
    int64_t weight = 1;
    if (options.weight_by_period) {
      if (cur.period < 0)
        throw Error("perf script output, line " + std::to_string(cur.line) +
                    ": the sample has no period, so it cannot be weighted by period "
                    "(print it with the period field, e.g. perf script -F +period)");
      weight = cur.period;
    }
    stack.clear();
    bool any = false;
    for (size_t k = cur.frames.size(); k-- > 0;) {
      const Frame& f = cur.frames[k];
      if (f.kernel && !options.include_kernel) continue;
      if (any) stack += ';';
      stack += f.name;
      any = true;
    }
    if (!any) {
      if (!cur.frames.empty()) {  // kernel frames only, and those are filtered out
        ++out.skipped;
        return;
      }
      stack = "[unknown]";  // a sample without a call chain
    }
    out.counts[stack] += weight;
  };

  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view t = trim(line);
    if (t.empty()) {
      finish();
      continue;
    }
    if (line.front() == '\t') {  // a call-chain frame
      if (!cur.active)
        throw Error("perf script output, line " + std::to_string(line_no) +
                    ": a call-chain frame outside a sample (no sample header line before it): '" + std::string(t) +
                    "'");
      Frame f;
      if (!parse_frame(t, f))
        throw Error("perf script output, line " + std::to_string(line_no) +
                    ": expected a call-chain frame 'ADDRESS SYMBOL (DSO)', got '" + std::string(t) + "'");
      cur.frames.push_back(std::move(f));
      continue;
    }
    if (t.front() == '#' && !cur.active) continue;  // perf script --header comments
    // A sample header: COMM [PID/]TID [CPU] TIME: [PERIOD] EVENT: [IP SYM (DSO)]
    finish();
    std::vector<Token> tok = tokenize(line);
    size_t ti = 0;
    while (ti < tok.size() && !is_time_token(tok[ti].text)) ++ti;
    if (ti == tok.size() || ti == 0)
      throw Error("perf script output, line " + std::to_string(line_no) +
                  ": expected a sample header 'COMM PID/TID TIME: PERIOD EVENT:' or a tab-indented frame, got '" +
                  std::string(t) + "' (is this the text perf script prints?)");
    size_t comm_end = ti;
    if (comm_end > 1 && tok[comm_end - 1].text.size() > 2 && tok[comm_end - 1].text.front() == '[' &&
        tok[comm_end - 1].text.back() == ']')
      --comm_end;  // "[003]" cpu
    if (comm_end > 1 && is_pid_token(tok[comm_end - 1].text)) --comm_end;
    cur = PendingSample();
    cur.active = true;
    cur.line = line_no;
    cur.comm = std::string(trim(line.substr(0, tok[comm_end].pos)));
    size_t k = ti + 1;
    if (k < tok.size() && all_digits(tok[k].text)) {
      cur.period = std::strtoll(std::string(tok[k].text).c_str(), nullptr, 10);
      ++k;
    }
    if (k < tok.size() && tok[k].text.size() > 1 && tok[k].text.back() == ':') {
      std::string ev = base_event(tok[k].text.substr(0, tok[k].text.size() - 1));
      if (std::find(events.begin(), events.end(), ev) == events.end()) events.push_back(ev);
      ++k;
    }
    if (k < tok.size()) {  // recorded without -g: the sampled ip is on the header line
      Frame f;
      if (parse_frame(trim(line.substr(tok[k].pos)), f)) cur.frames.push_back(std::move(f));
    }
  }
  finish();
  for (size_t i = 0; i < events.size(); ++i) out.event += (i ? "," : "") + events[i];
  return out;
}

std::string folded_text(const FoldedStacks& folded) {
  std::string out;
  for (const auto& [stack, count] : folded.counts) {
    out += stack;
    out += ' ';
    out += std::to_string(count);
    out += '\n';
  }
  return out;
}

// ---- running perf ----------------------------------------------------------

namespace {

constexpr size_t kScriptLimit = size_t(256) << 20;  // perf script text kept (bytes)

std::string read_text_file(const fs::path& p, size_t limit = 1 << 16) {
  std::ifstream f(p, std::ios::binary);
  std::string s;
  if (!f) return s;
  s.resize(limit);
  f.read(s.data(), static_cast<std::streamsize>(limit));
  s.resize(static_cast<size_t>(f.gcount()));
  return s;
}

std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

std::string trim_copy(const std::string& s) { return std::string(trim(s)); }

// perf's own messages, without perf's progress lines.
std::string perf_messages(const std::string& log) {
  std::string out;
  std::istringstream in(log);
  std::string l;
  while (std::getline(in, l)) {
    std::string t = trim_copy(l);
    if (t.empty() || t.rfind("[ perf record:", 0) == 0 || t == "Events disabled" || t == "Events enabled") continue;
    if (!out.empty()) out += "; ";
    out += t;
  }
  if (out.size() > 600) out = out.substr(0, 600) + "...";
  return out;
}

std::string paranoid() {
  std::string v = trim_copy(read_text_file("/proc/sys/kernel/perf_event_paranoid", 64));
  return v.empty() ? "?" : v;
}

std::string self_comm() { return trim_copy(read_text_file("/proc/self/comm", 64)); }

// A started child. argv[0] is a full path; stdout goes to `out_fd` (or
// /dev/null when -1), stderr to `err_fd`; `keep` are fds the child inherits.
struct Child {
  pid_t pid = -1;
  int exec_errno = 0;
};

Child start_child(const std::vector<std::string>& argv, int out_fd, int err_fd, const std::vector<int>& keep) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    if (null_fd >= 0) ::close(null_fd);
    return {-1, errno};
  }
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_fd >= 0 ? out_fd : null_fd, STDOUT_FILENO);
    ::dup2(err_fd >= 0 ? err_fd : null_fd, STDERR_FILENO);
    for (int fd : keep) ::fcntl(fd, F_SETFD, 0);
    ::execv(cargv[0], cargv.data());
    int e = errno;
    (void)!::write(err_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  int fork_errno = errno;
  ::close(err_pipe[1]);
  if (null_fd >= 0) ::close(null_fd);
  if (pid < 0) {
    ::close(err_pipe[0]);
    return {-1, fork_errno};
  }
  int e = 0;
  ssize_t n;
  while ((n = ::read(err_pipe[0], &e, sizeof e)) < 0 && errno == EINTR) {
  }
  ::close(err_pipe[0]);
  if (n == static_cast<ssize_t>(sizeof e)) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return {-1, e};
  }
  return {pid, 0};
}

// waitpid with a deadline; false (still running) when it passed.
bool wait_for(pid_t pid, int& status, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) {
      status = 0;
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

// Runs a child to its end, its stdout into `out` (at most `limit` bytes: the
// rest is drained and dropped, `truncated` set), stderr into `err_path`.
// Returns the wait status, or -1 with `error` set.
int run_capture(const std::vector<std::string>& argv, std::string& out, size_t limit, bool& truncated,
                const fs::path& err_path, std::chrono::seconds timeout, std::string& error) {
  truncated = false;
  int pipe_fd[2];
  if (::pipe2(pipe_fd, O_CLOEXEC) != 0) {
    error = std::string("cannot create a pipe: ") + std::strerror(errno);
    return -1;
  }
  int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  Child c = start_child(argv, pipe_fd[1], err_fd, {});
  ::close(pipe_fd[1]);
  if (err_fd >= 0) ::close(err_fd);
  if (c.pid < 0) {
    ::close(pipe_fd[0]);
    error = "cannot run " + argv[0] + ": " + std::strerror(c.exec_errno);
    return -1;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::close(pipe_fd[0]);
      kill_and_reap(c.pid);
      error = argv[0] + " " + argv[1] + " did not finish within " + std::to_string(timeout.count()) + " s";
      return -1;
    }
    pollfd p{pipe_fd[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    ssize_t n = ::read(pipe_fd[0], buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) break;
    size_t room = limit > out.size() ? limit - out.size() : 0;
    out.append(buf, std::min(room, static_cast<size_t>(n)));
    if (static_cast<size_t>(n) > room) truncated = true;
  }
  ::close(pipe_fd[0]);
  int status = 0;
  if (!wait_for(c.pid, status, std::chrono::seconds(10))) {
    kill_and_reap(c.pid);
    error = argv[0] + " did not exit";
    return -1;
  }
  return status;
}

// Removes the temporary folder (when we made it) on every way out.
struct TempDir {
  fs::path path;
  bool owned = false;
  ~TempDir() {
    if (owned) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  }
};

std::string install_hint() {
  return "install it: sudo apt-get install linux-perf (Debian; Ubuntu: linux-tools-generic), "
         "or name the executable with the perf option";
}

// Why perf record refused, from its messages.
std::string explain_refusal(const std::string& messages) {
  std::string p = paranoid();
  if (messages.find("perf_event_paranoid") != std::string::npos ||
      messages.find("Permission denied") != std::string::npos ||
      messages.find("Access to performance monitoring") != std::string::npos ||
      messages.find("No permission") != std::string::npos)
    return "perf_event_paranoid=" + p +
           " refuses sampling this process (run as root, or lower it: sudo sysctl kernel.perf_event_paranoid=1); "
           "perf said: " +
           messages;
  return "perf record failed: " + (messages.empty() ? std::string("(no message)") : messages);
}

struct Recording {
  pid_t pid = -1;
  bool started = false;
  std::string error;      // perf's messages when it did not start
  bool no_control = false;  // perf does not know --control
  int ctl_fds[2] = {-1, -1};  // the control pipe, closed once perf has exited
};

// Starts perf record and waits until it samples.
Recording start_record(const std::string& perf, const std::string& event, const std::string& call_graph, int hz,
                       const fs::path& data, const fs::path& log, bool use_control) {
  Recording rec;
  int ctl[2] = {-1, -1}, ack[2] = {-1, -1};
  if (use_control && (::pipe2(ctl, O_CLOEXEC) != 0 || ::pipe2(ack, O_CLOEXEC) != 0)) {
    rec.error = std::string("cannot create a pipe: ") + std::strerror(errno);
    for (int fd : {ctl[0], ctl[1], ack[0], ack[1]})
      if (fd >= 0) ::close(fd);
    return rec;
  }
  std::error_code ec;
  fs::remove(data, ec);
  std::vector<std::string> argv = {perf, "record", "-e", event, "--call-graph", call_graph, "-F", std::to_string(hz),
                                   "-p", std::to_string(::getpid()), "-o", data.string(), "--no-buildid-cache"};
  if (use_control) {
    argv.insert(argv.end(), {"-D", "-1", "--control",
                             "fd:" + std::to_string(ctl[0]) + "," + std::to_string(ack[1])});
  }
  int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  std::vector<int> keep;
  if (use_control) keep = {ctl[0], ack[1]};
  Child c = start_child(argv, log_fd, log_fd, keep);
  if (log_fd >= 0) ::close(log_fd);
  // We keep the read end of the control pipe too: with a reader left, writing
  // "enable" to a perf that has already exited cannot raise SIGPIPE here.
  if (use_control) ::close(ack[1]);
  if (c.pid < 0) {
    if (use_control) {
      ::close(ctl[0]);
      ::close(ctl[1]);
      ::close(ack[0]);
    }
    rec.error = "cannot run " + perf + ": " + std::strerror(c.exec_errno);
    return rec;
  }
  rec.pid = c.pid;
  // A guard against a perf that never starts, not a measure of speed: perf's start-up reads every
  // mapped object's symbols, which on a loaded machine took more than 20 s.
  constexpr int kStartLimitS = 120;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kStartLimitS);
  auto exited = [&]() {
    int status;
    pid_t r = ::waitpid(c.pid, &status, WNOHANG);
    return r == c.pid || (r < 0 && errno == ECHILD);
  };
  auto fail = [&](const std::string& why) {
    std::string messages = perf_messages(read_text_file(log));
    if (use_control && messages.find("control") != std::string::npos &&
        (messages.find("unknown option") != std::string::npos || messages.find("Unknown option") != std::string::npos))
      rec.no_control = true;
    rec.error = why.empty() ? messages : why + (messages.empty() ? "" : "; perf said: " + messages);
    rec.pid = -1;
  };
  if (use_control) {
    static const char kEnable[] = "enable\n";
    (void)!::write(ctl[1], kEnable, sizeof kEnable - 1);
    std::string got;
    while (got.find("ack") == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline) {
        kill_and_reap(c.pid);
        fail("perf record did not start sampling within " + std::to_string(kStartLimitS) + " s");
        break;
      }
      pollfd p{ack[0], POLLIN, 0};
      int r = ::poll(&p, 1, 50);
      if (r > 0) {
        char buf[64];
        ssize_t n = ::read(ack[0], buf, sizeof buf);
        if (n > 0) {
          got.append(buf, static_cast<size_t>(n));
          continue;
        }
      }
      if (exited()) {
        fail("");
        break;
      }
    }
    // The control pipe stays open while perf runs: perf 6.1 drops a hung-up
    // control fd from its poll set and then stops with "Thread and evlist
    // pollfd index mismatch" without finishing perf.data.
    ::close(ack[0]);
    rec.started = rec.pid > 0;
    if (rec.started) {
      rec.ctl_fds[0] = ctl[0];
      rec.ctl_fds[1] = ctl[1];
    } else {
      ::close(ctl[0]);
      ::close(ctl[1]);
    }
    return rec;
  }
  // No control channel: perf.data appears once perf has set up; give it a moment more.
  for (;;) {
    if (exited()) {
      fail("");
      return rec;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      kill_and_reap(c.pid);
      fail("perf record did not start within " + std::to_string(kStartLimitS) + " s");
      return rec;
    }
    if (fs::file_size(data, ec) > 0 && !ec) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  rec.started = true;
  return rec;
}

}  // namespace

SampleResult sample_with_perf(const std::function<void()>& work, const SampleOptions& options) {
  SampleResult res;
  res.call_graph = options.call_graph.empty() ? "fp" : options.call_graph;
  const std::string perf = util::find_in_path(options.perf);
  if (perf.empty()) {
    res.error = (options.perf.find('/') != std::string::npos ? options.perf + " does not exist or cannot run"
                                                             : "perf not found on PATH") +
                std::string(": ") + install_hint();
    return res;
  }
  if (options.frequency_hz <= 0) {
    res.error = "the sampling frequency must be positive (got " + std::to_string(options.frequency_hz) + " Hz)";
    return res;
  }

  TempDir dir;
  std::error_code ec;
  if (options.workdir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/rtml-perf-XXXXXX";
    if (!::mkdtemp(templ.data())) {
      res.error = "cannot create a temporary folder " + templ + ": " + std::strerror(errno);
      return res;
    }
    dir.path = templ;
    dir.owned = true;
  } else {
    dir.path = options.workdir;
    fs::create_directories(dir.path, ec);
    if (ec) {
      res.error = "cannot create " + dir.path.string() + ": " + ec.message();
      return res;
    }
  }
  const fs::path data = dir.path / "perf.data";
  const fs::path log = dir.path / "perf-record.log";
  const fs::path script_log = dir.path / "perf-script.log";

  // perf --version: "perf version 6.1.187"; also proves the executable runs
  // (Debian's wrapper fails here when there is no perf for this kernel).
  {
    std::string out, err;
    bool trunc;
    int st = run_capture({perf, "--version"}, out, 4096, trunc, dir.path / "perf-version.log",
                         std::chrono::seconds(30), err);
    if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      std::string said = perf_messages(out + read_text_file(dir.path / "perf-version.log"));
      res.error = perf + " --version failed" + (err.empty() ? "" : ": " + err) +
                  (said.empty() ? "" : "; it said: " + said) + "; " + install_hint();
      return res;
    }
    std::string v = one_line(out);
    res.tool = v.rfind("perf version ", 0) == 0 ? "perf " + v.substr(13) : v;
  }

  // Start recording: cycles first; perf itself may fall back to cpu-clock.
  std::string event = "cycles";
  bool control = true;
  Recording rec;
  for (int attempt = 0; attempt < 4; ++attempt) {
    rec = start_record(perf, event, res.call_graph, options.frequency_hz, data, log, control);
    if (rec.started) break;
    if (rec.no_control && control) {
      control = false;
      res.notes.push_back("this perf has no --control: waited for perf.data to appear, so the first moments of the "
                          "work may be missed");
      continue;
    }
    if (event == "cycles" && rec.error.find("perf_event_paranoid") == std::string::npos) {
      res.notes.push_back("cycles refused by perf record (" + rec.error + "): fell back to cpu-clock");
      event = "cpu-clock";
      continue;
    }
    break;
  }
  if (!rec.started) {
    res.error = explain_refusal(rec.error);
    return res;
  }

  // The work, then stop perf (SIGINT: it writes perf.data out and exits).
  const auto t0 = std::chrono::steady_clock::now();
  auto stop = [&]() -> std::string {
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ::kill(rec.pid, SIGINT);
    int status = 0;
    const bool exited = wait_for(rec.pid, status, std::chrono::seconds(120));
    if (!exited) kill_and_reap(rec.pid);
    for (int& fd : rec.ctl_fds)
      if (fd >= 0) {
        ::close(fd);
        fd = -1;
      }
    if (!exited) return "perf record did not stop within 120 s of SIGINT";
    bool clean = (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 128 + SIGINT)) ||
                 (WIFSIGNALED(status) && WTERMSIG(status) == SIGINT);
    if (!clean)
      return "perf record ended with " +
             (WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                : "signal " + std::to_string(WTERMSIG(status))) +
             ": " + perf_messages(read_text_file(log));
    return "";
  };
  try {
    work();
  } catch (...) {
    stop();
    throw;
  }
  std::string stop_error = stop();
  if (!stop_error.empty()) {
    res.error = stop_error;
    return res;
  }
  const auto data_bytes = fs::file_size(data, ec);
  if (ec || data_bytes == 0) {
    res.error = "perf record wrote no data to " + data.string() + ": " + perf_messages(read_text_file(log));
    return res;
  }

  // Resolve symbols.
  std::string text, err;
  bool truncated = false;
  int st = run_capture({perf, "script", "-i", data.string(), "-F", "comm,pid,tid,time,period,event,ip,sym,symoff,dso"},
                       text, kScriptLimit, truncated, script_log, std::chrono::seconds(600), err);
  if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    res.error = "perf script failed" + (err.empty() ? std::string() : ": " + err) + ": " +
                perf_messages(read_text_file(script_log));
    return res;
  }
  if (truncated) {
    size_t cut = text.rfind("\n\n");
    text.resize(cut == std::string::npos ? 0 : cut + 1);
    res.notes.push_back("perf script printed more than " + std::to_string(kScriptLimit >> 20) +
                        " MiB: folded the samples before that (lower the frequency or sample for less time)");
  }
  try {
    FoldOptions fo;
    fo.comm = self_comm();
    res.folded = fold_perf_script(text, fo);
  } catch (const Error& e) {
    res.error = std::string("cannot read perf script's output: ") + e.what();
    return res;
  }
  res.event = res.folded.event.empty() ? event : res.folded.event;
  if (event == "cycles" && res.event != "cycles")
    res.notes.push_back("cycles not supported: perf fell back to " + res.event);
  if (res.folded.samples == 0)
    res.notes.push_back("perf recorded no samples in " + std::to_string(res.seconds) +
                        " s (sample for longer or at a higher frequency)");
  res.ok = true;
  return res;
}

}  // namespace rtml::profile
