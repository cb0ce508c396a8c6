/*
 * harness.h — the unit tests' tiny assert harness (header-only, in the
 * manner of libuv's test/task.h).
 *
 * A test file defines tests with TEST(name), runs them from main with RUN,
 * and ends with harness_summary(), which prints "N passed, N failed" and
 * gives the exit status:
 *
 *     #include "harness.h"
 *
 *     TEST(adds) { ASSERT_EQ(1 + 1, 2); }
 *     TEST(names) { ASSERT_STR_EQ(mn_strerror(MN_EINVAL), "invalid argument"); }
 *
 *     int main(int argc, char **argv)
 *     {
 *         harness_init(argc, argv);   // ./test_x adds  runs only "adds"
 *         RUN(adds);
 *         RUN(names);
 *         return harness_summary();
 *     }
 *
 * A failed ASSERT_* prints file:line, the expression and both sides, then
 * abandons the test (longjmp back to RUN) and the next one runs. Whatever the
 * failed test allocated is leaked; that is fine in a failing run. An ASSERT
 * that fails on a thread other than main's aborts the process instead (a
 * longjmp across threads is undefined). A crash (SIGSEGV, SIGABRT, ...) is
 * reported with the running test's name before the previous handler (the
 * default, or ASan's) takes over.
 *
 * Random tests draw from harness_rand() / harness_rand_bytes(), seeded per
 * test from $MN_TEST_SEED (or else the clock) and the test's name; a failure
 * prints the seed, so `MN_TEST_SEED=N ./test_x name` replays it exactly.
 *
 * Scratch space: harness_tmpdir(buf, size) makes a fresh directory under
 * $MN_TEST_TMP (or /tmp); harness_rmrf(path) removes a tree.
 *
 * Needs _GNU_SOURCE (the Makefile defines it) for nftw and mkdtemp.
 */
#ifndef MN_TEST_HARNESS_H
#define MN_TEST_HARNESS_H

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mnemosyne.h"

#define HARNESS_FN static inline __attribute__((unused))

/* The harness's state; one per test binary. */
static struct harness_state {
    const char *current;   /* name of the running test, NULL outside RUN */
    jmp_buf jump;          /* where a failed assertion returns to */
    int passed, failed;    /* tests so far */
    int argc;              /* test names given on the command line (filter) */
    char **argv;
    pthread_t main_thread; /* the only thread that may longjmp */
    pid_t pid;             /* the process that runs the tests (not a forked child) */
    uint64_t seed;         /* harness_rand's seed, printed on failure */
    uint64_t rng;          /* harness_rand's state */
} harness __attribute__((unused));

/* ------------------------------------------------------------------------ */
/* Defining and running tests                                                 */
/* ------------------------------------------------------------------------ */

/* TEST(foo) defines static void test_foo(void); RUN(foo) runs it. */
#define TEST(name) static void test_##name(void)
#define RUN(name) harness_run(#name, test_##name)

/* ------------------------------------------------------------------------ */
/* Assertions: each prints both sides and file:line, then ends the test.     */
/* ------------------------------------------------------------------------ */

/* Fails the running test with a printf-style message. */
#define FAIL(...) harness_fail(__FILE__, __LINE__, __VA_ARGS__)

#define ASSERT(cond)                                                                     \
    do {                                                                                 \
        if (!(cond))                                                                     \
            FAIL("ASSERT(%s)", #cond);                                                   \
    } while (0)

/* Signed integers (anything that fits in long long). The operands are
 * stringized here, before any macro in them expands. */
#define ASSERT_EQ(a, b) HARNESS_CMP_I("ASSERT_EQ", #a, #b, a, ==, b)
#define ASSERT_NE(a, b) HARNESS_CMP_I("ASSERT_NE", #a, #b, a, !=, b)
#define ASSERT_LT(a, b) HARNESS_CMP_I("ASSERT_LT", #a, #b, a, <, b)
#define ASSERT_LE(a, b) HARNESS_CMP_I("ASSERT_LE", #a, #b, a, <=, b)
#define ASSERT_GT(a, b) HARNESS_CMP_I("ASSERT_GT", #a, #b, a, >, b)
#define ASSERT_GE(a, b) HARNESS_CMP_I("ASSERT_GE", #a, #b, a, >=, b)
#define HARNESS_CMP_I(name, sa, sb, a, op, b)                                            \
    do {                                                                                 \
        long long harness_a_ = (long long)(a), harness_b_ = (long long)(b);              \
        if (!(harness_a_ op harness_b_))                                                 \
            FAIL("%s(%s, %s)\n    left:  %lld\n    right: %lld", name, sa, sb,           \
                 harness_a_, harness_b_);                                                \
    } while (0)

/* Unsigned 64-bit values (positions, CRCs, sizes), printed in decimal and hex. */
#define ASSERT_EQ_U64(a, b) HARNESS_CMP_U("ASSERT_EQ_U64", #a, #b, a, ==, b)
#define ASSERT_NE_U64(a, b) HARNESS_CMP_U("ASSERT_NE_U64", #a, #b, a, !=, b)
#define ASSERT_LT_U64(a, b) HARNESS_CMP_U("ASSERT_LT_U64", #a, #b, a, <, b)
#define ASSERT_LE_U64(a, b) HARNESS_CMP_U("ASSERT_LE_U64", #a, #b, a, <=, b)
#define ASSERT_GT_U64(a, b) HARNESS_CMP_U("ASSERT_GT_U64", #a, #b, a, >, b)
#define ASSERT_GE_U64(a, b) HARNESS_CMP_U("ASSERT_GE_U64", #a, #b, a, >=, b)
#define HARNESS_CMP_U(name, sa, sb, a, op, b)                                            \
    do {                                                                                 \
        uint64_t harness_a_ = (uint64_t)(a), harness_b_ = (uint64_t)(b);                 \
        if (!(harness_a_ op harness_b_))                                                 \
            FAIL("%s(%s, %s)\n    left:  %" PRIu64 " (0x%" PRIx64 ")\n"                  \
                 "    right: %" PRIu64 " (0x%" PRIx64 ")",                               \
                 name, sa, sb, harness_a_, harness_a_, harness_b_, harness_b_);          \
    } while (0)

/* NUL-terminated strings (NULL allowed, equal only to NULL). */
#define ASSERT_STR_EQ(a, b)                                                              \
    do {                                                                                 \
        const char *harness_a_ = (a), *harness_b_ = (b);                                 \
        if (!harness_str_eq(harness_a_, harness_b_))                                     \
            harness_fail_str(__FILE__, __LINE__, #a, #b, harness_a_, harness_b_);        \
    } while (0)

/* n bytes; on failure shows the first differing offset and the bytes there. */
#define ASSERT_MEM_EQ(a, b, n)                                                           \
    do {                                                                                 \
        const void *harness_a_ = (a), *harness_b_ = (b);                                 \
        size_t harness_n_ = (n);                                                         \
        if (harness_n_ != 0 && memcmp(harness_a_, harness_b_, harness_n_) != 0)          \
            harness_fail_mem(__FILE__, __LINE__, #a, #b, harness_a_, harness_b_,         \
                             harness_n_);                                                \
    } while (0)

/* A library call that must succeed: on failure prints the code's name and
 * mn_errmsg(). ASSERT_ERR: it must fail with exactly `code`. */
#define ASSERT_OK(expr) ASSERT_ERR(expr, MN_OK)
#define ASSERT_ERR(expr, code)                                                           \
    do {                                                                                 \
        int harness_rc_ = (expr), harness_want_ = (code);                                \
        if (harness_rc_ != harness_want_)                                                \
            FAIL("%s\n    got:      %d (%s)%s%s%s\n    expected: %d (%s)", #expr,        \
                 harness_rc_, mn_strerror(harness_rc_), harness_rc_ ? " \"" : "",       \
                 harness_rc_ ? mn_errmsg() : "", harness_rc_ ? "\"" : "", harness_want_, \
                 mn_strerror(harness_want_));                                            \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Implementation                                                             */
/* ------------------------------------------------------------------------ */

/* Prints the first line of a failure report: test, file:line. */
HARNESS_FN void harness_fail_header(const char *file, int line)
{
    fflush(stdout);
    fprintf(stderr, "FAIL  %s  %s:%d\n", harness.current ? harness.current : "(main)", file,
            line);
}

/* Ends a failure report and abandons the test. */
HARNESS_FN __attribute__((noreturn)) void harness_abandon(void)
{
    fprintf(stderr, "    (MN_TEST_SEED=%" PRIu64 ")\n", harness.seed);
    fflush(stderr);
    if (getpid() != harness.pid)
        _exit(1); /* in a child a test forked: it must not go on running tests */
    if (harness.current == NULL || !pthread_equal(pthread_self(), harness.main_thread))
        abort(); /* outside RUN, or on another thread: nowhere to jump to */
    longjmp(harness.jump, 1);
}

HARNESS_FN void harness_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
HARNESS_FN void harness_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    harness_fail_header(file, line);
    fputs("    ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    harness_abandon();
}

HARNESS_FN int harness_str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Prints s quoted, with non-printable bytes as \xNN. */
HARNESS_FN void harness_print_quoted(const char *s, size_t n)
{
    fputc('"', stderr);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(stderr, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputc('"', stderr);
}

HARNESS_FN __attribute__((noreturn)) void harness_fail_str(const char *file, int line,
                                                           const char *ea, const char *eb,
                                                           const char *a, const char *b)
{
    harness_fail_header(file, line);
    fprintf(stderr, "    ASSERT_STR_EQ(%s, %s)\n    left:  ", ea, eb);
    if (a)
        harness_print_quoted(a, strlen(a));
    else
        fputs("NULL", stderr);
    fputs("\n    right: ", stderr);
    if (b)
        harness_print_quoted(b, strlen(b));
    else
        fputs("NULL", stderr);
    fputc('\n', stderr);
    harness_abandon();
}

HARNESS_FN __attribute__((noreturn)) void harness_fail_mem(const char *file, int line,
                                                           const char *ea, const char *eb,
                                                           const void *a, const void *b,
                                                           size_t n)
{
    const unsigned char *pa = a, *pb = b;
    size_t off = 0, from, to;

    while (off < n && pa[off] == pb[off])
        off++;
    from = off >= 8 ? off - 8 : 0;
    to = n - off > 16 ? off + 16 : n;
    harness_fail_header(file, line);
    fprintf(stderr, "    ASSERT_MEM_EQ(%s, %s, %zu): first difference at offset %zu\n", ea, eb,
            n, off);
    fprintf(stderr, "    left  [%zu..%zu):", from, to);
    for (size_t i = from; i < to; i++)
        fprintf(stderr, i == off ? " [%02x]" : " %02x", pa[i]);
    fprintf(stderr, "\n    right [%zu..%zu):", from, to);
    for (size_t i = from; i < to; i++)
        fprintf(stderr, i == off ? " [%02x]" : " %02x", pb[i]);
    fputc('\n', stderr);
    harness_abandon();
}

/* Crash reporting: name the test, then let the previous handler act. */
static struct sigaction harness_old_sa[32] __attribute__((unused));

HARNESS_FN void harness_on_crash(int sig)
{
    /* Only async-signal-safe calls here: write(2) of pieces. */
    const char *name = harness.current ? harness.current : "(main)";
    char num[4] = {(char)('0' + sig / 10 % 10), (char)('0' + sig % 10), '\n', 0};

    (void)!write(2, "CRASH ", 6);
    (void)!write(2, name, strlen(name));
    (void)!write(2, ": signal ", 9);
    (void)!write(2, sig >= 10 ? num : num + 1, sig >= 10 ? 3 : 2);
    /* Restore and return: a fault re-executes and now meets the old handler
     * (ASan's or the default); other signals are raised again, delivered
     * when this handler returns. */
    sigaction(sig, &harness_old_sa[sig], NULL);
    if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE)
        raise(sig);
}

/* splitmix64: small, fast, and every seed is a good one. */
HARNESS_FN uint64_t harness_rand(void)
{
    uint64_t z = (harness.rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Fills p with n random bytes from harness_rand. */
HARNESS_FN void harness_rand_bytes(void *p, size_t n)
{
    unsigned char *o = p;
    while (n > 0) {
        uint64_t r = harness_rand();
        size_t k = n < 8 ? n : 8;
        memcpy(o, &r, k);
        o += k;
        n -= k;
    }
}

HARNESS_FN void harness_init(int argc, char **argv)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    const char *s = getenv("MN_TEST_SEED");
    struct sigaction sa;

    harness.argc = argc > 1 ? argc - 1 : 0;
    harness.argv = argv + 1;
    harness.main_thread = pthread_self();
    harness.pid = getpid();
    if (s != NULL && *s != '\0') {
        harness.seed = strtoull(s, NULL, 0);
    } else {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        harness.seed = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
                       (uint64_t)getpid() << 32;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = harness_on_crash;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, &harness_old_sa[sigs[i]]);
}

HARNESS_FN void harness_run(const char *name, void (*fn)(void))
{
    if (harness.argc > 0) {
        int wanted = 0;
        for (int i = 0; i < harness.argc; i++)
            wanted |= strcmp(harness.argv[i], name) == 0;
        if (!wanted)
            return;
    }
    /* Each test's random sequence depends only on the seed and its name, so
     * `MN_TEST_SEED=N ./test_x name` replays one failing test alone. */
    harness.rng = harness.seed;
    for (const char *c = name; *c; c++)
        harness.rng = (harness.rng ^ (unsigned char)*c) * UINT64_C(0x100000001b3);
    harness.current = name;
    if (setjmp(harness.jump) == 0) {
        fn();
        harness.passed++;
        printf("ok    %s\n", name);
    } else {
        harness.failed++; /* the report went to stderr, starting "FAIL  name" */
    }
    fflush(stdout);
    harness.current = NULL;
}

/* Prints "N passed, N failed"; the exit status for main (0 only if none failed
 * and at least one test ran). */
HARNESS_FN int harness_summary(void)
{
    printf("%d passed, %d failed\n", harness.passed, harness.failed);
    fflush(stdout);
    return harness.failed == 0 && harness.passed > 0 ? 0 : 1;
}

/* ------------------------------------------------------------------------ */
/* Scratch directories                                                        */
/* ------------------------------------------------------------------------ */

/* Makes a fresh empty directory under $MN_TEST_TMP (or /tmp) and writes its
 * path into out; returns out. Fails the running test if it cannot. Remove it
 * with harness_rmrf when done. */
HARNESS_FN char *harness_tmpdir(char *out, size_t cap)
{
    const char *base = getenv("MN_TEST_TMP");
    int n;

    if (base == NULL || *base == '\0')
        base = "/tmp";
    n = snprintf(out, cap, "%s/mn-test-%s-XXXXXX", base,
                 harness.current ? harness.current : "main");
    if (n < 0 || (size_t)n >= cap)
        FAIL("harness_tmpdir: a buffer of %zu bytes is too small", cap);
    if (mkdtemp(out) == NULL)
        FAIL("harness_tmpdir: mkdtemp(%s) failed: %s", out, strerror(errno));
    return out;
}

HARNESS_FN int harness_rmrf_one(const char *path, const struct stat *st, int flag,
                                struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Removes path and everything under it (not following symlinks). 0, or -1
 * with errno if something could not be removed. A missing path is not an
 * error. */
HARNESS_FN int harness_rmrf(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    return nftw(path, harness_rmrf_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
