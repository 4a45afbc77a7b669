/* Arm semihosting (the "Semihosting for AArch32 and AArch64" spec): the
 * operation number goes in r0, a pointer to its argument block in r1, and
 * BKPT 0xAB (on M-profile) traps to the host, which returns in r0. */
#include "rtml_semihost.h"

#include <string.h>

enum {
  SYS_OPEN = 0x01,
  SYS_CLOSE = 0x02,
  SYS_WRITE0 = 0x04,
  SYS_WRITE = 0x05,
  SYS_READ = 0x06,
  SYS_FLEN = 0x0C,
  SYS_EXIT_EXTENDED = 0x20,
};
enum { OPEN_MODE_RB = 1, OPEN_MODE_WB = 5 };                    /* fopen's "rb" and "wb" */
enum { ADP_STOPPED_APPLICATION_EXIT = 0x20026 };

static long semihost_call(int op, const void* args) {
  register long r0 __asm__("r0") = op;
  register const void* r1 __asm__("r1") = args;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static long open_file(const char* path, long mode) {
  const long args[3] = {(long)path, mode, (long)strlen(path)};
  return semihost_call(SYS_OPEN, args);
}

static void close_file(long handle) {
  const long args[1] = {handle};
  semihost_call(SYS_CLOSE, args);
}

static long file_length(long handle) {
  const long args[1] = {handle};
  return semihost_call(SYS_FLEN, args);
}

long rtml_semihost_file_size(const char* path) {
  long handle = open_file(path, OPEN_MODE_RB);
  if (handle < 0) return -1;
  long size = file_length(handle);
  close_file(handle);
  return size;
}

int rtml_semihost_read_file(const char* path, void* buf, unsigned long capacity, unsigned long* size) {
  long handle = open_file(path, OPEN_MODE_RB);
  if (handle < 0) return -1;
  long length = file_length(handle);
  int status = -1;
  if (length >= 0 && (unsigned long)length <= capacity) {
    const long args[3] = {handle, (long)buf, length};
    /* SYS_READ returns the number of bytes it did not read. */
    if (semihost_call(SYS_READ, args) == 0) {
      *size = (unsigned long)length;
      status = 0;
    }
  }
  close_file(handle);
  return status;
}

int rtml_semihost_write_file(const char* path, const void* buf, unsigned long size) {
  long handle = open_file(path, OPEN_MODE_WB);
  if (handle < 0) return -1;
  const long args[3] = {handle, (long)buf, (long)size};
  long not_written = size ? semihost_call(SYS_WRITE, args) : 0;
  close_file(handle);
  return not_written == 0 ? 0 : -1;
}

void rtml_semihost_print_line(const char* text) {
  semihost_call(SYS_WRITE0, text);
  semihost_call(SYS_WRITE0, "\n");
}

void rtml_semihost_exit(int status) {
  const long args[2] = {ADP_STOPPED_APPLICATION_EXIT, status};
  for (;;) semihost_call(SYS_EXIT_EXTENDED, args);
}
