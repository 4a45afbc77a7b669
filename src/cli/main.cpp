#include <cstdio>
#include <exception>
#include <iostream>

#include "cli/cli.h"
#include "core/error.h"

namespace {
void usage(std::FILE* to) {
  std::fputs(
      "usage: rtml <command> [options]\n"
      "\n"
      "commands:\n"
      "  info MODEL [--shape NAME=DIMS]... [--json] [--passes]\n"
      "                                          inputs, outputs, ops, parameters, FLOPs, memory plan\n"
      "  run MODEL [--input NAME=FILE.npy]... [--random] [--seed N] [--output-dir DIR] [--shape NAME=DIMS]...\n"
      "                                          run one inference; write outputs as .npy or print a summary\n"
      "  run MODEL --test-data DIR [--tolerance T] [--report FILE.json]\n"
      "                                          run every test_data_set_N in DIR, compare with its expected\n"
      "                                          outputs (and labels: top-1); exit 1 if out of tolerance\n"
      "  ops [--kernels]                         list the ONNX ops the engine supports (or its kernel table)\n"
      "  compile MODEL --out DIR [--target host|armhf|cortex-m7|cortex-m4|cortex-m55] [--project]\n"
      "                                          the planned model as standalone C: one kernel call per step\n"
      "  quantize MODEL [--calibration DIR] [--out FILE.onnx] [--method minmax|percentile|mse]\n"
      "                                          int8 post-training quantization to a QDQ ONNX file, with a\n"
      "                                          report: scales, SQNR per layer, weight bytes, float vs int8\n"
      "  tune MODEL --target host|armhf|cortex-m7|cortex-m4|cortex-m55 [--budget-s N] [--out tuning.json]\n"
      "                                          search each step's schedule on the target (times, or QEMU\n"
      "                                          instructions); run/bench/profile/compile apply it: --tuning\n"
      "  zoo [--out DIR] [--set default|sweep|patterns|all] [--only NAME]... [--list]\n"
      "                                          generate the example model zoo (runs zoo/generate.py with\n"
      "                                          Debian's python3: torch, onnx, numpy, sklearn)\n"
      "  compare A.json B.json [--threshold PCT] [--json]\n"
      "                                          two bench reports: median and p99 before/after per model and\n"
      "                                          backend, faster/slower/same (within noise); exit 1 if slower\n"
      "  runs [--db PATH] [--model SUBSTR] [--backend NAME] [--since YYYY-MM-DD] [--limit N] [--json]\n"
      "                                          the runs kept in the results database, newest first\n"
      "                                          (--show ID: one as a report; --add FILE.json: store reports)\n"
      "  remote HOST:PORT [--token-file FILE] bench MODEL|FOLDER... [bench options] | info\n"
      "                                          bench on a board through its rtml agent; reports and runs kept here\n"
      "  agent --listen ADDR:PORT --token-file FILE --workdir DIR [--max-queue N] [--job-timeout-s N]...\n"
      "                                          on the board: serves rtml remote (blobs by hash, bench jobs in a queue)\n"
      "  profile MODEL [--backend native|torch] [--runs N] [--perf] [--json F] [--chrome-trace F]...\n"
      "                                          time per operator, counters, perf call stacks; traces for\n"
      "                                          Perfetto and speedscope; kept in the results database\n"
      "  limits [--json FILE|-] [--seconds S]   this core's float32 FMA peak (GFLOP/s) and read bandwidth\n"
      "                                          (GB/s) from L1d, L2, L3 and DRAM: the hardware's limits\n"
      "  ui [--db PATH] [--port N] [--host ADDR] a local web page over the results database: runs, charts, op\n"
      "                                          table, flame graph, two runs compared (127.0.0.1 only by default)\n"
      "\n"
      "rtml COMMAND --help shows a command's options.\n",
      to);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string cmd = argv[1];
  rtml::cli::Args args(argv + 2, argv + argc);
  try {
    if (cmd == "info") return rtml::cli::cmd_info(args);
    if (cmd == "run") return rtml::cli::cmd_run(args);
    if (cmd == "ops") return rtml::cli::cmd_ops(args);
    if (cmd == "compile") return rtml::cli::cmd_compile(args);
    if (cmd == "bench") return rtml::cli::cmd_bench(args);
    if (cmd == "compare") return rtml::cli::cmd_compare(args);
    if (cmd == "runs") return rtml::cli::cmd_runs(args);
    if (cmd == "remote") return rtml::cli::cmd_remote(args);
    if (cmd == "agent") return rtml::cli::cmd_agent(args);
    if (cmd == "zoo") return rtml::cli::cmd_zoo(args);
    if (cmd == "ui") return rtml::cli::cmd_ui(args);
    if (cmd == "profile") return rtml::cli::cmd_profile(args);
    if (cmd == "limits") return rtml::cli::cmd_limits(args);
    if (cmd == "quantize") return rtml::cli::cmd_quantize(args);
    if (cmd == "tune") return rtml::cli::cmd_tune(args);
    if (cmd == "-h" || cmd == "--help" || cmd == "help") {
      usage(stdout);
      return 0;
    }
    std::fprintf(stderr, "rtml: unknown command '%s'\n\n", cmd.c_str());
    usage(stderr);
    return 2;
  } catch (const rtml::cli::UsageError& e) {
    std::fprintf(stderr, "rtml %s: error: %s\n", cmd.c_str(), e.what());
    return 2;
  } catch (const rtml::Error& e) {
    std::fprintf(stderr, "rtml %s: error: %s\n", cmd.c_str(), e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "rtml %s: error: out of memory\n", cmd.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rtml %s: internal error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
