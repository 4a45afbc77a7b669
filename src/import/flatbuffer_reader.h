// A bounds-checked reader of FlatBuffers (the container of .tflite files),
// written against the wire format, so rtml needs neither flatc nor a
// generated schema header.
//
// The format, briefly: the file starts with a uoffset (u32, little-endian)
// to the root table. A table starts with an soffset (i32) back to its
// vtable; the vtable is [u16 vtable bytes, u16 table bytes, u16 field
// offsets...], field i at vtable slot 4 + 2 * i, offset 0 meaning "absent,
// use the default". Scalars sit inline in the table; a table, vector or
// string field holds a uoffset relative to where it is stored. A vector is
// [u32 count, elements]; a vector of tables holds uoffsets.
//
// Nothing is trusted: every read checks that its bytes lie inside the buffer
// (and, for table fields, inside the table), every count is checked against
// the bytes left, and a failure throws rtml::Error with the file name and
// the path of what was being read ("subgraph 0: tensor 12: shape"). The
// reader never recurses on the data, so a cyclic or deeply nested file cannot
// exhaust the stack: callers follow the schema's fixed depth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/error.h"

namespace rtml::import::fb {

class Buffer {
 public:
  Buffer(const uint8_t* data, size_t size, std::string file) : data_(data), size_(size), file_(std::move(file)) {}
  [[noreturn]] void fail(const std::string& what, const std::string& msg) const {
    throw Error(file_ + ": " + (what.empty() ? "" : what + ": ") + msg);
  }
  // `n` bytes at `pos` must be inside the buffer.
  void need(uint64_t pos, uint64_t n, const std::string& what) const {
    if (pos > size_ || n > size_ - pos)
      fail(what, "reads bytes " + std::to_string(pos) + ".." + std::to_string(pos + n) + " of a " +
                     std::to_string(size_) + "-byte file (truncated or corrupt)");
  }
  template <class T>
  T read(uint64_t pos, const std::string& what) const {
    need(pos, sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos, sizeof(T));  // the format is little-endian, as are rtml's hosts
    return v;
  }
  const uint8_t* at(uint64_t pos) const { return data_ + pos; }
  size_t size() const { return size_; }
  const std::string& file() const { return file_; }

 private:
  const uint8_t* data_;
  size_t size_;
  std::string file_;
};

// A vector's position: `count` elements of `elem` bytes from `pos`, all
// inside the buffer (checked on construction).
struct Vector {
  const Buffer* buf = nullptr;
  uint64_t pos = 0;
  uint32_t count = 0;
  std::string what;
  template <class T>
  T get(uint32_t i) const {
    if (i >= count) buf->fail(what, "index " + std::to_string(i) + " past the vector's " + std::to_string(count));
    return buf->read<T>(pos + uint64_t(i) * sizeof(T), what);
  }
};

class Table {
 public:
  Table() = default;
  // The table at `pos`, with its vtable checked.
  Table(const Buffer& buf, uint64_t pos, std::string what) : buf_(&buf), pos_(pos), what_(std::move(what)) {
    const int32_t back = buf.read<int32_t>(pos, what_ + " (table)");
    const int64_t vt = int64_t(pos) - back;
    if (vt < 0 || uint64_t(vt) > buf.size()) buf.fail(what_, "vtable offset points outside the file");
    vt_ = uint64_t(vt);
    vt_bytes_ = buf.read<uint16_t>(vt_, what_ + " (vtable)");
    obj_bytes_ = buf.read<uint16_t>(vt_ + 2, what_ + " (vtable)");
    if (vt_bytes_ < 4 || vt_bytes_ % 2 != 0) buf.fail(what_, "vtable size " + std::to_string(vt_bytes_) + " is invalid");
    buf.need(vt_, vt_bytes_, what_ + " (vtable)");
    if (obj_bytes_ < 4) buf.fail(what_, "table size " + std::to_string(obj_bytes_) + " is invalid");
    buf.need(pos_, obj_bytes_, what_ + " (table)");
  }
  bool valid() const { return buf_ != nullptr; }
  const std::string& what() const { return what_; }
  const Buffer& buffer() const { return *buf_; }

  // Offset of field `index` inside the table, 0 if absent.
  uint16_t field(int index, size_t bytes) const {
    if (!buf_) return 0;
    const uint32_t slot = 4 + 2 * uint32_t(index);
    if (slot + 2 > vt_bytes_) return 0;
    const uint16_t off = buf_->read<uint16_t>(vt_ + slot, what_);
    if (off != 0 && (off < 4 || uint32_t(off) + bytes > obj_bytes_))
      buf_->fail(what_, "field " + std::to_string(index) + " lies outside its table");
    return off;
  }
  template <class T>
  T scalar(int index, T def) const {
    const uint16_t off = field(index, sizeof(T));
    return off ? buf_->read<T>(pos_ + off, what_) : def;
  }
  bool has(int index) const { return field(index, 4) != 0; }
  // A sub-table; an invalid Table when absent.
  Table table(int index, const std::string& name) const {
    const uint64_t target = follow(index, name);
    return target ? Table(*buf_, target, what_ + ": " + name) : Table();
  }
  // A vector of `elem`-byte scalars; count 0 when absent.
  Vector vector(int index, size_t elem, const std::string& name) const {
    Vector v{buf_, 0, 0, what_ + ": " + name};
    const uint64_t target = follow(index, name);
    if (!target) return v;
    v.count = buf_->read<uint32_t>(target, v.what);
    v.pos = target + 4;
    buf_->need(v.pos, uint64_t(v.count) * elem, v.what + " (" + std::to_string(v.count) + " elements)");
    return v;
  }
  std::string string(int index, const std::string& name) const {
    Vector v = vector(index, 1, name);
    return v.count ? std::string(reinterpret_cast<const char*>(buf_->at(v.pos)), v.count) : std::string();
  }
  // Element `i` of a vector of tables.
  static Table element(const Vector& v, uint32_t i, const std::string& name) {
    const uint64_t slot = v.pos + uint64_t(i) * 4;
    const uint32_t rel = v.get<uint32_t>(i);
    return Table(*v.buf, slot + rel, name);
  }

 private:
  // Where the uoffset in field `index` points; 0 when absent.
  uint64_t follow(int index, const std::string& name) const {
    const uint16_t off = field(index, 4);
    if (!off) return 0;
    const uint64_t at = pos_ + off;
    const uint32_t rel = buf_->read<uint32_t>(at, what_ + ": " + name);
    if (rel == 0) buf_->fail(what_ + ": " + name, "offset 0 points at itself");
    buf_->need(at + rel, 4, what_ + ": " + name);
    return at + rel;
  }

  const Buffer* buf_ = nullptr;
  uint64_t pos_ = 0, vt_ = 0;
  uint16_t vt_bytes_ = 0, obj_bytes_ = 0;
  std::string what_;
};

// The root table of a buffer.
inline Table root(const Buffer& buf, const std::string& what) {
  const uint32_t rel = buf.read<uint32_t>(0, what + " (root offset)");
  buf.need(rel, 4, what + " (root table)");
  return Table(buf, rel, what);
}

}  // namespace rtml::import::fb
