// Kernel table entries of kernels/conv.h and kernels/fast_conv.h (Conv,
// ConvTranspose, BatchNormalization).
#include "kernels/conv.h"
#include "kernels/fast_conv.h"
#include "kernels/table.h"

namespace rtml::kernels {

void add_conv_kernels(std::vector<KernelInfo>& t) {
  using C = rtml_conv_params;
  static const ParamsLayout conv = layout<C>("rtml_conv_params")
                                       .field("spatial", &C::spatial)
                                       .field("batch", &C::batch)
                                       .field("in_channels", &C::in_channels)
                                       .field("out_channels", &C::out_channels)
                                       .field("group", &C::group)
                                       .field("in_shape", &C::in_shape)
                                       .field("out_shape", &C::out_shape)
                                       .field("kernel", &C::kernel)
                                       .field("stride", &C::stride)
                                       .field("dilation", &C::dilation)
                                       .field("pad_begin", &C::pad_begin)
                                       .field("in_size", &C::in_size)
                                       .field("out_size", &C::out_size)
                                       .field("kernel_size", &C::kernel_size)
                                       .field("out_slot", &C::out_slot)
                                       .build();
  using B = rtml_batchnorm_params;
  static const ParamsLayout bn = layout<B>("rtml_batchnorm_params")
                                     .field("batch", &B::batch)
                                     .field("channels", &B::channels)
                                     .field("inner", &B::inner)
                                     .field("epsilon", &B::epsilon)
                                     .field("momentum", &B::momentum)
                                     .field("num_outputs", &B::num_outputs)
                                     .build();
  using F1 = rtml_fast_conv1d_params;
  static const ParamsLayout fast1d = layout<F1>("rtml_fast_conv1d_params")
                                         .field("batch", &F1::batch)
                                         .field("in_channels", &F1::in_channels)
                                         .field("out_channels", &F1::out_channels)
                                         .field("group", &F1::group)
                                         .field("in_len", &F1::in_len)
                                         .field("out_len", &F1::out_len)
                                         .field("taps", &F1::taps)
                                         .field("dilation", &F1::dilation)
                                         .field("pad_begin", &F1::pad_begin)
                                         .field("padded_len", &F1::padded_len)
                                         .field("out_slot", &F1::out_slot)
                                         .field("has_bias", &F1::has_bias)
                                         .field("residual", &F1::residual)
                                         .field("relu", &F1::relu)
                                         .build();
  using F2 = rtml_fast_conv2d_params;
  static const ParamsLayout fast2d = layout<F2>("rtml_fast_conv2d_params")
                                         .field("batch", &F2::batch)
                                         .field("in_channels", &F2::in_channels)
                                         .field("out_channels", &F2::out_channels)
                                         .field("group", &F2::group)
                                         .field("in_h", &F2::in_h)
                                         .field("in_w", &F2::in_w)
                                         .field("out_h", &F2::out_h)
                                         .field("out_w", &F2::out_w)
                                         .field("kh", &F2::kh)
                                         .field("kw", &F2::kw)
                                         .field("dh", &F2::dh)
                                         .field("dw", &F2::dw)
                                         .field("pad_top", &F2::pad_top)
                                         .field("pad_left", &F2::pad_left)
                                         .field("hp", &F2::hp)
                                         .field("wp", &F2::wp)
                                         .field("ldb", &F2::ldb)
                                         .field("out_slot", &F2::out_slot)
                                         .field("has_bias", &F2::has_bias)
                                         .field("residual", &F2::residual)
                                         .field("relu", &F2::relu)
                                         .build();
  using I = rtml_im2row_conv_params;
  static const ParamsLayout im2row = layout<I>("rtml_im2row_conv_params")
                                         .field("batch", &I::batch)
                                         .field("in_channels", &I::in_channels)
                                         .field("out_channels", &I::out_channels)
                                         .field("group", &I::group)
                                         .field("in_size", &I::in_size)
                                         .field("out_size", &I::out_size)
                                         .field("taps", &I::taps)
                                         .field("out_slot", &I::out_slot)
                                         .field("taps_slot", &I::taps_slot)
                                         .field("packed_slot", &I::packed_slot)
                                         .field("has_bias", &I::has_bias)
                                         .field("residual", &I::residual)
                                         .field("relu", &I::relu)
                                         .build();
  const char* src = "kernels/conv.cpp";
  const char* fast = "kernels/fast_conv.cpp";
  t.push_back({"rtml_f32_conv__ref", rtml_f32_conv__ref, &conv, "X, W, B?, Y", src, true});
  t.push_back({"rtml_f32_conv_transpose__ref", rtml_f32_conv_transpose__ref, &conv, "X, W, B?, Y", src, true});
  t.push_back({"rtml_f32_batchnorm__ref", rtml_f32_batchnorm__ref, &bn, "X, scale, B, mean, var, Y", src, true});
  t.push_back({"rtml_f32_batchnorm_training__ref", rtml_f32_batchnorm_training__ref, &bn,
               "X, scale, B, mean, var, Y, running_mean?, running_var?", src, true});
  t.push_back({"rtml_f32_conv1d__fast_hwy", rtml_f32_conv1d__fast_hwy, &fast1d, "X, W, B?, Y, addend?, scratch", fast,
               false});
  t.back().parallel = true;
  t.push_back({"rtml_f32_conv2d__fast_hwy", rtml_f32_conv2d__fast_hwy, &fast2d, "X, W, B?, Y, addend?, scratch", fast,
               false});
  t.back().parallel = true;
  t.push_back({"rtml_f32_conv__im2row_hwy", rtml_f32_conv__im2row_hwy, &im2row,
               "X, W, B?, Y, tap_offsets, packed_w, addend?, scratch", fast, false});
  t.back().parallel = true;
  // With an elementwise chain in the store (kernels/elementwise_chain.h).
  static const ParamsLayout conv_chain =
      chain_params_layout("rtml_conv_chain_params", "conv", &rtml_conv_chain_params::conv, conv);
  static const ParamsLayout fast1d_chain = chain_params_layout(
      "rtml_fast_conv1d_chain_params", "conv", &rtml_fast_conv1d_chain_params::conv, fast1d);
  static const ParamsLayout fast2d_chain = chain_params_layout(
      "rtml_fast_conv2d_chain_params", "conv", &rtml_fast_conv2d_chain_params::conv, fast2d);
  static const ParamsLayout im2row_chain = chain_params_layout(
      "rtml_im2row_conv_chain_params", "conv", &rtml_im2row_conv_chain_params::conv, im2row);
  t.push_back({"rtml_f32_conv_chain__ref", rtml_f32_conv_chain__ref, &conv_chain, "X, W, B?, Y, chain inputs...", src,
               true});
  t.push_back({"rtml_f32_conv1d_chain__fast_hwy", rtml_f32_conv1d_chain__fast_hwy, &fast1d_chain,
               "X, W, B?, Y, addend?, chain inputs..., scratch", fast, false});
  t.back().parallel = true;
  t.push_back({"rtml_f32_conv2d_chain__fast_hwy", rtml_f32_conv2d_chain__fast_hwy, &fast2d_chain,
               "X, W, B?, Y, addend?, chain inputs..., scratch", fast, false});
  t.back().parallel = true;
  t.push_back({"rtml_f32_conv_chain__im2row_hwy", rtml_f32_conv_chain__im2row_hwy, &im2row_chain,
               "X, W, B?, Y, tap_offsets, packed_w, addend?, chain inputs..., scratch", fast, false});
  t.back().parallel = true;
}

}  // namespace rtml::kernels
