/* rtml Cortex-M projects: the stack's high-water mark. startup.c paints the
 * stack at reset; the deepest word that no longer holds the paint is the
 * most the program has used so far (bytes from the top of the stack). */
#ifndef RTML_STACK_H
#define RTML_STACK_H

#ifdef __cplusplus
extern "C" {
#endif

unsigned long rtml_stack_high_water(void);
unsigned long rtml_stack_size(void);

#ifdef __cplusplus
}
#endif

#endif
