// NumPy .npy files (format versions 1.0-3.0, little-endian, C order).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace rtml::util {

struct NpyArray {
  DType dtype = DType::Undefined;
  Shape shape;
  std::vector<uint8_t> bytes;
};

// Throws rtml::Error naming the file on anything it cannot read (bad magic,
// Fortran order, big-endian, unsupported dtype, truncated data).
NpyArray read_npy(const std::string& path);
// Writes atomically (temporary file + rename): a full disk never leaves a
// half-written file under the final name. Throws rtml::Error on failure.
void write_npy(const std::string& path, DType dtype, const Shape& shape, const void* data);

}  // namespace rtml::util
