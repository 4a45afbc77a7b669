/* rtml Cortex-M projects: vector table and reset handler.
 *
 * Reset_Handler enables the FPU (and with it MVE on Armv8.1-M: both use
 * coprocessors 10 and 11), copies .data from flash, zeroes .bss, paints the
 * stack below itself with RTML_STACK_PAINT (rtml_stack_high_water() finds
 * the deepest word that changed), runs main and exits through semihosting
 * with main's status. A fault prints its name and exits with status 3.
 * Symbols come from the board's linker script (rtml_sections.ld). */
#include <stdint.h>

#include "rtml_semihost.h"
#include "rtml_stack.h"

extern uint32_t __data_start[], __data_end[], __data_source[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_bottom[], __stack_top[];

int main(void);
void Reset_Handler(void);

#define RTML_CPACR (*(volatile uint32_t*)0xE000ED88u)
#define RTML_STACK_PAINT 0xC5C5C5C5u

static void fault(const char* what) {
  rtml_semihost_print_line(what);
  rtml_semihost_exit(3);
}

static void nmi_handler(void) { fault("rtml: NMI"); }
static void hard_fault_handler(void) { fault("rtml: HardFault (a bad address, an unaligned FP or vector access, or an escalated fault)"); }
static void mem_manage_handler(void) { fault("rtml: MemManage fault"); }
static void bus_fault_handler(void) { fault("rtml: BusFault (an address outside the board's memory)"); }
static void usage_fault_handler(void) { fault("rtml: UsageFault (undefined instruction, FPU/MVE off, or division by zero)"); }
static void secure_fault_handler(void) { fault("rtml: SecureFault"); }
static void unexpected_handler(void) { fault("rtml: unexpected exception"); }

typedef void (*rtml_vector)(void);

/* The 16 system entries; no external interrupt is enabled. */
__attribute__((section(".vectors"), used)) const rtml_vector rtml_vectors[16] = {
    (rtml_vector)(uintptr_t)__stack_top,
    Reset_Handler,
    nmi_handler,
    hard_fault_handler,
    mem_manage_handler,
    bus_fault_handler,
    usage_fault_handler,
    secure_fault_handler,
    0,
    0,
    0,
    unexpected_handler, /* SVCall */
    unexpected_handler, /* DebugMonitor */
    0,
    unexpected_handler, /* PendSV */
    unexpected_handler, /* SysTick */
};

static uint32_t* current_sp(void) {
  uint32_t* sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

/* Memory setup in its own function, so that nothing the compiler makes of
 * these loops runs before the FPU is on. */
__attribute__((noinline)) static void init_memory(void) {
  for (uint32_t *src = __data_source, *dst = __data_start; dst < __data_end;) *dst++ = *src++;
  for (uint32_t* p = __bss_start; p < __bss_end; ++p) *p = 0;
  /* Everything below this frame; nothing runs below sp while we paint. */
  uint32_t* sp = current_sp();
  for (volatile uint32_t* p = __stack_bottom; p < sp; ++p) *p = RTML_STACK_PAINT;
}

__attribute__((section(".text.Reset_Handler"), noreturn)) void Reset_Handler(void) {
  RTML_CPACR |= 0xFu << 20; /* CP10 and CP11: full access (FPU; MVE on M55) */
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  init_memory();
  rtml_semihost_exit(main());
}

unsigned long rtml_stack_high_water(void) {
  const volatile uint32_t* p = __stack_bottom;
  while (p < __stack_top && *p == RTML_STACK_PAINT) ++p;
  return (unsigned long)((uintptr_t)__stack_top - (uintptr_t)p);
}

unsigned long rtml_stack_size(void) { return (unsigned long)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom); }
