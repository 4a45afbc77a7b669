#include "results/db.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>
#include <pwd.h>
#include <sqlite3.h>
#include <unistd.h>

#include "bench/compare.h"
#include "core/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rtml::results {

namespace {

constexpr int kBusyTimeoutMs = 10000;                     // SQLite's own wait for a lock, per statement
constexpr auto kBusyRetryFor = std::chrono::seconds(60);  // then our retries, in all
constexpr const char* kFormat = "rtml results";

// What to do about an SQLite error, by its primary code.
std::string hint(int rc) {
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return " (the disk is full: free some space, or pass another --db)";
    case SQLITE_READONLY:
      return " (the file or its folder is read-only: fix the permissions, or pass another --db)";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return " (another process kept the database locked for over a minute: try again)";
    case SQLITE_IOERR:
      return " (reading or writing the file failed: is the disk full, or failing?)";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return " (the file is damaged or not an SQLite database)";
    case SQLITE_CANTOPEN:
      return " (check that the folder exists and is writable)";
    case SQLITE_PERM:
      return " (permission denied: fix the permissions, or pass another --db)";
    default:
      return "";
  }
}

[[noreturn]] void fail(sqlite3* db, const std::string& path, const std::string& what, int rc) {
  std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  throw Error("results database " + path + ": " + what + ": " + msg + hint(rc));
}

// One prepared statement; every step and bind is checked.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& path, const char* sql) : db_(db), path_(path) {
    int rc = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
    if (rc != SQLITE_OK) fail(db_, path_, std::string("cannot prepare '") + sql + "'", rc);
  }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void reset() {
    rows_ = false;
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  void bind(int i, const std::string& v) {
    check(sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  void bind(int i, const char* v) { check(sqlite3_bind_text(s_, i, v, -1, SQLITE_TRANSIENT)); }
  void bind(int i, int64_t v) { check(sqlite3_bind_int64(s_, i, v)); }
  void bind(int i, double v) { check(sqlite3_bind_double(s_, i, v)); }
  void bind_null(int i) { check(sqlite3_bind_null(s_, i)); }
  template <typename T>
  void bind(int i, const std::optional<T>& v) {
    if (v)
      bind(i, *v);
    else
      bind_null(i);
  }

  // True while there is a row; throws on an error. SQLITE_BUSY that SQLite
  // reports without (or after) its busy handler is waited out and the
  // statement retried, as long as it has not returned a row yet (BEGIN
  // IMMEDIATE, COMMIT, a read that finds the file being converted to WAL).
  bool step(const std::string& what) {
    auto deadline = std::chrono::steady_clock::now() + kBusyRetryFor;
    for (int attempt = 0;; ++attempt) {
      int rc = sqlite3_step(s_);
      if (rc == SQLITE_ROW) {
        rows_ = true;
        return true;
      }
      if (rc == SQLITE_DONE) return false;
      if (!rows_ && (rc & 0xff) == SQLITE_BUSY && std::chrono::steady_clock::now() < deadline) {
        sqlite3_reset(s_);
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50, 1 + attempt)));
        continue;
      }
      fail(db_, path_, what, rc);
    }
  }
  void run(const std::string& what) {
    while (step(what)) {
    }
  }

  bool is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
  int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }
  double real(int col) const { return sqlite3_column_double(s_, col); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  std::optional<std::string> opt_text(int col) const { return is_null(col) ? std::nullopt : std::optional(text(col)); }
  std::optional<double> opt_real(int col) const { return is_null(col) ? std::nullopt : std::optional(real(col)); }
  std::optional<int64_t> opt_int64(int col) const { return is_null(col) ? std::nullopt : std::optional(int64(col)); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail(db_, path_, "cannot bind a value", rc);
  }
  sqlite3* db_;
  const std::string& path_;
  sqlite3_stmt* s_ = nullptr;
  bool rows_ = false;
};

// BEGIN (IMMEDIATE: take the write lock now, so two writers never deadlock
// upgrading a read lock) ... COMMIT; rolled back if not committed.
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path, bool immediate) : db_(db), path_(path) {
    Stmt(db, path, immediate ? "BEGIN IMMEDIATE" : "BEGIN").run("cannot start a transaction");
  }
  ~Transaction() {
    if (!committed_ && !sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    Stmt(db_, path_, "COMMIT").run("cannot commit");
    committed_ = true;
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  bool committed_ = false;
};

const char* const kSchemaSql = R"sql(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE reports (
  id INTEGER PRIMARY KEY,
  created TEXT NOT NULL,
  added TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
  hostname TEXT,
  target TEXT,
  host TEXT NOT NULL,
  options TEXT NOT NULL
);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY,
  report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
  created TEXT NOT NULL,
  model TEXT NOT NULL,
  backend TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
  error TEXT,
  median_us REAL,
  p99_us REAL,
  mean_us REAL,
  init_us REAL,
  rss_peak_bytes INTEGER,
  allocations_per_run REAL,
  top1 REAL,
  deadline_misses INTEGER,
  run TEXT NOT NULL
);
CREATE INDEX runs_model ON runs(model);
CREATE INDEX runs_backend ON runs(backend);
CREATE INDEX runs_created ON runs(created);
CREATE INDEX runs_report ON runs(report_id);
CREATE TABLE profiles (
  id INTEGER PRIMARY KEY,
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  content TEXT NOT NULL,
  added TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE INDEX profiles_run ON profiles(run_id);
)sql";

// A number at report[k1][k2] (or report[k1]), null or absent as nullopt.
// bench::check_report has checked the types of the fields read here.
std::optional<double> number_at(const json& run, const char* k1, const char* k2 = nullptr) {
  auto it = run.find(k1);
  if (it == run.end() || it->is_null()) return std::nullopt;
  if (k2) {
    if (!it->is_object()) return std::nullopt;
    auto jt = it->find(k2);
    if (jt == it->end() || !jt->is_number()) return std::nullopt;
    return jt->get<double>();
  }
  return it->is_number() ? std::optional(it->get<double>()) : std::nullopt;
}

std::optional<int64_t> integer_at(const json& run, const char* k1, const char* k2) {
  auto it = run.find(k1);
  if (it == run.end() || !it->is_object()) return std::nullopt;
  auto jt = it->find(k2);
  if (jt == it->end() || !jt->is_number()) return std::nullopt;
  return jt->is_number_integer() ? jt->get<int64_t>() : static_cast<int64_t>(jt->get<double>());
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

bool is_date(const std::string& s) {
  if (s.size() < 10 || s[4] != '-' || s[7] != '-') return false;
  for (int i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (s[i] < '0' || s[i] > '9') return false;
  int month = (s[5] - '0') * 10 + (s[6] - '0');
  int day = (s[8] - '0') * 10 + (s[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

// Indexes and the tunings table, added after schema version 1 shipped: created when missing (the
// browser's sorts and the profile look-ups use them). A file we may not
// write keeps working without them.
void ensure_indexes(sqlite3* db, const std::string& path) {
  static const char* const kIndexes[][2] = {
      {"runs_median", "CREATE INDEX IF NOT EXISTS runs_median ON runs(median_us)"},
      {"profiles_run_kind", "CREATE INDEX IF NOT EXISTS profiles_run_kind ON profiles(run_id, kind)"},
      {"tunings",
       "CREATE TABLE IF NOT EXISTS tunings (id INTEGER PRIMARY KEY, created TEXT NOT NULL, "
       "added TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')), model TEXT NOT NULL, "
       "model_hash TEXT NOT NULL, target TEXT NOT NULL, kernels TEXT NOT NULL, unit TEXT NOT NULL, "
       "total_before REAL, total_after REAL, record TEXT NOT NULL)"},
      {"tunings_model_hash", "CREATE INDEX IF NOT EXISTS tunings_model_hash ON tunings(model_hash)"},
  };
  for (const auto& [name, sql] : kIndexes) {
    Stmt exists(db, path, "SELECT 1 FROM sqlite_master WHERE type IN ('index', 'table') AND name = ?1");
    exists.bind(1, name);
    if (exists.step("cannot read the schema")) continue;
    try {
      Stmt(db, path, sql).run(std::string("cannot create the index ") + name);
    } catch (const Error&) {
      if ((sqlite3_extended_errcode(db) & 0xff) != SQLITE_READONLY) throw;
    }
  }
}

// Reads a RunRow from columns 0..16 of a runs JOIN reports select.
RunRow read_run_row(const Stmt& q) {
  RunRow r;
  r.id = q.int64(0);
  r.report_id = q.int64(1);
  r.created = q.text(2);
  r.hostname = q.text(3);
  r.target = q.opt_text(4);
  r.model = q.text(5);
  r.backend = q.text(6);
  r.status = q.text(7);
  r.error = q.opt_text(8);
  r.median_us = q.opt_real(9);
  r.p99_us = q.opt_real(10);
  r.mean_us = q.opt_real(11);
  r.init_us = q.opt_real(12);
  r.rss_peak_bytes = q.opt_int64(13);
  r.allocations_per_run = q.opt_real(14);
  r.top1 = q.opt_real(15);
  r.deadline_misses = q.opt_int64(16);
  return r;
}

constexpr const char* kRunColumns =
    "runs.id, runs.report_id, runs.created, reports.hostname, reports.target, runs.model, runs.backend, "
    "runs.status, runs.error, runs.median_us, runs.p99_us, runs.mean_us, runs.init_us, runs.rss_peak_bytes, "
    "runs.allocations_per_run, runs.top1, runs.deadline_misses";

}  // namespace

std::string default_db_path() {
  if (const char* v = std::getenv("RTML_DB"); v && *v) return v;
  if (const char* v = std::getenv("XDG_DATA_HOME"); v && *v == '/') return std::string(v) + "/rtml/results.db";
  std::string home;
  if (const char* v = std::getenv("HOME"); v && *v) {
    home = v;
  } else if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir && *pw->pw_dir) {
    home = pw->pw_dir;
  }
  if (home.empty())
    throw Error(
        "cannot choose where the results database goes: neither RTML_DB, XDG_DATA_HOME nor HOME is set "
        "(pass --db PATH or set RTML_DB)");
  return home + "/.local/share/rtml/results.db";
}

ResultsDb::ResultsDb(const std::string& path, OpenMode mode) : path_(path) {
  if (path.empty()) throw Error("the results database path is empty (pass --db PATH or set RTML_DB)");
  const bool read_only = mode == OpenMode::ReadOnly;
  std::error_code ec;
  if (read_only && !fs::exists(path, ec))
    throw Error("results database " + path +
                " does not exist (store runs with `rtml bench MODEL --db " + path + "`, or pass another --db)");
  fs::path parent = fs::path(path).parent_path();
  if (!read_only && !parent.empty() && !fs::is_directory(parent, ec)) {
    fs::create_directories(parent, ec);
    if (ec)
      throw Error("results database " + path + ": cannot create its folder " + parent.string() + ": " + ec.message());
  }
  if (fs::is_directory(path, ec))
    throw Error("results database " + path + " is a folder, not a file (pass a file name)");

  // Read-only still opens for writing when it can (without creating): a
  // reader of a WAL database may need to set up its shared-memory index.
  // PRAGMA query_only below makes sure nothing is written.
  int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | (read_only ? 0 : SQLITE_OPEN_CREATE), nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    close();
    throw Error("results database " + path + ": cannot open: " + msg + hint(rc));
  }
  try {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, kBusyTimeoutMs);

    // Is it an SQLite database at all? (Reading the schema fails if not.)
    auto table_names = [&] {
      std::vector<std::string> names;
      Stmt list(db_, path_, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
      while (list.step("cannot read")) names.push_back(list.text(0));
      return names;
    };
    std::vector<std::string> tables;
    try {
      tables = table_names();
    } catch (const Error&) {
      if (sqlite3_errcode(db_) == SQLITE_NOTADB)
        throw Error("results database " + path +
                    " is not an SQLite database (is it the right file? pass another --db, "
                    "or set RTML_DB)");
      throw;
    }

    // Several writers, readers never blocked: write-ahead log. (Stays "delete"
    // where the file system cannot share memory, e.g. NFS; locking still works.)
    {
      std::string current;
      {
        Stmt mode(db_, path_, "PRAGMA journal_mode");
        while (mode.step("cannot read the journal mode")) current = mode.text(0);
      }
      if (current != "wal" && !read_only) {
        Stmt set(db_, path_, "PRAGMA journal_mode = WAL");
        try {
          set.run("cannot switch to the WAL journal");
        } catch (const Error&) {
          if ((sqlite3_extended_errcode(db_) & 0xff) != SQLITE_READONLY) throw;  // read-only: reading still works
        }
      }
    }
    Stmt(db_, path_, "PRAGMA foreign_keys = ON").run("cannot enable foreign keys");

    // The schema: check it, or create it in an empty file (under the write
    // lock, re-checked: another process may be creating it right now).
    auto check_schema = [&](const std::vector<std::string>& names) {
      if (names.empty()) return false;
      if (std::find(names.begin(), names.end(), "meta") == names.end()) {
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
        throw Error("results database " + path +
                    " is an SQLite database, but not an rtml results database (its tables: " + list +
                    "): pass another --db");
      }
      Stmt meta(db_, path_, "SELECT key, value FROM meta WHERE key IN ('format', 'schema_version')");
      std::string format, version;
      while (meta.step("cannot read the meta table")) (meta.text(0) == "format" ? format : version) = meta.text(1);
      if (format != kFormat)
        throw Error("results database " + path +
                    " is an SQLite database, but not an rtml results database (meta format '" + format +
                    "'): pass another --db");
      int v = std::atoi(version.c_str());
      if (v > kSchemaVersion)
        throw Error("results database " + path + " has schema version " + version +
                    ", written by a newer rtml; this rtml reads "
                    "version " +
                    std::to_string(kSchemaVersion) + " (use the newer rtml, or pass another --db)");
      if (v < 1)
        throw Error("results database " + path + " has an invalid schema version '" + version + "' in its meta table");
      return true;
    };
    if (read_only) {
      if (!check_schema(tables))
        throw Error("results database " + path + " is empty: no runs stored yet (store some with `rtml bench MODEL --db " +
                    path + "`)");
      Stmt(db_, path_, "PRAGMA query_only = ON").run("cannot make the connection read-only");
      return;
    }
    if (!check_schema(tables)) {
      Transaction tx(db_, path_, true);
      if (!check_schema(table_names())) {
        char* err = nullptr;
        rc = sqlite3_exec(db_, kSchemaSql, nullptr, nullptr, &err);
        if (err) sqlite3_free(err);
        if (rc != SQLITE_OK) fail(db_, path_, "cannot create the tables", rc);
        Stmt meta(db_, path_, "INSERT INTO meta (key, value) VALUES ('format', ?1), ('schema_version', ?2)");
        meta.bind(1, kFormat);
        meta.bind(2, std::to_string(kSchemaVersion));
        meta.run("cannot write the meta table");
      }
      tx.commit();
    }
    ensure_indexes(db_, path_);
  } catch (...) {
    close();
    throw;
  }
}

ResultsDb::~ResultsDb() { close(); }

ResultsDb::ResultsDb(ResultsDb&& other) noexcept
    : path_(std::move(other.path_)), db_(std::exchange(other.db_, nullptr)) {}

ResultsDb& ResultsDb::operator=(ResultsDb&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

void ResultsDb::close() noexcept {
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

int64_t ResultsDb::add_report(const json& report, int64_t* report_id, std::vector<int64_t>* run_ids) {
  try {
    bench::check_report(report);
  } catch (const Error& e) {
    throw Error("cannot store the report in " + path_ + ": " + e.what());
  }
  const std::string& created = report["created"].get_ref<const std::string&>();
  if (!is_date(created))
    throw Error("cannot store the report in " + path_ + ": created is '" + created +
                "', expected an ISO 8601 UTC time such as 2024-05-01T12:00:00Z");
  const json& host = report["host"];
  std::optional<std::string> hostname, target;
  if (auto it = host.find("hostname"); it != host.end() && it->is_string()) hostname = it->get<std::string>();
  if (auto it = host.find("target"); it != host.end() && it->is_string()) target = it->get<std::string>();

  Transaction tx(db_, path_, true);
  Stmt ins_report(db_, path_,
                  "INSERT INTO reports (created, hostname, target, host, options) VALUES (?1, ?2, ?3, ?4, ?5)");
  ins_report.bind(1, created);
  ins_report.bind(2, hostname);
  ins_report.bind(3, target);
  ins_report.bind(4, dump(host));
  ins_report.bind(5, dump(report["options"]));
  ins_report.run("cannot store the report");
  const int64_t id = sqlite3_last_insert_rowid(db_);

  Stmt ins_run(
      db_, path_,
      "INSERT INTO runs (report_id, created, model, backend, status, error, median_us, p99_us, mean_us, init_us, "
      "rss_peak_bytes, allocations_per_run, top1, deadline_misses, run) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
  int64_t n = 0;
  std::vector<int64_t> ids;
  for (const json& run : report["runs"]) {
    ins_run.reset();
    ins_run.bind(1, id);
    ins_run.bind(2, created);
    ins_run.bind(3, run["model"].get<std::string>());
    ins_run.bind(4, run["backend"].get<std::string>());
    ins_run.bind(5, run["status"].get<std::string>());
    auto err = run.find("error");
    ins_run.bind(6, err != run.end() && err->is_string() ? std::optional(err->get<std::string>()) : std::nullopt);
    ins_run.bind(7, number_at(run, "latency_us", "median"));
    ins_run.bind(8, number_at(run, "latency_us", "p99"));
    ins_run.bind(9, number_at(run, "latency_us", "mean"));
    ins_run.bind(10, number_at(run, "init_us"));
    ins_run.bind(11, integer_at(run, "memory", "rss_peak_bytes"));
    ins_run.bind(12, number_at(run, "heap", "allocations_per_run"));
    ins_run.bind(13, number_at(run, "accuracy", "top1"));
    ins_run.bind(14, integer_at(run, "realtime", "deadline_misses"));
    ins_run.bind(15, dump(run));
    ins_run.run("cannot store run " + std::to_string(n) + " (model '" + run["model"].get<std::string>() +
                "') of the report");
    ids.push_back(sqlite3_last_insert_rowid(db_));
    ++n;
  }
  tx.commit();
  if (report_id) *report_id = id;
  if (run_ids) *run_ids = std::move(ids);
  return n;
}

nlohmann::ordered_json to_json(const RunRow& r, bool with_profiles) {
  auto opt = [](const auto& v) { return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(); };
  nlohmann::ordered_json j = {{"id", r.id},
                              {"report_id", r.report_id},
                              {"created", r.created},
                              {"hostname", r.hostname},
                              {"target", opt(r.target)},
                              {"model", r.model},
                              {"backend", r.backend},
                              {"status", r.status},
                              {"error", opt(r.error)},
                              {"median_us", opt(r.median_us)},
                              {"p99_us", opt(r.p99_us)},
                              {"mean_us", opt(r.mean_us)},
                              {"init_us", opt(r.init_us)},
                              {"rss_peak_bytes", opt(r.rss_peak_bytes)},
                              {"allocations_per_run", opt(r.allocations_per_run)},
                              {"top1", opt(r.top1)},
                              {"deadline_misses", opt(r.deadline_misses)}};
  if (with_profiles) j["profiles"] = r.profiles;
  return j;
}

std::vector<RunRow> ResultsDb::list(const RunFilter& f) const {
  if (!f.since.empty() && (f.since.size() != 10 || !is_date(f.since)))
    throw Error("since is '" + f.since + "', expected a date YYYY-MM-DD, e.g. 2024-05-01");
  Stmt q(db_, path_,
         (std::string("SELECT ") + kRunColumns + " FROM runs JOIN reports ON reports.id = runs.report_id "
         "WHERE (?1 IS NULL OR instr(lower(runs.model), lower(?1)) > 0) "
         "AND (?2 IS NULL OR runs.backend = ?2) "
         "AND (?3 IS NULL OR runs.created >= ?3) "
         "AND (?4 = 0 OR (?5 IS NULL AND reports.target IS NULL) OR reports.target = ?5) "
         "ORDER BY runs.created DESC, runs.id DESC LIMIT ?6").c_str());
  q.bind(1, f.model.empty() ? std::nullopt : std::optional(f.model));
  q.bind(2, f.backend.empty() ? std::nullopt : std::optional(f.backend));
  q.bind(3, f.since.empty() ? std::nullopt : std::optional(f.since));
  q.bind(4, static_cast<int64_t>(f.target.has_value()));
  q.bind(5, f.target && !f.target->empty() ? f.target : std::nullopt);
  q.bind(6, f.limit > 0 ? f.limit : int64_t{-1});
  std::vector<RunRow> out;
  while (q.step("cannot list the runs")) out.push_back(read_run_row(q));
  return out;
}

RunPage ResultsDb::query_runs(const RunQuery& f) const {
  for (const auto& [name, value] : {std::pair{"since", &f.since}, std::pair{"until", &f.until}})
    if (!value->empty() && (value->size() != 10 || !is_date(*value)))
      throw Error(std::string(name) + " is '" + *value + "', expected a date YYYY-MM-DD, e.g. 2024-05-01");
  if (!f.status.empty() && f.status != "ok" && f.status != "error")
    throw Error("status is '" + f.status + "', expected ok or error");
  if (f.limit < 1 || f.limit > 1000) throw Error("limit is " + std::to_string(f.limit) + ", expected 1 to 1000");
  if (f.offset < 0) throw Error("offset is " + std::to_string(f.offset) + ", expected 0 or more");

  // Only the filters that are set go into the SQL, so SQLite can use the
  // backend, created and status-free indexes instead of scanning.
  std::string where;
  std::vector<std::string> values;
  auto add = [&](const char* clause, std::string value) {
    where += where.empty() ? " WHERE " : " AND ";
    where += clause;
    values.push_back(std::move(value));
  };
  if (!f.model.empty()) add("instr(lower(runs.model), lower(?)) > 0", f.model);
  if (!f.backend.empty()) add("runs.backend = ?", f.backend);
  if (!f.since.empty()) add("runs.created >= ?", f.since);
  // Inclusive: every time of that day sorts below "YYYY-MM-DDT~".
  if (!f.until.empty()) add("runs.created <= ?", f.until + "T~");
  if (!f.status.empty()) add("runs.status = ?", f.status);
  auto bind_all = [&](Stmt& q) {
    for (size_t i = 0; i < values.size(); ++i) q.bind(static_cast<int>(i + 1), values[i]);
  };

  RunPage page;
  {
    std::string sql = "SELECT count(*) FROM runs" + where;
    Stmt q(db_, path_, sql.c_str());
    bind_all(q);
    q.step("cannot count the runs");
    page.total = q.int64(0);
  }
  const char* dir = f.descending ? " DESC" : " ASC";
  std::string order;
  switch (f.sort) {
    case RunSort::Created: order = std::string("runs.created") + dir; break;
    case RunSort::Model: order = std::string("runs.model") + dir; break;
    case RunSort::Backend: order = std::string("runs.backend") + dir; break;
    case RunSort::Median: order = std::string("runs.median_us IS NULL, runs.median_us") + dir; break;
  }
  order += std::string(", runs.id") + dir;
  std::string sql = std::string("SELECT ") + kRunColumns +
                    ", (SELECT count(*) FROM profiles WHERE profiles.run_id = runs.id) "
                    "FROM runs JOIN reports ON reports.id = runs.report_id" +
                    where + " ORDER BY " + order + " LIMIT ? OFFSET ?";
  Stmt q(db_, path_, sql.c_str());
  bind_all(q);
  q.bind(static_cast<int>(values.size() + 1), f.limit);
  q.bind(static_cast<int>(values.size() + 2), f.offset);
  while (q.step("cannot list the runs")) {
    page.rows.push_back(read_run_row(q));
    page.rows.back().profiles = q.int64(17);
  }
  return page;
}

RunFacets ResultsDb::facets() const {
  RunFacets out;
  {
    Stmt q(db_, path_, "SELECT DISTINCT model FROM runs ORDER BY model");
    while (q.step("cannot list the models")) out.models.push_back(q.text(0));
  }
  {
    Stmt q(db_, path_, "SELECT DISTINCT backend FROM runs ORDER BY backend");
    while (q.step("cannot list the backends")) out.backends.push_back(q.text(0));
  }
  // Two queries: each is one step down the created index.
  {
    Stmt q(db_, path_, "SELECT min(created) FROM runs");
    if (q.step("cannot read the dates") && !q.is_null(0)) out.first_created = q.text(0);
  }
  {
    Stmt q(db_, path_, "SELECT max(created) FROM runs");
    if (q.step("cannot read the dates") && !q.is_null(0)) out.last_created = q.text(0);
  }
  return out;
}

std::vector<ProfileInfo> ResultsDb::profiles(int64_t run_id) const {
  Stmt q(db_, path_,
         "SELECT id, kind, length(CAST(content AS BLOB)), added FROM profiles WHERE run_id = ?1 ORDER BY id");
  q.bind(1, run_id);
  std::vector<ProfileInfo> out;
  while (q.step("cannot list the profiles of run " + std::to_string(run_id)))
    out.push_back({q.int64(0), q.text(1), q.int64(2), q.text(3)});
  return out;
}

std::optional<std::string> ResultsDb::profile_content(int64_t run_id, const std::string& kind) const {
  Stmt q(db_, path_, "SELECT content FROM profiles WHERE run_id = ?1 AND kind = ?2 ORDER BY id DESC LIMIT 1");
  q.bind(1, run_id);
  q.bind(2, kind);
  if (!q.step("cannot read the " + kind + " profile of run " + std::to_string(run_id))) return std::nullopt;
  return q.text(0);
}

bool ResultsDb::has_run(int64_t run_id) const {
  Stmt q(db_, path_, "SELECT 1 FROM runs WHERE id = ?1");
  q.bind(1, run_id);
  return q.step("cannot read run " + std::to_string(run_id));
}

json ResultsDb::get_run(int64_t id) const {
  Stmt q(db_, path_,
         "SELECT runs.run, runs.report_id, reports.created, reports.host, reports.options "
         "FROM runs JOIN reports ON reports.id = runs.report_id WHERE runs.id = ?1");
  q.bind(1, id);
  if (!q.step("cannot read run " + std::to_string(id)))
    throw Error("results database " + path_ + " has no run " + std::to_string(id) + " (rtml runs lists them)");
  json out;
  try {
    out["schema"] = bench::kReportSchema;
    out["created"] = q.text(2);
    out["host"] = json::parse(q.text(3));
    out["options"] = json::parse(q.text(4));
    out["runs"] = json::array({json::parse(q.text(0))});
  } catch (const json::exception& e) {
    throw Error("results database " + path_ + ": run " + std::to_string(id) + " holds damaged JSON: " + e.what());
  }
  out["report_id"] = q.int64(1);
  out["run_id"] = id;
  return out;
}

int64_t ResultsDb::add_profile(int64_t run_id, const std::string& kind, const std::string& content) {
  Transaction tx(db_, path_, true);
  Stmt exists(db_, path_, "SELECT 1 FROM runs WHERE id = ?1");
  exists.bind(1, run_id);
  if (!exists.step("cannot read run " + std::to_string(run_id)))
    throw Error("results database " + path_ + " has no run " + std::to_string(run_id) + " to attach a profile to");
  exists.reset();
  Stmt ins(db_, path_, "INSERT INTO profiles (run_id, kind, content) VALUES (?1, ?2, ?3)");
  ins.bind(1, run_id);
  ins.bind(2, kind);
  ins.bind(3, content);
  ins.run("cannot store the profile of run " + std::to_string(run_id));
  int64_t id = sqlite3_last_insert_rowid(db_);
  tx.commit();
  return id;
}

int64_t ResultsDb::count_runs() const {
  Stmt q(db_, path_, "SELECT count(*) FROM runs");
  q.step("cannot count the runs");
  return q.int64(0);
}

int64_t ResultsDb::add_tuning(const json& record) {
  for (const char* k : {"created", "model", "model_hash", "target", "kernels", "unit"})
    if (!record.contains(k) || !record[k].is_string())
      throw Error("results database " + path_ + ": a tuning record without \"" + k + "\" is not stored");
  Transaction tx(db_, path_, true);
  Stmt ins(db_, path_,
           "INSERT INTO tunings (created, model, model_hash, target, kernels, unit, total_before, total_after, record) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  int i = 1;
  for (const char* k : {"created", "model", "model_hash", "target", "kernels", "unit"})
    ins.bind(i++, record[k].get<std::string>());
  ins.bind(7, number_at(record, "total_before"));
  ins.bind(8, number_at(record, "total_after"));
  ins.bind(9, dump(record));
  ins.run("cannot store the tuning record");
  const int64_t id = sqlite3_last_insert_rowid(db_);
  tx.commit();
  return id;
}

std::vector<json> ResultsDb::list_tunings(const std::string& model_hash) const {
  Stmt q(db_, path_,
         "SELECT record FROM tunings WHERE ?1 = '' OR model_hash = ?1 ORDER BY created DESC, id DESC");
  q.bind(1, model_hash);
  std::vector<json> out;
  while (q.step("cannot read the tuning records")) out.push_back(json::parse(q.text(0), nullptr, false));
  return out;
}

int64_t ResultsDb::count_reports() const {
  Stmt q(db_, path_, "SELECT count(*) FROM reports");
  q.step("cannot count the reports");
  return q.int64(0);
}

}  // namespace rtml::results
