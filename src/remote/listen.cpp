#include "remote/listen.h"

#include <cerrno>
#include <cstring>

#include <httplib.h>

#include "core/error.h"

namespace rtml::remote {

int bind_server(httplib::Server& server, const std::string& host, int port, const std::string& busy_hint) {
  if (port == 0) {
    int bound = server.bind_to_any_port(host);
    if (bound <= 0) throw Error("cannot listen on " + host + ": " + std::strerror(errno));
    return bound;
  }
  if (!server.bind_to_port(host, port))
    throw Error("cannot listen on " + host + ":" + std::to_string(port) + ": " + std::strerror(errno) + " (" +
                busy_hint + ")");
  return port;
}

std::string exception_text(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown error";
  }
}

}  // namespace rtml::remote
