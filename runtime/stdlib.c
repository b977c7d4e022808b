/*
 * Process-level pieces of the C library, scaled to a domain: abort and the
 * failure hooks stop the domain with a fault (the host turns it into a
 * SandboxFault), the environment is the one the host configured (empty by
 * default), and exit handlers run when the host closes the domain.
 */
#include "internal.h"

KC_EXPORT KC_NORETURN void abort(void) { kc_fatal("keycell runtime: abort() called\n"); }

KC_EXPORT KC_NORETURN void __stack_chk_fail(void) {
  kc_fatal("keycell runtime: stack smashing detected\n");
}

KC_EXPORT KC_NORETURN void __assert_fail(const char *assertion, const char *file, unsigned line,
                                         const char *function) {
  char message[256];
  snprintf(message, sizeof message, "keycell runtime: %s:%u: %s: assertion '%s' failed\n", file,
           line, function ? function : "?", assertion);
  kc_fatal(message);
}

/* A signal raised inside a domain ends the call the same way abort does. */
KC_EXPORT int raise(int signal) {
  char message[64];
  snprintf(message, sizeof message, "keycell runtime: raise(%d) called\n", signal);
  kc_fatal(message);
}

KC_EXPORT char *getenv(const char *name) {
  const char *const *entry = keycell_runtime.environ;
  size_t length = strlen(name);
  for (; entry && *entry; entry++) {
    if (strncmp(*entry, name, length) == 0 && (*entry)[length] == '=')
      return (char *)*entry + length + 1;
  }
  return 0;
}

KC_EXPORT char *secure_getenv(const char *name) { return getenv(name); }

#define MAX_EXIT_HANDLERS 64

static struct {
  void (*function)(void *);
  void *argument;
  void *dso;
} exit_handlers[MAX_EXIT_HANDLERS];
static int exit_handler_count;

KC_EXPORT int __cxa_atexit(void (*function)(void *), void *argument, void *dso) {
  if (exit_handler_count == MAX_EXIT_HANDLERS) return -1;
  exit_handlers[exit_handler_count].function = function;
  exit_handlers[exit_handler_count].argument = argument;
  exit_handlers[exit_handler_count].dso = dso;
  exit_handler_count++;
  return 0;
}

KC_EXPORT int atexit(void (*function)(void)) {
  return __cxa_atexit((void (*)(void *))function, 0, 0);
}

/* Runs the handlers registered for `dso` (all of them for NULL), newest first, once each. */
KC_EXPORT void __cxa_finalize(void *dso) {
  for (int i = exit_handler_count - 1; i >= 0; i--) {
    if (!exit_handlers[i].function || (dso && exit_handlers[i].dso != dso)) continue;
    void (*function)(void *) = exit_handlers[i].function;
    exit_handlers[i].function = 0;
    function(exit_handlers[i].argument);
  }
}

/* sysconf names from <bits/confname.h>. */
enum {
  SC_CLK_TCK = 2,
  SC_OPEN_MAX = 4,
  SC_PAGESIZE = 30,
  SC_NPROCESSORS_CONF = 83,
  SC_NPROCESSORS_ONLN = 84
};

KC_EXPORT long sysconf(int name) {
  switch (name) {
    case SC_PAGESIZE: return 4096;
    case SC_CLK_TCK: return 100;
    case SC_OPEN_MAX: return 1024;
    case SC_NPROCESSORS_CONF:
    case SC_NPROCESSORS_ONLN: return 1;
    default: *__errno_location() = EINVAL; return -1;
  }
}

KC_EXPORT int getpagesize(void) { return 4096; }
