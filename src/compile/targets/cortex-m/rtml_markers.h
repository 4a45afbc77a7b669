/* rtml Cortex-M projects: markers for instruction counting under QEMU.
 *
 * The counting plugin (tools/qemu-plugin/rtml_insn_count.c) watches the
 * first instruction of these three functions: an inference runs from
 * rtml_inference_begin to rtml_inference_end, and each rtml_step_begin
 * opens a segment that lasts until the next marker (the k-th segment of an
 * inference is its k-th step). Generated code calls RTML_STEP_BEGIN()
 * before each step; the test main calls RTML_INFERENCE_BEGIN() and
 * RTML_INFERENCE_END() around the model's run function.
 *
 * The macros call the markers only when RTML_MARKERS is defined (the QEMU
 * test projects' Makefile defines it); otherwise they are empty and a
 * build for a real board has no trace of them. */
#ifndef RTML_MARKERS_H
#define RTML_MARKERS_H

#ifdef __cplusplus
extern "C" {
#endif

void rtml_inference_begin(void);
void rtml_step_begin(void);
void rtml_inference_end(void);

#ifdef __cplusplus
}
#endif

#ifdef RTML_MARKERS
#define RTML_INFERENCE_BEGIN() rtml_inference_begin()
#define RTML_STEP_BEGIN() rtml_step_begin()
#define RTML_INFERENCE_END() rtml_inference_end()
#else
#define RTML_INFERENCE_BEGIN() ((void)0)
#define RTML_STEP_BEGIN() ((void)0)
#define RTML_INFERENCE_END() ((void)0)
#endif

#endif
