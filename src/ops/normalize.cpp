#include "ops/op.h"

namespace rtml::ops {

void register_normalize(Registry&) {}

}  // namespace rtml::ops
