// remote/client: the host side of the remote protocol (docs/remote-protocol.md).
// Talks to an `rtml agent` on a board: reads /v1/info, uploads a model and
// its test data as content-addressed blobs (each file hashed with SHA-256;
// HEAD first, PUT only what the agent lacks, each hash at most once per
// client), submits a bench job, polls it every ~200 ms and returns the
// board's rtml.bench/1 report with host.target set to the agent's name.
//
// Everything that goes wrong is an rtml::Error saying which agent (host:port)
// and what to do: cannot connect, no answer, a refused token (401), over the
// agent's limits (413, with the limits from /v1/info), a full queue (429,
// retried for a minute first), a report that is not rtml.bench/1. A job the
// agent ran but that failed or ran out of time is a JobError (carrying the
// agent's message), so a sweep can record it and go on.
//
// Built only with cpp-httplib (RTML_WITH_REMOTE); nothing here prints.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/runner.h"
#include "core/error.h"

namespace httplib {
class Client;
}

namespace rtml::remote {

// "HOST:PORT" (a name, an IPv4 address, or [IPv6]:PORT). Throws rtml::Error
// naming the text when there is no port or it is not 1..65535.
struct Endpoint {
  std::string host;
  int port = 0;
  std::string text() const;  // host:port as given (IPv6 in brackets)
};
Endpoint parse_endpoint(const std::string& text);

// The token file's first line, whitespace trimmed. rtml::Error naming the
// file if it cannot be read or the line is empty.
std::string read_token_file(const std::string& path);

// What a bench job sends: the model, its TorchScript file (model.pt beside
// it, if present) and its test data in the ONNX layout.
struct ModelFiles {
  std::string name;         // the job's label: [A-Za-z0-9._-]{1,100}
  std::string onnx;         // path
  std::string torchscript;  // path, or empty
  struct TestFile {
    int set = 0;
    std::string kind;  // "input", "output", "label"
    int index = 0;     // inputs and outputs
    std::string path;
  };
  std::vector<TestFile> test_data;
  std::string note;  // why test data found beside the model is not sent (the .npy layout), or empty
};
// The files of `spec`: spec.path; model.pt beside it; spec.test_data's
// test_data_set_K/{input_I.pb, output_I.pb, label.pb}. The label is
// spec.name with characters outside [A-Za-z0-9._-] replaced by '_'.
ModelFiles collect_model_files(const bench::ModelSpec& spec);

// The job's options (protocol "options": backends, warmup, runs, seconds,
// threads, tolerance, period_us, rt, priority, cpu, samples); unset fields
// are omitted (the agent uses bench's defaults).
struct JobOptions {
  std::vector<std::string> backends = {"native"};
  std::optional<int> warmup;
  std::optional<int> runs;
  std::optional<double> seconds;
  std::optional<int> threads;
  std::optional<double> tolerance;
  std::optional<double> period_us;
  bool rt = false;
  std::optional<int> priority;
  std::optional<int> cpu;
  bool samples = false;
  nlohmann::json to_json() const;
};

// A job the agent accepted but did not finish: state "failed" or "timeout".
class JobError : public Error {
 public:
  JobError(const std::string& state, const std::string& message)
      : Error(message), state_(state) {}
  const std::string& state() const { return state_; }

 private:
  std::string state_;
};

struct UploadStats {
  int64_t files = 0;           // files named by the jobs (with repeats)
  int64_t blobs_checked = 0;   // HEAD requests
  int64_t blobs_uploaded = 0;  // PUT requests
  int64_t bytes_uploaded = 0;
};

// Progress: the job's state and progress text as the agent reports it
// ("queued (position 2)", "[1/1] digits_mlp on native: timing..."), called
// whenever it changes.
using Progress = std::function<void(const std::string& text)>;

class Client {
 public:
  // No connection is made until the first request. `token` empty: no
  // Authorization header (only an --insecure-local agent accepts that).
  Client(Endpoint endpoint, std::string token);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Endpoint& endpoint() const { return endpoint_; }

  // GET /v1/info (fetched once, then cached). Checks the protocol version.
  const nlohmann::json& info();
  // The agent's name from /v1/info.
  std::string name();

  // Makes sure the agent holds `path` under `sha256` (64 lower-case hex):
  // HEAD, then PUT if missing. True if it was uploaded now.
  bool upload(const std::string& path, const std::string& sha256);

  // Uploads what is missing, submits a bench job, waits for it and returns
  // the checked report: host is the board's (from its rtml bench), host.target
  // the agent's name; each run's model is files.name and its model_path the
  // local files.onnx (the board's job folder means nothing here). Throws
  // JobError for a failed or timed-out job.
  nlohmann::json bench(const ModelFiles& files, const JobOptions& options, const Progress& progress = {});

  // The lower-level steps bench() is made of.
  std::string submit(const nlohmann::json& job);  // POST /v1/jobs -> job id
  nlohmann::json job(const std::string& id);      // GET /v1/jobs/<id>

  const UploadStats& stats() const { return stats_; }

 private:
  struct Response {
    int status = 0;
    std::string body;
  };
  // Sends a request, retrying a dropped connection once; connection errors
  // and 401/413/429/4xx/5xx answers become rtml::Error (unless `expect`
  // lists the status).
  Response check(const char* what, int status, const std::string& body, std::initializer_list<int> expect);
  [[noreturn]] void fail_transport(const char* what, int error_code);
  std::string limits_text();

  Endpoint endpoint_;
  std::string token_;
  std::unique_ptr<httplib::Client> http_;
  std::optional<nlohmann::json> info_;
  std::set<std::string> present_;  // blobs known to be on the agent
  UploadStats stats_;
};

// Hashes of files, computed once per path for this process.
std::string file_sha256(const std::string& path);

}  // namespace rtml::remote
