/*
 * resp.c — RESP request parser and reply writer (see resp.h).
 *
 * Parser invariants: r->pos only moves forward over bytes that were fully
 * validated; an argument is recorded only when its bytes and the CRLF
 * after them are in the buffer; nothing before r->pos is read again. The
 * limits and error texts are Redis's (processMultibulkBuffer and
 * processInlineBuffer), so clients see the same errors.
 *
 * Writer: a reply is appended to the current target chain; the first block
 * of an empty chain is small (1 KiB) so idle and light clients stay cheap,
 * later ones are 16 KiB, and a large bulk gets a block of its own size.
 */
#include "resp.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

/* ------------------------------------------------------------------ */
/* Parser                                                               */
/* ------------------------------------------------------------------ */

void resp_req_init(resp_req *r)
{
    memset(r, 0, sizeof(*r));
    r->bulklen = -1;
}

void resp_req_reset(resp_req *r)
{
    r->kind = RESP_KIND_NONE;
    r->header_done = 0;
    r->mbulk_left = 0;
    r->bulklen = -1;
    r->pos = 0;
    r->argc = 0;
    r->err[0] = '\0';
}

void resp_req_free(resp_req *r)
{
    free(r->off);
    free(r->len);
    resp_req_init(r);
}

int resp_str2ll(const char *s, size_t len, long long *out)
{
    size_t i = 0;
    int neg = 0;
    unsigned long long v = 0;
    if (len == 0 || len > 20)
        return 0;
    if (s[0] == '-') {
        neg = 1;
        i = 1;
        if (len == 1)
            return 0;
    }
    /* As Redis's string2ll: the first digit is 1-9 unless the whole string is
     * "0", so "-0", "007" and "+1" are not integers (XRANGE ... COUNT -0 and a
     * multibulk length of *-0 are errors there, and must be here too). */
    if (s[i] == '0' && (neg || len - i > 1))
        return 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        unsigned long long d = (unsigned long long)(s[i] - '0');
        if (v > (~0ull - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)9223372036854775807ll + 1)
            return 0;
        *out = v == (unsigned long long)9223372036854775807ll + 1 ? (-9223372036854775807ll - 1)
                                                                  : -(long long)v;
    } else {
        if (v > 9223372036854775807ull)
            return 0;
        *out = (long long)v;
    }
    return 1;
}

static int add_arg(resp_req *r, size_t off, size_t len)
{
    if (r->argc == r->cap) {
        int n = r->cap ? r->cap * 2 : 8;
        size_t *o = realloc(r->off, sizeof(*o) * (size_t)n);
        if (!o)
            return -1;
        r->off = o;
        size_t *l = realloc(r->len, sizeof(*l) * (size_t)n);
        if (!l)
            return -1;
        r->len = l;
        r->cap = n;
    }
    r->off[r->argc] = off;
    r->len[r->argc] = len;
    r->argc++;
    return 0;
}

static int fail(resp_req *r, const char *msg)
{
    snprintf(r->err, sizeof(r->err), "%s", msg);
    return RESP_ERROR;
}

static int is_hex(int c) { return isxdigit(c); }
static int hex_val(int c)
{
    return c <= '9' ? c - '0' : (tolower(c) - 'a' + 10);
}

/* Splits the line buf[0..end) into arguments in place, with the quoting
 * rules of Redis's sdssplitargs. */
static int parse_inline_line(resp_req *r, char *buf, size_t end)
{
    size_t p = 0, w = 0;
    for (;;) {
        while (p < end && isspace((unsigned char)buf[p]))
            p++;
        if (p >= end)
            return RESP_COMPLETE;
        int inq = 0, insq = 0, done = 0;
        size_t start = w;
        while (!done) {
            if (inq) {
                if (p >= end)
                    return fail(r, "Protocol error: unbalanced quotes in request");
                if (buf[p] == '\\' && p + 3 < end && buf[p + 1] == 'x' &&
                    is_hex((unsigned char)buf[p + 2]) && is_hex((unsigned char)buf[p + 3])) {
                    buf[w++] = (char)(hex_val((unsigned char)buf[p + 2]) * 16 +
                                      hex_val((unsigned char)buf[p + 3]));
                    p += 3;
                } else if (buf[p] == '\\' && p + 1 < end) {
                    char c;
                    p++;
                    switch (buf[p]) {
                    case 'n': c = '\n'; break;
                    case 'r': c = '\r'; break;
                    case 't': c = '\t'; break;
                    case 'b': c = '\b'; break;
                    case 'a': c = '\a'; break;
                    default: c = buf[p]; break;
                    }
                    buf[w++] = c;
                } else if (buf[p] == '"') {
                    /* a closing quote must be followed by a space or the end */
                    if (p + 1 < end && !isspace((unsigned char)buf[p + 1]))
                        return fail(r, "Protocol error: unbalanced quotes in request");
                    done = 1;
                } else {
                    buf[w++] = buf[p];
                }
            } else if (insq) {
                if (p >= end)
                    return fail(r, "Protocol error: unbalanced quotes in request");
                if (buf[p] == '\\' && p + 1 < end && buf[p + 1] == '\'') {
                    p++;
                    buf[w++] = '\'';
                } else if (buf[p] == '\'') {
                    if (p + 1 < end && !isspace((unsigned char)buf[p + 1]))
                        return fail(r, "Protocol error: unbalanced quotes in request");
                    done = 1;
                } else {
                    buf[w++] = buf[p];
                }
            } else {
                if (p >= end) {
                    done = 1;
                    break;
                }
                switch (buf[p]) {
                case ' ': case '\n': case '\r': case '\t': case '\0':
                    done = 1;
                    break;
                case '"':
                    inq = 1;
                    break;
                case '\'':
                    insq = 1;
                    break;
                default:
                    buf[w++] = buf[p];
                    break;
                }
            }
            if (p < end)
                p++;
        }
        /* w <= p - 1 here (the terminator or closing quote was consumed),
         * and buf[end] exists (the line's '\r' or '\n'): room for the NUL. */
        buf[w] = '\0';
        if (add_arg(r, start, w - start) < 0)
            return fail(r, "Protocol error: out of memory");
        w++;
        if (r->argc > RESP_MAX_MULTIBULK)
            return fail(r, "Protocol error: invalid multibulk length");
    }
}

static int parse_inline(resp_req *r, char *buf, size_t len)
{
    char *nl = memchr(buf, '\n', len);
    if (!nl) {
        if (len > RESP_INLINE_MAX)
            return fail(r, "Protocol error: too big inline request");
        return RESP_INCOMPLETE;
    }
    size_t end = (size_t)(nl - buf);
    size_t linelen = end;
    if (linelen > 0 && buf[linelen - 1] == '\r')
        linelen--;
    r->argc = 0;
    int rc = parse_inline_line(r, buf, linelen);
    if (rc != RESP_COMPLETE)
        return rc;
    r->pos = end + 1;
    return RESP_COMPLETE;
}

/* Finds "\r" from pos; returns its index or -1 if the line is incomplete. */
static long find_cr(const char *buf, size_t len, size_t pos)
{
    const char *cr = memchr(buf + pos, '\r', len - pos);
    if (!cr || (size_t)(cr - buf) + 1 >= len)
        return -1;
    return cr - buf;
}

static int parse_multibulk(resp_req *r, char *buf, size_t len, const resp_limits *lim)
{
    if (!r->header_done) {
        long cr = find_cr(buf, len, 0);
        if (cr < 0) {
            if (len > RESP_INLINE_MAX)
                return fail(r, "Protocol error: too big mbulk count string");
            return RESP_INCOMPLETE;
        }
        long long ll;
        if (!resp_str2ll(buf + 1, (size_t)cr - 1, &ll) || ll > RESP_MAX_MULTIBULK)
            return fail(r, "Protocol error: invalid multibulk length");
        if (!lim->authed && ll > RESP_UNAUTH_MAX_ARGS)
            return fail(r, "Protocol error: unauthenticated multibulk length");
        r->pos = (size_t)cr + 2;
        r->header_done = 1;
        r->argc = 0;
        if (ll <= 0)
            return RESP_COMPLETE;
        r->mbulk_left = ll;
        r->bulklen = -1;
    }
    while (r->mbulk_left > 0) {
        if (r->bulklen == -1) {
            if (r->pos >= len)
                return RESP_INCOMPLETE;
            long cr = find_cr(buf, len, r->pos);
            if (cr < 0) {
                if (len - r->pos > RESP_INLINE_MAX)
                    return fail(r, "Protocol error: too big bulk count string");
                return RESP_INCOMPLETE;
            }
            if (buf[r->pos] != '$') {
                snprintf(r->err, sizeof(r->err), "Protocol error: expected '$', got '%c'",
                         buf[r->pos]);
                return RESP_ERROR;
            }
            long long ll;
            if (!resp_str2ll(buf + r->pos + 1, (size_t)cr - r->pos - 1, &ll) || ll < 0 ||
                ll > lim->max_bulk)
                return fail(r, "Protocol error: invalid bulk length");
            if (!lim->authed && ll > RESP_UNAUTH_MAX_BULK)
                return fail(r, "Protocol error: unauthenticated bulk length");
            r->pos = (size_t)cr + 2;
            r->bulklen = ll;
        }
        if (len - r->pos < (size_t)r->bulklen + 2)
            return RESP_INCOMPLETE;
        if (add_arg(r, r->pos, (size_t)r->bulklen) < 0)
            return fail(r, "Protocol error: out of memory");
        buf[r->pos + (size_t)r->bulklen] = '\0'; /* over the '\r' */
        r->pos += (size_t)r->bulklen + 2;
        r->bulklen = -1;
        r->mbulk_left--;
    }
    return RESP_COMPLETE;
}

int resp_parse(resp_req *r, char *buf, size_t len, const resp_limits *lim)
{
    if (len == 0)
        return RESP_INCOMPLETE;
    if (r->kind == RESP_KIND_NONE)
        r->kind = buf[0] == '*' ? RESP_KIND_MULTIBULK : RESP_KIND_INLINE;
    if (r->kind == RESP_KIND_INLINE)
        return parse_inline(r, buf, len);
    return parse_multibulk(r, buf, len, lim);
}

/* ------------------------------------------------------------------ */
/* Output chain                                                         */
/* ------------------------------------------------------------------ */

#define BLOCK_FIRST 1024
#define BLOCK_SIZE (16 * 1024)

static oblock *block_new(size_t size, int kind)
{
    oblock *b = malloc(sizeof(*b) + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->kind = kind;
    b->slot = NULL;
    b->size = size;
    b->used = 0;
    b->sent = 0;
    return b;
}

static void chain_link(ochain *ch, oblock *b)
{
    if (ch->tail)
        ch->tail->next = b;
    else
        ch->head = b;
    ch->tail = b;
}

/* 0, or -1 on OOM (nothing appended). */
static int chain_append(ochain *ch, const void *p, size_t n)
{
    const char *s = p;
    oblock *t = ch->tail;
    if (t && t->kind == OBLOCK_DATA && t->size > t->used) {
        size_t k = t->size - t->used;
        if (k > n)
            k = n;
        memcpy(t->data + t->used, s, k);
        t->used += k;
        s += k;
        n -= k;
        ch->bytes += k;
    }
    if (n == 0)
        return 0;
    size_t sz = ch->head ? BLOCK_SIZE : BLOCK_FIRST;
    if (sz < n)
        sz = n;
    oblock *b = block_new(sz, OBLOCK_DATA);
    if (!b)
        return -1;
    memcpy(b->data, s, n);
    b->used = n;
    chain_link(ch, b);
    ch->bytes += n;
    return 0;
}

void ochain_append(ochain *ch, const void *p, size_t n) { (void)chain_append(ch, p, n); }

void ochain_free(ochain *ch)
{
    oblock *b = ch->head;
    while (b) {
        oblock *n = b->next;
        free(b);
        b = n;
    }
    ch->head = ch->tail = NULL;
    ch->bytes = 0;
}

oblock *ochain_add_slot(ochain *ch, struct deferred *d)
{
    oblock *b = block_new(0, OBLOCK_SLOT);
    if (!b)
        return NULL;
    b->slot = d;
    chain_link(ch, b);
    return b;
}

/* ------------------------------------------------------------------ */
/* Replies                                                              */
/* ------------------------------------------------------------------ */

static ochain *target(client *c)
{
    if (c->flags & CLIENT_CLOSE_ASAP)
        return NULL;
    return c->target;
}

static void put(client *c, const void *p, size_t n)
{
    ochain *ch = target(c);
    if (!ch)
        return;
    if (chain_append(ch, p, n) < 0) {
        server_log(LL_WARNING, "Out of memory writing a reply; closing client id=%llu",
                   (unsigned long long)c->id);
        client_close_asap(c);
        return;
    }
    if (ch == &c->out)
        client_output_added(c);
}

/* Writes "<prefix><v>\r\n". */
static void put_header(client *c, char prefix, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%c%lld\r\n", prefix, v);
    put(c, tmp, (size_t)n);
}

void reply_raw(client *c, const void *p, size_t n) { put(c, p, n); }

void reply_simple(client *c, const char *s)
{
    size_t n = strlen(s);
    ochain *ch = target(c);
    if (!ch)
        return;
    char tmp[128];
    if (n + 3 <= sizeof(tmp)) {
        tmp[0] = '+';
        memcpy(tmp + 1, s, n);
        tmp[n + 1] = '\r';
        tmp[n + 2] = '\n';
        put(c, tmp, n + 3);
    } else {
        put(c, "+", 1);
        put(c, s, n);
        put(c, "\r\n", 2);
    }
}

void reply_ok(client *c) { put(c, "+OK\r\n", 5); }

void reply_error(client *c, const char *msg)
{
    char line[1024];
    size_t n = 0;
    const char *m = msg;
    if (m[0] == '-') {
        m++;
    } else {
        memcpy(line, "ERR ", 4);
        n = 4;
    }
    for (; *m && n < sizeof(line) - 3; m++)
        line[n++] = (*m == '\r' || *m == '\n') ? ' ' : *m;
    line[n] = '\0';
    server_count_error(line);
    if (c->err_cmd && !c->cmd_failed) {
        c->err_cmd->failed++;
        c->cmd_failed = 1;
    }
    put(c, "-", 1);
    put(c, line, n);
    put(c, "\r\n", 2);
}

void reply_errorf(client *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_error(c, msg);
}

void reply_error_syntax(client *c) { reply_error(c, "syntax error"); }

void reply_error_arity(client *c)
{
    reply_errorf(c, "wrong number of arguments for '%s' command",
                 c->cmd ? c->cmd->fullname : "unknown");
}

void reply_error_not_int(client *c) { reply_error(c, "value is not an integer or out of range"); }

void reply_long(client *c, long long v)
{
    if (v == 0) {
        put(c, ":0\r\n", 4);
        return;
    }
    if (v == 1) {
        put(c, ":1\r\n", 4);
        return;
    }
    put_header(c, ':', v);
}

void reply_bulk(client *c, const void *p, size_t n)
{
    if (!target(c))
        return;
    put_header(c, '$', (long long)n);
    put(c, p, n);
    put(c, "\r\n", 2);
}

void reply_bulk_cstr(client *c, const char *s)
{
    if (!s)
        reply_null(c);
    else
        reply_bulk(c, s, strlen(s));
}

void reply_bulk_long(client *c, long long v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%lld", v);
    reply_bulk(c, tmp, (size_t)n);
}

void reply_null(client *c)
{
    if (c->resp >= 3)
        put(c, "_\r\n", 3);
    else
        put(c, "$-1\r\n", 5);
}

void reply_null_array(client *c)
{
    if (c->resp >= 3)
        put(c, "_\r\n", 3);
    else
        put(c, "*-1\r\n", 5);
}

void reply_array(client *c, long n) { put_header(c, '*', n); }

void reply_map(client *c, long pairs)
{
    if (c->resp >= 3)
        put_header(c, '%', pairs);
    else
        put_header(c, '*', pairs * 2);
}

void reply_set(client *c, long n) { put_header(c, c->resp >= 3 ? '~' : '*', n); }

void reply_push(client *c, long n) { put_header(c, c->resp >= 3 ? '>' : '*', n); }

static int fmt_double(char *buf, size_t cap, double d)
{
    if (isinf(d))
        return snprintf(buf, cap, "%s", d > 0 ? "inf" : "-inf");
    if (isnan(d))
        return snprintf(buf, cap, "nan");
    return snprintf(buf, cap, "%.17g", d);
}

void reply_double(client *c, double d)
{
    char tmp[64];
    int n = fmt_double(tmp, sizeof(tmp), d);
    if (c->resp >= 3) {
        put(c, ",", 1);
        put(c, tmp, (size_t)n);
        put(c, "\r\n", 2);
    } else {
        reply_bulk(c, tmp, (size_t)n);
    }
}

void reply_bool(client *c, int b)
{
    if (c->resp >= 3)
        put(c, b ? "#t\r\n" : "#f\r\n", 4);
    else
        put(c, b ? ":1\r\n" : ":0\r\n", 4);
}

void reply_verbatim(client *c, const char *p, size_t n, const char *ext)
{
    if (c->resp < 3) {
        reply_bulk(c, p, n);
        return;
    }
    if (!target(c))
        return;
    put_header(c, '=', (long long)n + 4);
    put(c, ext, 3);
    put(c, ":", 1);
    put(c, p, n);
    put(c, "\r\n", 2);
}

void *reply_deferred_len(client *c)
{
    ochain *ch = target(c);
    if (!ch)
        return NULL;
    oblock *b = block_new(32, OBLOCK_LEN);
    if (!b) {
        client_close_asap(c);
        return NULL;
    }
    chain_link(ch, b);
    return b;
}

static void set_len(client *c, void *h, char prefix, long n)
{
    oblock *b = h;
    if (!b)
        return;
    int k = snprintf(b->data, b->size, "%c%ld\r\n", prefix, n);
    b->used = (size_t)k;
    /* the bytes count in the chain they were linked into */
    if (!(c->flags & CLIENT_CLOSE_ASAP) && c->target) {
        c->target->bytes += (size_t)k;
        if (c->target == &c->out)
            client_output_added(c);
    }
}

void reply_set_array_len(client *c, void *h, long n) { set_len(c, h, '*', n); }

void reply_set_map_len(client *c, void *h, long pairs)
{
    if (c->resp >= 3)
        set_len(c, h, '%', pairs);
    else
        set_len(c, h, '*', pairs * 2);
}

void reply_mark_set(client *c, reply_mark *m)
{
    m->ch = target(c);
    m->tail = m->ch ? m->ch->tail : NULL;
    m->used = m->tail ? m->tail->used : 0;
    m->bytes = m->ch ? m->ch->bytes : 0;
}

void reply_rollback(client *c, const reply_mark *m)
{
    ochain *ch = m->ch;
    if (!ch || target(c) != ch)
        return;
    oblock *b = m->tail ? m->tail->next : ch->head;
    while (b) {
        oblock *n = b->next;
        free(b);
        b = n;
    }
    if (m->tail) {
        m->tail->next = NULL;
        m->tail->used = m->used;
    } else {
        ch->head = NULL;
    }
    ch->tail = m->tail;
    ch->bytes = m->bytes;
}
