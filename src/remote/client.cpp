#include "remote/client.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include <httplib.h>

#include "bench/compare.h"
#include "data/test_data.h"
#include "remote/sha256.h"

using nlohmann::json;
namespace fs = std::filesystem;

namespace rtml::remote {

namespace {

constexpr int kConnectTimeoutS = 10;
constexpr int kIoTimeoutS = 60;       // the agent's own socket timeouts are 30 s
constexpr auto kPollInterval = std::chrono::milliseconds(200);
constexpr double kQueueFullWaitS = 60;  // how long a full queue (429) is retried
constexpr int kPollRetries = 25;        // consecutive failed polls (~5 s) before giving up

std::string mib(double bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024.0));
  return buf;
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// "digits" in "input_12.pb" etc.: the number, or -1.
int number_in(const std::string& name, const std::string& prefix, const std::string& suffix) {
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return -1;
  std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  if (digits.empty() || digits.size() > 6 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return -1;
  return std::stoi(digits);
}

// The agent's error body {"error": {"code", "message"}}: "code: message", or the raw body.
std::string agent_message(const std::string& body, std::string* code = nullptr) {
  json j = json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const json& e = j["error"];
    std::string c = e.value("code", std::string());
    if (code) *code = c;
    std::string m = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
    return m.empty() ? c : m;
  }
  std::string text = body.substr(0, 200);
  for (char& ch : text)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return text.empty() ? "(no message)" : text;
}

}  // namespace

// --- endpoint, token, files -----------------------------------------------------

std::string Endpoint::text() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

Endpoint parse_endpoint(const std::string& text) {
  Endpoint e;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw Error("'" + text + "' is not HOST:PORT (an IPv6 address goes in brackets: [::1]:7070)");
    e.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon)
      throw Error("'" + text + "' is not HOST:PORT: give the agent's address and port, e.g. bela.local:7070");
    e.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (e.host.empty()) throw Error("'" + text + "' has no host name before the port (HOST:PORT)");
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) || std::stoi(port) < 1 ||
      std::stoi(port) > 65535)
    throw Error("'" + text + "': the port must be a number from 1 to 65535");
  e.port = std::stoi(port);
  return e;
}

std::string read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot read the token file " + path + ": " + std::strerror(errno));
  std::string line;
  std::getline(in, line);
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!line.empty() && space(line.back())) line.pop_back();
  size_t start = 0;
  while (start < line.size() && space(line[start])) ++start;
  line = line.substr(start);
  if (line.empty())
    throw Error("the token file " + path + " is empty: put a long random token on its first line (e.g. "
                "head -c 32 /dev/urandom | base64 > " + path + "; chmod 600 " + path + ")");
  return line;
}

ModelFiles collect_model_files(const bench::ModelSpec& spec) {
  ModelFiles f;
  for (char c : spec.name.substr(0, 100))
    f.name += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
  if (f.name.empty()) f.name = "model";
  f.onnx = spec.path;
  std::error_code ec;
  if (!fs::is_regular_file(f.onnx, ec)) throw Error("model " + f.onnx + " does not exist or is not a file");
  fs::path pt = fs::path(spec.path).parent_path() / "model.pt";
  if (fs::is_regular_file(pt, ec)) f.torchscript = pt.string();
  if (spec.test_data.empty()) return f;
  for (const std::string& dir : data::find_test_sets(spec.test_data)) {
    std::string base = fs::path(dir).filename().string();
    int set = number_in(base, "test_data_set_", "");
    if (set < 0 || fs::is_directory(fs::path(dir) / "inputs", ec)) {
      // The .npy layout has no place in protocol version 1.
      f.note = "test data in " + dir +
               " is in the .npy layout (inputs/, expected/): only test_data_set_N/*.pb is sent to a remote target, "
               "so accuracy is not checked there";
      f.test_data.clear();
      return f;
    }
    std::vector<ModelFiles::TestFile> files;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      std::string name = e.path().filename().string();
      ModelFiles::TestFile t;
      t.set = set;
      t.path = e.path().string();
      if (int i = number_in(name, "input_", ".pb"); i >= 0) {
        t.kind = "input";
        t.index = i;
      } else if (int o = number_in(name, "output_", ".pb"); o >= 0) {
        t.kind = "output";
        t.index = o;
      } else if (name == "label.pb") {
        t.kind = "label";
      } else {
        continue;
      }
      files.push_back(std::move(t));
    }
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
      return std::tie(a.kind, a.index) < std::tie(b.kind, b.index);
    });
    f.test_data.insert(f.test_data.end(), files.begin(), files.end());
  }
  return f;
}

json JobOptions::to_json() const {
  json o = {{"backends", backends}, {"rt", rt}, {"samples", samples}};
  if (warmup) o["warmup"] = *warmup;
  if (runs) o["runs"] = *runs;
  if (seconds) o["seconds"] = *seconds;
  if (threads) o["threads"] = *threads;
  if (tolerance) o["tolerance"] = *tolerance;
  if (period_us) o["period_us"] = *period_us;
  if (priority) o["priority"] = *priority;
  if (cpu) o["cpu"] = *cpu;
  return o;
}

std::string file_sha256(const std::string& path) {
  // Keyed by path, size and modification time: a file rewritten between two
  // jobs of one process is hashed again.
  static std::mutex mu;
  static std::map<std::string, std::pair<std::string, std::string>> cache;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw Error("cannot read " + path + ": " + std::strerror(errno));
  std::string key = std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
                    std::to_string(st.st_mtim.tv_nsec);
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(path);
    if (it != cache.end() && it->second.first == key) return it->second.second;
  }
  std::string h = sha256_hex_file(path);
  std::lock_guard<std::mutex> lock(mu);
  cache[path] = {key, h};
  return h;
}

// --- the client -----------------------------------------------------------------

Client::Client(Endpoint endpoint, std::string token)
    : endpoint_(std::move(endpoint)), token_(std::move(token)),
      http_(std::make_unique<httplib::Client>(endpoint_.host, endpoint_.port)) {
  http_->set_connection_timeout(kConnectTimeoutS, 0);
  http_->set_read_timeout(kIoTimeoutS, 0);
  http_->set_write_timeout(kIoTimeoutS, 0);
  http_->set_keep_alive(false);
  if (!token_.empty()) http_->set_bearer_token_auth(token_);
}

Client::~Client() = default;

void Client::fail_transport(const char* what, int error_code) {
  auto err = static_cast<httplib::Error>(error_code);
  std::string where = "the agent at " + endpoint_.text();
  switch (err) {
    case httplib::Error::Connection:
      throw Error(std::string(what) + ": cannot connect to " + where +
                  " (connection refused or host unreachable): is `rtml agent --listen ADDR:" +
                  std::to_string(endpoint_.port) +
                  "` running on the board, listening on an address this machine can reach, and is the host name "
                  "right?");
    case httplib::Error::ConnectionTimeout:
      throw Error(std::string(what) + ": no connection to " + where + " within " + std::to_string(kConnectTimeoutS) +
                  " s: check the address, that the board is on the network, and any firewall between");
    case httplib::Error::Read:
      throw Error(std::string(what) + ": " + where + " closed the connection or sent no answer within " +
                  std::to_string(kIoTimeoutS) + " s: check that the agent is still running (its log says why)");
    case httplib::Error::Write:
      throw Error(std::string(what) + ": sending to " + where +
                  " failed: the agent closed the connection (over its limits? stopped?)" + limits_text());
    default:
      throw Error(std::string(what) + ": request to " + where + " failed: " + httplib::to_string(err));
  }
}

std::string Client::limits_text() {
  if (!info_ || !info_->contains("limits") || !(*info_)["limits"].is_object()) return "";
  const json& l = (*info_)["limits"];
  std::string s = "; the agent's limits (GET /v1/info):";
  if (l.contains("max_body_bytes") && l["max_body_bytes"].is_number())
    s += " max_body_bytes " + mib(l["max_body_bytes"].get<double>()) + " (--max-body-mb)";
  if (l.contains("max_model_bytes") && l["max_model_bytes"].is_number())
    s += ", max_model_bytes " + mib(l["max_model_bytes"].get<double>()) + " (--max-model-mb)";
  return s;
}

Client::Response Client::check(const char* what, int status, const std::string& body,
                               std::initializer_list<int> expect) {
  for (int e : expect)
    if (status == e) return {status, body};
  std::string code;
  std::string msg = agent_message(body, &code);
  std::string where = "the agent at " + endpoint_.text();
  if (status == 401) {
    if (token_.empty())
      throw Error(std::string(what) + ": " + where +
                  " wants a token (401 unauthorized): give the agent's token file with --token-file FILE or "
                  "$RTML_TOKEN_FILE");
    throw Error(std::string(what) + ": " + where +
                " refused the token (401 unauthorized): the token file must hold the same token as the agent's "
                "--token-file");
  }
  if (status == 413)
    throw Error(std::string(what) + ": too large for " + where + " (413): " + msg + limits_text());
  if (status == 429)
    throw Error(std::string(what) + ": " + where + "'s job queue is full (429): " + msg + "; try again later");
  throw Error(std::string(what) + ": " + where + " answered " + std::to_string(status) +
              (code.empty() ? "" : " " + code) + ": " + msg);
}

const json& Client::info() {
  if (info_) return *info_;
  auto res = http_->Get("/v1/info");
  if (!res) fail_transport("GET /v1/info", static_cast<int>(res.error()));
  Response r = check("GET /v1/info", res->status, res->body, {200});
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("protocol"))
    throw Error("GET /v1/info: " + endpoint_.text() + " did not answer like an rtml agent (no protocol and name)");
  if (!j["protocol"].is_number_integer() || j["protocol"].get<int>() != 1)
    throw Error("the agent at " + endpoint_.text() + " speaks protocol " + j["protocol"].dump() +
                ", this rtml speaks protocol 1: use the same rtml version on both sides");
  info_ = std::move(j);
  return *info_;
}

std::string Client::name() { return info()["name"].get<std::string>(); }

bool Client::upload(const std::string& path, const std::string& sha) {
  if (!is_hex64(sha)) throw Error("'" + sha + "' is not a SHA-256 (64 lower-case hex digits)");
  if (present_.count(sha)) return false;
  const std::string url = "/v1/blobs/" + sha;
  ++stats_.blobs_checked;
  auto head = http_->Head(url.c_str());
  if (!head) fail_transport(("HEAD " + url).c_str(), static_cast<int>(head.error()));
  Response h = check(("HEAD blob of " + path).c_str(), head->status, head->body, {200, 404});
  if (h.status == 200) {
    present_.insert(sha);
    return false;
  }
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) throw Error("cannot read " + path + ": " + ec.message());
  auto in = std::make_shared<std::ifstream>(path, std::ios::binary);
  if (!*in) throw Error("cannot read " + path + ": " + std::strerror(errno));
  auto res = http_->Put(
      url.c_str(), static_cast<size_t>(size),
      [in, path](size_t offset, size_t length, httplib::DataSink& sink) {
        char buf[64 * 1024];
        in->seekg(static_cast<std::streamoff>(offset));
        size_t n = std::min(length, sizeof buf);
        in->read(buf, static_cast<std::streamsize>(n));
        if (in->gcount() <= 0) return false;  // the file shrank: the agent sees a short body
        return sink.write(buf, static_cast<size_t>(in->gcount()));
      },
      "application/octet-stream");
  if (!res) fail_transport(("PUT " + path).c_str(), static_cast<int>(res.error()));
  if (res->status == 409)
    throw Error("uploading " + path + ": the agent at " + endpoint_.text() +
                " received bytes that do not hash to the file's SHA-256 (409): did the file change while it was sent? "
                "Run again");
  check(("uploading " + path).c_str(), res->status, res->body, {200, 201});
  ++stats_.blobs_uploaded;
  stats_.bytes_uploaded += static_cast<int64_t>(size);
  present_.insert(sha);
  return true;
}

std::string Client::submit(const json& job) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(kQueueFullWaitS);
  for (;;) {
    auto res = http_->Post("/v1/jobs", job.dump(), "application/json");
    if (!res) fail_transport("POST /v1/jobs", static_cast<int>(res.error()));
    if (res->status == 429 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      continue;
    }
    Response r = check("submitting the job", res->status, res->body, {200, 201, 202});
    json j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("job") || !j["job"].is_string() || j["job"].get<std::string>().empty())
      throw Error("submitting the job: the agent at " + endpoint_.text() + " answered without a job id: " +
                  r.body.substr(0, 200));
    return j["job"].get<std::string>();
  }
}

json Client::job(const std::string& id) {
  const std::string url = "/v1/jobs/" + id;
  auto res = http_->Get(url.c_str());
  if (!res) fail_transport(("GET " + url).c_str(), static_cast<int>(res.error()));
  if (res->status == 404)
    throw Error("the agent at " + endpoint_.text() + " no longer knows job " + id +
                " (was it restarted? finished jobs are kept for an hour)");
  Response r = check(("GET " + url).c_str(), res->status, res->body, {200});
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("state") || !j["state"].is_string())
    throw Error("GET " + url + ": the agent at " + endpoint_.text() + " sent no job state: " + r.body.substr(0, 200));
  return j;
}

json Client::bench(const ModelFiles& files, const JobOptions& options, const Progress& progress) {
  const json& inf = info();
  const std::string agent = name();
  // Backends the agent lacks fail here, before any upload.
  if (inf.contains("backends") && inf["backends"].is_array()) {
    std::vector<std::string> have;
    for (const auto& b : inf["backends"])
      if (b.is_string()) have.push_back(b.get<std::string>());
    for (const auto& b : options.backends)
      if (std::find(have.begin(), have.end(), b) == have.end()) {
        std::string list;
        for (const auto& h : have) list += (list.empty() ? "" : ", ") + h;
        throw Error("the agent '" + agent + "' at " + endpoint_.text() + " has no backend '" + b + "' (it has: " +
                    list + ")");
      }
  }

  // Hash every file; check the agent's limits before sending anything.
  auto hash = [&](const std::string& path) {
    ++stats_.files;
    return file_sha256(path);
  };
  json model = {{"name", files.name}, {"onnx", hash(files.onnx)}};
  std::vector<std::pair<std::string, std::string>> blobs = {{model["onnx"], files.onnx}};
  if (!files.torchscript.empty()) {
    model["torchscript"] = hash(files.torchscript);
    blobs.emplace_back(model["torchscript"], files.torchscript);
  }
  if (!files.test_data.empty()) {
    json td = json::array();
    for (const auto& t : files.test_data) {
      json e = {{"set", t.set}, {"kind", t.kind}};
      if (t.kind != "label") e["index"] = t.index;
      e["blob"] = hash(t.path);
      blobs.emplace_back(e["blob"], t.path);
      td.push_back(std::move(e));
    }
    model["test_data"] = std::move(td);
  }
  std::map<std::string, std::string> unique(blobs.begin(), blobs.end());  // hash -> (first) path
  if (inf.contains("limits") && inf["limits"].is_object()) {
    const json& l = inf["limits"];
    double total = 0;
    for (const auto& [h, path] : unique) {
      double size = static_cast<double>(fs::file_size(path));
      total += size;
      if (l.contains("max_body_bytes") && l["max_body_bytes"].is_number() &&
          size > l["max_body_bytes"].get<double>())
        throw Error(path + " (" + mib(size) + ") is larger than the agent '" + agent + "' accepts" + limits_text());
    }
    if (l.contains("max_model_bytes") && l["max_model_bytes"].is_number() && total > l["max_model_bytes"].get<double>())
      throw Error("model " + files.name + ": its files total " + mib(total) + ", more than the agent '" + agent +
                  "' accepts for one job" + limits_text());
  }
  if (progress) progress("checking " + std::to_string(unique.size()) + (unique.size() == 1 ? " file" : " files") +
                          ", sending what the agent lacks");
  for (const auto& [h, path] : unique) upload(path, h);

  json request = {{"kind", "bench"}, {"model", model}, {"options", options.to_json()}};
  const std::string id = submit(request);

  // Poll until the job ends. A job waits at most max_queue jobs ahead of it,
  // each stopped after job_timeout_s: past that (plus a minute) the agent is stuck.
  double timeout_s = 600, max_queue = 8;
  if (inf.contains("limits") && inf["limits"].is_object()) {
    timeout_s = inf["limits"].value("job_timeout_s", timeout_s);
    max_queue = inf["limits"].value("max_queue", max_queue);
  }
  auto give_up = std::chrono::steady_clock::now() + std::chrono::duration<double>((max_queue + 1) * timeout_s + 60);
  std::string last;
  int failures = 0;
  for (;;) {
    json j;
    try {
      j = this->job(id);
      failures = 0;
    } catch (const Error& e) {
      // A dropped poll is retried for a few seconds; a lost job is not.
      if (++failures >= kPollRetries || std::string(e.what()).find("no longer knows") != std::string::npos) throw;
      std::this_thread::sleep_for(kPollInterval);
      continue;
    }
    const std::string state = j["state"].get<std::string>();
    std::string text;
    if (state == "queued") {
      text = "queued";
      if (j.contains("position") && j["position"].is_number_integer())
        text += " (position " + std::to_string(j["position"].get<int64_t>()) + ")";
    } else if (state == "running") {
      text = j.contains("progress") && j["progress"].is_string() && !j["progress"].get<std::string>().empty()
                 ? j["progress"].get<std::string>()
                 : "running";
    } else {
      text = state;
    }
    if (text != last && progress) progress(text);
    last = text;
    std::string error = j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : "";
    if (state == "failed")
      throw JobError(state, "job " + id + " for " + files.name + " failed on the agent '" + agent + "' at " +
                                endpoint_.text() + ": " + (error.empty() ? "(no message)" : error));
    if (state == "timeout")
      throw JobError(state, "job " + id + " for " + files.name + " was stopped by the agent '" + agent + "' at " +
                                endpoint_.text() + ": " +
                                (error.empty() ? "it ran past the agent's time limit (--job-timeout-s " +
                                                     std::to_string(static_cast<long long>(timeout_s)) + ")"
                                               : error));
    if (state == "done") {
      if (!j.contains("report") || j["report"].is_null())
        throw Error("job " + id + " is done on the agent at " + endpoint_.text() + " but came back without a report");
      json report = j["report"];
      try {
        bench::check_report(report);
      } catch (const Error& e) {
        throw Error("the agent at " + endpoint_.text() + " sent a report for job " + id +
                    " that is not an rtml.bench/1 report: " + e.what());
      }
      if (report["runs"].empty())
        throw Error("the agent at " + endpoint_.text() + " sent a report for job " + id + " with no runs");
      report["host"]["target"] = agent;
      for (auto& run : report["runs"]) {
        run["model"] = files.name;
        run["model_path"] = files.onnx;
      }
      return report;
    }
    if (state != "queued" && state != "running")
      throw Error("the agent at " + endpoint_.text() + " reports job " + id + " in an unknown state '" + state + "'");
    if (std::chrono::steady_clock::now() > give_up)
      throw Error("job " + id + " on the agent at " + endpoint_.text() + " is still '" + state +
                  "' long after the agent's own time limits: the agent seems stuck (check its log)");
    std::this_thread::sleep_for(kPollInterval);
  }
}

}  // namespace rtml::remote
