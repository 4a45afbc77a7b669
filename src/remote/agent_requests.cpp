#include "remote/agent_requests.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"

using nlohmann::json;

namespace rtml::remote {

namespace {

// A 400: what is wrong with the request.
[[noreturn]] void bad(const std::string& message) { throw Error(message); }

std::string json_type(const json& j) {
  if (j.is_null()) return "null";
  if (j.is_boolean()) return "a boolean";
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_array()) return "an array";
  return "an object";
}

void only_fields(const json& obj, const std::string& where, const std::set<std::string>& known) {
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (!known.count(it.key())) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      bad("unknown field '" + where + it.key() + "' (known here: " + list + ")");
    }
}

int64_t get_int(const json& j, const std::string& field, int64_t min, int64_t max) {
  if (!j.is_number_integer())
    bad("'" + field + "' must be a whole number, got " + json_type(j));
  int64_t v = j.is_number_unsigned() && j.get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX : j.get<int64_t>();
  if (v < min || v > max)
    bad("'" + field + "' must be from " + std::to_string(min) + " to " + std::to_string(max) + ", got " + j.dump());
  return v;
}

double get_number(const json& j, const std::string& field, double min) {
  if (!j.is_number()) bad("'" + field + "' must be a number, got " + json_type(j));
  double v = j.get<double>();
  if (!(v >= min) || !std::isfinite(v)) bad("'" + field + "' must be a number >= " + json(min).dump() + ", got " + j.dump());
  return v;
}

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

JobRequest parse_job_request(const std::string& body, const std::vector<std::string>& backend_names) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::parse_error& e) {  // also text that is not UTF-8
    bad(std::string("the body is not valid JSON: ") + e.what());
  } catch (const json::out_of_range& e) {  // a number beyond double's range, e.g. 1e400
    bad(std::string("the body holds a number out of range: ") + e.what());
  }
  if (!j.is_object()) bad("the body must be a JSON object, got " + json_type(j));
  only_fields(j, "", {"kind", "model", "options"});
  if (!j.contains("kind")) bad("missing field 'kind' (\"bench\")");
  if (!j["kind"].is_string()) bad("'kind' must be a string, got " + json_type(j["kind"]));
  std::string kind = j["kind"];
  if (kind == "profile") bad("'kind': \"profile\" jobs are not supported by this agent yet (use \"bench\")");
  if (kind != "bench") bad("'kind' must be \"bench\", got \"" + kind + "\"");

  if (!j.contains("model")) bad("missing field 'model'");
  const json& m = j["model"];
  if (!m.is_object()) bad("'model' must be an object, got " + json_type(m));
  only_fields(m, "model.", {"name", "onnx", "torchscript", "test_data"});
  if (!m.contains("name")) bad("missing field 'model.name'");
  if (!m["name"].is_string()) bad("'model.name' must be a string, got " + json_type(m["name"]));
  std::string name = m["name"];
  static const std::regex name_re("[A-Za-z0-9._-]{1,100}");
  if (!std::regex_match(name, name_re)) bad("'model.name' must match [A-Za-z0-9._-]{1,100}, got " + json(name).dump());

  JobRequest r;
  r.model = name;
  auto blob_field = [&](const json& v, const std::string& field) -> std::string {
    if (!v.is_string()) bad("'" + field + "' must be a SHA-256 string, got " + json_type(v));
    std::string h = v;
    if (!is_sha256_hex(h)) bad("'" + field + "' is not a SHA-256 (64 lower-case hex digits): " + json(h).dump());
    return h;
  };
  if (!m.contains("onnx")) bad("missing field 'model.onnx' (the ONNX file's blob)");
  r.files.push_back({"model.onnx", blob_field(m["onnx"], "model.onnx"), "model.onnx"});
  if (m.contains("torchscript"))
    r.files.push_back({"model.pt", blob_field(m["torchscript"], "model.torchscript"), "model.torchscript"});
  if (m.contains("test_data")) {
    const json& td = m["test_data"];
    if (!td.is_array()) bad("'model.test_data' must be an array, got " + json_type(td));
    if (td.size() > 10000) bad("'model.test_data' lists " + std::to_string(td.size()) + " files; at most 10000");
    std::set<std::string> seen;
    for (size_t i = 0; i < td.size(); ++i) {
      const std::string where = "model.test_data[" + std::to_string(i) + "]";
      const json& e = td[i];
      if (!e.is_object()) bad("'" + where + "' must be an object, got " + json_type(e));
      only_fields(e, where + ".", {"set", "kind", "index", "blob"});
      for (const char* f : {"set", "kind", "blob"})
        if (!e.contains(f)) bad("missing field '" + where + "." + f + "'");
      int64_t set = get_int(e["set"], where + ".set", 0, 9999);
      if (!e["kind"].is_string()) bad("'" + where + ".kind' must be a string, got " + json_type(e["kind"]));
      std::string k = e["kind"];
      std::string dest = "test_data_set_" + std::to_string(set) + "/";
      if (k == "input" || k == "output") {
        if (!e.contains("index")) bad("missing field '" + where + ".index' (an " + k + " needs its position)");
        dest += k + "_" + std::to_string(get_int(e["index"], where + ".index", 0, 9999)) + ".pb";
      } else if (k == "label") {
        if (e.contains("index")) bad("'" + where + ".index': a label has no index (one label.pb per set)");
        dest += "label.pb";
      } else {
        bad("'" + where + ".kind' must be \"input\", \"output\" or \"label\", got " + json(k).dump());
      }
      if (!seen.insert(dest).second) bad("'" + where + "' names " + dest + " a second time");
      r.files.push_back({dest, blob_field(e["blob"], where + ".blob"), where + ".blob"});
    }
  }

  // Options -> rtml bench arguments.
  std::vector<std::string>& args = r.bench_args;
  std::vector<std::string>& backends = r.backends;
  backends = {"native"};
  if (j.contains("options")) {
    const json& o = j["options"];
    if (!o.is_object()) bad("'options' must be an object, got " + json_type(o));
    only_fields(o, "options.", {"backends", "warmup", "runs", "seconds", "threads", "tolerance", "period_us", "rt",
                                "priority", "cpu", "samples"});
    auto present = [&](const char* k) { return o.contains(k) && !o[k].is_null(); };
    if (o.contains("backends")) {
      const json& b = o["backends"];
      if (!b.is_array() || b.empty()) bad("'options.backends' must be a non-empty array of names");
      backends.clear();
      for (const auto& x : b) {
        if (!x.is_string()) bad("'options.backends' must hold strings, got " + json_type(x));
        std::string n = x;
        if (std::find(backend_names.begin(), backend_names.end(), n) == backend_names.end()) {
          std::string list;
          for (const auto& a : backend_names) list += (list.empty() ? "" : ", ") + a;
          bad("'options.backends': this agent has no backend '" + n + "' (it has: " + list + ")");
        }
        backends.push_back(n);
      }
    }
    if (present("warmup")) args.insert(args.end(), {"--warmup", std::to_string(get_int(o["warmup"], "options.warmup", 0, 2000000000))});
    if (present("runs") && present("seconds")) bad("'options.runs' and 'options.seconds' both given: choose one");
    if (present("runs")) args.insert(args.end(), {"--runs", std::to_string(get_int(o["runs"], "options.runs", 1, 2000000000))});
    if (present("seconds")) args.insert(args.end(), {"--seconds", format_number(get_number(o["seconds"], "options.seconds", 0.001))});
    if (present("threads")) args.insert(args.end(), {"--threads", std::to_string(get_int(o["threads"], "options.threads", 1, 1024))});
    if (present("tolerance")) args.insert(args.end(), {"--tolerance", format_number(get_number(o["tolerance"], "options.tolerance", 0))});
    if (present("period_us")) args.insert(args.end(), {"--period-us", format_number(get_number(o["period_us"], "options.period_us", 1))});
    if (o.contains("rt")) {
      if (!o["rt"].is_boolean()) bad("'options.rt' must be true or false, got " + json_type(o["rt"]));
      if (o["rt"].get<bool>()) args.push_back("--rt");
    }
    if (present("priority")) args.insert(args.end(), {"--priority", std::to_string(get_int(o["priority"], "options.priority", 1, 99))});
    if (present("cpu")) args.insert(args.end(), {"--cpu", std::to_string(get_int(o["cpu"], "options.cpu", 0, 4095))});
    if (o.contains("samples")) {
      if (!o["samples"].is_boolean()) bad("'options.samples' must be true or false, got " + json_type(o["samples"]));
      if (o["samples"].get<bool>()) args.push_back("--samples");
    }
    for (const char* k : {"backends", "rt", "samples"})
      if (o.contains(k) && o[k].is_null()) bad(std::string("'options.") + k + "' must not be null");
  }
  return r;
}
std::string bearer_token(const std::string& authorization) {
  std::string scheme = authorization.substr(0, 7);
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string given = authorization.size() > 7 && scheme == "bearer " ? authorization.substr(7) : std::string();
  while (!given.empty() && std::isspace(static_cast<unsigned char>(given.back()))) given.pop_back();
  return given;
}

BodyCheck check_body_request(const BodyRequest& req, const BodyLimits& limits) {
  auto refuse = [](int status, const char* code, const std::string& message) {
    return BodyCheck{0, HttpError{status, code, message}};
  };
  const bool job = req.method == "POST" && req.path == "/v1/jobs";
  const bool upload = req.method == "PUT" && req.path.rfind("/v1/blobs/", 0) == 0;
  if (!job && !upload)  // refused before the body would be read into memory
    return refuse(404, "not_found", "no " + req.method + " " + req.path + " here (see docs/remote-protocol.md)");
  if (req.chunked || !req.content_length)
    return refuse(411, "length_required", "the request needs a Content-Length (chunked bodies are not accepted)");
  const std::string& cl = *req.content_length;
  if (cl.empty() || cl.size() > 18 || cl.find_first_not_of("0123456789") != std::string::npos)
    return refuse(400, "bad_request", "Content-Length '" + cl + "' is not a number");
  const int64_t length = std::stoll(cl);
  const int64_t limit = job ? limits.job_bytes : limits.upload_bytes;
  if (length > limit)
    return refuse(413, "too_large",
                  "the body is " + std::to_string(length) + " bytes; this agent takes at most " + std::to_string(limit) +
                      (job ? " for a job description" : " per upload (--max-body-mb)"));
  if (!req.content_encoding.empty() && req.content_encoding != "identity")
    return refuse(400, "bad_request",
                  "Content-Encoding '" + req.content_encoding + "' is not accepted: send the bytes as they are");
  return BodyCheck{length, std::nullopt};
}

}  // namespace rtml::remote
