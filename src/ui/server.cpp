#include "ui/server.h"

#include <httplib.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "bench/compare.h"
#include "core/error.h"
#include "remote/agent.h"
#include "remote/listen.h"
#include "results/db.h"
#include "ui/assets.h"

using nlohmann::json;

namespace rtml::ui {

namespace {

// A 4xx raised while reading a request.
struct HttpError {
  int status;
  std::string message;
};
[[noreturn]] void bad(const std::string& message) { throw HttpError{400, message}; }
[[noreturn]] void not_found(const std::string& message) { throw HttpError{404, message}; }

void set_error(httplib::Response& res, int status, const std::string& message) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

void set_json(httplib::Response& res, const json& j) {
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_content(j.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

template <typename T>
json opt(const std::optional<T>& v) {
  return v ? json(*v) : json();
}


json change_json(const std::optional<bench::MetricChange>& m) {
  if (!m) return nullptr;
  json j = {{"before", m->before},
            {"after", m->after},
            {"change_pct", std::isfinite(m->change_pct) ? json(m->change_pct) : json()},
            {"threshold_us", m->threshold_us},
            {"noise_us", m->noise_us},
            {"p_value", opt(m->p_value)},
            {"verdict", bench::verdict_name(m->verdict)}};
  j["reason"] = m->reason == bench::SameReason::None ? json() : json(bench::same_reason_name(m->reason));
  return j;
}

// A whole number in [min, max] from a query or path parameter.
int64_t to_int(const std::string& name, const std::string& v, int64_t min, int64_t max) {
  char* end = nullptr;
  errno = 0;
  long long n = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || errno == ERANGE || n < min || n > max)
    bad(name + " is '" + v + "', expected a whole number from " + std::to_string(min) + " to " + std::to_string(max));
  return n;
}

int64_t run_id_of(const std::string& v) { return to_int("the run id", v, 1, INT64_MAX); }

// Query parameters: each at most once, none unknown.
std::map<std::string, std::string> params_of(const httplib::Request& req, const std::set<std::string>& known) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : req.params) {
    if (!known.count(k)) {
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
      bad("unknown parameter '" + k + "' (known: " + (list.empty() ? "none" : list) + ")");
    }
    if (out.count(k)) bad("parameter '" + k + "' given twice");
    out[k] = v;
  }
  return out;
}

bool is_loopback_host_header(std::string host) {
  // "127.0.0.1:8321", "localhost:8321", "[::1]:8321" (or without the port).
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    if (close == std::string::npos) return false;
    host = host.substr(1, close - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  return remote::is_loopback_address(host);
}

}  // namespace

struct UiServer::Impl {
  UiOptions opt;
  results::ResultsDb db;
  std::mutex db_mu;  // one connection, one statement at a time
  std::map<std::string_view, const Asset*> assets;
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  int bound_port = 0;
  bool started = false;
  bool loopback = true;

  explicit Impl(UiOptions o) : opt(std::move(o)), db(results::ResultsDb::open_read_only(opt.db_path)) {
    for (const Asset& a : embedded_assets()) assets[a.path] = &a;
    loopback = remote::is_loopback_address(opt.host);
  }

  json run_detail(int64_t id) {
    std::lock_guard<std::mutex> lock(db_mu);
    if (!db.has_run(id)) not_found("no run " + std::to_string(id) + " in " + opt.db_path);
    json report = db.get_run(id);
    json out = {{"id", id},
                {"report_id", report["report_id"]},
                {"created", report["created"]},
                {"host", report["host"]},
                {"options", report["options"]},
                {"run", report["runs"][0]}};
    json profiles = json::array();
    for (const auto& p : db.profiles(id))
      profiles.push_back({{"id", p.id}, {"kind", p.kind}, {"bytes", p.bytes}, {"added", p.added}});
    out["profiles"] = std::move(profiles);
    return out;
  }

  void runs(const httplib::Request& req, httplib::Response& res) {
    auto p = params_of(req, {"model", "backend", "since", "until", "status", "sort", "order", "limit", "offset"});
    results::RunQuery q;
    q.model = p["model"];
    q.backend = p["backend"];
    q.since = p["since"];
    q.until = p["until"];
    q.status = p["status"];
    const std::string sort = p.count("sort") ? p["sort"] : "created";
    if (sort == "created") q.sort = results::RunSort::Created;
    else if (sort == "model") q.sort = results::RunSort::Model;
    else if (sort == "backend") q.sort = results::RunSort::Backend;
    else if (sort == "median") q.sort = results::RunSort::Median;
    else bad("sort is '" + sort + "', expected created, model, backend or median");
    const std::string order = p.count("order") ? p["order"] : (sort == "created" ? "desc" : "asc");
    if (order != "asc" && order != "desc") bad("order is '" + order + "', expected asc or desc");
    q.descending = order == "desc";
    if (p.count("limit")) q.limit = to_int("limit", p["limit"], 1, 1000);
    if (p.count("offset")) q.offset = to_int("offset", p["offset"], 0, INT64_MAX);
    results::RunPage page;
    {
      std::lock_guard<std::mutex> lock(db_mu);
      try {
        page = db.query_runs(q);
      } catch (const Error& e) {
        // query_runs names the file in database errors, not in complaints about its input.
        if (std::string(e.what()).find(opt.db_path) == std::string::npos) bad(e.what());
        throw;
      }
    }
    nlohmann::ordered_json rows = nlohmann::ordered_json::array();
    for (const auto& r : page.rows) rows.push_back(results::to_json(r, true));
    set_json(res, {{"total", page.total}, {"offset", q.offset}, {"limit", q.limit}, {"runs", std::move(rows)}});
  }

  void facets(const httplib::Request& req, httplib::Response& res) {
    params_of(req, {});
    std::lock_guard<std::mutex> lock(db_mu);
    auto f = db.facets();
    set_json(res, {{"runs", db.count_runs()},
                   {"models", f.models},
                   {"backends", f.backends},
                   {"first_created", f.first_created.empty() ? json() : json(f.first_created)},
                   {"last_created", f.last_created.empty() ? json() : json(f.last_created)},
                   {"db", opt.db_path}});
  }

  void profile(const httplib::Request& req, httplib::Response& res) {
    params_of(req, {});
    int64_t id = run_id_of(req.matches[1]);
    std::string kind = req.matches[2];
    std::optional<std::string> content;
    {
      std::lock_guard<std::mutex> lock(db_mu);
      if (!db.has_run(id)) not_found("no run " + std::to_string(id) + " in " + opt.db_path);
      content = db.profile_content(id, kind);
    }
    if (!content)
      not_found("run " + std::to_string(id) + " has no '" + kind + "' profile (rtml profile MODEL --db ... stores them)");
    res.status = 200;
    res.set_header("Cache-Control", "no-store");
    const bool is_json = kind == "profile" || kind == "chrome-trace" || kind == "speedscope";
    res.set_content(std::move(*content), is_json ? "application/json" : "text/plain; charset=utf-8");
  }

  void compare(const httplib::Request& req, httplib::Response& res) {
    auto p = params_of(req, {"a", "b"});
    if (!p.count("a") || !p.count("b")) bad("compare needs two runs: /api/compare?a=ID&b=ID");
    int64_t a = to_int("a", p["a"], 1, INT64_MAX), b = to_int("b", p["b"], 1, INT64_MAX);
    json da = run_detail(a), db_ = run_detail(b);
    json ra, rb;
    {
      std::lock_guard<std::mutex> lock(db_mu);
      ra = db.get_run(a);
      rb = db.get_run(b);
    }
    json notes = json::array();
    json& run_a = ra["runs"][0];
    json& run_b = rb["runs"][0];
    // The comparison pairs runs by model and backend: pair these two whatever they are.
    if (run_a["model"] != run_b["model"] || run_a["backend"] != run_b["backend"]) {
      notes.push_back("run " + std::to_string(a) + " is " + run_a["model"].get<std::string>() + " on " +
                      run_a["backend"].get<std::string>() + ", run " + std::to_string(b) + " is " +
                      run_b["model"].get<std::string>() + " on " + run_b["backend"].get<std::string>() +
                      ": compared as two measurements of the same thing");
      run_b["model"] = run_a["model"];
      run_b["backend"] = run_a["backend"];
    }
    bench::CompareResult cmp = bench::compare_reports(ra, rb);
    for (const auto& n : cmp.notes) notes.push_back(n);
    json comparison = nullptr;
    if (!cmp.rows.empty()) {
      const bench::CompareRow& r = cmp.rows[0];
      comparison = {{"kind", bench::row_kind_name(r.kind)},
                    {"median", change_json(r.median)},
                    {"p99", change_json(r.p99)},
                    {"error_a", r.error_a.empty() ? json() : json(r.error_a)},
                    {"error_b", r.error_b.empty() ? json() : json(r.error_b)},
                    {"regression", cmp.regression()}};
    }
    set_json(res, {{"a", std::move(da)}, {"b", std::move(db_)}, {"comparison", comparison}, {"notes", notes}});
  }

  void asset(const httplib::Request& req, httplib::Response& res) {
    std::string_view path = req.path == "/" ? std::string_view("/index.html") : std::string_view(req.path);
    auto it = assets.find(path);
    if (it == assets.end()) {
      if (req.path.rfind("/api/", 0) == 0 || req.path == "/api") not_found("no API " + req.path + " here");
      not_found("no file " + req.path + " here");
    }
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_content(std::string(it->second->data), std::string(it->second->content_type));
  }
};

UiServer::UiServer(UiOptions options) {
  if (std::string_view missing = missing_assets(); !missing.empty())
    throw Error("this rtml was built without the web page's files: " + std::string(missing));
  impl_ = std::make_unique<Impl>(std::move(options));
}

UiServer::~UiServer() { stop(); }

int UiServer::start() {
  Impl& m = *impl_;
  if (m.started) return m.bound_port;
  m.server = remote::make_guarded_server(m.opt.connections, [](const std::string& message) {
    return json{{"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace);
  });
  httplib::Server& s = *m.server;
  s.set_read_timeout(30, 0);
  s.set_write_timeout(30, 0);
  s.set_payload_max_length(1 << 16);  // nothing here takes a body
  s.set_pre_routing_handler([&m](const httplib::Request& req, httplib::Response& res) {
    // Headers on every answer, errors included.
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                   "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    if (req.method != "GET" && req.method != "HEAD") {
      set_error(res, 405, "only GET and HEAD here (the page is read-only)");
      res.set_header("Allow", "GET, HEAD");
      return httplib::Server::HandlerResponse::Handled;
    }
    // DNS rebinding: a page from another site that resolves its own name to
    // 127.0.0.1 would send its own host name here.
    if (m.loopback && !is_loopback_host_header(req.get_header_value("Host"))) {
      set_error(res, 403, "Host '" + req.get_header_value("Host") + "' is not this machine: open http://127.0.0.1:" +
                              std::to_string(m.bound_port) + "/");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  // fn(Impl&, req, res): a member function or a lambda; 4xx thrown as HttpError.
  auto guard = [&m](auto fn) {
    return [&m, fn](const httplib::Request& req, httplib::Response& res) {
      try {
        std::invoke(fn, m, req, res);
      } catch (const HttpError& e) {
        set_error(res, e.status, e.message);
      }
    };
  };
  s.Get("/api/facets", guard(&Impl::facets));
  s.Get("/api/runs", guard(&Impl::runs));
  s.Get(R"(/api/runs/([^/]+))", guard([](Impl& m, const httplib::Request& req, httplib::Response& res) {
    params_of(req, {});
    set_json(res, m.run_detail(run_id_of(req.matches[1])));
  }));
  s.Get(R"(/api/runs/([^/]+)/profiles/([A-Za-z0-9_.-]+))", guard(&Impl::profile));
  s.Get("/api/compare", guard(&Impl::compare));
  s.Get(R"(/.*)", guard(&Impl::asset));
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    set_error(res, 500, remote::exception_text(ep));
  });
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404)
      set_error(res, 404, "no " + req.path + " here");
    else
      set_error(res, res.status, "malformed request (HTTP status " + std::to_string(res.status) + ")");
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_logger([&m](const httplib::Request& req, const httplib::Response& res) {
    if (m.opt.log || res.status >= 500)
      std::fprintf(stderr, "rtml ui: %s %s -> %d%s%s\n", req.method.c_str(), req.path.c_str(), res.status,
                   res.status >= 400 ? ": " : "", res.status >= 400 ? res.body.c_str() : "");
  });
  m.bound_port = remote::bind_server(s, m.opt.host, m.opt.port,
                                     "is another rtml ui running there? pass --port N, or --port 0 for any free port");
  m.started = true;
  m.thread = std::thread([&m] { m.server->listen_after_bind(); });
  for (int i = 0; i < 500 && !s.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return m.bound_port;
}

void UiServer::stop() {
  if (!impl_ || !impl_->started) return;
  impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->started = false;
}

int UiServer::port() const { return impl_->bound_port; }
const UiOptions& UiServer::options() const { return impl_->opt; }

}  // namespace rtml::ui
