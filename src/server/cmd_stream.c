/*
 * cmd_stream.c — the Redis stream commands over the engine: XADD XRANGE
 * XREVRANGE XLEN XDEL XTRIM XSETID XREAD. (The consumer-group commands
 * and XINFO live in cmd_group.c; both use stream_util.h.)
 *
 * Replies and error texts follow Redis 7 (t_stream.c), including the order
 * in which arguments are checked, so that a client sees the same error for
 * the same bad command.
 *
 * Durability and ordering:
 *   - Writes (XADD, XDEL, XTRIM, XSETID) are engine appends/ops answered
 *     through a deferred reply once durable under the fsync policy. XADD
 *     and XTRIM carry CMD_PIPELINE_DEFER: pipelined ones from one client
 *     share a group commit, and because the writer applies requests in
 *     queue order the client still sees its own writes.
 *   - XDEL and XSETID check the stream synchronously before queueing
 *     (Redis's error order needs it), so they do not carry the flag: they
 *     start only after the client's earlier writes are durable and never
 *     judge a stream by a snapshot that misses them. XADD NOMKSTREAM on a
 *     stream missing from the snapshot appends with "the stream must
 *     exist" (MN_EXPECT_EXISTS) instead, so a pipelined XADD that creates
 *     the stream just before it is honoured.
 *   - XADD with MAXLEN/MINID is the append, then a trim op queued when the
 *     append is durable; the id is replied after both.
 *   - Reads (XRANGE, XREVRANGE, XLEN, XREAD) run synchronously on the loop
 *     thread on an LMDB snapshot; they are not pipeline-deferred, so they
 *     see every earlier write of the same client.
 *   - XREAD BLOCK parks the client with its ids resolved ($ becomes the
 *     stream's last id at call time); the engine's notify hook (server.c)
 *     retries blocked clients when new events become readable.
 *
 * The event an XADD writes: data = the field/value list (mn_fields_encode,
 * flag MN_EVENT_FIELDS), type = the value of the first field named "type"
 * when it is 1..MN_MAX_TYPE_LEN bytes, else "entry"; no metadata; a
 * generated event id. How other events look to these commands: see
 * stream_util.h ("one model, two views").
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"
#include "stream_util.h"

#define XADD_DEFAULT_TYPE "entry"
/* Redis's default LIMIT for an approximate trim (100 * stream-node-max-entries). */
#define APPROX_TRIM_LIMIT 10000

static const mn_entry_id ID_MAX = {UINT64_MAX, UINT64_MAX};

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static int arg_is(const client *c, int i, const char *word)
{
    return strcasecmp(c->argv[i], word) == 0;
}

/* 1 if the stream exists (and is not tombstoned); fills *info if so. */
static int stream_lookup(const char *key, size_t len, mn_stream_info *info)
{
    if (!server.store || len == 0 || len > MN_MAX_STREAM_NAME)
        return 0;
    return mn_stream_info_get(server.store, key, len, info) == MN_OK && !info->deleted;
}

/* ------------------------------------------------------------------ */
/* XADD / XTRIM argument parsing (Redis's streamParseAddOrTrimArgs)     */
/* ------------------------------------------------------------------ */

typedef struct addtrim_args {
    mn_trim trim;         /* mode MN_TRIM_NONE when no trimming was asked */
    int approx;           /* '~' given */
    int nomkstream;       /* XADD NOMKSTREAM */
    int id_given;         /* XADD: an explicit or partial id */
    int seq_given;        /* XADD: "ms-seq" (0 for "ms-*") */
    mn_entry_id id;       /* XADD: the id */
} addtrim_args;

/* Returns the index of the id argument (XADD) or argc (XTRIM), or -1
 * after replying an error. */
static int parse_addtrim(client *c, addtrim_args *a, int xadd)
{
    int i = 2;
    int limit_given = 0;
    long long limit = 0;
    memset(a, 0, sizeof(*a));
    a->trim.mode = MN_TRIM_NONE;
    for (; i < c->argc; i++) {
        int more = c->argc - 1 - i;
        const char *opt = c->argv[i];
        if (xadd && opt[0] == '*' && opt[1] == '\0') {
            break;
        } else if ((arg_is(c, i, "maxlen") || arg_is(c, i, "minid")) && more) {
            int maxlen = arg_is(c, i, "maxlen");
            if (a->trim.mode != MN_TRIM_NONE) {
                reply_error(c, "syntax error, MAXLEN and MINID options at the same time are not "
                               "compatible");
                return -1;
            }
            a->approx = 0;
            const char *next = c->argv[i + 1];
            if (more >= 2 && next[0] == '~' && next[1] == '\0') {
                a->approx = 1;
                i++;
            } else if (more >= 2 && next[0] == '=' && next[1] == '\0') {
                i++;
            }
            if (maxlen) {
                long long n;
                if (stream_parse_ll_or_reply(c, c->argv[i + 1], c->argvlen[i + 1], &n) < 0)
                    return -1;
                if (n < 0) {
                    reply_error(c, "The MAXLEN argument must be >= 0.");
                    return -1;
                }
                a->trim.mode = MN_TRIM_MAXLEN;
                a->trim.maxlen = (uint64_t)n;
            } else {
                if (stream_parse_id_or_reply(c, c->argv[i + 1], c->argvlen[i + 1], 0, 1, NULL,
                                             &a->trim.minid) < 0)
                    return -1;
                a->trim.mode = MN_TRIM_MINID;
            }
            i++;
        } else if (arg_is(c, i, "limit") && more) {
            if (stream_parse_ll_or_reply(c, c->argv[i + 1], c->argvlen[i + 1], &limit) < 0)
                return -1;
            if (limit < 0) {
                reply_error(c, "The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = 1;
            i++;
        } else if (xadd && arg_is(c, i, "nomkstream")) {
            a->nomkstream = 1;
        } else if (xadd) {
            /* an id, or a syntax error Redis also reports as a bad id */
            if (stream_parse_id_or_reply(c, c->argv[i], c->argvlen[i], 0, 1, &a->seq_given,
                                         &a->id) < 0)
                return -1;
            a->id_given = 1;
            break;
        } else {
            reply_error_syntax(c);
            return -1;
        }
    }
    if (limit && a->trim.mode == MN_TRIM_NONE) {
        reply_error(c, "syntax error, LIMIT cannot be used without specifying a trimming strategy");
        return -1;
    }
    if (!xadd && a->trim.mode == MN_TRIM_NONE) {
        reply_error(c, "syntax error, XTRIM must be called with a trimming strategy");
        return -1;
    }
    if (limit_given && !a->approx) {
        reply_error(c, "syntax error, LIMIT cannot be used without the special ~ option");
        return -1;
    }
    /* '~' without LIMIT bounds the work as Redis does; '=' is never limited.
     * Our trims are exact up to the limit: '~' may only keep more, as
     * Redis documents. */
    a->trim.limit = limit_given ? (uint64_t)limit : a->approx ? APPROX_TRIM_LIMIT : 0;
    return i;
}

/* ------------------------------------------------------------------ */
/* XADD                                                                 */
/* ------------------------------------------------------------------ */

/* One XADD in flight: loop -> writer -> loop (-> writer -> loop with a trim). */
typedef struct xadd_ctx {
    server_post_item post;  /* the append's result back to the loop */
    deferred *d;            /* the reply */
    int rc;                 /* the append's result */
    char errmsg[256];       /* its detail */
    mn_entry_id id;         /* the new entry's id */
    int must_exist;         /* NOMKSTREAM on a stream missing from the snapshot */
    mn_trim trim;           /* trim to run after the append (mode NONE: none) */
    size_t keylen;          /* length of key */
    char key[];             /* the stream name */
} xadd_ctx;

static void xadd_reply_appended(client *c, xadd_ctx *x)
{
    if (x->rc == MN_OK) {
        stream_reply_id(c, x->id);
    } else if (x->must_exist && (x->rc == MN_EWRONGVERSION || x->rc == MN_ENOTFOUND)) {
        reply_null(c); /* NOMKSTREAM and no stream: nothing was written */
    } else if (x->rc == MN_ETOOBIG) {
        reply_error(c, "Elements are too large to be stored");
    } else {
        stream_reply_mn_error(c, x->rc, x->errmsg);
    }
}

/* Loop thread, after the trim that followed the append. */
static void xadd_trim_done(client *c, stream_op_res *res, void *ud)
{
    xadd_ctx *x = ud;
    if (res->rc != MN_OK && res->rc != MN_ENOTFOUND)
        server_log(LL_WARNING, "XADD: trimming after the append failed: %s",
                   res->errmsg[0] ? res->errmsg : mn_strerror(res->rc));
    if (c)
        xadd_reply_appended(c, x);
    free(x);
}

/* Loop thread: the append is durable (or failed). */
static void xadd_appended(void *arg)
{
    xadd_ctx *x = arg;
    if (x->rc == MN_OK && x->trim.mode != MN_TRIM_NONE) {
        mn_op op;
        mn_op_init(&op, MN_OP_TRIM);
        op.stream = x->key;
        op.stream_len = x->keylen;
        op.trim = x->trim;
        if (stream_op_submit(x->d, &op, xadd_trim_done, x) == MN_OK)
            return; /* x is released by xadd_trim_done */
        server_log(LL_WARNING, "XADD: could not queue the trim: %s", mn_errmsg());
    }
    client *c = deferred_client(x->d);
    if (c)
        xadd_reply_appended(c, x);
    deferred_done(x->d);
    free(x);
}

/* Writer thread. */
static void xadd_engine_cb(void *ud, const mn_append_result *res)
{
    xadd_ctx *x = ud;
    x->rc = res->rc;
    if (res->rc == MN_OK && res->nparts == 1)
        x->id = res->parts[0].last_id;
    else
        snprintf(x->errmsg, sizeof(x->errmsg), "%s", res->errmsg ? res->errmsg : "");
    x->post.fn = xadd_appended;
    x->post.arg = x;
    server_post_submit(&x->post);
}

/* The event type of an entry: its first "type" field, if usable. */
static void xadd_type(client *c, int field_pos, const char **type, size_t *type_len)
{
    *type = XADD_DEFAULT_TYPE;
    *type_len = sizeof(XADD_DEFAULT_TYPE) - 1;
    for (int j = field_pos; j + 1 < c->argc; j += 2) {
        if (c->argvlen[j] == 4 && memcmp(c->argv[j], "type", 4) == 0) {
            size_t n = c->argvlen[j + 1];
            if (n >= 1 && n <= MN_MAX_TYPE_LEN) {
                *type = c->argv[j + 1];
                *type_len = n;
            }
            return;
        }
    }
}

static void cmd_xadd(client *c)
{
    addtrim_args a;
    mn_stream_info info;
    xadd_ctx *x = NULL;
    void *data = NULL;
    deferred *d = NULL;
    const char *key = c->argv[1];
    size_t keylen = c->argvlen[1];

    int idpos = parse_addtrim(c, &a, 1);
    if (idpos < 0)
        return;
    int field_pos = idpos + 1;
    if (c->argc - field_pos < 2 || (c->argc - field_pos) % 2 == 1) {
        reply_error_arity(c);
        return;
    }
    if (a.id_given && a.seq_given && a.id.ms == 0 && a.id.seq == 0) {
        reply_error(c, "The ID specified in XADD must be greater than 0-0");
        return;
    }
    /* The common "*" case needs no lookup: the writer checks exhaustion
     * itself, with Redis's text. */
    int exists = (a.nomkstream || a.id_given) && stream_lookup(key, keylen, &info);
    if (exists && info.last_id.ms == UINT64_MAX && info.last_id.seq == UINT64_MAX) {
        reply_error(c, "The stream has exhausted the last possible ID, unable to add more items");
        return;
    }
    if (!server.store) {
        reply_error(c, "the store is not open");
        return;
    }

    size_t npairs = (size_t)(c->argc - field_pos) / 2;
    size_t dlen = mn_fields_size(npairs, &c->argvlen[field_pos]);
    data = malloc(dlen ? dlen : 1);
    x = calloc(1, sizeof(*x) + keylen + 1);
    if (!data || !x) {
        reply_error(c, "-OOM command not allowed when used memory > 'maxmemory'.");
        goto done;
    }
    mn_fields_encode(data, npairs, (const void *const *)(const void *)&c->argv[field_pos],
                     &c->argvlen[field_pos]);

    mn_event ev;
    memset(&ev, 0, sizeof(ev));
    xadd_type(c, field_pos, &ev.type, &ev.type_len);
    ev.data = data;
    ev.data_len = dlen;
    ev.flags = MN_EVENT_FIELDS;
    ev.entry_id_mode = !a.id_given ? MN_ID_AUTO : a.seq_given ? MN_ID_EXPLICIT : MN_ID_AUTO_SEQ;
    ev.entry_id = a.id;

    mn_append_part part;
    memset(&part, 0, sizeof(part));
    part.stream = key;
    part.stream_len = keylen;
    part.expected = MN_EXPECT_ANY;
    part.events = &ev;
    part.count = 1;
    if (a.nomkstream && !exists) {
        /* Missing from this snapshot; an earlier pipelined XADD of this
         * client may still create it: let the writer decide. */
        part.expected = MN_EXPECT_EXISTS;
        x->must_exist = 1;
    }
    x->trim = a.trim;
    x->keylen = keylen;
    memcpy(x->key, key, keylen);

    d = client_defer(c);
    if (!d) {
        reply_error(c, "-OOM command not allowed when used memory > 'maxmemory'.");
        goto done;
    }
    x->d = d;
    int rc = mn_append_async(server.store, &part, 1, xadd_engine_cb, x);
    if (rc != MN_OK) {
        x->rc = rc;
        snprintf(x->errmsg, sizeof(x->errmsg), "%s", mn_errmsg());
        client *dc = deferred_client(d);
        if (dc)
            xadd_reply_appended(dc, x);
        deferred_done(d);
        goto done;
    }
    x = NULL; /* owned by the callback chain now */
done:
    free(data);
    free(x);
}

/* ------------------------------------------------------------------ */
/* XRANGE / XREVRANGE                                                   */
/* ------------------------------------------------------------------ */

static void xrange_generic(client *c, int rev)
{
    mn_entry_id start, end;
    int startex = 0, endex = 0;
    long long count = -1;
    mn_iter *it = NULL;
    int sa = rev ? 3 : 2, ea = rev ? 2 : 3;

    if (stream_parse_interval_or_reply(c, c->argv[sa], c->argvlen[sa], 0, &startex, &start) < 0)
        return;
    if (startex && stream_id_incr(&start) < 0) {
        reply_error(c, "invalid start ID for the interval");
        return;
    }
    if (stream_parse_interval_or_reply(c, c->argv[ea], c->argvlen[ea], UINT64_MAX, &endex,
                                       &end) < 0)
        return;
    if (endex && stream_id_decr(&end) < 0) {
        reply_error(c, "invalid end ID for the interval");
        return;
    }
    for (int j = 4; j < c->argc; j++) {
        int more = c->argc - j - 1;
        if (arg_is(c, j, "count") && more >= 1) {
            if (stream_parse_count_or_reply(c, c->argv[j + 1], c->argvlen[j + 1], &count) < 0)
                return;
            j++;
        } else {
            reply_error_syntax(c);
            return;
        }
    }
    if (!server.store || c->argvlen[1] == 0 || c->argvlen[1] > MN_MAX_STREAM_NAME) {
        reply_array(c, 0);
        return;
    }
    if (count == 0) {
        /* Redis 7: an explicit COUNT 0 (or negative) on an existing stream
         * is a null array; a missing key is still an empty one. */
        mn_stream_info si;
        if (mn_stream_info_get(server.store, c->argv[1], c->argvlen[1], &si) == MN_OK && !si.deleted)
            reply_null_array(c);
        else
            reply_array(c, 0);
        return;
    }
    if (stream_id_cmp(start, end) > 0) {
        reply_array(c, 0);
        return;
    }
    int rc = stream_open_range(c->argv[1], c->argvlen[1], start, end,
                               count < 0 ? 0 : (uint64_t)count, rev, &it);
    if (rc == MN_ENOTFOUND || rc == MN_EDELETED) {
        reply_array(c, 0);
    } else if (rc != MN_OK) {
        stream_reply_mn_error(c, rc, mn_errmsg());
    } else {
        long n = stream_reply_entries(c, it, count < 0 ? 0 : (uint64_t)count);
        if (n < 0)
            stream_reply_mn_error(c, (int)n, mn_errmsg());
    }
    mn_iter_free(it);
}

static void cmd_xrange(client *c) { xrange_generic(c, 0); }
static void cmd_xrevrange(client *c) { xrange_generic(c, 1); }

/* ------------------------------------------------------------------ */
/* XLEN                                                                 */
/* ------------------------------------------------------------------ */

static void cmd_xlen(client *c)
{
    mn_stream_info info;
    uint64_t n;
    if (stream_virtual_len(c->argv[1], c->argvlen[1], &n))
        reply_long(c, (long long)n);
    else if (!stream_lookup(c->argv[1], c->argvlen[1], &info))
        reply_long(c, 0);
    else
        reply_long(c, (long long)info.length);
}

/* ------------------------------------------------------------------ */
/* XDEL / XTRIM / XSETID (engine ops)                                   */
/* ------------------------------------------------------------------ */

/* Replies op.n, with "no such stream" (deleted meanwhile) as 0. */
static void reply_count_done(client *c, stream_op_res *res, void *ud)
{
    if (!c)
        return;
    if (res->rc == MN_OK)
        reply_long(c, (long long)res->op.n);
    else if (res->rc == MN_ENOTFOUND)
        reply_long(c, 0);
    else
        stream_reply_mn_error(c, res->rc, res->errmsg);
}

static void cmd_xdel(client *c)
{
    mn_stream_info info;
    mn_entry_id *ids = NULL;
    size_t n = (size_t)(c->argc - 2);

    if (!stream_lookup(c->argv[1], c->argvlen[1], &info)) {
        reply_long(c, 0);
        return;
    }
    ids = malloc(n * sizeof(*ids));
    if (!ids) {
        reply_error(c, "-OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    /* Check every id first: never half-apply a command with a bad id. */
    for (size_t j = 0; j < n; j++) {
        int a = (int)j + 2;
        if (stream_parse_id_or_reply(c, c->argv[a], c->argvlen[a], 0, 1, NULL, &ids[j]) < 0)
            goto done;
    }
    mn_op op;
    mn_op_init(&op, MN_OP_ENTRIES_DELETE);
    op.stream = c->argv[1];
    op.stream_len = c->argvlen[1];
    op.ids = ids;
    op.nids = n;
    stream_op_async(c, &op, reply_count_done, NULL);
done:
    free(ids);
}

static void cmd_xtrim(client *c)
{
    addtrim_args a;
    if (parse_addtrim(c, &a, 0) < 0)
        return;
    if (c->argvlen[1] == 0 || c->argvlen[1] > MN_MAX_STREAM_NAME) {
        reply_long(c, 0); /* no such key */
        return;
    }
    mn_op op;
    mn_op_init(&op, MN_OP_TRIM);
    op.stream = c->argv[1];
    op.stream_len = c->argvlen[1];
    op.trim = a.trim;
    stream_op_async(c, &op, reply_count_done, NULL);
}

static void reply_ok_done(client *c, stream_op_res *res, void *ud)
{
    if (!c)
        return;
    if (res->rc == MN_OK)
        reply_ok(c);
    else
        stream_reply_mn_error(c, res->rc, res->errmsg);
}

static void cmd_xsetid(client *c)
{
    mn_entry_id id, maxdel = {0, 0};
    long long entries_added = -1;
    int maxdel_set = 0;
    mn_stream_info info;

    if (stream_parse_id_or_reply(c, c->argv[2], c->argvlen[2], 0, 1, NULL, &id) < 0)
        return;
    for (int i = 3; i < c->argc;) {
        int more = c->argc - 1 - i;
        if (arg_is(c, i, "entriesadded") && more) {
            if (stream_parse_ll_or_reply(c, c->argv[i + 1], c->argvlen[i + 1], &entries_added) <
                0)
                return;
            if (entries_added < 0) {
                reply_error(c, "entries_added must be positive");
                return;
            }
            i += 2;
        } else if (arg_is(c, i, "maxdeletedid") && more) {
            if (stream_parse_id_or_reply(c, c->argv[i + 1], c->argvlen[i + 1], 0, 1, NULL,
                                         &maxdel) < 0)
                return;
            if (stream_id_cmp(id, maxdel) < 0) {
                reply_error(c, "The ID specified in XSETID is smaller than the provided "
                               "max_deleted_entry_id");
                return;
            }
            maxdel_set = 1;
            i += 2;
        } else {
            reply_error_syntax(c);
            return;
        }
    }
    if (!stream_lookup(c->argv[1], c->argvlen[1], &info)) {
        reply_error(c, "no such key");
        return;
    }
    if (stream_id_cmp(id, info.max_deleted_id) < 0) {
        reply_error(c, "The ID specified in XSETID is smaller than current max_deleted_entry_id");
        return;
    }
    mn_op op;
    mn_op_init(&op, MN_OP_SETID);
    op.stream = c->argv[1];
    op.stream_len = c->argvlen[1];
    op.id = id;
    op.id_set = 1;
    op.entries_added = entries_added;
    /* Redis keeps max_deleted_entry_id when MAXDELETEDID is 0-0 */
    if (maxdel_set && !stream_id_is_zero(maxdel)) {
        op.max_deleted = maxdel;
        op.max_deleted_set = 1;
    }
    stream_op_async(c, &op, reply_ok_done, NULL);
}

/* ------------------------------------------------------------------ */
/* XREAD                                                                */
/* ------------------------------------------------------------------ */

/* What a (possibly blocked) XREAD reads: the keys are c->argv[first_key +
 * i], which stay valid while blocked (client_block copies them). */
typedef struct xread_state {
    uint64_t count;       /* COUNT (0: no limit) */
    int first_key;        /* argv index of the first key */
    int nstreams;         /* how many streams */
    mn_entry_id ids[];    /* per stream: entries strictly above this id are new */
} xread_state;

/* An iterator over stream i's entries after ids[i], positioned on the first
 * one (*ev); NULL if there is none (or on a read error, logged). */
static mn_iter *xread_open(client *c, const xread_state *st, int i, mn_event_view *ev)
{
    const char *key = c->argv[st->first_key + i];
    size_t len = c->argvlen[st->first_key + i];
    mn_entry_id start = st->ids[i];
    mn_iter *it = NULL;
    if (len == 0 || len > MN_MAX_STREAM_NAME || stream_id_incr(&start) < 0)
        return NULL;
    int rc = stream_open_range(key, len, start, ID_MAX, st->count, 0, &it);
    if (rc != MN_OK)
        return NULL;
    rc = mn_iter_next(it, ev);
    if (rc != 1) {
        if (rc < 0)
            server_log(LL_WARNING, "XREAD: reading '%.*s' failed: %s", (int)len, key,
                       mn_errmsg());
        mn_iter_free(it);
        return NULL;
    }
    return it;
}

/* Replies the new entries of every stream that has some; 0 (nothing
 * replied) if none has. Two passes, one iterator open at a time: the
 * first finds which streams have new entries (the reply's length), the
 * second replies them. */
static int xread_serve(client *c, const xread_state *st)
{
    mn_event_view ev;
    int with_data = 0;
    unsigned char *has = calloc((size_t)st->nstreams, 1);
    if (!has)
        return 0;
    for (int i = 0; i < st->nstreams; i++) {
        mn_iter *it = xread_open(c, st, i, &ev);
        if (it) {
            has[i] = 1;
            with_data++;
            mn_iter_free(it);
        }
    }
    if (with_data) {
        void *h = stream_read_reply_begin(c);
        for (int i = 0; i < st->nstreams; i++) {
            if (!has[i])
                continue;
            stream_read_reply_key(c, c->argv[st->first_key + i], c->argvlen[st->first_key + i]);
            mn_iter *it = xread_open(c, st, i, &ev);
            if (it)
                stream_reply_entries_first(c, it, &ev, st->count);
            else
                reply_array(c, 0); /* removed between the passes */
            mn_iter_free(it);
        }
        stream_read_reply_end(c, h, with_data);
    }
    free(has);
    return with_data > 0;
}

static int xread_retry(client *c, void *priv) { return xread_serve(c, priv); }

static void xread_free(void *priv) { free(priv); }

/* BLOCK's argument, as Redis's getTimeoutFromObjectOrReply in ms. */
static int parse_block_timeout(client *c, int i, long long *out)
{
    long long t;
    if (!resp_str2ll(c->argv[i], c->argvlen[i], &t)) {
        reply_error(c, "timeout is not an integer or out of range");
        return -1;
    }
    if (t < 0) {
        reply_error(c, "timeout is negative");
        return -1;
    }
    if (t > 0 && t > LLONG_MAX - loop_now_ms()) {
        reply_error(c, "timeout is out of range");
        return -1;
    }
    *out = t;
    return 0;
}

/* The id just below the stream's last entry, so that "+" reads it. */
static mn_entry_id last_entry_floor(const char *key, size_t len, const mn_stream_info *info)
{
    mn_iter *it = NULL;
    mn_event_view ev;
    mn_entry_id id = info->last_id;
    mn_entry_id zero = {0, 0};
    if (info->length > 0 &&
        mn_read_stream_range(server.store, key, len, zero, ID_MAX, 1, 1, &it) == MN_OK &&
        mn_iter_next(it, &ev) == 1) {
        id = ev.entry_id;
        stream_id_decr(&id);
    }
    mn_iter_free(it);
    return id;
}

static void cmd_xread(client *c)
{
    long long timeout = -1, count = 0;
    int streams_arg = 0, nstreams = 0;
    xread_state *st = NULL;

    for (int i = 1; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (arg_is(c, i, "block") && more) {
            i++;
            if (parse_block_timeout(c, i, &timeout) < 0)
                return;
        } else if (arg_is(c, i, "count") && more) {
            i++;
            if (stream_parse_count_or_reply(c, c->argv[i], c->argvlen[i], &count) < 0)
                return;
        } else if (arg_is(c, i, "streams") && more) {
            streams_arg = i + 1;
            if (stream_parse_streams_or_reply(c, streams_arg, "xread", '$', &nstreams) < 0)
                return;
            break;
        } else if (arg_is(c, i, "group") && more >= 2) {
            reply_error(c, "The GROUP option is only supported by XREADGROUP. You called XREAD "
                           "instead.");
            return;
        } else if (arg_is(c, i, "noack")) {
            reply_error(c, "The NOACK option is only supported by XREADGROUP. You called XREAD "
                           "instead.");
            return;
        } else {
            reply_error_syntax(c);
            return;
        }
    }
    if (streams_arg == 0) {
        reply_error_syntax(c);
        return;
    }
    st = calloc(1, sizeof(*st) + (size_t)nstreams * sizeof(mn_entry_id));
    if (!st) {
        reply_error(c, "-OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    st->count = (uint64_t)count;
    st->first_key = streams_arg;
    st->nstreams = nstreams;
    for (int i = 0; i < nstreams; i++) {
        int ka = streams_arg + i, ia = streams_arg + nstreams + i;
        const char *arg = c->argv[ia];
        mn_stream_info info;
        int view;
        const char *vk;
        size_t vl;
        int virt = stream_virtual(c->argv[ka], c->argvlen[ka], &view, &vk, &vl);
        int exists = !virt && stream_lookup(c->argv[ka], c->argvlen[ka], &info);
        if (virt && (strcmp(arg, "$") == 0 || strcmp(arg, "+") == 0)) {
            st->ids[i] = stream_virtual_last_id();
        } else if (strcmp(arg, "$") == 0) {
            st->ids[i] = exists ? info.last_id : (mn_entry_id){0, 0};
        } else if (strcmp(arg, "+") == 0) {
            st->ids[i] = exists ? last_entry_floor(c->argv[ka], c->argvlen[ka], &info)
                                : (mn_entry_id){0, 0};
        } else if (strcmp(arg, ">") == 0) {
            reply_error(c, "The > ID can be specified only when calling XREADGROUP using the "
                           "GROUP <group> <consumer> option.");
            goto done;
        } else if (stream_parse_id_or_reply(c, arg, c->argvlen[ia], 0, 1, NULL, &st->ids[i]) <
                   0) {
            goto done;
        }
    }
    if (server.store && xread_serve(c, st))
        goto done;
    if (timeout < 0 || client_in_exec(c)) {
        reply_null_array(c);
        goto done;
    }
    if (client_block(c, timeout, xread_retry, NULL, xread_free, st) < 0) {
        reply_null_array(c);
        goto done;
    }
    st = NULL; /* owned by the block now */
done:
    free(st);
}

/* ------------------------------------------------------------------ */
/* Registration                                                         */
/* ------------------------------------------------------------------ */

#define SG "stream"
#define WRF (CMD_WRITE | CMD_DENYOOM)

const cmd_def stream_commands[] = {
    {"xadd", cmd_xadd, -5, WRF | CMD_FAST | CMD_PIPELINE_DEFER, 1, 1, 1, SG, "5.0.0",
     "Appends a new message to a stream. Creates the key if it doesn't exist.",
     "O(1) when adding a new entry, O(N) when trimming where N being the number of entries "
     "evicted.",
     NULL},
    {"xrange", cmd_xrange, -4, CMD_READONLY, 1, 1, 1, SG, "5.0.0",
     "Returns the messages from a stream within a range of IDs.",
     "O(N) with N being the number of elements being returned.", NULL},
    {"xrevrange", cmd_xrevrange, -4, CMD_READONLY, 1, 1, 1, SG, "5.0.0",
     "Returns the messages from a stream within a range of IDs in reverse order.",
     "O(N) with N being the number of elements returned.", NULL},
    {"xlen", cmd_xlen, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, SG, "5.0.0",
     "Return the number of messages in a stream.", "O(1)", NULL},
    {"xdel", cmd_xdel, -3, CMD_WRITE | CMD_FAST, 1, 1, 1, SG, "5.0.0",
     "Returns the number of messages after removing them from a stream.",
     "O(1) for each single item to delete in the stream", NULL},
    {"xtrim", cmd_xtrim, -4, CMD_WRITE | CMD_PIPELINE_DEFER, 1, 1, 1, SG, "5.0.0",
     "Deletes messages from the beginning of a stream.",
     "O(N), with N being the number of evicted entries.", NULL},
    {"xsetid", cmd_xsetid, -3, WRF | CMD_FAST, 1, 1, 1, SG, "5.0.0",
     "An internal command for replicating stream values.", "O(1)", NULL},
    {"xread", cmd_xread, -4, CMD_READONLY | CMD_BLOCKING, 0, 0, 0, SG, "5.0.0",
     "Returns messages from multiple streams with IDs greater than the ones requested. Blocks "
     "until a message is available otherwise.",
     NULL, NULL},
    CMD_END,
};

int stream_module_init(void) { return 0; }

void stream_module_shutdown(void) {}
