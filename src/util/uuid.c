/*
 * uuid.c — event ids: UUIDv7 generation, and the public text form
 * (mn_uuid_parse / mn_uuid_format).
 *
 * Layout of a generated id (RFC 9562 §5.7, monotonic per §6.2 "Method 1",
 * a 42-bit counter):
 *
 *   48 bits  unix_ts_ms       wall-clock milliseconds
 *    4 bits  version          0111
 *   12 bits  counter[41..30]  \  a counter seeded with 41 random bits (top
 *    2 bits  variant          10  bit zero) at each new millisecond and
 *   30 bits  counter[29..0]   /  incremented for each id within it
 *   32 bits  random           fresh for every id
 *
 * Invariants:
 *   1. Within a process, every id is greater (as 16 bytes, memcmp order)
 *      than every id generated before it, from any thread: one mutex guards
 *      the (last_ms, counter) pair. If the wall clock steps back, last_ms
 *      stays where it was and the counter keeps counting, so order holds and
 *      the prefix stays within the same millisecond it had; if the counter
 *      would overflow (2^41 ids in one ms), last_ms moves one ms ahead.
 *   2. Randomness comes only from getrandom(2) (or /dev/urandom if the
 *      syscall is unavailable), read 256 bytes at a time into a pool under
 *      the same mutex. Without a working source the process aborts: ids
 *      that could collide are worse than no ids.
 *   3. A forked child never reuses the parent's pool or counter (an atfork
 *      handler empties both), so parent and child cannot mint equal ids.
 */
#include "util/uuid.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "mnemosyne.h"
#include "util/clock.h"
#include "util/error.h"

#define COUNTER_BITS 42

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* guards everything below */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static unsigned char pool[256]; /* buffered random bytes; [pool_pos, end) unused */
static size_t pool_pos = sizeof pool;
static uint64_t last_ms;  /* timestamp of the last id generated */
static uint64_t counter;  /* its counter; < 2^COUNTER_BITS */

static void atfork_prepare(void) { pthread_mutex_lock(&lock); }
static void atfork_parent(void) { pthread_mutex_unlock(&lock); }

static void atfork_child(void)
{
    pool_pos = sizeof pool;
    last_ms = 0;
    counter = 0;
    pthread_mutex_unlock(&lock);
}

static void register_atfork(void)
{
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* /dev/urandom, for kernels or sandboxes without getrandom(2). 0 or -1. */
static int read_urandom(unsigned char *p, size_t n)
{
    int rc = -1;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return -1;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto out;
        p += r;
        n -= (size_t)r;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

static void fill_random(unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            if (read_urandom(p, n) == 0)
                return;
            fprintf(stderr, "mnemosyne: no source of randomness for event ids: %s\n",
                    strerror(errno));
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

/* n random bits as an integer (n <= 64). Caller holds the lock. */
static uint64_t take_bits(unsigned n)
{
    uint64_t v = 0;
    size_t bytes = (n + 7) / 8;

    if (pool_pos + bytes > sizeof pool) {
        fill_random(pool, sizeof pool);
        pool_pos = 0;
    }
    memcpy(&v, pool + pool_pos, bytes);
    pool_pos += bytes;
    return n >= 64 ? v : v & ((UINT64_C(1) << n) - 1);
}

void uuid_v7(uint8_t out[16])
{
    uint64_t now = clock_wall_ms(), ms, ctr, rnd, rand_b;
    unsigned rand_a;

    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&lock);
    if (now > last_ms) {
        last_ms = now;
        counter = take_bits(COUNTER_BITS - 1); /* top bit zero: room to count */
    } else if (++counter >> COUNTER_BITS) {
        last_ms++;
        counter = take_bits(COUNTER_BITS - 1);
    }
    ms = last_ms;
    ctr = counter;
    rnd = take_bits(32);
    pthread_mutex_unlock(&lock);

    for (int i = 0; i < 6; i++)
        out[i] = (uint8_t)(ms >> (40 - 8 * i));
    rand_a = (unsigned)(ctr >> 30); /* 12 bits */
    out[6] = (uint8_t)(0x70 | (rand_a >> 8));
    out[7] = (uint8_t)rand_a;
    rand_b = (ctr & ((UINT64_C(1) << 30) - 1)) << 32 | rnd; /* 62 bits */
    out[8] = (uint8_t)(0x80 | (rand_b >> 56));
    for (int i = 9; i < 16; i++)
        out[i] = (uint8_t)(rand_b >> (8 * (15 - i)));
}

int uuid_is_zero(const uint8_t id[16])
{
    uint8_t acc = 0;

    for (int i = 0; i < 16; i++)
        acc |= id[i];
    return acc == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The messages name positions, never echo the input: it may hold any bytes
 * (a CR LF would break a RESP error line). */
int mn_uuid_parse(const char *text, size_t len, uint8_t out[16])
{
    uint8_t id[16];
    size_t i = 0;

    if (text == NULL || len != 36)
        return error_set(MN_EINVAL,
                         "malformed UUID: %zu characters, expected 36 "
                         "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                         text == NULL ? (size_t)0 : len);
    for (int k = 0; k < 16; k++) {
        int hi, lo;
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return error_set(MN_EINVAL,
                                 "malformed UUID: expected '-' at offset %zu "
                                 "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", i);
            i++;
        }
        hi = hexval(text[i]);
        lo = hexval(text[i + 1]);
        if (hi < 0 || lo < 0)
            return error_set(MN_EINVAL, "malformed UUID: not a hex digit at offset %zu",
                             hi < 0 ? i : i + 1);
        id[k] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    memcpy(out, id, 16);
    return MN_OK;
}

void mn_uuid_format(const uint8_t id[16], char out[37])
{
    static const char hex[] = "0123456789abcdef";
    char *o = out;

    for (int k = 0; k < 16; k++) {
        if (k == 4 || k == 6 || k == 8 || k == 10)
            *o++ = '-';
        *o++ = hex[id[k] >> 4];
        *o++ = hex[id[k] & 15];
    }
    *o = '\0';
}
