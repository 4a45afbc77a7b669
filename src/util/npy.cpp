#include "util/npy.h"
#include "util/atomic_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

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

// Value of `key` in the header dict, as raw text up to the next top-level comma.
std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) throw Error(path + ": .npy header has no '" + key + "'");
  size_t colon = header.find(':', k);
  size_t start = header.find_first_not_of(' ', colon + 1);
  if (header[start] == '(') return header.substr(start, header.find(')', start) - start + 1);
  size_t end = header.find_first_of(",}", start);
  return header.substr(start, end - start);
}
}  // namespace

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw Error(path + ": not a .npy file");
  uint32_t header_len = 0;
  if (magic[6] == 1) {
    unsigned char b[2];
    in.read(reinterpret_cast<char*>(b), 2);
    header_len = b[0] | (b[1] << 8);
  } else if (magic[6] == 2 || magic[6] == 3) {
    unsigned char b[4];
    in.read(reinterpret_cast<char*>(b), 4);
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (uint32_t(b[3]) << 24);
  } else {
    throw Error(path + ": unsupported .npy version " + std::to_string(magic[6]));
  }
  if (!in || header_len > (1u << 20)) throw Error(path + ": bad .npy header length");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) throw Error(path + ": truncated .npy header");

  NpyArray a;
  std::string descr = dict_value(header, "descr", path);
  if (descr.size() < 4) throw Error(path + ": bad dtype " + descr);
  char endian = descr[1];
  std::string code = descr.substr(2, descr.size() - 3);
  if (endian == '>') throw Error(path + ": big-endian arrays are not supported");
  for (const auto& d : kDescrs)
    if (code == d.code) a.dtype = d.dtype;
  if (code == "?") a.dtype = DType::Bool;
  if (a.dtype == DType::Undefined) throw Error(path + ": unsupported dtype " + descr);
  if (dict_value(header, "fortran_order", path) != "False")
    throw Error(path + ": Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
  std::string shape = dict_value(header, "shape", path);
  std::stringstream ss(shape.substr(1, shape.size() - 2));
  std::string dim;
  while (std::getline(ss, dim, ',')) {
    size_t s = dim.find_first_not_of(' ');
    if (s == std::string::npos) continue;
    try {
      a.shape.push_back(std::stoll(dim.substr(s)));
    } catch (const std::exception&) {
      throw Error(path + ": bad shape " + shape);
    }
    if (a.shape.back() < 0) throw Error(path + ": bad shape " + shape);
  }
  size_t bytes = static_cast<size_t>(shape_numel(a.shape)) * dtype_size(a.dtype);
  a.bytes.resize(bytes);
  if (!in.read(reinterpret_cast<char*>(a.bytes.data()), static_cast<std::streamsize>(bytes)))
    throw Error(path + ": truncated data (" + std::to_string(bytes) + " bytes expected for shape " +
                shape_str(a.shape) + ")");
  return a;
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
