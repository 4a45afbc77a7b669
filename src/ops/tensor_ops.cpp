#include "ops/op.h"

namespace rtml::ops {

void register_tensor_ops(Registry&) {}

}  // namespace rtml::ops
