/*
 * The functions `keycell bench` calls through every path it compares: a
 * plain N-API call, koffi, a worker thread, a child process and a keycell
 * domain. Built as its own small shared library so that each path calls the
 * same machine code.
 */
#include <stddef.h>
#include <stdint.h>

#define KEYCELL_BENCH_EXPORT __attribute__((visibility("default")))

/* The empty call: measures nothing but the crossing. */
KEYCELL_BENCH_EXPORT int keycell_bench_empty(void) { return 0; }

/* Sums a buffer's bytes, so the call must really read what was passed in. */
KEYCELL_BENCH_EXPORT uint32_t keycell_bench_sum(const uint8_t *data, size_t length) {
  uint32_t sum = 0;
  for (size_t i = 0; i < length; i++) sum += data[i];
  return sum;
}

/* getpid with a raw SYSCALL instruction: inside a domain, Syscall User
 * Dispatch traps it and keycell's policy serves it (the trapped path). */
KEYCELL_BENCH_EXPORT long keycell_bench_raw_getpid(void) {
  long result;
  __asm__ volatile("syscall" : "=a"(result) : "a"(39L) : "rcx", "r11", "memory");
  return result;
}
