#ifndef TOY_MODEL_H
#define TOY_MODEL_H
int toy_run(void* arena, const void* const* inputs, void* const* outputs);
void toy_reset(void* arena);
#endif
