// Kernel table entries of kernels/random.h (RandomNormal(Like), RandomUniform(Like)).
#include "kernels/random.h"
#include "kernels/table.h"

namespace rtml::kernels {

void add_random_kernels(std::vector<KernelInfo>& t) {
  static const ParamsLayout random = layout<rtml_random_params>("rtml_random_params")
                                         .field("count", &rtml_random_params::count)
                                         .field("a", &rtml_random_params::a)
                                         .field("b", &rtml_random_params::b)
                                         .field("seed_lo", &rtml_random_params::seed_lo)
                                         .field("seed_hi", &rtml_random_params::seed_hi)
                                         .field("out_slot", &rtml_random_params::out_slot)
                                         .field("state_slot", &rtml_random_params::state_slot)
                                         .build();
  const char* src = "kernels/random.cpp";
  auto add = [&](const char* symbol, rtml_kernel_fn fn) {
    t.push_back({symbol, fn, &random, "in?, Y, state", src, true, nullptr, rtml_random_reset__ref, "rtml_random_reset__ref"});
  };
  add("rtml_f32_random_normal__ref", rtml_f32_random_normal__ref);
  add("rtml_f64_random_normal__ref", rtml_f64_random_normal__ref);
  add("rtml_f32_random_uniform__ref", rtml_f32_random_uniform__ref);
  add("rtml_f64_random_uniform__ref", rtml_f64_random_uniform__ref);
}

}  // namespace rtml::kernels
