/*
 * cmd_es.c — the event store commands: ES.APPEND, ES.TX, ES.READ,
 * ES.READALL, ES.INFO, ES.DELETE, and TRACE.
 *
 * They are thin: the engine already does conditional, atomic, idempotent
 * appends (mn_append_async), reads and views. What lives here is argument
 * parsing, the reply shapes, and the error words:
 *   -WRONGVERSION expected <e>, stream is at <actual>
 *   -DUPLICATE ...   some (not all) event ids of the append are stored
 *   -DELETED ...     the stream is tombstoned
 * An event replies as a map (RESP3) or a flat field/value array (RESP2):
 * stream version position id type data meta timestamp (milliseconds). An
 * XADD entry's data is its fields as a JSON object ("one model, two views").
 *
 * Appends reply only once durable (deferred reply, like XADD). ES.DELETE
 * runs the synchronous engine delete on the background thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"
#include "stream_util.h"
#include "util/buf.h"
#include "util/json.h"

#define ES_READALL_DEFAULT_COUNT 1000

static int arg_is(client *c, int i, const char *word)
{
    return strlen(word) == c->argvlen[i] && strncasecmp(c->argv[i], word, c->argvlen[i]) == 0;
}

/* ANY | NOSTREAM | EXISTS | <n >= 0>. */
static int parse_expected(client *c, int i, int64_t *out)
{
    long long v;
    if (arg_is(c, i, "any")) *out = MN_EXPECT_ANY;
    else if (arg_is(c, i, "nostream")) *out = MN_EXPECT_NOSTREAM;
    else if (arg_is(c, i, "exists")) *out = MN_EXPECT_EXISTS;
    else if (resp_str2ll(c->argv[i], c->argvlen[i], &v) && v >= 0) *out = v;
    else {
        reply_error(c, "expected version must be ANY, NOSTREAM, EXISTS or a version >= 0");
        return -1;
    }
    return 0;
}

static void format_expected(int64_t e, char *out, size_t cap)
{
    if (e == MN_EXPECT_ANY) snprintf(out, cap, "ANY");
    else if (e == MN_EXPECT_NOSTREAM) snprintf(out, cap, "NOSTREAM");
    else if (e == MN_EXPECT_EXISTS) snprintf(out, cap, "EXISTS");
    else snprintf(out, cap, "%lld", (long long)e);
}

/* ---- parsing a list of parts ---- */

typedef struct es_parts {
    mn_append_part *parts;  /* one per stream */
    mn_event *events;       /* all events, parts point into it */
    int nparts, nevents;
} es_parts;

static void parts_free(es_parts *p)
{
    free(p->parts);
    free(p->events);
}

/* Parses EVENT <id|*> <type> <data> [META <json>] ... from argv[*i] up to
 * the end or the next STREAM word, appending to p->events. */
static int parse_events(client *c, int *i, es_parts *p, mn_append_part *part)
{
    int first = p->nevents;
    while (*i < c->argc && !arg_is(c, *i, "stream")) {
        if (!arg_is(c, *i, "event")) {
            reply_error_syntax(c);
            return -1;
        }
        if (*i + 3 >= c->argc) {
            reply_error(c, "EVENT needs an id (or *), a type and data");
            return -1;
        }
        mn_event *e = &p->events[p->nevents++];
        memset(e, 0, sizeof *e);
        int id = *i + 1, ty = *i + 2, da = *i + 3;
        if (!(c->argvlen[id] == 1 && c->argv[id][0] == '*') &&
            mn_uuid_parse(c->argv[id], c->argvlen[id], e->id) != MN_OK) {
            reply_error(c, "event id must be a UUID (8-4-4-4-12 hex digits) or *");
            return -1;
        }
        e->type = c->argv[ty];
        e->type_len = c->argvlen[ty];
        e->data = c->argv[da];
        e->data_len = c->argvlen[da];
        *i += 4;
        if (*i + 1 < c->argc && arg_is(c, *i, "meta")) {
            if (!json_is_object(c->argv[*i + 1], c->argvlen[*i + 1])) {
                reply_error(c, "META must be a JSON object");
                return -1;
            }
            e->meta = c->argv[*i + 1];
            e->meta_len = c->argvlen[*i + 1];
            *i += 2;
        }
    }
    if (p->nevents == first) {
        reply_error(c, "an append needs at least one EVENT");
        return -1;
    }
    part->events = &p->events[first];
    part->count = (size_t)(p->nevents - first);
    return 0;
}

static int parts_alloc(client *c, es_parts *p)
{
    /* at most one event per 4 arguments, one part per 3 */
    p->events = calloc((size_t)c->argc / 4 + 1, sizeof *p->events);
    p->parts = calloc((size_t)c->argc / 3 + 1, sizeof *p->parts);
    if (!p->events || !p->parts) {
        reply_error(c, "-OOM out of memory");
        return -1;
    }
    return 0;
}

static int check_name(client *c, const char *name, size_t len)
{
    if (len == 0 || len > MN_MAX_STREAM_NAME) {
        reply_errorf(c, "stream name must be 1..%u bytes", MN_MAX_STREAM_NAME);
        return -1;
    }
    if (stream_name_reserved(name, len)) {
        reply_error(c, "names starting with '$' are reserved for the virtual streams ($all, "
                       "$ce-<category>, $et-<type>), which are read-only");
        return -1;
    }
    return 0;
}

/* ---- the append, deferred until durable ---- */

typedef struct es_append_ctx {
    server_post_item post;  /* the result back to the loop */
    deferred *d;            /* the reply */
    int tx;                 /* ES.TX: one [version, position] per stream */
    int rc;                 /* result */
    char errmsg[256];
    int nparts;
    int failed_part;        /* the part whose check failed (WRONGVERSION) */
    int64_t expected;       /* its expectation */
    int64_t actual;         /* the stream's version then */
    int64_t version[];      /* per part: version, position (2 per part) */
} es_append_ctx;

static void es_append_reply(void *arg)
{
    es_append_ctx *x = arg;
    client *c = deferred_client(x->d);
    if (c) {
        if (x->rc == MN_OK) {
            if (x->tx) reply_array(c, x->nparts);
            for (int i = 0; i < x->nparts; i++) {
                reply_array(c, 2);
                reply_long(c, x->version[2 * i]);
                reply_long(c, x->version[2 * i + 1]);
            }
        } else if (x->rc == MN_EWRONGVERSION) {
            char e[32];
            format_expected(x->expected, e, sizeof e);
            reply_errorf(c, "-WRONGVERSION expected %s, stream is at %lld", e, (long long)x->actual);
        } else if (x->rc == MN_EDUPLICATE) {
            reply_errorf(c, "-DUPLICATE %s", x->errmsg);
        } else if (x->rc == MN_EDELETED) {
            reply_errorf(c, "-DELETED %s", x->errmsg);
        } else {
            stream_reply_mn_error(c, x->rc, x->errmsg);
        }
    }
    deferred_done(x->d);
    free(x);
}

/* Writer thread. */
static void es_append_cb(void *ud, const mn_append_result *res)
{
    es_append_ctx *x = ud;
    x->rc = res->rc;
    snprintf(x->errmsg, sizeof x->errmsg, "%s", res->errmsg ? res->errmsg : "");
    for (int i = 0; i < x->nparts && (size_t)i < res->nparts; i++) {
        const mn_append_part *p = &res->parts[i];
        x->version[2 * i] = p->version;
        x->version[2 * i + 1] = (int64_t)p->position;
        if (res->rc == MN_EWRONGVERSION && x->failed_part < 0) {
            /* the failing part: the first whose expectation does not hold */
            int64_t e = p->expected, a = p->actual;
            int holds = e == MN_EXPECT_ANY || (e == MN_EXPECT_NOSTREAM && a == MN_NO_VERSION) ||
                        (e == MN_EXPECT_EXISTS && a != MN_NO_VERSION) || (e >= 0 && a == e);
            if (!holds) {
                x->failed_part = i;
                x->expected = e;
                x->actual = a;
            }
        }
    }
    x->post.fn = es_append_reply;
    x->post.arg = x;
    server_post_submit(&x->post);
}

static void submit_append(client *c, es_parts *p, int tx)
{
    es_append_ctx *x = calloc(1, sizeof *x + sizeof(int64_t) * 2 * (size_t)p->nparts);
    if (!x) {
        reply_error(c, "-OOM out of memory");
        return;
    }
    x->tx = tx;
    x->nparts = p->nparts;
    x->failed_part = -1;
    x->d = client_defer(c);
    if (!x->d) {
        free(x);
        reply_error(c, "-OOM out of memory");
        return;
    }
    int rc = mn_append_async(server.store, p->parts, (size_t)p->nparts, es_append_cb, x);
    if (rc != MN_OK) {
        x->rc = rc;
        snprintf(x->errmsg, sizeof x->errmsg, "%s", mn_errmsg());
        es_append_reply(x);
    }
}

/* ES.APPEND <stream> <expected> EVENT <id|*> <type> <data> [META <json>] ... */
static void cmd_es_append(client *c)
{
    es_parts p = {0};
    if (check_name(c, c->argv[1], c->argvlen[1]) < 0 || parts_alloc(c, &p) < 0) goto done;
    mn_append_part *part = &p.parts[0];
    part->stream = c->argv[1];
    part->stream_len = c->argvlen[1];
    if (parse_expected(c, 2, &part->expected) < 0) goto done;
    int i = 3;
    if (parse_events(c, &i, &p, part) < 0) goto done;
    if (i != c->argc) {
        reply_error_syntax(c);
        goto done;
    }
    p.nparts = 1;
    submit_append(c, &p, 0);
done:
    parts_free(&p);
}

/* ES.TX STREAM <s> <expected> EVENT ... [STREAM <s2> <expected> EVENT ...] */
static void cmd_es_tx(client *c)
{
    es_parts p = {0};
    if (parts_alloc(c, &p) < 0) goto done;
    int i = 1;
    while (i < c->argc) {
        if (!arg_is(c, i, "stream") || i + 2 >= c->argc) {
            reply_error(c, "ES.TX expects STREAM <stream> <expected> EVENT ... for each stream");
            goto done;
        }
        mn_append_part *part = &p.parts[p.nparts];
        part->stream = c->argv[i + 1];
        part->stream_len = c->argvlen[i + 1];
        if (check_name(c, part->stream, part->stream_len) < 0) goto done;
        if (parse_expected(c, i + 2, &part->expected) < 0) goto done;
        i += 3;
        if (parse_events(c, &i, &p, part) < 0) goto done;
        p.nparts++;
    }
    submit_append(c, &p, 1);
done:
    parts_free(&p);
}

/* ---- replying events ---- */

static void reply_data_json(client *c, const mn_event_view *e)
{
    buf b;
    const void *f, *v;
    size_t fl, vl, off = 0;
    int first = 1;
    buf_init(&b);
    buf_append_byte(&b, '{');
    while (mn_fields_next(e->data, e->data_len, &off, &f, &fl, &v, &vl) == 1) {
        if (!first) buf_append_byte(&b, ',');
        first = 0;
        json_append_string(&b, f, fl);
        buf_append_byte(&b, ':');
        json_append_string(&b, v, vl);
    }
    buf_append_byte(&b, '}');
    if (b.oom) reply_null(c);
    else reply_bulk(c, b.data, b.len);
    buf_free(&b);
}

/* One event: 8 pairs, plus `extra` pairs the caller adds right after. */
static void reply_event(client *c, const mn_event_view *e, int extra)
{
    char uuid[37];
    reply_map(c, 8 + extra);
    reply_bulk_cstr(c, "stream");
    reply_bulk(c, e->stream, e->stream_len);
    reply_bulk_cstr(c, "version");
    reply_long(c, e->version);
    reply_bulk_cstr(c, "position");
    reply_long(c, (long long)e->position);
    reply_bulk_cstr(c, "id");
    mn_uuid_format(e->id, uuid);
    reply_bulk(c, uuid, 36);
    reply_bulk_cstr(c, "type");
    reply_bulk(c, e->type, e->type_len);
    reply_bulk_cstr(c, "data");
    if (e->flags & MN_EVENT_FIELDS) reply_data_json(c, e);
    else reply_bulk(c, e->data, e->data_len);
    reply_bulk_cstr(c, "meta");
    if (e->meta) reply_bulk(c, e->meta, e->meta_len);
    else reply_null(c);
    reply_bulk_cstr(c, "timestamp");
    reply_long(c, (long long)(e->timestamp_us / 1000));
}

/* Replies every event of it (at most count; 0 = all) as an array. */
static void reply_events(client *c, mn_iter *it, uint64_t count)
{
    mn_event_view e;
    void *h = reply_deferred_len(c);
    long n = 0;
    int rc;
    while ((count == 0 || (uint64_t)n < count) && (rc = mn_iter_next(it, &e)) == 1) {
        reply_event(c, &e, 0);
        n++;
    }
    reply_set_array_len(c, h, n);
}

static int parse_u64(client *c, int i, uint64_t *out, const char *what)
{
    long long v;
    if (!resp_str2ll(c->argv[i], c->argvlen[i], &v) || v < 0) {
        reply_errorf(c, "%s must be an integer >= 0", what);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

/* ES.READ <stream> [FROM <version>] [COUNT <n>] [BACKWARD] */
static void cmd_es_read(client *c)
{
    uint64_t from = 0, count = 0;
    int backward = 0, from_given = 0;
    mn_iter *it = NULL;
    for (int i = 2; i < c->argc; i++) {
        if (arg_is(c, i, "from") && i + 1 < c->argc) {
            if (parse_u64(c, ++i, &from, "FROM") < 0) return;
            from_given = 1;
        } else if (arg_is(c, i, "count") && i + 1 < c->argc) {
            if (parse_u64(c, ++i, &count, "COUNT") < 0) return;
        } else if (arg_is(c, i, "backward")) {
            backward = 1;
        } else {
            reply_error_syntax(c);
            return;
        }
    }
    if (c->argvlen[1] == 0 || c->argvlen[1] > MN_MAX_STREAM_NAME) {
        reply_array(c, 0);
        return;
    }
    int rc = mn_read_stream(server.store, c->argv[1], c->argvlen[1],
                            backward && !from_given ? -1 : (int64_t)from, count, backward, &it);
    if (rc == MN_ENOTFOUND) reply_array(c, 0);
    else if (rc == MN_EDELETED) reply_errorf(c, "-DELETED stream '%.*s' is deleted", (int)c->argvlen[1], c->argv[1]);
    else if (rc != MN_OK) stream_reply_mn_error(c, rc, mn_errmsg());
    else reply_events(c, it, count);
    mn_iter_free(it);
}

/* ES.READALL [FROM <position>] [COUNT <n>] [TYPE <t>...] [CATEGORY <c>] */
static void cmd_es_readall(client *c)
{
    uint64_t from = 0, count = ES_READALL_DEFAULT_COUNT;
    int cat = 0, ntypes = 0;
    int *types = calloc((size_t)c->argc, sizeof *types);
    mn_iter *it = NULL;
    mn_event_view e;
    if (!types) {
        reply_error(c, "-OOM out of memory");
        return;
    }
    for (int i = 1; i < c->argc; i++) {
        if (arg_is(c, i, "from") && i + 1 < c->argc) {
            if (parse_u64(c, ++i, &from, "FROM") < 0) goto done;
        } else if (arg_is(c, i, "count") && i + 1 < c->argc) {
            if (parse_u64(c, ++i, &count, "COUNT") < 0) goto done;
        } else if (arg_is(c, i, "category") && i + 1 < c->argc) {
            cat = ++i;
        } else if (arg_is(c, i, "type") && i + 1 < c->argc) {
            /* TYPE t1 t2 ...: every following word until a keyword */
            int before = ntypes;
            while (i + 1 < c->argc && !arg_is(c, i + 1, "from") && !arg_is(c, i + 1, "count") &&
                   !arg_is(c, i + 1, "category") && !arg_is(c, i + 1, "type"))
                types[ntypes++] = ++i;
            if (ntypes == before) {
                reply_error(c, "TYPE needs at least one event type");
                goto done;
            }
        } else {
            reply_error_syntax(c);
            goto done;
        }
    }
    /* The narrowest index serves the read; the other filters are checked
     * on each event. */
    int rc;
    if (cat) rc = mn_read_view(server.store, MN_VIEW_CATEGORY, c->argv[cat], c->argvlen[cat], from,
                               UINT64_MAX, 0, 0, &it);
    else if (ntypes == 1)
        rc = mn_read_view(server.store, MN_VIEW_TYPE, c->argv[types[0]], c->argvlen[types[0]], from,
                          UINT64_MAX, 0, 0, &it);
    else rc = mn_read_all(server.store, from, 0, &it);
    if (rc != MN_OK) {
        stream_reply_mn_error(c, rc, mn_errmsg());
        goto done;
    }
    void *h = reply_deferred_len(c);
    long n = 0;
    while ((count == 0 || (uint64_t)n < count) && (rc = mn_iter_next(it, &e)) == 1) {
        int ok = ntypes == 0;
        for (int k = 0; k < ntypes && !ok; k++)
            ok = e.type_len == c->argvlen[types[k]] && memcmp(e.type, c->argv[types[k]], e.type_len) == 0;
        if (!ok) continue;
        reply_event(c, &e, 0);
        n++;
    }
    reply_set_array_len(c, h, n);
done:
    mn_iter_free(it);
    free(types);
}

/* ES.INFO <stream> */
static void cmd_es_info(client *c)
{
    mn_stream_info si;
    if (c->argvlen[1] == 0 || c->argvlen[1] > MN_MAX_STREAM_NAME ||
        mn_stream_info_get(server.store, c->argv[1], c->argvlen[1], &si) != MN_OK) {
        reply_null(c);
        return;
    }
    reply_map(c, 8);
    reply_bulk_cstr(c, "version");
    reply_long(c, si.version);
    reply_bulk_cstr(c, "length");
    reply_long(c, (long long)si.length);
    reply_bulk_cstr(c, "first-version");
    reply_long(c, si.first_version);
    reply_bulk_cstr(c, "first-position");
    reply_long(c, (long long)si.first_position);
    reply_bulk_cstr(c, "last-position");
    reply_long(c, (long long)si.last_position);
    reply_bulk_cstr(c, "created");
    reply_long(c, (long long)(si.created_us / 1000));
    reply_bulk_cstr(c, "deleted");
    reply_long(c, si.deleted);
    reply_bulk_cstr(c, "groups");
    reply_long(c, (long long)si.groups);
}

/* ---- ES.DELETE: a tombstone, on the background thread ---- */

typedef struct es_del_job {
    deferred *d;
    int64_t expected;
    int rc;
    char errmsg[256];
    size_t len;
    char name[];
} es_del_job;

static void es_del_work(void *arg)
{
    es_del_job *j = arg;
    j->rc = mn_delete_stream(server.store, j->name, j->len, j->expected, MN_DELETE_TOMBSTONE);
    if (j->rc != MN_OK) snprintf(j->errmsg, sizeof j->errmsg, "%s", mn_errmsg());
}

static void es_del_done(void *arg)
{
    es_del_job *j = arg;
    client *c = deferred_client(j->d);
    if (c) {
        if (j->rc == MN_OK) reply_ok(c);
        else if (j->rc == MN_EWRONGVERSION) reply_errorf(c, "-WRONGVERSION %s", j->errmsg);
        else if (j->rc == MN_EDELETED) reply_errorf(c, "-DELETED %s", j->errmsg);
        else if (j->rc == MN_ENOTFOUND) reply_errorf(c, "-NOTFOUND %s", j->errmsg);
        else stream_reply_mn_error(c, j->rc, j->errmsg);
    }
    deferred_done(j->d);
    free(j);
}

/* ES.DELETE <stream> [<expected>] */
static void cmd_es_delete(client *c)
{
    int64_t expected = MN_EXPECT_ANY;
    if (c->argc > 3) {
        reply_error_syntax(c);
        return;
    }
    if (check_name(c, c->argv[1], c->argvlen[1]) < 0) return;
    if (c->argc == 3 && parse_expected(c, 2, &expected) < 0) return;
    if (expected == MN_EXPECT_NOSTREAM) {
        reply_error(c, "NOSTREAM makes no sense for a delete");
        return;
    }
    es_del_job *j = calloc(1, sizeof *j + c->argvlen[1]);
    if (!j) {
        reply_error(c, "-OOM out of memory");
        return;
    }
    j->expected = expected;
    j->len = c->argvlen[1];
    memcpy(j->name, c->argv[1], j->len);
    j->d = client_defer(c);
    if (!j->d || server_bg(es_del_work, es_del_done, j) < 0) {
        if (j->d) {
            deferred_client(j->d);
            deferred_done(j->d);
        }
        free(j);
        reply_error(c, "-OOM out of memory");
    }
}

/* ---- TRACE <correlation-id> ---- */

typedef struct trace_node {
    mn_event_view ev;       /* copied pointers: owned by `copy` */
    char *copy;             /* the bytes the view points into */
    char id[37];            /* its event id, text */
    const char *cause;      /* causation_id (in copy), or NULL */
    size_t cause_len;
    int parent;             /* index of the parent in the flow, or -1 */
    int done;               /* emitted */
} trace_node;

static int copy_node(trace_node *n, const mn_event_view *e)
{
    size_t total = e->stream_len + e->type_len + e->data_len + e->meta_len;
    n->copy = malloc(total ? total : 1);
    if (!n->copy) return -1;
    n->ev = *e;
    char *p = n->copy;
    memcpy(p, e->stream, e->stream_len);
    n->ev.stream = p;
    p += e->stream_len;
    memcpy(p, e->type, e->type_len);
    n->ev.type = p;
    p += e->type_len;
    if (e->data_len) memcpy(p, e->data, e->data_len);
    n->ev.data = p;
    p += e->data_len;
    if (e->meta) {
        memcpy(p, e->meta, e->meta_len);
        n->ev.meta = p;
    }
    mn_uuid_format(e->id, n->id);
    n->cause = NULL;
    if (n->ev.meta)
        json_get_string(n->ev.meta, n->ev.meta_len, "causation_id", &n->cause, &n->cause_len);
    return 0;
}

static void trace_emit(client *c, trace_node *nodes, int n, int i, int depth, long *emitted)
{
    nodes[i].done = 1;
    reply_event(c, &nodes[i].ev, 2);
    reply_bulk_cstr(c, "causation_id");
    if (nodes[i].cause) reply_bulk(c, nodes[i].cause, nodes[i].cause_len);
    else reply_null(c);
    reply_bulk_cstr(c, "depth");
    reply_long(c, depth);
    (*emitted)++;
    for (int k = 0; k < n; k++)
        if (!nodes[k].done && nodes[k].parent == i) trace_emit(c, nodes, n, k, depth + 1, emitted);
}

/* TRACE <correlation-id>: the flow's events as a tree in pre-order (each
 * parent before its children, siblings in global order), each with its
 * causation_id and depth. */
static void cmd_trace(client *c)
{
    mn_iter *it = NULL;
    mn_event_view e;
    trace_node *nodes = NULL;
    int n = 0, cap = 0, rc;
    if (c->argvlen[1] == 0) {
        reply_array(c, 0);
        return;
    }
    rc = mn_read_view(server.store, MN_VIEW_CORRELATION, c->argv[1], c->argvlen[1], 0, UINT64_MAX,
                      0, 0, &it);
    if (rc != MN_OK) {
        stream_reply_mn_error(c, rc, mn_errmsg());
        return;
    }
    while ((rc = mn_iter_next(it, &e)) == 1) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            trace_node *m = realloc(nodes, (size_t)cap * sizeof *m);
            if (!m) goto oom;
            nodes = m;
        }
        memset(&nodes[n], 0, sizeof nodes[n]);
        if (copy_node(&nodes[n], &e) < 0) goto oom;
        n++;
    }
    for (int i = 0; i < n; i++) {
        nodes[i].parent = -1;
        for (int k = 0; k < i && nodes[i].cause; k++)
            if (nodes[i].cause_len == 36 && strncasecmp(nodes[k].id, nodes[i].cause, 36) == 0)
                nodes[i].parent = k;
    }
    {
        void *h = reply_deferred_len(c);
        long emitted = 0;
        for (int i = 0; i < n; i++)
            if (nodes[i].parent < 0) trace_emit(c, nodes, n, i, 0, &emitted);
        reply_set_array_len(c, h, emitted);
    }
    goto done;
oom:
    reply_error(c, "-OOM out of memory");
done:
    for (int i = 0; i < n; i++) free(nodes[i].copy);
    free(nodes);
    mn_iter_free(it);
}

#define EG "stream"
const cmd_def es_commands[] = {
    {"es.append", cmd_es_append, -7, CMD_WRITE | CMD_PIPELINE_DEFER, 1, 1, 1, EG, "mnemosyne 0.1",
     "Appends events to a stream if its version is as expected; idempotent by event id.",
     "O(N) in the events appended", NULL},
    {"es.tx", cmd_es_tx, -8, CMD_WRITE | CMD_PIPELINE_DEFER, 0, 0, 0, EG, "mnemosyne 0.1",
     "Appends events to several streams atomically, each with its expected version.",
     "O(N) in the events appended", NULL},
    {"es.read", cmd_es_read, -2, CMD_READONLY, 1, 1, 1, EG, "mnemosyne 0.1",
     "Reads a stream's events by version.", "O(log S + N)", NULL},
    {"es.readall", cmd_es_readall, -1, CMD_READONLY, 0, 0, 0, EG, "mnemosyne 0.1",
     "Reads events in global order, optionally of some types or one category.", "O(N)", NULL},
    {"es.info", cmd_es_info, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, EG, "mnemosyne 0.1",
     "A stream's version, length and positions.", "O(log S)", NULL},
    {"es.delete", cmd_es_delete, -2, CMD_WRITE, 1, 1, 1, EG, "mnemosyne 0.1",
     "Deletes a stream for good (tombstone): reads say so, appends are refused.", "O(N)", NULL},
    {"trace", cmd_trace, 2, CMD_READONLY, 0, 0, 0, EG, "mnemosyne 0.1",
     "Every event of a correlation id, as a causation tree.", "O(N^2) in the flow's events", NULL},
    CMD_END,
};
