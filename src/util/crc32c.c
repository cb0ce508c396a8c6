/*
 * crc32c.c — CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum every log record carries.
 *
 * Invariants:
 *   1. Hardware and software paths return bit-identical values for every
 *      input; the record format depends on it (a log written on a machine
 *      with SSE4.2 is verified on one without). tests/unit/test_crc32c.c
 *      compares them on every length 0..300 at every alignment.
 *   2. The running value passed in and returned is the finished CRC (the
 *      pre/post inversion happens inside), so crc32c_extend(crc32c(a), b)
 *      == crc32c(a || b): a record can be checksummed field by field.
 *   3. Which path runs is decided once per process (pthread_once), before the
 *      first checksum, together with building the software tables; nothing
 *      here is mutable afterwards, so any thread may call at any time.
 *
 * Why these two paths: the crc32 instruction does 8 bytes per instruction
 * (~3 cycle latency), well beyond what the log's write path needs; slicing-
 * by-8 is the best table method that stays small (8 KiB of tables) for CPUs
 * without it and for non-x86 builds.
 */
#include "util/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_HAVE_X86 1
#include <nmmintrin.h>
#else
#define CRC32C_HAVE_X86 0
#endif

#define POLY 0x82F63B78u /* Castagnoli, bit-reflected */

static uint32_t table[8][256]; /* table[k][b]: CRC of byte b followed by k zero bytes */
static int use_hw;             /* 1 when the SSE4.2 path is used; set once by init() */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1u)));
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int k = 1; k < 8; k++)
            table[k][i] = (table[k - 1][i] >> 8) ^ table[0][table[k - 1][i] & 0xff];
#if CRC32C_HAVE_X86
    __builtin_cpu_init();
    use_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#endif
}

/* Loads 4 bytes little-endian whatever the host order (compilers fold this
 * into one load on little-endian machines). */
static inline uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t extend_sw(uint32_t crc, const unsigned char *p, size_t len)
{
    uint32_t c = ~crc;

    /* Byte at a time up to 8-byte alignment, so the main loop's loads are aligned. */
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint32_t lo = c ^ load_le32(p);
        uint32_t hi = load_le32(p + 4);
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
            table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
            table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
        len--;
    }
    return ~c;
}

#if CRC32C_HAVE_X86
__attribute__((target("sse4.2"))) static uint32_t extend_hw(uint32_t crc, const unsigned char *p,
                                                             size_t len)
{
    uint64_t c = ~crc;

    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8); /* aligned by now; memcpy keeps it strict-aliasing clean */
        c = _mm_crc32_u64(c, w);
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    return ~(uint32_t)c;
}
#endif

uint32_t crc32c_extend_sw(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&init_once, init);
    return extend_sw(crc, data, len);
}

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&init_once, init);
#if CRC32C_HAVE_X86
    if (use_hw)
        return extend_hw(crc, data, len);
#endif
    return extend_sw(crc, data, len);
}

int crc32c_hw_available(void)
{
    pthread_once(&init_once, init);
    return use_hw;
}
