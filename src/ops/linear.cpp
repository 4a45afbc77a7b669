#include "ops/op.h"

namespace rtml::ops {

void register_linear(Registry&) {}

}  // namespace rtml::ops
