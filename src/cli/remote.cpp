// `rtml remote HOST:PORT bench|info`: runs benchmarks on a board through its
// `rtml agent` (docs/remote-protocol.md, src/remote/client.h) and keeps the
// board's reports here: table, --json/--csv, the local results database.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "bench/report.h"
#include "bench/runner.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "core/error.h"
#ifdef RTML_WITH_REMOTE
#include "remote/client.h"
#endif

using nlohmann::json;

namespace rtml::cli {

namespace {

const char* kAbout =
    "Runs rtml bench on a board through the `rtml agent` listening at HOST:PORT, and keeps the board's\n"
    "reports here. Each model (with model.pt and the test_data_set_N folders beside it) is one job: its\n"
    "files are hashed and only those the agent lacks are uploaded; the job runs every --backend on the\n"
    "board, one job at a time; progress shows as it goes. The report (--json) has the board's host, with\n"
    "host.target the agent's name; runs recorded in the local results database are marked with the\n"
    "target (rtml runs --target NAME).";

#ifdef RTML_WITH_REMOTE

remote::JobOptions job_options(const BenchArgs& b) {
  remote::JobOptions job;
  job.backends = b.backends;
  job.warmup = b.warmup;
  job.runs = b.runs;
  job.seconds = b.seconds;
  job.threads = b.threads;
  job.tolerance = b.tolerance;
  job.period_us = b.period_us;
  job.rt = b.rt;
  job.priority = b.priority;
  job.cpu = b.cpu;
  job.samples = b.samples;
  return job;
}

int run_info(remote::Client& client, bool as_json) {
  const json& info = client.info();
  if (as_json) {
    std::printf("%s\n", info.dump(2).c_str());
    return 0;
  }
  auto text = [](const json& j, const char* key) {
    return j.is_object() && j.contains(key) && !j[key].is_null()
               ? (j[key].is_string() ? j[key].get<std::string>() : j[key].dump())
               : std::string("-");
  };
  const json host = info.contains("host") ? info["host"] : json::object();
  std::string backends;
  if (info.contains("backends") && info["backends"].is_array())
    for (const auto& b : info["backends"]) backends += (backends.empty() ? "" : ", ") + b.get<std::string>();
  std::printf("agent       %s at %s (protocol %s, rtml %s)\n", text(info, "name").c_str(),
              client.endpoint().text().c_str(), text(info, "protocol").c_str(), text(info, "rtml_version").c_str());
  std::printf("board       %s: %s, %s cores, %s\n", text(host, "hostname").c_str(), text(host, "cpu_model").c_str(),
              text(host, "cores").c_str(),
              host.contains("memory_bytes") && host["memory_bytes"].is_number()
                  ? format_bytes(host["memory_bytes"].get<double>()).c_str()
                  : "-");
  std::printf("system      %s %s, %s\n", text(host, "os").c_str(), text(host, "kernel").c_str(),
              text(host, "arch").c_str());
  std::printf("backends    %s\n", backends.empty() ? "-" : backends.c_str());
  if (info.contains("limits") && info["limits"].is_object()) {
    const json& l = info["limits"];
    auto bytes = [&](const char* k) {
      return l.contains(k) && l[k].is_number() ? format_bytes(l[k].get<double>()) : std::string("-");
    };
    std::printf("limits      body %s, model %s, job %s s, queue %s\n", bytes("max_body_bytes").c_str(),
                bytes("max_model_bytes").c_str(), text(l, "job_timeout_s").c_str(), text(l, "max_queue").c_str());
  }
  return 0;
}

// Error rows for a job the agent did not finish, one per backend (as rtml
// bench records a model that fails).
void add_error_runs(json& runs, const bench::ModelSpec& m, const remote::JobOptions& job, const std::string& error) {
  for (const auto& b : job.backends)
    runs.push_back({{"model", m.name},
                    {"model_path", m.path},
                    {"family", m.family.empty() ? json(nullptr) : json(m.family)},
                    {"backend", b},
                    {"status", "error"},
                    {"error", error}});
}

int run_bench(remote::Client& client, const BenchArgs& b) {
  const remote::JobOptions job = job_options(b);
  std::vector<bench::ModelSpec> models = bench::find_models(b.paths, b.filter);
  if (models.empty()) throw Error("no models matched (check the paths and --filter)");
  const std::string agent = client.name();
  const bool tty = ::isatty(STDERR_FILENO);

  json report;  // the first report the agent sends; every job's runs go into it
  json runs = json::array();
  json not_covered = json::array();
  bool all_good = true;
  for (size_t k = 0; k < models.size(); ++k) {
    const bench::ModelSpec& m = models[k];
    char prefix[64];
    std::snprintf(prefix, sizeof prefix, "[%zu/%zu] ", k + 1, models.size());
    const std::string head = prefix + m.name + " on " + agent;
    remote::ModelFiles files = remote::collect_model_files(m);
    if (!files.note.empty()) std::fprintf(stderr, "rtml remote: note: %s\n", files.note.c_str());
    auto progress = [&](const std::string& text) {
      if (tty)
        std::fprintf(stderr, "\r\033[K%s: %s", head.c_str(), text.c_str());
      else
        std::fprintf(stderr, "%s: %s\n", head.c_str(), text.c_str());
    };
    const int64_t uploaded_before = client.stats().blobs_uploaded;
    json r;
    try {
      r = client.bench(files, job, progress);
    } catch (const remote::JobError& e) {
      std::fprintf(stderr, "%s%s: error: %s\n", tty ? "\r\033[K" : "", head.c_str(), e.what());
      add_error_runs(runs, m, job, std::string("remote job ") + e.state() + ": " + e.what());
      all_good = false;
      continue;
    } catch (...) {
      if (tty) std::fputs("\n", stderr);  // keep the live line above the error
      throw;
    }
    if (tty) std::fputs("\r\033[K", stderr);
    if (client.stats().blobs_uploaded == uploaded_before)
      std::fprintf(stderr, "%s: every file was already on the agent\n", head.c_str());
    for (auto& run : r["runs"]) {
      run["model"] = m.name;
      if (!m.family.empty()) run["family"] = m.family;
      if (m.flops && (!run.contains("flops") || run["flops"].is_null())) run["flops"] = *m.flops;
      std::string backend = run.value("backend", std::string("?"));
      std::fprintf(stderr, "%s (%s): %s\n", head.c_str(), backend.c_str(), bench::summary_line(run).c_str());
      if (run["status"] != "ok" ||
          (run.contains("accuracy") && run["accuracy"].is_object() && !run["accuracy"].value("passed", false)))
        all_good = false;
      runs.push_back(run);
    }
    if (r.contains("not_covered") && r["not_covered"].is_array())
      for (auto& n : r["not_covered"]) {
        n["model"] = m.name;
        std::fprintf(stderr, "%s (%s): n/a (this backend does not cover the model)\n", head.c_str(),
                     n.value("backend", std::string("?")).c_str());
        not_covered.push_back(n);
      }
    if (report.is_null()) report = std::move(r);
  }
  if (report.is_null()) {
    // Every job failed: a report around the error rows, with the board's host.
    json host = client.info().contains("host") && client.info()["host"].is_object() ? client.info()["host"]
                                                                                    : json::object();
    host["target"] = agent;
    json options = job.to_json();
    bench::BenchOptions defaults;
    options["warmup"] = job.warmup.value_or(defaults.warmup);
    options["threads"] = job.threads.value_or(defaults.threads);
    options["tolerance"] = job.tolerance.value_or(defaults.tolerance);
    options["memory_interval_us"] = defaults.memory_interval_us;
    report = bench::new_report(host, options);
  }
  report["runs"] = std::move(runs);
  if (!not_covered.empty()) report["not_covered"] = std::move(not_covered);
  else report.erase("not_covered");

  const remote::UploadStats& s = client.stats();
  std::fprintf(stderr, "rtml remote: %lld of %lld blobs uploaded to %s (%s); the rest were already there\n",
               static_cast<long long>(s.blobs_uploaded),
               static_cast<long long>(s.blobs_checked), agent.c_str(),
               format_bytes(static_cast<double>(s.bytes_uploaded)).c_str());
  write_bench_outputs(report, b, "remote", agent);
  return all_good ? 0 : 1;
}

#endif  // RTML_WITH_REMOTE

}  // namespace

int cmd_remote(const Args& args) {
  const std::string forms = "HOST:PORT [--token-file FILE] ";
  bool info_json = false;
  OptionTable info(
      "remote", forms + "info [--json]",
      "Prints the agent's name, board, rtml version, backends and limits.");
  info.flag("--json", info_json, "GET /v1/info as is");
  BenchArgs bench_args;
  OptionTable bench(
      "remote", forms + "bench MODEL|FOLDER|manifest.json... [options]",
      std::string(kAbout) + "\nOptions as rtml bench; the defaults are the board's rtml bench defaults.");
  add_bench_run_options(bench, bench_args);
  add_bench_output_options(bench, bench_args);
  bench.notes(kBenchExitStatus);

  std::string where, command, token_file;
  std::vector<std::string> rest;
  OptionTable table("remote", forms + "info [--json]\n" + forms + "bench MODEL|FOLDER|manifest.json... [options]",
                    kAbout);
  table.positional("HOST:PORT", where)
      .positional("bench|info", command)
      .rest(rest)
      .value("--token-file", "FILE", token_file, "the agent's token (first line); default $RTML_TOKEN_FILE, else none")
      .notes("info options:\n" + info.options_help() +
             "bench options (as rtml bench; the defaults are the board's rtml bench defaults):\n" +
             bench.options_help() + "\n" + kBenchExitStatus);
  if (!table.parse(args)) return 0;
  if (command != "bench" && command != "info")
    throw UsageError("unknown remote command '" + command + "' (bench or info; see rtml remote --help)");
  if (!(command == "info" ? info : bench).parse(rest)) return 0;
  if (command == "bench") check_bench_args(bench_args);
#ifndef RTML_WITH_REMOTE
  throw Error("this rtml was built without cpp-httplib: rtml remote is not available (install libcpp-httplib-dev "
              "and rebuild)");
#else
  remote::Endpoint endpoint;
  try {
    endpoint = remote::parse_endpoint(where);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  if (token_file.empty())
    if (const char* env = std::getenv("RTML_TOKEN_FILE"); env && *env) token_file = env;
  std::string token = token_file.empty() ? std::string() : remote::read_token_file(token_file);
  remote::Client client(endpoint, token);
  return command == "info" ? run_info(client, info_json) : run_bench(client, bench_args);
#endif
}

}  // namespace rtml::cli
