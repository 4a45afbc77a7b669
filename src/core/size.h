// Checked sizes: every product of dimensions, byte count and offset that is
// computed from a file (ONNX dims and raw data, .npy headers, TensorProto
// files, tensor values that become shapes in prepare) goes through these, so
// a hostile file gets a message instead of a wrapped number, a huge
// allocation or undefined behaviour.
//
// Limits:
//   - kMaxSize (2^62) bounds every element count, byte count and offset:
//     under it, a sum of two sizes or an index times a stride of 8 bytes
//     still fits in int64.
//   - The memory limit (default_memory_limit(): half of physical memory) is
//     what one model or data file may make rtml allocate. Import, plan and
//     the .npy / test data readers take it as an option and refuse (with
//     check_memory's message, numbers in it) before allocating.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/dtype.h"

namespace rtml {

constexpr int64_t kMaxSize = kMaxShapeNumel;

// a * b and a + b for non-negative sizes; nullopt when the result is over
// kMaxSize (or an operand is negative).
std::optional<int64_t> checked_mul(int64_t a, int64_t b);
std::optional<int64_t> checked_add(int64_t a, int64_t b);

// Elements of a shape; nullopt if a dimension is negative or the product is
// over kMaxSize.
std::optional<int64_t> checked_numel(const Shape& s);
// Bytes of a tensor; nullopt as above, or for a type of size 0.
std::optional<int64_t> checked_bytes(const Shape& s, DType t);
// Bytes of a tensor, or rtml::Error "WHAT: shape AxB of float is too large
// (more than 2^62 bytes)" / "... has a negative dimension".
int64_t tensor_bytes(const Shape& s, DType t, const std::string& what);

// Physical memory of this machine (sysconf); 0 if unknown.
uint64_t physical_memory_bytes();
// The default limit on what one model or data file may make rtml allocate:
// RTML_MAX_MEMORY from the environment if set (parse_memory_size's syntax),
// else half of physical memory (1 GiB if unknown).
uint64_t default_memory_limit();
// Overrides default_memory_limit() for the rest of the process (the command
// line's --max-memory, applied before anything is loaded).
void set_default_memory_limit(uint64_t bytes);
// "4000000", "512M", "1.5G", "2GB", "64k" -> bytes (decimal units: k = 1000,
// M = 10^6, G = 10^9, T = 10^12). rtml::Error on anything else: for
// `--max-memory` and RTML_MAX_MEMORY.
uint64_t parse_memory_size(const std::string& text);
// "34.4 GB", "512 MB", "12 kB", "100 bytes" (decimal units).
std::string format_bytes(uint64_t bytes);
// Throws rtml::Error "WHAT needs 34.4 GB (34400000000 bytes), over the memory
// limit of 12 GB (--max-memory)" if bytes > limit.
void check_memory(uint64_t bytes, uint64_t limit, const std::string& what);

}  // namespace rtml
