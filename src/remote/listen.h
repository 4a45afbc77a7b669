// What every rtml HTTP server (the agent, rtml ui) does the same way: bind to
// an address (the port-0 rule and the error a user reads), and name an
// exception a handler let escape.
#pragma once

#include <exception>
#include <string>

namespace httplib {
class Server;
}

namespace rtml::remote {

// Binds `server` to host:port (port 0: any free port the kernel picks) and
// returns the port bound. rtml::Error naming the address and errno's text,
// plus `busy_hint` (e.g. "is another agent running there?") for a fixed port.
int bind_server(httplib::Server& server, const std::string& host, int port, const std::string& busy_hint);

// The message of the exception in `ep` ("unknown error" when it is not a
// std::exception), for a server's 500 response.
std::string exception_text(std::exception_ptr ep);

}  // namespace rtml::remote
