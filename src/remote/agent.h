// remote/agent: the board side of the remote protocol (docs/remote-protocol.md),
// what `rtml agent` runs. An HTTP/1.1 server (cpp-httplib) that
//   - answers GET /v1/info (host facts as in a bench report, backends, limits),
//   - stores uploaded blobs by SHA-256 (PUT /v1/blobs/<hash>): streamed to a
//     temporary file in the workdir, renamed into blobs/<hash> only when the
//     length and the hash check out,
//   - queues bench jobs (POST /v1/jobs, strictly validated by
//     remote/agent_requests) and runs them one at a time on a worker thread,
//     each as a child process `rtml bench` on a job folder laid out with
//     names the agent chooses, killed (its whole process group) past the job
//     time limit,
//   - reports them (GET /v1/jobs/<id>): state, progress (the child's last
//     stderr line), error, and the rtml.bench/1 report.
// Every request needs `Authorization: Bearer <token>` unless the agent runs
// with insecure_local on a loopback address. Bad requests get a JSON error
// and the agent goes on. One log line per request on stderr (never the token).
//
// Workdir layout: .rtml-agent (marker), blobs/<sha256>, tmp/ (uploads in
// progress; emptied at start), jobs/<id>/ (removed when the job is forgotten;
// emptied at start).
//
// Built only with cpp-httplib (RTML_WITH_REMOTE).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "remote/agent_requests.h"
#include "remote/listen.h"

namespace rtml::remote {

struct AgentOptions {
  std::string host = "127.0.0.1";  // address to listen on
  int port = 0;                    // 0: any free port (Agent::port() says which)
  std::string token;               // bearer token; empty only with insecure_local on loopback
  bool insecure_local = false;
  std::string workdir;             // created if missing; must be empty or an agent's workdir
  std::string name;                // reported by /v1/info ("" = the hostname)
  int64_t max_body_bytes = int64_t(256) << 20;   // one request body (one blob)
  int64_t max_model_bytes = int64_t(128) << 20;  // the sum of one job's blobs
  int job_timeout_s = 600;
  int max_queue = 8;               // jobs waiting or running
  int io_timeout_s = 30;           // per socket read / write
  ConnectionLimits connections;    // slow and idle clients (remote/listen.h)
  // The rtml each job runs ("" = this executable, /proc/self/exe resolved),
  // and a command to run it under (e.g. {"qemu-arm-static", "-L", "/"} when
  // the agent itself runs under qemu-user without binfmt_misc).
  std::string rtml_exe;
  std::vector<std::string> launcher;
  size_t keep_jobs = 100;          // finished jobs kept (the newest)...
  int keep_seconds = 3600;         // ...for at most this long
  bool log = true;                 // one line per request and per job on stderr
};

// 127.0.0.0/8, ::1, ::ffff:127.x.y.z or "localhost".
bool is_loopback_address(const std::string& host);

// The token file's first line, whitespace trimmed. rtml::Error naming the
// file if it cannot be read or holds no token. `warning` gets a message if
// the file is readable by group or others (else it is cleared).
std::string read_agent_token(const std::string& path, std::string& warning);

class Agent {
 public:
  // Checks the options (token or insecure_local on loopback, limits) and
  // prepares the workdir. rtml::Error saying what to change otherwise.
  explicit Agent(AgentOptions options);
  ~Agent();  // stop()
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Binds the address and serves on background threads; returns the port.
  // rtml::Error if the address cannot be bound.
  int start();
  // Stops serving, kills a running job's child process, joins the threads.
  void stop();
  int port() const;
  const AgentOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtml::remote
