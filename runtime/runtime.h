/*
 * The contract between keycell's host side and the sandbox-side runtime.
 *
 * The runtime (libkeycell-runtime.so, built from this folder) is loaded into
 * every domain and scanned like any other code. It implements the C library
 * functions that Debian-built libraries import, so that their imports bind to
 * code inside the domain and never to the host's libc (whose addresses must
 * stay secret, and whose pkey_set is a PKRU gadget).
 *
 * Before the loader runs any code in a domain, it fills the exported
 * `keycell_runtime` block below. Everything in it lives in domain memory and
 * is therefore writable by the sandbox: the host never trusts it. In
 * particular `syscall` only points at the domain's way out to the host's
 * policy check; pointing it elsewhere gains the sandbox nothing it could not
 * do by calling that address itself.
 */
#ifndef KEYCELL_RUNTIME_H
#define KEYCELL_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#define KEYCELL_RUNTIME_MAGIC 0x006c6c656379656bULL /* "keycell" */
#define KEYCELL_RUNTIME_VERSION 1

/* Performs system call `nr`; returns the result or a negated errno value. */
typedef long (*keycell_syscall_fn)(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

struct keycell_runtime_block {
  uint64_t magic;
  uint32_t version;
  uint32_t reserved;
  keycell_syscall_fn syscall;
  /* The region the allocator owns: page-aligned, readable and writable. */
  uintptr_t heap_base;
  uintptr_t heap_size;
  /* NULL-terminated "NAME=value" strings; NULL means an empty environment. */
  const char *const *environ;
};

#endif
