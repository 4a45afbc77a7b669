#include "remote/agent.h"
#include "remote/client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "backends/backend.h"
#include "bench/runner.h"
#include "core/error.h"
#include "import/tflite_import.h"
#include "remote/listen.h"
#include "remote/sha256.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rtml::remote {

bool is_loopback_address(const std::string& host) {
  if (host == "localhost") return true;
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&a6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) return a6.s6_addr[12] == 127;
  }
  return false;
}

std::string read_agent_token(const std::string& path, std::string& warning) {
  warning.clear();
  std::string token = read_token_file(path);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)))
    warning = "the token file " + path + " is readable by " +
              std::string((st.st_mode & S_IROTH) ? "every user" : "its group") + ": chmod 600 " + path;
  return token;
}

namespace {

constexpr int64_t kMaxJobJsonBytes = 1 << 20;

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string random_hex(size_t n) {
  static std::mutex mu;
  static std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::lock_guard<std::mutex> lock(mu);
  std::string s;
  for (size_t i = 0; i < n; ++i) s += hex[rd() & 15];
  return s;
}

// Constant-time equality: compares the SHA-256 of both, so neither the
// position of the first difference nor the token's length shows in timing.
bool same_token(const std::string& a, const std::string& b) {
  Sha256 ha, hb;
  ha.update(a.data(), a.size());
  hb.update(b.data(), b.size());
  auto da = ha.digest(), db = hb.digest();
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < da.size(); ++i) diff = diff | (da[i] ^ db[i]);
  return diff == 0;
}

// JSON text of an answer. Messages quote what the client sent (a path, a
// field's value), which need not be UTF-8: bytes that are not become U+FFFD
// instead of an exception.
std::string answer_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void set_error(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  res.status = status;
  res.set_content(answer_text(json{{"error", {{"code", code}, {"message", message}}}}), "application/json");
}

void set_json(httplib::Response& res, int status, const json& j) {
  res.status = status;
  res.set_content(answer_text(j), "application/json");
}

std::string exit_text(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                  strsignal(WTERMSIG(status)) + ")";
  return "ended with wait status " + std::to_string(status);
}

struct Job {
  std::string id;
  std::string model;
  fs::path dir;
  std::vector<std::string> argv;  // the child's, complete
  std::string state = "queued";   // queued, running, done, failed, timeout
  std::string progress;
  std::string started, finished, error;
  json report;
  std::chrono::steady_clock::time_point finished_at;
};

}  // namespace


struct Agent::Impl {
  AgentOptions opt;
  fs::path workdir, blobs, tmp, jobs_dir;
  json host;
  std::vector<std::string> backend_names;
  std::unique_ptr<httplib::Server> server;
  std::thread server_thread, worker_thread;
  int bound_port = 0;
  bool started = false;

  std::mutex mu;  // guards everything below
  std::condition_variable cv;
  bool stopping = false;
  std::map<std::string, std::shared_ptr<Job>> jobs;
  std::deque<std::shared_ptr<Job>> queue;  // waiting
  std::shared_ptr<Job> running;
  std::deque<std::shared_ptr<Job>> done;  // finished, oldest first
  pid_t child = -1;                       // running job's process (group)

  void log(const char* fmt, const std::string& a, const std::string& b = "") {
    if (opt.log) std::fprintf(stderr, fmt, a.c_str(), b.c_str());
  }

  // ---- requests ----------------------------------------------------------

  // Checks every request before its body is read: the token, then for
  // bodies the length against the limit. False: `res` holds the refusal.
  bool precheck(const httplib::Request& req, httplib::Response& res) {
    if (!opt.token.empty() && !same_token(bearer_token(req.get_header_value("Authorization")), opt.token)) {
      set_error(res, 401, "unauthorized",
                "a valid token is needed (Authorization: Bearer <token from the agent's token file>)");
      if (req.method == "PUT" || req.method == "POST") res.set_header("Connection", "close");
      return false;
    }
    if (req.method == "GET" || req.method == "HEAD") return true;
    res.set_header("Connection", "close");  // on refusal: the body is not read
    BodyRequest body{req.method, req.path, req.has_header("Transfer-Encoding"), std::nullopt,
                     req.get_header_value("Content-Encoding")};
    if (req.has_header("Content-Length")) body.content_length = req.get_header_value("Content-Length");
    BodyCheck check = check_body_request(body, {kMaxJobJsonBytes, opt.max_body_bytes});
    if (check.refusal) {
      set_error(res, check.refusal->status, check.refusal->code, check.refusal->message);
      return false;
    }
    res.headers.erase("Connection");
    return true;
  }

  json info_json() {
    return {{"protocol", 1},
            {"name", opt.name},
            {"rtml_version", host.value("rtml_version", "")},
            {"host", host},
            {"backends", backend_names},
            {"limits",
             {{"max_body_bytes", opt.max_body_bytes},
              {"max_model_bytes", opt.max_model_bytes},
              {"job_timeout_s", opt.job_timeout_s},
              {"max_queue", opt.max_queue}}}};
  }

  void head_blob(const httplib::Request& req, httplib::Response& res) {
    std::string hash = req.matches[1];
    if (!is_sha256_hex(hash)) return set_error(res, 400, "bad_request", "'" + hash + "' is not a SHA-256 (64 lower-case hex digits)");
    std::error_code ec;
    if (fs::is_regular_file(blobs / hash, ec)) {
      res.status = 200;
      res.set_header("X-Blob-Size", std::to_string(fs::file_size(blobs / hash, ec)));
    } else {
      set_error(res, 404, "not_found", "no blob " + hash + " on this agent");
    }
  }

  void put_blob(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    std::string hash = req.matches[1];
    res.set_header("Connection", "close");  // until the body has been read
    if (!is_sha256_hex(hash))
      return set_error(res, 400, "bad_request", "'" + hash + "' is not a SHA-256 (64 lower-case hex digits)");
    const int64_t length = std::stoll(req.get_header_value("Content-Length"));  // precheck made sure
    const fs::path final_path = blobs / hash;
    std::error_code ec;
    if (fs::is_regular_file(final_path, ec)) {  // already there: read and drop the body
      int64_t got = 0;
      bool ok = reader([&](const char*, size_t n) {
        got += static_cast<int64_t>(n);
        return got <= length;
      });
      if (ok && got == length) res.headers.erase("Connection");
      set_json(res, 200, {{"blob", hash}, {"size", fs::file_size(final_path, ec)}, {"stored", false}});
      return;
    }
    const fs::path part = tmp / (random_hex(16) + ".part");
    int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return set_error(res, 500, "internal", "cannot create " + part.string() + ": " + std::strerror(errno));
    Sha256 sha;
    int64_t got = 0;
    std::string write_error;
    bool ok = reader([&](const char* data, size_t n) {
      got += static_cast<int64_t>(n);
      if (got > length) return false;
      sha.update(data, n);
      while (n > 0) {
        ssize_t w = ::write(fd, data, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          write_error = std::strerror(errno);
          return false;
        }
        data += w;
        n -= static_cast<size_t>(w);
      }
      return true;
    });
    if (ok && write_error.empty() && ::fsync(fd) != 0) write_error = std::strerror(errno);
    if (::close(fd) != 0 && write_error.empty()) write_error = std::strerror(errno);
    auto discard = [&] { ::unlink(part.c_str()); };
    if (!write_error.empty()) {
      discard();
      return set_error(res, 500, "internal", "cannot store the upload: " + write_error);
    }
    if (!ok || got != length) {
      discard();
      return set_error(res, 400, "bad_request",
                       "the upload ended after " + std::to_string(got) + " of " + std::to_string(length) + " bytes; nothing was stored");
    }
    res.headers.erase("Connection");
    std::string actual = sha.hex_digest();
    if (actual != hash) {
      discard();
      return set_error(res, 409, "hash_mismatch",
                       "the bytes hash to " + actual + ", not " + hash + "; nothing was stored (was the file changed while sending?)");
    }
    if (::rename(part.c_str(), final_path.c_str()) != 0) {
      std::string why = std::strerror(errno);
      discard();
      return set_error(res, 500, "internal", "cannot store blob " + hash + ": " + why);
    }
    set_json(res, 201, {{"blob", hash}, {"size", length}, {"stored", true}});
  }

  // Validates a job description (rtml::Error: a 400); checks its blobs and
  // lays out its folder (HttpError).
  std::shared_ptr<Job> make_job(const std::string& body) {
    JobRequest r = parse_job_request(body, backend_names);
    const auto& files = r.files;
    const std::string& name = r.model;
    const auto& backends = r.backends;
    const auto& args = r.bench_args;

    // The blobs: present, and within the model limit.
    int64_t total = 0;
    for (const auto& f : files) {
      std::error_code ec;
      fs::path p = blobs / f.blob;
      if (!fs::is_regular_file(p, ec))
        throw Error("'" + f.field + "': blob " + f.blob + " is not on this agent (upload it first: PUT /v1/blobs/" +
                    f.blob + ")");
      total += static_cast<int64_t>(fs::file_size(p, ec));
    }
    // The model's blob (the protocol's model.onnx field) may be a .tflite file: it keeps that
    // extension in the job folder, which the armnn backend goes by (the engine reads either by
    // its identifier).
    std::string model_file = "model.onnx";
    for (auto& f : r.files)
      if (f.dest == "model.onnx" && import::is_tflite_file((blobs / f.blob).string())) f.dest = model_file = "model.tflite";
    if (total > opt.max_model_bytes)
      throw HttpError{413, "too_large",
                      "the job's files add up to " + std::to_string(total) + " bytes; this agent takes at most " +
                          std::to_string(opt.max_model_bytes) + " per job (--max-model-mb)"};

    auto job = std::make_shared<Job>();
    job->id = random_hex(16);
    job->model = name;
    job->dir = jobs_dir / job->id;
    try {
      fs::create_directories(job->dir);
      for (const auto& f : files) {
        fs::path dest = job->dir / f.dest;
        fs::create_directories(dest.parent_path());
        std::error_code ec;
        fs::create_hard_link(blobs / f.blob, dest, ec);  // blobs are never changed in place
        if (ec) fs::copy_file(blobs / f.blob, dest);
      }
      // A one-model zoo manifest: bench names the model by its label and finds
      // the test_data_set_N folders beside the model file.
      json manifest = {{"models", json::array({{{"name", name}, {"files", {{"onnx", model_file}}}}})}};
      std::ofstream(job->dir / "manifest.json") << manifest.dump(1) << "\n";
    } catch (const fs::filesystem_error& e) {
      std::error_code ec;
      fs::remove_all(job->dir, ec);
      throw HttpError{500, "internal", std::string("cannot lay out the job folder: ") + e.what()};
    }
    std::string backend_list;
    for (const auto& b : backends) backend_list += (backend_list.empty() ? "" : ",") + b;
    job->argv = opt.launcher;
    job->argv.insert(job->argv.end(), {opt.rtml_exe, "bench", job->dir.string(), "--backend", backend_list, "--json",
                                       (job->dir / "report.json").string(), "--no-db"});
    job->argv.insert(job->argv.end(), args.begin(), args.end());
    return job;
  }

  // Jobs ahead of `job` (the running one counts); 0 when running or finished.
  size_t position_locked(const Job& job) {
    if (job.state != "queued") return 0;
    size_t n = running ? 1 : 0;
    for (const auto& q : queue) {
      if (q.get() == &job) break;
      ++n;
    }
    return n;
  }

  json job_json_locked(const Job& job) {
    auto str_or_null = [](const std::string& s) { return s.empty() ? json(nullptr) : json(s); };
    return {{"job", job.id},
            {"state", job.state},
            {"position", position_locked(job)},
            {"progress", str_or_null(job.progress)},
            {"started", str_or_null(job.started)},
            {"finished", str_or_null(job.finished)},
            {"error", str_or_null(job.error)},
            {"report", job.report}};
  }

  void post_job(const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<Job> job;
    try {
      job = make_job(req.body);
    } catch (const HttpError& e) {
      return set_error(res, e.status, e.code, e.message);
    } catch (const Error& e) {
      return set_error(res, 400, "bad_request", e.what());
    }
    std::unique_lock<std::mutex> lock(mu);
    size_t pending = queue.size() + (running ? 1 : 0);
    const bool is_stopping = stopping;
    if (is_stopping || pending >= static_cast<size_t>(opt.max_queue)) {
      lock.unlock();
      std::error_code ec;
      fs::remove_all(job->dir, ec);
      if (is_stopping) return set_error(res, 500, "internal", "the agent is stopping");
      return set_error(res, 429, "queue_full",
                       "the agent holds " + std::to_string(pending) + " jobs already (--max-queue " +
                           std::to_string(opt.max_queue) + "): try again when one has finished");
    }
    jobs[job->id] = job;
    queue.push_back(job);
    json answer = {{"job", job->id}, {"state", "queued"}, {"position", position_locked(*job)}};
    lock.unlock();
    cv.notify_all();
    log("rtml agent: job %s queued (model %s)\n", job->id, job->model);
    set_json(res, 202, answer);
  }

  void get_job(const httplib::Request& req, httplib::Response& res) {
    std::string id = req.matches[1];
    std::lock_guard<std::mutex> lock(mu);
    prune_locked();
    auto it = jobs.find(id);
    if (it == jobs.end()) return set_error(res, 404, "not_found", "no job '" + id + "' on this agent (finished jobs are kept an hour)");
    set_json(res, 200, job_json_locked(*it->second));
  }

  // Forgets finished jobs past keep_jobs or keep_seconds (and their folders).
  void prune_locked() {
    auto now = std::chrono::steady_clock::now();
    while (!done.empty() && (done.size() > opt.keep_jobs ||
                             now - done.front()->finished_at > std::chrono::seconds(opt.keep_seconds))) {
      std::error_code ec;
      fs::remove_all(done.front()->dir, ec);
      jobs.erase(done.front()->id);
      done.pop_front();
    }
  }

  // ---- the worker --------------------------------------------------------

  void worker() {
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping) return;
        job = queue.front();
        queue.pop_front();
        running = job;
        job->state = "running";
        job->started = now_iso();
        job->progress = "starting rtml bench";
      }
      log("rtml agent: job %s running (model %s)\n", job->id, job->model);
      auto t0 = std::chrono::steady_clock::now();
      run_job(*job);
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      {
        std::lock_guard<std::mutex> lock(mu);
        job->finished = now_iso();
        job->finished_at = std::chrono::steady_clock::now();
        running.reset();
        done.push_back(job);
        // the folder's model files are not needed any more; the report is in memory
        std::error_code ec;
        for (const auto& e : fs::directory_iterator(job->dir, ec))
          if (e.path().filename() != "stderr.txt") fs::remove_all(e.path(), ec);
        prune_locked();
      }
      if (opt.log)
        std::fprintf(stderr, "rtml agent: job %s %s after %.1f s\n", job->id.c_str(), job->state.c_str(), secs);
    }
  }

  void set_progress(Job& job, const std::string& line) {
    std::lock_guard<std::mutex> lock(mu);
    job.progress = line;
  }

  void finish(Job& job, const std::string& state, const std::string& error, json report = nullptr) {
    std::lock_guard<std::mutex> lock(mu);
    job.state = state;
    job.error = error;
    job.report = std::move(report);
  }

  void run_job(Job& job) {
    std::vector<char*> argv;
    for (auto& a : job.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string out_path = (job.dir / "stdout.txt").string();
    int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int pipe_fd[2];
    if (out_fd < 0 || ::pipe2(pipe_fd, O_CLOEXEC) != 0) {
      std::string why = std::strerror(errno);
      if (out_fd >= 0) ::close(out_fd);
      return finish(job, "failed", "cannot start rtml bench: " + why);
    }
    pid_t pid;
    {
      // Under the lock, so stop() sees the child as soon as it exists.
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) {
        ::close(out_fd);
        ::close(pipe_fd[0]);
        ::close(pipe_fd[1]);
        job.state = "failed";
        job.error = "the agent stopped before the job ran";
        return;
      }
      pid = ::fork();
      if (pid == 0) {
        // The child: only async-signal-safe calls until execv.
        ::setpgid(0, 0);
        ::dup2(out_fd, STDOUT_FILENO);
        ::dup2(pipe_fd[1], STDERR_FILENO);
        int null_fd = ::open("/dev/null", O_RDONLY);
        if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
        sigset_t all;
        sigemptyset(&all);
        ::sigprocmask(SIG_SETMASK, &all, nullptr);
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        for (int s : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD}) ::sigaction(s, &dfl, nullptr);
        if (::close_range(3, ~0U, 0) != 0)
          for (int fd = 3; fd < 4096; ++fd) ::close(fd);
        ::execv(argv[0], argv.data());
        const char* parts[] = {"rtml agent: cannot run ", argv[0], ": ", strerror(errno), "\n"};
        for (const char* part : parts) (void)!::write(STDERR_FILENO, part, std::strlen(part));
        ::_exit(127);
      }
      if (pid > 0) {
        ::setpgid(pid, pid);  // also here: no race with the child's own call
        child = pid;
      }
    }
    const int fork_errno = errno;
    ::close(out_fd);
    ::close(pipe_fd[1]);
    if (pid < 0) {
      ::close(pipe_fd[0]);
      return finish(job, "failed", std::string("cannot start rtml bench: fork: ") + std::strerror(fork_errno));
    }

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(opt.job_timeout_s);
    std::deque<std::string> last_lines;
    std::string partial;
    std::string stderr_log;  // all of it, into the job folder
    bool timed_out = false, stopped = false, exited = false;
    int status = 0;
    auto take_line = [&](std::string line) {
      // strip terminal control sequences and carriage returns
      std::string clean;
      for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '\033') {
          while (i < line.size() && !std::isalpha(static_cast<unsigned char>(line[i]))) ++i;
          continue;
        }
        if (line[i] != '\r') clean += line[i];
      }
      if (clean.empty()) return;
      last_lines.push_back(clean);
      if (last_lines.size() > 10) last_lines.pop_front();
      set_progress(job, clean);
    };
    bool eof = false;
    while (!eof) {
      pollfd p{pipe_fd[0], POLLIN, 0};
      int r = ::poll(&p, 1, 200);
      if (r > 0) {
        char buf[4096];
        ssize_t n = ::read(pipe_fd[0], buf, sizeof buf);
        if (n > 0) {
          stderr_log.append(buf, static_cast<size_t>(n));
          partial.append(buf, static_cast<size_t>(n));
          size_t nl;
          while ((nl = partial.find_first_of("\n\r")) != std::string::npos) {
            take_line(partial.substr(0, nl));
            partial.erase(0, nl + 1);
          }
          if (partial.size() > 65536) partial.erase(0, partial.size() - 65536);
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          eof = true;
        }
      }
      if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
      if (exited && r == 0) break;  // the child is gone and its output drained (a grandchild may hold the pipe)
      bool stop_now;
      {
        std::lock_guard<std::mutex> lock(mu);
        stop_now = stopping;
      }
      if (!exited && (stop_now || std::chrono::steady_clock::now() >= deadline)) {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        timed_out = !stop_now;
        stopped = stop_now;
        break;
      }
    }
    if (!partial.empty()) take_line(partial);
    ::close(pipe_fd[0]);
    if (!exited) ::waitpid(pid, &status, 0);
    ::kill(-pid, SIGKILL);  // whatever the child left running in its group
    {
      std::lock_guard<std::mutex> lock(mu);
      child = -1;
    }
    std::ofstream(job.dir / "stderr.txt") << stderr_log;

    std::string tail;
    for (const auto& l : last_lines) tail += (tail.empty() ? "" : "\n") + l;
    if (timed_out)
      return finish(job, "timeout",
                    "the job ran past this agent's limit of " + std::to_string(opt.job_timeout_s) +
                        " s (--job-timeout-s) and was stopped");
    if (stopped) return finish(job, "failed", "the agent was stopped while the job ran");
    const fs::path report_path = job.dir / "report.json";
    if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 1)) {
      std::ifstream in(report_path);
      if (in) {
        try {
          json report = json::parse(in);
          return finish(job, "done", "", std::move(report));
        } catch (const json::exception& e) {
          return finish(job, "failed", "rtml bench wrote an unreadable report (" + std::string(e.what()) + ")");
        }
      }
    }
    finish(job, "failed", "rtml bench " + exit_text(status) + " without a report" + (tail.empty() ? "" : ":\n" + tail));
  }
};

Agent::Agent(AgentOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.opt = std::move(options);
  AgentOptions& o = m.opt;
  if (o.token.empty()) {
    if (!o.insecure_local)
      throw Error("no token: give --token-file FILE (a file whose first line is a long random secret, readable only "
                  "by you), or, for a test on this machine only, listen on 127.0.0.1 with --insecure-local");
    if (!is_loopback_address(o.host))
      throw Error("--insecure-local needs a loopback address (127.0.0.1, ::1 or localhost), not '" + o.host +
                  "': anyone on the network could run jobs. Give --token-file FILE to listen on " + o.host);
  }
  if (o.port < 0 || o.port > 65535) throw Error("port " + std::to_string(o.port) + " is not 0..65535");
  if (o.max_body_bytes < 1) throw Error("--max-body-mb must be at least 1");
  if (o.max_model_bytes < 1) throw Error("--max-model-mb must be at least 1");
  if (o.job_timeout_s < 1) throw Error("--job-timeout-s must be at least 1");
  if (o.max_queue < 1) throw Error("--max-queue must be at least 1");
  if (o.io_timeout_s < 1) throw Error("the socket timeout must be at least 1 s");
  if (o.workdir.empty()) throw Error("no workdir: give --workdir DIR (the agent keeps blobs and job folders there)");

  if (o.rtml_exe.empty()) {
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    o.rtml_exe = ec ? "/proc/self/exe" : self.string();
  }
  if (!o.launcher.empty() && o.launcher[0].find('/') == std::string::npos) {  // execv does not search PATH
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin", found;
    for (size_t start = 0; start <= dirs.size() && found.empty();) {
      size_t end = dirs.find(':', start);
      if (end == std::string::npos) end = dirs.size();
      std::string candidate = dirs.substr(start, end - start) + "/" + o.launcher[0];
      if (end > start && ::access(candidate.c_str(), X_OK) == 0) found = candidate;
      start = end + 1;
    }
    if (found.empty()) throw Error("--launcher: '" + o.launcher[0] + "' is not a program on PATH");
    o.launcher[0] = found;
  }
  const std::string& first = o.launcher.empty() ? o.rtml_exe : o.launcher[0];
  if (::access(first.c_str(), X_OK) != 0)
    throw Error("cannot run " + first + " for the jobs: " + std::strerror(errno));

  m.host = bench::host_info();
  if (o.name.empty()) o.name = m.host.value("hostname", "rtml-agent");
  m.backend_names = backends::available();

  // The workdir: new, empty, or one an agent made before.
  m.workdir = fs::absolute(o.workdir);
  std::error_code ec;
  if (fs::exists(m.workdir, ec)) {
    if (!fs::is_directory(m.workdir, ec)) throw Error("--workdir " + m.workdir.string() + " is not a folder");
    if (!fs::exists(m.workdir / ".rtml-agent", ec) && !fs::is_empty(m.workdir, ec))
      throw Error("--workdir " + m.workdir.string() +
                  " holds other files and is not an rtml agent's workdir (no .rtml-agent in it): give a new or empty "
                  "folder (the agent deletes what it finds in its jobs/ and tmp/ subfolders)");
  }
  m.blobs = m.workdir / "blobs";
  m.tmp = m.workdir / "tmp";
  m.jobs_dir = m.workdir / "jobs";
  try {
    fs::create_directories(m.workdir);
    fs::permissions(m.workdir, fs::perms::owner_all, fs::perm_options::replace);
    std::ofstream(m.workdir / ".rtml-agent") << "rtml agent workdir: blobs/ by SHA-256, jobs/ by id, tmp/ uploads\n";
    for (const auto& d : {m.blobs, m.tmp, m.jobs_dir}) fs::create_directories(d);
    // Leftovers of an earlier agent: unfinished uploads, forgotten jobs.
    for (const auto& d : {m.tmp, m.jobs_dir})
      for (const auto& e : fs::directory_iterator(d)) fs::remove_all(e.path());
  } catch (const fs::filesystem_error& e) {
    throw Error("cannot prepare the workdir " + m.workdir.string() + ": " + e.what());
  }
}

Agent::~Agent() { stop(); }

int Agent::start() {
  Impl& m = *impl_;
  if (m.started) return m.bound_port;
  m.server = make_guarded_server(m.opt.connections, [](const std::string& message) {
    return answer_text(json{{"error", {{"code", "busy"}, {"message", message}}}});
  });
  httplib::Server& s = *m.server;
  s.set_read_timeout(m.opt.io_timeout_s, 0);
  s.set_write_timeout(m.opt.io_timeout_s, 0);
  s.set_payload_max_length(static_cast<size_t>(std::max<int64_t>(m.opt.max_body_bytes, kMaxJobJsonBytes)));
  s.set_pre_routing_handler([&m](const httplib::Request& req, httplib::Response& res) {
    return m.precheck(req, res) ? httplib::Server::HandlerResponse::Unhandled : httplib::Server::HandlerResponse::Handled;
  });
  // A client that waits for "100 Continue" is refused before it sends the body.
  s.set_expect_100_continue_handler([&m](const httplib::Request& req, httplib::Response& res) {
    return m.precheck(req, res) ? 100 : res.status;
  });
  s.Get("/v1/info", [&m](const httplib::Request&, httplib::Response& res) { set_json(res, 200, m.info_json()); });
  s.Get(R"(/v1/blobs/([^/]*))", [&m](const httplib::Request& req, httplib::Response& res) { m.head_blob(req, res); });
  s.Put(R"(/v1/blobs/([^/]*))", [&m](const httplib::Request& req, httplib::Response& res,
                                     const httplib::ContentReader& reader) { m.put_blob(req, res, reader); });
  s.Post("/v1/jobs", [&m](const httplib::Request& req, httplib::Response& res) { m.post_job(req, res); });
  s.Get(R"(/v1/jobs/([^/]*))", [&m](const httplib::Request& req, httplib::Response& res) { m.get_job(req, res); });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    set_error(res, 500, "internal", "the agent failed on this request: " + exception_text(ep));
  });
  // Errors httplib itself answers (no such path, a malformed request line...): JSON too.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    switch (res.status) {
      case 404: set_error(res, 404, "not_found", "no " + req.method + " " + req.path + " here (see docs/remote-protocol.md)"); break;
      case 413: set_error(res, 413, "too_large", "the request is over this agent's limits"); break;
      case 500: set_error(res, 500, "internal", "the agent failed on this request"); break;
      default: set_error(res, res.status, "bad_request", "malformed request (HTTP status " + std::to_string(res.status) + ")");
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_logger([&m](const httplib::Request& req, const httplib::Response& res) {
    if (m.opt.log)
      std::fprintf(stderr, "rtml agent: %s %s -> %d (%s:%d)\n", req.method.c_str(), req.path.c_str(), res.status,
                   req.remote_addr.c_str(), req.remote_port);
  });
  m.bound_port = bind_server(s, m.opt.host, m.opt.port, "is another agent running there? is the address this machine's?");
  m.started = true;
  m.worker_thread = std::thread([&m] { m.worker(); });
  m.server_thread = std::thread([&m] { m.server->listen_after_bind(); });
  // Serving before start() returns: stop() cannot miss a server not yet listening.
  for (int i = 0; i < 500 && !s.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return m.bound_port;
}

void Agent::stop() {
  Impl& m = *impl_;
  if (!m.started) return;
  {
    std::lock_guard<std::mutex> lock(m.mu);
    if (m.stopping) return;
    m.stopping = true;
    if (m.child > 0) ::kill(-m.child, SIGKILL);
  }
  m.cv.notify_all();
  m.server->stop();
  if (m.server_thread.joinable()) m.server_thread.join();
  if (m.worker_thread.joinable()) m.worker_thread.join();
}

int Agent::port() const { return impl_->bound_port; }
const AgentOptions& Agent::options() const { return impl_->opt; }

}  // namespace rtml::remote
