/*
 * The runtime's only way to the kernel: through the function the host placed
 * in the runtime block. Without one, every system call fails with ENOSYS, so
 * a domain set up without a policy path can do nothing outside its memory.
 */
#include "internal.h"

KC_EXPORT struct keycell_runtime_block keycell_runtime;

/* TODO(keycell): errno is one word per domain; domains run one thread at a time. */
static int error_number;

KC_EXPORT int *__errno_location(void) { return &error_number; }

long kc_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
  keycell_syscall_fn path = keycell_runtime.syscall;
  if (keycell_runtime.magic != KEYCELL_RUNTIME_MAGIC || path == 0) return -ENOSYS;
  return path(nr, a1, a2, a3, a4, a5, a6);
}

long kc_result(long raw) {
  if (raw < 0 && raw > -4096) {
    error_number = (int)-raw;
    return -1;
  }
  return raw;
}

KC_EXPORT long syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
  return kc_result(kc_syscall(nr, a1, a2, a3, a4, a5, a6));
}

void kc_fatal(const char *message) {
  kc_syscall(__NR_write, 2, (long)message, (long)strlen(message), 0, 0, 0);
  __builtin_trap();
}
