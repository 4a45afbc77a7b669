// Prepare-time helpers of kernels/normalize.h (host only: they use the C++
// library, the kernels do not).
#pragma once

#include <vector>

#include "core/dtype.h"
#include "kernels/normalize.h"

namespace rtml::kernels {

// Fills the kept/reduced layout of `p` for an input of `shape` where
// reduced[d] marks the reduced dims. Returns false if a group needs more
// than kMaxRank dims (cannot happen for rank <= kMaxRank).
bool make_reduce(const Shape& shape, const std::vector<bool>& reduced, ReduceParams& p);

// Fills the normalized dims and the Scale / B strides of `p` for a
// normalized shape `norm` and Scale / B of `scale` / `bias` (bias may be
// nullptr). Returns false unless both broadcast to `norm` (leading 1s beyond
// the normalized rank are allowed) and `norm` has at most kMaxRank dims.
bool make_layer_norm_affine(const Shape& norm, const Shape& scale, const Shape* bias, LayerNormParams& p);

}  // namespace rtml::kernels
