// remote/sha256: SHA-256 (FIPS 180-4), the content address of every blob the
// remote protocol moves (docs/remote-protocol.md). Small and dependency-free:
// the agent builds for boards where OpenSSL's development files are not at
// hand. Not constant-time with respect to the data; it hashes public bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rtml::remote {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  // Finishes the hash; the object is then reset for a new message.
  std::array<uint8_t, 32> digest();
  // The digest as 64 lower-case hex digits.
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_;
  size_t used_ = 0;      // bytes in buf_
  uint64_t total_ = 0;   // bytes hashed so far
};

std::string sha256_hex(std::string_view data);
// The hash of a file's bytes, read in chunks. rtml::Error naming the file if
// it cannot be read.
std::string sha256_hex_file(const std::string& path);
// True if `s` is 64 lower-case hex digits (a blob name).
bool is_sha256_hex(std::string_view s);

}  // namespace rtml::remote
