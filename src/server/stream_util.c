/*
 * stream_util.c — shared helpers of the stream and consumer-group commands
 * (see stream_util.h for the contract and the "one model, two views" rule).
 *
 * Invariants:
 *   - id parsing accepts exactly what Redis 7 accepts (including its
 *     strtoull fallback: "007", "+5" and " 5" are 7, 5 and 5) and nothing
 *     else; it never reads past the argument and never fails on size;
 *   - every entry reply is a well-formed aggregate whatever the stored
 *     bytes are (a damaged field list yields fewer pairs, never a short
 *     array);
 *   - an engine callback (writer thread) touches only its own context and
 *     hands it to the loop with server_post_submit, which cannot fail, so
 *     a deferred reply is always completed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_util.h"

/* ------------------------------------------------------------------ */
/* Entry ids                                                            */
/* ------------------------------------------------------------------ */

int stream_id_cmp(mn_entry_id a, mn_entry_id b)
{
    if (a.ms != b.ms)
        return a.ms < b.ms ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}

int stream_id_incr(mn_entry_id *id)
{
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX)
            return -1;
        id->ms++;
        id->seq = 0;
    } else {
        id->seq++;
    }
    return 0;
}

int stream_id_decr(mn_entry_id *id)
{
    if (id->seq == 0) {
        if (id->ms == 0)
            return -1;
        id->ms--;
        id->seq = UINT64_MAX;
    } else {
        id->seq--;
    }
    return 0;
}

int stream_id_is_zero(mn_entry_id id) { return id.ms == 0 && id.seq == 0; }

/* Writes v in decimal at p (no NUL); returns the length. */
static size_t fmt_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        p[i] = tmp[n - 1 - i];
    return n;
}

size_t stream_format_id(mn_entry_id id, char *buf)
{
    size_t n = fmt_u64(buf, id.ms);
    buf[n++] = '-';
    n += fmt_u64(buf + n, id.seq);
    buf[n] = '\0';
    return n;
}

/* Redis's string2ull: a strict decimal first, then strtoull's looser
 * grammar (leading blanks, '+', leading zeros). s is NUL-terminated. */
static int str2ull(const char *s, unsigned long long *out)
{
    long long ll;
    if (resp_str2ll(s, strlen(s), &ll)) {
        if (ll < 0)
            return 0;
        *out = (unsigned long long)ll;
        return 1;
    }
    if (*s == '\0')
        return 0;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == EINVAL || errno == ERANGE || !end || *end != '\0')
        return 0;
    *out = v;
    return 1;
}

int stream_parse_id(const char *s, size_t len, uint64_t missing_seq, int strict, int *seq_given,
                    mn_entry_id *out)
{
    char buf[128];
    unsigned long long ms, seq;
    if (len > sizeof(buf) - 1)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* Like Redis, the argument is read as a C string from here on. */
    if (strict && (buf[0] == '-' || buf[0] == '+') && buf[1] == '\0')
        return -1;
    if (seq_given)
        *seq_given = 1;
    if (buf[0] == '-' && buf[1] == '\0') {
        out->ms = 0;
        out->seq = 0;
        return 0;
    }
    if (buf[0] == '+' && buf[1] == '\0') {
        out->ms = UINT64_MAX;
        out->seq = UINT64_MAX;
        return 0;
    }
    char *dash = strchr(buf, '-');
    if (dash)
        *dash = '\0';
    if (!str2ull(buf, &ms))
        return -1;
    if (dash) {
        const char *sp = dash + 1;
        if (seq_given && sp[0] == '*' && sp[1] == '\0') {
            seq = 0;
            *seq_given = 0;
        } else if (!str2ull(sp, &seq)) {
            return -1;
        }
    } else {
        seq = missing_seq;
    }
    out->ms = ms;
    out->seq = seq;
    return 0;
}

int stream_parse_id_or_reply(client *c, const char *s, size_t len, uint64_t missing_seq,
                             int strict, int *seq_given, mn_entry_id *out)
{
    if (stream_parse_id(s, len, missing_seq, strict, seq_given, out) == 0)
        return 0;
    reply_error(c, STREAM_ERR_INVALID_ID);
    return -1;
}

int stream_parse_interval_or_reply(client *c, const char *s, size_t len, uint64_t missing_seq,
                                   int *exclude, mn_entry_id *out)
{
    int ex = exclude && len > 1 && s[0] == '(';
    if (exclude)
        *exclude = ex;
    if (ex)
        return stream_parse_id_or_reply(c, s + 1, len - 1, missing_seq, 1, NULL, out);
    return stream_parse_id_or_reply(c, s, len, missing_seq, 0, NULL, out);
}

int stream_parse_ll_or_reply(client *c, const char *s, size_t len, long long *out)
{
    if (!resp_str2ll(s, len, out)) {
        reply_error_not_int(c);
        return -1;
    }
    return 0;
}

int stream_parse_count_or_reply(client *c, const char *s, size_t len, long long *out)
{
    if (stream_parse_ll_or_reply(c, s, len, out) < 0)
        return -1;
    if (*out < 0)
        *out = 0;
    return 0;
}

int stream_parse_streams_or_reply(client *c, int first, const char *cmd, char id_hint,
                                  int *nkeys)
{
    int n = c->argc - first;
    if (n % 2 != 0) {
        reply_errorf(c,
                     "Unbalanced '%s' list of streams: for each stream key an ID or '%c' must "
                     "be specified.",
                     cmd, id_hint);
        return -1;
    }
    *nkeys = n / 2;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Entry replies                                                        */
/* ------------------------------------------------------------------ */

void stream_reply_id(client *c, mn_entry_id id)
{
    char buf[STREAM_ID_STR_MAX];
    size_t n = stream_format_id(id, buf);
    reply_bulk(c, buf, n);
}

/* ---- the fast path: a whole entry pre-encoded in one buffer ----
 * Replying field by field costs a header format and an output append per
 * bulk string; XRANGE COUNT 100 of small entries spent most of its time
 * there. An entry that fits ENC_MAX bytes is encoded here (arrays and bulk
 * strings are the same bytes in RESP2 and RESP3) and appended at once. */
#define ENC_MAX 4096
#define HDR_MAX 24 /* '$' or '*', 20 digits, CRLF */

typedef struct enc {
    char *p;     /* next byte */
    char *end;   /* end of the buffer */
} enc;

static void enc_hdr(enc *e, char type, uint64_t n)
{
    *e->p++ = type;
    e->p += fmt_u64(e->p, n);
    *e->p++ = '\r';
    *e->p++ = '\n';
}

static void enc_bulk(enc *e, const void *b, size_t n)
{
    enc_hdr(e, '$', n);
    memcpy(e->p, b, n);
    e->p += n;
    *e->p++ = '\r';
    *e->p++ = '\n';
}

/* Bytes the entry needs at most, or SIZE_MAX if it is damaged/too big. */
static size_t entry_bound(const mn_event_view *ev, long *pairs)
{
    size_t need = 2 * HDR_MAX + HDR_MAX + STREAM_ID_STR_MAX + 2;
    if (ev->flags & MN_EVENT_FIELDS) {
        *pairs = mn_fields_count(ev->data, ev->data_len);
        if (*pairs < 0)
            return SIZE_MAX;
        /* the field bytes are inside data_len; per pair two headers and CRLFs */
        if ((size_t)*pairs > ENC_MAX)
            return SIZE_MAX;
        need += ev->data_len + (size_t)*pairs * 2 * (HDR_MAX + 2);
    } else {
        *pairs = 0;
        need += 8 * (HDR_MAX + 2) + 36 + 16 + ev->type_len + ev->data_len + ev->meta_len;
    }
    return need;
}

/* The field list of an XADD-written entry, as stored. */
static void reply_field_list(client *c, const mn_event_view *ev)
{
    long pairs = mn_fields_count(ev->data, ev->data_len);
    if (pairs < 0)
        pairs = 0; /* damaged: answered as an entry without fields */
    reply_array(c, pairs * 2);
    size_t off = 0;
    long done = 0;
    const void *f, *v;
    size_t fl, vl;
    while (done < pairs && mn_fields_next(ev->data, ev->data_len, &off, &f, &fl, &v, &vl) == 1) {
        reply_bulk(c, f, fl);
        reply_bulk(c, v, vl);
        done++;
    }
    for (; done < pairs; done++) { /* keep the aggregate well-formed */
        reply_bulk(c, "", 0);
        reply_bulk(c, "", 0);
    }
}

/* An event written by ES/CLI/the C API, as a Redis entry (see the header). */
static void reply_event_fields(client *c, const mn_event_view *ev)
{
    int has_meta = ev->meta != NULL && ev->meta_len > 0;
    char uuid[37];
    mn_uuid_format(ev->id, uuid);
    reply_array(c, has_meta ? 8 : 6);
    reply_bulk(c, "id", 2);
    reply_bulk(c, uuid, 36);
    reply_bulk(c, "type", 4);
    reply_bulk(c, ev->type, ev->type_len);
    reply_bulk(c, "data", 4);
    reply_bulk(c, ev->data, ev->data_len);
    if (has_meta) {
        reply_bulk(c, "meta", 4);
        reply_bulk(c, ev->meta, ev->meta_len);
    }
}

/* Encodes the whole entry into e (which has entry_bound bytes). Returns 0,
 * or -1 if the field list turned out damaged (then use the slow path). */
static int encode_entry(enc *e, const mn_event_view *ev, long pairs)
{
    char id[STREAM_ID_STR_MAX];
    size_t idn = stream_format_id(ev->entry_id, id);
    enc_hdr(e, '*', 2);
    enc_bulk(e, id, idn);
    if (ev->flags & MN_EVENT_FIELDS) {
        size_t off = 0;
        const void *f, *v;
        size_t fl, vl;
        enc_hdr(e, '*', (uint64_t)pairs * 2);
        for (long i = 0; i < pairs; i++) {
            if (mn_fields_next(ev->data, ev->data_len, &off, &f, &fl, &v, &vl) != 1)
                return -1;
            enc_bulk(e, f, fl);
            enc_bulk(e, v, vl);
        }
    } else {
        int has_meta = ev->meta != NULL && ev->meta_len > 0;
        char uuid[37];
        mn_uuid_format(ev->id, uuid);
        enc_hdr(e, '*', has_meta ? 8 : 6);
        enc_bulk(e, "id", 2);
        enc_bulk(e, uuid, 36);
        enc_bulk(e, "type", 4);
        enc_bulk(e, ev->type, ev->type_len);
        enc_bulk(e, "data", 4);
        enc_bulk(e, ev->data, ev->data_len);
        if (has_meta) {
            enc_bulk(e, "meta", 4);
            enc_bulk(e, ev->meta, ev->meta_len);
        }
    }
    return 0;
}

void stream_reply_entry(client *c, const mn_event_view *ev)
{
    char buf[ENC_MAX];
    long pairs;
    if (entry_bound(ev, &pairs) <= sizeof(buf)) {
        enc e = {buf, buf + sizeof(buf)};
        if (encode_entry(&e, ev, pairs) == 0) {
            reply_raw(c, buf, (size_t)(e.p - buf));
            return;
        }
    }
    reply_array(c, 2);
    stream_reply_id(c, ev->entry_id);
    if (ev->flags & MN_EVENT_FIELDS)
        reply_field_list(c, ev);
    else
        reply_event_fields(c, ev);
}

void stream_reply_entry_deleted(client *c, mn_entry_id id)
{
    reply_array(c, 2);
    stream_reply_id(c, id);
    reply_null_array(c);
}

/* Replies the array of entries starting at *first (already fetched). */
static long reply_entries_from(client *c, mn_iter *it, const mn_event_view *first,
                               uint64_t count)
{
    void *h = reply_deferred_len(c);
    long n = 0;
    mn_event_view ev = *first;
    int rc = 1;
    while (rc == 1) {
        stream_reply_entry(c, &ev);
        n++;
        if (count && (uint64_t)n >= count)
            break;
        rc = mn_iter_next(it, &ev);
    }
    reply_set_array_len(c, h, n);
    if (rc < 0) {
        server_log(LL_WARNING, "Reading a stream failed after %ld entries: %s (%s)", n,
                   mn_strerror(rc), mn_errmsg());
        client_reply_failed(c, rc, mn_errmsg()); /* the whole reply becomes the error */
    }
    return n;
}

long stream_reply_entries(client *c, mn_iter *it, uint64_t count)
{
    mn_event_view ev;
    int rc = mn_iter_next(it, &ev);
    if (rc < 0) {
        client_reply_failed(c, rc, mn_errmsg()); /* whatever the caller replies instead */
        return rc;
    }
    if (rc == 0) {
        reply_array(c, 0);
        return 0;
    }
    return reply_entries_from(c, it, &ev, count);
}

long stream_reply_entries_first(client *c, mn_iter *it, const mn_event_view *first,
                                uint64_t count)
{
    return reply_entries_from(c, it, first, count);
}

void *stream_read_reply_begin(client *c) { return reply_deferred_len(c); }

void stream_read_reply_key(client *c, const char *name, size_t len)
{
    if (c->resp < 3)
        reply_array(c, 2);
    reply_bulk(c, name, len);
}

void stream_read_reply_end(client *c, void *h, long nstreams)
{
    if (c->resp >= 3)
        reply_set_map_len(c, h, nstreams);
    else
        reply_set_array_len(c, h, nstreams);
}

/* ------------------------------------------------------------------ */
/* Engine errors                                                        */
/* ------------------------------------------------------------------ */

void stream_reply_mn_error(client *c, int rc, const char *errmsg)
{
    const char *msg = (errmsg && errmsg[0]) ? errmsg : mn_strerror(rc);
    switch (rc) {
    case MN_ENOGROUP:
        reply_errorf(c, "-NOGROUP %s", (errmsg && errmsg[0]) ? errmsg : "No such consumer group");
        break;
    case MN_EEXISTS:
        reply_error(c, "-BUSYGROUP Consumer Group name already exists");
        break;
    case MN_ENOTFOUND:
        reply_error(c, "no such key");
        break;
    case MN_ENOSPC:
        /* Say it in words a client can act on: the disk is full, nothing
         * of the command was written, a retry can succeed once space is
         * freed (docs/storage.md, rule 5); the engine's detail follows. */
        reply_errorf(c, "disk full: nothing was written, retry once space is freed (%s)", msg);
        break;
    default:
        reply_error(c, msg);
        break;
    }
}

/* ------------------------------------------------------------------ */
/* Engine operations with a deferred reply                              */
/* ------------------------------------------------------------------ */

/* One queued op: travels writer thread -> loop thread. */
typedef struct op_ctx {
    server_post_item post;      /* how the result gets to the loop (cannot fail) */
    deferred *d;                /* the reply being produced */
    stream_op_reply_fn *reply;  /* the command's reply function */
    void *ud;                   /* its argument */
    stream_op_res res;          /* the copied result */
} op_ctx;

/* Loop thread: reply, release, complete the deferred reply. */
static void op_finish(void *arg)
{
    op_ctx *x = arg;
    client *c = deferred_client(x->d);
    x->reply(c, &x->res, x->ud);
    mn_op_free(&x->res.op);
    deferred_done(x->d);
    free(x);
}

/* Writer thread: copy the result (taking the out arrays) and post it. */
static void op_engine_cb(void *ud, mn_op_result *res)
{
    op_ctx *x = ud;
    x->res.rc = res->rc;
    snprintf(x->res.errmsg, sizeof(x->res.errmsg), "%s",
             (res->rc != MN_OK && res->errmsg) ? res->errmsg : "");
    if (res->op) {
        x->res.op = *res->op;
        res->op->out_ids = NULL;
        res->op->deleted_ids = NULL;
        res->op->out_n = res->op->deleted_n = 0;
    }
    x->res.op.stream = x->res.op.group = x->res.op.consumer = NULL;
    x->res.op.stream_len = x->res.op.group_len = x->res.op.consumer_len = 0;
    x->res.op.ids = NULL;
    x->res.op.nids = 0;
    x->post.fn = op_finish;
    x->post.arg = x;
    server_post_submit(&x->post);
}

int stream_op_submit(deferred *d, const mn_op *op, stream_op_reply_fn *reply, void *ud)
{
    op_ctx *x = calloc(1, sizeof(*x));
    int rc = MN_ENOMEM;
    if (!x)
        goto fail;
    x->d = d;
    x->reply = reply;
    x->ud = ud;
    mn_op_init(&x->res.op, op->kind);
    if (!server.store) {
        rc = MN_ECLOSED;
        goto fail;
    }
    rc = mn_op_async(server.store, op, op_engine_cb, x);
    if (rc != MN_OK)
        goto fail;
    return MN_OK;
fail:
    free(x);
    return rc;
}

int stream_op_async(client *c, const mn_op *op, stream_op_reply_fn *reply, void *ud)
{
    deferred *d = client_defer(c);
    if (!d) {
        reply_error(c, "-OOM command not allowed when used memory > 'maxmemory'.");
        return -1;
    }
    int rc = stream_op_submit(d, op, reply, ud);
    if (rc != MN_OK) {
        const char *msg = rc == MN_ENOMEM ? "out of memory" : mn_errmsg();
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", msg ? msg : "");
        client *dc = deferred_client(d);
        if (dc)
            stream_reply_mn_error(dc, rc, copy);
        deferred_done(d);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Virtual streams                                                      */
/* ------------------------------------------------------------------ */

int stream_virtual(const char *key, size_t len, int *view, const char **vkey, size_t *vlen)
{
    return mn_virtual_parse(key, len, view, vkey, vlen);
}

int stream_name_reserved(const char *key, size_t len) { return len > 0 && key[0] == '$'; }

int stream_open_range(const char *key, size_t len, mn_entry_id start, mn_entry_id end,
                      uint64_t count, int backward, mn_iter **it)
{
    int view;
    const char *vkey;
    size_t vlen;
    if (!stream_virtual(key, len, &view, &vkey, &vlen))
        return mn_read_stream_range(server.store, key, len, start, end, count, backward, it);
    /* A virtual stream's entry id is <position>-0: an id with a sequence
     * above 0 lies after that position. */
    uint64_t from = start.ms + (start.seq > 0 && start.ms != UINT64_MAX ? 1 : 0);
    if (start.seq > 0 && start.ms == UINT64_MAX) {
        *it = NULL;
        return MN_ENOTFOUND;
    }
    return mn_read_view(server.store, view, vkey, vlen, from, end.ms, count,
                        MN_READ_POSITION_IDS | (backward ? MN_READ_BACKWARD : 0), it);
}

int stream_virtual_len(const char *key, size_t len, uint64_t *n)
{
    int view;
    const char *vkey;
    size_t vlen;
    if (!stream_virtual(key, len, &view, &vkey, &vlen))
        return 0;
    if (mn_view_count(server.store, view, vkey, vlen, n) != MN_OK)
        *n = 0;
    return 1;
}

static int count_reserved(void *ud, const char *name, size_t len)
{
    if (!stream_name_reserved(name, len))
        return 1; /* past the '$' names: they sort together */
    (*(uint64_t *)ud)++;
    return 0;
}

uint64_t stream_key_count(void)
{
    mn_store_info si;
    uint64_t holders = 0;
    if (!server.store)
        return 0;
    mn_store_info_get(server.store, &si);
    mn_list_streams(server.store, "$", 1, count_reserved, &holders);
    return si.streams > holders ? si.streams - holders : 0;
}

mn_entry_id stream_virtual_last_id(void)
{
    mn_store_info si;
    mn_store_info_get(server.store, &si);
    mn_entry_id id = {si.end_position ? si.end_position - 1 : 0, 0};
    return id;
}
