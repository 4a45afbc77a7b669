/* rtml Cortex-M projects: the test main for running a compiled model under
 * QEMU (or a board with a debugger) through semihosting.
 *
 * rtml_model_entry.h (written by `rtml compile`) says what the model needs:
 * RTML_ARENA_BYTES, RTML_NUM_INPUTS, RTML_NUM_OUTPUTS, rtml_input_bytes[],
 * rtml_output_bytes[], RTML_RUN(arena, inputs, outputs) (0 = ok) and
 * RTML_RESET(arena).
 *
 * inputs.bin holds K sets, each every input's bytes in order; main resets
 * the model once, runs the K sets in order (state carries over between
 * them, as in a stream), writes outputs.bin (K sets of every output's
 * bytes) and prints
 *   rtml: sets=K stack_bytes=S arena_bytes=A status=0
 * where S is the stack's high-water mark. Each input and output gets its
 * own 16-byte aligned buffer, so the model never sees a misaligned tensor.
 * Errors print one line starting "rtml: error:" and exit nonzero. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rtml_markers.h"
#include "rtml_model_entry.h"
#include "rtml_semihost.h"
#include "rtml_stack.h"

#define RTML_ALIGN16(n) (((n) + 15ul) & ~15ul)
#define RTML_ARENA_STORAGE (RTML_ARENA_BYTES > 0 ? RTML_ARENA_BYTES : 1)

/* With a RAM budget (rtml compile --ram), the arena alone in the region
 * ARENA of exactly the budget (TARGET_budget.ld): the link fails if it does
 * not fit. */
#ifdef RTML_LEVELS
/* rtml compile --memory: rtml_model_entry.h holds each level in its own
 * section, and RTML_RUN and RTML_RESET use them. */
#define rtml_arena ((void*)0)
#else
#ifdef RTML_ARENA_SECTION
__attribute__((section(".rtml_arena")))
#endif
static unsigned char rtml_arena[RTML_ARENA_STORAGE] __attribute__((aligned(16)));
#endif

static int fail(int status, const char* message) {
  char line[200];
  snprintf(line, sizeof line, "rtml: error: %s", message);
  rtml_semihost_print_line(line);
  return status;
}

static unsigned long sum_bytes(const unsigned long* bytes, int n) {
  unsigned long total = 0;
  for (int i = 0; i < n; ++i) total += bytes[i];
  return total;
}

/* One 16-byte aligned buffer holding n tensors; ptrs[i] gets tensor i. */
static unsigned char* alloc_tensors(const unsigned long* bytes, int n, void** ptrs) {
  unsigned long total = 0;
  for (int i = 0; i < n; ++i) total += RTML_ALIGN16(bytes[i]);
  unsigned char* block = malloc(total + 16);
  if (!block) return NULL;
  unsigned char* base = block + ((16 - ((unsigned long)block & 15)) & 15);
  unsigned long offset = 0;
  for (int i = 0; i < n; ++i) {
    ptrs[i] = base + offset;
    offset += RTML_ALIGN16(bytes[i]);
  }
  return block;
}

int main(void) {
  const unsigned long in_set = sum_bytes(rtml_input_bytes, RTML_NUM_INPUTS);
  const unsigned long out_set = sum_bytes(rtml_output_bytes, RTML_NUM_OUTPUTS);
  long file_bytes = rtml_semihost_file_size("inputs.bin");
  if (file_bytes < 0) return fail(2, "cannot open inputs.bin (run from the folder that holds it)");
  char message[160];
  if (in_set == 0 || file_bytes == 0 || (unsigned long)file_bytes % in_set != 0) {
    snprintf(message, sizeof message, "inputs.bin has %ld bytes, not a positive multiple of one set's %lu bytes",
             file_bytes, in_set);
    return fail(2, message);
  }
  const unsigned long sets = (unsigned long)file_bytes / in_set;

  unsigned char* inputs_file = malloc((size_t)file_bytes);
  unsigned char* outputs_file = malloc(sets * out_set + 1);
  void* inputs[RTML_NUM_INPUTS > 0 ? RTML_NUM_INPUTS : 1];
  void* outputs[RTML_NUM_OUTPUTS > 0 ? RTML_NUM_OUTPUTS : 1];
  unsigned char* in_buffers = alloc_tensors(rtml_input_bytes, RTML_NUM_INPUTS, inputs);
  unsigned char* out_buffers = alloc_tensors(rtml_output_bytes, RTML_NUM_OUTPUTS, outputs);
  if (!inputs_file || !outputs_file || !in_buffers || !out_buffers)
    return fail(2, "inputs.bin and outputs.bin do not fit in the heap (RAM left after the arena and the stack)");
  unsigned long got = 0;
  if (rtml_semihost_read_file("inputs.bin", inputs_file, (unsigned long)file_bytes, &got) != 0 ||
      got != (unsigned long)file_bytes)
    return fail(2, "cannot read inputs.bin");

  RTML_RESET(rtml_arena);
  for (unsigned long k = 0; k < sets; ++k) {
    const unsigned char* src = inputs_file + k * in_set;
    for (int i = 0; i < RTML_NUM_INPUTS; ++i) {
      memcpy(inputs[i], src, rtml_input_bytes[i]);
      src += rtml_input_bytes[i];
    }
    RTML_INFERENCE_BEGIN();
    int status = RTML_RUN(rtml_arena, (const void* const*)inputs, (void* const*)outputs);
    RTML_INFERENCE_END();
    if (status != 0) {
      snprintf(message, sizeof message, "the model failed on set %lu with status %d", k, status);
      return fail(status > 0 && status < 256 ? status : 1, message);
    }
    unsigned char* dst = outputs_file + k * out_set;
    for (int i = 0; i < RTML_NUM_OUTPUTS; ++i) {
      memcpy(dst, outputs[i], rtml_output_bytes[i]);
      dst += rtml_output_bytes[i];
    }
  }
  if (rtml_semihost_write_file("outputs.bin", outputs_file, sets * out_set) != 0)
    return fail(2, "cannot write outputs.bin");

  snprintf(message, sizeof message, "rtml: sets=%lu stack_bytes=%lu arena_bytes=%lu status=0", sets,
           rtml_stack_high_water(), (unsigned long)RTML_ARENA_BYTES);
  rtml_semihost_print_line(message);
  return 0;
}
