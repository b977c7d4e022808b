/*
 * Shared by the runtime's source files: export and hide markers, the syscall
 * path and errno handling.
 */
#ifndef KEYCELL_RUNTIME_INTERNAL_H
#define KEYCELL_RUNTIME_INTERNAL_H

#include <asm-generic/errno.h>
#include <asm/unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime.h"

/* Only the C library names are exported; everything else binds locally. */
#define KC_EXPORT __attribute__((visibility("default")))
#define KC_NORETURN __attribute__((noreturn))

extern struct keycell_runtime_block keycell_runtime;

/* Raw system call through the block's path; returns -errno on failure. */
long kc_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

/* Sets errno from a raw result and returns -1, or returns the result unchanged. */
long kc_result(long raw);

/* Writes a message to fd 2 and stops the domain with an invalid-opcode fault. */
KC_NORETURN void kc_fatal(const char *message);

/* Heap used by malloc and by anonymous mmap. */
void *kc_alloc_aligned(size_t alignment, size_t size);

int *__errno_location(void);
void *memset(void *dest, int value, size_t length);
void *memcpy(void *dest, const void *src, size_t length);
size_t strlen(const char *text);
int vsnprintf(char *buffer, size_t size, const char *format, va_list args);
int snprintf(char *buffer, size_t size, const char *format, ...);
size_t strnlen(const char *text, size_t limit);
int strncmp(const char *left, const char *right, size_t limit);
void free(void *pointer);
void *malloc(size_t size);

#endif
