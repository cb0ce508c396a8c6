/*
 * cmd_group.c — the consumer-group commands of Redis 7 over the engine:
 * XGROUP (CREATE SETID DESTROY CREATECONSUMER DELCONSUMER HELP),
 * XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM and XINFO (STREAM
 * [FULL], GROUPS, CONSUMERS, HELP).
 *
 * Where the semantics live. Groups, consumers and pending entries lists
 * (PEL) are engine state (src/engine/group.c); every change is an mn_op
 * record in the log. This file only parses arguments as Redis does, turns
 * them into ops or reads, and writes Redis's replies and error texts.
 *
 * Invariants:
 *   1. A command that changes group state replies only after its op is
 *      durable (a deferred reply: stream_op_async, or for XREADGROUP the
 *      multi-stream machinery below). Read-only commands reply at once.
 *   2. Arguments are checked before anything is written, in Redis's order
 *      of checks, so the first error a client sees is Redis's.
 *   3. No engine call is made from inside an engine callback (list
 *      functions): callbacks only copy out or write reply bytes.
 *   4. XREADGROUP '>' reads the entries the DELIVER op recorded (its
 *      version range), never "whatever is new now": what a consumer is
 *      sent is exactly what the log says it was delivered.
 *   5. A blocked XREADGROUP owns its state (xrg) through the block; while
 *      its delivers are in flight the deferred reply owns it instead
 *      (xrg.d != NULL), so exactly one owner frees it.
 *
 * Deliberate differences from Redis (documented in the final report):
 *   - XREADGROUP with an explicit id (history) does not bump delivery
 *     counts or create the consumer: it is a pure read, no write.
 *   - XINFO STREAM radix-tree-keys/-nodes are estimates (see there).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server.h"
#include "stream_util.h"

#define ERR_REQUIRES_KEY                                                                          \
    "The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use " \
    "the MKSTREAM option to create an empty stream automatically."
#define ERR_OOM "-OOM command not allowed when used memory > 'maxmemory'."

/* XAUTOCLAIM COUNT is bounded by Redis at LONG_MAX/16; the engine sizes
 * its scratch arrays by COUNT (10 x COUNT ids), so the server caps what it
 * passes. A PEL scan of more than this per call is not useful anyway. */
#define AUTOCLAIM_MAX_COUNT 100000

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static int arg_is(const client *c, int i, const char *s) { return strcasecmp(c->argv[i], s) == 0; }

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply_oom(client *c) { reply_error(c, ERR_OOM); }

/* "unknown subcommand or wrong number of arguments for 'X'. Try XGROUP HELP." */
static void reply_sub_syntax(client *c, const char *container)
{
    reply_errorf(c, "unknown subcommand or wrong number of arguments for '%.128s'. Try %s HELP.",
                 c->argv[1], container);
}

/* Replies a long long option or a Redis custom message ("Invalid IDLE
 * option argument for XCLAIM"); -1 on failure. */
static int parse_ll_msg(client *c, int i, const char *msg, long long *out)
{
    if (resp_str2ll(c->argv[i], c->argvlen[i], out))
        return 0;
    if (msg)
        reply_error(c, msg);
    else
        reply_error_not_int(c);
    return -1;
}

/* A group as looked up for a check (copied out of the engine callback). */
typedef struct ginfo {
    mn_entry_id last;        /* last-delivered id */
    int64_t entries_read;    /* -1 unknown */
    int64_t lag;             /* -1 unknown */
    uint64_t pending;        /* PEL size */
    uint64_t consumers;      /* consumers */
} ginfo;

static int ginfo_copy(void *ud, const mn_group_info *g)
{
    ginfo *gi = ud;
    gi->last = g->last_delivered;
    gi->entries_read = g->entries_read;
    gi->lag = g->lag;
    gi->pending = g->pending;
    gi->consumers = g->consumers;
    return 0;
}

/* MN_OK, MN_ENOTFOUND (no such live stream; names the engine refuses count
 * as absent), MN_ENOGROUP, or another engine error. */
static int group_find(const char *key, size_t klen, const char *group, size_t glen, ginfo *out)
{
    memset(out, 0, sizeof(*out));
    int rc = mn_group_get(server.store, key, klen, group, glen, ginfo_copy, out);
    return rc == MN_EINVAL ? MN_ENOTFOUND : rc;
}

/* 1 if key is a live stream (and *si filled), 0 if not, or a negative
 * engine error other than "not found". A virtual stream always exists
 * (its ids being <position>-0). */
static int stream_find(const char *key, size_t klen, mn_stream_info *si)
{
    int view;
    const char *vk;
    size_t vl;
    if (stream_virtual(key, klen, &view, &vk, &vl)) {
        int vrc = mn_virtual_info(server.store, key, klen, si);
        return vrc == MN_OK ? 1 : vrc;
    }
    int rc = mn_stream_info_get(server.store, key, klen, si);
    if (rc == MN_OK)
        return !si->deleted;
    if (rc == MN_ENOTFOUND || rc == MN_EINVAL)
        return 0;
    return rc;
}

/* Replies a read-side engine error (EIO...) for a command that found no
 * better text. */
static void reply_read_error(client *c, int rc) { stream_reply_mn_error(c, rc, mn_errmsg()); }

/* Replies the entry with this id, or [id, nil] if it is gone. */
static void reply_entry_by_id(client *c, const char *key, size_t klen, mn_entry_id id)
{
    mn_iter *it = NULL;
    mn_event_view ev;
    if (mn_read_entry(server.store, key, klen, id, &it) == MN_OK && mn_iter_next(it, &ev) == 1)
        stream_reply_entry(c, &ev);
    else
        stream_reply_entry_deleted(c, id);
    mn_iter_free(it);
}

/* A growable array of ids, filled from engine callbacks. */
typedef struct idvec {
    mn_entry_id *v;   /* the ids */
    size_t n;         /* how many */
    size_t cap;       /* capacity */
    int oom;          /* an append failed */
} idvec;

static int idvec_push(idvec *iv, mn_entry_id id)
{
    if (iv->n == iv->cap) {
        size_t cap = iv->cap ? iv->cap * 2 : 16;
        mn_entry_id *p = realloc(iv->v, cap * sizeof(*p));
        if (!p) {
            iv->oom = 1;
            return -1;
        }
        iv->v = p;
        iv->cap = cap;
    }
    iv->v[iv->n++] = id;
    return 0;
}

static int pending_id_collect(void *ud, const mn_pending_entry *p)
{
    return idvec_push(ud, p->id) < 0 ? 1 : 0;
}

/* Context of a single-op command: what the reply needs after the op. */
typedef struct gctx {
    int justid;               /* XCLAIM/XAUTOCLAIM JUSTID */
    size_t key_len;           /* stream name length */
    size_t group_len;         /* group name length */
    char *key;                /* stream name (points into buf) */
    char *group;              /* group name (points into buf) */
    char buf[];               /* key NUL group NUL */
} gctx;

static gctx *gctx_new(const client *c, int key_arg, int group_arg)
{
    size_t kl = c->argvlen[key_arg], gl = c->argvlen[group_arg];
    gctx *g = calloc(1, sizeof(*g) + kl + gl + 2);
    if (!g)
        return NULL;
    g->key = g->buf;
    g->key_len = kl;
    memcpy(g->key, c->argv[key_arg], kl);
    g->group = g->buf + kl + 1;
    g->group_len = gl;
    memcpy(g->group, c->argv[group_arg], gl);
    return g;
}

/* Runs op with a deferred reply; on a refusal the error is already
 * replied and ctx freed. */
static void run_op(client *c, const mn_op *op, stream_op_reply_fn *fn, gctx *ctx)
{
    if (stream_op_async(c, op, fn, ctx) < 0)
        free(ctx);
}

/* The context of an op on the stream argv[key_arg] and the group
 * argv[group_arg], with op's stream and group pointing into it; NULL with
 * the out-of-memory error replied. */
static gctx *gctx_for_op(client *c, mn_op *op, int key_arg, int group_arg)
{
    gctx *g = gctx_new(c, key_arg, group_arg);
    if (!g) {
        reply_oom(c);
        return NULL;
    }
    op->stream = g->key;
    op->stream_len = g->key_len;
    op->group = g->group;
    op->group_len = g->group_len;
    return g;
}

/* ------------------------------------------------------------------ */
/* XGROUP                                                               */
/* ------------------------------------------------------------------ */

/* Replies an XGROUP op failure with Redis's texts. */
static void xgroup_error(client *c, const gctx *g, const stream_op_res *res)
{
    if (res->rc == MN_ENOTFOUND || res->rc == MN_EDELETED)
        reply_error(c, ERR_REQUIRES_KEY);
    else if (res->rc == MN_ENOGROUP)
        reply_errorf(c, "-NOGROUP No such consumer group '%s' for key name '%s'", g->group,
                     g->key);
    else
        stream_reply_mn_error(c, res->rc, res->errmsg);
}

static void xgroup_ok_reply(client *c, stream_op_res *res, void *ud)
{
    gctx *g = ud;
    if (c) {
        if (res->rc != MN_OK)
            xgroup_error(c, g, res);
        else
            reply_ok(c);
    }
    free(g);
}

static void xgroup_n_reply(client *c, stream_op_res *res, void *ud)
{
    gctx *g = ud;
    if (c) {
        if (res->rc != MN_OK)
            xgroup_error(c, g, res);
        else
            reply_long(c, (long long)res->op.n);
    }
    free(g);
}

/* Parses XGROUP CREATE/SETID options from argv[5]: MKSTREAM (CREATE
 * only) and ENTRIESREAD n. 0, or -1 with the error replied. */
static int xgroup_options(client *c, int create, int *mkstream, int64_t *entries_read)
{
    for (int i = 5; i < c->argc; i++) {
        if (create && arg_is(c, i, "MKSTREAM")) {
            *mkstream = 1;
        } else if (arg_is(c, i, "ENTRIESREAD") && i + 1 < c->argc) {
            long long v;
            if (parse_ll_msg(c, i + 1, NULL, &v) < 0)
                return -1;
            if (v < 0 && v != -1) {
                reply_error(c, "value for ENTRIESREAD must be positive or -1");
                return -1;
            }
            *entries_read = v;
            i++;
        } else {
            reply_sub_syntax(c, "XGROUP");
            return -1;
        }
    }
    return 0;
}

/* The end of XGROUP CREATE and SETID: the id argv[4] ('$': the stream's
 * last; an id, strict or not, as stream_parse_id_or_reply), then op on the
 * stream argv[2] and the group argv[3], replying +OK. */
static void xgroup_run_at_id(client *c, mn_op *op, int strict)
{
    if (strcmp(c->argv[4], "$") != 0) {
        if (stream_parse_id_or_reply(c, c->argv[4], c->argvlen[4], 0, strict, NULL, &op->id) < 0)
            return;
        op->id_set = 1;
    }
    gctx *g = gctx_for_op(c, op, 2, 3);
    if (g)
        run_op(c, op, xgroup_ok_reply, g);
}

/* XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n] */
static void cmd_xgroup_create(client *c)
{
    mn_op op;
    mn_stream_info si;
    int mkstream = 0;
    mn_op_init(&op, MN_OP_GROUP_CREATE);
    if (xgroup_options(c, 1, &mkstream, &op.entries_read) < 0)
        return;
    int found = stream_find(c->argv[2], c->argvlen[2], &si);
    if (found < 0) {
        reply_read_error(c, found);
        return;
    }
    if (!found && !mkstream) {
        reply_error(c, ERR_REQUIRES_KEY);
        return;
    }
    if (c->argc > 8) {
        reply_sub_syntax(c, "XGROUP");
        return;
    }
    op.mkstream = mkstream;
    xgroup_run_at_id(c, &op, 1);
}

/* Checks the key and the group for SETID/CREATECONSUMER/DELCONSUMER as
 * Redis does (key first). 0, or -1 with the error replied. */
static int xgroup_need_group(client *c)
{
    ginfo gi;
    int rc = group_find(c->argv[2], c->argvlen[2], c->argv[3], c->argvlen[3], &gi);
    if (rc == MN_OK)
        return 0;
    if (rc == MN_ENOTFOUND)
        reply_error(c, ERR_REQUIRES_KEY);
    else if (rc == MN_ENOGROUP)
        reply_errorf(c, "-NOGROUP No such consumer group '%s' for key name '%s'", c->argv[3],
                     c->argv[2]);
    else
        reply_read_error(c, rc);
    return -1;
}

/* XGROUP SETID key group id|$ [ENTRIESREAD n] */
static void cmd_xgroup_setid(client *c)
{
    mn_op op;
    int mkstream = 0;
    mn_op_init(&op, MN_OP_GROUP_SETID);
    if (xgroup_options(c, 0, &mkstream, &op.entries_read) < 0)
        return;
    if (xgroup_need_group(c) < 0)
        return;
    if (c->argc != 5 && c->argc != 7) {
        reply_sub_syntax(c, "XGROUP");
        return;
    }
    xgroup_run_at_id(c, &op, 0);
}

/* XGROUP DESTROY key group -> 1 or 0 */
static void cmd_xgroup_destroy(client *c)
{
    mn_op op;
    mn_stream_info si;
    int found = stream_find(c->argv[2], c->argvlen[2], &si);
    if (found <= 0) {
        if (found < 0)
            reply_read_error(c, found);
        else
            reply_error(c, ERR_REQUIRES_KEY);
        return;
    }
    mn_op_init(&op, MN_OP_GROUP_DESTROY);
    gctx *g = gctx_for_op(c, &op, 2, 3);
    if (g)
        run_op(c, &op, xgroup_n_reply, g);
}

/* XGROUP CREATECONSUMER / DELCONSUMER key group consumer */
static void xgroup_consumer(client *c, int kind)
{
    mn_op op;
    if (xgroup_need_group(c) < 0)
        return;
    mn_op_init(&op, kind);
    gctx *g = gctx_for_op(c, &op, 2, 3);
    if (!g)
        return;
    op.consumer = c->argv[4];
    op.consumer_len = c->argvlen[4];
    run_op(c, &op, xgroup_n_reply, g);
}

static void cmd_xgroup_createconsumer(client *c) { xgroup_consumer(c, MN_OP_CONSUMER_CREATE); }
static void cmd_xgroup_delconsumer(client *c) { xgroup_consumer(c, MN_OP_CONSUMER_DELETE); }

static void reply_help(client *c, const char *const *lines, size_t n)
{
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++)
        reply_simple(c, lines[i]);
}

static void cmd_xgroup_help(client *c)
{
    static const char *const lines[] = {
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof(lines) / sizeof(lines[0]));
}

/* ------------------------------------------------------------------ */
/* XACK                                                                 */
/* ------------------------------------------------------------------ */

static void xack_reply(client *c, stream_op_res *res, void *ud)
{
    if (c) {
        if (res->rc == MN_OK)
            reply_long(c, (long long)res->op.n);
        else if (res->rc == MN_ENOGROUP || res->rc == MN_ENOTFOUND)
            reply_long(c, 0); /* the group went away meanwhile: nothing acked */
        else
            stream_reply_mn_error(c, res->rc, res->errmsg);
    }
    free(ud);
}

/* XACK key group id [id ...] -> acknowledged count */
static void cmd_xack(client *c)
{
    ginfo gi;
    mn_op op;
    int rc = group_find(c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2], &gi);
    if (rc == MN_ENOTFOUND || rc == MN_ENOGROUP) {
        reply_long(c, 0); /* Redis: no key or group, nothing to ack */
        return;
    }
    if (rc != MN_OK) {
        reply_read_error(c, rc);
        return;
    }
    size_t nids = (size_t)c->argc - 3;
    mn_entry_id *ids = malloc(nids * sizeof(*ids));
    if (!ids) {
        reply_oom(c);
        return;
    }
    for (size_t i = 0; i < nids; i++) {
        int a = (int)i + 3;
        if (stream_parse_id_or_reply(c, c->argv[a], c->argvlen[a], 0, 1, NULL, &ids[i]) < 0)
            goto done;
    }
    mn_op_init(&op, MN_OP_ACK);
    op.stream = c->argv[1];
    op.stream_len = c->argvlen[1];
    op.group = c->argv[2];
    op.group_len = c->argvlen[2];
    op.ids = ids;
    op.nids = nids;
    stream_op_async(c, &op, xack_reply, NULL); /* the engine copied ids */
done:
    free(ids);
}

/* ------------------------------------------------------------------ */
/* XPENDING                                                             */
/* ------------------------------------------------------------------ */

/* The summary form's walk: first and last id. */
typedef struct pel_bounds {
    uint64_t n;         /* entries seen */
    mn_entry_id first;  /* smallest id */
    mn_entry_id last;   /* largest id */
} pel_bounds;

static int pel_bounds_cb(void *ud, const mn_pending_entry *p)
{
    pel_bounds *b = ud;
    if (b->n++ == 0)
        b->first = p->id;
    b->last = p->id;
    return 0;
}

/* Consumers with pending entries, copied out for the summary. */
typedef struct cons_list {
    size_t n;           /* how many */
    size_t cap;         /* capacity */
    char **names;       /* copies */
    size_t *lens;       /* their lengths */
    uint64_t *pending;  /* their PEL sizes */
    int64_t *seen;      /* seen_ms */
    int64_t *active;    /* active_ms (0 never) */
    int oom;            /* a copy failed */
} cons_list;

static int cons_collect(void *ud, const mn_consumer_info *ci)
{
    cons_list *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **nm = realloc(l->names, cap * sizeof(*nm));
        if (nm)
            l->names = nm;
        size_t *ln = realloc(l->lens, cap * sizeof(*ln));
        if (ln)
            l->lens = ln;
        uint64_t *pd = realloc(l->pending, cap * sizeof(*pd));
        if (pd)
            l->pending = pd;
        int64_t *sn = realloc(l->seen, cap * sizeof(*sn));
        if (sn)
            l->seen = sn;
        int64_t *ac = realloc(l->active, cap * sizeof(*ac));
        if (ac)
            l->active = ac;
        if (!nm || !ln || !pd || !sn || !ac) {
            l->oom = 1;
            return 1;
        }
        l->cap = cap;
    }
    char *copy = malloc(ci->name_len + 1);
    if (!copy) {
        l->oom = 1;
        return 1;
    }
    memcpy(copy, ci->name, ci->name_len);
    copy[ci->name_len] = '\0';
    l->names[l->n] = copy;
    l->lens[l->n] = ci->name_len;
    l->pending[l->n] = ci->pending;
    l->seen[l->n] = (int64_t)ci->seen_ms;
    l->active[l->n] = (int64_t)ci->active_ms;
    l->n++;
    return 0;
}

static void cons_free(cons_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    free(l->lens);
    free(l->pending);
    free(l->seen);
    free(l->active);
    memset(l, 0, sizeof(*l));
}

/* XPENDING key group: [count, min id, max id, [[consumer, count]...]] */
static void xpending_summary(client *c, const ginfo *gi)
{
    pel_bounds b = {0};
    cons_list cl = {0};
    mn_entry_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    int rc;
    if (gi->pending == 0) {
        reply_array(c, 4);
        reply_long(c, 0);
        reply_null(c);
        reply_null(c);
        reply_null_array(c);
        goto done;
    }
    /* The engine walks the PEL forward only, so the max id costs a full
     * walk: O(PEL), as XPENDING's extended form would. */
    rc = mn_list_pending(server.store, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2], lo,
                         hi, 0, NULL, 0, 0, pel_bounds_cb, &b);
    if (rc == MN_OK)
        rc = mn_list_consumers(server.store, c->argv[1], c->argvlen[1], c->argv[2],
                               c->argvlen[2], cons_collect, &cl);
    if (rc != MN_OK || cl.oom) {
        if (cl.oom)
            reply_oom(c);
        else
            reply_read_error(c, rc);
        goto done;
    }
    reply_array(c, 4);
    reply_long(c, (long long)b.n);
    if (b.n == 0) {
        reply_null(c);
        reply_null(c);
        reply_null_array(c);
        goto done;
    }
    stream_reply_id(c, b.first);
    stream_reply_id(c, b.last);
    long with = 0;
    for (size_t i = 0; i < cl.n; i++)
        with += cl.pending[i] > 0;
    reply_array(c, with);
    for (size_t i = 0; i < cl.n; i++) {
        if (!cl.pending[i])
            continue;
        reply_array(c, 2);
        reply_bulk(c, cl.names[i], cl.lens[i]);
        reply_bulk_long(c, (long long)cl.pending[i]);
    }
done:
    cons_free(&cl);
}

/* The extended form's rows, written straight from the engine walk. */
typedef struct xpend_walk {
    client *c;       /* where to reply */
    int64_t now;     /* wall ms */
    long n;          /* rows replied */
} xpend_walk;

static int xpend_row(void *ud, const mn_pending_entry *p)
{
    xpend_walk *w = ud;
    int64_t idle = w->now - (int64_t)p->delivered_ms;
    reply_array(w->c, 4);
    stream_reply_id(w->c, p->id);
    reply_bulk(w->c, p->consumer, p->consumer_len);
    reply_long(w->c, idle < 0 ? 0 : idle);
    reply_long(w->c, (long long)p->deliveries);
    w->n++;
    return 0;
}

/* XPENDING key group [[IDLE min-idle] start end count [consumer]] */
static void cmd_xpending(client *c)
{
    long long minidle = 0, count = 0;
    mn_entry_id start = {0, 0}, end = {UINT64_MAX, UINT64_MAX};
    const char *consumer = NULL;
    size_t consumer_len = 0;
    int justinfo = c->argc == 3;
    ginfo gi;

    if (c->argc != 3 && (c->argc < 6 || c->argc > 9)) {
        reply_error_syntax(c);
        return;
    }
    if (c->argc >= 6) {
        int si = 3, sex = 0, eex = 0;
        if (arg_is(c, 3, "IDLE")) {
            if (parse_ll_msg(c, 4, NULL, &minidle) < 0)
                return;
            if (c->argc < 8) {
                reply_error_syntax(c);
                return;
            }
            si += 2;
        }
        if (stream_parse_count_or_reply(c, c->argv[si + 2], c->argvlen[si + 2], &count) < 0)
            return;
        if (stream_parse_interval_or_reply(c, c->argv[si], c->argvlen[si], 0, &sex, &start) < 0)
            return;
        if (sex && stream_id_incr(&start) < 0) {
            reply_error(c, "invalid start ID for the interval");
            return;
        }
        if (stream_parse_interval_or_reply(c, c->argv[si + 1], c->argvlen[si + 1], UINT64_MAX,
                                           &eex, &end) < 0)
            return;
        if (eex && stream_id_decr(&end) < 0) {
            reply_error(c, "invalid end ID for the interval");
            return;
        }
        if (si + 3 < c->argc) {
            consumer = c->argv[si + 3];
            consumer_len = c->argvlen[si + 3];
        }
    }
    int rc = group_find(c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2], &gi);
    if (rc == MN_ENOTFOUND || rc == MN_ENOGROUP) {
        reply_errorf(c, "-NOGROUP No such key '%s' or consumer group '%s'", c->argv[1],
                     c->argv[2]);
        return;
    }
    if (rc != MN_OK) {
        reply_read_error(c, rc);
        return;
    }
    if (justinfo) {
        xpending_summary(c, &gi);
        return;
    }
    if (count == 0 || stream_id_cmp(start, end) > 0) {
        reply_array(c, 0);
        return;
    }
    xpend_walk w = {c, wall_ms(), 0};
    void *h = reply_deferred_len(c);
    rc = mn_list_pending(server.store, c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2],
                         start, end, (uint64_t)count, consumer, consumer_len,
                         minidle > 0 ? (uint64_t)minidle : 0, xpend_row, &w);
    if (rc != MN_OK)
        server_log(LL_WARNING, "XPENDING walk failed: %s", mn_errmsg());
    reply_set_array_len(c, h, w.n);
}

/* ------------------------------------------------------------------ */
/* XCLAIM / XAUTOCLAIM                                                  */
/* ------------------------------------------------------------------ */

static void reply_claimed(client *c, const gctx *g, const mn_entry_id *ids, size_t n)
{
    reply_array(c, (long)n);
    for (size_t i = 0; i < n; i++) {
        if (g->justid)
            stream_reply_id(c, ids[i]);
        else
            reply_entry_by_id(c, g->key, g->key_len, ids[i]);
    }
}

static void claim_error(client *c, const gctx *g, const stream_op_res *res)
{
    if (res->rc == MN_ENOGROUP || res->rc == MN_ENOTFOUND)
        reply_errorf(c, "-NOGROUP No such key '%s' or consumer group '%s'", g->key, g->group);
    else
        stream_reply_mn_error(c, res->rc, res->errmsg);
}

static void xclaim_reply(client *c, stream_op_res *res, void *ud)
{
    gctx *g = ud;
    if (c) {
        if (res->rc != MN_OK)
            claim_error(c, g, res);
        else
            reply_claimed(c, g, res->op.out_ids, res->op.out_n);
    }
    free(g);
}

/* XCLAIM key group consumer min-idle id... [IDLE ms] [TIME ms]
 *        [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id] */
static void cmd_xclaim(client *c)
{
    ginfo gi;
    mn_op op;
    long long minidle, v;
    long long deliverytime = -1;
    mn_entry_id *ids = NULL;
    gctx *g = NULL;
    int j;

    int rc = group_find(c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2], &gi);
    if (rc == MN_ENOTFOUND || rc == MN_ENOGROUP) {
        reply_errorf(c, "-NOGROUP No such key '%s' or consumer group '%s'", c->argv[1],
                     c->argv[2]);
        return;
    }
    if (rc != MN_OK) {
        reply_read_error(c, rc);
        return;
    }
    if (parse_ll_msg(c, 4, "Invalid min-idle-time argument for XCLAIM", &minidle) < 0)
        return;
    if (minidle < 0)
        minidle = 0;
    mn_op_init(&op, MN_OP_CLAIM);
    ids = malloc((size_t)c->argc * sizeof(*ids));
    g = gctx_new(c, 1, 2);
    if (!ids || !g) {
        reply_oom(c);
        goto fail;
    }
    /* ids until the first argument that is not one: then the options */
    size_t nids = 0;
    for (j = 5; j < c->argc; j++) {
        if (stream_parse_id(c->argv[j], c->argvlen[j], 0, 1, NULL, &ids[nids]) < 0)
            break;
        nids++;
    }
    int64_t now = wall_ms();
    for (; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_is(c, j, "FORCE")) {
            op.force = 1;
        } else if (arg_is(c, j, "JUSTID")) {
            op.justid = 1;
        } else if (arg_is(c, j, "IDLE") && more) {
            if (parse_ll_msg(c, ++j, "Invalid IDLE option argument for XCLAIM", &v) < 0)
                goto fail;
            deliverytime = now - v;
        } else if (arg_is(c, j, "TIME") && more) {
            if (parse_ll_msg(c, ++j, "Invalid TIME option argument for XCLAIM", &v) < 0)
                goto fail;
            deliverytime = v;
        } else if (arg_is(c, j, "RETRYCOUNT") && more) {
            if (parse_ll_msg(c, ++j, "Invalid RETRYCOUNT option argument for XCLAIM", &v) < 0)
                goto fail;
            op.retrycount = v < 0 ? -1 : v;
        } else if (arg_is(c, j, "LASTID") && more) {
            j++;
            if (stream_parse_id_or_reply(c, c->argv[j], c->argvlen[j], 0, 1, NULL, &op.lastid) <
                0)
                goto fail;
            op.lastid_set = 1;
        } else {
            reply_errorf(c, "Unrecognized XCLAIM option '%s'", c->argv[j]);
            goto fail;
        }
    }
    /* As Redis: a bogus delivery time (negative, or in the future) is now. */
    if (deliverytime != -1)
        op.time_ms = (deliverytime < 0 || deliverytime > now) ? now : deliverytime;
    g->justid = op.justid;
    op.stream = g->key;
    op.stream_len = g->key_len;
    op.group = g->group;
    op.group_len = g->group_len;
    op.consumer = c->argv[3];
    op.consumer_len = c->argvlen[3];
    op.min_idle_ms = (uint64_t)minidle;
    op.ids = ids;
    op.nids = nids;
    if (stream_op_async(c, &op, xclaim_reply, g) < 0)
        goto fail;
    free(ids); /* the engine copied them */
    return;
fail:
    free(ids);
    free(g);
}

static void xautoclaim_reply(client *c, stream_op_res *res, void *ud)
{
    gctx *g = ud;
    if (c) {
        if (res->rc != MN_OK) {
            claim_error(c, g, res);
        } else {
            reply_array(c, 3);
            stream_reply_id(c, res->op.next);
            reply_claimed(c, g, res->op.out_ids, res->op.out_n);
            reply_array(c, (long)res->op.deleted_n);
            for (size_t i = 0; i < res->op.deleted_n; i++)
                stream_reply_id(c, res->op.deleted_ids[i]);
        }
    }
    free(g);
}

/* XAUTOCLAIM key group consumer min-idle start [COUNT n] [JUSTID]
 *   -> [next cursor, claimed entries or ids, deleted ids] */
static void cmd_xautoclaim(client *c)
{
    long long minidle, count = 100;
    mn_entry_id start;
    int sex = 0, justid = 0;
    ginfo gi;
    mn_op op;

    if (parse_ll_msg(c, 4, "Invalid min-idle-time argument for XAUTOCLAIM", &minidle) < 0)
        return;
    if (minidle < 0)
        minidle = 0;
    if (stream_parse_interval_or_reply(c, c->argv[5], c->argvlen[5], 0, &sex, &start) < 0)
        return;
    if (sex && stream_id_incr(&start) < 0) {
        reply_error(c, "invalid start ID for the interval");
        return;
    }
    for (int j = 6; j < c->argc; j++) {
        int more = c->argc - 1 - j;
        if (arg_is(c, j, "COUNT") && more) {
            const long long max_count = 0x7fffffffffffffffLL / 16;
            if (!resp_str2ll(c->argv[j + 1], c->argvlen[j + 1], &count) || count < 1 ||
                count > max_count) {
                reply_error(c, "COUNT must be > 0");
                return;
            }
            j++;
        } else if (arg_is(c, j, "JUSTID")) {
            justid = 1;
        } else {
            reply_error_syntax(c);
            return;
        }
    }
    int rc = group_find(c->argv[1], c->argvlen[1], c->argv[2], c->argvlen[2], &gi);
    if (rc == MN_ENOTFOUND || rc == MN_ENOGROUP) {
        reply_errorf(c, "-NOGROUP No such key '%s' or consumer group '%s'", c->argv[1],
                     c->argv[2]);
        return;
    }
    if (rc != MN_OK) {
        reply_read_error(c, rc);
        return;
    }
    mn_op_init(&op, MN_OP_AUTOCLAIM);
    gctx *g = gctx_for_op(c, &op, 1, 2);
    if (!g)
        return;
    g->justid = justid;
    op.consumer = c->argv[3];
    op.consumer_len = c->argvlen[3];
    op.min_idle_ms = (uint64_t)minidle;
    op.start = start;
    op.count = (uint64_t)(count > AUTOCLAIM_MAX_COUNT ? AUTOCLAIM_MAX_COUNT : count);
    op.justid = justid;
    run_op(c, &op, xautoclaim_reply, g);
}

/* ------------------------------------------------------------------ */
/* XREADGROUP                                                           */
/* ------------------------------------------------------------------ */

/*
 * One XREADGROUP runs in rounds. A round looks at every '>' stream whose
 * group may have new entries and runs one DELIVER op per such stream, all
 * queued at once (they share a group commit); the reply is deferred until
 * the last one is durable. Then:
 *   - something delivered, or history streams asked for: reply;
 *   - nothing (another consumer took the entries first, or they were
 *     deleted), BLOCK given and time left: park the client again;
 *   - else: a null reply.
 * A parked client's retry (after the store advanced) starts a new round
 * when some stream may have new entries for the group.
 */

typedef struct xrg xrg;

/* One stream of an XREADGROUP. */
typedef struct xrg_stream {
    xrg *x;                   /* owner */
    server_post_item post;    /* the deliver's completion, posted to the loop */
    const char *key;          /* stream name (in x's arena) */
    size_t key_len;
    int is_new;               /* '>': new entries; else history after `after` */
    mn_entry_id after;        /* history: pending entries after this id */
    int rc;                   /* this round's deliver result */
    char err[200];            /* its message */
    uint64_t n;               /* entries delivered this round (0: none/not run) */
    int64_t from, to;         /* their versions */
    mn_entry_id *again;       /* entries delivered again this round (queue visibility
                                 timeout; cmd_queue.c), sent before the new ones */
    size_t nagain;
} xrg_stream;

struct xrg {
    const char *group;        /* group name (in the arena) */
    size_t group_len;
    const char *consumer;     /* consumer name (in the arena) */
    size_t consumer_len;
    uint64_t count;           /* COUNT (0: no limit) */
    int noack;                /* NOACK */
    int block;                /* BLOCK given and blocking allowed */
    int64_t deadline;         /* monotonic ms when BLOCK runs out; 0 forever */
    int nhistory;             /* streams read by explicit id */
    int in_flight;            /* delivers of this round not completed */
    deferred *d;              /* this round's reply, or NULL (see invariant 5) */
    int nstreams;             /* streams */
    xrg_stream *s;            /* them */
    int polled;               /* parked with queue_poll_hold (one release owed) */
    uint64_t policy_epoch;    /* queue_policy_epoch() when polled was last decided */
};

static void xrg_free(xrg *x)
{
    if (!x)
        return;
    for (int i = 0; i < x->nstreams; i++)
        free(x->s[i].again);
    free(x->s);
    free(x);
}

static void xrg_block_free(void *priv)
{
    xrg *x = priv;
    if (x->polled) {
        queue_poll_release();
        x->polled = 0;
    }
    if (!x->d) /* not handed over to a round in flight */
        xrg_free(x);
}

/* While parked on a group with a visibility timeout, have the block
 * retried as time passes (entries fall due without any write). */
static void xrg_poll_hold(xrg *x)
{
    x->policy_epoch = queue_policy_epoch();
    for (int i = 0; i < x->nstreams && !x->polled; i++)
        if (x->s[i].is_new)
            x->polled = queue_poll_hold(x->s[i].key, x->s[i].key_len, x->group, x->group_len);
}

/* For a virtual stream: 1 if its view has an event after the group's
 * last-delivered id. One index seek (no count of the view: this runs for
 * every blocked reader on every append). */
static int xrg_virtual_may_have_new(const xrg *x, const xrg_stream *s)
{
    ginfo gi;
    mn_iter *it = NULL;
    mn_event_view ev;
    mn_entry_id hi = {UINT64_MAX, UINT64_MAX};
    if (group_find(s->key, s->key_len, x->group, x->group_len, &gi) != MN_OK)
        return 1; /* the deliver will report the error */
    if (stream_id_incr(&gi.last) < 0)
        return 0;
    int yes = stream_open_range(s->key, s->key_len, gi.last, hi, 1, 0, &it) == MN_OK &&
              mn_iter_next(it, &ev) == 1;
    mn_iter_free(it);
    return yes;
}

/* 1 if the group may have entries after its last-delivered id, or (queue
 * policy, cmd_queue.c) pending entries due for redelivery. Virtual streams
 * have no queue policy (QUEUE.POLICY refuses '$' names). */
static int xrg_may_have_new(const xrg *x, const xrg_stream *s)
{
    mn_stream_info si;
    ginfo gi;
    if (stream_name_reserved(s->key, s->key_len))
        return xrg_virtual_may_have_new(x, s);
    if (stream_find(s->key, s->key_len, &si) <= 0 || si.length == 0)
        return 0;
    if (group_find(s->key, s->key_len, x->group, x->group_len, &gi) != MN_OK)
        return 1; /* the deliver will report the error */
    /* Only when nothing is new: a deliver that runs anyway redelivers too. */
    if (stream_id_cmp(si.last_id, gi.last) <= 0)
        return gi.pending && queue_due_now(s->key, s->key_len, x->group, x->group_len);
    /* last_id is the last generated id: make sure the last entry is above
     * the group's position (it may have been deleted). */
    mn_iter *it = NULL;
    mn_event_view ev;
    int yes = 0;
    if (mn_read_stream(server.store, s->key, s->key_len, -1, 1, 1, &it) == MN_OK &&
        mn_iter_next(it, &ev) == 1)
        yes = stream_id_cmp(ev.entry_id, gi.last) > 0;
    mn_iter_free(it);
    return yes || (gi.pending && queue_due_now(s->key, s->key_len, x->group, x->group_len));
}

/* Replies the history of x's consumer in stream s (explicit id). */
static void xrg_reply_history(client *c, const xrg *x, const xrg_stream *s)
{
    idvec iv = {0};
    mn_entry_id start = s->after, end = {UINT64_MAX, UINT64_MAX};
    if (stream_id_incr(&start) < 0) {
        reply_array(c, 0);
        return;
    }
    int rc = mn_list_pending(server.store, s->key, s->key_len, x->group, x->group_len, start, end,
                             x->count, x->consumer, x->consumer_len, 0, pending_id_collect, &iv);
    if (rc != MN_OK && !iv.oom)
        server_log(LL_WARNING, "XREADGROUP history walk failed: %s", mn_errmsg());
    reply_array(c, (long)iv.n);
    for (size_t i = 0; i < iv.n; i++)
        reply_entry_by_id(c, s->key, s->key_len, iv.v[i]);
    free(iv.v);
}

/* Replies the entries the deliver of s recorded: those delivered again
 * (ids), then the new ones (versions from..to; for a virtual stream the n
 * view entries at positions from..to, never any again: no queue policy). */
static void xrg_reply_delivered(client *c, const xrg_stream *s)
{
    mn_iter *it = NULL;
    if (stream_name_reserved(s->key, s->key_len)) {
        mn_entry_id lo = {(uint64_t)s->from, 0}, hi = {(uint64_t)s->to, 0};
        uint64_t want = s->n;
        int rc = stream_open_range(s->key, s->key_len, lo, hi, want, 0, &it);
        if (rc != MN_OK || stream_reply_entries(c, it, want) < 0)
            reply_array(c, 0); /* nothing left to show */
        mn_iter_free(it);
        return;
    }
    if (s->nagain == 0) {
        uint64_t want = (uint64_t)(s->to - s->from + 1);
        int rc = mn_read_stream(server.store, s->key, s->key_len, s->from, want, 0, &it);
        if (rc != MN_OK || stream_reply_entries(c, it, want) < 0)
            reply_array(c, 0); /* the stream went away since: nothing left to show */
        mn_iter_free(it);
        return;
    }
    void *h = reply_deferred_len(c);
    long n = (long)s->nagain;
    for (size_t i = 0; i < s->nagain; i++)
        reply_entry_by_id(c, s->key, s->key_len, s->again[i]);
    if (s->n) {
        uint64_t want = (uint64_t)(s->to - s->from + 1);
        mn_event_view ev;
        if (mn_read_stream(server.store, s->key, s->key_len, s->from, want, 0, &it) == MN_OK)
            while (n - (long)s->nagain < (long)want && mn_iter_next(it, &ev) == 1) {
                stream_reply_entry(c, &ev);
                n++;
            }
        mn_iter_free(it);
    }
    reply_set_array_len(c, h, n);
}

static void xrg_reply(client *c, const xrg *x)
{
    long n = 0;
    void *h = stream_read_reply_begin(c);
    for (int i = 0; i < x->nstreams; i++) {
        const xrg_stream *s = &x->s[i];
        if (s->is_new && s->n == 0 && s->nagain == 0)
            continue;
        stream_read_reply_key(c, s->key, s->key_len);
        if (s->is_new)
            xrg_reply_delivered(c, s);
        else
            xrg_reply_history(c, x, s);
        n++;
    }
    stream_read_reply_end(c, h, n);
}

static void xrg_nogroup(client *c, const xrg *x, const xrg_stream *s)
{
    reply_errorf(c, "-NOGROUP No such key '%.*s' or consumer group '%.*s' in XREADGROUP with "
                    "GROUP option",
                 (int)s->key_len, s->key, (int)x->group_len, x->group);
}

static int xrg_retry(client *c, void *priv);

/* Parks c for x (the remaining BLOCK time). 0, or -1 if it cannot block. */
static int xrg_park(client *c, xrg *x)
{
    int64_t left = 0;
    if (x->deadline) {
        left = x->deadline - loop_now_ms();
        if (left <= 0)
            return -1;
    }
    if (client_block(c, left, xrg_retry, NULL, xrg_block_free, x) < 0)
        return -1;
    xrg_poll_hold(x);
    return 0;
}

/* The end of a round (loop thread): reply, or park again. */
static void xrg_round_done(xrg *x)
{
    deferred *d = x->d;
    client *c = deferred_client(d);
    x->d = NULL;
    if (!c)
        goto free_out;
    uint64_t delivered = 0;
    for (int i = 0; i < x->nstreams; i++) {
        xrg_stream *s = &x->s[i];
        if (s->rc == MN_ENOGROUP || s->rc == MN_ENOTFOUND || s->rc == MN_EDELETED) {
            xrg_nogroup(c, x, s);
            goto free_out;
        }
        if (s->rc != MN_OK) {
            stream_reply_mn_error(c, s->rc, s->err);
            goto free_out;
        }
        delivered += s->n + s->nagain;
    }
    if (delivered || x->nhistory) {
        xrg_reply(c, x);
        goto free_out;
    }
    if (x->block && xrg_park(c, x) == 0) {
        deferred_done(d); /* an empty reply: the block answers later */
        return;
    }
    reply_null_array(c);
free_out:
    deferred_done(d);
    xrg_free(x);
}

static void xrg_deliver_posted(void *arg)
{
    xrg_stream *s = arg;
    xrg *x = s->x;
    if (--x->in_flight == 0)
        xrg_round_done(x);
}

/* Writer thread: copy the outcome, post it to the loop. */
static void xrg_deliver_cb(void *ud, mn_op_result *res)
{
    xrg_stream *s = ud;
    s->rc = res->rc;
    snprintf(s->err, sizeof(s->err), "%s", (res->rc != MN_OK && res->errmsg) ? res->errmsg : "");
    if (res->rc == MN_OK && res->op) {
        s->n = res->op->n;
        s->from = res->op->from_version;
        s->to = res->op->to_version;
        s->again = res->op->out_ids; /* taken: see mn_op_async */
        s->nagain = res->op->out_n;
        res->op->out_ids = NULL;
        res->op->out_n = 0;
    }
    s->post.fn = xrg_deliver_posted;
    s->post.arg = s;
    server_post_submit(&s->post);
}

/* Starts a round. Returns 1 if c was answered or a reply is deferred
 * (x then belongs to the round or is freed), 0 if there is nothing to do
 * (x untouched: the caller blocks or answers null). */
static int xrg_round(client *c, xrg *x)
{
    int ncand = 0;
    for (int i = 0; i < x->nstreams; i++) {
        xrg_stream *s = &x->s[i];
        s->rc = MN_OK;
        s->n = 0;
        free(s->again);
        s->again = NULL;
        s->nagain = 0;
        s->err[0] = '\0';
        s->post.fn = NULL;
        if (s->is_new && xrg_may_have_new(x, s)) {
            s->post.fn = xrg_deliver_posted; /* marks a candidate */
            ncand++;
        }
    }
    if (ncand == 0) {
        if (!x->nhistory)
            return 0;
        xrg_reply(c, x); /* history only: no write */
        if (!c->blocked)
            xrg_free(x);
        return 1;
    }
    x->d = client_defer(c);
    if (!x->d) {
        reply_oom(c);
        if (!c->blocked)
            xrg_free(x);
        return 1;
    }
    x->in_flight = ncand;
    for (int i = 0; i < x->nstreams; i++) {
        xrg_stream *s = &x->s[i];
        if (!s->post.fn)
            continue;
        mn_op op;
        mn_op_init(&op, MN_OP_DELIVER);
        op.stream = s->key;
        op.stream_len = s->key_len;
        op.group = x->group;
        op.group_len = x->group_len;
        op.consumer = x->consumer;
        op.consumer_len = x->consumer_len;
        op.count = x->count;
        op.noack = x->noack;
        int rc = server.store ? mn_op_async(server.store, &op, xrg_deliver_cb, s) : MN_ECLOSED;
        if (rc != MN_OK) {
            /* refused at once: complete it through the same (asynchronous)
             * path, so the round always ends on the loop, never in here */
            s->rc = rc;
            snprintf(s->err, sizeof(s->err), "%s", mn_errmsg());
            s->post.fn = xrg_deliver_posted;
            s->post.arg = s;
            server_post_submit(&s->post);
        }
    }
    return 1;
}

/* Retry of a parked XREADGROUP (the store advanced). */
static int xrg_retry(client *c, void *priv)
{
    xrg *x = priv;
    if (!x->polled && x->policy_epoch != queue_policy_epoch())
        xrg_poll_hold(x); /* a policy was set while parked */
    for (int i = 0; i < x->nstreams; i++)
        if (x->s[i].is_new && xrg_may_have_new(x, &x->s[i]))
            return xrg_round(c, x); /* deferred: x->d now owns x */
    return 0;
}

/* XREADGROUP GROUP g c [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id... */
static void cmd_xreadgroup(client *c)
{
    long long count = 0, timeout = -1;
    int streams_arg = 0, nstreams = 0, noack = 0, group_arg = 0;
    xrg *x = NULL;

    for (int i = 1; i < c->argc; i++) {
        int more = c->argc - i - 1;
        if (arg_is(c, i, "BLOCK") && more) {
            i++;
            if (!resp_str2ll(c->argv[i], c->argvlen[i], &timeout)) {
                reply_error(c, "timeout is not an integer or out of range");
                return;
            }
            if (timeout < 0) {
                reply_error(c, "timeout is negative");
                return;
            }
            if (timeout > 0 && timeout > LLONG_MAX - loop_now_ms()) {
                /* as XREAD (and Redis): the deadline must not overflow */
                reply_error(c, "timeout is out of range");
                return;
            }
        } else if (arg_is(c, i, "COUNT") && more) {
            i++;
            if (stream_parse_count_or_reply(c, c->argv[i], c->argvlen[i], &count) < 0)
                return;
        } else if (arg_is(c, i, "STREAMS") && more) {
            streams_arg = i + 1;
            if (stream_parse_streams_or_reply(c, streams_arg, "xreadgroup", '>', &nstreams) < 0)
                return;
            break;
        } else if (arg_is(c, i, "GROUP") && more >= 2) {
            group_arg = i + 1;
            i += 2;
        } else if (arg_is(c, i, "NOACK")) {
            noack = 1;
        } else {
            reply_error_syntax(c);
            return;
        }
    }
    if (streams_arg == 0) {
        reply_error_syntax(c);
        return;
    }
    if (group_arg == 0) {
        reply_error(c, "Missing GROUP option for XREADGROUP");
        return;
    }

    /* one block for the names: group, consumer, keys */
    size_t bytes = c->argvlen[group_arg] + c->argvlen[group_arg + 1] + 2;
    for (int i = 0; i < nstreams; i++)
        bytes += c->argvlen[streams_arg + i] + 1;
    x = calloc(1, sizeof(*x) + bytes);
    if (x)
        x->s = calloc((size_t)nstreams, sizeof(*x->s));
    if (!x || !x->s) {
        reply_oom(c);
        goto fail;
    }
    char *arena = (char *)(x + 1);
    memcpy(arena, c->argv[group_arg], c->argvlen[group_arg]);
    x->group = arena;
    x->group_len = c->argvlen[group_arg];
    arena += x->group_len + 1;
    memcpy(arena, c->argv[group_arg + 1], c->argvlen[group_arg + 1]);
    x->consumer = arena;
    x->consumer_len = c->argvlen[group_arg + 1];
    arena += x->consumer_len + 1;
    x->nstreams = nstreams;
    x->count = (uint64_t)count;
    x->noack = noack;

    for (int i = 0; i < nstreams; i++) {
        xrg_stream *s = &x->s[i];
        int ka = streams_arg + i, ia = streams_arg + nstreams + i;
        ginfo gi;
        s->x = x;
        memcpy(arena, c->argv[ka], c->argvlen[ka]);
        s->key = arena;
        s->key_len = c->argvlen[ka];
        arena += s->key_len + 1;
        int rc = group_find(s->key, s->key_len, x->group, x->group_len, &gi);
        if (rc == MN_ENOTFOUND || rc == MN_ENOGROUP) {
            xrg_nogroup(c, x, s);
            goto fail;
        }
        if (rc != MN_OK) {
            reply_read_error(c, rc);
            goto fail;
        }
        if (strcmp(c->argv[ia], "$") == 0) {
            reply_error(c, "The $ ID is meaningless in the context of XREADGROUP: you want to "
                           "read the history of this consumer by specifying a proper ID, or use "
                           "the > ID to get new messages. The $ ID would just return an empty "
                           "result set.");
            goto fail;
        }
        if (strcmp(c->argv[ia], ">") == 0) {
            s->is_new = 1;
            continue;
        }
        if (stream_parse_id_or_reply(c, c->argv[ia], c->argvlen[ia], 0, 1, NULL, &s->after) < 0)
            goto fail;
        x->nhistory++;
    }

    /* BLOCK inside MULTI/EXEC is a timeout at once, as in Redis */
    x->block = timeout >= 0 && !client_in_exec(c);
    x->deadline = timeout > 0 ? loop_now_ms() + timeout : 0;
    if (xrg_round(c, x))
        return;
    if (x->block && xrg_park(c, x) == 0)
        return;
    reply_null_array(c);
fail:
    xrg_free(x);
}

/* ------------------------------------------------------------------ */
/* XINFO                                                                */
/* ------------------------------------------------------------------ */

/* A group copied out of mn_list_groups (invariant 3). */
typedef struct group_row {
    char *name;               /* copy */
    size_t name_len;
    ginfo gi;                 /* its state */
} group_row;

typedef struct group_list {
    group_row *v;             /* rows */
    size_t n, cap;            /* count, capacity */
    int oom;                  /* a copy failed */
} group_list;

static int group_collect(void *ud, const mn_group_info *g)
{
    group_list *l = ud;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        group_row *p = realloc(l->v, cap * sizeof(*p));
        if (!p) {
            l->oom = 1;
            return 1;
        }
        l->v = p;
        l->cap = cap;
    }
    group_row *r = &l->v[l->n];
    r->name = malloc(g->name_len + 1);
    if (!r->name) {
        l->oom = 1;
        return 1;
    }
    memcpy(r->name, g->name, g->name_len);
    r->name[g->name_len] = '\0';
    r->name_len = g->name_len;
    ginfo_copy(&r->gi, g);
    l->n++;
    return 0;
}

static void group_list_free(group_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static void reply_nullable_long(client *c, int64_t v)
{
    if (v < 0)
        reply_null(c);
    else
        reply_long(c, v);
}

/* Replies one entry read by version (first/last), or nil. A virtual
 * stream's (si from mn_virtual_info) is read by its id instead. */
static void reply_entry_at(client *c, const char *key, size_t klen, const mn_stream_info *si,
                           int64_t from, int backward)
{
    mn_iter *it = NULL;
    mn_event_view ev;
    int rc;
    if (from >= -1 && stream_name_reserved(key, klen))
        rc = mn_read_entry(server.store, key, klen, backward ? si->last_id : si->first_id, &it);
    else
        rc = from >= -1 ? mn_read_stream(server.store, key, klen, from, 1, backward, &it)
                        : MN_ENOTFOUND;
    if (rc == MN_OK && mn_iter_next(it, &ev) == 1)
        stream_reply_entry(c, &ev);
    else
        reply_null(c);
    mn_iter_free(it);
}

/* XINFO STREAM's first seven fields, shared by the plain and FULL forms.
 * radix-tree-keys/-nodes describe Redis's in-memory layout, which
 * Mnemosyne does not have: we report what Redis would roughly show for
 * the same length (one rax key per 100-entry listpack node, plus the
 * root), so tools that read them see plausible numbers. */
static void xinfo_stream_head(client *c, const mn_stream_info *si)
{
    uint64_t keys = (si->length + 99) / 100;
    reply_bulk_cstr(c, "length");
    reply_long(c, (long long)si->length);
    reply_bulk_cstr(c, "radix-tree-keys");
    reply_long(c, (long long)keys);
    reply_bulk_cstr(c, "radix-tree-nodes");
    reply_long(c, (long long)keys + 1);
    reply_bulk_cstr(c, "last-generated-id");
    stream_reply_id(c, si->last_id);
    reply_bulk_cstr(c, "max-deleted-entry-id");
    stream_reply_id(c, si->max_deleted_id);
    reply_bulk_cstr(c, "entries-added");
    reply_long(c, (long long)si->entries_added);
    reply_bulk_cstr(c, "recorded-first-entry-id");
    stream_reply_id(c, si->first_id);
}

/* The group PEL rows of XINFO STREAM FULL: [id, consumer, delivery time,
 * deliveries]; with a consumer filter: [id, delivery time, deliveries]. */
typedef struct full_pel_walk {
    client *c;            /* where to reply */
    int with_consumer;    /* group rows carry the consumer name */
    long n;               /* rows */
} full_pel_walk;

static int full_pel_row(void *ud, const mn_pending_entry *p)
{
    full_pel_walk *w = ud;
    reply_array(w->c, w->with_consumer ? 4 : 3);
    stream_reply_id(w->c, p->id);
    if (w->with_consumer)
        reply_bulk(w->c, p->consumer, p->consumer_len);
    reply_long(w->c, (long long)p->delivered_ms);
    reply_long(w->c, (long long)p->deliveries);
    w->n++;
    return 0;
}

static void full_pel(client *c, const char *key, size_t klen, const group_row *g,
                     const char *consumer, size_t consumer_len, uint64_t count)
{
    mn_entry_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    full_pel_walk w = {c, consumer == NULL, 0};
    void *h = reply_deferred_len(c);
    if (mn_list_pending(server.store, key, klen, g->name, g->name_len, lo, hi, count, consumer,
                        consumer_len, 0, full_pel_row, &w) != MN_OK)
        server_log(LL_WARNING, "XINFO STREAM FULL: PEL walk failed: %s", mn_errmsg());
    reply_set_array_len(c, h, w.n);
}

static void xinfo_full_group(client *c, const char *key, size_t klen, const group_row *g,
                             uint64_t count)
{
    cons_list cl = {0};
    reply_map(c, 7);
    reply_bulk_cstr(c, "name");
    reply_bulk(c, g->name, g->name_len);
    reply_bulk_cstr(c, "last-delivered-id");
    stream_reply_id(c, g->gi.last);
    reply_bulk_cstr(c, "entries-read");
    reply_nullable_long(c, g->gi.entries_read);
    reply_bulk_cstr(c, "lag");
    reply_nullable_long(c, g->gi.lag);
    reply_bulk_cstr(c, "pel-count");
    reply_long(c, (long long)g->gi.pending);
    reply_bulk_cstr(c, "pending");
    full_pel(c, key, klen, g, NULL, 0, count);
    reply_bulk_cstr(c, "consumers");
    if (mn_list_consumers(server.store, key, klen, g->name, g->name_len, cons_collect, &cl) !=
        MN_OK)
        server_log(LL_WARNING, "XINFO STREAM FULL: consumers failed: %s", mn_errmsg());
    reply_array(c, (long)cl.n);
    for (size_t i = 0; i < cl.n; i++) {
        reply_map(c, 5);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, cl.names[i], cl.lens[i]);
        reply_bulk_cstr(c, "seen-time");
        reply_long(c, cl.seen[i]);
        reply_bulk_cstr(c, "active-time");
        reply_long(c, cl.active[i] ? cl.active[i] : -1);
        reply_bulk_cstr(c, "pel-count");
        reply_long(c, (long long)cl.pending[i]);
        reply_bulk_cstr(c, "pending");
        full_pel(c, key, klen, g, cl.names[i], cl.lens[i], count);
    }
    cons_free(&cl);
}

/* XINFO STREAM key [FULL [COUNT n]] */
static void cmd_xinfo_stream(client *c)
{
    int full = 0;
    long long count = 10;
    mn_stream_info si;
    group_list gl = {0};
    const char *key = c->argv[2];
    size_t klen = c->argvlen[2];

    if (c->argc > 3) {
        int optc = c->argc - 3;
        if ((optc != 1 && optc != 3) || !arg_is(c, 3, "FULL") ||
            (optc == 3 && !arg_is(c, 4, "COUNT"))) {
            reply_sub_syntax(c, "XINFO");
            return;
        }
        if (optc == 3) {
            if (parse_ll_msg(c, 5, NULL, &count) < 0)
                return;
            if (count < 0)
                count = 10;
        }
        full = 1;
    }
    int found = stream_find(key, klen, &si);
    if (found <= 0) {
        if (found < 0)
            reply_read_error(c, found);
        else
            reply_error(c, "no such key");
        return;
    }
    if (!full) {
        reply_map(c, 10);
        xinfo_stream_head(c, &si);
        reply_bulk_cstr(c, "groups");
        reply_long(c, (long long)si.groups);
        reply_bulk_cstr(c, "first-entry");
        reply_entry_at(c, key, klen, &si, si.length ? si.first_version : -2, 0);
        reply_bulk_cstr(c, "last-entry");
        reply_entry_at(c, key, klen, &si, si.length ? -1 : -2, 1);
        return;
    }
    if (mn_list_groups(server.store, key, klen, group_collect, &gl) != MN_OK || gl.oom) {
        if (gl.oom)
            reply_oom(c);
        else
            reply_read_error(c, MN_EIO);
        goto done;
    }
    reply_map(c, 9);
    xinfo_stream_head(c, &si);
    reply_bulk_cstr(c, "entries");
    mn_iter *it = NULL;
    mn_entry_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    int rc = !si.length ? MN_ENOTFOUND
             : stream_name_reserved(key, klen)
                 ? stream_open_range(key, klen, lo, hi, (uint64_t)count, 0, &it)
                 : mn_read_stream(server.store, key, klen, si.first_version, (uint64_t)count, 0,
                                  &it);
    if (rc != MN_OK || stream_reply_entries(c, it, (uint64_t)count) < 0)
        reply_array(c, 0);
    mn_iter_free(it);
    reply_bulk_cstr(c, "groups");
    reply_array(c, (long)gl.n);
    for (size_t i = 0; i < gl.n; i++)
        xinfo_full_group(c, key, klen, &gl.v[i], (uint64_t)count);
done:
    group_list_free(&gl);
}

/* XINFO GROUPS key */
static void cmd_xinfo_groups(client *c)
{
    group_list gl = {0};
    int rc = mn_list_groups(server.store, c->argv[2], c->argvlen[2], group_collect, &gl);
    if (rc == MN_ENOTFOUND || rc == MN_EINVAL) {
        reply_error(c, "no such key");
        goto done;
    }
    if (rc != MN_OK || gl.oom) {
        if (gl.oom)
            reply_oom(c);
        else
            reply_read_error(c, rc);
        goto done;
    }
    reply_array(c, (long)gl.n);
    for (size_t i = 0; i < gl.n; i++) {
        const group_row *g = &gl.v[i];
        reply_map(c, 6);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, g->name, g->name_len);
        reply_bulk_cstr(c, "consumers");
        reply_long(c, (long long)g->gi.consumers);
        reply_bulk_cstr(c, "pending");
        reply_long(c, (long long)g->gi.pending);
        reply_bulk_cstr(c, "last-delivered-id");
        stream_reply_id(c, g->gi.last);
        reply_bulk_cstr(c, "entries-read");
        reply_nullable_long(c, g->gi.entries_read);
        reply_bulk_cstr(c, "lag");
        reply_nullable_long(c, g->gi.lag);
    }
done:
    group_list_free(&gl);
}

/* XINFO CONSUMERS key group: name, pending, idle, inactive (Redis 7.2) */
static void cmd_xinfo_consumers(client *c)
{
    cons_list cl = {0};
    ginfo gi;
    int rc = group_find(c->argv[2], c->argvlen[2], c->argv[3], c->argvlen[3], &gi);
    if (rc == MN_ENOTFOUND) {
        reply_error(c, "no such key");
        return;
    }
    if (rc == MN_ENOGROUP) {
        reply_errorf(c, "-NOGROUP No such consumer group '%s' for key name '%s'", c->argv[3],
                     c->argv[2]);
        return;
    }
    if (rc == MN_OK)
        rc = mn_list_consumers(server.store, c->argv[2], c->argvlen[2], c->argv[3],
                               c->argvlen[3], cons_collect, &cl);
    if (rc != MN_OK || cl.oom) {
        if (cl.oom)
            reply_oom(c);
        else
            reply_read_error(c, rc);
        goto done;
    }
    int64_t now = wall_ms();
    reply_array(c, (long)cl.n);
    for (size_t i = 0; i < cl.n; i++) {
        int64_t idle = now - cl.seen[i];
        int64_t inactive = cl.active[i] ? now - cl.active[i] : -1;
        reply_map(c, 4);
        reply_bulk_cstr(c, "name");
        reply_bulk(c, cl.names[i], cl.lens[i]);
        reply_bulk_cstr(c, "pending");
        reply_long(c, (long long)cl.pending[i]);
        reply_bulk_cstr(c, "idle");
        reply_long(c, idle < 0 ? 0 : idle);
        reply_bulk_cstr(c, "inactive");
        reply_long(c, cl.active[i] ? (inactive < 0 ? 0 : inactive) : -1);
    }
done:
    cons_free(&cl);
}

static void cmd_xinfo_help(client *c)
{
    static const char *const lines[] = {
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Print this help.",
    };
    reply_help(c, lines, sizeof(lines) / sizeof(lines[0]));
}

/* ------------------------------------------------------------------ */
/* Command table                                                        */
/* ------------------------------------------------------------------ */

#define SG "stream"
#define W_ (CMD_WRITE)
#define WD (CMD_WRITE | CMD_DENYOOM)
#define RO (CMD_READONLY)
#define HELPF (CMD_LOADING | CMD_STALE)
#define VW (CMD_VIRTUAL_OK) /* may name a virtual stream ($all, $ce-, $et-) */

static const cmd_def xgroup_subcommands[] = {
    {"create", cmd_xgroup_create, -5, WD | VW, 2, 2, 1, SG, "5.0.0", "Creates a consumer group.",
     "O(1)", NULL},
    {"setid", cmd_xgroup_setid, -5, W_ | VW, 2, 2, 1, SG, "5.0.0",
     "Sets the last-delivered ID of a consumer group.", "O(1)", NULL},
    {"destroy", cmd_xgroup_destroy, 4, W_ | VW, 2, 2, 1, SG, "5.0.0", "Destroys a consumer group.",
     "O(N) where N is the number of entries in the group's pending entries list (PEL).", NULL},
    {"createconsumer", cmd_xgroup_createconsumer, 5, WD | VW, 2, 2, 1, SG, "6.2.0",
     "Creates a consumer in a consumer group.", "O(1)", NULL},
    {"delconsumer", cmd_xgroup_delconsumer, 5, W_ | VW, 2, 2, 1, SG, "5.0.0",
     "Deletes a consumer from a consumer group.", "O(1)", NULL},
    {"help", cmd_xgroup_help, 2, HELPF, 0, 0, 0, SG, "5.0.0",
     "Returns helpful text about the different subcommands.", "O(1)", NULL},
    CMD_END,
};

static const cmd_def xinfo_subcommands[] = {
    {"consumers", cmd_xinfo_consumers, 4, RO, 2, 2, 1, SG, "5.0.0",
     "Returns a list of the consumers in a consumer group.", "O(1)", NULL},
    {"groups", cmd_xinfo_groups, 3, RO, 2, 2, 1, SG, "5.0.0",
     "Returns a list of the consumer groups of a stream.", "O(1)", NULL},
    {"stream", cmd_xinfo_stream, -3, RO, 2, 2, 1, SG, "5.0.0",
     "Returns information about a stream.", "O(1)", NULL},
    {"help", cmd_xinfo_help, 2, HELPF, 0, 0, 0, SG, "5.0.0",
     "Returns helpful text about the different subcommands.", "O(1)", NULL},
    CMD_END,
};

const cmd_def group_commands[] = {
    {"xgroup", NULL, -2, 0, 0, 0, 0, SG, "5.0.0", "A container for consumer groups commands.",
     "Depends on subcommand.", xgroup_subcommands},
    {"xinfo", NULL, -2, 0, 0, 0, 0, SG, "5.0.0", "A container for stream introspection commands.",
     "Depends on subcommand.", xinfo_subcommands},
    {"xreadgroup", cmd_xreadgroup, -7, CMD_WRITE | CMD_BLOCKING | VW, 0, 0, 0, SG, "5.0.0",
     "Returns new or historical messages from a stream for a consumer in a group. Blocks until "
     "a message is available otherwise.",
     "For each stream mentioned: O(M) with M the number of elements returned.", NULL},
    {"xack", cmd_xack, -4, CMD_WRITE | CMD_FAST | VW, 1, 1, 1, SG, "5.0.0",
     "Returns the number of messages that were successfully acknowledged by the consumer group "
     "member of a stream.",
     "O(1) for each message ID processed.", NULL},
    {"xpending", cmd_xpending, -3, RO, 1, 1, 1, SG, "5.0.0",
     "Returns the information and entries from a stream consumer group's pending entries list.",
     "O(N) with N being the number of elements returned.", NULL},
    {"xclaim", cmd_xclaim, -6, CMD_WRITE | CMD_FAST | VW, 1, 1, 1, SG, "5.0.0",
     "Changes, or acquires, ownership of a message in a consumer group, as if the message was "
     "delivered a consumer group member.",
     "O(log N) with N being the number of messages in the PEL of the consumer group.", NULL},
    {"xautoclaim", cmd_xautoclaim, -6, CMD_WRITE | CMD_FAST | VW, 1, 1, 1, SG, "6.2.0",
     "Changes, or acquires, ownership of messages in a consumer group, as if the messages were "
     "delivered to as consumer group member.",
     "O(1) if COUNT is small.", NULL},
    CMD_END,
};
