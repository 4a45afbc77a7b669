// Kernel table entries of kernels/elementwise.h (unary, binary, variadic,
// Where, Cast, Clip), generated from the header's (op, type) lists, and of
// kernels/fast_elementwise.h (the float32 Highway versions, host only).
#include <string>

#include "kernels/elementwise.h"
#include "kernels/elementwise_chain.h"
#include "kernels/fast_elementwise.h"
#include "kernels/table.h"

namespace rtml::kernels {

namespace {

const ParamsLayout& chain_layout() {
  using Chain = rtml_ew_chain_params;
  static const ParamsLayout l = layout<Chain>("rtml_ew_chain_params")
                                    .nested("bc", &Chain::bc, broadcast_layout())
                                    .field("n", &Chain::n)
                                    .field("op", &Chain::op)
                                    .field("a", &Chain::a)
                                    .field("b", &Chain::b)
                                    .field("alpha", &Chain::alpha)
                                    .field("beta", &Chain::beta)
                                    .field("gamma", &Chain::gamma)
                                    .build();
  return l;
}

}  // namespace

const ParamsLayout& epilogue_layout() {
  static const ParamsLayout l = layout<rtml_ew_epilogue>("rtml_ew_epilogue")
                                    .nested("chain", &rtml_ew_epilogue::chain, chain_layout())
                                    .field("in_slot", &rtml_ew_epilogue::in_slot)
                                    .build();
  return l;
}

const ParamsLayout& broadcast_layout() {
  static const ParamsLayout l = layout<rtml_broadcast>("rtml_broadcast")
                                    .field("rank", &rtml_broadcast::rank)
                                    .field("num_inputs", &rtml_broadcast::num_inputs)
                                    .field("count", &rtml_broadcast::count)
                                    .field("shape", &rtml_broadcast::shape)
                                    .field("strides", &rtml_broadcast::strides)
                                    .build();
  return l;
}

namespace {

// rtml_variadic_params: its bc[] members one by one (the layout builder
// nests a struct member, not an array of them).
ParamsLayout variadic_layout() {
  ParamsLayout l = layout<rtml_variadic_params>("rtml_variadic_params")
                       .field("n", &rtml_variadic_params::n)
                       .field("count", &rtml_variadic_params::count)
                       .build();
  const rtml_variadic_params probe{};
  const auto base = reinterpret_cast<const char*>(&probe);
  for (int i = 0; i < RTML_MAX_VARIADIC_INPUTS - 1; ++i) {
    const auto at = static_cast<uint32_t>(reinterpret_cast<const char*>(&probe.bc[i]) - base);
    for (const ParamField& in : broadcast_layout().fields) {
      ParamField f = in;
      f.name = "bc[" + std::to_string(i) + "]." + in.name;
      f.offset += at;
      l.fields.push_back(std::move(f));
    }
  }
  return l;
}

}  // namespace

void add_elementwise_kernels(std::vector<KernelInfo>& t) {
  static const ParamsLayout unary = layout<rtml_unary_params>("rtml_unary_params")
                                        .field("count", &rtml_unary_params::count)
                                        .field("alpha", &rtml_unary_params::alpha)
                                        .field("beta", &rtml_unary_params::beta)
                                        .field("gamma", &rtml_unary_params::gamma)
                                        .build();
  static const ParamsLayout broadcast = layout<rtml_broadcast_params>("rtml_broadcast_params")
                                            .nested("bc", &rtml_broadcast_params::bc, broadcast_layout())
                                            .build();
  static const ParamsLayout variadic = variadic_layout();
  static const ParamsLayout cast = layout<rtml_cast_params>("rtml_cast_params")
                                       .field("count", &rtml_cast_params::count)
                                       .field("out_slot", &rtml_cast_params::out_slot)
                                       .build();
  static const ParamsLayout clip = layout<rtml_clip_params>("rtml_clip_params")
                                       .field("count", &rtml_clip_params::count)
                                       .field("num_inputs", &rtml_clip_params::num_inputs)
                                       .field("has_min", &rtml_clip_params::has_min)
                                       .field("has_max", &rtml_clip_params::has_max)
                                       .field("min", &rtml_clip_params::min)
                                       .field("max", &rtml_clip_params::max)
                                       .build();
  static const ParamsLayout& chain = chain_layout();
  auto add = [&t](const char* symbol, rtml_kernel_fn fn, const ParamsLayout& params, const char* operands) {
    t.push_back({symbol, fn, &params, operands, "kernels/elementwise.cpp", true});
  };
#define RTML_EW_ENTRY(t, op, Op) add("rtml_" #t "_" #op "__ref", rtml_##t##_##op##__ref, ENTRY_PARAMS, ENTRY_OPERANDS);
#define RTML_EW_NUMERIC(op, Op) RTML_EW_NUMERIC_TYPES(RTML_EW_ENTRY, op, Op)
#define RTML_EW_FLOAT(op, Op) RTML_EW_FLOAT_TYPES(RTML_EW_ENTRY, op, Op)
#define RTML_EW_SIGNED(op, Op) RTML_EW_FLOAT_TYPES(RTML_EW_ENTRY, op, Op) RTML_EW_SINT_TYPES(RTML_EW_ENTRY, op, Op)
#define RTML_EW_ALL(op, Op) RTML_EW_ALL_TYPES(RTML_EW_ENTRY, op, Op)
#define RTML_EW_UINT(op, Op) RTML_EW_UINT_TYPES(RTML_EW_ENTRY, op, Op)
#define RTML_EW_BOOL(op, Op) RTML_EW_ENTRY(b8, op, Op)
#define ENTRY_PARAMS unary
#define ENTRY_OPERANDS "X, Y"
  RTML_EW_UNARY_NUMERIC_OPS(RTML_EW_NUMERIC)
  RTML_EW_UNARY_FLOAT_OPS(RTML_EW_FLOAT)
  RTML_EW_UNARY_BOOL_OPS(RTML_EW_BOOL)
#undef ENTRY_PARAMS
#undef ENTRY_OPERANDS
#define ENTRY_PARAMS broadcast
#define ENTRY_OPERANDS "A, B, Y"
  RTML_EW_BINARY_NUMERIC_OPS(RTML_EW_NUMERIC)
  RTML_EW_BINARY_SIGNED_OPS(RTML_EW_SIGNED)
  RTML_EW_BINARY_ALL_OPS(RTML_EW_ALL)
  RTML_EW_BINARY_BOOL_OPS(RTML_EW_BOOL)
  RTML_EW_BINARY_UINT_OPS(RTML_EW_UINT)
#undef ENTRY_PARAMS
#undef ENTRY_OPERANDS
#define ENTRY_PARAMS variadic
#define ENTRY_OPERANDS "X0, ..., Xn-1, Y"
  RTML_EW_VARIADIC_OPS(RTML_EW_NUMERIC)
  RTML_EW_FLOAT(mean, Add)
#undef ENTRY_PARAMS
#undef ENTRY_OPERANDS
#define ENTRY_PARAMS clip
#define ENTRY_OPERANDS "X, min?, max?, Y"
  RTML_EW_NUMERIC(clip, _)
#undef ENTRY_PARAMS
#undef ENTRY_OPERANDS
#undef RTML_EW_NUMERIC
#undef RTML_EW_FLOAT
#undef RTML_EW_SIGNED
#undef RTML_EW_ALL
#undef RTML_EW_UINT
#undef RTML_EW_BOOL
#undef RTML_EW_ENTRY
#define RTML_EW_PAIR_ENTRY(a, b)                                                                 \
  add("rtml_" #a "_pow_" #b "__ref", rtml_##a##_pow_##b##__ref, broadcast, "A, B, Y");            \
  add("rtml_" #a "_cast_" #b "__ref", rtml_##a##_cast_##b##__ref, cast, "X, (like,) Y");
#define RTML_EW_CAST_ENTRY(a, b) add("rtml_" #a "_cast_" #b "__ref", rtml_##a##_cast_##b##__ref, cast, "X, (like,) Y");
#define RTML_EW_PAIRS(a, u, v) RTML_EW_NUMERIC_TYPES_2(RTML_EW_PAIR_ENTRY, a)
#define RTML_EW_BOOL_CASTS(a, u, v) RTML_EW_CAST_ENTRY(a, b8) RTML_EW_CAST_ENTRY(b8, a)
  RTML_EW_NUMERIC_TYPES(RTML_EW_PAIRS, _, _)
  RTML_EW_NUMERIC_TYPES(RTML_EW_BOOL_CASTS, _, _)
  RTML_EW_CAST_ENTRY(b8, b8)
#undef RTML_EW_PAIRS
#undef RTML_EW_BOOL_CASTS
#undef RTML_EW_CAST_ENTRY
#undef RTML_EW_PAIR_ENTRY
#define RTML_EW_WHERE_ENTRY(x, T) add("rtml_" #x "_where__ref", rtml_##x##_where__ref, broadcast, "C, X, Z, Y");
  RTML_EW_WHERE_SIZES(RTML_EW_WHERE_ENTRY)
#undef RTML_EW_WHERE_ENTRY

  auto add_hwy = [&t](const char* symbol, rtml_kernel_fn fn, const ParamsLayout& params, const char* operands) {
    t.push_back({symbol, fn, &params, operands, "kernels/fast_elementwise.cpp", false});
  };
#define RTML_EW_HWY_ENTRY(op, Op) add_hwy("rtml_f32_" #op "__hwy", rtml_f32_##op##__hwy, ENTRY_PARAMS, ENTRY_OPERANDS);
#define ENTRY_PARAMS unary
#define ENTRY_OPERANDS "X, Y"
  RTML_EW_HWY_UNARY_OPS(RTML_EW_HWY_ENTRY)
#undef ENTRY_PARAMS
#undef ENTRY_OPERANDS
#define ENTRY_PARAMS broadcast
#define ENTRY_OPERANDS "A, B, Y"
  RTML_EW_HWY_BINARY_OPS(RTML_EW_HWY_ENTRY)
#undef ENTRY_PARAMS
#undef ENTRY_OPERANDS
#define ENTRY_PARAMS variadic
#define ENTRY_OPERANDS "X0, ..., Xn-1, Y"
  RTML_EW_HWY_VARIADIC_OPS(RTML_EW_HWY_ENTRY)
#undef ENTRY_PARAMS
#undef ENTRY_OPERANDS
#undef RTML_EW_HWY_ENTRY
  add_hwy("rtml_f32_pow_f32__hwy", rtml_f32_pow_f32__hwy, broadcast, "A, B, Y");
  add_hwy("rtml_f32_clip__hwy", rtml_f32_clip__hwy, clip, "X, min?, max?, Y");
  add_hwy("rtml_x32_where__hwy", rtml_x32_where__hwy, broadcast, "C, X, Z, Y");
  // Chains (plan/passes/fuse_elementwise_chains.cpp), declared in their own header.
  t.push_back({"rtml_f32_elementwise_chain__ref", rtml_f32_elementwise_chain__ref, &chain, "I0, I1?, I2?, Y",
               "kernels/elementwise.cpp", true, "kernels/elementwise_chain.h"});
  t.push_back({"rtml_f32_elementwise_chain__hwy", rtml_f32_elementwise_chain__hwy, &chain, "I0, I1?, I2?, Y",
               "kernels/fast_elementwise.cpp", false, "kernels/elementwise_chain.h"});
}

}  // namespace rtml::kernels
