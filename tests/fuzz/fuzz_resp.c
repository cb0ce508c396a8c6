/*
 * fuzz_resp.c — the RESP request parser (src/server/resp.c, resp_parse).
 *
 * Input: byte 0 = options, byte 1 = seed of the split points, the rest = the
 * bytes a client sends (any mix of multibulk and inline commands, garbage).
 *   bit 0     authenticated (else Redis's tighter pre-AUTH limits apply)
 *   bits 1-2  proto-max-bulk-len: 8, 1 KiB, 1 MiB, 512 MiB
 *   bits 3-4  how the bytes arrive: one at a time, 1..16, 1..512, in halves
 *
 * The harness plays the server's query buffer (client.c, process_input):
 * bytes arrive in chunks; after each, every complete command is taken, the
 * unprocessed rest is moved to the front. Each time the buffer grows it is
 * reallocated to exactly its content, so ASan catches a read past it.
 *
 * Invariants checked:
 *   - a command's arguments lie inside the command (off + len < pos) and
 *     are NUL-terminated there; multibulk arguments are the very bytes that
 *     were sent at that place; the pre-AUTH and bulk-length limits hold;
 *   - an error is a "Protocol error: ..." text;
 *   - the same bytes give the same commands and the same outcome whether
 *     they arrive at once or in pieces (except where Redis's own "too big
 *     ... " limits depend on how much is buffered: then the commands before
 *     the error must agree);
 *   - nothing leaks (resp_req_free).
 */
#include <string.h>

#include "fuzz.h"
#include "server/resp.h"
#include "util/buf.h"

typedef struct outcome {
    buf log;          /* every command: argc, then each length and bytes; then the end */
    size_t *ends;     /* log length after each command */
    size_t ncmds, cap;
    int too_big;      /* ended with a "too big" error (depends on buffering) */
} outcome;

static void note_cmd(outcome *o)
{
    if (o->ncmds == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->ends = realloc(o->ends, o->cap * sizeof *o->ends);
        FUZZ_CHECK(o->ends != NULL);
    }
    o->ends[o->ncmds++] = o->log.len;
}

static size_t next_chunk(int mode, uint64_t *seed, size_t left)
{
    size_t k;
    switch (mode) {
    case 0: k = 1; break;
    case 1: k = 1 + fuzz_rand(seed) % 16; break;
    case 2: k = 1 + fuzz_rand(seed) % 512; break;
    default: k = left > 1 ? (left + 1) / 2 : 1; break;
    }
    return k < left ? k : left;
}

/* Feeds in[0..n) to a fresh parser, in chunks (mode) or at once (mode -1). */
static void session(const uint8_t *in, size_t n, const resp_limits *lim, int mode, uint64_t seed,
                    outcome *o)
{
    resp_req r;
    char *qb = NULL;  /* the query buffer: the unprocessed bytes */
    size_t qlen = 0;  /* bytes in it */
    size_t fed = 0;   /* bytes of in[] received so far */
    int failed = 0;
    resp_req_init(&r);
    while (fed < n && !failed) {
        size_t k = mode < 0 ? n : next_chunk(mode, &seed, n - fed);
        char *nb = malloc(qlen + k);
        FUZZ_CHECK(nb != NULL);
        if (qlen) memcpy(nb, qb, qlen);
        memcpy(nb + qlen, in + fed, k);
        free(qb);
        qb = nb;
        qlen += k;
        fed += k;
        size_t start = 0; /* the current command's start in qb */
        while (start < qlen) {
            int rc = resp_parse(&r, qb + start, qlen - start, lim);
            if (rc == RESP_INCOMPLETE) break;
            if (rc == RESP_ERROR) {
                FUZZ_CHECK(strncmp(r.err, "Protocol error: ", 16) == 0);
                o->too_big = strstr(r.err, "too big") != NULL;
                buf_append_str(&o->log, "ERR ");
                buf_append_str(&o->log, r.err);
                failed = 1;
                break;
            }
            FUZZ_CHECK(rc == RESP_COMPLETE);
            FUZZ_CHECK(r.pos > 0 && r.pos <= qlen - start);
            FUZZ_CHECK(r.argc >= 0 && r.argc <= RESP_MAX_MULTIBULK);
            /* where this command began in the input */
            size_t abs = fed - qlen + start;
            uint32_t argc = (uint32_t)r.argc;
            buf_append(&o->log, &argc, sizeof argc);
            for (int i = 0; i < r.argc; i++) {
                size_t off = r.off[i], len = r.len[i];
                FUZZ_CHECK(off < r.pos && len < r.pos - off); /* room for the NUL too */
                FUZZ_CHECK(qb[start + off + len] == '\0');
                if (r.kind == RESP_KIND_MULTIBULK) {
                    FUZZ_CHECK(memcmp(qb + start + off, in + abs + off, len) == 0);
                    FUZZ_CHECK((long long)len <= lim->max_bulk);
                    if (!lim->authed) FUZZ_CHECK(len <= RESP_UNAUTH_MAX_BULK);
                }
                uint64_t l64 = len;
                buf_append(&o->log, &l64, sizeof l64);
                buf_append(&o->log, qb + start + off, len);
            }
            if (r.kind == RESP_KIND_MULTIBULK && !lim->authed)
                FUZZ_CHECK(r.argc <= RESP_UNAUTH_MAX_ARGS);
            note_cmd(o);
            start += r.pos;
            resp_req_reset(&r);
        }
        /* as process_input: keep only the unprocessed bytes */
        if (start > 0) {
            memmove(qb, qb + start, qlen - start);
            qlen -= start;
        }
    }
    if (!failed) {
        uint64_t left = qlen;
        buf_append_str(&o->log, "END ");
        buf_append(&o->log, &left, sizeof left);
    }
    FUZZ_CHECK(!o->log.oom);
    resp_req_free(&r);
    free(qb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long long bulks[4] = {8, 1024, 1 << 20, 512ll << 20};
    if (size < 2) return 0;
    resp_limits lim = {bulks[(data[0] >> 1) & 3], data[0] & 1};
    int mode = (data[0] >> 3) & 3;
    uint64_t seed = data[1] + 1;
    const uint8_t *in = data + 2;
    size_t n = size - 2;
    if (n == 0) return 0;

    outcome whole, parts;
    memset(&whole, 0, sizeof whole);
    memset(&parts, 0, sizeof parts);
    buf_init(&whole.log);
    buf_init(&parts.log);
    session(in, n, &lim, -1, seed, &whole);
    session(in, n, &lim, mode, seed, &parts);

    if (!whole.too_big && !parts.too_big) {
        FUZZ_CHECK(whole.ncmds == parts.ncmds);
        FUZZ_CHECK(whole.log.len == parts.log.len);
        FUZZ_CHECK(memcmp(whole.log.data, parts.log.data, whole.log.len) == 0);
    } else {
        size_t m = whole.ncmds < parts.ncmds ? whole.ncmds : parts.ncmds;
        if (m > 0) {
            FUZZ_CHECK(whole.ends[m - 1] == parts.ends[m - 1]);
            FUZZ_CHECK(memcmp(whole.log.data, parts.log.data, whole.ends[m - 1]) == 0);
        }
    }
    buf_free(&whole.log);
    buf_free(&parts.log);
    free(whole.ends);
    free(parts.ends);
    return 0;
}
