// Shared by the backends that read their runtime's own profiler (torch,
// onnxruntime): the last step of an OpProfile once every call is collected.
// Stateless, so plugins compile it in (backends/plugin.h).
#pragma once

#include <vector>

#include "backends/backend.h"

namespace rtml::backends {

// Sets each row's median_us from `calls_us[row]` (every call's time of that
// row; may be reordered), sorts the rows by total time (largest first), moves
// the events to the rows' new indices and sorts them by run, start and depth.
void finish_op_profile(OpProfile& profile, std::vector<std::vector<double>>& calls_us);

}  // namespace rtml::backends
