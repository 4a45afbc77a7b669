// What every rtml HTTP server (the agent, rtml ui) does the same way: the
// server itself, guarded against clients that hold connections; binding to
// an address (the port-0 rule and the error a user reads); naming an
// exception a handler let escape.
//
// cpp-httplib serves each connection on a worker thread from accept to
// close, so a client that sends its headers a byte at a time, or connects
// and says nothing, holds a worker. The guarded server bounds that:
//   - a connection without a request in progress is closed after
//     idle_timeout_s (between keep-alive requests too);
//   - a request's line and headers must be complete request_timeout_s after
//     its first byte, whatever the pace of the bytes; its body then gets
//     request_timeout_s more plus its length at min_body_bytes_per_s;
//   - one client address holds at most max_per_client connections: the next
//     one is answered 503 and closed at once;
//   - workers are started as connections need them, up to max_threads, so a
//     few held connections do not keep the next client waiting.
// Each read also has the server's own read timeout (set_read_timeout).
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <string>

namespace httplib {
class Server;
}

namespace rtml::remote {

struct ConnectionLimits {
  int idle_timeout_s = 5;
  int request_timeout_s = 10;
  double min_body_bytes_per_s = 64 * 1024;
  int max_per_client = 32;
  int max_threads = 128;
};

// A server with the limits above. `error_json(message)` is the body of the
// 503 answer for a client over its connection limit (the server's own JSON
// error shape). rtml::Error if a limit is not positive.
std::unique_ptr<httplib::Server> make_guarded_server(const ConnectionLimits& limits,
                                                     std::function<std::string(const std::string&)> error_json);

// Binds `server` to host:port (port 0: any free port the kernel picks) and
// returns the port bound. rtml::Error naming the address and errno's text,
// plus `busy_hint` (e.g. "is another agent running there?") for a fixed port.
int bind_server(httplib::Server& server, const std::string& host, int port, const std::string& busy_hint);

// The message of the exception in `ep` ("unknown error" when it is not a
// std::exception), for a server's 500 response.
std::string exception_text(std::exception_ptr ep);

}  // namespace rtml::remote
