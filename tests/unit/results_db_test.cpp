// results/db: the SQLite results database. Concurrent writers (forked
// processes) lose nothing, a failing transaction leaves nothing, filters and
// order of list(), reopening, and the errors a user can run into.
#ifdef RTML_WITH_SQLITE

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/compare.h"
#include "core/error.h"
#include "results/db.h"
#include "error_of.h"

namespace fs = std::filesystem;
using nlohmann::json;
using rtml::results::ResultsDb;
using rtml::results::RunFilter;
using rtml::results::RunRow;

namespace {

json host(const char* name = "box", const char* target = nullptr) {
  return {{"hostname", name},        {"target", target ? json(target) : json()},
          {"arch", "x86_64"},        {"os", "Linux"},
          {"cpu_model", "test cpu"}, {"cores", 2},
          {"memory_bytes", 1 << 30}, {"rtml_version", "0.1.0"}};
}

json options() {
  return {{"warmup", 10}, {"runs", 100}, {"threads", 1}, {"tolerance", 1e-4}, {"memory_interval_us", 1000}};
}

json latency(double median) {
  return {{"min", median - 1},   {"mean", median + 0.5}, {"median", median}, {"p90", median + 2}, {"p99", median + 10},
          {"p999", median + 20}, {"max", median + 30},   {"stddev", 1.5},    {"jitter", 10}};
}

json ok_run(const std::string& model, const std::string& backend, double median) {
  return {{"model", model}, {"backend", backend}, {"status", "ok"}, {"latency_us", latency(median)}};
}

json report(const std::string& created, json runs, json h = host()) {
  return {{"schema", "rtml.bench/1"},
          {"created", created},
          {"host", std::move(h)},
          {"options", options()},
          {"runs", std::move(runs)}};
}

// Straight SQL on the file, bypassing ResultsDb: for setting traps and for
// checking what is really stored.
struct RawDb {
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
  }
  ~RawDb() { sqlite3_close(db); }
  void exec(const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "") << " in " << sql;
  }
  std::string scalar(const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return out;
  }
  sqlite3* db = nullptr;
};

class ResultsDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() / ("rtml_results_db_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "results.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  std::string path_;
};

// "w2_r17": report 17 of writer 2.
std::string tag_of(int writer, int report) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "w%d_r%d", writer, report);
  return buf;
}

TEST_F(ResultsDbTest, ConcurrentWritersLoseNothing) {
  // 4 processes x 25 reports x 2 runs, all started at once on a database that
  // does not exist yet (so they also race to create it).
  constexpr int kWriters = 4, kReports = 25;
  int gate[2];
  ASSERT_EQ(::pipe(gate), 0);
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(gate[1]);
      char c;
      while (::read(gate[0], &c, 1) > 0) {
      }  // released when the parent closes its end
      int code = 0;
      try {
        ResultsDb db(path_);
        for (int k = 0; k < kReports; ++k) {
          std::string tag = tag_of(w, k);
          json r = report("2024-05-01T12:00:00Z",
                          {ok_run(tag + "_a", "native", 100 + k), ok_run(tag + "_b", "native", 200 + k)});
          if (db.add_report(r) != 2) code = 3;
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", w, e.what());
        code = 2;
      }
      ::_exit(code);
    }
    children.push_back(pid);
  }
  ::close(gate[0]);
  ::close(gate[1]);  // go
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "a writer crashed";
    EXPECT_EQ(WEXITSTATUS(status), 0) << "a writer failed (its message is above)";
  }

  ResultsDb db(path_);
  EXPECT_EQ(db.count_runs(), kWriters * kReports * 2);
  EXPECT_EQ(db.count_reports(), kWriters * kReports);
  RunFilter all;
  all.limit = 0;
  std::vector<RunRow> rows = db.list(all);
  ASSERT_EQ(rows.size(), size_t{kWriters * kReports * 2});
  std::set<int64_t> ids;
  std::set<std::string> models;
  std::map<int64_t, std::set<std::string>> by_report;
  for (const auto& r : rows) {
    ids.insert(r.id);
    models.insert(r.model);
    by_report[r.report_id].insert(r.model);
  }
  EXPECT_EQ(ids.size(), rows.size());
  EXPECT_EQ(models.size(), rows.size()) << "a run was stored twice";
  for (int w = 0; w < kWriters; ++w)
    for (int k = 0; k < kReports; ++k) {
      std::string tag = tag_of(w, k);
      EXPECT_TRUE(models.count(tag + "_a") && models.count(tag + "_b")) << tag << " lost";
    }
  // Each report holds its own two runs: no report split or mixed with another.
  ASSERT_EQ(by_report.size(), size_t{kWriters * kReports});
  for (const auto& [id, ms] : by_report) {
    ASSERT_EQ(ms.size(), 2u) << "report " << id;
    std::string a = *ms.begin(), b = *ms.rbegin();
    EXPECT_EQ(a.substr(0, a.size() - 2), b.substr(0, b.size() - 2)) << "report " << id << " mixes runs";
  }
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.scalar("PRAGMA journal_mode"), "wal");
}

TEST_F(ResultsDbTest, FailureMidwayLeavesNothing) {
  {
    ResultsDb db(path_);
    EXPECT_EQ(db.add_report(report("2024-05-01T12:00:00Z", {ok_run("kept", "native", 50)})), 1);
  }
  // A trap: inserting a run of model 'poison' fails inside SQLite, after the
  // report row and the runs before it have been inserted.
  RawDb(path_).exec(
      "CREATE TRIGGER poison BEFORE INSERT ON runs WHEN NEW.model = 'poison' "
      "BEGIN SELECT RAISE(ABORT, 'poisoned run'); END");
  ResultsDb db(path_);
  json bad = report("2024-05-02T12:00:00Z",
                    {ok_run("first", "native", 10), ok_run("poison", "native", 20), ok_run("third", "native", 30)});
  std::string err = error_of([&] { db.add_report(bad); });
  EXPECT_NE(err.find(path_), std::string::npos) << err;
  EXPECT_NE(err.find("poisoned run"), std::string::npos) << err;
  EXPECT_EQ(db.count_runs(), 1);
  EXPECT_EQ(db.count_reports(), 1);
  RunFilter f;
  f.model = "first";
  EXPECT_TRUE(db.list(f).empty()) << "the run before the failing one was left behind";

  // The connection is usable afterwards (no transaction left open).
  EXPECT_EQ(db.add_report(report("2024-05-03T12:00:00Z", {ok_run("after", "native", 10)})), 1);
  EXPECT_EQ(db.count_runs(), 2);

  // A status the table's CHECK rejects, slipped past the report check by
  // storing it straight: also rejected by the database itself.
  RawDb raw(path_);
  EXPECT_NE(sqlite3_exec(raw.db,
                         "INSERT INTO runs (report_id, created, model, backend, status, run) "
                         "VALUES (1, '2024-05-01', 'x', 'native', 'bogus', '{}')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(db.count_runs(), 2);
}

TEST_F(ResultsDbTest, FullDiskRollsBackAndNamesTheFile) {
  {
    ResultsDb db(path_);
    db.add_report(report("2024-05-01T12:00:00Z", {ok_run("kept", "native", 50)}));
  }
  // A child whose files may not grow past 96 KiB (as if the disk were full)
  // stores a report of about 1 MB.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int code = 0;
    try {
      ResultsDb db(path_);
      std::signal(SIGXFSZ, SIG_IGN);  // write() fails with EFBIG instead of killing us
      rlimit lim{96 * 1024, 96 * 1024};
      ::setrlimit(RLIMIT_FSIZE, &lim);
      json big_a = ok_run("big_a", "native", 10), big_b = ok_run("big_b", "native", 10);
      std::vector<double> samples(40000);
      for (size_t i = 0; i < samples.size(); ++i) samples[i] = 10.0 + static_cast<double>(i % 997) / 7.0;
      big_a["samples_us"] = samples;
      big_b["samples_us"] = samples;
      db.add_report(report("2024-05-02T12:00:00Z", {big_a, big_b}));
      code = 1;  // should not get here
    } catch (const rtml::Error& e) {
      std::string msg = e.what();
      code = msg.find(path_) != std::string::npos ? 0 : 2;
      std::fprintf(stderr, "(expected) %s\n", e.what());
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "1: the write succeeded; 2: the error did not name the file; 3: not an rtml::Error";

  ResultsDb db(path_);
  EXPECT_EQ(db.count_runs(), 1);
  EXPECT_EQ(db.count_reports(), 1);
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("PRAGMA integrity_check"), "ok");
}

TEST_F(ResultsDbTest, StoresTheNumbersAndListFiltersAndOrders) {
  ResultsDb db(path_);
  json full = ok_run("MLP_big", "native", 120);
  full["init_us"] = 1500.5;
  full["memory"] = {{"rss_baseline_bytes", 1000},
                    {"rss_after_load_bytes", 2000},
                    {"rss_peak_bytes", 3500000},
                    {"rss_mean_bytes", 2500},
                    {"sample_interval_us", 1000}};
  full["heap"] = {{"allocations_per_run", 0.5}, {"bytes_per_run", 64}};
  full["accuracy"] = {{"max_abs_error", 1e-6}, {"mean_abs_error", 1e-7}, {"top1", 0.975}, {"passed", true}};
  full["realtime"] = {
      {"period_us", 1000},        {"deadline_misses", 3.0}, {"longest_miss_streak", 1},  // 3.0: a whole float counts
      {"budget_use_median", 0.1}, {"budget_use_p99", 0.2},  {"budget_use_max", 0.3}};
  json failed = {
      {"model", "cnn"}, {"backend", "torch"}, {"status", "error"}, {"error", "cannot load"}, {"latency_us", nullptr}};
  // Stored out of date order: list() sorts by the report's time, not by insertion.
  db.add_report(report("2024-03-01T09:00:00Z", {full, failed}));
  db.add_report(report("2024-01-01T09:00:00Z", {ok_run("mlp_small", "native", 30)}));
  db.add_report(report("2024-02-01T00:00:00Z", {ok_run("mlp_small", "torch", 40), ok_run("cnn", "native", 50)},
                       host("lab", "pi4")));

  RunFilter all;
  std::vector<RunRow> rows = db.list(all);
  ASSERT_EQ(rows.size(), 5u);
  std::vector<std::string> order;
  for (const auto& r : rows) order.push_back(r.created.substr(0, 10) + " " + r.model + "/" + r.backend);
  EXPECT_EQ(order,
            (std::vector<std::string>{"2024-03-01 cnn/torch", "2024-03-01 MLP_big/native", "2024-02-01 cnn/native",
                                      "2024-02-01 mlp_small/torch", "2024-01-01 mlp_small/native"}));

  const RunRow& big = rows[1];
  EXPECT_EQ(big.status, "ok");
  EXPECT_FALSE(big.error);
  EXPECT_EQ(big.median_us, 120.0);
  EXPECT_EQ(big.p99_us, 130.0);
  EXPECT_EQ(big.mean_us, 120.5);
  EXPECT_EQ(big.init_us, 1500.5);
  EXPECT_EQ(big.rss_peak_bytes, 3500000);
  EXPECT_EQ(big.allocations_per_run, 0.5);
  EXPECT_EQ(big.top1, 0.975);
  EXPECT_EQ(big.deadline_misses, 3);
  EXPECT_EQ(big.hostname, "box");
  EXPECT_FALSE(big.target);
  const RunRow& bad = rows[0];
  EXPECT_EQ(bad.status, "error");
  EXPECT_EQ(bad.error, "cannot load");
  EXPECT_FALSE(bad.median_us);
  EXPECT_FALSE(bad.rss_peak_bytes);
  EXPECT_FALSE(bad.top1);
  const RunRow& small = rows[4];
  EXPECT_FALSE(small.init_us);
  EXPECT_FALSE(small.allocations_per_run);
  EXPECT_FALSE(small.deadline_misses);

  auto models = [&](RunFilter f) {
    std::vector<std::string> out;
    for (const auto& r : db.list(f)) out.push_back(r.model + "/" + r.backend);
    return out;
  };
  RunFilter f;
  f.model = "mlp";  // any case
  EXPECT_EQ(models(f), (std::vector<std::string>{"MLP_big/native", "mlp_small/torch", "mlp_small/native"}));
  f = {};
  f.backend = "torch";
  EXPECT_EQ(models(f), (std::vector<std::string>{"cnn/torch", "mlp_small/torch"}));
  f = {};
  f.since = "2024-02-01";  // that day counts
  EXPECT_EQ(models(f), (std::vector<std::string>{"cnn/torch", "MLP_big/native", "cnn/native", "mlp_small/torch"}));
  f.since = "2024-02-02";
  EXPECT_EQ(models(f), (std::vector<std::string>{"cnn/torch", "MLP_big/native"}));
  f = {};
  f.target = "pi4";
  EXPECT_EQ(models(f), (std::vector<std::string>{"cnn/native", "mlp_small/torch"}));
  EXPECT_EQ(db.list(f)[0].target, "pi4");
  EXPECT_EQ(db.list(f)[0].hostname, "lab");
  f.target = "";  // local only
  EXPECT_EQ(models(f), (std::vector<std::string>{"cnn/torch", "MLP_big/native", "mlp_small/native"}));
  f = {};
  f.limit = 2;
  EXPECT_EQ(models(f), (std::vector<std::string>{"cnn/torch", "MLP_big/native"}));
  f.model = "small";
  f.backend = "native";
  EXPECT_EQ(models(f), (std::vector<std::string>{"mlp_small/native"}));
  f = {};
  f.model = "nothing like it";
  EXPECT_TRUE(db.list(f).empty());

  f = {};
  f.since = "2024-13-01";
  EXPECT_NE(error_of([&] { db.list(f); }).find("YYYY-MM-DD"), std::string::npos);
  f.since = "March";
  EXPECT_NE(error_of([&] { db.list(f); }).find("YYYY-MM-DD"), std::string::npos);
}

TEST_F(ResultsDbTest, ReopenKeepsRunsAndGetRunGivesAReport) {
  json run = ok_run("mlp", "native", 77);
  run["samples_us"] = {76.0, 77.0, 78.5};
  run["backend_info"] = {{"threads", "1"}};
  int64_t report_id = 0;
  {
    ResultsDb db(path_);
    EXPECT_EQ(db.add_report(report("2024-05-01T12:00:00Z", {ok_run("first", "native", 1), run}, host("box", "pi4")),
                            &report_id),
              2);
    EXPECT_GT(report_id, 0);
  }
  ResultsDb db = ResultsDb::open(path_);
  EXPECT_EQ(db.count_runs(), 2);
  RunFilter f;
  f.model = "mlp";
  auto rows = db.list(f);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].report_id, report_id);

  json got = db.get_run(rows[0].id);
  EXPECT_EQ(got["schema"], "rtml.bench/1");
  EXPECT_EQ(got["created"], "2024-05-01T12:00:00Z");
  EXPECT_EQ(got["host"], host("box", "pi4"));
  EXPECT_EQ(got["options"], options());
  ASSERT_EQ(got["runs"].size(), 1u);
  EXPECT_EQ(got["runs"][0], run);  // the full JSON, samples included
  EXPECT_EQ(got["run_id"], rows[0].id);
  EXPECT_EQ(got["report_id"], report_id);
  EXPECT_NO_THROW(rtml::bench::check_report(got));  // usable by rtml compare

  std::string err = error_of([&] { db.get_run(9999); });
  EXPECT_NE(err.find("no run 9999"), std::string::npos) << err;
}

TEST_F(ResultsDbTest, ProfilesAttachToRuns) {
  ResultsDb db(path_);
  db.add_report(report("2024-05-01T12:00:00Z", {ok_run("mlp", "native", 1)}));
  int64_t run_id = db.list()[0].id;
  int64_t p1 = db.add_profile(run_id, "ops", "{\"Gemm\": 12.5}");
  int64_t p2 = db.add_profile(run_id, "perf", "main;run;gemm 42");
  EXPECT_NE(p1, p2);
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM profiles WHERE run_id = " + std::to_string(run_id)), "2");
  EXPECT_EQ(raw.scalar("SELECT content FROM profiles WHERE kind = 'perf'"), "main;run;gemm 42");
  std::string err = error_of([&] { db.add_profile(run_id + 100, "ops", "{}"); });
  EXPECT_NE(err.find("no run " + std::to_string(run_id + 100)), std::string::npos) << err;
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM profiles"), "2");
}

TEST_F(ResultsDbTest, BadReportsAreRefusedWhole) {
  ResultsDb db(path_);
  json r = report("2024-05-01T12:00:00Z", {ok_run("a", "native", 1), ok_run("b", "native", 2)});
  json wrong = r;
  wrong["schema"] = "rtml.bench/9";
  EXPECT_NE(error_of([&] { db.add_report(wrong); }).find("rtml.bench/9"), std::string::npos);
  wrong = r;
  wrong["runs"][1]["model"] = 42;
  std::string err = error_of([&] { db.add_report(wrong); });
  EXPECT_NE(err.find("runs[1]"), std::string::npos) << err;
  EXPECT_NE(err.find(path_), std::string::npos) << err;
  wrong = r;
  wrong["runs"][1]["status"] = "bogus";
  EXPECT_NE(error_of([&] { db.add_report(wrong); }).find("bogus"), std::string::npos);
  wrong = r;
  wrong["created"] = "yesterday";
  EXPECT_NE(error_of([&] { db.add_report(wrong); }).find("yesterday"), std::string::npos);
  EXPECT_EQ(db.count_runs(), 0);
  EXPECT_EQ(db.count_reports(), 0);
  EXPECT_EQ(db.add_report(r), 2);
}

TEST_F(ResultsDbTest, OpeningTheWrongFileSaysSo) {
  // Not a database at all.
  std::string text = (dir_ / "notes.txt").string();
  std::ofstream(text) << "these are my notes, not a database, but long enough to have a header page\n";
  std::string err = error_of([&] { ResultsDb db(text); });
  EXPECT_NE(err.find(text), std::string::npos) << err;
  EXPECT_NE(err.find("not an SQLite database"), std::string::npos) << err;
  std::ifstream back(text);
  std::string first;
  std::getline(back, first);
  EXPECT_EQ(first.substr(0, 10), "these are ") << "the file was modified";

  // Another program's SQLite database.
  std::string other = (dir_ / "other.db").string();
  RawDb(other).exec("CREATE TABLE contacts (name TEXT)");
  err = error_of([&] { ResultsDb db(other); });
  EXPECT_NE(err.find("not an rtml results database"), std::string::npos) << err;
  EXPECT_NE(err.find("contacts"), std::string::npos) << err;

  // Written by a newer rtml.
  { ResultsDb db(path_); }
  RawDb(path_).exec("UPDATE meta SET value = '7' WHERE key = 'schema_version'");
  err = error_of([&] { ResultsDb db(path_); });
  EXPECT_NE(err.find("newer rtml"), std::string::npos) << err;
  EXPECT_NE(err.find("version 7"), std::string::npos) << err;

  // A folder; a path whose parent cannot be created (a file is in the way).
  err = error_of([&] { ResultsDb db(dir_.string()); });
  EXPECT_NE(err.find("is a folder"), std::string::npos) << err;
  std::string blocked = text + "/sub/results.db";
  err = error_of([&] { ResultsDb db(blocked); });
  EXPECT_NE(err.find(blocked), std::string::npos) << err;
  EXPECT_NE(err.find("cannot create its folder"), std::string::npos) << err;

  // Missing parent folders are created.
  std::string nested = (dir_ / "a" / "b" / "results.db").string();
  ResultsDb db(nested);
  EXPECT_TRUE(fs::exists(nested));
  EXPECT_EQ(db.count_runs(), 0);
}

// 40 reports of 30 runs each (1,200 runs), report r on day r counted from
// 2024-01-01: run i is model_<i>, on torch when i % 3 == 0 (else native), with
// median r * 100 + i; run 29 of every fourth report (r % 4 == 0) is an error.
std::string day_of(int r) {
  char buf[16];
  if (r < 31)
    std::snprintf(buf, sizeof buf, "2024-01-%02d", r + 1);
  else
    std::snprintf(buf, sizeof buf, "2024-02-%02d", r - 30);
  return buf;
}

void fill_thousand(ResultsDb& db) {
  for (int r = 0; r < 40; ++r) {
    json runs = json::array();
    for (int i = 0; i < 30; ++i) {
      char model[16];
      std::snprintf(model, sizeof model, "model_%02d", i);
      if (i == 29 && r % 4 == 0)
        runs.push_back({{"model", model}, {"backend", "native"}, {"status", "error"}, {"error", "boom"}});
      else
        runs.push_back(ok_run(model, i % 3 == 0 ? "torch" : "native", r * 100 + i));
    }
    db.add_report(report(day_of(r) + "T10:00:00Z", runs));
  }
}

TEST_F(ResultsDbTest, QueryRunsPagesAndFiltersAThousandRuns) {
  ResultsDb db(path_);
  fill_thousand(db);
  using rtml::results::RunQuery;
  using rtml::results::RunSort;
  auto total = [&](RunQuery q) { return db.query_runs(q).total; };

  RunQuery all;
  rtml::results::RunPage page = db.query_runs(all);
  EXPECT_EQ(page.total, 1200);
  ASSERT_EQ(page.rows.size(), 50u);  // the default page
  EXPECT_EQ(page.rows[0].created, "2024-02-09T10:00:00Z");  // newest first
  EXPECT_EQ(page.rows[0].model, "model_29");                // highest id first within a report

  // Paging: every run exactly once, the last page short, past the end empty.
  std::set<int64_t> seen;
  for (int64_t off = 0; off < 1200; off += 100) {
    RunQuery q;
    q.limit = 100;
    q.offset = off;
    auto p = db.query_runs(q);
    EXPECT_EQ(p.total, 1200);
    for (const auto& r : p.rows) seen.insert(r.id);
  }
  EXPECT_EQ(seen.size(), 1200u);
  RunQuery tail;
  tail.limit = 50;
  tail.offset = 1190;
  EXPECT_EQ(db.query_runs(tail).rows.size(), 10u);
  tail.offset = 1200;
  page = db.query_runs(tail);
  EXPECT_EQ(page.total, 1200);
  EXPECT_TRUE(page.rows.empty());

  // Filters, alone and together (counts by hand from the layout above).
  RunQuery q;
  q.backend = "torch";
  EXPECT_EQ(total(q), 400);  // 10 of 30 per report
  q = {};
  q.model = "MODEL_0";  // case-insensitive substring: model_00..model_09
  EXPECT_EQ(total(q), 400);
  q = {};
  q.since = "2024-01-11";  // reports 10..19
  q.until = "2024-01-20";  // inclusive: the whole of the 20th
  EXPECT_EQ(total(q), 300);
  q = {};
  q.status = "error";
  EXPECT_EQ(total(q), 10);
  q.status = "ok";
  EXPECT_EQ(total(q), 1190);
  q = {};
  q.backend = "torch";
  q.model = "model_0";   // model_00, 03, 06, 09 are on torch
  q.since = "2024-02-01";  // reports 31..39
  page = db.query_runs(q);
  EXPECT_EQ(page.total, 36);
  for (const auto& r : page.rows) {
    EXPECT_EQ(r.backend, "torch");
    EXPECT_GE(r.created, "2024-02-01");
  }
  q = {};
  q.model = "no such model";
  page = db.query_runs(q);
  EXPECT_EQ(page.total, 0);
  EXPECT_TRUE(page.rows.empty());

  // Orders.
  q = {};
  q.sort = RunSort::Median;
  page = db.query_runs(q);
  ASSERT_FALSE(page.rows.empty());
  EXPECT_EQ(page.rows[0].median_us, 3929);  // report 39 (39 % 4 != 0: its run 29 is ok)
  EXPECT_EQ(page.rows[1].median_us, 3928);
  q.descending = false;
  page = db.query_runs(q);
  EXPECT_EQ(page.rows[0].median_us, 0);
  EXPECT_EQ(page.rows[1].median_us, 1);
  q.limit = 10;
  q.offset = 1190;  // runs without a median go last, in either direction
  for (bool desc : {false, true}) {
    q.descending = desc;
    page = db.query_runs(q);
    ASSERT_EQ(page.rows.size(), 10u);
    for (const auto& r : page.rows) {
      EXPECT_EQ(r.status, "error");
      EXPECT_FALSE(r.median_us);
    }
  }
  q = {};
  q.sort = RunSort::Model;
  q.descending = false;
  page = db.query_runs(q);
  EXPECT_EQ(page.rows[0].model, "model_00");
  EXPECT_EQ(page.rows[0].created, "2024-01-01T10:00:00Z");  // ties by id, ascending
  EXPECT_EQ(page.rows[49].model, "model_01");               // 40 of model_00, then model_01
  q = {};
  q.sort = RunSort::Backend;
  q.descending = true;
  EXPECT_EQ(db.query_runs(q).rows[0].backend, "torch");

  // Bad input names the value.
  for (auto [set, word] : std::vector<std::pair<std::function<void(RunQuery&)>, std::string>>{
           {[](RunQuery& x) { x.since = "2024-13-01"; }, "2024-13-01"},
           {[](RunQuery& x) { x.until = "tomorrow"; }, "tomorrow"},
           {[](RunQuery& x) { x.status = "bogus"; }, "bogus"},
           {[](RunQuery& x) { x.limit = 0; }, "limit"},
           {[](RunQuery& x) { x.limit = 1001; }, "1001"},
           {[](RunQuery& x) { x.offset = -1; }, "offset"}}) {
    RunQuery bad;
    set(bad);
    std::string err = error_of([&] { db.query_runs(bad); });
    EXPECT_NE(err.find(word), std::string::npos) << err;
  }

  auto f = db.facets();
  ASSERT_EQ(f.models.size(), 30u);
  EXPECT_EQ(f.models.front(), "model_00");
  EXPECT_EQ(f.models.back(), "model_29");
  EXPECT_EQ(f.backends, (std::vector<std::string>{"native", "torch"}));
  EXPECT_EQ(f.first_created, "2024-01-01T10:00:00Z");
  EXPECT_EQ(f.last_created, "2024-02-09T10:00:00Z");

  // The page queries walk indexes, not the whole table.
  RawDb raw(path_);
  auto plan = [&](const std::string& sql) {
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(raw.db, ("EXPLAIN QUERY PLAN " + sql).c_str(), -1, &s, nullptr), SQLITE_OK);
    std::string out;
    while (sqlite3_step(s) == SQLITE_ROW) out += std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 3))) + "\n";
    sqlite3_finalize(s);
    return out;
  };
  EXPECT_NE(plan("SELECT count(*) FROM runs WHERE runs.backend = 'torch'").find("runs_backend"), std::string::npos);
  EXPECT_NE(plan("SELECT runs.id FROM runs JOIN reports ON reports.id = runs.report_id ORDER BY runs.created DESC, "
                 "runs.id DESC LIMIT 50")
                .find("runs_created"),
            std::string::npos);
  EXPECT_NE(plan("SELECT content FROM profiles WHERE run_id = 1 AND kind = 'folded' ORDER BY id DESC LIMIT 1")
                .find("profiles_run_kind"),
            std::string::npos);
}

TEST_F(ResultsDbTest, ProfilesAreListedAndReadBack) {
  ResultsDb db(path_);
  db.add_report(report("2024-05-01T12:00:00Z", {ok_run("mlp", "native", 1), ok_run("mlp", "torch", 2)}));
  int64_t a = db.list()[1].id, b = db.list()[0].id;
  db.add_profile(a, "folded", "main;old 1");
  db.add_profile(a, "profile", "{\"unit\": \"\xC2\xB5s\"}");  // "µs": 2 bytes, 1 character
  db.add_profile(a, "folded", "main;run;gemm 42\n");
  auto list = db.profiles(a);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].kind, "folded");
  EXPECT_EQ(list[1].kind, "profile");
  EXPECT_EQ(list[1].bytes, 15);  // {"unit": "µs"} is 14 characters, 15 bytes
  EXPECT_EQ(list[2].bytes, 17);
  EXPECT_LT(list[0].id, list[2].id);
  EXPECT_EQ(list[0].added.size(), 20u);  // 2024-05-01T12:00:00Z
  EXPECT_EQ(db.profile_content(a, "folded"), "main;run;gemm 42\n");  // the newest of the kind
  EXPECT_EQ(db.profile_content(a, "speedscope"), std::nullopt);
  EXPECT_EQ(db.profile_content(b, "folded"), std::nullopt);
  EXPECT_TRUE(db.profiles(b).empty());
  EXPECT_TRUE(db.profiles(a + b + 100).empty());
  EXPECT_TRUE(db.has_run(b));
  EXPECT_FALSE(db.has_run(a + b + 100));
  rtml::results::RunQuery q;
  auto page = db.query_runs(q);
  ASSERT_EQ(page.rows.size(), 2u);
  EXPECT_EQ(page.rows[0].id, b);
  EXPECT_EQ(page.rows[0].profiles, 0);
  EXPECT_EQ(page.rows[1].profiles, 3);
}

TEST_F(ResultsDbTest, ReadOnlyOpeningCreatesAndWritesNothing) {
  std::string missing = (dir_ / "nope" / "results.db").string();
  std::string err = error_of([&] { ResultsDb::open_read_only(missing); });
  EXPECT_NE(err.find(missing), std::string::npos) << err;
  EXPECT_NE(err.find("does not exist"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir_ / "nope"));

  std::string empty = (dir_ / "empty.db").string();
  std::ofstream(empty).close();
  err = error_of([&] { ResultsDb::open_read_only(empty); });
  EXPECT_NE(err.find("is empty"), std::string::npos) << err;
  EXPECT_EQ(fs::file_size(empty), 0u);

  {
    ResultsDb db(path_);
    db.add_report(report("2024-05-01T12:00:00Z", {ok_run("mlp", "native", 1)}));
  }
  ResultsDb ro = ResultsDb::open_read_only(path_);
  EXPECT_EQ(ro.count_runs(), 1);
  EXPECT_EQ(ro.query_runs({}).total, 1);
  err = error_of([&] { ro.add_report(report("2024-05-02T12:00:00Z", {ok_run("x", "native", 1)})); });
  EXPECT_NE(err.find(path_), std::string::npos) << err;
  EXPECT_EQ(RawDb(path_).scalar("SELECT count(*) FROM runs"), "1");
}

TEST_F(ResultsDbTest, SchemaVersionOneFilesGetTheNewIndexes) {
  {
    ResultsDb db(path_);
    db.add_report(report("2024-05-01T12:00:00Z", {ok_run("mlp", "native", 1)}));
  }
  {
    RawDb raw(path_);  // as an rtml from before these indexes left it
    raw.exec("DROP INDEX runs_median");
    raw.exec("DROP INDEX profiles_run_kind");
  }
  ResultsDb db(path_);
  RawDb raw(path_);
  EXPECT_EQ(raw.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN "
                       "('runs_median', 'profiles_run_kind')"),
            "2");
  EXPECT_EQ(raw.scalar("SELECT value FROM meta WHERE key = 'schema_version'"), "1");
  EXPECT_EQ(db.count_runs(), 1);
}

TEST_F(ResultsDbTest, TuningRecordsAreKeptAndOlderFilesGetTheTable) {
  {
    ResultsDb db(path_);
    db.add_report(report("2024-05-01T12:00:00Z", {ok_run("mlp", "native", 1)}));
  }
  RawDb(path_).exec("DROP TABLE tunings");  // as an rtml from before `rtml tune` left it
  ResultsDb db(path_);
  const nlohmann::json rec = {{"schema", "rtml.tuning/1"}, {"created", "2024-05-02T12:00:00Z"}, {"model", "m.onnx"},
                              {"model_hash", "fnv1a64:00000000000000aa"}, {"target", "cortex-m7"},
                              {"kernels", "cortex-m"}, {"unit", "instructions"}, {"total_before", 100},
                              {"total_after", 90}, {"schedule", {{"conv1", {{"impl", "reference"}}}}}};
  EXPECT_GT(db.add_tuning(rec), 0);
  const auto got = db.list_tunings("fnv1a64:00000000000000aa");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["schedule"]["conv1"]["impl"], "reference");
  EXPECT_TRUE(db.list_tunings("fnv1a64:00000000000000bb").empty());
  EXPECT_EQ(RawDb(path_).scalar("SELECT total_after FROM tunings"), "90.0");
  nlohmann::json bad = rec;
  bad.erase("target");
  EXPECT_THROW(db.add_tuning(bad), rtml::Error);
  EXPECT_EQ(db.count_runs(), 1);
}

TEST(ResultsDbPath, DefaultFollowsTheEnvironment) {
  auto save = [](const char* k) {
    const char* v = std::getenv(k);
    return v ? std::optional<std::string>(v) : std::nullopt;
  };
  auto restore = [](const char* k, const std::optional<std::string>& v) {
    if (v)
      ::setenv(k, v->c_str(), 1);
    else
      ::unsetenv(k);
  };
  auto db = save("RTML_DB"), xdg = save("XDG_DATA_HOME"), home = save("HOME");
  ::setenv("RTML_DB", "/x/my.db", 1);
  ::setenv("XDG_DATA_HOME", "/xdg", 1);
  ::setenv("HOME", "/home/me", 1);
  EXPECT_EQ(rtml::results::default_db_path(), "/x/my.db");
  ::unsetenv("RTML_DB");
  EXPECT_EQ(rtml::results::default_db_path(), "/xdg/rtml/results.db");
  ::setenv("XDG_DATA_HOME", "relative/ignored", 1);  // the XDG spec: relative paths are invalid
  EXPECT_EQ(rtml::results::default_db_path(), "/home/me/.local/share/rtml/results.db");
  ::unsetenv("XDG_DATA_HOME");
  EXPECT_EQ(rtml::results::default_db_path(), "/home/me/.local/share/rtml/results.db");
  restore("RTML_DB", db);
  restore("XDG_DATA_HOME", xdg);
  restore("HOME", home);
}

}  // namespace

#endif  // RTML_WITH_SQLITE
