// Calls a kernel table entry (kernels/rtml_kernel.h) with its operands in
// order, the way a step does: call(rtml_f32_softmax__ref, &params, {x, y}).
#pragma once

#include <initializer_list>
#include <vector>

#include "kernels/rtml_kernel.h"

inline int call(rtml_kernel_fn fn, const void* params, std::initializer_list<const void*> operands) {
  std::vector<void*> ptrs;
  for (const void* p : operands) ptrs.push_back(const_cast<void*>(p));
  return fn(params, ptrs.data());
}
