// libFuzzer target: the headers of a request with a body (an upload,
// PUT /v1/blobs/<hash>, or a job, POST /v1/jobs) through the agent's checks
// before it reads the body (remote::check_body_request), and the
// Authorization header through remote::bearer_token. Input: one flags byte,
// then method, path, Content-Length, Content-Encoding and Authorization
// separated by newlines. A refusal is an expected outcome; an acceptance must
// be for a route that takes a body, with a length within the limit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "remote/agent_requests.h"

namespace {

std::vector<std::string> split_lines(const std::string& s, size_t n) {
  std::vector<std::string> out(n);
  size_t i = 0, start = 0;
  for (; i + 1 < n; ++i) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) break;
    out[i] = s.substr(start, nl - start);
    start = nl + 1;
  }
  if (start <= s.size()) out[i] = s.substr(start);
  return out;
}

bool lower_ascii_equal(const std::string& a, const char* b) {
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (c != b[i]) return false;
  }
  return b[a.size()] == '\0';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const auto f = split_lines(std::string(reinterpret_cast<const char*>(data + 1), size - 1), 5);
  rtml::remote::BodyRequest req;
  req.method = f[0];
  req.path = f[1];
  req.chunked = flags & 1;
  if (flags & 2) req.content_length = f[2];
  req.content_encoding = f[3];
  rtml::remote::BodyLimits limits;
  limits.upload_bytes = (flags & 4) ? 1000 : limits.upload_bytes;  // a small limit too, so 413 is reached
  const rtml::remote::BodyCheck c = rtml::remote::check_body_request(req, limits);
  if (c.refusal) {
    const int s = c.refusal->status;
    if ((s != 400 && s != 404 && s != 411 && s != 413) || c.refusal->code.empty() || c.refusal->message.empty())
      __builtin_trap();
  } else {
    const bool job = req.method == "POST" && req.path == "/v1/jobs";
    const bool upload = req.method == "PUT" && req.path.compare(0, 10, "/v1/blobs/") == 0;
    if (!job && !upload) __builtin_trap();
    if (req.chunked || !req.content_length) __builtin_trap();
    if (c.length < 0 || c.length > (job ? limits.job_bytes : limits.upload_bytes)) __builtin_trap();
    const std::string& cl = *req.content_length;  // digits only, the same number
    if (cl.find_first_not_of("0123456789") != std::string::npos) __builtin_trap();
    const size_t first = cl.find_first_not_of('0');
    if (std::to_string(c.length) != (first == std::string::npos ? "0" : cl.substr(first))) __builtin_trap();
    if (!req.content_encoding.empty() && req.content_encoding != "identity") __builtin_trap();
    if (upload) rtml::remote::is_sha256_hex(req.path.substr(10));  // the route's check of the hash
  }
  const std::string token = rtml::remote::bearer_token(f[4]);
  if (!token.empty()) {  // "Bearer " in any case, then the token with no trailing white space
    if (f[4].size() < 7 + token.size() || !lower_ascii_equal(f[4].substr(0, 7), "bearer ") ||
        f[4].compare(7, token.size(), token) != 0)
      __builtin_trap();
    const char last = token.back();
    if (last == ' ' || last == '\t' || last == '\n' || last == '\r' || last == '\v' || last == '\f') __builtin_trap();
  }
  return 0;
}
