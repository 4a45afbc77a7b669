// ui/server: what `rtml ui` serves. A local web page over the results
// database, read-only: the runs (filtered, sorted, one page at a time), one
// run with its profiles, two runs compared. Built when cpp-httplib and
// SQLite are both found (RTML_WITH_UI).
//
// JSON API (every error is {"error": "message"} with a 4xx/5xx status):
//   GET /api/facets                 {runs, models, backends, first_created, last_created}
//   GET /api/runs?model=&backend=&since=&until=&status=&sort=&order=&limit=&offset=
//                                   {total, offset, limit, runs: [row]}; sort: created|model|
//                                   backend|median, order: asc|desc, limit 1..1000 (default 50)
//   GET /api/runs/ID                {id, report_id, created, host, options, run, profiles:
//                                   [{id, kind, bytes, added}]}
//   GET /api/runs/ID/profiles/KIND  the newest profile of that kind as stored (JSON or text)
//   GET /api/compare?a=ID&b=ID      {a, b (as /api/runs/ID), comparison: bench::compare of the
//                                   two runs (paired even when model or backend differ), notes}
// Anything else is one of the embedded files (ui/assets.h), "/" being
// /index.html; unknown paths are 404. Only GET and HEAD are answered. On a
// loopback address the Host header must name a loopback host (no DNS
// rebinding); no CORS headers are ever sent.
#pragma once

#include <memory>
#include <string>

#include "remote/listen.h"

namespace rtml::ui {

struct UiOptions {
  std::string db_path;             // must exist: opened read-only
  std::string host = "127.0.0.1";  // address to listen on
  int port = 8321;                 // 0: any free port (UiServer::port() says which)
  bool log = false;                // one line per request on stderr
  // Slow and idle clients (remote/listen.h); idle browser connections are
  // closed soon so that they do not hold up Ctrl-C for long.
  remote::ConnectionLimits connections = [] {
    remote::ConnectionLimits l;
    l.idle_timeout_s = 2;
    return l;
  }();
};

class UiServer {
 public:
  // Opens the database read-only and checks the page's files were embedded.
  // rtml::Error saying what to do otherwise (the database does not exist or
  // is not an rtml results database; the build lacked ui/node_modules).
  explicit UiServer(UiOptions options);
  ~UiServer();  // stop()
  UiServer(const UiServer&) = delete;
  UiServer& operator=(const UiServer&) = delete;

  // Binds the address and serves on a background thread; returns the port.
  // rtml::Error if the address cannot be bound.
  int start();
  void stop();
  int port() const;
  const UiOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rtml::ui
