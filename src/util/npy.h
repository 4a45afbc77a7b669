// NumPy .npy files (format versions 1.0-3.0, little-endian, C order).
#pragma once

#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/size.h"

namespace rtml::util {

struct NpyArray {
  DType dtype = DType::Undefined;
  Shape shape;
  std::vector<uint8_t> bytes;
};

// Throws rtml::Error naming the file on anything it cannot read (bad magic,
// a header length past the file's end, a malformed header dict, a shape
// that is not decimal dims or whose product overflows, Fortran order,
// big-endian, unsupported dtype, truncated data). The data's size is
// checked against the bytes present and against max_memory_bytes
// (`--max-memory`) before anything is allocated for it.
NpyArray read_npy(const std::string& path, uint64_t max_memory_bytes = default_memory_limit());
// The same from a stream of `size` bytes (`path` names it in messages).
NpyArray read_npy(std::istream& in, uint64_t size, const std::string& path,
                  uint64_t max_memory_bytes = default_memory_limit());
// Writes atomically (temporary file + rename): a full disk never leaves a
// half-written file under the final name. Throws rtml::Error on failure.
void write_npy(const std::string& path, DType dtype, const Shape& shape, const void* data);

}  // namespace rtml::util
