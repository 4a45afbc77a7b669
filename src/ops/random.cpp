#include "ops/op.h"

namespace rtml::ops {

void register_random(Registry&) {}

}  // namespace rtml::ops
