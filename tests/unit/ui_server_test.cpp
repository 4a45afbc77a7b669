// ui/server: `rtml ui`'s HTTP side in-process, on a free port, against a
// temporary results database: the JSON API's shapes, paging and filters,
// 400/404/405/403 as JSON, profiles, the comparison, the embedded files and
// their content types, and that nothing outside them can be fetched; slow and
// idle clients do not keep a page request waiting.
#if defined(RTML_WITH_UI)

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "core/error.h"
#include "results/db.h"
#include "ui/assets.h"
#include "ui/server.h"
#include "error_of.h"
#include "slow_clients.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json host() {
  return {{"hostname", "box"}, {"target", nullptr}, {"arch", "x86_64"},          {"os", "Linux"},
          {"cpu_model", "cpu"}, {"cores", 2},        {"memory_bytes", 1 << 30}, {"rtml_version", "0.1.0"}};
}

// median m, p90 m + 2 (the noise band), p99 m + 10, p999 m + 20.
json ok_run(const std::string& model, const std::string& backend, double m) {
  return {{"model", model},
          {"backend", backend},
          {"status", "ok"},
          {"latency_us",
           {{"min", m - 1}, {"mean", m}, {"median", m}, {"p90", m + 2}, {"p99", m + 10}, {"p999", m + 20},
            {"max", m + 30}, {"stddev", 1}, {"jitter", 1}}},
          {"histogram", {{"edges_us", {m - 1, m, m + 30}}, {"counts", {3, 4}}}}};
}

json report(const std::string& created, json runs) {
  return {{"schema", "rtml.bench/1"}, {"created", created}, {"host", host()},
          {"options", {{"warmup", 1}}}, {"runs", std::move(runs)}};
}

class UiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!rtml::ui::missing_assets().empty())
      GTEST_SKIP() << "built without the page's files: " << rtml::ui::missing_assets();
    dir_ = fs::temp_directory_path() / ("rtml_ui_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_path_ = (dir_ / "results.db").string();
    {
      rtml::results::ResultsDb db(db_path_);
      // 120 runs: report k (day k + 1 of March 2024) has mlp_k on native (median 100 + k)
      // and, for even k, cnn_k on torch (median 500 + k), and one error run in report 0.
      for (int k = 0; k < 40; ++k) {
        char day[32];
        std::snprintf(day, sizeof day, "2024-03-%02dT08:00:00Z", k % 28 + 1);
        json runs = {ok_run("mlp_" + std::to_string(k), "native", 100 + k)};
        if (k % 2 == 0) runs.push_back(ok_run("cnn_" + std::to_string(k), "torch", 500 + k));
        runs.push_back(ok_run("gru_" + std::to_string(k), "native", 300 + k));
        if (k == 0) runs.push_back({{"model", "broken"}, {"backend", "native"}, {"status", "error"}, {"error", "boom"}});
        db.add_report(report(day, runs));
      }
      // Two runs to compare: the same model, twice as slow the second time.
      db.add_report(report("2024-04-01T08:00:00Z", {ok_run("cmp", "native", 100), ok_run("cmp", "native", 200)}));
      rtml::results::RunFilter only_cmp;
      only_cmp.model = "cmp";
      auto rows = db.list(only_cmp);
      fast_ = rows[1].id;
      slow_ = rows[0].id;
      db.add_profile(fast_, "folded", "main;run;gemm 42\nmain;run 8\n");
      db.add_profile(fast_, "profile", R"({"schema": "rtml.profile/1", "ops": []})");
      total_ = db.count_runs();
    }
    rtml::ui::UiOptions opt;
    opt.db_path = db_path_;
    opt.port = 0;
    server_ = std::make_unique<rtml::ui::UiServer>(opt);
    port_ = server_->start();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", port_);
  }
  void TearDown() override {
    client_.reset();
    server_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  struct Resp {
    int status = 0;
    std::string body;
    httplib::Headers headers;
    json j;  // the body as JSON; null when it is not JSON
    std::string header(const std::string& name) const {
      auto it = headers.find(name);
      return it == headers.end() ? "" : it->second;
    }
  };
  // GET path, expecting `expect_status`; never a CORS header.
  Resp get(const std::string& path, int expect_status) {
    Resp out;
    auto res = client_->Get(path.c_str());
    EXPECT_TRUE(res) << path << ": no response";
    if (!res) return out;
    EXPECT_EQ(res->status, expect_status) << path << ": " << res->body;
    EXPECT_FALSE(res->has_header("Access-Control-Allow-Origin")) << path;
    out.status = res->status;
    out.body = res->body;
    out.headers = res->headers;
    out.j = json::parse(res->body, nullptr, false);
    if (out.j.is_discarded()) out.j = nullptr;
    return out;
  }
  json get_json(const std::string& path, int expect_status = 200) { return get(path, expect_status).j; }
  // A 4xx: JSON {"error": message}, the message containing `word`.
  void expect_error(const std::string& path, int status, const std::string& word) {
    Resp r = get(path, status);
    EXPECT_EQ(r.header("Content-Type"), "application/json") << path;
    ASSERT_TRUE(r.j.is_object() && r.j.contains("error")) << path << ": " << r.body;
    EXPECT_NE(r.j["error"].get<std::string>().find(word), std::string::npos) << path << ": " << r.j["error"];
  }

  fs::path dir_;
  std::string db_path_;
  int64_t fast_ = 0, slow_ = 0, total_ = 0;
  std::unique_ptr<rtml::ui::UiServer> server_;
  std::unique_ptr<httplib::Client> client_;
  int port_ = 0;
};

TEST_F(UiServerTest, FacetsAndPagesOfRuns) {
  json f = get_json("/api/facets");
  EXPECT_EQ(f["runs"], 40 + 20 + 40 + 1 + 2);  // mlp, cnn, gru, broken, cmp
  EXPECT_EQ(f["runs"], total_);
  EXPECT_EQ(f["backends"], json({"native", "torch"}));
  EXPECT_EQ(f["models"].size(), 40u + 20 + 40 + 2);
  EXPECT_EQ(f["first_created"], "2024-03-01T08:00:00Z");
  EXPECT_EQ(f["last_created"], "2024-04-01T08:00:00Z");

  json page = get_json("/api/runs");
  EXPECT_EQ(page["total"], total_);
  EXPECT_EQ(page["limit"], 50);
  ASSERT_EQ(page["runs"].size(), 50u);
  const json& first = page["runs"][0];  // newest: the cmp report, higher id first
  EXPECT_EQ(first["model"], "cmp");
  EXPECT_EQ(first["median_us"], 200);
  for (const char* k : {"id", "report_id", "created", "hostname", "target", "backend", "status", "error", "p99_us",
                        "mean_us", "init_us", "rss_peak_bytes", "allocations_per_run", "top1", "deadline_misses"})
    EXPECT_TRUE(first.contains(k)) << k;
  EXPECT_EQ(page["runs"][1]["profiles"], 2);  // the fast cmp run

  page = get_json("/api/runs?limit=50&offset=100");
  EXPECT_EQ(page["runs"].size(), static_cast<size_t>(total_ - 100));
  page = get_json("/api/runs?backend=torch&limit=1000");
  EXPECT_EQ(page["total"], 20);
  for (const auto& r : page["runs"]) EXPECT_EQ(r["backend"], "torch");
  EXPECT_EQ(get_json("/api/runs?model=MLP_1")["total"], 11);  // mlp_1, mlp_10..mlp_19
  EXPECT_EQ(get_json("/api/runs?status=error")["total"], 1);
  // Days 1..3 of March: reports 0, 1, 2 and 28, 29, 30 (k % 28): 3 mlp + 3 gru + cnn of k = 0, 2, 28, 30 + broken.
  EXPECT_EQ(get_json("/api/runs?since=2024-03-01&until=2024-03-03")["total"], 6 + 6 + 4 + 1);
  page = get_json("/api/runs?sort=median&order=asc&limit=3");
  EXPECT_EQ(page["runs"][0]["median_us"], 100);  // mlp_0 or cmp: both 100
  EXPECT_EQ(page["runs"][2]["median_us"], 101);
  page = get_json("/api/runs?sort=median&order=desc&limit=1");
  EXPECT_EQ(page["runs"][0]["median_us"], 538);  // cnn_38
  page = get_json("/api/runs?sort=model&limit=1");  // ascending by default for names
  EXPECT_EQ(page["runs"][0]["model"], "broken");
}

TEST_F(UiServerTest, BadParametersAre400) {
  expect_error("/api/runs?limit=0", 400, "limit");
  expect_error("/api/runs?limit=1001", 400, "1001");
  expect_error("/api/runs?limit=ten", 400, "ten");
  expect_error("/api/runs?offset=-1", 400, "offset");
  expect_error("/api/runs?sort=speed", 400, "speed");
  expect_error("/api/runs?order=up", 400, "up");
  expect_error("/api/runs?since=2024-02-30x", 400, "2024-02-30x");
  expect_error("/api/runs?status=maybe", 400, "maybe");
  expect_error("/api/runs?colour=red", 400, "colour");
  expect_error("/api/runs?limit=5&limit=6", 400, "twice");
  expect_error("/api/runs/abc", 400, "abc");
  expect_error("/api/runs/0", 400, "0");
  expect_error("/api/compare?a=1", 400, "two runs");
  expect_error("/api/compare?a=1&b=x", 400, "'x'");
}

TEST_F(UiServerTest, OneRunItsProfilesAndUnknownRuns) {
  json r = get_json("/api/runs/" + std::to_string(fast_));
  EXPECT_EQ(r["id"], fast_);
  EXPECT_EQ(r["created"], "2024-04-01T08:00:00Z");
  EXPECT_EQ(r["host"]["hostname"], "box");
  EXPECT_EQ(r["options"]["warmup"], 1);
  EXPECT_EQ(r["run"]["model"], "cmp");
  EXPECT_EQ(r["run"]["histogram"]["counts"], json({3, 4}));
  ASSERT_EQ(r["profiles"].size(), 2u);
  EXPECT_EQ(r["profiles"][0]["kind"], "folded");
  EXPECT_EQ(r["profiles"][0]["bytes"], 28);  // "main;run;gemm 42\nmain;run 8\n"
  EXPECT_EQ(get_json("/api/runs/" + std::to_string(slow_))["profiles"], json::array());

  Resp folded = get("/api/runs/" + std::to_string(fast_) + "/profiles/folded", 200);
  EXPECT_EQ(folded.body, "main;run;gemm 42\nmain;run 8\n");
  EXPECT_EQ(folded.header("Content-Type"), "text/plain; charset=utf-8");
  Resp p = get("/api/runs/" + std::to_string(fast_) + "/profiles/profile", 200);
  EXPECT_EQ(p.header("Content-Type"), "application/json");
  EXPECT_EQ(p.j["schema"], "rtml.profile/1");

  expect_error("/api/runs/999999", 404, "no run 999999");
  expect_error("/api/runs/999999/profiles/folded", 404, "no run 999999");
  expect_error("/api/runs/" + std::to_string(slow_) + "/profiles/folded", 404, "has no 'folded' profile");
  expect_error("/api/compare?a=" + std::to_string(fast_) + "&b=999999", 404, "no run 999999");
  expect_error("/api/nothing", 404, "/api/nothing");
}

TEST_F(UiServerTest, CompareUsesTheNoiseAwareVerdict) {
  json c = get_json("/api/compare?a=" + std::to_string(fast_) + "&b=" + std::to_string(slow_));
  EXPECT_EQ(c["a"]["id"], fast_);
  EXPECT_EQ(c["b"]["id"], slow_);
  EXPECT_EQ(c["a"]["profiles"].size(), 2u);
  ASSERT_TRUE(c["comparison"].is_object());
  EXPECT_EQ(c["comparison"]["kind"], "compared");
  // 100 -> 200 us: +100 %, far over the 5 % threshold and the 2 us noise band (p90 - median).
  EXPECT_EQ(c["comparison"]["median"]["verdict"], "slower");
  EXPECT_DOUBLE_EQ(c["comparison"]["median"]["change_pct"].get<double>(), 100.0);
  EXPECT_DOUBLE_EQ(c["comparison"]["median"]["noise_us"].get<double>(), 2.0);
  EXPECT_EQ(c["comparison"]["regression"], true);
  EXPECT_EQ(c["notes"], json::array());

  // Different models are still paired, with a note saying so.
  json runs = get_json("/api/runs?model=mlp_3&limit=1")["runs"];
  c = get_json("/api/compare?a=" + std::to_string(fast_) + "&b=" + std::to_string(runs[0]["id"].get<int64_t>()));
  EXPECT_EQ(c["comparison"]["kind"], "compared");
  ASSERT_EQ(c["notes"].size(), 1u);
  EXPECT_NE(c["notes"][0].get<std::string>().find("mlp_3"), std::string::npos) << c["notes"];
}

TEST_F(UiServerTest, ServesOnlyTheEmbeddedFiles) {
  Resp index = get("/", 200);
  EXPECT_EQ(index.header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("<script type=\"module\" src=\"/app.js\">"), std::string::npos);
  EXPECT_NE(index.header("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(index.header("X-Content-Type-Options"), "nosniff");
  for (auto [path, type] : std::vector<std::pair<std::string, std::string>>{
           {"/index.html", "text/html; charset=utf-8"},
           {"/app.js", "text/javascript; charset=utf-8"},
           {"/flame.js", "text/javascript; charset=utf-8"},
           {"/style.css", "text/css; charset=utf-8"},
           {"/vendor/uPlot.esm.js", "text/javascript; charset=utf-8"},
           {"/vendor/uPlot.min.css", "text/css; charset=utf-8"}}) {
    Resp r = get(path, 200);
    EXPECT_EQ(r.header("Content-Type"), type) << path;
    EXPECT_GT(r.body.size(), 100u) << path;
  }
  EXPECT_NE(get("/vendor/uPlot.esm.js", 200).body.find("export { uPlot as default }"), std::string::npos);

  // Nothing else: not the sources, not the database, not /etc/passwd, however spelled.
  for (const char* path : {"/../CMakeLists.txt", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
                           "/vendor/../../ui/package.json", "/src/ui/server.cpp", "//etc/passwd", "/etc/passwd",
                           "/results.db", "/ui/src/app.js", "/app.js/", "/APP.JS", "/vendor/",
                           "/node_modules/uplot/package.json"}) {
    Resp r = get(path, 404);
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << path;
    EXPECT_EQ(r.body.find("cmake_minimum_required"), std::string::npos) << path;
    EXPECT_EQ(r.header("Content-Type"), "application/json") << path;
  }
}

TEST_F(UiServerTest, ReadOnlyLoopbackOnly) {
  auto res = client_->Post("/api/runs", "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_NE(res->body.find("read-only"), std::string::npos) << res->body;
  res = client_->Delete("/api/runs/1");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);

  // DNS rebinding: another site's name resolving to 127.0.0.1.
  res = client_->Get("/api/facets", httplib::Headers{{"Host", "attacker.example:8321"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403);
  res = client_->Get("/api/facets", httplib::Headers{{"Host", "localhost:" + std::to_string(port_)}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  // Nothing was written: the same runs, and the file refuses writes through the server's connection.
  rtml::results::ResultsDb db(db_path_);
  EXPECT_EQ(db.count_runs(), total_);
}

TEST_F(UiServerTest, SlowAndIdleClientsDoNotKeepThePageWaiting) {
  rtml::ui::UiOptions opt;
  opt.db_path = db_path_;
  opt.port = 0;
  opt.connections.request_timeout_s = 3;
  rtml::ui::UiServer server(opt);
  httplib::Client client("127.0.0.1", server.start());
  client.set_read_timeout(120, 0);  // a guard against a hang
  // 8 clients trickle header bytes and 8 say nothing (closed after 2 s idle)
  auto held = rtml::test::hold_connections(server.port(), 8, [&] {
    auto r = client.Get("/api/facets");
    return r && r->status == 200;
  });
  rtml::test::expect_served_and_closed(held, 8, "rtml ui");
}

TEST(UiServerOpen, MissingDatabaseIsAClearError) {
  if (!rtml::ui::missing_assets().empty()) GTEST_SKIP() << rtml::ui::missing_assets();
  std::string path = (fs::temp_directory_path() / "rtml_ui_no_such_dir" / "results.db").string();
  rtml::ui::UiOptions opt;
  opt.db_path = path;
  std::string err = error_of([&] { rtml::ui::UiServer s(opt); });
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("does not exist"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(path));
}

TEST(UiAssets, EveryPageFileIsEmbedded) {
  if (!rtml::ui::missing_assets().empty()) GTEST_SKIP() << rtml::ui::missing_assets();
  std::set<std::string> paths;
  for (const auto& a : rtml::ui::embedded_assets()) paths.insert(std::string(a.path));
  for (const auto& e : fs::directory_iterator(fs::path(RTML_SOURCE_DIR) / "ui" / "src"))
    EXPECT_TRUE(paths.count("/" + e.path().filename().string())) << e.path();
  EXPECT_TRUE(paths.count("/vendor/uPlot.LICENSE.txt"));
}

}  // namespace

#endif  // RTML_WITH_UI
