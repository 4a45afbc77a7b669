// Proves Session::run() never touches the heap.
//
// This program replaces malloc/calloc/realloc/free and every operator new in
// the process with counting versions (forwarding to glibc's __libc_* entry
// points), prepares each model given on the command line, and counts heap
// calls during many runs. Any count above zero fails. Built without
// sanitizers (they install their own allocator).
//
// usage: rtml_alloc_test MODEL.onnx... [--runs N]
#include <malloc.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "rtml/rtml.hpp"

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void __libc_free(void*);
void* __libc_memalign(size_t, size_t);
}

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocs{0};
inline void note() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* malloc(size_t n) { note(); return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { note(); return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { note(); return __libc_realloc(p, n); }
void free(void* p) { if (p) note(); __libc_free(p); }
void* aligned_alloc(size_t a, size_t n) { note(); return __libc_memalign(a, n); }
void* memalign(size_t a, size_t n) { note(); return __libc_memalign(a, n); }
int posix_memalign(void** out, size_t a, size_t n) {
  note();
  *out = __libc_memalign(a, n);
  return *out ? 0 : ENOMEM;
}
}

void* operator new(size_t n) {
  void* p = malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, std::align_val_t a) {
  void* p = aligned_alloc(static_cast<size_t>(a), (n + static_cast<size_t>(a) - 1) / static_cast<size_t>(a) * static_cast<size_t>(a));
  if (!p) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }
void operator delete(void* p, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { free(p); }

int main(int argc, char** argv) {
  int runs = 200;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--runs" && i + 1 < argc) runs = std::atoi(argv[++i]);
    else models.push_back(argv[i]);
  }
  // Self-check: the counter sees an allocation made on purpose.
  g_counting = true;
  void* volatile probe = malloc(16);
  free(probe);
  g_counting = false;
  if (g_allocs.exchange(0) != 2) {
    std::printf("alloc: the malloc interposer is not active; cannot prove anything\n");
    return 1;
  }
  int passed = 0, failed = 0;
  for (const std::string& path : models) {
    try {
      rtml::Model model = rtml::Model::load(path);
      rtml::Session s = rtml::Session::prepare(model);
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
      g_allocs = 0;
      g_counting = true;
      int bad_runs = 0;
      for (int r = 0; r < runs; ++r) bad_runs += s.run().ok() ? 0 : 1;
      s.reset();
      bad_runs += s.run().ok() ? 0 : 1;
      g_counting = false;
      long n = g_allocs.exchange(0);
      if (n == 0 && bad_runs == 0) {
        ++passed;
        std::printf("PASS %s: 0 heap calls in %d runs\n", path.c_str(), runs + 1);
      } else {
        ++failed;
        std::printf("FAIL %s: %ld heap calls, %d failed runs in %d runs\n", path.c_str(), n, bad_runs, runs + 1);
      }
    } catch (const std::exception& e) {
      g_counting = false;
      ++failed;
      std::printf("FAIL %s: %s\n", path.c_str(), e.what());
    }
  }
  std::printf("alloc: %d passed, %d failed\n", passed, failed);
  return failed || !passed ? 1 : 0;
}
