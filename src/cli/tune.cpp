// rtml tune: a schedule search measured on a target (tune/tune.h), its
// record written to --out and kept in the results database.
#include <unistd.h>

#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "cli/options.h"
#include "compile/codegen.h"
#include "core/error.h"
#include "tune/tune.h"
#ifdef RTML_WITH_SQLITE
#include "results/db.h"
#endif

namespace rtml::cli {

namespace {
const char* const kAbout =
    "Searches the model's schedule on a target: per step, each choice the kernel table offers\n"
    "(another kernel set's entry, the im2row convolution, the dense GEMM), checked against the\n"
    "default plan's outputs (bit for bit for integers, 1e-5 for float) and measured: host the\n"
    "step's median time in a pinned, warmed loop; a Cortex-M the step's instructions under QEMU.\n"
    "The winners are kept only if the whole model is faster (fewer instructions) with them.\n"
    "The tuning record goes to --out and to the results database; `rtml run`, `bench`,\n"
    "`profile` and `compile` apply it with --tuning FILE. docs/tuning.md explains the report.";

std::string cost_str(double v, const std::string& unit) {
  char buf[64];
  if (unit == "instructions")
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else
    std::snprintf(buf, sizeof buf, "%.2f us", v / 1000);
  return buf;
}
}  // namespace

int cmd_tune(const Args& args) {
  ModelOptions opt;
  tune::TuneOptions to;
  std::string out = "tuning.json", db_path;
  bool no_db = false;
  OptionTable table("tune", "MODEL --target host|armhf|cortex-m7|cortex-m4|cortex-m55 [options]", kAbout);
  add_model_options(table, opt);
  table.value("--target", "NAME", to.target,
              "where each candidate is measured: host (this machine, timed), armhf (run rtml tune on the\n"
              "board), cortex-m7, cortex-m4, cortex-m55 (instructions under QEMU); default host")
      .number("--budget-s", "N", to.budget_s, 0, "search time in seconds (default 60; the default's and the final\n"
              "measurements come on top)")
      .number("--runs", "N", to.runs, 3, "host: runs per timed block (default 30; three blocks per candidate)")
      .value("--cmsis-nn", "DIR", to.cmsis_nn_dir, "with a Cortex-M target and --kernels cmsis-nn: the CMSIS-NN tree")
      .value("--out", "FILE", out, "the tuning record (default tuning.json)")
      .value("--db", "PATH", db_path, "results database (default: $RTML_DB, else ~/.local/share/rtml/results.db)")
      .flag("--no-db", no_db, "do not keep the record in a results database");
  if (!table.parse(args)) return 0;
  if (!db_path.empty() && no_db) throw UsageError("--db and --no-db both given");
  const bool micro = to.target != "host" && to.target != "armhf";
  if (micro) compile::find_target(to.target);  // lists the targets for a wrong name
  to.kernels = opt.kernels_given ? opt.plan.kernels : micro ? kernels::KernelSet::CortexM : kernels::KernelSet::Simd;
  if (micro && to.kernels == kernels::KernelSet::Simd)
    throw UsageError("--kernels simd runs on Linux targets only; " + to.target + " takes cortex-m, cmsis-nn or reference");
  if (!micro && to.kernels == kernels::KernelSet::CmsisNn)
    throw UsageError("--kernels cmsis-nn is tuned on a Cortex-M target");
  check_cmsis_nn_options(to.kernels, to.cmsis_nn_dir);
  to.input_shapes = opt.plan.input_shapes;

  const bool tty = ::isatty(STDERR_FILENO);
  const nlohmann::json rec = tune::tune_model(opt.model, to, [&](const std::string& line) {
    std::fprintf(stderr, "%s%s%s", tty ? "\r\033[K" : "", line.c_str(), tty && line[0] == '[' ? "" : "\n");
  });
  if (tty) std::fprintf(stderr, "\r\033[K");

  const std::string unit = rec["unit"];
  std::vector<std::vector<std::string>> rows = {{"step", "op", "before", "after", "choice", "kernel"}};
  for (const auto& s : rec["steps"]) {
    const bool tuned = !s["choice"].empty();
    if (!tuned && s["candidates"].empty()) continue;
    std::string choice;
    for (const auto& [k, v] : s["choice"].items()) choice += (choice.empty() ? "" : " ") + k + "=" + v.get<std::string>();
    rows.push_back({s["key"].get<std::string>(), s["op_type"].get<std::string>(),
                    cost_str(s["cost_before"].get<double>(), unit), cost_str(s["cost_after"].get<double>(), unit),
                    tuned ? choice : "default", s["kernel_after"].get<std::string>()});
  }
  std::printf("%s", format_table(rows, {false, false, true, true, false, false}).c_str());
  std::printf("%s on %s (kernels %s): %s -> %s per inference (%.3fx), %zu of %zu steps tuned; %d candidates, "
              "%d measured, %d rejected (outputs differ or build failed), %.0f s\n",
              opt.model.c_str(), to.target.c_str(), rec["kernels"].get<std::string>().c_str(),
              cost_str(rec["total_before"].get<double>(), unit).c_str(), cost_str(rec["total_after"].get<double>(), unit).c_str(),
              rec["ratio"].get<double>(), rec["schedule"].size(), rec["steps"].size(), rec["candidates"].get<int>(),
              rec["candidates_measured"].get<int>(), rec["candidates_rejected"].get<int>(), rec["elapsed_s"].get<double>());
  for (const auto& n : rec["notes"]) std::printf("note: %s\n", n.get<std::string>().c_str());
  write_text_file(out, rec.dump(1) + "\n");
  std::printf("tuning record written to %s (apply it with --tuning %s)\n", out.c_str(), out.c_str());
#ifdef RTML_WITH_SQLITE
  if (!no_db) {
    results::ResultsDb db(db_path.empty() ? results::default_db_path() : db_path);
    const int64_t id = db.add_tuning(rec);
    std::fprintf(stderr, "rtml tune: record %lld kept in %s\n", static_cast<long long>(id), db.path().c_str());
  }
#else
  if (!db_path.empty()) throw UsageError("this rtml was built without SQLite: --db is not available");
#endif
  return 0;
}

}  // namespace rtml::cli
