// Binding an httplib server to an address, for every rtml server (the agent,
// rtml ui): one place for the port-0 rule and the error a user reads.
#pragma once

#include <string>

namespace httplib {
class Server;
}

namespace rtml::remote {

// Binds `server` to host:port (port 0: any free port the kernel picks) and
// returns the port bound. rtml::Error naming the address and errno's text,
// plus `busy_hint` (e.g. "is another agent running there?") for a fixed port.
int bind_server(httplib::Server& server, const std::string& host, int port, const std::string& busy_hint);

}  // namespace rtml::remote
