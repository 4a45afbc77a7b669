// remote/agent_requests: the checks `rtml agent` makes on what a client sends
// (docs/remote-protocol.md), as pure functions of the request's text: the job
// description (POST /v1/jobs), the Authorization header, and the headers of
// a request with a body (the upload PUT /v1/blobs/<hash> and the job POST),
// checked before the body is read. No server, no files, no OpenSSL: the
// libFuzzer targets fuzz_job and fuzz_upload (fuzz/) link this file alone
// with librtml; remote/agent.cpp puts them on the wire.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rtml::remote {

// A refusal other than a plain 400 (411, 413, 404, 500...): the HTTP status,
// the error code and the message of the JSON answer.
struct HttpError {
  int status;
  std::string code;
  std::string message;
};

// True if `s` is 64 lower-case hex digits (a blob name).
bool is_sha256_hex(std::string_view s);

// A job description (POST /v1/jobs) once validated: what the agent lays out
// in the job folder and how it runs `rtml bench` there.
struct JobRequest {
  struct File {
    std::string dest;   // path in the job folder ("model.onnx", "test_data_set_0/input_0.pb", ...)
    std::string blob;   // SHA-256 of its bytes
    std::string field;  // the field that named it ("model.test_data[3].blob"), for messages
  };
  std::string model;                    // model.name
  std::vector<File> files;
  std::vector<std::string> backends;    // options.backends, default {"native"}
  std::vector<std::string> bench_args;  // the other options as rtml bench arguments
};

// Parses and strictly validates a job description (docs/remote-protocol.md):
// JSON that is not UTF-8, numbers out of range, unknown or ill-typed fields,
// backends not in `backend_names`. rtml::Error with the message of the 400
// answer otherwise. Pure: it touches no file (the agent then checks that the
// blobs are there).
JobRequest parse_job_request(const std::string& body, const std::vector<std::string>& backend_names);

// The token of an `Authorization: Bearer <token>` header (the scheme name is
// case-insensitive, RFC 7235; trailing white space dropped); "" for any other
// header, which no token matches.
std::string bearer_token(const std::string& authorization);

// The headers that decide whether the agent reads a request's body.
struct BodyRequest {
  std::string method;                        // "PUT", "POST", ...
  std::string path;                          // "/v1/blobs/<hash>", "/v1/jobs", ...
  bool chunked = false;                      // a Transfer-Encoding header is present
  std::optional<std::string> content_length;  // the Content-Length header, if any
  std::string content_encoding;              // "" when absent
};
// How large a body may be.
struct BodyLimits {
  int64_t job_bytes = int64_t(1) << 20;   // a job description (POST /v1/jobs)
  int64_t upload_bytes = int64_t(256) << 20;  // one blob (PUT /v1/blobs/<hash>)
};

// Checks a PUT or POST before its body is read: a route that takes a body
// (404), a Content-Length (411; chunked bodies are refused), a number (400)
// within the limit (413), no Content-Encoding but identity (400). Returns the
// body's length, or the refusal. A blob's hash in the path is checked by the
// route (400), not here.
struct BodyCheck {
  int64_t length = 0;
  std::optional<HttpError> refusal;
};
BodyCheck check_body_request(const BodyRequest& request, const BodyLimits& limits);

}  // namespace rtml::remote
