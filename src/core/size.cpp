#include "core/size.h"

#include <atomic>

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

#include "core/error.h"

namespace rtml {

std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  int64_t r;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r) || r > kMaxSize) return std::nullopt;
  return r;
}

std::optional<int64_t> checked_add(int64_t a, int64_t b) {
  if (a < 0 || b < 0 || a > kMaxSize || b > kMaxSize - a) return std::nullopt;
  return a + b;
}

std::optional<int64_t> checked_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    auto m = checked_mul(n, d);
    if (!m) return std::nullopt;
    n = *m;
  }
  return n;
}

std::optional<int64_t> checked_bytes(const Shape& s, DType t) {
  auto n = checked_numel(s);
  if (!n || dtype_size(t) == 0) return std::nullopt;
  return checked_mul(*n, static_cast<int64_t>(dtype_size(t)));
}

int64_t tensor_bytes(const Shape& s, DType t, const std::string& what) {
  for (int64_t d : s)
    if (d < 0) throw Error(what + ": shape " + shape_str(s) + " has a negative dimension");
  if (dtype_size(t) == 0) throw Error(what + ": element type '" + dtype_name(t) + "' is not supported");
  auto b = checked_bytes(s, t);
  if (!b)
    throw Error(what + ": shape " + shape_str(s) + " of " + dtype_name(t) +
                " is too large (more than 2^62 bytes; its dimensions overflow)");
  return *b;
}

uint64_t physical_memory_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGE_SIZE)
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0) return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
#endif
  return 0;
}

namespace {
std::atomic<uint64_t> memory_limit_override{0};  // 0: none
}  // namespace

void set_default_memory_limit(uint64_t bytes) { memory_limit_override = bytes; }

uint64_t default_memory_limit() {
  if (uint64_t o = memory_limit_override.load()) return o;
  static const uint64_t limit = [] {
    if (const char* env = std::getenv("RTML_MAX_MEMORY"); env && *env) {
      try {
        return parse_memory_size(env);
      } catch (const Error&) {
        // A bad value falls back to the machine's default.
      }
    }
    uint64_t phys = physical_memory_bytes();
    return phys ? phys / 2 : uint64_t(1) << 30;
  }();
  return limit;
}

std::string format_bytes(uint64_t bytes) {
  static const char* units[] = {"kB", "MB", "GB", "TB", "PB", "EB"};
  if (bytes < 1000) return std::to_string(bytes) + " bytes";
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 1000 && u < 5) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 100 ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

uint64_t parse_memory_size(const std::string& text) {
  const std::string bad = "bad memory size '" + text + "': expected bytes or a number with k, M, G or T (e.g. 512M, 2G)";
  size_t end = 0;
  double v = 0;
  try {
    v = std::stod(text, &end);
  } catch (const std::exception&) {
    throw Error(bad);
  }
  std::string unit = text.substr(end);
  if (unit.size() == 2 && unit[1] == 'B') unit.pop_back();
  double scale = unit.empty() || unit == "B" ? 1 : unit == "k" || unit == "K" ? 1e3 : unit == "M" ? 1e6
                 : unit == "G" ? 1e9 : unit == "T" ? 1e12 : 0;
  if (scale == 0 || !(v >= 0) || !(v * scale < 1.8e19) || text.find_first_of(" \t") != std::string::npos) throw Error(bad);
  return static_cast<uint64_t>(v * scale);
}

void check_memory(uint64_t bytes, uint64_t limit, const std::string& what) {
  if (bytes <= limit) return;
  std::string limit_text = format_bytes(limit);
  if (limit_text == format_bytes(bytes)) limit_text += " (" + std::to_string(limit) + " bytes)";  // 1024 vs 1000
  throw Error(what + " needs " + format_bytes(bytes) + " (" + std::to_string(bytes) + " bytes), over the memory limit of " +
              limit_text + " (--max-memory)");
}

}  // namespace rtml
