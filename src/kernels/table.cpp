#include "kernels/table.h"

#include <unordered_map>

#include "core/dtype.h"
#include "core/error.h"

namespace rtml::kernels {

static_assert(RTML_MAX_RANK == kMaxRank, "rtml_kernel.h and core/dtype.h disagree on the maximum rank");

const char* const kKernelSetNames = "reference, simd, cortex-m, cmsis-nn";

const char* kernel_set_name(KernelSet s) {
  switch (s) {
    case KernelSet::Reference: return "reference";
    case KernelSet::Simd: return "simd";
    case KernelSet::CortexM: return "cortex-m";
    case KernelSet::CmsisNn: return "cmsis-nn";
  }
  return "?";
}

KernelSet parse_kernel_set(const std::string& name) {
  for (KernelSet s : {KernelSet::Reference, KernelSet::Simd, KernelSet::CortexM, KernelSet::CmsisNn})
    if (name == kernel_set_name(s)) return s;
  throw Error("unknown kernel set '" + name + "' (known: " + kKernelSetNames + ")");
}

const char* field_kind_c_type(FieldKind k) {
  switch (k) {
    case FieldKind::Bool: return "bool";
    case FieldKind::I8: return "int8_t";
    case FieldKind::U8: return "uint8_t";
    case FieldKind::I32: return "int32_t";
    case FieldKind::U32: return "uint32_t";
    case FieldKind::I64: return "int64_t";
    case FieldKind::F32: return "float";
    case FieldKind::F64: return "double";
  }
  return "?";
}

size_t field_kind_size(FieldKind k) {
  switch (k) {
    case FieldKind::Bool:
    case FieldKind::I8:
    case FieldKind::U8: return 1;
    case FieldKind::I32:
    case FieldKind::U32:
    case FieldKind::F32: return 4;
    case FieldKind::I64:
    case FieldKind::F64: return 8;
  }
  return 0;
}

namespace {

struct Table {
  std::vector<KernelInfo> entries;
  std::unordered_map<std::string_view, size_t> by_symbol;
  Table() {
    add_conv_kernels(entries);
    add_elementwise_kernels(entries);
    add_linear_kernels(entries);
    add_normalize_kernels(entries);
    add_pool_kernels(entries);
    add_quant_kernels(entries);
    add_random_kernels(entries);
    add_recurrent_kernels(entries);
    add_tensor_ops_kernels(entries);
    for (size_t i = 0; i < entries.size(); ++i)
      if (!by_symbol.emplace(entries[i].symbol, i).second)
        throw Error(std::string("internal error: kernel ") + entries[i].symbol + " registered twice");
  }
};

const Table& table() {
  static const Table t;
  return t;
}

}  // namespace

const std::vector<KernelInfo>& kernel_table() { return table().entries; }

const KernelInfo* find_kernel(std::string_view symbol) {
  const Table& t = table();
  auto it = t.by_symbol.find(symbol);
  return it == t.by_symbol.end() ? nullptr : &t.entries[it->second];
}

std::string kernel_header(const KernelInfo& k) {
  if (k.header) return k.header;
  std::string s = k.source;
  const size_t dot = s.rfind('.');
  return (dot == std::string::npos ? s : s.substr(0, dot)) + ".h";
}

const KernelInfo& kernel(std::string_view symbol) {
  if (const KernelInfo* k = find_kernel(symbol)) return *k;
  throw Error("internal error: kernel " + std::string(symbol) + " is not in the kernel table");
}

}  // namespace rtml::kernels
