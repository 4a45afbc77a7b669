// The host runner's input and output files: WAV (RIFF, read: 16/24/32-bit
// integer PCM or 32-bit float; written: 32-bit float) and CSV sensor frames.
// Errors throw std::runtime_error naming the file and what was wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bela_host {

struct Sound {
  std::vector<float> samples;  // interleaved, frames x channels
  uint32_t channels = 0;
  uint32_t rate = 0;
  size_t frames() const { return channels ? samples.size() / channels : 0; }
};

// Integer PCM is scaled to [-1, 1) by 1 / 2^(bits-1).
Sound read_wav(const std::string& path);
void write_wav(const std::string& path, const Sound& sound);

// One row per line, comma-separated numbers; a first line that is not numbers
// is a header. Every row has the same number of columns.
struct Table {
  std::vector<float> values;  // rows x columns
  uint32_t columns = 0;
  size_t rows() const { return columns ? values.size() / columns : 0; }
};
Table read_csv(const std::string& path);

}  // namespace bela_host
