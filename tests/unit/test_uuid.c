/*
 * test_uuid.c — event ids (UUIDv7 generation, mn_uuid_parse/format), and the
 * error reporting they rely on (mn_strerror, mn_errmsg, error_set), and the
 * clocks the ids are made from.
 */
#include <sys/wait.h>

#include "harness.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/uuid.h"

TEST(format_parse_roundtrip)
{
    static const uint8_t id[16] = {0x01, 0x8f, 0x3a, 0x4b, 0xc5, 0xd6, 0x7e, 0xf7,
                                   0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
    uint8_t back[16], r[16];
    char text[37];

    mn_uuid_format(id, text);
    ASSERT_STR_EQ(text, "018f3a4b-c5d6-7ef7-8899-aabbccddeeff");
    ASSERT_OK(mn_uuid_parse(text, 36, back));
    ASSERT_MEM_EQ(back, id, 16);
    for (int i = 0; i < 1000; i++) {
        harness_rand_bytes(r, 16);
        mn_uuid_format(r, text);
        ASSERT_EQ(strlen(text), 36);
        ASSERT_OK(mn_uuid_parse(text, strlen(text), back));
        ASSERT_MEM_EQ(back, r, 16);
    }
}

TEST(parse_any_case)
{
    static const uint8_t want[16] = {0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
                                     0xab, 0xcd, 0xef, 0xab, 0xcd, 0xef, 0xab, 0xcd};
    uint8_t out[16];
    char text[37];

    ASSERT_OK(mn_uuid_parse("ABCDEF01-2345-6789-ABCD-EFABCDEFABCD", 36, out));
    ASSERT_MEM_EQ(out, want, 16);
    ASSERT_OK(mn_uuid_parse("aBcDeF01-2345-6789-AbCd-eFaBcDeFaBcD", 36, out));
    ASSERT_MEM_EQ(out, want, 16);
    mn_uuid_format(out, text);
    ASSERT_STR_EQ(text, "abcdef01-2345-6789-abcd-efabcdefabcd");
    /* len counts, not the NUL: trailing bytes past len are ignored */
    ASSERT_OK(mn_uuid_parse("abcdef01-2345-6789-abcd-efabcdefabcdXYZ", 36, out));
    ASSERT_MEM_EQ(out, want, 16);
}

TEST(parse_rejects_malformed)
{
    static const char *bad[] = {
        "",
        "abcdef01-2345-6789-abcd-efabcdefabc",      /* 35 */
        "abcdef01-2345-6789-abcd-efabcdefabcd0",    /* 37 */
        "abcdef0123456789abcdefabcdefabcd",         /* no hyphens */
        "abcdef012-345-6789-abcd-efabcdefabcd",     /* hyphen moved */
        "abcdef01-2345-6789-abcdefabcdefabcd-",
        "abcdef01_2345_6789_abcd_efabcdefabcd",
        "gbcdef01-2345-6789-abcd-efabcdefabcd",     /* not hex */
        "abcdef01-2345-6789-abcd-efabcdefabcg",
        "abcdef01-2345-6789-abcd-efabcdefab d",
        "abcdef01-+345-6789-abcd-efabcdefabcd",
        "{abcdef01-2345-6789-abcd-efabcdefabc}",
        "urn:uuid:abcdef01-2345-6789-abcd-efab",
        " abcdef01-2345-6789-abcd-efabcdefabc",
        "abcdef01-2345-6789-abcd-efabcdefabc\n",
        "abcdef01-2345-6789-abcd-efabcdefab\xc3\xa9",
    };
    static const uint8_t sentinel[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    uint8_t out[16];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(out, sentinel, 16);
        error_clear();
        if (mn_uuid_parse(bad[i], strlen(bad[i]), out) != MN_EINVAL)
            FAIL("accepted \"%s\"", bad[i]);
        ASSERT_MEM_EQ(out, sentinel, 16); /* nothing written on failure */
        ASSERT(strstr(mn_errmsg(), "UUID") != NULL);
    }
    /* An embedded NUL, and a NULL pointer. */
    ASSERT_ERR(mn_uuid_parse("abcdef01-2345-6789-abcd-efabcd\0fabcd", 36, out), MN_EINVAL);
    ASSERT_ERR(mn_uuid_parse(NULL, 36, out), MN_EINVAL);
    ASSERT_ERR(mn_uuid_parse(NULL, 0, out), MN_EINVAL);
    ASSERT_MEM_EQ(out, sentinel, 16);
    /* The message says where, without echoing the input. */
    ASSERT_ERR(mn_uuid_parse("abcdef01-2345-6789-abcd-efabcdefab\r\n", 36, out), MN_EINVAL);
    ASSERT(strstr(mn_errmsg(), "offset 34") != NULL);
    ASSERT(strchr(mn_errmsg(), '\r') == NULL && strchr(mn_errmsg(), '\n') == NULL);
}

static uint64_t id_ms(const uint8_t id[16])
{
    uint64_t ms = 0;
    for (int i = 0; i < 6; i++)
        ms = ms << 8 | id[i];
    return ms;
}

TEST(v7_layout)
{
    uint8_t id[16];
    uint64_t before = clock_wall_ms(), after;

    uuid_v7(id);
    after = clock_wall_ms();
    ASSERT_EQ(id[6] >> 4, 7);      /* version */
    ASSERT_EQ(id[8] >> 6, 2);      /* variant 10 */
    ASSERT_LE_U64(before, id_ms(id));
    ASSERT_LE_U64(id_ms(id), after);
    ASSERT(!uuid_is_zero(id));
}

/* Later ids sort later (memcmp order), the prefix never goes back, and the
 * random part does vary. */
TEST(v7_monotonic)
{
    enum { N = 200000 };
    uint8_t prev[16], id[16];
    uint64_t same_ms = 0;
    int low_bits_differ = 0;

    uuid_v7(prev);
    for (int i = 0; i < N; i++) {
        uuid_v7(id);
        ASSERT_EQ(id[6] >> 4, 7);
        ASSERT_EQ(id[8] >> 6, 2);
        ASSERT_LE_U64(id_ms(prev), id_ms(id));
        if (memcmp(prev, id, 16) >= 0) {
            char a[37], b[37];
            mn_uuid_format(prev, a);
            mn_uuid_format(id, b);
            FAIL("id %d not above the previous one: %s then %s", i, a, b);
        }
        same_ms += id_ms(prev) == id_ms(id);
        low_bits_differ |= memcmp(prev + 12, id + 12, 4) != 0;
        memcpy(prev, id, 16);
    }
    ASSERT(same_ms > 0); /* the within-millisecond counter was exercised */
    ASSERT(low_bits_differ);
}

enum { THREADS = 4, PER_THREAD = 20000 };
static uint8_t thread_ids[THREADS][PER_THREAD][16];

static void *gen_thread(void *arg)
{
    uint8_t(*ids)[16] = arg;
    for (int i = 0; i < PER_THREAD; i++)
        uuid_v7(ids[i]);
    return NULL;
}

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }

TEST(v7_threads_unique)
{
    pthread_t t[THREADS];
    uint8_t(*all)[16] = malloc(sizeof thread_ids);

    ASSERT(all != NULL);
    for (int i = 0; i < THREADS; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, gen_thread, thread_ids[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++)
        for (int k = 1; k < PER_THREAD; k++)
            ASSERT(memcmp(thread_ids[i][k - 1], thread_ids[i][k], 16) < 0);
    memcpy(all, thread_ids, sizeof thread_ids);
    qsort(all, (size_t)THREADS * PER_THREAD, 16, cmp16);
    for (size_t k = 1; k < (size_t)THREADS * PER_THREAD; k++)
        ASSERT(memcmp(all[k - 1], all[k], 16) != 0);
    free(all);
}

/* A forked child must not mint the ids its parent mints next. */
TEST(v7_fork_differs)
{
    uint8_t parent[16], child[16];
    int fds[2];
    pid_t pid;
    int status;

    uuid_v7(parent); /* fill the pool before forking */
    ASSERT_EQ(pipe(fds), 0);
    pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        uuid_v7(child);
        _exit(write(fds[1], child, 16) == 16 ? 0 : 1);
    }
    uuid_v7(parent);
    ASSERT_EQ(read(fds[0], child, 16), 16);
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fds[0]);
    close(fds[1]);
    ASSERT(memcmp(parent, child, 16) != 0);
    ASSERT(memcmp(parent + 8, child + 8, 8) != 0);
}

TEST(is_zero)
{
    uint8_t id[16] = {0};

    ASSERT(uuid_is_zero(id));
    for (int i = 0; i < 16; i++) {
        id[i] = 0x80;
        ASSERT(!uuid_is_zero(id));
        id[i] = 0;
    }
}

TEST(strerror_names_every_code)
{
    const char *seen[17];

    ASSERT_STR_EQ(mn_strerror(MN_OK), "success");
    ASSERT_STR_EQ(mn_strerror(MN_EWRONGVERSION), "wrong expected version");
    for (int code = MN_OK; code >= MN_EIDORDER; code--) {
        const char *s = mn_strerror(code);
        ASSERT(s != NULL && *s != '\0');
        if (strcmp(s, "unknown error") == 0)
            FAIL("code %d has no name", code);
        for (int k = 0; k < -code; k++)
            if (strcmp(seen[k], s) == 0)
                FAIL("codes %d and %d share the name \"%s\"", -k, code, s);
        seen[-code] = s;
    }
    ASSERT_STR_EQ(mn_strerror(MN_ENOGROUP - 1), "unknown error");
    ASSERT_STR_EQ(mn_strerror(1), "unknown error");
}

static void *other_thread_msg(void *arg)
{
    const char **out = arg;
    *out = mn_errmsg();
    return NULL;
}

TEST(errmsg_thread_local)
{
    char long_arg[2000];
    const char *other = NULL;
    pthread_t t;

    error_clear();
    ASSERT_STR_EQ(mn_errmsg(), "");
    errno = EAGAIN;
    ASSERT_EQ(error_set(MN_ENOTFOUND, "no stream %s", "account-1"), MN_ENOTFOUND);
    ASSERT_EQ(errno, EAGAIN); /* preserved */
    ASSERT_STR_EQ(mn_errmsg(), "no stream account-1");
    ASSERT_EQ(pthread_create(&t, NULL, other_thread_msg, &other), 0);
    pthread_join(t, NULL);
    ASSERT_STR_EQ(other, "");
    ASSERT_STR_EQ(mn_errmsg(), "no stream account-1");

    memset(long_arg, 'x', sizeof long_arg - 1);
    long_arg[sizeof long_arg - 1] = '\0';
    error_set(MN_EINVAL, "%s", long_arg);
    ASSERT(strlen(mn_errmsg()) < sizeof long_arg);
    ASSERT(strlen(mn_errmsg()) >= 400);
    ASSERT(strcmp(mn_errmsg() + strlen(mn_errmsg()) - 3, "...") == 0);
    /* Wrapping the current detail in a new one. */
    error_set(MN_EIO, "write seg-0: %s", "disk on fire");
    error_set(MN_EIO, "append: %s", mn_errmsg());
    ASSERT_STR_EQ(mn_errmsg(), "append: write seg-0: disk on fire");
    error_clear();
    ASSERT_STR_EQ(mn_errmsg(), "");
}

TEST(clocks)
{
    uint64_t m0 = clock_mono_us(), m1;
    uint64_t wall = clock_wall_ms();
    uint64_t t = (uint64_t)time(NULL) * 1000u;
    struct timespec nap = {0, 2000000};

    ASSERT_LE_U64(wall > t ? wall - t : t - wall, 2000);
    ASSERT_LE_U64(clock_wall_us() / 1000u - wall, 1000);
    nanosleep(&nap, NULL);
    m1 = clock_mono_us();
    ASSERT_LE_U64(m0 + 2000, m1);
    ASSERT_LE_U64(m1 / 1000u, clock_mono_ms());
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(format_parse_roundtrip);
    RUN(parse_any_case);
    RUN(parse_rejects_malformed);
    RUN(v7_layout);
    RUN(v7_monotonic);
    RUN(v7_threads_unique);
    RUN(v7_fork_differs);
    RUN(is_zero);
    RUN(strerror_names_every_code);
    RUN(errmsg_thread_local);
    RUN(clocks);
    return harness_summary();
}
