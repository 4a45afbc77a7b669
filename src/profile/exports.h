// profile/exports: a profile (rtml.profile/1 JSON) in other tools' formats.
//
//   chrome_trace   Chrome's Trace Event Format (JSON object form), which
//                  Perfetto UI and chrome://tracing load: one process and one
//                  thread; per traced run a complete ("X") event "run N" with
//                  the op calls as complete events inside it (torch: nested
//                  calls nest); a counter ("C") track "RSS" from the memory
//                  timeline; metadata ("M") events naming the process and
//                  thread. Times in µs on the memory timeline's clock (0 =
//                  the start of the timed pass).
//   speedscope     speedscope's file format
//                  (https://www.speedscope.app/file-format-schema.json): an
//                  "evented" profile of the traced runs (frame "run", the ops
//                  opened and closed inside it) and, given perf's folded
//                  stacks, a "sampled" profile of them (weights = samples).
//   folded text    profile/sampler.h's folded_text.
// Both work from the JSON alone (plus the folded stacks), so a stored profile
// can be exported again.
#pragma once

#include <nlohmann/json.hpp>

#include "profile/sampler.h"

namespace rtml::profile {

nlohmann::json chrome_trace(const nlohmann::json& profile);
nlohmann::json speedscope(const nlohmann::json& profile, const FoldedStacks* folded = nullptr);

}  // namespace rtml::profile
