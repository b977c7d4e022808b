/* Clocks, read with clock_gettime through the policy path (the vDSO is host code). */
#include "internal.h"

struct kc_timespec {
  long seconds;
  long nanoseconds;
};

struct kc_timeval {
  long seconds;
  long microseconds;
};

#define CLOCK_REALTIME_ID 0

KC_EXPORT int clock_gettime(int clock, struct kc_timespec *out) {
  return (int)kc_result(kc_syscall(__NR_clock_gettime, clock, (long)out, 0, 0, 0, 0));
}

KC_EXPORT int gettimeofday(struct kc_timeval *out, void *zone) {
  (void)zone;
  struct kc_timespec now;
  if (clock_gettime(CLOCK_REALTIME_ID, &now) != 0) return -1;
  if (out) {
    out->seconds = now.seconds;
    out->microseconds = now.nanoseconds / 1000;
  }
  return 0;
}

KC_EXPORT long time(long *out) {
  struct kc_timespec now;
  if (clock_gettime(CLOCK_REALTIME_ID, &now) != 0) return -1;
  if (out) *out = now.seconds;
  return now.seconds;
}
