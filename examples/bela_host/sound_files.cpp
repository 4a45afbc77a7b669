#include "sound_files.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace bela_host {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": " + what);
}

uint32_t le32(const unsigned char* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }
uint16_t le16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }

void put32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v));
  out.push_back(static_cast<char>(v >> 8));
}

}  // namespace

Sound read_wav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open");
  std::string blob((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* b = reinterpret_cast<const unsigned char*>(blob.data());
  if (blob.size() < 12 || std::memcmp(b, "RIFF", 4) != 0 || std::memcmp(b + 8, "WAVE", 4) != 0)
    fail(path, "not a WAV file (no RIFF/WAVE header)");
  Sound s;
  uint16_t format = 0, bits = 0;
  size_t pos = 12;
  while (pos + 8 <= blob.size()) {
    uint32_t size = le32(b + pos + 4);
    if (size > blob.size() - pos - 8) fail(path, "chunk '" + blob.substr(pos, 4) + "' runs past the end of the file");
    const unsigned char* body = b + pos + 8;
    if (std::memcmp(b + pos, "fmt ", 4) == 0) {
      if (size < 16) fail(path, "fmt chunk of " + std::to_string(size) + " bytes, expected at least 16");
      format = le16(body);
      s.channels = le16(body + 2);
      s.rate = le32(body + 4);
      bits = le16(body + 14);
      if (format == 0xFFFE && size >= 26) format = le16(body + 24);  // WAVE_FORMAT_EXTENSIBLE: the subformat
    } else if (std::memcmp(b + pos, "data", 4) == 0) {
      if (!s.channels) fail(path, "data chunk before the fmt chunk (or 0 channels)");
      bool ok = (format == 1 && (bits == 16 || bits == 24 || bits == 32)) || (format == 3 && bits == 32);
      if (!ok) fail(path, "format " + std::to_string(format) + " with " + std::to_string(bits) +
                              " bits: expected 16/24/32-bit PCM or 32-bit float");
      size_t width = bits / 8, n = size / width;
      n -= n % s.channels;
      s.samples.resize(n);
      for (size_t i = 0; i < n; ++i) {
        const unsigned char* p = body + i * width;
        if (format == 3) {
          uint32_t u = le32(p);
          std::memcpy(&s.samples[i], &u, 4);
        } else if (bits == 16) {
          s.samples[i] = static_cast<float>(static_cast<int16_t>(le16(p))) / 32768.0f;
        } else if (bits == 24) {
          int32_t v = static_cast<int32_t>(static_cast<uint32_t>(p[0]) << 8 | p[1] << 16 | static_cast<uint32_t>(p[2]) << 24);
          s.samples[i] = static_cast<float>(v / 256) / 8388608.0f;
        } else {
          s.samples[i] = static_cast<float>(static_cast<double>(static_cast<int32_t>(le32(p))) / 2147483648.0);
        }
      }
      return s;
    }
    pos += 8 + size + (size & 1);
  }
  fail(path, "no data chunk");
}

void write_wav(const std::string& path, const Sound& s) {
  uint32_t data_bytes = static_cast<uint32_t>(s.samples.size() * 4);
  std::string out = "RIFF";
  put32(out, 4 + 26 + 8 + data_bytes);
  out += "WAVEfmt ";
  put32(out, 18);
  put16(out, 3);  // WAVE_FORMAT_IEEE_FLOAT
  put16(out, static_cast<uint16_t>(s.channels));
  put32(out, s.rate);
  put32(out, s.rate * s.channels * 4);
  put16(out, static_cast<uint16_t>(s.channels * 4));
  put16(out, 32);
  put16(out, 0);  // no extension
  out += "data";
  put32(out, data_bytes);
  for (float v : s.samples) {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    put32(out, u);
  }
  std::ofstream f(path, std::ios::binary);
  if (!f.write(out.data(), static_cast<std::streamsize>(out.size()))) fail(path, "cannot write");
}

Table read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open");
  Table t;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    if (line.empty() || line == "\r") continue;
    std::vector<float> row;
    std::stringstream cells(line);
    std::string cell;
    bool numbers = true;
    while (std::getline(cells, cell, ',')) {
      char* end = nullptr;
      float v = std::strtof(cell.c_str(), &end);
      while (end && (*end == ' ' || *end == '\r')) ++end;
      if (end == cell.c_str() || (end && *end)) numbers = false;
      row.push_back(v);
    }
    if (!numbers) {
      if (t.values.empty() && !t.columns) continue;  // the header
      fail(path, "line " + std::to_string(lineno) + ": not a row of numbers: '" + line + "'");
    }
    if (!t.columns) t.columns = static_cast<uint32_t>(row.size());
    if (row.size() != t.columns)
      fail(path, "line " + std::to_string(lineno) + ": " + std::to_string(row.size()) + " columns, the first row has " +
                     std::to_string(t.columns));
    t.values.insert(t.values.end(), row.begin(), row.end());
  }
  if (!t.columns) fail(path, "no rows");
  return t;
}

}  // namespace bela_host
