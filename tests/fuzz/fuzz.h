/*
 * fuzz.h — what the libFuzzer targets in tests/fuzz share.
 *
 * Each fuzz_<parser>.c defines LLVMFuzzerTestOneInput (and may define
 * LLVMFuzzerInitialize). Built two ways (the Makefile's fuzzing block):
 *   build/fuzz/fuzz_<x>         clang -fsanitize=fuzzer,address,undefined:
 *                               the fuzzer itself (make fuzz, make fuzz-run)
 *   build/fuzz-replay/fuzz_<x>  $(CC) with ASan+UBSan and replay_main.c
 *                               instead of libFuzzer: runs saved inputs
 *                               (tests/fuzz/replay.sh, part of make test)
 *
 * A broken invariant is FUZZ_CHECK(cond): it prints where and aborts, which
 * libFuzzer reports as a crash and saves the input.
 */
#ifndef MN_TEST_FUZZ_H
#define MN_TEST_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* 1 if [p, p + n) lies within [lo, lo + len). */
static inline int fuzz_within(const void *p, uint64_t n, const void *lo, uint64_t len)
{
    const uint8_t *a = p, *b = lo;
    return a >= b && (uint64_t)(a - b) <= len && n <= len - (uint64_t)(a - b);
}

/* A small deterministic generator, seeded from the input, for choices a
 * harness makes (split points): same input, same run. */
static inline uint32_t fuzz_rand(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

/* Known bugs in src/ that a target steps around so that a long run can go on
 * past them (each is described in docs/reliability.md, Fuzzing, and marked
 * KNOWN where the target tolerates it). With MN_FUZZ_STRICT=1 nothing is
 * tolerated: tests/fuzz/known/<target>/ holds their reproducers, which
 * replay.sh runs strictly and expects to fail until the bug is fixed. */
static inline int fuzz_strict(void)
{
    static int strict = -1;
    if (strict < 0) strict = getenv("MN_FUZZ_STRICT") && getenv("MN_FUZZ_STRICT")[0] == '1';
    return strict;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
