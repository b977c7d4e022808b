/* Declarations of the benchmark target library (bench_target.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int keycell_bench_empty(void);
uint32_t keycell_bench_sum(const uint8_t *data, size_t length);
long keycell_bench_raw_getpid(void);

#ifdef __cplusplus
}
#endif
