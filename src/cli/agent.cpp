// `rtml agent`: runs on the board; serves the remote protocol
// (docs/remote-protocol.md) until SIGINT or SIGTERM. See remote/agent.h.
#include <pthread.h>
#include <signal.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/cli.h"
#include "cli/options.h"
#include "core/error.h"
#ifdef RTML_WITH_REMOTE
#include "remote/agent.h"
#endif

namespace rtml::cli {

namespace {

const char* kAbout =
    "Runs on the board: accepts models and test data from `rtml remote` (or tools/rtml_remote.py), stores\n"
    "them by SHA-256 under DIR, runs bench jobs one at a time and hands back their reports\n"
    "(docs/remote-protocol.md). Stops on Ctrl-C or SIGTERM.";

#ifdef RTML_WITH_REMOTE
// ADDR:PORT, [IPv6]:PORT.
void parse_listen(const std::string& text, std::string& host, int& port) {
  std::string p;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw UsageError("--listen '" + text + "' is not [ADDR]:PORT");
    host = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon)
      throw UsageError("--listen '" + text + "' is not ADDR:PORT (e.g. 0.0.0.0:7070; an IPv6 address goes in brackets)");
    host = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  if (host.empty()) throw UsageError("--listen '" + text + "' has no address before the port (0.0.0.0 for every interface)");
  port = parse_int("--listen's port", p, 1, 65535);
}
#endif

}  // namespace

int cmd_agent(const Args& args) {
  std::string listen, token_file, workdir, name, launcher;
  bool insecure_local = false;
  int max_body_mb = 256, max_model_mb = 128, job_timeout_s = 600, max_queue = 8;
  OptionTable table("agent", "--listen ADDR:PORT --token-file FILE --workdir DIR [options]", kAbout);
  table
      .value("--listen", "ADDR:PORT", listen,
             "address and port to listen on (e.g. 0.0.0.0:7070, 127.0.0.1:7070, [::]:7070)")
      .value("--token-file", "FILE", token_file,
             "the bearer token clients must send: the file's first line (keep it chmod 600)")
      .flag("--insecure-local", insecure_local, "no token; only with a loopback address (127.0.0.1, ::1), for tests")
      .value("--workdir", "DIR", workdir,
             "where blobs and job folders live (new or empty, or an agent's earlier workdir)")
      .value("--name", "NAME", name, "the name clients record the runs under (default: the hostname)")
      .number("--max-body-mb", "N", max_body_mb, 1, "largest upload (default 256)", 1 << 20)
      .number("--max-model-mb", "N", max_model_mb, 1, "largest job: its files added up (default 128)", 1 << 20)
      .number("--job-timeout-s", "N", job_timeout_s, 1,
              "a job running longer is stopped and reported as timeout (default 600)", 1 << 30)
      .number("--max-queue", "N", max_queue, 1, "jobs waiting or running at once; more are refused (default 8)",
              100000)
      .value("--launcher", "CMD", launcher,
             "run each job's rtml under CMD (split at spaces), e.g. 'qemu-arm-static -L /'\n"
             "when this agent itself runs under qemu-user without binfmt_misc");
  if (!table.parse(args)) return 0;
#ifndef RTML_WITH_REMOTE
  throw Error("this rtml was built without cpp-httplib: no agent (install libcpp-httplib-dev and rebuild)");
#else
  remote::AgentOptions opt;
  opt.workdir = workdir;
  opt.name = name;
  opt.insecure_local = insecure_local;
  opt.max_body_bytes = int64_t(max_body_mb) << 20;
  opt.max_model_bytes = int64_t(max_model_mb) << 20;
  opt.job_timeout_s = job_timeout_s;
  opt.max_queue = max_queue;
  opt.launcher = split(launcher, ' ');
  if (listen.empty()) throw UsageError("--listen ADDR:PORT is needed (e.g. --listen 0.0.0.0:7070)");
  if (opt.workdir.empty()) throw UsageError("--workdir DIR is needed (the agent keeps blobs and job folders there)");
  parse_listen(listen, opt.host, opt.port);
  if (!token_file.empty()) {
    if (opt.insecure_local) throw UsageError("--token-file and --insecure-local both given: choose one");
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
