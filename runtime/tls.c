/*
 * Thread-local storage for loaded libraries, in the layout the x86-64 ABI
 * and glibc use: %fs points at the thread control block, whose first word
 * points to itself and whose second word points to the dynamic thread
 * vector (DTV). DTV entry m (m >= 1) holds the address of module m's TLS
 * block; the loader allocates every block up front and fills the vector, so
 * __tls_get_addr never allocates.
 */
#include "internal.h"

struct tls_index {
  unsigned long module;
  unsigned long offset;
};

KC_EXPORT void *__tls_get_addr(struct tls_index *index) {
  uintptr_t *dtv;
  __asm__("mov %%fs:8, %0" : "=r"(dtv));
  if (!dtv || index->module == 0 || index->module > dtv[0]) {
    kc_fatal("keycell runtime: __tls_get_addr for a module without TLS\n");
  }
  return (char *)dtv[index->module] + index->offset;
}
