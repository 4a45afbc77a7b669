// Kernel table entries of kernels/pool.h (MaxPool, AveragePool, LpPool, global pools).
#include "kernels/pool.h"
#include "kernels/table.h"

namespace rtml::kernels {

void add_pool_kernels(std::vector<KernelInfo>& t) {
  using P = rtml_pool_params;
  static const ParamsLayout pool = layout<P>("rtml_pool_params")
                                       .field("spatial", &P::spatial)
                                       .field("planes", &P::planes)
                                       .field("in_shape", &P::in_shape)
                                       .field("out_shape", &P::out_shape)
                                       .field("kernel", &P::kernel)
                                       .field("stride", &P::stride)
                                       .field("dilation", &P::dilation)
                                       .field("pad_begin", &P::pad_begin)
                                       .field("pad_end", &P::pad_end)
                                       .field("in_size", &P::in_size)
                                       .field("out_size", &P::out_size)
                                       .field("kernel_size", &P::kernel_size)
                                       .field("count_include_pad", &P::count_include_pad)
                                       .field("storage_order", &P::storage_order)
                                       .field("has_indices", &P::has_indices)
                                       .field("p", &P::p)
                                       .build();
  using G = rtml_global_pool_params;
  static const ParamsLayout global = layout<G>("rtml_global_pool_params")
                                         .field("planes", &G::planes)
                                         .field("size", &G::size)
                                         .field("p", &G::p)
                                         .build();
  const char* src = "kernels/pool.cpp";
#define RTML_POOL_ENTRIES(ty, T)                                                                              \
  t.push_back({"rtml_" #ty "_maxpool__ref", rtml_##ty##_maxpool__ref, &pool, "X, Y, Indices?", src, true}); \
  t.push_back({"rtml_" #ty "_global_maxpool__ref", rtml_##ty##_global_maxpool__ref, &global, "X, Y", src, true});
  RTML_MAXPOOL_TYPES(RTML_POOL_ENTRIES)
#undef RTML_POOL_ENTRIES
  t.push_back({"rtml_f32_avgpool__ref", rtml_f32_avgpool__ref, &pool, "X, Y", src, true});
  t.push_back({"rtml_s8_avgpool__ref", rtml_s8_avgpool__ref, &pool, "X, Y", src, true});
  t.push_back({"rtml_u8_avgpool__ref", rtml_u8_avgpool__ref, &pool, "X, Y", src, true});
  t.push_back({"rtml_f32_lppool__ref", rtml_f32_lppool__ref, &pool, "X, Y", src, true});
  t.push_back({"rtml_f32_global_avgpool__ref", rtml_f32_global_avgpool__ref, &global, "X, Y", src, true});
  t.push_back({"rtml_f32_global_lppool__ref", rtml_f32_global_lppool__ref, &global, "X, Y", src, true});
  t.push_back({"rtml_f32_maxpool__hwy", rtml_f32_maxpool__hwy, &pool, "X, Y", "kernels/fast_pool.cpp", false});
  t.push_back({"rtml_f32_avgpool__hwy", rtml_f32_avgpool__hwy, &pool, "X, Y", "kernels/fast_pool.cpp", false});
  t.push_back({"rtml_s8_maxpool__hwy", rtml_s8_maxpool__hwy, &pool, "X, Y", "kernels/fast_pool.cpp", false});
  t.push_back({"rtml_u8_maxpool__hwy", rtml_u8_maxpool__hwy, &pool, "X, Y", "kernels/fast_pool.cpp", false});
}

}  // namespace rtml::kernels
