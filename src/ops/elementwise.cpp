#include "ops/op.h"

namespace rtml::ops {

void register_elementwise(Registry&) {}

}  // namespace rtml::ops
