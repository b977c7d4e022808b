/*
 * Formatted output and the stdio subset libraries use for messages: stdout
 * and stderr only, unbuffered, written with write(2) through the policy path.
 * The fortified `*_chk` variants check their buffer sizes and stop the domain
 * on overflow, as glibc's do.
 */
#include "internal.h"

typedef struct keycell_file {
  int fd;
} FILE;

static FILE stdout_file = {1};
static FILE stderr_file = {2};
KC_EXPORT FILE *stdout = &stdout_file;
KC_EXPORT FILE *stderr = &stderr_file;

/* Appends to a bounded buffer, counting what would have been written. */
struct sink {
  char *buffer;
  size_t size;
  size_t length;
};

static void put(struct sink *out, char c) {
  if (out->length + 1 < out->size) out->buffer[out->length] = c;
  out->length++;
}

static void put_padding(struct sink *out, char fill, int count) {
  while (count-- > 0) put(out, fill);
}

struct spec {
  int left, zero, plus, space, alternate;
  int width, precision;
  char length; /* 'h', 'H' (hh), 'l', 'L' (ll), 'z', 'j', 't' or 0 */
};

static void put_text(struct sink *out, const struct spec *spec, const char *text, size_t length) {
  int pad = spec->width > (int)length ? spec->width - (int)length : 0;
  if (!spec->left) put_padding(out, ' ', pad);
  for (size_t i = 0; i < length; i++) put(out, text[i]);
  if (spec->left) put_padding(out, ' ', pad);
}

static void put_number(struct sink *out, const struct spec *spec, uint64_t value, int negative,
                       unsigned base, int upper, const char *prefix) {
  char digits[24];
  int count = 0;
  const char *set = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    digits[count++] = set[value % base];
    value /= base;
  } while (value);
  if (spec->precision == 0 && count == 1 && digits[0] == '0') count = 0;

  char sign = negative ? '-' : spec->plus ? '+' : spec->space ? ' ' : 0;
  int zeros = spec->precision > count ? spec->precision - count : 0;
  int prefix_length = prefix ? (int)strlen(prefix) : 0;
  int body = count + zeros + (sign != 0) + prefix_length;
  int pad = spec->width > body ? spec->width - body : 0;
  if (spec->zero && !spec->left && spec->precision < 0) zeros += pad, pad = 0;

  if (!spec->left) put_padding(out, ' ', pad);
  if (sign) put(out, sign);
  for (int i = 0; i < prefix_length; i++) put(out, prefix[i]);
  put_padding(out, '0', zeros);
  while (count) put(out, digits[--count]);
  if (spec->left) put_padding(out, ' ', pad);
}

static const char *parse_spec(const char *at, struct spec *spec, va_list *args) {
  *spec = (struct spec){.precision = -1};
  for (;; at++) {
    if (*at == '-')
      spec->left = 1;
    else if (*at == '0')
      spec->zero = 1;
    else if (*at == '+')
      spec->plus = 1;
    else if (*at == ' ')
      spec->space = 1;
    else if (*at == '#')
      spec->alternate = 1;
    else
      break;
  }
  if (*at == '*') {
    spec->width = va_arg(*args, int);
    if (spec->width < 0) spec->left = 1, spec->width = -spec->width;
    at++;
  } else {
    while (*at >= '0' && *at <= '9') spec->width = spec->width * 10 + (*at++ - '0');
  }
  if (*at == '.') {
    at++;
    spec->precision = 0;
    if (*at == '*') {
      spec->precision = va_arg(*args, int);
      at++;
    } else {
      while (*at >= '0' && *at <= '9') spec->precision = spec->precision * 10 + (*at++ - '0');
    }
  }
  if (at[0] == 'h' && at[1] == 'h')
    spec->length = 'H', at += 2;
  else if (at[0] == 'l' && at[1] == 'l')
    spec->length = 'L', at += 2;
  else if (*at == 'h' || *at == 'l' || *at == 'z' || *at == 'j' || *at == 't')
    spec->length = *at++;
  return at;
}

static int64_t signed_argument(const struct spec *spec, va_list *args) {
  switch (spec->length) {
    case 'H': return (signed char)va_arg(*args, int);
    case 'h': return (short)va_arg(*args, int);
    case 0: return va_arg(*args, int);
    default: return va_arg(*args, long);
  }
}

static uint64_t unsigned_argument(const struct spec *spec, va_list *args) {
  switch (spec->length) {
    case 'H': return (unsigned char)va_arg(*args, unsigned);
    case 'h': return (unsigned short)va_arg(*args, unsigned);
    case 0: return va_arg(*args, unsigned);
    default: return va_arg(*args, unsigned long);
  }
}

/* Supports the conversions d i u x X o c s p % with flags, width, precision and length. */
KC_EXPORT int vsnprintf(char *buffer, size_t size, const char *format, va_list args) {
  struct sink out = {buffer, size, 0};
  va_list list;
  va_copy(list, args);
  for (const char *at = format; *at; at++) {
    if (*at != '%') {
      put(&out, *at);
      continue;
    }
    struct spec spec;
    at = parse_spec(at + 1, &spec, &list);
    switch (*at) {
      case 'd':
      case 'i': {
        int64_t value = signed_argument(&spec, &list);
        put_number(&out, &spec, value < 0 ? -(uint64_t)value : (uint64_t)value, value < 0, 10, 0,
                   0);
        break;
      }
      case 'u': put_number(&out, &spec, unsigned_argument(&spec, &list), 0, 10, 0, 0); break;
      case 'o':
        put_number(&out, &spec, unsigned_argument(&spec, &list), 0, 8, 0, spec.alternate ? "0" : 0);
        break;
      case 'x':
      case 'X': {
        uint64_t value = unsigned_argument(&spec, &list);
        const char *prefix = spec.alternate && value ? (*at == 'X' ? "0X" : "0x") : 0;
        put_number(&out, &spec, value, 0, 16, *at == 'X', prefix);
        break;
      }
      case 'p': put_number(&out, &spec, (uintptr_t)va_arg(list, void *), 0, 16, 0, "0x"); break;
      case 'c': {
        char c = (char)va_arg(list, int);
        put_text(&out, &spec, &c, 1);
        break;
      }
      case 's': {
        const char *text = va_arg(list, const char *);
        if (!text) text = "(null)";
        size_t length = spec.precision >= 0 ? strnlen(text, (size_t)spec.precision) : strlen(text);
        put_text(&out, &spec, text, length);
        break;
      }
      case '%': put(&out, '%'); break;
      case 0: at--; break;
      default: put(&out, '%'), put(&out, *at); break;
    }
  }
  va_end(list);
  if (size) buffer[out.length < size ? out.length : size - 1] = 0;
  return (int)out.length;
}

KC_EXPORT int snprintf(char *buffer, size_t size, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int length = vsnprintf(buffer, size, format, args);
  va_end(args);
  return length;
}

static int write_all(int fd, const char *data, size_t length) {
  while (length) {
    long written = kc_syscall(__NR_write, fd, (long)data, (long)length, 0, 0, 0);
    if (written == -EINTR) continue;
    if (written <= 0) return (int)kc_result(written < 0 ? written : -EIO);
    data += written;
    length -= (size_t)written;
  }
  return 0;
}

KC_EXPORT int vfprintf(FILE *file, const char *format, va_list args) {
  char small[512];
  va_list copy;
  va_copy(copy, args);
  int length = vsnprintf(small, sizeof small, format, copy);
  va_end(copy);
  char *text = small;
  if (length >= (int)sizeof small) {
    text = malloc((size_t)length + 1);
    if (!text) return -1;
    vsnprintf(text, (size_t)length + 1, format, args);
  }
  int status = write_all(file->fd, text, (size_t)length);
  if (text != small) free(text);
  return status < 0 ? -1 : length;
}

KC_EXPORT int fprintf(FILE *file, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int length = vfprintf(file, format, args);
  va_end(args);
  return length;
}

KC_EXPORT int printf(const char *format, ...) {
  va_list args;
  va_start(args, format);
  int length = vfprintf(stdout, format, args);
  va_end(args);
  return length;
}

KC_EXPORT size_t fwrite(const void *data, size_t size, size_t count, FILE *file) {
  size_t total;
  if (!size || !count || __builtin_mul_overflow(size, count, &total)) return 0;
  return write_all(file->fd, data, total) < 0 ? 0 : count;
}

KC_EXPORT int fputs(const char *text, FILE *file) {
  return write_all(file->fd, text, strlen(text)) < 0 ? -1 : 0;
}

KC_EXPORT int puts(const char *text) {
  return fputs(text, stdout) < 0 || write_all(1, "\n", 1) < 0 ? -1 : 0;
}

KC_EXPORT int fputc(int c, FILE *file) {
  char byte = (char)c;
  return write_all(file->fd, &byte, 1) < 0 ? -1 : (unsigned char)byte;
}

KC_EXPORT int putchar(int c) { return fputc(c, stdout); }
KC_EXPORT int fflush(FILE *file) { return (void)file, 0; }

/* Fortified variants: `object_size` is what the compiler knew of the destination. */

static void check_size(size_t needed, size_t object_size, const char *function) {
  if (needed > object_size) {
    char message[96];
    snprintf(message, sizeof message, "keycell runtime: buffer overflow detected in %s\n",
             function);
    kc_fatal(message);
  }
}

KC_EXPORT int __vsnprintf_chk(char *buffer, size_t size, int flag, size_t object_size,
                              const char *format, va_list args) {
  (void)flag;
  check_size(size, object_size, "__vsnprintf_chk");
  return vsnprintf(buffer, size, format, args);
}

KC_EXPORT int __snprintf_chk(char *buffer, size_t size, int flag, size_t object_size,
                             const char *format, ...) {
  va_list args;
  va_start(args, format);
  int length = __vsnprintf_chk(buffer, size, flag, object_size, format, args);
  va_end(args);
  return length;
}

KC_EXPORT int __vfprintf_chk(FILE *file, int flag, const char *format, va_list args) {
  (void)flag;
  return vfprintf(file, format, args);
}

KC_EXPORT int __fprintf_chk(FILE *file, int flag, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int length = __vfprintf_chk(file, flag, format, args);
  va_end(args);
  return length;
}

KC_EXPORT int __printf_chk(int flag, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int length = __vfprintf_chk(stdout, flag, format, args);
  va_end(args);
  return length;
}

KC_EXPORT void *__memcpy_chk(void *dest, const void *src, size_t length, size_t object_size) {
  check_size(length, object_size, "__memcpy_chk");
  return memcpy(dest, src, length);
}

KC_EXPORT void *__memmove_chk(void *dest, const void *src, size_t length, size_t object_size) {
  extern void *memmove(void *, const void *, size_t);
  check_size(length, object_size, "__memmove_chk");
  return memmove(dest, src, length);
}

KC_EXPORT void *__memset_chk(void *dest, int value, size_t length, size_t object_size) {
  check_size(length, object_size, "__memset_chk");
  return memset(dest, value, length);
}

KC_EXPORT char *__strcpy_chk(char *dest, const char *src, size_t object_size) {
  check_size(strlen(src) + 1, object_size, "__strcpy_chk");
  return memcpy(dest, src, strlen(src) + 1);
}

KC_EXPORT void __explicit_bzero_chk(void *dest, size_t length, size_t object_size) {
  extern void explicit_bzero(void *, size_t);
  check_size(length, object_size, "__explicit_bzero_chk");
  explicit_bzero(dest, length);
}
