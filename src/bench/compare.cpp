#include "bench/compare.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace rtml::bench {

using nlohmann::json;

namespace {

// "runs[3] (model 'mlp', backend 'native')": where a problem is, for messages.
std::string run_where(size_t i, const json& run) {
  std::string s = "runs[" + std::to_string(i) + "]";
  auto m = run.find("model");
  auto b = run.find("backend");
  if (m != run.end() && m->is_string()) {
    s += " (model '" + m->get<std::string>() + "'";
    if (b != run.end() && b->is_string()) s += ", backend '" + b->get<std::string>() + "'";
    s += ")";
  }
  return s;
}

// An object or null or absent: the optional sections of a run.
const json* optional_object(const json& run, const char* key, const std::string& where) {
  auto it = run.find(key);
  if (it == run.end() || it->is_null()) return nullptr;
  if (!it->is_object()) throw Error(where + ": " + key + " is " + it->type_name() + ", expected an object or null");
  return &*it;
}

// obj[key] is a number (an integer), or null/absent unless required.
// `section` names obj in messages ("latency_us"), "" for the run itself.
void check_number(const json& obj, const char* section, const char* key, const std::string& where, bool required,
                  bool integer = false) {
  std::string name = std::string(section) + (*section ? "." : "") + key;
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) throw Error(where + ": " + name + " is missing");
    return;
  }
  if (it->is_null() && !required) return;
  // Integers as JSON Schema counts them: 3500000.0 is one, 1.5 is not.
  auto whole = [](const json& v) { return v.is_number_integer() || std::floor(v.get<double>()) == v.get<double>(); };
  if (!it->is_number() || (integer && !whole(*it)))
    throw Error(where + ": " + name + " is " + (it->is_number() ? it->dump() : std::string(it->type_name())) +
                ", expected " + (integer ? "an integer" : "a number") + (required ? "" : " or null"));
}

void check_run(size_t i, const json& run) {
  std::string where = run_where(i, run);
  if (!run.is_object()) throw Error(where + " is " + run.type_name() + ", expected an object");
  for (const char* key : {"model", "backend", "status"}) {
    auto it = run.find(key);
    if (it == run.end()) throw Error(where + ": \"" + key + "\" is missing");
    if (!it->is_string()) throw Error(where + ": \"" + key + "\" is " + it->type_name() + ", expected a string");
  }
  if (run["model"].get_ref<const std::string&>().empty()) throw Error(where + ": \"model\" is empty");
  const auto& status = run["status"].get_ref<const std::string&>();
  if (status != "ok" && status != "error")
    throw Error(where + ": status is '" + status + "', expected 'ok' or 'error'");
  if (auto it = run.find("error"); it != run.end() && !it->is_null() && !it->is_string())
    throw Error(where + ": error is " + it->type_name() + ", expected a string or null");
  check_number(run, "", "init_us", where, false);

  if (const json* lat = optional_object(run, "latency_us", where))
    for (const char* key : {"min", "mean", "median", "p90", "p99", "p999", "max", "stddev", "jitter"})
      check_number(*lat, "latency_us", key, where, true);
  if (auto it = run.find("samples_us"); it != run.end() && !it->is_null()) {
    if (!it->is_array()) throw Error(where + ": samples_us is " + it->type_name() + ", expected an array or null");
    for (size_t k = 0; k < it->size(); ++k)
      if (!(*it)[k].is_number())
        throw Error(where + ": samples_us[" + std::to_string(k) + "] is " + (*it)[k].type_name() +
                    ", expected a number");
  }
  if (const json* mem = optional_object(run, "memory", where))
    check_number(*mem, "memory", "rss_peak_bytes", where, false, true);
  if (const json* heap = optional_object(run, "heap", where))
    check_number(*heap, "heap", "allocations_per_run", where, false);
  if (const json* acc = optional_object(run, "accuracy", where)) check_number(*acc, "accuracy", "top1", where, false);
  if (const json* rt = optional_object(run, "realtime", where))
    check_number(*rt, "realtime", "deadline_misses", where, false, true);
}

double num(const json& obj, const char* key) { return obj.at(key).get<double>(); }

std::vector<double> samples(const json& run) {
  std::vector<double> out;
  auto it = run.find("samples_us");
  if (it == run.end() || !it->is_array()) return out;
  out.reserve(it->size());
  for (const auto& v : *it) out.push_back(v.get<double>());
  return out;
}

bool timed(const json& run) {
  auto it = run.find("latency_us");
  return it != run.end() && it->is_object();
}

std::string text_or(const json& obj, const char* key, const std::string& fallback) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : fallback;
}

}  // namespace

void check_report(const json& report) {
  if (!report.is_object())
    throw Error(std::string("the top level is ") + report.type_name() +
                ", expected a JSON object (an rtml bench report)");
  auto schema = report.find("schema");
  if (schema == report.end())
    throw Error(std::string("no \"schema\" field: not an rtml bench report (expected \"schema\": \"") + kReportSchema +
                "\")");
  if (!schema->is_string() || schema->get<std::string>() != kReportSchema) {
    std::string got = schema->type_name();
    if (schema->is_string()) got = schema->dump();  // the string, quoted
    if (schema->is_string() && schema->get<std::string>().rfind("rtml.bench/", 0) == 0)
      throw Error("schema is " + got + ", but this rtml reads " + kReportSchema +
                  " (written by another rtml version?)");
    throw Error("schema is " + got + ", expected \"" + std::string(kReportSchema) + "\": not an rtml bench report");
  }
  if (auto it = report.find("created"); it == report.end() || !it->is_string())
    throw Error("\"created\" is missing or not a string (an ISO 8601 UTC time)");
  for (const char* key : {"host", "options"}) {
    auto it = report.find(key);
    if (it == report.end()) throw Error(std::string("\"") + key + "\" is missing");
    if (!it->is_object()) throw Error(std::string("\"") + key + "\" is " + it->type_name() + ", expected an object");
  }
  auto runs = report.find("runs");
  if (runs == report.end()) throw Error("\"runs\" is missing");
  if (!runs->is_array()) throw Error(std::string("\"runs\" is ") + runs->type_name() + ", expected an array");
  for (size_t i = 0; i < runs->size(); ++i) check_run(i, (*runs)[i]);
}

json read_report_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw Error("cannot read " + path + ": it is a folder, not a report file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error("cannot read " + path + ": " + std::strerror(errno));
  json report;
  try {
    report = json::parse(text.str());
  } catch (const json::parse_error& e) {
    // e.what() is "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    std::string what = e.what();
    if (size_t k = what.find("] "); what.rfind("[json.exception", 0) == 0 && k != std::string::npos)
      what = what.substr(k + 2);
    throw Error(path + " is not JSON: " + what);
  }
  try {
    check_report(report);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  return report;
}

MannWhitney mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b) {
  MannWhitney r;
  const size_t n1 = a.size(), n2 = b.size(), n = n1 + n2;
  if (n1 == 0 || n2 == 0) return r;
  std::vector<std::pair<double, int>> all;
  all.reserve(n);
  for (double v : a) all.emplace_back(v, 0);
  for (double v : b) all.emplace_back(v, 1);
  std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  double rank_sum_a = 0, tie_term = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && all[j].first == all[i].first) ++j;
    double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;  // ranks i+1 .. j
    for (size_t k = i; k < j; ++k)
      if (all[k].second == 0) rank_sum_a += mean_rank;
    double t = static_cast<double>(j - i);
    tie_term += t * t * t - t;
    i = j;
  }
  const double d1 = static_cast<double>(n1), d2 = static_cast<double>(n2), dn = static_cast<double>(n);
  r.u1 = rank_sum_a - d1 * (d1 + 1) / 2;
  r.u = std::min(r.u1, d1 * d2 - r.u1);
  double var = d1 * d2 / 12 * ((dn + 1) - tie_term / (dn * (dn - 1)));
  if (!(var > 0)) return r;  // every value equal: no evidence of a shift
  r.z = std::max(0.0, (d1 * d2 / 2 - r.u - 0.5) / std::sqrt(var));
  r.p = std::min(1.0, std::erfc(r.z / std::sqrt(2.0)));
  return r;
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Faster:
      return "faster";
    case Verdict::Slower:
      return "slower";
    case Verdict::Same:
      break;
  }
  return "same (within noise)";
}

const char* same_reason_name(SameReason r) {
  switch (r) {
    case SameReason::None:
      return "";
    case SameReason::BelowThreshold:
      return "below threshold";
    case SameReason::WithinNoise:
      return "within noise band";
    case SameReason::NotSignificant:
      return "not significant";
  }
  return "";
}

const char* row_kind_name(RowKind k) {
  switch (k) {
    case RowKind::Compared:
      return "compared";
    case RowKind::Added:
      return "added";
    case RowKind::Removed:
      return "removed";
    case RowKind::Error:
      return "error";
    case RowKind::NotTimed:
      return "not timed";
  }
  return "";
}

MetricChange judge_change(double before, double after, double spread_before, double spread_after,
                          std::optional<double> p_value, const CompareOptions& opt) {
  MetricChange m;
  m.before = before;
  m.after = after;
  const double diff = after - before;
  m.change_pct = before != 0 ? diff / before * 100
                             : (diff == 0 ? 0 : std::copysign(std::numeric_limits<double>::infinity(), diff));
  m.threshold_us = opt.threshold_pct / 100 * std::fabs(before);
  m.noise_us = std::max({0.0, spread_before, spread_after});
  m.p_value = p_value;
  if (std::fabs(diff) <= m.threshold_us) {
    m.reason = SameReason::BelowThreshold;
  } else if (std::fabs(diff) <= m.noise_us) {
    m.reason = SameReason::WithinNoise;
  } else if (p_value && !(*p_value < opt.alpha)) {
    m.reason = SameReason::NotSignificant;
  } else {
    m.verdict = diff > 0 ? Verdict::Slower : Verdict::Faster;
  }
  return m;
}

bool CompareResult::regression() const {
  for (const auto& r : rows)
    if (r.broke || (r.median && r.median->verdict == Verdict::Slower)) return true;
  return false;
}

size_t CompareResult::count(Verdict v) const {
  return static_cast<size_t>(
      std::count_if(rows.begin(), rows.end(), [&](const CompareRow& r) { return r.median && r.median->verdict == v; }));
}

size_t CompareResult::count(RowKind k) const {
  return static_cast<size_t>(std::count_if(rows.begin(), rows.end(), [&](const CompareRow& r) { return r.kind == k; }));
}

CompareResult compare_reports(const json& a, const json& b, const CompareOptions& opt) {
  check_report(a);
  check_report(b);
  using Key = std::tuple<std::string, std::string, int>;
  auto keys = [](const json& report) {
    std::vector<Key> out;
    std::map<std::pair<std::string, std::string>, int> seen;
    for (const auto& run : report["runs"]) {
      std::pair<std::string, std::string> mb{run["model"].get<std::string>(), run["backend"].get<std::string>()};
      out.emplace_back(mb.first, mb.second, ++seen[mb]);
    }
    return out;
  };
  const json& runs_a = a["runs"];
  const json& runs_b = b["runs"];
  std::vector<Key> keys_a = keys(a), keys_b = keys(b);
  std::map<Key, size_t> index_b;
  for (size_t i = 0; i < keys_b.size(); ++i) index_b[keys_b[i]] = i;
  std::vector<bool> matched_b(keys_b.size(), false);

  CompareResult result;
  auto error_text = [](const json& run) {
    if (run["status"] == "ok") return std::string();
    std::string e = text_or(run, "error", "");
    return e.empty() ? std::string("(no message)") : e;
  };
  for (size_t i = 0; i < keys_a.size(); ++i) {
    CompareRow row;
    std::tie(row.model, row.backend, row.occurrence) = keys_a[i];
    const json& ra = runs_a[i];
    auto it = index_b.find(keys_a[i]);
    if (it == index_b.end()) {
      row.kind = RowKind::Removed;
      result.rows.push_back(std::move(row));
      continue;
    }
    matched_b[it->second] = true;
    const json& rb = runs_b[it->second];
    if (ra["status"] != "ok" || rb["status"] != "ok") {
      row.kind = RowKind::Error;
      row.error_a = error_text(ra);
      row.error_b = error_text(rb);
      row.broke = ra["status"] == "ok";
    } else if (!timed(ra) || !timed(rb)) {
      row.kind = RowKind::NotTimed;
    } else {
      const json& la = ra["latency_us"];
      const json& lb = rb["latency_us"];
      std::optional<double> p;
      std::vector<double> sa = samples(ra), sb = samples(rb);
      if (!sa.empty() && !sb.empty()) p = mann_whitney_u(sa, sb).p;
      row.median = judge_change(num(la, "median"), num(lb, "median"), num(la, "p90") - num(la, "median"),
                                num(lb, "p90") - num(lb, "median"), p, opt);
      row.p99 = judge_change(num(la, "p99"), num(lb, "p99"), num(la, "p999") - num(la, "p99"),
                             num(lb, "p999") - num(lb, "p99"), std::nullopt, opt);
    }
    result.rows.push_back(std::move(row));
  }
  for (size_t i = 0; i < keys_b.size(); ++i) {
    if (matched_b[i]) continue;
    CompareRow row;
    std::tie(row.model, row.backend, row.occurrence) = keys_b[i];
    row.kind = RowKind::Added;
    result.rows.push_back(std::move(row));
  }

  // Differences in the setup that change timings by themselves.
  const json& ha = a["host"];
  const json& hb = b["host"];
  for (const char* key : {"hostname", "target", "cpu_model", "arch"}) {
    std::string va = text_or(ha, key, "(local)"), vb = text_or(hb, key, "(local)");
    if (va != vb)
      result.notes.push_back(std::string("the reports come from different machines (") + key + " '" + va + "' vs '" +
                             vb + "'): differences may be the machine's, not the code's");
    if (va != vb) break;
  }
  const json& oa = a["options"];
  const json& ob = b["options"];
  for (const char* key : {"threads", "rt", "period_us"}) {
    auto ia = oa.find(key), ib = ob.find(key);
    json va = ia != oa.end() ? *ia : json(), vb = ib != ob.end() ? *ib : json();
    if (va != vb) result.notes.push_back(std::string("options differ: ") + key + " " + va.dump() + " vs " + vb.dump());
  }
  return result;
}

}  // namespace rtml::bench
