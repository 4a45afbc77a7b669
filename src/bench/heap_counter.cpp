#include "bench/heap_counter.h"

#include <atomic>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__) || defined(RTML_SANITIZE)
#define RTML_HEAP_COUNTER 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RTML_HEAP_COUNTER 0
#endif
#endif
#ifndef RTML_HEAP_COUNTER
#define RTML_HEAP_COUNTER 1
#endif

namespace {
std::atomic<bool> g_on{false};
std::atomic<int64_t> g_allocs{0};
std::atomic<int64_t> g_bytes{0};
}  // namespace

namespace rtml::bench {
bool heap_counting_available() { return RTML_HEAP_COUNTER; }
void heap_counting(bool on) { g_on.store(on, std::memory_order_seq_cst); }
HeapCounts heap_counts() { return {g_allocs.load(), g_bytes.load()}; }
bool heap_counter_sees_malloc() {
  int64_t before = heap_counts().allocations;
  heap_counting(true);
  void* volatile probe = std::malloc(16);
  std::free(probe);
  heap_counting(false);
  return heap_counts().allocations - before == 1;
}
}  // namespace rtml::bench

#if RTML_HEAP_COUNTER
#include <cerrno>
#include <cstddef>
#include <new>

extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void __libc_free(void*);
void* __libc_memalign(size_t, size_t);
}

namespace {
inline void note(size_t bytes) {
  if (g_on.load(std::memory_order_relaxed)) {
    g_allocs.fetch_add(1, std::memory_order_relaxed);
    g_bytes.fetch_add(static_cast<int64_t>(bytes), std::memory_order_relaxed);
  }
}
}  // namespace

extern "C" {
void* malloc(size_t n) { note(n); return __libc_malloc(n); }
void* calloc(size_t a, size_t b) { note(a * b); return __libc_calloc(a, b); }
void* realloc(void* p, size_t n) { note(n); return __libc_realloc(p, n); }
void free(void* p) { __libc_free(p); }
void* aligned_alloc(size_t a, size_t n) { note(n); return __libc_memalign(a, n); }
void* memalign(size_t a, size_t n) { note(n); return __libc_memalign(a, n); }
int posix_memalign(void** out, size_t a, size_t n) {
  note(n);
  void* p = __libc_memalign(a, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}

void* operator new(size_t n) {
  void* p = malloc(n ? n : 1);
  if (!p) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return malloc(n ? n : 1); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return malloc(n ? n : 1); }
void* operator new(size_t n, std::align_val_t a) {
  size_t al = static_cast<size_t>(a);
  void* p = aligned_alloc(al, (n + al - 1) / al * al);
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
#endif
