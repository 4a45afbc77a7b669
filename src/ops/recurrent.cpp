#include "ops/op.h"

namespace rtml::ops {

void register_recurrent(Registry&) {}

}  // namespace rtml::ops
