/*
 * Memory and string functions. Written as plain loops: the build passes
 * -fno-tree-loop-distribute-patterns so the compiler does not turn memset's
 * own loop back into a call to memset.
 */
#include "internal.h"

KC_EXPORT void *memset(void *dest, int value, size_t length) {
  unsigned char *out = dest;
  while (length--) *out++ = (unsigned char)value;
  return dest;
}

KC_EXPORT void *memcpy(void *dest, const void *src, size_t length) {
  unsigned char *out = dest;
  const unsigned char *in = src;
  if (((uintptr_t)out | (uintptr_t)in) % 8 == 0) {
    for (; length >= 8; length -= 8, out += 8, in += 8) *(uint64_t *)out = *(const uint64_t *)in;
  }
  while (length--) *out++ = *in++;
  return dest;
}

KC_EXPORT void *memmove(void *dest, const void *src, size_t length) {
  unsigned char *out = dest;
  const unsigned char *in = src;
  if (out == in || length == 0) return dest;
  if (out < in || out >= in + length) return memcpy(dest, src, length);
  while (length--) out[length] = in[length];
  return dest;
}

KC_EXPORT int memcmp(const void *left, const void *right, size_t length) {
  const unsigned char *a = left, *b = right;
  for (size_t i = 0; i < length; i++) {
    if (a[i] != b[i]) return a[i] - b[i];
  }
  return 0;
}

KC_EXPORT void *memchr(const void *haystack, int needle, size_t length) {
  const unsigned char *at = haystack;
  for (size_t i = 0; i < length; i++) {
    if (at[i] == (unsigned char)needle) return (void *)(at + i);
  }
  return 0;
}

KC_EXPORT void bzero(void *dest, size_t length) { memset(dest, 0, length); }

/* The empty asm keeps the compiler from dropping a clear of memory about to die. */
KC_EXPORT void explicit_bzero(void *dest, size_t length) {
  memset(dest, 0, length);
  __asm__ volatile("" : : "r"(dest) : "memory");
}

KC_EXPORT size_t strlen(const char *text) {
  size_t length = 0;
  while (text[length]) length++;
  return length;
}

KC_EXPORT size_t strnlen(const char *text, size_t limit) {
  size_t length = 0;
  while (length < limit && text[length]) length++;
  return length;
}

KC_EXPORT int strcmp(const char *left, const char *right) {
  while (*left && *left == *right) left++, right++;
  return (unsigned char)*left - (unsigned char)*right;
}

KC_EXPORT int strncmp(const char *left, const char *right, size_t limit) {
  for (; limit; limit--, left++, right++) {
    if (*left != *right || !*left) return (unsigned char)*left - (unsigned char)*right;
  }
  return 0;
}

KC_EXPORT char *strchr(const char *text, int needle) {
  for (;; text++) {
    if (*text == (char)needle) return (char *)text;
    if (!*text) return 0;
  }
}

KC_EXPORT char *strrchr(const char *text, int needle) {
  const char *last = 0;
  for (;; text++) {
    if (*text == (char)needle) last = text;
    if (!*text) return (char *)last;
  }
}

KC_EXPORT char *strcpy(char *dest, const char *src) { return memcpy(dest, src, strlen(src) + 1); }

KC_EXPORT char *strncpy(char *dest, const char *src, size_t limit) {
  size_t length = strnlen(src, limit);
  memcpy(dest, src, length);
  memset(dest + length, 0, limit - length);
  return dest;
}

KC_EXPORT char *strcat(char *dest, const char *src) {
  strcpy(dest + strlen(dest), src);
  return dest;
}

KC_EXPORT char *strdup(const char *text) {
  size_t size = strlen(text) + 1;
  char *copy = malloc(size);
  return copy ? memcpy(copy, text, size) : 0;
}

/* Messages for the errors the imported libraries are likely to meet. */
static const char *const kMessages[] = {
    [0] = "Success",
    [EPERM] = "Operation not permitted",
    [ENOENT] = "No such file or directory",
    [EINTR] = "Interrupted system call",
    [EIO] = "Input/output error",
    [EBADF] = "Bad file descriptor",
    [EAGAIN] = "Resource temporarily unavailable",
    [ENOMEM] = "Cannot allocate memory",
    [EACCES] = "Permission denied",
    [EFAULT] = "Bad address",
    [EEXIST] = "File exists",
    [ENOTDIR] = "Not a directory",
    [EISDIR] = "Is a directory",
    [EINVAL] = "Invalid argument",
    [EMFILE] = "Too many open files",
    [ENOSPC] = "No space left on device",
    [ESPIPE] = "Illegal seek",
    [EROFS] = "Read-only file system",
    [EPIPE] = "Broken pipe",
    [ERANGE] = "Numerical result out of range",
    [ENOSYS] = "Function not implemented",
};

KC_EXPORT char *strerror(int number) {
  static char unknown[32];
  if (number >= 0 && (size_t)number < sizeof kMessages / sizeof kMessages[0] && kMessages[number]) {
    return (char *)kMessages[number];
  }
  snprintf(unknown, sizeof unknown, "Unknown error %d", number);
  return unknown;
}
