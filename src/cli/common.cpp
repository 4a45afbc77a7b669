#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "cli/cli.h"
#include "cli/options.h"
#include "core/error.h"
#include "engine/thread_pool.h"
#include "tune/tune.h"
#include "util/atomic_file.h"

namespace rtml::cli {

void add_memory_option(OptionTable& table, std::function<void(uint64_t)> also) {
  table.custom("--max-memory", "SIZE",
               "refuse a model or data file that would make rtml allocate more than SIZE\n"
               "(e.g. 512M, 2G; default: $RTML_MAX_MEMORY, else half of physical memory)",
               [also](const std::string& text) {
                 uint64_t bytes = 0;
                 try {
                   bytes = parse_memory_size(text);
                 } catch (const Error& e) {
                   throw UsageError(std::string("--max-memory: ") + e.what());
                 }
                 if (bytes == 0) throw UsageError("--max-memory must be more than 0");
                 set_default_memory_limit(bytes);
                 if (also) also(bytes);
               });
}

void add_kernels_option(OptionTable& table, std::function<void(kernels::KernelSet)> set) {
  table.custom("--kernels", "SET",
               std::string("the kernels the engine's steps may use: simd (default: Highway SIMD kernels\n"
                           "where they apply), reference (the scalar reference kernels only), cortex-m\n"
                           "(the portable kernels a microcontroller build runs), cmsis-nn (rtml compile and\n"
                           "bench --target only, with --cmsis-nn DIR: int8 steps as CMSIS-NN calls)"),
               [set](const std::string& text) {
                 try {
                   set(kernels::parse_kernel_set(text));
                 } catch (const Error& e) {
                   throw UsageError(std::string("--kernels: ") + e.what());
                 }
               });
}

void check_cmsis_nn_options(kernels::KernelSet kernels, const std::string& cmsis_nn_dir) {
  if (kernels == kernels::KernelSet::CmsisNn && cmsis_nn_dir.empty())
    throw UsageError("--kernels cmsis-nn needs --cmsis-nn DIR, the CMSIS-NN source tree to build against");
  if (kernels != kernels::KernelSet::CmsisNn && !cmsis_nn_dir.empty())
    throw UsageError("--cmsis-nn DIR is for --kernels cmsis-nn");
}

void add_threads_option(OptionTable& table, std::optional<int>& threads) {
  table.number("--threads", "N", threads, 0,
               "threads per inference (default 1; 0: every core this process may use): the engine\n"
               "splits its large GEMMs and convolutions over them (other backends: intra-op threads)",
               engine::kMaxThreads);
}

int resolved_threads(const std::optional<int>& threads) { return engine::resolve_threads(threads.value_or(1)); }

void add_tuning_option(OptionTable& table, std::string& file) {
  table.value("--tuning", "FILE", file,
              "apply the schedule of a tuning record (rtml tune --out FILE); refused when it was made\n"
              "for another model, target or kernel set");
}

plan::Schedule tuning_schedule(const std::string& file, const std::string& model, const std::string& target,
                               kernels::KernelSet kernels, std::string* label) {
  if (file.empty()) return {};
  const nlohmann::json record = tune::load_record(file);
  plan::Schedule s = tune::record_schedule(record, file, model, target, kernels);
  if (label) *label = tune::record_summary(record, file);
  return s;
}

void apply_tuning(ModelOptions& opt, const std::string& target) {
  opt.plan.schedule = tuning_schedule(opt.tuning, opt.model, target, opt.plan.kernels);
}

void add_ram_options(OptionTable& table, uint64_t& bytes, std::vector<plan::MemoryLevel>& levels,
                     const std::string& ram_help) {
  table.custom("--ram", "SIZE", ram_help, [&bytes](const std::string& text) {
    try {
      bytes = parse_memory_size(text);
    } catch (const Error& e) {
      throw UsageError(std::string("--ram: ") + e.what());
    }
    if (bytes == 0) throw UsageError("--ram must be more than 0");
  });
  table.custom("--memory", "NAME:SIZE,...",
               "memory levels for the arena, fastest first, e.g. dtcm:16k,sram:256k: the steps work in\n"
               "the first; tensors that do not fit there are kept in the next and copied in and out\n"
               "around the steps that use them; row bands as --ram when that is not enough\n"
               "(docs/tiling.md)",
               [&levels](const std::string& text) {
                 levels.clear();
                 for (const std::string& item : split(text, ',')) {
                   const size_t colon = item.find(':');
                   if (colon == std::string::npos || colon == 0)
                     throw UsageError("--memory needs NAME:SIZE,..., e.g. dtcm:16k,sram:256k; got '" + item + "'");
                   plan::MemoryLevel l;
                   l.name = item.substr(0, colon);
                   try {
                     l.bytes = parse_memory_size(item.substr(colon + 1));
                   } catch (const Error& e) {
                     throw UsageError("--memory " + l.name + ": " + e.what());
                   }
                   levels.push_back(l);
                 }
                 if (levels.empty()) throw UsageError("--memory needs NAME:SIZE,..., e.g. dtcm:16k,sram:256k");
               });
}

const char* budget_flag(const plan::Plan& plan) { return plan.memory.levels.empty() ? "--ram" : "--memory"; }

std::string model_in_folder(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) return path;
  for (const char* name : {"model.onnx", "model.tflite"}) {
    const std::filesystem::path file = std::filesystem::path(path) / name;
    if (std::filesystem::is_regular_file(file, ec)) return file.string();
  }
  return path;  // the loader's error names the folder
}

void add_model_options(OptionTable& table, ModelOptions& out) {
  add_memory_option(table, [&out](uint64_t bytes) { out.plan.max_memory_bytes = bytes; });
  add_kernels_option(table, [&out](kernels::KernelSet k) {
    out.plan.kernels = k;
    out.kernels_given = true;
  });
  table.positional("MODEL", out.model, model_in_folder);
  add_ram_options(table, out.plan.ram_bytes, out.plan.memory_levels,
                 "a RAM budget for the activations (the arena), e.g. 6144 or 8k (k = 1000): over it, the\n"
                 "first layers run band by band of rows, halos recomputed (docs/tiling.md); a\n"
                 "model that no tiling fits is refused");
  table.custom("--shape", "NAME=DIMS", "an input's shape, e.g. --shape input=1x128 (repeatable; needed for\n"
              "dynamic dimensions such as batch or sequence)",
              [&out](const std::string& spec) {
                size_t eq = spec.rfind('=');
                if (eq == std::string::npos || eq == 0)
                  throw UsageError("--shape needs NAME=DIMS, e.g. --shape input=1x128; got '" + spec + "'");
                out.plan.input_shapes[spec.substr(0, eq)] = plan::parse_shape(spec.substr(eq + 1));
              });
}

std::vector<std::string> split(const std::string& s, char separator) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(separator, start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string format_bytes(double b) {
  char buf[64];
  if (b < 1024) std::snprintf(buf, sizeof buf, "%.0f B", b);
  else if (b < 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024);
  else std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1024 * 1024));
  return buf;
}

std::string format_count(double n) {
  char buf[64];
  if (n < 1e3) std::snprintf(buf, sizeof buf, "%.0f", n);
  else if (n < 1e6) std::snprintf(buf, sizeof buf, "%.2f K", n / 1e3);
  else if (n < 1e9) std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2f G", n / 1e9);
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;  // UTF-8 bytes pass through
        }
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back as v
  return ec == std::errc() ? std::string(buf, end) : "null";
}

void write_text_file(const std::string& path, const std::string& text) {
  util::write_file_atomic(path, [&](std::ostream& out) { out << text; });
}

}  // namespace rtml::cli
