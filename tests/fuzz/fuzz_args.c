/*
 * fuzz_args.c — the parsing helpers that command arguments go through
 * (src/server/stream_util.c, resp.c, glob.c; src/util/json.c, uuid.c).
 * The commands themselves, dispatched on a fake client, are fuzz_dispatch.c.
 *
 * Input: byte 0 picks what the rest is (byte 0 % 3):
 *   0  an id or integer argument: byte 1 = options (bit 0: a missing seq
 *      means UINT64_MAX, bit 1: strict, bit 2: XADD's "ms-*" allowed), the
 *      rest the argument: stream_parse_id, resp_str2ll,
 *      stream_id_incr/decr/cmp.
 *   1  a payload: json_is_valid, json_is_object, json_get_string,
 *      json_append_string.
 *   2  an event id or a pattern: mn_uuid_parse/format; glob_match with the
 *      input split after byte 1 / 2 bytes into pattern and string (bit 0 of
 *      byte 1: nocase).
 *
 * Invariants: no crash, no leak, no read past the argument; parsed ids
 * format and parse back to themselves, incr and decr are inverse;
 * resp_str2ll accepts exactly the canonical decimals of long long (as
 * Redis's string2ll: not "-0"); json_is_object implies json_is_valid; json_get_string
 * points inside the input at an unescaped string; json_append_string's
 * output is always valid JSON (and plain ASCII is copied as is); a parsed
 * UUID formats back to its input lowercased; glob_match agrees with a
 * dynamic-programming matcher over the same tokens, "*" matches anything,
 * and a string with every byte escaped matches exactly itself.
 */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "mnemosyne.h"
#include "server/glob.h"
#include "server/stream_util.h"
#include "util/json.h"

/* ------------------------------------------------------------------ */
/* 0: ids and integers                                                  */
/* ------------------------------------------------------------------ */

static void fuzz_ids(const uint8_t *d, size_t n)
{
    if (n < 1) return;
    uint8_t opt = d[0];
    const char *s = (const char *)d + 1;
    size_t len = n - 1;

    /* resp_str2ll against the definition: the canonical decimals */
    long long v = 0;
    int ok = resp_str2ll(s, len, &v);
    int canonical = 0;
    long long ref = 0;
    if (len > 0 && len <= 20) {
        char tmp[32], back[32];
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        if (strlen(tmp) == len) {
            char *end = NULL;
            errno = 0;
            ref = strtoll(tmp, &end, 10);
            canonical = errno == 0 && end == tmp + len &&
                        snprintf(back, sizeof back, "%lld", ref) == (int)len &&
                        memcmp(back, tmp, len) == 0;
        }
    }
    if (canonical) FUZZ_CHECK(ok && v == ref);
    if (ok) FUZZ_CHECK(canonical);

    /* stream ids in each mode */
    uint64_t missing = (opt & 1) ? UINT64_MAX : 0;
    int strict = (opt >> 1) & 1;
    int seq_given = -1;
    mn_entry_id id;
    int rc = stream_parse_id(s, len, missing, strict, (opt & 4) ? &seq_given : NULL, &id);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (len > 127) FUZZ_CHECK(rc == -1);
    if (rc != 0) return;
    if (strict) FUZZ_CHECK(!(len >= 1 && (s[0] == '-' || s[0] == '+') && (len == 1 || s[1] == '\0')));
    if (opt & 4) {
        FUZZ_CHECK(seq_given == 0 || seq_given == 1);
        if (seq_given == 0) FUZZ_CHECK(id.seq == 0);
    }
    char text[STREAM_ID_STR_MAX];
    size_t tl = stream_format_id(id, text);
    FUZZ_CHECK(tl < STREAM_ID_STR_MAX && text[tl] == '\0' && strlen(text) == tl);
    mn_entry_id back;
    FUZZ_CHECK(stream_parse_id(text, tl, 0, 1, NULL, &back) == 0);
    FUZZ_CHECK(stream_id_cmp(back, id) == 0);
    mn_entry_id up = id, down = id;
    if (stream_id_incr(&up) == 0) {
        FUZZ_CHECK(stream_id_cmp(id, up) < 0 && stream_id_cmp(up, id) > 0);
        FUZZ_CHECK(stream_id_decr(&up) == 0 && stream_id_cmp(up, id) == 0);
    } else {
        FUZZ_CHECK(id.ms == UINT64_MAX && id.seq == UINT64_MAX);
    }
    if (stream_id_decr(&down) == 0) FUZZ_CHECK(stream_id_cmp(down, id) < 0);
    else FUZZ_CHECK(stream_id_is_zero(id));
}

/* ------------------------------------------------------------------ */
/* 1: JSON                                                              */
/* ------------------------------------------------------------------ */

static void fuzz_json(const uint8_t *d, size_t n)
{
    int valid = json_is_valid(d, n);
    int object = json_is_object(d, n);
    FUZZ_CHECK(valid == 0 || valid == 1);
    FUZZ_CHECK(!object || valid);
    static const char *const keys[] = {"correlation_id", "causation_id", "a", ""};
    for (int k = 0; k < 4; k++) {
        const char *val = NULL;
        size_t vl = 0;
        if (json_get_string(d, n, keys[k], &val, &vl)) {
            FUZZ_CHECK(object);
            FUZZ_CHECK(fuzz_within(val, vl + 1, d, n));
            FUZZ_CHECK(val > (const char *)d && val[-1] == '"' && val[vl] == '"');
            FUZZ_CHECK(memchr(val, '\\', vl) == NULL);
        }
    }
    buf b;
    buf_init(&b);
    json_append_string(&b, d, n);
    FUZZ_CHECK(!b.oom);
    FUZZ_CHECK(b.len >= 2 && b.data[0] == '"' && b.data[b.len - 1] == '"');
    FUZZ_CHECK(json_is_valid(b.data, b.len));
    /* a string of plain printable ASCII is copied as is */
    int plain = 1;
    for (size_t i = 0; i < n && plain; i++) plain = d[i] >= 0x20 && d[i] < 0x7f && d[i] != '"' && d[i] != '\\';
    if (plain) FUZZ_CHECK(b.len == n + 2 && memcmp(b.data + 1, d, n) == 0);
    buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* 2: UUIDs and glob patterns                                           */
/* ------------------------------------------------------------------ */

enum { T_STAR, T_ANY, T_CLASS, T_LIT };
typedef struct tok { int kind; size_t at, end; unsigned char c; } tok;

static int fold(int c, int nocase) { return nocase && c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* [...] starting after '[' at pat[at], up to end: does c belong? */
static int in_class(const char *pat, size_t at, size_t end, unsigned char c, int nocase)
{
    size_t i = at;
    int neg = 0, hit = 0;
    if (i < end && pat[i] == '^') {
        neg = 1;
        i++;
    }
    while (i < end && pat[i] != ']') {
        if (pat[i] == '\\' && i + 1 < end) {
            hit |= fold((unsigned char)pat[i + 1], nocase) == fold(c, nocase);
            i += 2;
        } else if (i + 2 < end && pat[i + 1] == '-') {
            int a = fold((unsigned char)pat[i], nocase), z = fold((unsigned char)pat[i + 2], nocase);
            if (a > z) { int t = a; a = z; z = t; }
            hit |= fold(c, nocase) >= a && fold(c, nocase) <= z;
            i += 3;
        } else {
            hit |= fold((unsigned char)pat[i], nocase) == fold(c, nocase);
            i++;
        }
    }
    return neg ? !hit : hit;
}

/* The pattern as tokens (glob.h's grammar), then a DP over (token, byte). */
static int glob_ref(const char *pat, size_t plen, const char *str, size_t slen, int nocase)
{
    tok *t = malloc((plen + 1) * sizeof *t);
    size_t nt = 0;
    FUZZ_CHECK(t != NULL);
    for (size_t i = 0; i < plen;) {
        tok k = {T_LIT, i, i, 0};
        if (pat[i] == '*') { k.kind = T_STAR; i++; }
        else if (pat[i] == '?') { k.kind = T_ANY; i++; }
        else if (pat[i] == '[') {
            size_t j = i + 1;
            k.kind = T_CLASS;
            k.at = j;
            if (j < plen && pat[j] == '^') j++;
            while (j < plen && pat[j] != ']') {
                if (pat[j] == '\\' && j + 1 < plen) j += 2;
                else if (j + 2 < plen && pat[j + 1] == '-') j += 3;
                else j++;
            }
            k.end = j;
            i = j < plen ? j + 1 : j;
        } else if (pat[i] == '\\' && i + 1 < plen) { k.c = (unsigned char)pat[i + 1]; i += 2; }
        else { k.c = (unsigned char)pat[i]; i++; }
        t[nt++] = k;
    }
    /* m[i][j]: tokens i.. match bytes j.. */
    unsigned char *m = calloc((nt + 1) * (slen + 1), 1);
    FUZZ_CHECK(m != NULL);
#define M(i, j) m[(i) * (slen + 1) + (j)]
    M(nt, slen) = 1;
    for (size_t i = nt; i-- > 0;) {
        for (size_t j = slen + 1; j-- > 0;) {
            int r = 0;
            if (t[i].kind == T_STAR) r = M(i + 1, j) || (j < slen && M(i, j + 1));
            else if (j < slen) {
                unsigned char c = (unsigned char)str[j];
                int one = t[i].kind == T_ANY ||
                          (t[i].kind == T_CLASS && in_class(pat, t[i].at, t[i].end, c, nocase)) ||
                          (t[i].kind == T_LIT && fold(t[i].c, nocase) == fold(c, nocase));
                r = one && M(i + 1, j + 1);
            }
            M(i, j) = (unsigned char)r;
        }
    }
    int r = M(0, 0);
#undef M
    free(m);
    free(t);
    return r;
}

static void fuzz_uuid_glob(const uint8_t *d, size_t n)
{
    if (n < 1) return;
    const char *s = (const char *)d + 1;
    size_t len = n - 1;
    uint8_t id[16];
    if (mn_uuid_parse(s, len, id) == MN_OK) {
        char text[37];
        mn_uuid_format(id, text);
        FUZZ_CHECK(len == 36 && strlen(text) == 36);
        for (size_t i = 0; i < 36; i++) FUZZ_CHECK(text[i] == fold((unsigned char)s[i], 1));
    }
    int nocase = d[0] & 1;
    size_t plen = (size_t)(d[0] >> 1) < len ? (size_t)(d[0] >> 1) : len;
    const char *pat = s, *str = s + plen;
    size_t slen = len - plen;
    /* heap copies of exactly their size: ASan sees a read past either */
    char *p = malloc(plen ? plen : 1), *q = malloc(slen ? slen : 1);
    FUZZ_CHECK(p && q);
    memcpy(p, pat, plen);
    memcpy(q, str, slen);
    int got = glob_match(p, plen, q, slen, nocase);
    FUZZ_CHECK(got == 0 || got == 1);
    if (plen <= 512 && slen <= 512) FUZZ_CHECK(got == glob_ref(p, plen, q, slen, nocase));
    FUZZ_CHECK(glob_match("*", 1, q, slen, nocase) == 1);
    /* every byte escaped: matches exactly itself */
    char *esc = malloc(2 * slen + 1);
    FUZZ_CHECK(esc != NULL);
    for (size_t i = 0; i < slen; i++) {
        esc[2 * i] = '\\';
        esc[2 * i + 1] = q[i];
    }
    FUZZ_CHECK(glob_match(esc, 2 * slen, q, slen, nocase) == 1);
    if (slen > 0) FUZZ_CHECK(glob_match(esc, 2 * slen - 2, q, slen, nocase) == 0);
    free(esc);
    free(p);
    free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    switch (data[0] % 3) {
    case 0: fuzz_ids(data + 1, size - 1); break;
    case 1: fuzz_json(data + 1, size - 1); break;
    default: fuzz_uuid_glob(data + 1, size - 1); break;
    }
    return 0;
}
