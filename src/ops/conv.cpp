#include "ops/op.h"

namespace rtml::ops {

void register_conv(Registry&) {}

}  // namespace rtml::ops
