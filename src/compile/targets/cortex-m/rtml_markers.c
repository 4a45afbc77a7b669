/* The three marker functions (rtml_markers.h). Each stores a different
 * value so that no compiler or linker can fold two of them into one
 * address; noinline and noipa keep each a real call with its own entry. */
#include "rtml_markers.h"

volatile unsigned rtml_marker_last;

#define RTML_MARKER __attribute__((noinline, noipa, used))

RTML_MARKER void rtml_inference_begin(void) { rtml_marker_last = 1; }
RTML_MARKER void rtml_step_begin(void) { rtml_marker_last = 2; }
RTML_MARKER void rtml_inference_end(void) { rtml_marker_last = 3; }
