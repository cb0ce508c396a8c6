/*
 * json.c — a strict JSON validator and a string escaper (see json.h for what
 * "strict" accepts).
 *
 * Invariants:
 *   1. No allocation and no recursion: the validator is a loop over a small
 *      state machine with an explicit stack of at most JSON_MAX_DEPTH bytes,
 *      so hostile input (a megabyte of '[') costs O(n) time and a fixed,
 *      small amount of stack on whatever thread checks it.
 *   2. Every read is bounds-checked against n; input need not be
 *      NUL-terminated and may contain NUL bytes (which are then invalid).
 *   3. The escaper's output always passes the validator, whatever the input
 *      bytes: valid UTF-8 is copied as is, each byte of an invalid sequence
 *      becomes \u00XX, control characters, '"' and '\' are escaped. One UTF-8
 *      decoder (utf8_len) serves both sides so they cannot disagree.
 */
#include "util/json.h"

#include <stdint.h>
#include <string.h>

#define JSON_MAX_DEPTH 512

/* Length of the well-formed UTF-8 sequence starting at p[0] (1..4), or 0 if
 * the bytes there are not one (Unicode 15, table 3-7). Requires n >= 1. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlongs */
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates D800..DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* no overlongs */
        else if (c == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0; /* 80..C1 (continuation or overlong lead), F5..FF */
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits after "\u" at p[*i] (pointing at the 'u'),
 * advancing *i past them. -1 if malformed. */
static long read_u_escape(const unsigned char *p, size_t n, size_t *i)
{
    long v = 0;

    if (n - *i < 5)
        return -1;
    for (size_t k = 1; k <= 4; k++) {
        int h = hexval(p[*i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    *i += 5;
    return v;
}

/* A string starting at p[*i] == '"'; on success *i is one past the closing
 * quote. */
static int scan_string(const unsigned char *p, size_t n, size_t *i)
{
    size_t k = *i + 1;

    while (k < n) {
        unsigned char c = p[k];
        if (c == '"') {
            *i = k + 1;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c == '\\') {
            if (++k >= n)
                return 0;
            switch (p[k]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                k++;
                break;
            case 'u': {
                long u = read_u_escape(p, n, &k);
                if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
                    return 0; /* malformed, or a low surrogate with no high one */
                if (u >= 0xD800 && u <= 0xDBFF) {
                    long lo;
                    if (n - k < 2 || p[k] != '\\' || p[k + 1] != 'u')
                        return 0; /* a high surrogate not followed by \u */
                    k++;
                    lo = read_u_escape(p, n, &k);
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return 0;
                }
                break;
            }
            default:
                return 0;
            }
            continue;
        }
        if (c < 0x80) {
            k++;
        } else {
            size_t len = utf8_len(p + k, n - k);
            if (len == 0)
                return 0;
            k += len;
        }
    }
    return 0; /* unterminated */
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* number = [ "-" ] ( "0" / [1-9] *DIGIT ) [ "." 1*DIGIT ] [ ("e"/"E") ["+"/"-"] 1*DIGIT ] */
static int scan_number(const unsigned char *p, size_t n, size_t *i)
{
    size_t k = *i;

    if (k < n && p[k] == '-')
        k++;
    if (k >= n || !is_digit(p[k]))
        return 0;
    if (p[k] == '0') {
        k++; /* a leading zero stands alone: "01" ends here and fails later */
    } else {
        while (k < n && is_digit(p[k]))
            k++;
    }
    if (k < n && p[k] == '.') {
        k++;
        if (k >= n || !is_digit(p[k]))
            return 0;
        while (k < n && is_digit(p[k]))
            k++;
    }
    if (k < n && (p[k] == 'e' || p[k] == 'E')) {
        k++;
        if (k < n && (p[k] == '+' || p[k] == '-'))
            k++;
        if (k >= n || !is_digit(p[k]))
            return 0;
        while (k < n && is_digit(p[k]))
            k++;
    }
    *i = k;
    return 1;
}

static int scan_literal(const unsigned char *p, size_t n, size_t *i, const char *lit, size_t len)
{
    if (n - *i < len)
        return 0;
    for (size_t k = 0; k < len; k++)
        if (p[*i + k] != (unsigned char)lit[k])
            return 0;
    *i += len;
    return 1;
}

static size_t skip_ws(const unsigned char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

int json_is_valid(const void *data, size_t n)
{
    /* What the parser expects next. */
    enum { WANT_VALUE, WANT_KEY, AFTER_VALUE } state = WANT_VALUE;
    unsigned char stack[JSON_MAX_DEPTH]; /* '}' or ']': what closes each open container */
    size_t depth = 0;
    const unsigned char *p = data;
    size_t i = 0;

    if (p == NULL)
        return 0;
    for (;;) {
        i = skip_ws(p, n, i);
        switch (state) {
        case WANT_VALUE:
            if (i >= n)
                return 0;
            switch (p[i]) {
            case '{':
            case '[':
                if (depth == JSON_MAX_DEPTH)
                    return 0;
                stack[depth++] = p[i] == '{' ? '}' : ']';
                i = skip_ws(p, n, i + 1);
                if (i < n && p[i] == stack[depth - 1]) { /* empty container */
                    i++;
                    depth--;
                    state = AFTER_VALUE;
                } else {
                    state = stack[depth - 1] == '}' ? WANT_KEY : WANT_VALUE;
                }
                continue;
            case '"':
                if (!scan_string(p, n, &i))
                    return 0;
                break;
            case 't':
                if (!scan_literal(p, n, &i, "true", 4))
                    return 0;
                break;
            case 'f':
                if (!scan_literal(p, n, &i, "false", 5))
                    return 0;
                break;
            case 'n':
                if (!scan_literal(p, n, &i, "null", 4))
                    return 0;
                break;
            default:
                if (!scan_number(p, n, &i))
                    return 0;
                break;
            }
            state = AFTER_VALUE;
            break;
        case WANT_KEY:
            if (i >= n || p[i] != '"' || !scan_string(p, n, &i))
                return 0;
            i = skip_ws(p, n, i);
            if (i >= n || p[i] != ':')
                return 0;
            i++;
            state = WANT_VALUE;
            break;
        case AFTER_VALUE:
            if (depth == 0)
                return i == n; /* exactly one value: trailing bytes are garbage */
            if (i >= n)
                return 0;
            if (p[i] == ',') {
                i++;
                state = stack[depth - 1] == '}' ? WANT_KEY : WANT_VALUE;
            } else if (p[i] == stack[depth - 1]) {
                i++;
                depth--;
            } else {
                return 0;
            }
            break;
        }
    }
}

int json_is_object(const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t i;

    if (p == NULL)
        return 0;
    i = skip_ws(p, n, 0);
    return i < n && p[i] == '{' && json_is_valid(p, n);
}

void json_append_string(buf *b, const void *data, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = data;
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    size_t i = 0;

    /* Most strings need no escaping: reserve for that case up front and copy
     * verbatim runs in one go. */
    if (n <= SIZE_MAX - 2)
        buf_reserve(b, n + 2);
    buf_append_byte(b, '"');
    while (i < n) {
        unsigned char c = p[i];
        char esc[6];
        size_t len;

        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80 && (len = utf8_len(p + i, n - i)) != 0) {
            i += len;
            continue;
        }
        if (i > run)
            buf_append(b, p + run, i - run);
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; len = 2; break;
        case '\\': esc[1] = '\\'; len = 2; break;
        case '\b': esc[1] = 'b'; len = 2; break;
        case '\f': esc[1] = 'f'; len = 2; break;
        case '\n': esc[1] = 'n'; len = 2; break;
        case '\r': esc[1] = 'r'; len = 2; break;
        case '\t': esc[1] = 't'; len = 2; break;
        default: /* other control characters and bytes of invalid UTF-8 */
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            len = 6;
            break;
        }
        buf_append(b, esc, len);
        run = ++i;
    }
    if (i > run)
        buf_append(b, p + run, i - run);
    buf_append_byte(b, '"');
}

/* ---- reading one top-level string field ---- */

/* End of the string literal starting at p[i] == '"' (index after the closing
 * quote), or 0 if unterminated. Sets *escaped if it holds a backslash. */
static size_t string_end(const unsigned char *p, size_t n, size_t i, int *escaped)
{
    *escaped = 0;
    for (i++; i < n; i++) {
        if (p[i] == '\\') {
            *escaped = 1;
            i++;
        } else if (p[i] == '"') {
            return i + 1;
        }
    }
    return 0;
}

/* Index after the JSON value starting at p[i] (valid input assumed). */
static size_t value_end(const unsigned char *p, size_t n, size_t i)
{
    int depth = 0, esc;
    while (i < n) {
        unsigned char c = p[i];
        if (c == '"') {
            size_t e = string_end(p, n, i, &esc);
            if (!e) return n;
            i = e;
            if (depth == 0) return i;
            continue;
        }
        if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') {
            if (depth == 0) return i; /* end of the enclosing container */
            if (--depth == 0) return i + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
            return i;
        }
        i++;
    }
    return i;
}

/* Index of the value of the first top-level member `key` of the object
 * p[0..n) (with strings_only, the first whose value is a string), or
 * (size_t)-1. One walk shared by json_get_string and json_get_value. */
static size_t member_value(const unsigned char *p, size_t n, const char *key, int strings_only)
{
    size_t klen = strlen(key), i;
    int esc;
    if (!p || !json_is_object(p, n)) return (size_t)-1;
    i = skip_ws(p, n, 0) + 1; /* after '{' */
    for (;;) {
        i = skip_ws(p, n, i);
        if (i >= n || p[i] != '"') return (size_t)-1;
        size_t ks = i + 1, ke = string_end(p, n, i, &esc);
        if (!ke) return (size_t)-1;
        int match = !esc && ke - 1 - ks == klen && memcmp(p + ks, key, klen) == 0;
        i = skip_ws(p, n, ke);
        if (i >= n || p[i] != ':') return (size_t)-1;
        i = skip_ws(p, n, i + 1);
        if (match && i < n && (!strings_only || p[i] == '"')) return i;
        i = skip_ws(p, n, value_end(p, n, i));
        if (i >= n || p[i] != ',') return (size_t)-1;
        i++;
    }
}

int json_get_string(const void *data, size_t n, const char *key, const char **val, size_t *len)
{
    const unsigned char *p = data;
    int esc;
    size_t i = member_value(p, n, key, 1);
    if (i == (size_t)-1) return 0;
    size_t ve = string_end(p, n, i, &esc);
    if (!ve || esc) return 0; /* escaped ids are not looked up */
    *val = (const char *)p + i + 1;
    *len = ve - i - 2;
    return 1;
}

int json_get_value(const void *data, size_t n, const char *key, const char **val, size_t *len)
{
    const unsigned char *p = data;
    size_t i = member_value(p, n, key, 0);
    if (i == (size_t)-1) return 0;
    *val = (const char *)p + i;
    *len = value_end(p, n, i) - i;
    return 1;
}
