/* A program whose instruction counts are known by construction: one
 * "inference" of three steps, each a subs/bne loop run N times (2N
 * instructions), written in assembly so that nothing else happens between
 * the markers. main runs the inference twice. cortexm_harness.cpp derives
 * the expected counts (see there); a file named "hang" in the work folder
 * makes the program loop forever instead (the runner's time-limit path). */
#include "rtml_markers.h"
#include "rtml_semihost.h"

void rtml_test_inference(void);

/* The loop counts cortexm_harness.cpp expects: keep the two in step. */
__asm__(
    "  .text\n"
    "  .syntax unified\n"
    "  .thumb\n"
    "  .global rtml_test_inference\n"
    "  .type rtml_test_inference, %function\n"
    "  .thumb_func\n"
    "rtml_test_inference:\n"
    "  push {r4, lr}\n"
    "  bl rtml_inference_begin\n"
    "  bl rtml_step_begin\n"
    "  movw r0, #1000\n"
    "1: subs r0, r0, #1\n"
    "  bne 1b\n"
    "  bl rtml_step_begin\n"
    "  movw r0, #2500\n"
    "2: subs r0, r0, #1\n"
    "  bne 2b\n"
    "  bl rtml_step_begin\n"
    "  movw r0, #7\n"
    "3: subs r0, r0, #1\n"
    "  bne 3b\n"
    "  bl rtml_inference_end\n"
    "  pop {r4, pc}\n"
    "  .size rtml_test_inference, .-rtml_test_inference\n");

int main(void) {
#if defined(__ARM_FEATURE_MVE)
  /* An MVE instruction: faults (UsageFault, exit 3) unless startup enabled MVE. */
  __asm__ volatile("vdup.32 q0, %0" ::"r"(7) : "s0", "s1", "s2", "s3");
#endif
  if (rtml_semihost_file_size("hang") >= 0)
    for (;;) {
    }
  rtml_test_inference();
  rtml_test_inference();
  rtml_semihost_print_line("rtml: count test done");
  return 0;
}
