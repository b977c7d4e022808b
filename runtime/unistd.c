/*
 * System call wrappers. Each one is a single request on the policy path,
 * which decides; the wrappers only translate between the C library's
 * conventions (errno, -1) and the kernel's (negative error numbers).
 *
 * Anonymous mmap is served from the domain heap, page-aligned and zeroed,
 * because a domain's memory is fixed when it is created: the kernel is never
 * asked to map new memory for the domain.
 */
#include "internal.h"

#define AT_FDCWD_VALUE (-100)
#define O_CREAT_FLAG 0100
#define O_TMPFILE_FLAG 020200000
#define PAGE 4096UL
#define PROT_READ_FLAG 1
#define PROT_WRITE_FLAG 2
#define MAP_ANONYMOUS_FLAG 0x20
#define MAP_FIXED_FLAG 0x10
#define MAP_FAILED_VALUE ((void *)-1)

#define SYSCALL(nr, a, b, c, d, e, f) \
  kc_result(kc_syscall(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f)))

KC_EXPORT long read(int fd, void *buffer, size_t length) {
  return SYSCALL(__NR_read, fd, buffer, length, 0, 0, 0);
}
KC_EXPORT long write(int fd, const void *buffer, size_t length) {
  return SYSCALL(__NR_write, fd, buffer, length, 0, 0, 0);
}
KC_EXPORT int close(int fd) { return (int)SYSCALL(__NR_close, fd, 0, 0, 0, 0, 0); }
KC_EXPORT long lseek(int fd, long offset, int whence) {
  return SYSCALL(__NR_lseek, fd, offset, whence, 0, 0, 0);
}
KC_EXPORT long lseek64(int fd, long offset, int whence) { return lseek(fd, offset, whence); }
KC_EXPORT int fstat(int fd, void *status) {
  return (int)SYSCALL(__NR_fstat, fd, status, 0, 0, 0, 0);
}
KC_EXPORT int fstat64(int fd, void *status) { return fstat(fd, status); }
KC_EXPORT int poll(void *fds, unsigned long count, int timeout) {
  return (int)SYSCALL(__NR_poll, fds, count, timeout, 0, 0, 0);
}
KC_EXPORT int getpid(void) { return (int)SYSCALL(__NR_getpid, 0, 0, 0, 0, 0, 0); }

KC_EXPORT int fcntl(int fd, int command, ...) {
  va_list args;
  va_start(args, command);
  long argument = va_arg(args, long);
  va_end(args);
  return (int)SYSCALL(__NR_fcntl, fd, command, argument, 0, 0, 0);
}

/* The mode argument exists only with O_CREAT or O_TMPFILE, as in glibc. */
KC_EXPORT int open(const char *path, int flags, ...) {
  long mode = 0;
  if ((flags & O_CREAT_FLAG) || (flags & O_TMPFILE_FLAG) == O_TMPFILE_FLAG) {
    va_list args;
    va_start(args, flags);
    mode = va_arg(args, int);
    va_end(args);
  }
  return (int)SYSCALL(__NR_openat, AT_FDCWD_VALUE, path, flags, mode, 0, 0);
}

KC_EXPORT int open64(const char *path, int flags, ...) {
  va_list args;
  va_start(args, flags);
  int mode = va_arg(args, int);
  va_end(args);
  return open(path, flags, mode);
}

KC_EXPORT long getrandom(void *buffer, size_t length, unsigned flags) {
  return SYSCALL(__NR_getrandom, buffer, length, flags, 0, 0, 0);
}

KC_EXPORT int getentropy(void *buffer, size_t length) {
  if (length > 256) {
    *__errno_location() = EIO;
    return -1;
  }
  unsigned char *at = buffer;
  while (length) {
    long got = kc_syscall(__NR_getrandom, (long)at, (long)length, 0, 0, 0, 0);
    if (got == -EINTR) continue;
    if (got < 0) return (int)kc_result(got);
    at += got;
    length -= (size_t)got;
  }
  return 0;
}

KC_EXPORT void *mmap(void *address, size_t length, int protection, int flags, int fd, long offset) {
  (void)offset;
  if (!(flags & MAP_ANONYMOUS_FLAG) || fd != -1 || (flags & MAP_FIXED_FLAG) || address ||
      length == 0) {
    *__errno_location() = (flags & MAP_ANONYMOUS_FLAG) ? EINVAL : ENODEV;
    return MAP_FAILED_VALUE;
  }
  size_t rounded = (length + PAGE - 1) & ~(PAGE - 1);
  void *memory = kc_alloc_aligned(PAGE, rounded);
  if (!memory) {
    *__errno_location() = ENOMEM;
    return MAP_FAILED_VALUE;
  }
  memset(memory, 0, rounded);
  if (protection != (PROT_READ_FLAG | PROT_WRITE_FLAG) &&
      SYSCALL(__NR_mprotect, memory, rounded, protection, 0, 0, 0) != 0) {
    int saved = *__errno_location();
    free(memory);
    *__errno_location() = saved;
    return MAP_FAILED_VALUE;
  }
  return memory;
}

KC_EXPORT void *mmap64(void *address, size_t length, int protection, int flags, int fd,
                       long offset) {
  return mmap(address, length, protection, flags, fd, offset);
}

/* Gives pages from mmap back to the heap, readable and writable again first. */
KC_EXPORT int munmap(void *address, size_t length) {
  size_t rounded = (length + PAGE - 1) & ~(PAGE - 1);
  if ((uintptr_t)address % PAGE || length == 0) {
    *__errno_location() = EINVAL;
    return -1;
  }
  if (SYSCALL(__NR_mprotect, address, rounded, PROT_READ_FLAG | PROT_WRITE_FLAG, 0, 0, 0) != 0)
    return -1;
  free(address);
  return 0;
}

KC_EXPORT int mprotect(void *address, size_t length, int protection) {
  return (int)SYSCALL(__NR_mprotect, address, length, protection, 0, 0, 0);
}
KC_EXPORT int madvise(void *address, size_t length, int advice) {
  return (int)SYSCALL(__NR_madvise, address, length, advice, 0, 0, 0);
}
KC_EXPORT int mlock(const void *address, size_t length) {
  return (int)SYSCALL(__NR_mlock, address, length, 0, 0, 0, 0);
}
KC_EXPORT int munlock(const void *address, size_t length) {
  return (int)SYSCALL(__NR_munlock, address, length, 0, 0, 0, 0);
}
