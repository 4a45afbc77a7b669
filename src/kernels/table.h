// The kernel table: every kernel the engine can run, by its C symbol, with
// what a code generator needs to call it the same way (kernels/rtml_kernel.h
// has the calling convention):
//   - the function itself (the engine's steps call it through Step::run),
//   - the layout of its params struct, field by field, so that `rtml
//     compile` prints the params a prepare filled as a C initialiser,
//   - its operands in order (documentation, and comments in generated C),
//   - the source file that defines it and whether that file is portable
//     (freestanding: builds for a Cortex-M and into generated C).
// An op's prepare validates, infers shapes, then picks an entry with
// OpContext::use_kernel; the engine and the generated C then call the same
// function with the same params and operands, so they cannot differ.
//
// Kernel sets (PlanOptions::kernels, `--kernels`): `simd` (the default) lets
// prepare pick the Highway kernels where they apply; `reference` runs the
// whole model on the scalar reference kernels (a model-level oracle);
// `cortex-m` picks the portable kernels a microcontroller build uses.
//
// Each kernel family lists its entries in kernels/table_<family>.cpp
// (host-only code: the portable sources stay free of the C++ library).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kernels/rtml_kernel.h"

namespace rtml::kernels {

// CmsisNn: the int8 steps CMSIS-NN covers become CMSIS-NN calls in generated
// code (compile/cmsis_nn.h); the plan itself runs the portable reference
// kernels, and the engine refuses it (it links no CMSIS-NN).
enum class KernelSet : uint8_t { Reference, Simd, CortexM, CmsisNn };
const char* kernel_set_name(KernelSet s);            // "reference", "simd", "cortex-m", "cmsis-nn"
KernelSet parse_kernel_set(const std::string& name);  // throws rtml::Error naming the sets
extern const char* const kKernelSetNames;             // "reference, simd, cortex-m, cmsis-nn"

// ---- params layouts ---------------------------------------------------------

enum class FieldKind : uint8_t { Bool, I8, U8, I32, U32, I64, F32, F64 };
const char* field_kind_c_type(FieldKind k);  // "int64_t", "float", "bool"...
size_t field_kind_size(FieldKind k);

struct ParamField {
  std::string name;           // C member designator: "M", "bc.strides"
  FieldKind kind = FieldKind::I64;
  uint32_t offset = 0;        // bytes from the start of the struct
  uint32_t dims[2] = {1, 1};  // {1,1}: scalar; {n,1}: T[n]; {n,m}: T[n][m]
};

struct ParamsLayout {
  std::string c_type;  // "rtml_gemm_params"
  uint32_t size = 0;   // sizeof the struct
  std::vector<ParamField> fields;
};

template <class T>
constexpr FieldKind field_kind() {
  if constexpr (std::is_same_v<T, bool>) return FieldKind::Bool;
  else if constexpr (std::is_same_v<T, int8_t>) return FieldKind::I8;
  else if constexpr (std::is_same_v<T, uint8_t>) return FieldKind::U8;
  else if constexpr (std::is_same_v<T, int32_t>) return FieldKind::I32;
  else if constexpr (std::is_same_v<T, uint32_t>) return FieldKind::U32;
  else if constexpr (std::is_same_v<T, int64_t>) return FieldKind::I64;
  else if constexpr (std::is_same_v<T, float>) return FieldKind::F32;
  else if constexpr (std::is_same_v<T, double>) return FieldKind::F64;
  else static_assert(sizeof(T) == 0, "params hold scalars only: bool, (u)int8/32, int64, float, double");
}

// Builds a layout member by member:
//   layout<rtml_gemm_params>("rtml_gemm_params")
//       .field("M", &rtml_gemm_params::M)
//       .nested("bc", &rtml_binary_params::bc, broadcast_layout())
template <class S>
class LayoutBuilder {
 public:
  explicit LayoutBuilder(const char* c_type) {
    static_assert(std::is_trivially_copyable_v<S> && std::is_standard_layout_v<S>,
                  "params must be plain data (they are copied into generated C)");
    layout_.c_type = c_type;
    layout_.size = sizeof(S);
  }
  template <class T>
  LayoutBuilder& field(const char* name, T S::*member) {
    ParamField f;
    f.name = name;
    f.offset = offset_of(member);
    using E = std::remove_all_extents_t<T>;
    f.kind = field_kind<E>();
    if constexpr (std::rank_v<T> >= 1) f.dims[0] = static_cast<uint32_t>(std::extent_v<T, 0>);
    if constexpr (std::rank_v<T> == 2) f.dims[1] = static_cast<uint32_t>(std::extent_v<T, 1>);
    static_assert(std::rank_v<T> <= 2, "params arrays have at most two dimensions");
    layout_.fields.push_back(std::move(f));
    return *this;
  }
  // A member that is itself a params struct with its own layout.
  template <class T>
  LayoutBuilder& nested(const char* name, T S::*member, const ParamsLayout& inner) {
    const uint32_t base = offset_of(member);
    for (const ParamField& in : inner.fields) {
      ParamField f = in;
      f.name = std::string(name) + "." + in.name;
      f.offset += base;
      layout_.fields.push_back(std::move(f));
    }
    return *this;
  }
  ParamsLayout build() { return std::move(layout_); }

 private:
  template <class T>
  static uint32_t offset_of(T S::*member) {
    static const S probe{};
    return static_cast<uint32_t>(reinterpret_cast<const char*>(&(probe.*member)) -
                                 reinterpret_cast<const char*>(&probe));
  }
  ParamsLayout layout_;
};

template <class S>
LayoutBuilder<S> layout(const char* c_type) { return LayoutBuilder<S>(c_type); }

// ---- the table ----------------------------------------------------------------

struct KernelInfo {
  const char* symbol = "";              // C name: "rtml_f32_gemm__ref"
  rtml_kernel_fn fn = nullptr;
  const ParamsLayout* params = nullptr;  // nullptr: the kernel takes no params
  const char* operands = "";            // "A, B, C?, Y" ('?': an optional slot, may be null)
  const char* source = "";              // defining file under src/: "kernels/linear.cpp"
  bool portable = false;                // freestanding (see rtml_kernel.h)
  // The C header that declares it and its params (generated C includes it);
  // nullptr: the source's own header (kernels/linear.cpp -> kernels/linear.h).
  const char* header = nullptr;
  // For a kernel with state (ops::Step::state_bytes): the function that
  // returns the state to its start, and its C name. nullptr / "": none.
  rtml_kernel_reset_fn reset = nullptr;
  const char* reset_symbol = "";
  // Splits its work over a session's threads (kernels/parallel.h) when its
  // step is large enough (engine::step_splits); else one thread always.
  bool parallel = false;
};
// The header of `k` (KernelInfo::header or the source's .h).
std::string kernel_header(const KernelInfo& k);

// Every registered kernel, in registration order (built on first use).
const std::vector<KernelInfo>& kernel_table();
// nullptr when no kernel has that symbol.
const KernelInfo* find_kernel(std::string_view symbol);
// The entry for a symbol the code itself names; throws rtml::Error (an
// internal error: a kernel used but not registered) when there is none.
const KernelInfo& kernel(std::string_view symbol);

// Each family appends its entries (kernels/table_<family>.cpp).
// The layout of rtml_broadcast (table_elementwise.cpp), for params that nest one.
const ParamsLayout& broadcast_layout();
// The layout of rtml_ew_epilogue (table_elementwise.cpp: a chain in a
// product's store, kernels/elementwise_chain.h), and of a "_chain" kernel's
// params C: the product's params as `member`, then `epi`.
const ParamsLayout& epilogue_layout();
template <class C, class P>
ParamsLayout chain_params_layout(const char* c_type, const char* member, P C::*base, const ParamsLayout& inner) {
  return layout<C>(c_type).nested(member, base, inner).nested("epi", &C::epi, epilogue_layout()).build();
}
void add_conv_kernels(std::vector<KernelInfo>& table);
void add_elementwise_kernels(std::vector<KernelInfo>& table);
void add_linear_kernels(std::vector<KernelInfo>& table);
void add_normalize_kernels(std::vector<KernelInfo>& table);
void add_pool_kernels(std::vector<KernelInfo>& table);
void add_quant_kernels(std::vector<KernelInfo>& table);
void add_random_kernels(std::vector<KernelInfo>& table);
void add_recurrent_kernels(std::vector<KernelInfo>& table);
void add_tensor_ops_kernels(std::vector<KernelInfo>& table);

}  // namespace rtml::kernels
