// backends/io_buffer.h: the input and output buffers a plugin backend owns
// and hands its runtime (header-only: plugins compile in no rtml library).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "core/error.h"

namespace rtml::backends {

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using IoBuffer = std::unique_ptr<void, AlignedFree>;

// `bytes` (at least one) plus `tail` more readable bytes, rounded up to whole
// 64-byte lines, 64-byte aligned and zeroed. Throws rtml::Error starting with
// `who` when memory runs out.
inline IoBuffer zeroed_io_buffer(size_t bytes, size_t tail, const std::string& who) {
  const size_t padded = (std::max<size_t>(bytes, 1) + tail + 63) / 64 * 64;
  IoBuffer b(std::aligned_alloc(64, padded));
  if (!b) throw Error(who + ": cannot allocate " + std::to_string(padded) + " bytes");
  std::memset(b.get(), 0, padded);
  return b;
}

}  // namespace rtml::backends
