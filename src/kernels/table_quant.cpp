// Kernel table entries of kernels/quant.h (int8 / uint8 quantized kernels).
#include "kernels/quant.h"
#include "kernels/table.h"

namespace rtml::kernels {

namespace {

// The fields rtml_qmatmul_params and rtml_qconv_params share, after their own.
template <class S>
ParamsLayout quantized_product_layout(LayoutBuilder<S> b) {
  return b.field("w_slot", &S::w_slot)
      .field("x_zero_point", &S::x_zero_point)
      .field("w_zero_point", &S::w_zero_point)
      .field("y_zero_point", &S::y_zero_point)
      .field("x_zp_slot", &S::x_zp_slot)
      .field("w_zp_slot", &S::w_zp_slot)
      .field("y_zp_slot", &S::y_zp_slot)
      .field("w_zp_per_channel", &S::w_zp_per_channel)
      .field("act_min", &S::act_min)
      .field("act_max", &S::act_max)
      .field("out_slot", &S::out_slot)
      .field("bias_slot", &S::bias_slot)
      .field("per_channel", &S::per_channel)
      .field("multiplier_slot", &S::multiplier_slot)
      .field("shift_slot", &S::shift_slot)
      .field("x_scale_slot", &S::x_scale_slot)
      .field("w_scale_slot", &S::w_scale_slot)
      .field("y_scale_slot", &S::y_scale_slot)
      .build();
}

}  // namespace

void add_quant_kernels(std::vector<KernelInfo>& t) {
  using M = rtml_qmatmul_params;
  using C = rtml_qconv_params;
  static const ParamsLayout qmatmul = quantized_product_layout(layout<M>("rtml_qmatmul_params")
                                                                   .field("M", &M::M)
                                                                   .field("N", &M::N)
                                                                   .field("K", &M::K)
                                                                   .field("w_stride_k", &M::w_stride_k)
                                                                   .field("w_stride_n", &M::w_stride_n)
                                                                   .field("batch_count", &M::batch_count)
                                                                   .field("x_batch_stride", &M::x_batch_stride)
                                                                   .field("w_batch_stride", &M::w_batch_stride));
  static const ParamsLayout qconv = quantized_product_layout(layout<C>("rtml_qconv_params")
                                                                 .field("N", &C::N)
                                                                 .field("C", &C::C)
                                                                 .field("H", &C::H)
                                                                 .field("W", &C::W)
                                                                 .field("C_out", &C::C_out)
                                                                 .field("group", &C::group)
                                                                 .field("KH", &C::KH)
                                                                 .field("KW", &C::KW)
                                                                 .field("OH", &C::OH)
                                                                 .field("OW", &C::OW)
                                                                 .field("stride_h", &C::stride_h)
                                                                 .field("stride_w", &C::stride_w)
                                                                 .field("dilation_h", &C::dilation_h)
                                                                 .field("dilation_w", &C::dilation_w)
                                                                 .field("pad_top", &C::pad_top)
                                                                 .field("pad_left", &C::pad_left));
  static const ParamsLayout quantize = layout<rtml_quantize_params>("rtml_quantize_params")
                                           .field("outer", &rtml_quantize_params::outer)
                                           .field("axis_dim", &rtml_quantize_params::axis_dim)
                                           .field("inner", &rtml_quantize_params::inner)
                                           .field("per_axis", &rtml_quantize_params::per_axis)
                                           .field("has_zero_point", &rtml_quantize_params::has_zero_point)
                                           .field("out_slot", &rtml_quantize_params::out_slot)
                                           .build();
  static const ParamsLayout dynamic = layout<rtml_dynamic_quantize_params>("rtml_dynamic_quantize_params")
                                          .field("numel", &rtml_dynamic_quantize_params::numel)
                                          .build();
  using B = rtml_qbinary_params;
  static const ParamsLayout qbinary = layout<B>("rtml_qbinary_params")
                                          .nested("bc", &B::bc, broadcast_layout())
                                          .field("b_slot", &B::b_slot)
                                          .field("out_slot", &B::out_slot)
                                          .field("a_zero_point", &B::a_zero_point)
                                          .field("b_zero_point", &B::b_zero_point)
                                          .field("y_zero_point", &B::y_zero_point)
                                          .field("left_shift", &B::left_shift)
                                          .field("a_multiplier", &B::a_multiplier)
                                          .field("a_shift", &B::a_shift)
                                          .field("b_multiplier", &B::b_multiplier)
                                          .field("b_shift", &B::b_shift)
                                          .field("y_multiplier", &B::y_multiplier)
                                          .field("y_shift", &B::y_shift)
                                          .field("act_min", &B::act_min)
                                          .field("act_max", &B::act_max)
                                          .build();
  static const ParamsLayout lookup = layout<rtml_lookup_params>("rtml_lookup_params")
                                         .field("count", &rtml_lookup_params::count)
                                         .field("out_slot", &rtml_lookup_params::out_slot)
                                         .field("table_slot", &rtml_lookup_params::table_slot)
                                         .build();
  using Q = rtml_qmean_params;
  static const ParamsLayout qmean = layout<Q>("rtml_qmean_params")
                                        .field("outer", &Q::outer)
                                        .field("n", &Q::n)
                                        .field("inner", &Q::inner)
                                        .field("x_zero_point", &Q::x_zero_point)
                                        .field("y_zero_point", &Q::y_zero_point)
                                        .field("multiplier", &Q::multiplier)
                                        .field("shift", &Q::shift)
                                        .field("out_slot", &Q::out_slot)
                                        .build();
  using S = rtml_qsoftmax_params;
  static const ParamsLayout qsoftmax = layout<S>("rtml_qsoftmax_params")
                                           .field("rows", &S::rows)
                                           .field("row_size", &S::row_size)
                                           .field("input_multiplier", &S::input_multiplier)
                                           .field("input_left_shift", &S::input_left_shift)
                                           .field("diff_min", &S::diff_min)
                                           .field("out_slot", &S::out_slot)
                                           .build();
  using K = rtml_qconcat_params;
  static const ParamsLayout qconcat = layout<K>("rtml_qconcat_params")
                                          .field("num_inputs", &K::num_inputs)
                                          .field("outer", &K::outer)
                                          .field("out_slot", &K::out_slot)
                                          .field("blocks_slot", &K::blocks_slot)
                                          .field("tables_slot", &K::tables_slot)
                                          .build();
  const char* src = "kernels/quant.cpp";
#define RTML_QUANT_PRODUCT_ENTRIES(ty, TX, TW)                                                                     \
  t.push_back({"rtml_" #ty "_fully_connected__ref", rtml_##ty##_fully_connected__ref, &qmatmul,                    \
               "X, (scales, zero points,) W, ..., Y, bias?, multipliers?, shifts?", src, true});                   \
  t.push_back({"rtml_" #ty "_matmul_integer__ref", rtml_##ty##_matmul_integer__ref, &qmatmul,                      \
               "A, B, a_zero_point?, b_zero_point?, Y", src, true});                                              \
  t.push_back({"rtml_" #ty "_conv__ref", rtml_##ty##_conv__ref, &qconv,                                            \
               "X, (scales, zero points,) W, ..., Y, bias?, multipliers?, shifts?", src, true});                   \
  t.push_back({"rtml_" #ty "_depthwise_conv__ref", rtml_##ty##_depthwise_conv__ref, &qconv,                        \
               "X, (scales, zero points,) W, ..., Y, bias?, multipliers?, shifts?", src, true});                   \
  t.push_back({"rtml_" #ty "_conv_integer__ref", rtml_##ty##_conv_integer__ref, &qconv,                            \
               "X, W, x_zero_point?, w_zero_point?, Y", src, true});
  RTML_QUANT_PRODUCT_TYPES(RTML_QUANT_PRODUCT_ENTRIES)
#undef RTML_QUANT_PRODUCT_ENTRIES
#define RTML_QUANT_ENTRIES(ty, T)                                                                                  \
  t.push_back({"rtml_" #ty "_quantize__ref", rtml_##ty##_quantize__ref, &quantize, "X, scale, zero_point?, Y",     \
               src, true});                                                                                        \
  t.push_back({"rtml_" #ty "_dequantize__ref", rtml_##ty##_dequantize__ref, &quantize, "X, scale, zero_point?, Y", \
               src, true});                                                                                        \
  t.push_back({"rtml_" #ty "_qadd__ref", rtml_##ty##_qadd__ref, &qbinary, "A, (scales, zero points,) B, ..., Y",   \
               src, true});                                                                                        \
  t.push_back({"rtml_" #ty "_qmul__ref", rtml_##ty##_qmul__ref, &qbinary, "A, (scales, zero points,) B, ..., Y",   \
               src, true});                                                                                        \
  t.push_back({"rtml_" #ty "_lookup__ref", rtml_##ty##_lookup__ref, &lookup, "X, ..., Y, table", src, true}); \
  t.push_back({"rtml_" #ty "_mean__ref", rtml_##ty##_mean__ref, &qmean, "X, ..., Y", src, true});             \
  t.push_back({"rtml_" #ty "_softmax__ref", rtml_##ty##_softmax__ref, &qsoftmax, "X, ..., Y", src, true});
  RTML_QUANT_TYPES(RTML_QUANT_ENTRIES)
#undef RTML_QUANT_ENTRIES
  const char* fast = "kernels/fast_quant.cpp";
  t.push_back({"rtml_s8_fully_connected__hwy", rtml_s8_fully_connected__hwy, &qmatmul,
               "X, (scales, zero points,) W, ..., Y, bias?, multipliers, shifts, packed W, scratch", fast, false,
               "kernels/quant.h"});
  t.push_back({"rtml_s8_conv__hwy", rtml_s8_conv__hwy, &qconv,
               "X, (scales, zero points,) W, ..., Y, bias?, multipliers, shifts, packed W, scratch", fast, false,
               "kernels/quant.h"});
  t.push_back({"rtml_s8_depthwise_conv__hwy", rtml_s8_depthwise_conv__hwy, &qconv,
               "X, (scales, zero points,) W, ..., Y, bias?, multipliers, shifts, scratch", fast, false,
               "kernels/quant.h"});
  t.push_back({"rtml_s8_quantize__hwy", rtml_s8_quantize__hwy, &quantize, "X, scale, zero_point?, Y", fast, false,
               "kernels/quant.h"});
  t.push_back({"rtml_u8_quantize__hwy", rtml_u8_quantize__hwy, &quantize, "X, scale, zero_point?, Y", fast, false,
               "kernels/quant.h"});
  t.push_back({"rtml_s8_dequantize__hwy", rtml_s8_dequantize__hwy, &quantize, "X, scale, zero_point?, Y", fast,
               false, "kernels/quant.h"});
  t.push_back({"rtml_u8_dequantize__hwy", rtml_u8_dequantize__hwy, &quantize, "X, scale, zero_point?, Y", fast,
               false, "kernels/quant.h"});
  t.push_back({"rtml_s8_qadd__hwy", rtml_s8_qadd__hwy, &qbinary, "A, (scales, zero points,) B, ..., Y", fast, false,
               "kernels/quant.h"});
  t.push_back({"rtml_s8_mean__hwy", rtml_s8_mean__hwy, &qmean, "X, ..., Y", fast, false, "kernels/quant.h"});
  const char* cm = "kernels/cortexm_quant.cpp";
  t.push_back({"rtml_s8_fully_connected__cm", rtml_s8_fully_connected__cm, &qmatmul,
               "X, (scales, zero points,) W, ..., Y, bias?, multipliers, shifts, scratch", cm, true, "kernels/quant.h"});
  t.push_back({"rtml_s8_conv__cm", rtml_s8_conv__cm, &qconv,
               "X, (scales, zero points,) W, ..., Y, bias?, multipliers, shifts, scratch", cm, true, "kernels/quant.h"});
  t.push_back({"rtml_s8_depthwise_conv__cm", rtml_s8_depthwise_conv__cm, &qconv,
               "X, (scales, zero points,) W, ..., Y, bias?, multipliers, shifts, scratch", cm, true, "kernels/quant.h"});
  t.push_back({"rtml_s8_qadd__cm", rtml_s8_qadd__cm, &qbinary, "A, (scales, zero points,) B, ..., Y", cm, true,
               "kernels/quant.h"});
  t.push_back({"rtml_s32_dequantize__ref", rtml_s32_dequantize__ref, &quantize, "X, scale, zero_point?, Y", src, true});
  t.push_back({"rtml_x8_qconcat__ref", rtml_x8_qconcat__ref, &qconcat,
               "X0..Xn-1, (scales, zero points,) Y, blocks, tables?", "kernels/quant_concat.cpp", true,
               "kernels/quant.h"});
  t.push_back({"rtml_u8_dynamic_quantize__ref", rtml_u8_dynamic_quantize__ref, &dynamic,
               "X, Y, Y_scale, Y_zero_point", src, true});
}

}  // namespace rtml::kernels
