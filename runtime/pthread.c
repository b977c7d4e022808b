/*
 * Mutexes and once-flags. A domain has no threads of its own, so a mutex is
 * a spin lock on the first word of glibc's pthread_mutex_t (all zero when
 * statically initialised), enough for libraries that lock around shared
 * state in case the caller is multi-threaded.
 */
#include "internal.h"

typedef struct {
  volatile int word;
} kc_mutex;

KC_EXPORT int pthread_mutex_init(kc_mutex *mutex, const void *attributes) {
  (void)attributes;
  mutex->word = 0;
  return 0;
}

KC_EXPORT int pthread_mutex_destroy(kc_mutex *mutex) { return (void)mutex, 0; }

KC_EXPORT int pthread_mutex_trylock(kc_mutex *mutex) {
  return __atomic_exchange_n(&mutex->word, 1, __ATOMIC_ACQUIRE) ? EBUSY : 0;
}

KC_EXPORT int pthread_mutex_lock(kc_mutex *mutex) {
  while (__atomic_exchange_n(&mutex->word, 1, __ATOMIC_ACQUIRE)) __builtin_ia32_pause();
  return 0;
}

KC_EXPORT int pthread_mutex_unlock(kc_mutex *mutex) {
  __atomic_store_n(&mutex->word, 0, __ATOMIC_RELEASE);
  return 0;
}

/* glibc's pthread_once_t is an int, zero before the first call. States: 0 new, 1 running, 2 done.
 */
KC_EXPORT int pthread_once(volatile int *once, void (*routine)(void)) {
  int expected = 0;
  if (__atomic_compare_exchange_n(once, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
    routine();
    __atomic_store_n(once, 2, __ATOMIC_RELEASE);
    return 0;
  }
  while (__atomic_load_n(once, __ATOMIC_ACQUIRE) != 2) __builtin_ia32_pause();
  return 0;
}
