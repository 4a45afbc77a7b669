// bench/report: the report around the runs (schema rtml.bench/1, see
// docs/bench-report.md) and its readable forms: a terminal table, Markdown
// and CSV. Missing measurements print as "-" (table) or empty (CSV).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace rtml::bench {

constexpr const char* kReportSchema = "rtml.bench/1";

// {"schema", "created" (UTC now), "host", "options", "runs": []}
nlohmann::json new_report(const nlohmann::json& host, const nlohmann::json& options);

// One row per run: model, backend, status, init, first run, median, p99,
// max, jitter, peak RSS, allocations per run, accuracy, deadline misses.
std::string format_table(const nlohmann::json& report, bool markdown = false);
// The same columns (unrounded, in base units), with a header line.
std::string format_csv(const nlohmann::json& report);

// A one-line summary of a run for progress output.
std::string summary_line(const nlohmann::json& run);

// A run whose backend does not implement the model (backends::NotCovered, the
// hand-written baseline on a model it has no code for) is not a failure:
// reports list the pair under "not_covered" instead of in "runs", the
// table names them below the rows, and they do not change the exit status.
bool is_not_covered(const nlohmann::json& run);
// Adds the run to report["runs"], or {model, backend, reason} to
// report["not_covered"] when is_not_covered(run).
void add_run(nlohmann::json& report, nlohmann::json run);

}  // namespace rtml::bench
