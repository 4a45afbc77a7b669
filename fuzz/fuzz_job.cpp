// libFuzzer target: a job description (the body of POST /v1/jobs) through
// remote::parse_job_request, the agent's validation. rtml::Error (the 400
// answer) is the expected outcome for bad input; an accepted job must hold
// only what the agent then lays out on disk and passes to `rtml bench`.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "remote/agent_requests.h"

namespace {

bool name_ok(const std::string& s) {
  if (s.empty() || s.size() > 100) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return false;
  return true;
}

// A job folder path: model.onnx, model.pt or test_data_set_<n>/<file>.pb, no "..".
bool dest_ok(const std::string& d) {
  if (d == "model.onnx" || d == "model.pt") return true;
  return d.rfind("test_data_set_", 0) == 0 && d.find("..") == std::string::npos &&
         d.find('/') == d.rfind('/') && d.size() > 3 && d.compare(d.size() - 3, 3, ".pb") == 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<std::string> backends = {"native", "torch", "onnxruntime"};
  const std::string body(reinterpret_cast<const char*>(data), size);
  try {
    rtml::remote::JobRequest r = rtml::remote::parse_job_request(body, backends);
    if (!name_ok(r.model)) __builtin_trap();
    if (r.files.empty() || r.files[0].dest != "model.onnx") __builtin_trap();
    std::set<std::string> dests;
    for (const auto& f : r.files)
      if (!rtml::remote::is_sha256_hex(f.blob) || !dest_ok(f.dest) || !dests.insert(f.dest).second) __builtin_trap();
    if (r.backends.empty()) __builtin_trap();
    for (const auto& b : r.backends)
      if (b != "native" && b != "torch" && b != "onnxruntime") __builtin_trap();
    for (const auto& a : r.bench_args)  // options and their values only: nothing that could be a path
      if (a.empty() || a.find('/') != std::string::npos) __builtin_trap();
  } catch (const rtml::Error&) {
  }
  return 0;
}
