/* rtml Cortex-M projects: the few Arm semihosting calls a test main needs
 * (host files and console through the debugger or QEMU's
 * -semihosting-config enable=on). Each call is a BKPT 0xAB trap: on a real
 * board without a debugger attached it faults, so only test builds use it.
 * Paths are relative to the host process's working directory. */
#ifndef RTML_SEMIHOST_H
#define RTML_SEMIHOST_H

#ifdef __cplusplus
extern "C" {
#endif

/* Size of a host file in bytes, or -1 when it cannot be opened. */
long rtml_semihost_file_size(const char* path);

/* Reads the whole host file into buf (capacity bytes); *size gets its size.
 * 0 on success, -1 when it cannot be opened or read or is larger than capacity. */
int rtml_semihost_read_file(const char* path, void* buf, unsigned long capacity, unsigned long* size);

/* Creates (or truncates) a host file and writes size bytes. 0 on success, -1 otherwise. */
int rtml_semihost_write_file(const char* path, const void* buf, unsigned long size);

/* Prints text and a newline on the host's console. */
void rtml_semihost_print_line(const char* text);

/* Ends the program; QEMU exits with status (SYS_EXIT_EXTENDED). */
void rtml_semihost_exit(int status) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif
