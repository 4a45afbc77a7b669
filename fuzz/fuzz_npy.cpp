// libFuzzer target: a .npy file through util::read_npy (`rtml run --input`,
// test data in the .npy layout). rtml::Error is the expected outcome for
// bad input.
#include <cstddef>
#include <cstdint>
#include <sstream>

#include "core/error.h"
#include "fuzz_util.h"
#include "util/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    rtml::util::NpyArray a = rtml::util::read_npy(in, size, "fuzz.npy", rtml::fuzz::kMaxMemoryBytes);
    // What the reader promises: the bytes the shape and type need, all read.
    if (a.bytes.size() != static_cast<size_t>(rtml::shape_numel(a.shape)) * rtml::dtype_size(a.dtype)) __builtin_trap();
  } catch (const rtml::Error&) {
  }
  return 0;
}
