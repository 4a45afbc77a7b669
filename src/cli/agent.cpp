// `rtml agent`: runs on the board; serves the remote protocol
// (docs/remote-protocol.md) until SIGINT or SIGTERM. See remote/agent.h.
#include <pthread.h>
#include <signal.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/cli.h"
#include "core/error.h"
#ifdef RTML_WITH_REMOTE
#include "remote/agent.h"
#endif

namespace rtml::cli {

namespace {

const char* kUsage =
    "usage: rtml agent --listen ADDR:PORT --token-file FILE --workdir DIR [options]\n"
    "Runs on the board: accepts models and test data from `rtml remote` (or tools/rtml_remote.py), stores\n"
    "them by SHA-256 under DIR, runs bench jobs one at a time and hands back their reports\n"
    "(docs/remote-protocol.md). Stops on Ctrl-C or SIGTERM.\n"
    "\n"
    "  --listen ADDR:PORT    address and port to listen on (e.g. 0.0.0.0:7070, 127.0.0.1:7070, [::]:7070)\n"
    "  --token-file FILE     the bearer token clients must send: the file's first line (keep it chmod 600)\n"
    "  --insecure-local      no token; only with a loopback address (127.0.0.1, ::1), for tests\n"
    "  --workdir DIR         where blobs and job folders live (new or empty, or an agent's earlier workdir)\n"
    "  --name NAME           the name clients record the runs under (default: the hostname)\n"
    "  --max-body-mb N       largest upload (default 256)\n"
    "  --max-model-mb N      largest job: its files added up (default 128)\n"
    "  --job-timeout-s N     a job running longer is stopped and reported as timeout (default 600)\n"
    "  --max-queue N         jobs waiting or running at once; more are refused (default 8)\n"
    "  --launcher CMD        run each job's rtml under CMD (split at spaces), e.g. 'qemu-arm-static -L /'\n"
    "                        when this agent itself runs under qemu-user without binfmt_misc";

#ifdef RTML_WITH_REMOTE
int to_positive(const std::string& option, const std::string& v, int max) {
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || n < 1 || n > max)
    throw Error(option + " needs a whole number from 1 to " + std::to_string(max) + ", got '" + v + "'");
  return static_cast<int>(n);
}

// ADDR:PORT, [IPv6]:PORT.
void parse_listen(const std::string& text, std::string& host, int& port) {
  std::string p;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw Error("--listen '" + text + "' is not [ADDR]:PORT");
    host = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon)
      throw Error("--listen '" + text + "' is not ADDR:PORT (e.g. 0.0.0.0:7070; an IPv6 address goes in brackets)");
    host = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  if (host.empty()) throw Error("--listen '" + text + "' has no address before the port (0.0.0.0 for every interface)");
  port = to_positive("--listen's port", p, 65535);
}
#endif

}  // namespace

int cmd_agent(const Args& args) {
  for (const auto& a : args)
    if (a == "-h" || a == "--help") {
      std::puts(kUsage);
      return 0;
    }
#ifndef RTML_WITH_REMOTE
  throw Error("this rtml was built without cpp-httplib: no agent (install libcpp-httplib-dev and rebuild)");
#else
  remote::AgentOptions opt;
  std::string listen, token_file;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw Error(a + " needs a value (see rtml agent --help)");
      return args[++i];
    };
    if (a == "--listen") {
      listen = value();
    } else if (a == "--token-file") {
      token_file = value();
    } else if (a == "--insecure-local") {
      opt.insecure_local = true;
    } else if (a == "--workdir") {
      opt.workdir = value();
    } else if (a == "--name") {
      opt.name = value();
    } else if (a == "--max-body-mb") {
      opt.max_body_bytes = int64_t(to_positive(a, value(), 1 << 20)) << 20;
    } else if (a == "--max-model-mb") {
      opt.max_model_bytes = int64_t(to_positive(a, value(), 1 << 20)) << 20;
    } else if (a == "--job-timeout-s") {
      opt.job_timeout_s = to_positive(a, value(), 1 << 30);
    } else if (a == "--max-queue") {
      opt.max_queue = to_positive(a, value(), 100000);
    } else if (a == "--launcher") {
      const std::string& cmd = value();
      size_t start = 0;
      while (start < cmd.size()) {
        size_t end = cmd.find(' ', start);
        if (end == std::string::npos) end = cmd.size();
        if (end > start) opt.launcher.push_back(cmd.substr(start, end - start));
        start = end + 1;
      }
    } else {
      throw Error("unknown argument '" + a + "' (see rtml agent --help)");
    }
  }
  if (listen.empty()) throw Error("--listen ADDR:PORT is needed (e.g. --listen 0.0.0.0:7070)");
  if (opt.workdir.empty()) throw Error("--workdir DIR is needed (the agent keeps blobs and job folders there)");
  parse_listen(listen, opt.host, opt.port);
  if (!token_file.empty()) {
    if (opt.insecure_local) throw Error("--token-file and --insecure-local both given: choose one");
    std::string warning;
    opt.token = remote::read_agent_token(token_file, warning);
    if (!warning.empty()) std::fprintf(stderr, "rtml agent: warning: %s\n", warning.c_str());
  }

  // SIGINT/SIGTERM are taken by sigwait below: block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  remote::Agent agent(opt);
  int port = agent.start();
  const auto& o = agent.options();
  std::fprintf(stderr, "rtml agent: '%s' listening on %s:%d%s; workdir %s; limits: body %lld MiB, model %lld MiB, job %d s, queue %d\n",
               o.name.c_str(), o.host.c_str(), port, o.token.empty() ? " WITHOUT a token (--insecure-local)" : "",
               o.workdir.c_str(), static_cast<long long>(o.max_body_bytes >> 20),
               static_cast<long long>(o.max_model_bytes >> 20), o.job_timeout_s, o.max_queue);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "rtml agent: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  agent.stop();
  return 0;
#endif
}

}  // namespace rtml::cli
