// Kernel table entries of kernels/tensor_ops.h (the data-movement ops).
#include "kernels/table.h"
#include "kernels/tensor_ops.h"

namespace rtml::kernels {

void add_tensor_ops_kernels(std::vector<KernelInfo>& t) {
  using C = rtml_copy_params;
  static const ParamsLayout copy =
      layout<C>("rtml_copy_params").field("bytes", &C::bytes).field("in_slot", &C::in_slot).field("out_slot", &C::out_slot).build();
  using D = rtml_dropout_params;
  static const ParamsLayout dropout = layout<D>("rtml_dropout_params")
                                          .field("bytes", &D::bytes)
                                          .field("mask_count", &D::mask_count)
                                          .field("out_slot", &D::out_slot)
                                          .field("mask_slot", &D::mask_slot)
                                          .field("training_slot", &D::training_slot)
                                          .field("ratio_slot", &D::ratio_slot)
                                          .field("ratio_bytes", &D::ratio_bytes)
                                          .field("ratio_zero", &D::ratio_zero)
                                          .build();
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
                                          .field("out_offset", &S::out_offset)
                                          .field("out_strides", &S::out_strides)
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
  using E = rtml_elements_params;
  static const ParamsLayout elements = layout<E>("rtml_elements_params")
                                           .field("rank", &E::rank)
                                           .field("axis", &E::axis)
                                           .field("index_size", &E::index_size)
                                           .field("count", &E::count)
                                           .field("axis_dim", &E::axis_dim)
                                           .field("data_bytes", &E::data_bytes)
                                           .field("shape", &E::shape)
                                           .field("data_strides", &E::data_strides)
                                           .build();
  using GN = rtml_gather_nd_params;
  static const ParamsLayout gather_nd = layout<GN>("rtml_gather_nd_params")
                                            .field("k", &GN::k)
                                            .field("index_size", &GN::index_size)
                                            .field("batch", &GN::batch)
                                            .field("tuples", &GN::tuples)
                                            .field("data_batch_bytes", &GN::data_batch_bytes)
                                            .field("inner_bytes", &GN::inner_bytes)
                                            .field("dims", &GN::dims)
                                            .field("strides_bytes", &GN::strides_bytes)
                                            .build();
  using SN = rtml_scatter_nd_params;
  static const ParamsLayout scatter_nd = layout<SN>("rtml_scatter_nd_params")
                                             .field("k", &SN::k)
                                             .field("data_bytes", &SN::data_bytes)
                                             .field("tuples", &SN::tuples)
                                             .field("inner", &SN::inner)
                                             .field("dims", &SN::dims)
                                             .field("strides", &SN::strides)
                                             .build();
  using Ey = rtml_eye_params;
  static const ParamsLayout eye = layout<Ey>("rtml_eye_params")
                                      .field("rows", &Ey::rows)
                                      .field("cols", &Ey::cols)
                                      .field("k", &Ey::k)
                                      .field("one", &Ey::one)
                                      .field("out_slot", &Ey::out_slot)
                                      .build();
  using RS = rtml_reverse_sequence_params;
  static const ParamsLayout reverse = layout<RS>("rtml_reverse_sequence_params")
                                          .field("time_outer", &RS::time_outer)
                                          .field("time", &RS::time)
                                          .field("batch", &RS::batch)
                                          .field("inner_bytes", &RS::inner_bytes)
                                          .build();
  using Tr = rtml_trilu_params;
  static const ParamsLayout trilu = layout<Tr>("rtml_trilu_params")
                                        .field("upper", &Tr::upper)
                                        .field("k_runtime", &Tr::k_runtime)
                                        .field("batch", &Tr::batch)
                                        .field("rows", &Tr::rows)
                                        .field("cols", &Tr::cols)
                                        .field("k", &Tr::k)
                                        .field("out_slot", &Tr::out_slot)
                                        .build();
  using Rg = rtml_range_params;
  static const ParamsLayout range = layout<Rg>("rtml_range_params").field("n", &Rg::n).build();
  const char* src = "kernels/tensor_ops.cpp";
  auto add = [&](const char* symbol, rtml_kernel_fn fn, const ParamsLayout& params, const char* operands) {
    t.push_back({symbol, fn, &params, operands, src, true});
  };
  add("rtml_x8_copy__ref", rtml_x8_copy__ref, copy, "X?, Y, src?");
  add("rtml_x8_dropout__ref", rtml_x8_dropout__ref, dropout, "X, ratio?, training_mode?, Y, mask?");
  add("rtml_x8_concat__ref", rtml_x8_concat__ref, concat, "X0..Xn-1, Y, blocks");
  add("rtml_x8_split__ref", rtml_x8_split__ref, split, "X, split?, Y0..Yn-1, blocks");
  add("rtml_x8_gather__ref", rtml_x8_gather__ref, gather, "data, indices, Y");
  add("rtml_x8_gather_nd__ref", rtml_x8_gather_nd__ref, gather_nd, "data, indices, Y");
  add("rtml_x8_reverse_sequence__ref", rtml_x8_reverse_sequence__ref, reverse, "X, sequence_lens, Y");
#define RTML_TENSOR_OPS_ENTRIES(x, W)                                                                  \
  add("rtml_" #x "_fill__ref", rtml_##x##_fill__ref, fill, "shape, Y");                                \
  add("rtml_" #x "_transpose__ref", rtml_##x##_transpose__ref, strided, "X, Y");                       \
  add("rtml_" #x "_slice__ref", rtml_##x##_slice__ref, strided, "X, starts, ends, axes?, steps?, Y");  \
  add("rtml_" #x "_expand__ref", rtml_##x##_expand__ref, strided, "X, shape, Y");                      \
  add("rtml_" #x "_tile__ref", rtml_##x##_tile__ref, strided, "X, repeats, Y");                        \
  add("rtml_" #x "_depth_to_space__ref", rtml_##x##_depth_to_space__ref, strided, "X, Y");             \
  add("rtml_" #x "_space_to_depth__ref", rtml_##x##_space_to_depth__ref, strided, "X, Y");             \
  add("rtml_" #x "_pad__ref", rtml_##x##_pad__ref, pad, "X, pads, value?, axes?, Y");                 \
  add("rtml_" #x "_gather_elements__ref", rtml_##x##_gather_elements__ref, elements, "data, indices, Y"); \
  add("rtml_" #x "_scatter_elements__ref", rtml_##x##_scatter_elements__ref, elements,                  \
      "data, indices, updates, Y");                                                                      \
  add("rtml_" #x "_scatter_nd__ref", rtml_##x##_scatter_nd__ref, scatter_nd, "data, indices, updates, Y"); \
  add("rtml_" #x "_eye_like__ref", rtml_##x##_eye_like__ref, eye, "X, Y");                              \
  add("rtml_" #x "_trilu__ref", rtml_##x##_trilu__ref, trilu, "X, k?, Y");
  RTML_TENSOR_OPS_SIZES(RTML_TENSOR_OPS_ENTRIES)
#undef RTML_TENSOR_OPS_ENTRIES
#define RTML_SCATTER_ENTRY(t, red)                                                                        \
  add("rtml_" #t "_scatter_elements_" #red "__ref", rtml_##t##_scatter_elements_##red##__ref, elements,   \
      "data, indices, updates, Y");                                                                        \
  add("rtml_" #t "_scatter_nd_" #red "__ref", rtml_##t##_scatter_nd_##red##__ref, scatter_nd,             \
      "data, indices, updates, Y");
#define RTML_SCATTER_ENTRIES(t, T) \
  RTML_SCATTER_ENTRY(t, add) RTML_SCATTER_ENTRY(t, mul) RTML_SCATTER_ENTRY(t, max) RTML_SCATTER_ENTRY(t, min)
  RTML_SCATTER_TYPES(RTML_SCATTER_ENTRIES)
#undef RTML_SCATTER_ENTRIES
#undef RTML_SCATTER_ENTRY
#define RTML_RANGE_ENTRY(t, T) add("rtml_" #t "_range__ref", rtml_##t##_range__ref, range, "start, limit, delta, Y");
  RTML_RANGE_TYPES(RTML_RANGE_ENTRY)
#undef RTML_RANGE_ENTRY
}

}  // namespace rtml::kernels
