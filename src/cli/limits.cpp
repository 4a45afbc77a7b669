// `rtml limits`: this core's float32 FMA peak and read bandwidth per memory
// level (bench/limits.h), as a table or rtml.limits/1 JSON.
#include <cstdio>

#include "bench/limits.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "core/error.h"

namespace rtml::cli {

namespace {

const char* kAbout =
    "Measures the limits of one core, single thread, pinned to it: the float32 FMA peak in GFLOP/s\n"
    "(Highway MulAdd on independent vector chains, 2 flops per lane) and the read bandwidth in GB/s\n"
    "from L1d, L2, L3 and DRAM (a buffer of half of each cache, summed with vector loads; DRAM:\n"
    "max(8 x the largest cache, 64 MiB)). Cache sizes come from sysfs, else sysconf, else defaults;\n"
    "a level the machine does not have is shown as absent. Each number is the best of the\n"
    "repetitions (the median beside it). Method and caveats (VMs, turbo, neighbours): docs/limits.md.";

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

void print_table(const bench::HardwareLimits& h) {
  std::printf("%s, cpu %s%s; Highway target %s, %d float32 lanes\n", h.cpu_model.c_str(),
              h.cpu >= 0 ? std::to_string(h.cpu).c_str() : "?", h.pinned ? " (pinned)" : " (not pinned)",
              h.target.c_str(), h.lanes);
  std::printf("FMA peak   %s GFLOP/s (median %s), %s, %d chains\n\n", fmt("%.1f", h.fma_gflops).c_str(),
              fmt("%.1f", h.fma_gflops_median).c_str(), h.fma_fused ? "fused multiply-add" : "multiply + add (not fused)",
              h.fma_chains);
  std::vector<std::vector<std::string>> rows = {
      {"level", "size", "buffer", "read GB/s", "median", "size from"}};
  for (const auto& l : h.levels) {
    rows.push_back({l.name, l.bytes ? format_bytes(static_cast<double>(*l.bytes)) : "absent",
                    l.buffer_bytes > 0 ? format_bytes(static_cast<double>(l.buffer_bytes)) : "-",
                    l.read_gbps ? fmt("%.1f", *l.read_gbps) : "-",
                    l.read_gbps_median ? fmt("%.1f", *l.read_gbps_median) : "-", l.bytes_source});
  }
  std::fputs(format_table(rows, {false, true, true, true, true, false}).c_str(), stdout);
  std::printf("\nbest of %d repetitions of ~%.3g s each; measured in %.1f s\n", h.repetitions,
              h.seconds_per_measurement / h.repetitions, h.measured_seconds);
  for (const auto& n : h.notes) std::printf("note: %s\n", n.c_str());
}

}  // namespace

int cmd_limits(const Args& args) {
  bench::LimitsOptions o;
  std::string json_path;
  OptionTable table("limits", "[--json FILE|-] [--seconds S] [--repetitions N] [--cpu N]", kAbout);
  table.value("--json", "FILE|-", json_path, "the result as JSON (schema rtml.limits/1); '-': on stdout instead of the table")
      .number("--seconds", "S", o.seconds, 0.001,
              "time per measurement (FMA, each level), split into the repetitions (default 0.2)")
      .number("--repetitions", "N", o.repetitions, 1, "repetitions per measurement (default 5)")
      .number("--cpu", "N", o.cpu, 0, "run on core N (default: the core rtml starts on)");
  if (!table.parse(args)) return 0;
  o.progress = [](const std::string& what) { std::fprintf(stderr, "rtml limits: %s...\n", what.c_str()); };
  const bench::HardwareLimits h = bench::measure_limits(o);
  const std::string text = bench::limits_json(h).dump(1) + "\n";
  if (json_path == "-") {
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  print_table(h);
  if (!json_path.empty()) {
    write_text_file(json_path, text);
    std::fprintf(stderr, "rtml limits: written to %s\n", json_path.c_str());
  }
  return 0;
}

}  // namespace rtml::cli
