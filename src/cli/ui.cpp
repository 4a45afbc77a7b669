// `rtml ui`: serves a local web page over the results database until SIGINT
// or SIGTERM. See ui/server.h.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/cli.h"
#include "cli/options.h"
#include "core/error.h"
#ifdef RTML_WITH_UI
#include "remote/agent.h"
#include "results/db.h"
#include "ui/server.h"
#endif

namespace rtml::cli {

namespace {

const char* kAbout =
    "Serves a web page over the results database: the runs (filter by model, backend, date), one run\n"
    "(latency histogram and timeline, memory, per-operator table, flame graph from rtml profile --perf),\n"
    "and two runs compared. Read-only: nothing in the database changes. Works without a network: the\n"
    "page's files are inside rtml. Stops on Ctrl-C or SIGTERM.";

}  // namespace

int cmd_ui(const Args& args) {
  std::string db_path, host = "127.0.0.1";
  int port = 8321;
  bool log = false;
  OptionTable table("ui", "[--db PATH] [--port N] [--host ADDR] [--log]", kAbout);
  table.value("--db", "PATH", db_path, "the results database (default: $RTML_DB, else ~/.local/share/rtml/results.db)")
      .number("--port", "N", port, 0, "port to listen on (default 8321; 0: any free port)", 65535)
      .value("--host", "ADDR", host,
             "address to listen on (default 127.0.0.1: this machine only). Another address lets\n"
             "anyone who can reach it read every run in the database")
      .flag("--log", log, "one line per request on stderr");
  if (!table.parse(args)) return 0;
  if (host.empty()) throw UsageError("--host needs an address, e.g. 127.0.0.1");
#ifndef RTML_WITH_UI
  throw Error(
      "this rtml was built without rtml ui: it needs cpp-httplib and SQLite (install libcpp-httplib-dev and "
      "libsqlite3-dev, then rebuild)");
#else
  ui::UiOptions opt;
  opt.db_path = db_path;
  opt.host = host;
  opt.port = port;
  opt.log = log;
  if (opt.db_path.empty()) opt.db_path = results::default_db_path();

  // SIGINT/SIGTERM are taken by sigwait below: block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ui::UiServer server(opt);
  port = server.start();
  if (!remote::is_loopback_address(opt.host))
    std::fprintf(stderr,
                 "rtml ui: warning: listening on %s, not on this machine only: anyone who can reach it can read "
                 "every run in %s\n",
                 opt.host.c_str(), opt.db_path.c_str());
  std::string shown = opt.host.find(':') != std::string::npos ? "[" + opt.host + "]" : opt.host;
  if (opt.host == "0.0.0.0") shown = "127.0.0.1";
  if (opt.host == "::") shown = "[::1]";
  std::printf("rtml ui: serving %s at http://%s:%d/ (Ctrl-C stops)\n", opt.db_path.c_str(), shown.c_str(), port);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "rtml ui: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  server.stop();
  return 0;
#endif
}

}  // namespace rtml::cli
