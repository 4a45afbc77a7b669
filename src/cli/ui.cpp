// `rtml ui`: serves a local web page over the results database until SIGINT
// or SIGTERM. See ui/server.h.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/cli.h"
#include "core/error.h"
#ifdef RTML_WITH_UI
#include "remote/agent.h"
#include "results/db.h"
#include "ui/server.h"
#endif

namespace rtml::cli {

namespace {

const char* kUsage =
    "usage: rtml ui [--db PATH] [--port N] [--host ADDR] [--log]\n"
    "Serves a web page over the results database: the runs (filter by model, backend, date), one run\n"
    "(latency histogram and timeline, memory, per-operator table, flame graph from rtml profile --perf),\n"
    "and two runs compared. Read-only: nothing in the database changes. Works without a network: the\n"
    "page's files are inside rtml. Stops on Ctrl-C or SIGTERM.\n"
    "\n"
    "  --db PATH      the results database (default: $RTML_DB, else ~/.local/share/rtml/results.db)\n"
    "  --port N       port to listen on (default 8321; 0: any free port)\n"
    "  --host ADDR    address to listen on (default 127.0.0.1: this machine only). Another address lets\n"
    "                 anyone who can reach it read every run in the database\n"
    "  --log          one line per request on stderr";

}  // namespace

int cmd_ui(const Args& args) {
  for (const auto& a : args)
    if (a == "-h" || a == "--help") {
      std::puts(kUsage);
      return 0;
    }
#ifndef RTML_WITH_UI
  throw Error(
      "this rtml was built without rtml ui: it needs cpp-httplib and SQLite (install libcpp-httplib-dev and "
      "libsqlite3-dev, then rebuild)");
#else
  ui::UiOptions opt;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value (see rtml ui --help)");
      return args[++i];
    };
    if (a == "--db") {
      opt.db_path = value();
    } else if (a == "--port") {
      opt.port = parse_int(a, value(), 0);
      if (opt.port > 65535) throw UsageError("--port needs a whole number from 0 to 65535, got " + args[i]);
    } else if (a == "--host") {
      opt.host = value();
      if (opt.host.empty()) throw UsageError("--host needs an address, e.g. 127.0.0.1");
    } else if (a == "--log") {
      opt.log = true;
    } else {
      throw UsageError("unknown argument '" + a + "' (see rtml ui --help)");
    }
  }
  if (opt.db_path.empty()) opt.db_path = results::default_db_path();

  // SIGINT/SIGTERM are taken by sigwait below: block them before any thread starts.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ui::UiServer server(opt);
  int port = server.start();
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
