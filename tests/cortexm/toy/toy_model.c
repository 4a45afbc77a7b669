#include "rtml_markers.h"
#include "toy_model.h"

void toy_reset(void* arena) { (void)arena; }

int toy_run(void* arena, const void* const* inputs, void* const* outputs) {
  const float* x = inputs[0];
  float* t = arena;
  float* y = outputs[0];
  RTML_STEP_BEGIN();
  for (int i = 0; i < 10; ++i) t[i] = 2.0f * x[i];
  RTML_STEP_BEGIN();
  for (int i = 0; i < 10; ++i) y[i] = t[i] + 1.0f;
  return 0;
}
