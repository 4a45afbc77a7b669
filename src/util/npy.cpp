#include "util/npy.h"
#include "util/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/size.h"

namespace rtml::util {

namespace {
struct Descr {
  const char* code;
  DType dtype;
};
constexpr Descr kDescrs[] = {
    {"f4", DType::F32}, {"f8", DType::F64}, {"f2", DType::F16}, {"i1", DType::I8},  {"u1", DType::U8},
    {"i2", DType::I16}, {"u2", DType::U16}, {"i4", DType::I32}, {"u4", DType::U32}, {"i8", DType::I64},
    {"u8", DType::U64}, {"b1", DType::Bool},
};

std::string descr_of(DType t) {
  for (const auto& d : kDescrs)
    if (d.dtype == t) return std::string(dtype_size(t) == 1 ? "|" : "<") + d.code;
  throw Error(std::string("cannot write type ") + dtype_name(t) + " to .npy");
}

// The text of `key`'s value in the header dict: a quoted string without its
// quotes, a tuple with its parentheses, or a bare word (True, False).
// Throws naming the file when the key is absent or the value is malformed.
std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
  auto bad = [&](const std::string& why) -> Error {
    return Error(path + ": bad .npy header: " + why + " (header: " + header.substr(0, 200) + ")");
  };
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) throw Error(path + ": .npy header has no '" + key + "'");
  size_t colon = header.find_first_not_of(' ', k + key.size() + 2);
  if (colon == std::string::npos || header[colon] != ':') throw bad("no ':' after '" + key + "'");
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (start == std::string::npos) throw bad("no value for '" + key + "'");
  char open = header[start];
  if (open == '\'' || open == '"' || open == '(') {
    size_t close = header.find(open == '(' ? ')' : open, start + 1);
    if (close == std::string::npos) throw bad("the value of '" + key + "' is not closed");
    return header.substr(open == '(' ? start : start + 1, open == '(' ? close - start + 1 : close - start - 1);
  }
  size_t end = header.find_first_of(",}", start);
  if (end == std::string::npos) throw bad("the value of '" + key + "' is not terminated");
  size_t last = header.find_last_not_of(' ', end - 1);
  return header.substr(start, last - start + 1);
}

// "(3, 4)", "(5,)", "()" -> dims; each one decimal digits only.
Shape parse_dims(const std::string& text, const std::string& path) {
  Shape shape;
  auto bad = [&]() { return Error(path + ": bad shape " + text + " in the .npy header (expected (D0, D1, ...))"); };
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') throw bad();
  std::stringstream ss(text.substr(1, text.size() - 2));
  std::string dim;
  bool last_empty = false;
  while (std::getline(ss, dim, ',')) {
    size_t s = dim.find_first_not_of(' '), e = dim.find_last_not_of(' ');
    if (s == std::string::npos) {  // an empty part ("(5, )"): only as the last one
      if (last_empty || shape.empty()) throw bad();
      last_empty = true;
      continue;
    }
    std::string digits = dim.substr(s, e - s + 1);
    if (last_empty || digits.find_first_not_of("0123456789") != std::string::npos) throw bad();
    if (digits.size() > 19 || (digits.size() == 19 && digits > "9223372036854775807"))
      throw Error(path + ": shape " + text + " in the .npy header is too large (a dimension past 2^63)");
    shape.push_back(std::stoll(digits));
  }
  return shape;
}
}  // namespace

NpyArray read_npy(std::istream& in, uint64_t size, const std::string& path, uint64_t max_memory_bytes) {
  char magic[8];
  if (size < 10 || !in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw Error(path + ": not a .npy file");
  uint64_t header_len = 0, prefix = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
    prefix = 10;
  } else if (magic[6] == 2 || magic[6] == 3) {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (uint64_t(b[3]) << 24);
    prefix = 12;
  } else {
    throw Error(path + ": unsupported .npy version " + std::to_string(static_cast<unsigned char>(magic[6])));
  }
  if (!in || header_len > (1u << 20) || prefix + header_len > size)
    throw Error(path + ": bad .npy header length " + std::to_string(header_len) + " (the file has " +
                std::to_string(size) + " bytes)");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), static_cast<std::streamsize>(header_len))) throw Error(path + ": truncated .npy header");

  NpyArray a;
  std::string descr = dict_value(header, "descr", path);
  if (descr.size() < 2 || std::string("<>|=").find(descr[0]) == std::string::npos)
    throw Error(path + ": unsupported dtype '" + descr + "' in the .npy header");
  std::string code = descr.substr(1);
  if (descr[0] == '>' && code != "i1" && code != "u1" && code != "b1")
    throw Error(path + ": big-endian arrays are not supported");
  for (const auto& d : kDescrs)
    if (code == d.code) a.dtype = d.dtype;
  if (code == "?") a.dtype = DType::Bool;
  if (a.dtype == DType::Undefined) throw Error(path + ": unsupported dtype '" + descr + "' in the .npy header");
  if (dict_value(header, "fortran_order", path) != "False")
    throw Error(path + ": Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
  a.shape = parse_dims(dict_value(header, "shape", path), path);
  const uint64_t bytes = static_cast<uint64_t>(tensor_bytes(a.shape, a.dtype, path));
  const uint64_t present = size - prefix - header_len;
  if (bytes > present)
    throw Error(path + ": truncated data (" + std::to_string(bytes) + " bytes expected for shape " +
                shape_str(a.shape) + " of " + dtype_name(a.dtype) + ", the file holds " + std::to_string(present) + ")");
  check_memory(bytes, max_memory_bytes, path + ": array " + shape_str(a.shape) + " of " + dtype_name(a.dtype));
  a.bytes.resize(bytes);
  if (bytes && !in.read(reinterpret_cast<char*>(a.bytes.data()), static_cast<std::streamsize>(bytes)))
    throw Error(path + ": truncated data (" + std::to_string(bytes) + " bytes expected for shape " +
                shape_str(a.shape) + ")");
  return a;
}

NpyArray read_npy(const std::string& path, uint64_t max_memory_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::error_code ec;
  uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(path + ": cannot read its size: " + ec.message());
  return read_npy(in, size, path, max_memory_bytes);
}

void write_npy(const std::string& path, DType dtype, const Shape& shape, const void* data) {
  std::string dims;
  for (int64_t d : shape) dims += std::to_string(d) + ",";
  if (shape.size() > 1) dims.pop_back();
  std::string header = "{'descr': '" + descr_of(dtype) + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  util::write_file_atomic(path, [&](std::ostream& out) {
    out.write("\x93NUMPY\x01\x00", 8);
    uint16_t len = static_cast<uint16_t>(header.size());
    char lb[2] = {static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
    out.write(lb, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(data),
              static_cast<std::streamsize>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype)));
  });
}

}  // namespace rtml::util
