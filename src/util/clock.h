/*
 * clock.h — time sources: wall clock for timestamps and entry ids, monotonic
 * clock for timeouts and intervals.
 */
#ifndef MN_UTIL_CLOCK_H
#define MN_UTIL_CLOCK_H

#include <stdint.h>

uint64_t clock_wall_us(void);  /* microseconds since the epoch (CLOCK_REALTIME) */
uint64_t clock_wall_ms(void);  /* milliseconds since the epoch */
uint64_t clock_mono_us(void);  /* microseconds, CLOCK_MONOTONIC */
uint64_t clock_mono_ms(void);

#endif
