// Prepare-time broadcasting (host only, uses the C++ library): the output
// shape of NumPy-broadcast inputs and the rtml_broadcast walk kernels take
// (kernels/broadcast.h).
#pragma once

#include <vector>

#include "core/dtype.h"
#include "kernels/broadcast.h"

namespace rtml::kernels {

// The broadcast output shape of `shapes`; returns false if they are incompatible.
bool broadcast_shape(const std::vector<Shape>& shapes, Shape& out);
// Fills a Broadcast for inputs of `shapes` producing `out` (from broadcast_shape).
// Returns false if the rank exceeds kMaxRank.
bool make_broadcast(const std::vector<Shape>& shapes, const Shape& out, Broadcast& b);

}  // namespace rtml::kernels
