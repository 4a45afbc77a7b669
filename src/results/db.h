// The results database: every `rtml bench` report kept in one SQLite file
// (`rtml bench ... --db`, `rtml runs`). Built only when SQLite is found
// (RTML_WITH_SQLITE).
//
// Tables (schema version kSchemaVersion, recorded in `meta`):
//   meta(key, value)           'format' = 'rtml results', 'schema_version'
//   reports(id, created, added, hostname, target, host, options)
//                              created: the report's time (UTC ISO 8601); added:
//                              when it was stored; host/options: JSON text
//   runs(id, report_id, created, model, backend, status, error, median_us,
//        p99_us, mean_us, init_us, rss_peak_bytes, allocations_per_run, top1,
//        deadline_misses, run)  the numbers `rtml runs` shows, and the run's
//                              full JSON text; indexed on model, backend, created
//   profiles(id, run_id, kind, content, added)   free-form, filled by the profiler
//                              (`rtml profile`: kinds profile, folded, chrome-trace,
//                              speedscope); indexed on (run_id, kind)
//   tunings(id, created, added, model, model_hash, target, kernels, unit,
//        total_before, total_after, record)   `rtml tune`'s records (tune/tune.h),
//                              the full JSON in `record`; indexed on model_hash
// Indexes and the tunings table, added after schema version 1 was released (runs_median,
// profiles_run_kind) are created on open when missing; older rtml versions
// read such a file unchanged, so the version stays 1.
//
// Several processes may write at once and lose nothing: WAL journal, a busy
// timeout, BEGIN IMMEDIATE retried while another writer holds the lock, and
// one transaction per report (a failure rolls it all back). Every SQLite error
// becomes an rtml::Error naming the database file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

struct sqlite3;
struct sqlite3_stmt;

namespace rtml::results {

inline constexpr int kSchemaVersion = 1;

// $RTML_DB if set; else $XDG_DATA_HOME/rtml/results.db (when XDG_DATA_HOME is
// an absolute path); else $HOME/.local/share/rtml/results.db. Throws
// rtml::Error when none of them is set.
std::string default_db_path();

struct RunRow {
  int64_t id = 0;
  int64_t report_id = 0;
  std::string created;  // the report's "created" (UTC ISO 8601)
  std::string hostname;
  std::optional<std::string> target;  // null: measured on the local machine
  std::string model, backend, status;
  std::optional<std::string> error;
  std::optional<double> median_us, p99_us, mean_us, init_us;
  std::optional<int64_t> rss_peak_bytes;
  std::optional<double> allocations_per_run, top1;
  std::optional<int64_t> deadline_misses;
  int64_t profiles = 0;  // profiles attached to the run (filled by query_runs only)
};
// A run's row as JSON (`rtml runs --json`, rtml ui's run list): every RunRow
// field by name, null where unset; "profiles" only when `with_profiles`.
nlohmann::ordered_json to_json(const RunRow& row, bool with_profiles = false);


struct RunFilter {
  std::string model;                  // case-insensitive substring of the model name; "" = any
  std::string backend;                // exact backend name; "" = any
  std::string since;                  // YYYY-MM-DD (UTC): runs created on or after that day; "" = any
  std::optional<std::string> target;  // exact target name; "" = local runs only; unset = any
  int64_t limit = 20;                 // newest first; 0 = no limit
};

// A page of runs for a browser (rtml ui): filters, an order, and a window.
enum class RunSort { Created, Model, Backend, Median };
struct RunQuery {
  std::string model;    // case-insensitive substring of the model name; "" = any
  std::string backend;  // exact backend name; "" = any
  std::string since;    // YYYY-MM-DD (UTC): created on or after that day; "" = any
  std::string until;    // YYYY-MM-DD (UTC): created on or before that day (inclusive); "" = any
  std::string status;   // "ok" or "error"; "" = any
  RunSort sort = RunSort::Created;
  bool descending = true;  // ties are broken by id in the same direction; runs without a median go last
  int64_t limit = 50;      // 1..1000
  int64_t offset = 0;      // >= 0
};
struct RunPage {
  int64_t total = 0;  // runs matching the filters, whatever the window
  std::vector<RunRow> rows;
};
// Distinct values for filter menus, sorted.
struct RunFacets {
  std::vector<std::string> models, backends;
  std::string first_created, last_created;  // "" when there are no runs
};
struct ProfileInfo {
  int64_t id = 0;
  std::string kind;
  int64_t bytes = 0;
  std::string added;
};

enum class OpenMode {
  ReadWrite,  // creates the file and the schema when missing
  ReadOnly,   // the file must exist and be an rtml results database; nothing is ever written
};

class ResultsDb {
 public:
  // Opens PATH, creating its parent folders, the file and the schema if
  // needed. rtml::Error (naming PATH) if it cannot be created or opened, is
  // not an SQLite database, is another program's database, or was written by
  // a newer rtml (a higher schema version).
  explicit ResultsDb(const std::string& path, OpenMode mode = OpenMode::ReadWrite);
  static ResultsDb open(const std::string& path) { return ResultsDb(path); }
  // ReadOnly: rtml::Error naming PATH when it does not exist (nothing is
  // created), or is not an rtml results database.
  static ResultsDb open_read_only(const std::string& path) { return ResultsDb(path, OpenMode::ReadOnly); }
  ~ResultsDb();
  ResultsDb(ResultsDb&& other) noexcept;
  ResultsDb& operator=(ResultsDb&& other) noexcept;
  ResultsDb(const ResultsDb&) = delete;
  ResultsDb& operator=(const ResultsDb&) = delete;

  const std::string& path() const { return path_; }

  // Stores a report (bench::check_report must accept it: rtml::Error
  // otherwise, nothing stored) and every one of its runs in one transaction:
  // all or nothing. Returns the number of runs stored; `report_id`, when
  // given, receives the new report's id, and `run_ids` its runs' ids in the
  // report's order.
  int64_t add_report(const nlohmann::json& report, int64_t* report_id = nullptr,
                     std::vector<int64_t>* run_ids = nullptr);

  // Runs matching `filter`, newest first (by the report's created time, then
  // by id, highest first).
  std::vector<RunRow> list(const RunFilter& filter = {}) const;

  // Run `id` as a one-run rtml.bench/1 report: {"schema", "created", "host",
  // "options", "runs": [the run's full JSON], "report_id", "run_id"}, so it can
  // be saved and given to `rtml compare`. rtml::Error if there is no such run.
  nlohmann::json get_run(int64_t id) const;

  // Attaches a profile (any text, e.g. JSON or a flame graph) to run `run_id`;
  // returns the profile's id. rtml::Error if there is no such run.
  int64_t add_profile(int64_t run_id, const std::string& kind, const std::string& content);

  // One page of runs and the number matching the filters. rtml::Error
  // (without the file name: it is the caller's input) for a malformed date,
  // status, limit or offset.
  RunPage query_runs(const RunQuery& query) const;
  RunFacets facets() const;

  // The profiles attached to run `run_id`, oldest first (empty if none, or no
  // such run).
  std::vector<ProfileInfo> profiles(int64_t run_id) const;
  // The newest profile of `kind` attached to run `run_id`; nullopt if none.
  std::optional<std::string> profile_content(int64_t run_id, const std::string& kind) const;
  bool has_run(int64_t run_id) const;

  int64_t count_runs() const;
  int64_t count_reports() const;

  // Stores a tuning record (`rtml tune`, schema rtml.tuning/1); returns its id.
  // rtml::Error (nothing stored) when a field the table needs is missing.
  int64_t add_tuning(const nlohmann::json& record);
  // The stored records for a model hash ("" = all), newest first.
  std::vector<nlohmann::json> list_tunings(const std::string& model_hash = "") const;

 private:
  void close() noexcept;
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace rtml::results
