// remote/sha256: SHA-256 (FIPS 180-4), the content address of every blob the
// remote protocol moves (docs/remote-protocol.md), computed by OpenSSL's
// libcrypto (EVP digest API): the library cpp-httplib links already, on the
// host and on the boards (libssl-dev:<arch> in cross builds).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace rtml::remote {

class Sha256 {
 public:
  // rtml::Error if libcrypto cannot set up a digest (out of memory).
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* data, size_t size);
  // Finishes the hash; the object is then reset for a new message.
  std::array<uint8_t, 32> digest();
  // The digest as 64 lower-case hex digits.
  std::string hex_digest();

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
};

std::string sha256_hex(std::string_view data);
// The hash of a file's bytes, read in chunks. rtml::Error naming the file if
// it cannot be read.
std::string sha256_hex_file(const std::string& path);

}  // namespace rtml::remote
