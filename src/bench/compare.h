// Reading `rtml bench` reports back (docs/bench-report.schema.json) and
// comparing two of them: `rtml compare A.json B.json`, and the results
// database's check of what it stores.
//
// The comparison pairs runs by (model, backend) and judges the median and
// the p99 latency separately. A change counts only when it is larger than
// BOTH the threshold (a percentage of the "before" value) AND the noise band:
//   median: max(p90 - median) of the two runs (the spread of typical runs),
//   p99:    max(p999 - p99) of the two runs.
// When both runs carry their raw samples (samples_us), a median verdict also
// needs a two-sided Mann-Whitney U test below alpha (0.01). Anything else is
// "same (within noise)". docs/bench-compare.md explains the reasoning.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace rtml::bench {

inline constexpr const char* kReportSchema = "rtml.bench/1";

// Throws rtml::Error saying what is wrong (without a file name: callers add
// it) when `report` is not an rtml.bench/1 report: the schema tag, the
// required top-level fields, and in every run the fields this code reads
// (model, backend, status; latency_us and samples_us numbers when present;
// the numbers the results database indexes). Unknown fields are allowed.
void check_report(const nlohmann::json& report);

// Reads and checks a report file. rtml::Error naming the file and what was
// wrong: cannot be read, is not JSON (with line and column), or fails
// check_report.
nlohmann::json read_report_file(const std::string& path);

// Two-sided Mann-Whitney U test, normal approximation with the tie
// correction and a continuity correction of 0.5:
//   U1 = R1 - n1(n1+1)/2 (R1: sum of the ranks of a, ties get their mean rank)
//   U  = min(U1, n1*n2 - U1)
//   sigma^2 = n1*n2/12 * ((n+1) - sum(t^3 - t) / (n(n-1)))   (t: size of each tie group)
//   z = (n1*n2/2 - U - 0.5) / sigma,  p = erfc(z / sqrt(2))  (clamped to [0, 1])
// p is 1 when sigma is 0 (every value equal) or a sample is empty.
struct MannWhitney {
  double u = 0;   // min(U1, U2)
  double u1 = 0;  // U of the first sample: number of (a, b) pairs with a > b (+ half the ties)
  double z = 0;
  double p = 1;
};
MannWhitney mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b);

enum class Verdict { Faster, Slower, Same };
const char* verdict_name(Verdict v);  // "faster", "slower", "same (within noise)"

// Why a change was not called (Verdict::Same), or "" when it was.
enum class SameReason { None, BelowThreshold, WithinNoise, NotSignificant };
const char* same_reason_name(SameReason r);  // "", "below threshold", "within noise band", "not significant"

struct MetricChange {
  double before = 0, after = 0;
  double change_pct = 0;          // (after - before) / before * 100; infinite if before is 0 and after is not
  double threshold_us = 0;        // threshold% of before
  double noise_us = 0;            // the noise band
  std::optional<double> p_value;  // median only: both runs had samples_us
  Verdict verdict = Verdict::Same;
  SameReason reason = SameReason::None;
};

enum class RowKind {
  Compared,  // both ok and timed: median and p99 are set
  Added,     // only in B
  Removed,   // only in A
  Error,     // status "error" in A or B (or both)
  NotTimed,  // both ok, but one has no latency_us
};
const char* row_kind_name(RowKind k);  // "compared", "added", "removed", "error", "not timed"

struct CompareRow {
  std::string model, backend;
  int occurrence = 1;  // the k-th run of this (model, backend) in its report: duplicates pair in order
  RowKind kind = RowKind::Compared;
  std::string error_a, error_b;  // Error rows: the error messages ("" where that side was ok)
  bool broke = false;            // Error row that was ok in A and is an error in B
  std::optional<MetricChange> median, p99;
};

struct CompareOptions {
  double threshold_pct = 5;
  double alpha = 0.01;  // Mann-Whitney significance level for a median verdict
};

struct CompareResult {
  std::vector<CompareRow> rows;    // A's order, then B-only rows in B's order
  std::vector<std::string> notes;  // e.g. the reports come from different machines
  // True when a median got slower, or a run that was ok in A fails in B:
  // `rtml compare` exits 1.
  bool regression() const;
  size_t count(Verdict v) const;  // rows whose median has this verdict
  size_t count(RowKind k) const;
};

// Both reports must pass check_report (this calls it: rtml::Error otherwise).
CompareResult compare_reports(const nlohmann::json& a, const nlohmann::json& b, const CompareOptions& opt = {});

// The judgement of one metric, exposed for tests: `spread_before` and
// `spread_after` are each run's (p90 - median) for a median, (p999 - p99)
// for a p99; negative spreads count as 0. `p_value`, when set, must be below
// alpha for a change to count.
MetricChange judge_change(double before, double after, double spread_before, double spread_after,
                          std::optional<double> p_value, const CompareOptions& opt);

}  // namespace rtml::bench
