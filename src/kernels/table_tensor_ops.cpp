// Kernel table entries of kernels/tensor_ops.h (copy, fill, strided copies,
// Concat, Split, Gather, Pad).
#include "kernels/table.h"
#include "kernels/tensor_ops.h"

namespace rtml::kernels {

void add_tensor_ops_kernels(std::vector<KernelInfo>& t) {
  using C = rtml_copy_params;
  static const ParamsLayout copy =
      layout<C>("rtml_copy_params").field("bytes", &C::bytes).field("in_slot", &C::in_slot).field("out_slot", &C::out_slot).build();
  using F = rtml_fill_params;
  static const ParamsLayout fill =
      layout<F>("rtml_fill_params").field("count", &F::count).field("value", &F::value).field("out_slot", &F::out_slot).build();
  using S = rtml_strided_copy_params;
  static const ParamsLayout strided = layout<S>("rtml_strided_copy_params")
                                          .field("rank", &S::rank)
                                          .field("count", &S::count)
                                          .field("in_offset", &S::in_offset)
                                          .field("shape", &S::shape)
                                          .field("in_strides", &S::in_strides)
                                          .field("out_slot", &S::out_slot)
                                          .build();
  using Cc = rtml_concat_params;
  static const ParamsLayout concat = layout<Cc>("rtml_concat_params")
                                         .field("num_inputs", &Cc::num_inputs)
                                         .field("outer", &Cc::outer)
                                         .field("blocks_slot", &Cc::blocks_slot)
                                         .build();
  using Sp = rtml_split_params;
  static const ParamsLayout split = layout<Sp>("rtml_split_params")
                                        .field("num_outputs", &Sp::num_outputs)
                                        .field("outer", &Sp::outer)
                                        .field("first_out", &Sp::first_out)
                                        .field("blocks_slot", &Sp::blocks_slot)
                                        .build();
  using G = rtml_gather_params;
  static const ParamsLayout gather = layout<G>("rtml_gather_params")
                                         .field("outer", &G::outer)
                                         .field("axis_dim", &G::axis_dim)
                                         .field("inner_bytes", &G::inner_bytes)
                                         .field("num_indices", &G::num_indices)
                                         .field("index_size", &G::index_size)
                                         .build();
  using P = rtml_pad_params;
  static const ParamsLayout pad = layout<P>("rtml_pad_params")
                                      .field("rank", &P::rank)
                                      .field("mode", &P::mode)
                                      .field("count", &P::count)
                                      .field("in_shape", &P::in_shape)
                                      .field("out_shape", &P::out_shape)
                                      .field("pad_begin", &P::pad_begin)
                                      .field("in_strides", &P::in_strides)
                                      .field("value", &P::value)
                                      .field("value_slot", &P::value_slot)
                                      .field("out_slot", &P::out_slot)
                                      .build();
  const char* src = "kernels/tensor_ops.cpp";
  auto add = [&](const char* symbol, rtml_kernel_fn fn, const ParamsLayout& params, const char* operands) {
    t.push_back({symbol, fn, &params, operands, src, true});
  };
  add("rtml_x8_copy__ref", rtml_x8_copy__ref, copy, "X?, Y, src?");
  add("rtml_x8_concat__ref", rtml_x8_concat__ref, concat, "X0..Xn-1, Y, blocks");
  add("rtml_x8_split__ref", rtml_x8_split__ref, split, "X, split?, Y0..Yn-1, blocks");
  add("rtml_x8_gather__ref", rtml_x8_gather__ref, gather, "data, indices, Y");
#define RTML_TENSOR_OPS_ENTRIES(x, W)                                                                  \
  add("rtml_" #x "_fill__ref", rtml_##x##_fill__ref, fill, "shape, Y");                                \
  add("rtml_" #x "_transpose__ref", rtml_##x##_transpose__ref, strided, "X, Y");                       \
  add("rtml_" #x "_slice__ref", rtml_##x##_slice__ref, strided, "X, starts, ends, axes?, steps?, Y");  \
  add("rtml_" #x "_expand__ref", rtml_##x##_expand__ref, strided, "X, shape, Y");                      \
  add("rtml_" #x "_tile__ref", rtml_##x##_tile__ref, strided, "X, repeats, Y");                        \
  add("rtml_" #x "_depth_to_space__ref", rtml_##x##_depth_to_space__ref, strided, "X, Y");             \
  add("rtml_" #x "_space_to_depth__ref", rtml_##x##_space_to_depth__ref, strided, "X, Y");             \
  add("rtml_" #x "_pad__ref", rtml_##x##_pad__ref, pad, "X, pads, value?, axes?, Y");
  RTML_TENSOR_OPS_SIZES(RTML_TENSOR_OPS_ENTRIES)
#undef RTML_TENSOR_OPS_ENTRIES
}

}  // namespace rtml::kernels
