#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <vector>

#include "core/error.h"

using nlohmann::json;

namespace rtml::bench {

namespace {

const json* field(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (const char* k : path) {
    if (!p->is_object() || !p->contains(k) || (*p)[k].is_null()) return nullptr;
    p = &(*p)[k];
  }
  return p;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// A number for people: 3 significant digits, no exponent for usual sizes.
std::string human(double v) {
  if (v >= 1000) return fmt("%.0f", v);
  if (v >= 100) return fmt("%.1f", v);
  if (v >= 10) return fmt("%.2f", v);
  return fmt("%.3f", v);
}

struct Column {
  const char* header;
  const char* csv_header;
  std::string (*cell)(const json& run);  // "" = not measured
  std::string (*csv)(const json& run);
};

std::string num_at(const json& run, std::initializer_list<const char*> path, double scale = 1) {
  const json* f = field(run, path);
  return f && f->is_number() ? human(f->get<double>() * scale) : "";
}
std::string raw_at(const json& run, std::initializer_list<const char*> path) {
  const json* f = field(run, path);
  if (!f) return "";
  if (f->is_number_integer()) return std::to_string(f->get<int64_t>());
  if (f->is_number()) return fmt("%.9g", f->get<double>());
  if (f->is_boolean()) return f->get<bool>() ? "true" : "false";
  if (f->is_string()) return f->get<std::string>();
  return "";
}

std::string accuracy_cell(const json& run) {
  const json* a = field(run, {"accuracy"});
  if (!a) return "";
  std::string s;
  if (const json* t = field(*a, {"top1"})) s = fmt("top1 %.1f%% ", t->get<double>() * 100);
  if (const json* e = field(*a, {"max_abs_error"})) s += fmt("err %.1e ", e->get<double>());
  return s + (a->value("passed", false) ? "ok" : "FAIL");
}

std::string memory_cell(const json& run) {
  const json* peak = field(run, {"memory", "rss_peak_bytes"});
  const json* base = field(run, {"memory", "rss_baseline_bytes"});
  if (!peak || !base) return "";
  return human(static_cast<double>(peak->get<int64_t>() - base->get<int64_t>()) / 1024);
}

std::string rt_cell(const json& run) {
  const json* r = field(run, {"realtime"});
  if (!r) return "";
  return std::to_string((*r)["deadline_misses"].get<int64_t>()) + "/" + std::to_string(r->value("periods", 0)) +
         fmt(" (p99 %.0f%%)", (*r)["budget_use_p99"].get<double>() * 100);
}

const std::vector<Column>& columns() {
  static const std::vector<Column> cols = {
      {"model", "model", [](const json& r) { return r.value("model", ""); }, [](const json& r) { return r.value("model", ""); }},
      {"backend", "backend", [](const json& r) { return r.value("backend", ""); },
       [](const json& r) { return r.value("backend", ""); }},
      {"status", "status", [](const json& r) { return r.value("status", ""); }, [](const json& r) { return r.value("status", ""); }},
      {"init ms", "init_us", [](const json& r) { return num_at(r, {"init_us"}, 1e-3); },
       [](const json& r) { return raw_at(r, {"init_us"}); }},
      {"first us", "first_run_us", [](const json& r) { return num_at(r, {"first_run_us"}); },
       [](const json& r) { return raw_at(r, {"first_run_us"}); }},
      {"median us", "median_us", [](const json& r) { return num_at(r, {"latency_us", "median"}); },
       [](const json& r) { return raw_at(r, {"latency_us", "median"}); }},
      {"p99 us", "p99_us", [](const json& r) { return num_at(r, {"latency_us", "p99"}); },
       [](const json& r) { return raw_at(r, {"latency_us", "p99"}); }},
      {"max us", "max_us", [](const json& r) { return num_at(r, {"latency_us", "max"}); },
       [](const json& r) { return raw_at(r, {"latency_us", "max"}); }},
      {"jitter us", "jitter_us", [](const json& r) { return num_at(r, {"latency_us", "jitter"}); },
       [](const json& r) { return raw_at(r, {"latency_us", "jitter"}); }},
      // Peak resident memory above the baseline before the model was loaded:
      // what this model on this runtime costs (the whole process's RSS also
      // holds every runtime library rtml links).
      {"mem +KiB", "rss_peak_bytes", memory_cell, [](const json& r) { return raw_at(r, {"memory", "rss_peak_bytes"}); }},
      {"allocs/run", "allocations_per_run", [](const json& r) { return num_at(r, {"heap", "allocations_per_run"}); },
       [](const json& r) { return raw_at(r, {"heap", "allocations_per_run"}); }},
      {"accuracy", "accuracy_passed", accuracy_cell, [](const json& r) { return raw_at(r, {"accuracy", "passed"}); }},
      {"misses", "deadline_misses", rt_cell, [](const json& r) { return raw_at(r, {"realtime", "deadline_misses"}); }},
  };
  return cols;
}

std::string csv_quote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

json new_report(const json& host, const json& options) {
  char created[32];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  std::strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return {{"schema", kReportSchema}, {"created", created}, {"host", host}, {"options", options}, {"runs", json::array()}};
}

std::string format_table(const json& report, bool markdown) {
  const auto& cols = columns();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> errors;
  std::vector<std::vector<std::string>> emulated;  // runs on an emulated target: instructions, not time
  for (const auto& run : report.at("runs")) {
    if (run.contains("emulated") && run["emulated"].is_object()) {
      const json& e = run["emulated"];
      auto kib = [](const json& v) { return fmt("%.1f", v.get<double>() / 1024); };
      emulated.push_back({run.value("model", ""), run.value("target", ""), e.value("kernels", ""),
                          fmt("%.0f", e["instructions"]["median"].get<double>()),
                          kib(e["flash"]["total_bytes"]), kib(e["flash"]["weights_bytes"]),
                          kib(e["flash"]["kernel_library_bytes"]), kib(e["ram"]["total_bytes"]),
                          kib(e["ram"]["arena_bytes"]), kib(e["ram"]["stack_bytes"]), accuracy_cell(run)});
      continue;
    }
    std::vector<std::string> row;
    for (const auto& c : cols) {
      std::string v = c.cell(run);
      row.push_back(v.empty() ? "-" : v);
    }
    rows.push_back(row);
    if (run.value("status", "") == "error")
      errors.push_back(run.value("model", "") + " / " + run.value("backend", "") + ": " +
                       (run["error"].is_string() ? run["error"].get<std::string>() : ""));
  }
  std::vector<size_t> width;
  for (const auto& c : cols) width.push_back(std::string(c.header).size());
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size(); ++i) {
      bool left = i < 3 || i >= cols.size() - 2;
      std::string pad(width[i] - cells[i].size(), ' ');
      if (markdown) out += "| ";
      out += left ? cells[i] + pad : pad + cells[i];
      out += markdown ? " " : (i + 1 < cells.size() ? "  " : "");
    }
    out += markdown ? "|\n" : "\n";
  };
  std::vector<std::string> header;
  for (const auto& c : cols) header.push_back(c.header);
  line(header);
  if (markdown) {
    for (size_t i = 0; i < cols.size(); ++i) {
      bool left = i < 3 || i >= cols.size() - 2;
      out += "|" + (left ? std::string(width[i] + 2, '-') : std::string(width[i] + 1, '-') + ":");
    }
    out += "|\n";
  }
  for (const auto& row : rows) line(row);
  if (rows.empty()) out.clear();
  if (!emulated.empty()) {
    const std::vector<std::string> head = {"model",          "target",     "kernels",  "instructions",
                                           "flash KiB",      "weights KiB", "kernels KiB", "RAM KiB",
                                           "arena KiB",      "stack KiB",   "accuracy"};
    std::vector<size_t> w;
    for (const auto& h : head) w.push_back(h.size());
    for (const auto& row : emulated)
      for (size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
    if (!out.empty()) out += "\n";
    out += "emulated (QEMU counts executed instructions; it has no timing model, so no times):\n";
    auto eline = [&](const std::vector<std::string>& cells) {
      for (size_t i = 0; i < cells.size(); ++i) {
        const bool left = i < 3 || i + 1 == cells.size();
        const std::string pad(w[i] - cells[i].size(), ' ');
        if (markdown) out += "| ";
        out += left ? cells[i] + pad : pad + cells[i];
        out += markdown ? " " : (i + 1 < cells.size() ? "  " : "");
      }
      out += markdown ? "|\n" : "\n";
    };
    eline(head);
    if (markdown) {
      for (size_t i = 0; i < head.size(); ++i) out += "|" + std::string(w[i] + 2, '-');
      out += "|\n";
    }
    for (const auto& row : emulated) eline(row);
  }
  if (!errors.empty()) {
    out += "\nerrors:\n";
    for (const auto& e : errors) out += "  " + e + "\n";
  }
  // Pairs a partial backend has no code for, by backend, wrapped at about
  // 100 columns.
  if (report.contains("not_covered") && report["not_covered"].is_array() && !report["not_covered"].empty()) {
    std::vector<std::pair<std::string, std::vector<std::string>>> by_backend;
    for (const auto& n : report["not_covered"]) {
      std::string b = n.value("backend", "");
      auto it = std::find_if(by_backend.begin(), by_backend.end(), [&](const auto& p) { return p.first == b; });
      if (it == by_backend.end()) it = by_backend.insert(by_backend.end(), {b, {}});
      it->second.push_back(n.value("model", ""));
    }
    out += "\nnot covered (n/a: the backend has no implementation of these models; reasons in the JSON report):\n";
    for (const auto& [b, models] : by_backend) {
      std::string line = "  " + b + ":";
      for (size_t i = 0; i < models.size(); ++i) {
        if (i > 0 && line.size() + models[i].size() + 2 > 100) {
          out += line + "\n";
          line = std::string(b.size() + 3, ' ');
        }
        line += " " + models[i] + (i + 1 < models.size() ? "," : "");
      }
      out += line + "\n";
    }
  }
  return out;
}

bool is_not_covered(const json& run) { return run.value("not_covered", false); }

void add_run(json& report, json run) {
  if (!is_not_covered(run)) {
    report["runs"].push_back(std::move(run));
    return;
  }
  if (!report.contains("not_covered")) report["not_covered"] = json::array();
  report["not_covered"].push_back({{"model", run.value("model", "")},
                                   {"backend", run.value("backend", "")},
                                   {"reason", run["error"].is_string() ? run["error"].get<std::string>() : ""}});
}

std::string format_csv(const json& report) {
  std::string out;
  const auto& cols = columns();
  for (size_t i = 0; i < cols.size(); ++i) out += (i ? "," : "") + std::string(cols[i].csv_header);
  out += ",error\n";
  for (const auto& run : report.at("runs")) {
    for (size_t i = 0; i < cols.size(); ++i) out += (i ? "," : "") + csv_quote(cols[i].csv(run));
    out += "," + csv_quote(run.contains("error") && run["error"].is_string() ? run["error"].get<std::string>() : "");
    out += "\n";
  }
  return out;
}

std::string summary_line(const json& run) {
  if (is_not_covered(run)) return "n/a (this backend does not cover the model)";
  if (run.value("status", "") != "ok")
    return "error: " + (run["error"].is_string() ? run["error"].get<std::string>() : std::string("?"));
  std::string s = "median " + num_at(run, {"latency_us", "median"}) + " us, p99 " + num_at(run, {"latency_us", "p99"}) +
                  " us";
  if (std::string a = accuracy_cell(run); !a.empty()) s += ", " + a;
  if (std::string r = rt_cell(run); !r.empty()) s += ", misses " + r;
  return s;
}

}  // namespace rtml::bench
