// Element types and shapes shared by every layer of rtml.
//
// DType values equal ONNX's TensorProto.DataType numbers so import is a cast,
// and a Shape is a plain vector of dimensions (all static by the time a plan
// is built; ir/ may hold -1 for a dimension that is not yet known).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rtml {

enum class DType : int32_t {
  Undefined = 0,
  F32 = 1,
  U8 = 2,
  I8 = 3,
  U16 = 4,
  I16 = 5,
  I32 = 6,
  I64 = 7,
  String = 8,
  Bool = 9,
  F16 = 10,
  F64 = 11,
  U32 = 12,
  U64 = 13,
  BF16 = 16,
};

// Bytes per element; 0 for types the engine cannot hold (String, Undefined).
size_t dtype_size(DType t);
// ONNX spelling: "float", "int64", "bool", ...
const char* dtype_name(DType t);
// Parses an ONNX spelling ("float", "float32", "int64" ...); Undefined if unknown.
DType dtype_from_name(const std::string& s);
bool dtype_is_float(DType t);

using Shape = std::vector<int64_t>;

// Product of dims; 1 for a scalar (rank 0). Throws rtml::Error when the
// product is over 2^62 (a shape from a hostile file): a safety net, since
// every shape that reaches a plan has been checked (core/size.h).
int64_t shape_numel(const Shape& s);
constexpr int64_t kMaxShapeNumel = int64_t(1) << 62;
// "1x128x3", or "scalar" for rank 0; unknown dims print as "?".
std::string shape_str(const Shape& s);
bool shape_is_static(const Shape& s);

// Most dimensions any kernel handles; params structs hold fixed arrays of
// this size so nothing is allocated at run time.
constexpr int kMaxRank = 8;

}  // namespace rtml
