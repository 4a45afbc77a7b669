// Shared by the libFuzzer targets: the bytes of one input written to a
// private temporary folder (the readers under test take file paths), and
// the memory limit every target runs with.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace rtml::fuzz {

// Small enough that a file which would make rtml allocate more is refused
// by the memory limit, well under libFuzzer's -rss_limit_mb.
constexpr uint64_t kMaxMemoryBytes = uint64_t(64) << 20;

// Writes the input to <private folder>/<name> and returns the path. The
// folder (removed at exit) holds nothing else, so external data in a model can only name
// files that do not exist or the model itself.
inline const std::string& input_dir() {
  // Never destroyed: the atexit handler that removes the folder runs after
  // static destructors would have.
  static const std::string* dir = [] {
    // Memory-backed /dev/shm when there is one: ten times the executions of a disk.
    const char* tmp = std::getenv("TMPDIR");
    std::string base = tmp && *tmp ? tmp : access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    auto* path = new std::string(base + "/rtml-fuzz-XXXXXX");
    if (!mkdtemp(path->data())) std::abort();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(input_dir(), ec);
    });
    return path;
  }();
  return *dir;
}

inline std::string write_input(const uint8_t* data, size_t size, const char* name) {
  std::string path = input_dir() + "/" + name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                  static_cast<std::streamsize>(size));
  return path;
}

}  // namespace rtml::fuzz
