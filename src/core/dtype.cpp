#include "core/dtype.h"

#include "core/error.h"

namespace rtml {

namespace {
struct DTypeInfo {
  DType type;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kTypes[] = {
    {DType::F32, "float", 4},   {DType::U8, "uint8", 1},     {DType::I8, "int8", 1},
    {DType::U16, "uint16", 2},  {DType::I16, "int16", 2},    {DType::I32, "int32", 4},
    {DType::I64, "int64", 8},   {DType::String, "string", 0}, {DType::Bool, "bool", 1},
    {DType::F16, "float16", 2}, {DType::F64, "double", 8},   {DType::U32, "uint32", 4},
    {DType::U64, "uint64", 8},  {DType::BF16, "bfloat16", 2},
};
}  // namespace

size_t dtype_size(DType t) {
  for (const auto& i : kTypes)
    if (i.type == t) return i.size;
  return 0;
}

const char* dtype_name(DType t) {
  for (const auto& i : kTypes)
    if (i.type == t) return i.name;
  return "undefined";
}

DType dtype_from_name(const std::string& s) {
  if (s == "float32") return DType::F32;
  if (s == "float64") return DType::F64;
  for (const auto& i : kTypes)
    if (s == i.name) return i.type;
  return DType::Undefined;
}

bool dtype_is_float(DType t) {
  return t == DType::F32 || t == DType::F64 || t == DType::F16 || t == DType::BF16;
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s)
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxShapeNumel || n < -kMaxShapeNumel)
      throw Error("shape " + shape_str(s) + " has too many elements (its dimensions multiply past 2^62)");
  return n;
}

std::string shape_str(const Shape& s) {
  if (s.empty()) return "scalar";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += "x";
    out += s[i] < 0 ? std::string("?") : std::to_string(s[i]);
  }
  return out;
}

bool shape_is_static(const Shape& s) {
  for (int64_t d : s)
    if (d < 0) return false;
  return true;
}

}  // namespace rtml
