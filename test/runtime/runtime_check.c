/*
 * Exercises libkeycell-runtime.so outside any domain: the runtime is loaded
 * with dlopen, its block is pointed at a syscall path of this program's, and
 * each C library function is compared with glibc's behaviour. Prints one
 * "ok" or "not ok" line per check (TAP-like) and exits non-zero on failure.
 *
 * usage: runtime_check RUNTIME.so [fatal-CASE]
 *   with fatal-CASE, runs one case that must stop the process with SIGILL.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../../runtime/runtime.h"

static void *runtime;
static int failures, checks;
static long syscalls_seen;

#define CHECK(condition, ...)                                     \
  do {                                                            \
    checks++;                                                     \
    if (condition) {                                              \
      printf("ok %d - ", checks);                                 \
    } else {                                                      \
      failures++;                                                 \
      printf("not ok %d - (%s:%d) ", checks, __FILE__, __LINE__); \
    }                                                             \
    printf(__VA_ARGS__);                                          \
    printf("\n");                                                 \
  } while (0)

/* Looks up a runtime function by name; a missing one ends the run. */
static void *fn(const char *name) {
  void *symbol = dlsym(runtime, name);
  if (!symbol) {
    printf("Bail out! runtime lacks %s\n", name);
    exit(2);
  }
  return symbol;
}

#define RT(type, name) ((type)fn(name))

static long host_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6) {
  syscalls_seen++;
  long result = syscall(nr, a1, a2, a3, a4, a5, a6);
  return result < 0 ? -errno : result;
}

static struct keycell_runtime_block *setup(size_t heap_size) {
  struct keycell_runtime_block *block = fn("keycell_runtime");
  void *heap = mmap(NULL, heap_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  static const char *const environment[] = {"KEYCELL_MODE=test", "EMPTY=", NULL};
  block->magic = KEYCELL_RUNTIME_MAGIC;
  block->version = KEYCELL_RUNTIME_VERSION;
  block->syscall = host_syscall;
  block->heap_base = (uintptr_t)heap;
  block->heap_size = heap_size;
  block->environ = environment;
  return block;
}

static void check_allocator(struct keycell_runtime_block *block) {
  void *(*rt_malloc)(size_t) = RT(void *(*)(size_t), "malloc");
  void (*rt_free)(void *) = RT(void (*)(void *), "free");
  void *(*rt_realloc)(void *, size_t) = RT(void *(*)(void *, size_t), "realloc");
  void *(*rt_calloc)(size_t, size_t) = RT(void *(*)(size_t, size_t), "calloc");
  int (*rt_posix_memalign)(void **, size_t, size_t) =
      RT(int (*)(void **, size_t, size_t), "posix_memalign");

  /* Random allocations, each filled with its own byte and checked before it is freed. */
  enum { SLOTS = 512 };
  static unsigned char *slot[SLOTS];
  static size_t length[SLOTS];
  unsigned seed = 12345;
  int intact = 1, inside = 1, aligned = 1;
  for (int round = 0; round < 20000; round++) {
    seed = seed * 1103515245 + 12345;
    int i = (seed >> 8) % SLOTS;
    if (slot[i]) {
      for (size_t k = 0; k < length[i]; k++) intact &= slot[i][k] == (unsigned char)i;
      rt_free(slot[i]);
      slot[i] = NULL;
    } else {
      length[i] = (seed >> 4) % ((seed & 1) ? 64 : 20000);
      slot[i] = rt_malloc(length[i]);
      if (!slot[i]) continue;
      aligned &= (uintptr_t)slot[i] % 16 == 0;
      inside &= (uintptr_t)slot[i] >= block->heap_base &&
                (uintptr_t)slot[i] + length[i] <= block->heap_base + block->heap_size;
      memset(slot[i], i, length[i]);
    }
  }
  CHECK(intact, "20,000 random malloc/free keep every block's contents");
  CHECK(inside && aligned, "every block lies inside the heap region, 16-byte aligned");
  for (int i = 0; i < SLOTS; i++) rt_free(slot[i]);

  void *big = rt_malloc(block->heap_size - 4096);
  CHECK(big != NULL, "after freeing everything, free chunks coalesce into one big block");
  rt_free(big);
  errno = 0;
  CHECK(rt_malloc(block->heap_size * 2) == NULL, "an allocation larger than the heap fails");

  char *grow = rt_malloc(10);
  memcpy(grow, "abcdefghi", 10);
  grow = rt_realloc(grow, 100000);
  CHECK(grow && memcmp(grow, "abcdefghi", 10) == 0, "realloc keeps the contents when growing");
  grow = rt_realloc(grow, 4);
  CHECK(grow && memcmp(grow, "abcd", 4) == 0, "realloc keeps the contents when shrinking");
  rt_free(grow);

  CHECK(rt_calloc((size_t)1 << 62, 8) == NULL, "calloc refuses a size that overflows");
  unsigned char *zeros = rt_calloc(1000, 3);
  int all_zero = zeros != NULL;
  for (int i = 0; zeros && i < 3000; i++) all_zero &= zeros[i] == 0;
  CHECK(all_zero, "calloc returns zeroed memory");
  rt_free(zeros);

  void *page = NULL;
  int status = rt_posix_memalign(&page, 4096, 10000);
  CHECK(status == 0 && (uintptr_t)page % 4096 == 0, "posix_memalign honours a 4096-byte alignment");
  rt_free(page);
  CHECK(rt_posix_memalign(&page, 24, 8) == EINVAL,
        "posix_memalign rejects an alignment that is no power of two");
}

static void check_format(void) {
  int (*rt_snprintf)(char *, size_t, const char *, ...) =
      RT(int (*)(char *, size_t, const char *, ...), "snprintf");
  char mine[128], theirs[128];
  int same = 1;
#define SAME_FORMAT(...)                                                                     \
  do {                                                                                       \
    int a = rt_snprintf(mine, sizeof mine, __VA_ARGS__);                                     \
    int b = snprintf(theirs, sizeof theirs, __VA_ARGS__);                                    \
    if (a != b || strcmp(mine, theirs) != 0) {                                               \
      same = 0;                                                                              \
      printf("# format mismatch: runtime '%s' (%d), glibc '%s' (%d)\n", mine, a, theirs, b); \
    }                                                                                        \
  } while (0)
  SAME_FORMAT("%d %i %u", -42, 17, 4000000000u);
  SAME_FORMAT("%5d|%-5d|%05d|%+d|% d", 42, 42, 42, 42, 42);
  SAME_FORMAT("%x %X %#x %#o %o", 0xbeefu, 0xbeefu, 255u, 8u, 8u);
  SAME_FORMAT("%ld %lu %lld %llx %zu %zd", -1L, 18446744073709551615UL, -9223372036854775807LL - 1,
              0x123456789abcdefULL, (size_t)99, (ssize_t)-99);
  SAME_FORMAT("%hhd %hd %hhu", 300, 70000, 255);
  SAME_FORMAT("%s|%10s|%-10s|%.3s|%c|%%", "text", "right", "left", "truncate", 'z');
  SAME_FORMAT("%*d|%-*d|%.*d", 6, 1, 6, 2, 4, 3);
  SAME_FORMAT("%.0d|%.0x|%5.3d", 0, 0u, 7);
  SAME_FORMAT("%p", (void *)0x7fffdeadbeef);
  CHECK(same, "snprintf matches glibc on integers, strings, flags, widths and precisions");

  int needed = rt_snprintf(mine, 5, "%s", "abcdefgh");
  CHECK(needed == 8 && strcmp(mine, "abcd") == 0,
        "snprintf truncates, terminates and returns the full length");
}

static void check_strings(void) {
  char *(*rt_getenv)(const char *) = RT(char *(*)(const char *), "getenv");
  char *(*rt_strerror)(int) = RT(char *(*)(int), "strerror");
  size_t (*rt_strlen)(const char *) = RT(size_t(*)(const char *), "strlen");
  char *(*rt_strrchr)(const char *, int) = RT(char *(*)(const char *, int), "strrchr");
  int (*rt_strncmp)(const char *, const char *, size_t) =
      RT(int (*)(const char *, const char *, size_t), "strncmp");
  void *(*rt_memmove)(void *, const void *, size_t) =
      RT(void *(*)(void *, const void *, size_t), "memmove");
  void *(*rt_memchr)(const void *, int, size_t) =
      RT(void *(*)(const void *, int, size_t), "memchr");

  const char *path = "/usr/lib/libsodium.so";
  CHECK(rt_strlen(path) == strlen(path) && rt_strrchr(path, '/') == strrchr(path, '/') &&
            rt_memchr(path, 's', 21) == memchr(path, 's', 21),
        "strlen, strrchr and memchr agree with glibc");
  CHECK(rt_strncmp("abcdef", "abcxyz", 3) == 0 && rt_strncmp("abc", "abd", 3) < 0,
        "strncmp compares prefixes");
  char overlap[] = "0123456789";
  rt_memmove(overlap + 2, overlap, 8);
  CHECK(strcmp(overlap, "0101234567") == 0, "memmove handles overlapping ranges");
  CHECK(rt_getenv("KEYCELL_MODE") && strcmp(rt_getenv("KEYCELL_MODE"), "test") == 0 &&
            rt_getenv("KEYCELL") == NULL && rt_getenv("EMPTY") && rt_getenv("EMPTY")[0] == 0 &&
            rt_getenv("PATH") == NULL,
        "getenv sees only the configured environment");
  CHECK(strcmp(rt_strerror(ENOENT), "No such file or directory") == 0 &&
            strcmp(rt_strerror(9999), "Unknown error 9999") == 0,
        "strerror names known errors and numbers unknown ones");
}

static void check_syscalls(void) {
  int (*rt_open)(const char *, int, ...) = RT(int (*)(const char *, int, ...), "open");
  long (*rt_read)(int, void *, size_t) = RT(long (*)(int, void *, size_t), "read");
  int (*rt_close)(int) = RT(int (*)(int), "close");
  int *(*rt_errno)(void) = RT(int *(*)(void), "__errno_location");
  int (*rt_getentropy)(void *, size_t) = RT(int (*)(void *, size_t), "getentropy");
  int (*rt_clock_gettime)(int, struct timespec *) =
      RT(int (*)(int, struct timespec *), "clock_gettime");
  void *(*rt_mmap)(void *, size_t, int, int, int, long) =
      RT(void *(*)(void *, size_t, int, int, int, long), "mmap");
  int (*rt_munmap)(void *, size_t) = RT(int (*)(void *, size_t), "munmap");

  char text[64] = {0};
  int fd = rt_open("/proc/self/comm", O_RDONLY);
  long got = fd >= 0 ? rt_read(fd, text, sizeof text - 1) : -1;
  CHECK(fd >= 0 && got > 0 && rt_close(fd) == 0,
        "open, read and close go through the syscall path");
  CHECK(rt_open("/nonexistent/keycell", O_RDONLY) == -1 && *rt_errno() == ENOENT,
        "a failed open returns -1 and sets the runtime's errno");

  unsigned char random[64] = {0}, zero[64] = {0};
  CHECK(rt_getentropy(random, sizeof random) == 0 && memcmp(random, zero, sizeof zero) != 0,
        "getentropy fills the buffer");
  CHECK(rt_getentropy(random, 257) == -1 && *rt_errno() == EIO,
        "getentropy refuses more than 256 bytes");

  struct timespec mine, theirs;
  clock_gettime(CLOCK_REALTIME, &theirs);
  CHECK(rt_clock_gettime(CLOCK_REALTIME, &mine) == 0 && mine.tv_sec - theirs.tv_sec <= 1,
        "clock_gettime reads the clock");

  unsigned char *pages =
      rt_mmap(NULL, 3 * 4096 + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  int zeroed = pages != MAP_FAILED && (uintptr_t)pages % 4096 == 0;
  for (int i = 0; zeroed && i < 4 * 4096; i++) zeroed &= pages[i] == 0;
  CHECK(zeroed, "anonymous mmap returns zeroed, page-aligned memory from the heap");
  CHECK(rt_munmap(pages, 3 * 4096 + 1) == 0, "munmap gives it back");
  CHECK(rt_mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 3, 0) == MAP_FAILED && *rt_errno() == ENODEV,
        "file-backed mmap is refused");
}

static int order[4], order_count;
static void remember(void *value) { order[order_count++] = (int)(intptr_t)value; }
static int once_runs;
static void once_routine(void) { once_runs++; }

static void check_process(void) {
  int (*rt_cxa_atexit)(void (*)(void *), void *, void *) =
      RT(int (*)(void (*)(void *), void *, void *), "__cxa_atexit");
  void (*rt_cxa_finalize)(void *) = RT(void (*)(void *), "__cxa_finalize");
  int (*rt_once)(int *, void (*)(void)) = RT(int (*)(int *, void (*)(void)), "pthread_once");
  long (*rt_sysconf)(int) = RT(long (*)(int), "sysconf");

  int dso_a, dso_b;
  rt_cxa_atexit(remember, (void *)1, &dso_a);
  rt_cxa_atexit(remember, (void *)2, &dso_b);
  rt_cxa_atexit(remember, (void *)3, &dso_a);
  rt_cxa_finalize(&dso_a);
  rt_cxa_finalize(&dso_a);
  CHECK(order_count == 2 && order[0] == 3 && order[1] == 1,
        "__cxa_finalize runs one library's handlers, newest first, once");
  rt_cxa_finalize(NULL);
  CHECK(order_count == 3 && order[2] == 2, "__cxa_finalize(NULL) runs the rest");

  int once = 0;
  rt_once(&once, once_routine);
  rt_once(&once, once_routine);
  CHECK(once_runs == 1, "pthread_once runs its routine once");
  CHECK(rt_sysconf(_SC_PAGESIZE) == 4096 && rt_sysconf(_SC_NPROCESSORS_ONLN) == 1,
        "sysconf answers page size and CPUs");
}

/* Each of these must end the process with SIGILL (ud2) after a message on stderr. */
static void run_fatal(const char *name) {
  char small[8];
  if (strcmp(name, "abort") == 0) RT(void (*)(void), "abort")();
  if (strcmp(name, "stack") == 0) RT(void (*)(void), "__stack_chk_fail")();
  if (strcmp(name, "assert") == 0)
    RT(void (*)(const char *, const char *, unsigned, const char *), "__assert_fail")
    ("x > 0", "lib.c", 7, "f");
  if (strcmp(name, "fortify") == 0)
    RT(void *(*)(void *, const void *, size_t, size_t), "__memcpy_chk")
    (small, "0123456789", 10, sizeof small);
  if (strcmp(name, "bad-free") == 0) RT(void (*)(void *), "free")(small + 1);
  printf("fatal case %s returned\n", name);
  exit(3);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  runtime = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!runtime) {
    printf("Bail out! %s\n", dlerror());
    return 2;
  }

  int (*rt_getpid)(void) = RT(int (*)(void), "getpid");
  int *(*rt_errno)(void) = RT(int *(*)(void), "__errno_location");
  CHECK(rt_getpid() == -1 && *rt_errno() == ENOSYS,
        "before the host fills the block, every syscall fails with ENOSYS");

  struct keycell_runtime_block *block = setup(16 << 20);
  if (argc > 2) run_fatal(argv[2]);

  CHECK(rt_getpid() == getpid() && syscalls_seen == 1,
        "getpid goes through the block's syscall path");
  check_allocator(block);
  check_format();
  check_strings();
  check_syscalls();
  check_process();
  printf("1..%d\n", checks);
  return failures ? 1 : 0;
}
