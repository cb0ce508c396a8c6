/*
 * clock.c — the two time sources.
 *
 * Wall time (CLOCK_REALTIME) is what users see: event timestamps, entry id
 * milliseconds, UUIDv7 prefixes. It can jump backwards (NTP step, operator),
 * so callers that need order must clamp against the last value they issued;
 * nothing here does that for them.
 *
 * Monotonic time (CLOCK_MONOTONIC) never goes back and is the only clock to
 * measure timeouts, fsync intervals and durations with.
 *
 * clock_gettime on these two clocks cannot fail on Linux with a valid
 * pointer, so there is no error path.
 */
#include "util/clock.h"

#include <time.h>

static uint64_t now_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t clock_wall_us(void) { return now_us(CLOCK_REALTIME); }
uint64_t clock_wall_ms(void) { return now_us(CLOCK_REALTIME) / 1000u; }
uint64_t clock_mono_us(void) { return now_us(CLOCK_MONOTONIC); }
uint64_t clock_mono_ms(void) { return now_us(CLOCK_MONOTONIC) / 1000u; }
