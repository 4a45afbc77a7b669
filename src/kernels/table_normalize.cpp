// Kernel table entries of kernels/normalize.h (Softmax family, Layer-,
// Instance-, LpNormalization, the Reduce* ops, ArgMax / ArgMin).
#include "kernels/fast_softmax.h"
#include "kernels/normalize.h"
#include "kernels/table.h"

namespace rtml::kernels {

void add_normalize_kernels(std::vector<KernelInfo>& t) {
  static const ParamsLayout axis = layout<rtml_axis_params>("rtml_axis_params")
                                       .field("outer", &rtml_axis_params::outer)
                                       .field("n", &rtml_axis_params::n)
                                       .field("inner", &rtml_axis_params::inner)
                                       .build();
  static const ParamsLayout layer_norm = layout<rtml_layer_norm_params>("rtml_layer_norm_params")
                                             .field("outer", &rtml_layer_norm_params::outer)
                                             .field("n", &rtml_layer_norm_params::n)
                                             .field("epsilon", &rtml_layer_norm_params::epsilon)
                                             .field("has_bias", &rtml_layer_norm_params::has_bias)
                                             .field("num_inputs", &rtml_layer_norm_params::num_inputs)
                                             .field("num_outputs", &rtml_layer_norm_params::num_outputs)
                                             .field("rank", &rtml_layer_norm_params::rank)
                                             .field("shape", &rtml_layer_norm_params::shape)
                                             .field("scale_stride", &rtml_layer_norm_params::scale_stride)
                                             .field("bias_stride", &rtml_layer_norm_params::bias_stride)
                                             .build();
  static const ParamsLayout instance_norm = layout<rtml_instance_norm_params>("rtml_instance_norm_params")
                                                .field("batch", &rtml_instance_norm_params::batch)
                                                .field("channels", &rtml_instance_norm_params::channels)
                                                .field("spatial", &rtml_instance_norm_params::spatial)
                                                .field("epsilon", &rtml_instance_norm_params::epsilon)
                                                .build();
  static const ParamsLayout lp_norm = layout<rtml_lp_norm_params>("rtml_lp_norm_params")
                                          .nested("axis", &rtml_lp_norm_params::axis, axis)
                                          .field("p", &rtml_lp_norm_params::p)
                                          .build();
  static const ParamsLayout reduce = layout<rtml_reduce_params>("rtml_reduce_params")
                                         .field("kept_rank", &rtml_reduce_params::kept_rank)
                                         .field("red_rank", &rtml_reduce_params::red_rank)
                                         .field("kept_shape", &rtml_reduce_params::kept_shape)
                                         .field("kept_stride", &rtml_reduce_params::kept_stride)
                                         .field("red_shape", &rtml_reduce_params::red_shape)
                                         .field("red_stride", &rtml_reduce_params::red_stride)
                                         .field("out_count", &rtml_reduce_params::out_count)
                                         .field("red_count", &rtml_reduce_params::red_count)
                                         .field("out_slot", &rtml_reduce_params::out_slot)
                                         .build();
  static const ParamsLayout arg = layout<rtml_arg_params>("rtml_arg_params")
                                      .nested("axis", &rtml_arg_params::axis, axis)
                                      .field("select_last_index", &rtml_arg_params::select_last_index)
                                      .build();
  const char* src = "kernels/normalize.cpp";
  auto add = [&](const char* symbol, rtml_kernel_fn fn, const ParamsLayout& params, const char* operands) {
    t.push_back({symbol, fn, &params, operands, src, true});
  };
#define RTML_NORMALIZE_FLOAT_ENTRIES(ty, T)                                                              \
  add("rtml_" #ty "_softmax__ref", rtml_##ty##_softmax__ref, axis, "X, Y");                              \
  add("rtml_" #ty "_log_softmax__ref", rtml_##ty##_log_softmax__ref, axis, "X, Y");                      \
  add("rtml_" #ty "_hardmax__ref", rtml_##ty##_hardmax__ref, axis, "X, Y");                              \
  add("rtml_" #ty "_layer_norm__ref", rtml_##ty##_layer_norm__ref, layer_norm,                           \
      "X, Scale, B?, Y, Mean?, InvStdDev?");                                                              \
  add("rtml_" #ty "_instance_norm__ref", rtml_##ty##_instance_norm__ref, instance_norm, "X, scale, B, Y"); \
  add("rtml_" #ty "_lp_norm__ref", rtml_##ty##_lp_norm__ref, lp_norm, "X, Y");
  RTML_NORMALIZE_FLOAT_TYPES(RTML_NORMALIZE_FLOAT_ENTRIES)
#undef RTML_NORMALIZE_FLOAT_ENTRIES
#define RTML_REDUCE_ENTRY(ty, kind) \
  add("rtml_" #ty "_reduce_" #kind "__ref", rtml_##ty##_reduce_##kind##__ref, reduce, "X, axes?, Y");
#define RTML_NORMALIZE_ANY_ENTRIES(ty, T)                                                                 \
  RTML_REDUCE_ENTRY(ty, sum) RTML_REDUCE_ENTRY(ty, mean) RTML_REDUCE_ENTRY(ty, max)                       \
  RTML_REDUCE_ENTRY(ty, min) RTML_REDUCE_ENTRY(ty, prod) RTML_REDUCE_ENTRY(ty, l1) RTML_REDUCE_ENTRY(ty, l2) \
  RTML_REDUCE_ENTRY(ty, log_sum) RTML_REDUCE_ENTRY(ty, log_sum_exp) RTML_REDUCE_ENTRY(ty, sum_square)     \
  add("rtml_" #ty "_argmax__ref", rtml_##ty##_argmax__ref, arg, "X, Y");                                  \
  add("rtml_" #ty "_argmin__ref", rtml_##ty##_argmin__ref, arg, "X, Y");
  RTML_NORMALIZE_ANY_TYPES(RTML_NORMALIZE_ANY_ENTRIES)
#undef RTML_NORMALIZE_ANY_ENTRIES
#undef RTML_REDUCE_ENTRY
  // Highway (not portable): Softmax, LayerNormalization, ReduceSum and ReduceMean over contiguous rows.
  t.push_back({"rtml_f32_softmax__hwy", rtml_f32_softmax__hwy, &axis, "X, Y", "kernels/fast_softmax.cpp", false});
  t.push_back({"rtml_f32_reduce_sum__hwy", rtml_f32_reduce_sum__hwy, &reduce, "X, axes?, Y", "kernels/fast_softmax.cpp",
               false});
  t.push_back({"rtml_f32_reduce_mean__hwy", rtml_f32_reduce_mean__hwy, &reduce, "X, axes?, Y", "kernels/fast_softmax.cpp",
               false});
  t.push_back({"rtml_f32_layer_norm__hwy", rtml_f32_layer_norm__hwy, &layer_norm, "X, Scale, B?, Y, Mean?, InvStdDev?",
               "kernels/fast_softmax.cpp", false});
}

}  // namespace rtml::kernels
