// Proves Session::run() never touches the heap.
//
// Linked with bench/heap_counter, which replaces malloc, calloc, realloc,
// the aligned allocators and every operator new in the process with counting
// versions (the same counter `rtml bench` reports), this program prepares
// each model given on the command line and counts heap allocations during
// many runs. Any count above zero fails. Built without sanitizers (they
// install their own allocator).
//
// Each model runs on one thread and on two (SessionOptions::threads = 2: the
// counter is process-wide, so the worker thread's allocations count too).
// With two threads every tenth run comes after a pause longer than the
// workers spin, so the wake-up of parked workers is counted as well.
//
// usage: rtml_alloc_test MODEL.onnx... [--runs N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/heap_counter.h"
#include "rtml/rtml.hpp"

using rtml::bench::heap_counting;
using rtml::bench::heap_counts;

namespace {

// Prepares `path` with `threads` and counts heap calls over runs + 1 runs;
// prints PASS or FAIL and returns whether it passed.
bool check_model(const std::string& path, int threads, int runs) {
  const std::string what = path + ", " + std::to_string(threads) + (threads > 1 ? " threads" : " thread");
  try {
    rtml::Model model = rtml::Model::load(path);
    rtml::Session s = rtml::Session::prepare(model, {}, {threads});
    std::mt19937 rng(7);
    std::normal_distribution<float> noise(0.f, 1.f);
    for (size_t i = 0; i < s.num_inputs(); ++i)
      if (s.input(i).element_type == 1) {
        float* p = static_cast<float*>(s.input_data(i));
        for (size_t k = 0; k < s.input(i).bytes / sizeof(float); ++k) p[k] = noise(rng);
      }
    // Carry state where an output has the same name as an input plus "_out".
    for (size_t o = 0; o < s.num_outputs(); ++o) {
      std::string name = s.output(o).name;
      if (name.size() > 4 && name.compare(name.size() - 4, 4, "_out") == 0 &&
          s.input_index(name.substr(0, name.size() - 4)) >= 0)
        s.link_state(name, name.substr(0, name.size() - 4));
    }
    s.run();  // first run outside the count (nothing should differ, but be fair)
    int64_t start = heap_counts().allocations;
    heap_counting(true);
    int bad_runs = 0;
    for (int r = 0; r < runs; ++r) {
      if (threads > 1 && r % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      bad_runs += s.run().ok() ? 0 : 1;
    }
    s.reset();
    bad_runs += s.run().ok() ? 0 : 1;
    heap_counting(false);
    long n = static_cast<long>(heap_counts().allocations - start);
    if (n == 0 && bad_runs == 0) {
      std::printf("PASS %s: 0 heap allocations in %d runs\n", what.c_str(), runs + 1);
      return true;
    }
    std::printf("FAIL %s: %ld heap allocations, %d failed runs in %d runs\n", what.c_str(), n, bad_runs, runs + 1);
  } catch (const std::exception& e) {
    heap_counting(false);
    std::printf("FAIL %s: %s\n", what.c_str(), e.what());
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 200;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else models.push_back(argv[i]);
  }
  // Self-check: the counter sees an allocation made on purpose.
  if (!rtml::bench::heap_counter_sees_malloc()) {
    std::printf("alloc: the malloc interposer is not active; cannot prove anything\n");
    return 1;
  }
  int passed = 0, failed = 0;
  for (const std::string& path : models)
    for (int threads : {1, 2}) (check_model(path, threads, runs) ? passed : failed) += 1;
  std::printf("alloc: %d passed, %d failed\n", passed, failed);
  return failed || !passed ? 1 : 0;
}
