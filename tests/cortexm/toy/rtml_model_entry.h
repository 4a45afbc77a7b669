/* A hand-written stand-in for what `rtml compile` writes: the toy model
 * y = 2x + 1 on 10 floats, in two steps through the arena (t = 2x; y = t + 1). */
#ifndef RTML_MODEL_ENTRY_H
#define RTML_MODEL_ENTRY_H

#include "toy_model.h"

#define RTML_ARENA_BYTES 40
#define RTML_NUM_INPUTS 1
#define RTML_NUM_OUTPUTS 1
static const unsigned long rtml_input_bytes[RTML_NUM_INPUTS] = {40};
static const unsigned long rtml_output_bytes[RTML_NUM_OUTPUTS] = {40};
#define RTML_RUN(arena, inputs, outputs) toy_run((arena), (inputs), (outputs))
#define RTML_RESET(arena) toy_reset(arena)

#endif
