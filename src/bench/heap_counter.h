// Heap allocations per inference, counted by interposition.
//
// Linking this file into a program (any program that calls a function
// declared here pulls it in) replaces malloc, calloc, realloc, free,
// aligned_alloc, memalign, posix_memalign and every operator new/delete with
// versions that forward to glibc's __libc_* entry points and, while counting
// is on, count calls and requested bytes, from every thread (a runtime's
// worker threads allocate too). Off, the cost is one relaxed atomic load.
//
// Not available under AddressSanitizer (it owns the allocator): available()
// is false there and the bench reports heap as not measured.
#pragma once

#include <cstdint>

namespace rtml::bench {

struct HeapCounts {
  int64_t allocations = 0;  // malloc/calloc/realloc/aligned/new calls (free is not counted)
  int64_t bytes = 0;        // bytes requested by them
};

bool heap_counting_available();
void heap_counting(bool on);
HeapCounts heap_counts();  // totals since the program started (while counting was on)
// True if the counter sees one malloc made on purpose: a count of 0 proves something.
bool heap_counter_sees_malloc();

}  // namespace rtml::bench
