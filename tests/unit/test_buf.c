/*
 * test_buf.c — the growable buffer: contents against a reference copy,
 * doubling growth, the NUL after the bytes, and the oom latch.
 */
#include "harness.h"
#include "util/buf.h"

/* oom_latches asks malloc for impossible sizes and expects NULL; ASan would
 * otherwise stop the process with allocation-size-too-big. Ignored by
 * non-ASan builds. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

TEST(init_and_free)
{
    buf b;

    buf_init(&b);
    ASSERT(b.data == NULL);
    ASSERT_EQ(b.len, 0);
    ASSERT_EQ(b.cap, 0);
    ASSERT_EQ(b.oom, 0);
    buf_append(&b, NULL, 0); /* nothing to append: still nothing allocated */
    ASSERT(b.data == NULL);
    buf_append_str(&b, "x");
    ASSERT(b.data != NULL);
    buf_free(&b);
    ASSERT(b.data == NULL);
    ASSERT_EQ(b.len, 0);
    ASSERT_EQ(b.cap, 0);
    buf_free(&b); /* twice is fine */
    buf_free(NULL);
}

TEST(append_kinds)
{
    buf b;

    buf_init(&b);
    buf_append(&b, "ab", 2);
    buf_append_str(&b, "cd");
    buf_append_byte(&b, 'e');
    buf_append_byte(&b, '\0');
    buf_append(&b, "f\0g", 3);
    ASSERT_EQ(b.len, 9);
    ASSERT_MEM_EQ(b.data, "abcde\0f\0g", 9);
    ASSERT_EQ(b.data[b.len], '\0');
    buf_free(&b);
}

TEST(growth_doubles_and_terminates)
{
    buf b;
    size_t last_cap = 0, grows = 0;

    buf_init(&b);
    for (int i = 0; i < 100000; i++) {
        buf_append_byte(&b, (char)('a' + i % 26));
        ASSERT(b.len < b.cap);
        ASSERT_EQ(b.data[b.len], '\0');
        if (b.cap != last_cap) {
            if (last_cap != 0)
                ASSERT_EQ_U64(b.cap, last_cap * 2);
            last_cap = b.cap;
            grows++;
        }
    }
    ASSERT(grows <= 12); /* 64 .. 128 KiB */
    for (int i = 0; i < 100000; i++)
        ASSERT_EQ(b.data[i], 'a' + i % 26);
    /* One big append jumps straight past several doublings. */
    buf_reset(&b);
    ASSERT(buf_append_zeros(&b, 1000000) != NULL);
    ASSERT(b.cap >= 1000001);
    buf_free(&b);
}

/* Random operations mirrored into a plain array. */
TEST(matches_reference)
{
    size_t cap = 1 << 20, len = 0;
    char *ref = malloc(cap);
    char chunk[300];
    buf b;

    ASSERT(ref != NULL);
    buf_init(&b);
    while (len < cap - 1000) {
        size_t n = (size_t)(harness_rand() % sizeof chunk);
        switch (harness_rand() % 5) {
        case 0:
            harness_rand_bytes(chunk, n);
            buf_append(&b, chunk, n);
            memcpy(ref + len, chunk, n);
            len += n;
            break;
        case 1: {
            char *z = buf_append_zeros(&b, n);
            ASSERT(z != NULL);
            ASSERT(z == b.data + b.len - n);
            memset(ref + len, 0, n);
            len += n;
            break;
        }
        case 2: {
            int v = (int)(harness_rand() % 100000);
            int k = snprintf(ref + len, 32, "<%d>", v);
            buf_printf(&b, "<%d>", v);
            len += (size_t)k;
            break;
        }
        case 3:
            ASSERT_EQ(buf_reserve(&b, n), 0);
            ASSERT(b.cap - b.len > n);
            break;
        default:
            buf_append_byte(&b, (char)n);
            ref[len++] = (char)n;
            break;
        }
        ASSERT_EQ(b.len, len);
        ASSERT_EQ(b.data[b.len], '\0');
    }
    ASSERT(!b.oom);
    ASSERT_MEM_EQ(b.data, ref, len);
    buf_free(&b);
    free(ref);
}

TEST(printf_small_and_large)
{
    buf b;
    char big[5000];

    buf_init(&b);
    buf_printf(&b, "%s-%d", "x", 42); /* into an empty buffer */
    ASSERT_STR_EQ(b.data, "x-42");
    ASSERT_EQ(b.len, 4);
    buf_printf(&b, "%s", ""); /* nothing */
    ASSERT_EQ(b.len, 4);
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "[%s]", big); /* larger than the capacity left */
    ASSERT_EQ(b.len, 4 + 2 + sizeof big - 1);
    ASSERT_EQ(b.data[4], '[');
    ASSERT_EQ(b.data[b.len - 1], ']');
    ASSERT_EQ(b.data[b.len], '\0');
    ASSERT_EQ(strlen(b.data), b.len);
    /* Exactly filling the space left (the NUL's byte is kept apart). */
    buf_reset(&b);
    buf_append_zeros(&b, b.cap - 1 - 10);
    buf_printf(&b, "%s", "0123456789");
    ASSERT_EQ(b.len, b.cap - 1);
    ASSERT_MEM_EQ(b.data + b.len - 10, "0123456789", 10);
    ASSERT_EQ(b.data[b.len], '\0');
    buf_printf(&b, "%s", "+");
    ASSERT_EQ(b.data[b.len - 1], '+');
    ASSERT_EQ(b.data[b.len], '\0');
    buf_free(&b);
}

/* Appending the buffer's own bytes survives the realloc that needs. */
TEST(self_append)
{
    buf b;

    buf_init(&b);
    buf_append_str(&b, "abc");
    for (int i = 0; i < 12; i++)
        buf_append(&b, b.data, b.len);
    ASSERT_EQ(b.len, 3u << 12);
    for (size_t i = 0; i < b.len; i++)
        ASSERT_EQ(b.data[i], "abc"[i % 3]);
    buf_append(&b, b.data + 1, 2);
    ASSERT_MEM_EQ(b.data + b.len - 2, "bc", 2);
    buf_free(&b);
}

TEST(reset_keeps_memory)
{
    buf b;
    char *mem;
    size_t cap;

    buf_init(&b);
    buf_append_str(&b, "hello world");
    mem = b.data;
    cap = b.cap;
    buf_reset(&b);
    ASSERT_EQ(b.len, 0);
    ASSERT(b.data == mem);
    ASSERT_EQ(b.cap, cap);
    ASSERT_STR_EQ(b.data, "");
    buf_append_str(&b, "again");
    ASSERT_STR_EQ(b.data, "again");
    buf_free(&b);
}

/* A failed allocation latches oom: later appends do nothing, what was there
 * stays intact and terminated; reset clears the latch. */
TEST(oom_latches)
{
    buf b;

    buf_init(&b);
    buf_append_str(&b, "kept");
    ASSERT_EQ(buf_reserve(&b, SIZE_MAX), -1);
    ASSERT_EQ(b.oom, 1);
    ASSERT_EQ(buf_reserve(&b, SIZE_MAX - 100), -1);
    ASSERT_EQ(buf_reserve(&b, 1), -1); /* latched, even for a small request */
    buf_append_str(&b, "lost");
    buf_append_byte(&b, 'x');
    buf_printf(&b, "%d", 1);
    ASSERT(buf_append_zeros(&b, 1) == NULL);
    ASSERT_EQ(b.len, 4);
    ASSERT_STR_EQ(b.data, "kept");
    ASSERT_EQ(b.oom, 1);
    /* A request too large for malloc (not an overflow) also latches. */
    buf_reset(&b);
    ASSERT_EQ(b.oom, 0);
    ASSERT_EQ(buf_reserve(&b, SIZE_MAX / 2), -1);
    ASSERT_EQ(b.oom, 1);
    buf_reset(&b);
    buf_append_str(&b, "fresh");
    ASSERT_STR_EQ(b.data, "fresh");
    ASSERT_EQ(b.oom, 0);
    buf_free(&b);
    /* On an empty buffer, too. */
    ASSERT(buf_append_zeros(&b, SIZE_MAX - 1) == NULL);
    ASSERT_EQ(b.oom, 1);
    ASSERT(b.data == NULL);
    buf_free(&b);
}

TEST(zeros)
{
    buf b;
    char *p;

    buf_init(&b);
    p = buf_append_zeros(&b, 0); /* success is never NULL, even for 0 bytes */
    ASSERT(p != NULL);
    ASSERT_EQ(b.len, 0);
    buf_append_str(&b, "ab");
    p = buf_append_zeros(&b, 4);
    ASSERT(p == b.data + 2);
    ASSERT_MEM_EQ(b.data, "ab\0\0\0\0", 6);
    ASSERT_EQ(b.len, 6);
    buf_free(&b);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(init_and_free);
    RUN(append_kinds);
    RUN(growth_doubles_and_terminates);
    RUN(matches_reference);
    RUN(printf_small_and_large);
    RUN(self_append);
    RUN(reset_keeps_memory);
    RUN(oom_latches);
    RUN(zeros);
    return harness_summary();
}
