/*
 * cmd_keys.c — the keyspace over the store's streams: DBSIZE KEYS SCAN
 * EXISTS TYPE DEL UNLINK FLUSHALL FLUSHDB. Every key is a stream.
 *
 * Deleting is durable (mn_delete_stream writes a record and waits for the
 * fsync policy), so DEL/UNLINK/FLUSHALL/FLUSHDB run the engine calls on
 * the background worker (server_bg) and reply through a deferred reply:
 * the loop never waits on the disk. A DEL of a stream that does not exist
 * (or is tombstoned) counts 0, as in Redis.
 *
 * SCAN cursors. Clients parse the cursor as an integer, so it cannot hold
 * a stream name. A cursor is ((ordinal << 10) | slot): `slot` indexes a
 * ring of the last 1024 cursors handed out, remembering the last name the
 * scan returned; `ordinal` is how many names the scan has visited. With
 * the name found in its slot (same cursor value), the scan resumes right
 * after that name in byte order — exact under concurrent creates and
 * deletes, so every stream that exists for the whole scan is returned
 * exactly once (Redis promises at least once). If the slot was reused
 * (more than 1024 scans in flight) or the server restarted, the scan falls
 * back to skipping `ordinal` names: still a full pass, at worst with
 * repeats or misses near concurrent changes. Cursor 0 starts and ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "glob.h"
#include "stream_util.h"
#include "server.h"

/* ---- lookups ---- */

static int stream_exists(const char *name, size_t len)
{
    mn_stream_info info;
    /* '$' names: a virtual stream's group holder is no key (engine/vgroup.c) */
    if (!server.store || len == 0 || len > MN_MAX_STREAM_NAME || stream_name_reserved(name, len))
        return 0;
    return mn_stream_info_get(server.store, name, len, &info) == MN_OK && !info.deleted;
}

static void cmd_dbsize(client *c)
{
    reply_long(c, (long long)stream_key_count());
}

static void cmd_exists(client *c)
{
    long long n = 0;
    for (int i = 1; i < c->argc; i++)
        n += stream_exists(c->argv[i], c->argvlen[i]);
    reply_long(c, n);
}

static void cmd_type(client *c)
{
    reply_simple(c, stream_exists(c->argv[1], c->argvlen[1]) ? "stream" : "none");
}

typedef struct keys_ctx {
    client *c;          /* where matching names are replied */
    const char *pat;    /* MATCH pattern, or NULL for all */
    size_t patlen;      /* its length */
    long n;             /* names replied */
} keys_ctx;

static int keys_each(void *ud, const char *name, size_t len)
{
    keys_ctx *k = ud;
    if (stream_name_reserved(name, len))
        return 0; /* a virtual stream's group holder (engine/vgroup.c) */
    if (!k->pat || glob_match(k->pat, k->patlen, name, len, 0)) {
        reply_bulk(k->c, name, len);
        k->n++;
    }
    return 0;
}

static void cmd_keys(client *c)
{
    int all = c->argvlen[1] == 1 && c->argv[1][0] == '*';
    keys_ctx k = {c, all ? NULL : c->argv[1], c->argvlen[1], 0};
    void *h = reply_deferred_len(c);
    if (server.store)
        mn_list_streams(server.store, NULL, 0, keys_each, &k);
    reply_set_array_len(c, h, k.n);
}

/* ---- SCAN ---- */

#define SCAN_SLOTS 1024

typedef struct scan_slot {
    unsigned long long cursor; /* the cursor value handed out (0 = free) */
    char *last;                /* last name visited by that scan */
    size_t lastlen;            /* its length */
} scan_slot;

static scan_slot scan_ring[SCAN_SLOTS];

typedef struct scan_ctx {
    client *c;                 /* unused during listing (names collected) */
    const char *pat;           /* MATCH pattern or NULL */
    size_t patlen;             /* its length */
    unsigned long long skip;   /* names to skip first (fallback resume) */
    long count;                /* names to visit */
    long visited;              /* names visited */
    int more;                  /* 1 if names remain after the visited ones */
    char **names;              /* matching names */
    size_t *lens;              /* their lengths */
    long n;                    /* how many matched */
    char *last;                /* last visited name (copy) */
    size_t lastlen;            /* its length */
    int oom;                   /* an allocation failed */
} scan_ctx;

static int scan_each(void *ud, const char *name, size_t len)
{
    scan_ctx *s = ud;
    if (stream_name_reserved(name, len))
        return 0; /* a virtual stream's group holder (engine/vgroup.c) */
    if (s->skip > 0) {
        s->skip--;
        return 0;
    }
    if (s->visited == s->count) {
        s->more = 1;
        return 1;
    }
    s->visited++;
    char *copy = malloc(len + 1);
    if (!copy) {
        s->oom = 1;
        return 1;
    }
    memcpy(copy, name, len);
    copy[len] = '\0';
    free(s->last);
    s->last = copy;
    s->lastlen = len;
    if (!s->pat || glob_match(s->pat, s->patlen, name, len, 0)) {
        s->names[s->n] = malloc(len + 1);
        if (!s->names[s->n]) {
            s->oom = 1;
            return 1;
        }
        memcpy(s->names[s->n], name, len);
        s->names[s->n][len] = '\0';
        s->lens[s->n++] = len;
    }
    return 0;
}

static void cmd_scan(client *c)
{
    unsigned long long cursor = 0;
    {
        char *end;
        const char *s = c->argv[1];
        if (c->argvlen[1] == 0 || c->argvlen[1] > 20 || s[0] < '0' || s[0] > '9') {
            reply_error(c, "invalid cursor");
            return;
        }
        cursor = strtoull(s, &end, 10);
        if (*end) {
            reply_error(c, "invalid cursor");
            return;
        }
    }
    const char *pat = NULL;
    size_t patlen = 0;
    long long count = 10;
    int wrong_type = 0;
    for (int i = 2; i < c->argc; i += 2) {
        if (i + 1 >= c->argc) {
            reply_error_syntax(c);
            return;
        }
        if (!strcasecmp(c->argv[i], "match")) {
            pat = c->argv[i + 1];
            patlen = c->argvlen[i + 1];
            if (patlen == 1 && pat[0] == '*')
                pat = NULL;
        } else if (!strcasecmp(c->argv[i], "count")) {
            if (!resp_str2ll(c->argv[i + 1], c->argvlen[i + 1], &count)) {
                reply_error_not_int(c);
                return;
            }
            if (count < 1) {
                reply_error_syntax(c);
                return;
            }
            if (count > 100000)
                count = 100000;
        } else if (!strcasecmp(c->argv[i], "type")) {
            wrong_type = strcasecmp(c->argv[i + 1], "stream") != 0;
        } else {
            reply_error_syntax(c);
            return;
        }
    }
    scan_ctx s;
    memset(&s, 0, sizeof(s));
    s.pat = pat;
    s.patlen = patlen;
    s.count = (long)count;
    s.names = calloc((size_t)count, sizeof(char *));
    s.lens = calloc((size_t)count, sizeof(size_t));
    unsigned long long ordinal = cursor >> 10;
    const char *after = NULL;
    size_t afterlen = 0;
    if (cursor != 0) {
        scan_slot *sl = &scan_ring[cursor & (SCAN_SLOTS - 1)];
        if (sl->cursor == cursor && sl->last) {
            after = sl->last;
            afterlen = sl->lastlen;
        } else {
            s.skip = ordinal;
        }
    }
    if (!s.names || !s.lens) {
        s.oom = 1;
    } else if (!wrong_type && server.store) {
        mn_list_streams(server.store, after, afterlen, scan_each, &s);
    }
    if (s.oom) {
        reply_error(c, "-OOM out of memory while scanning");
    } else {
        unsigned long long next = 0;
        if (s.more && !wrong_type) {
            unsigned slot = (unsigned)(server.scan_seq++ % SCAN_SLOTS);
            next = ((ordinal + (unsigned long long)s.visited) << 10) | slot;
            scan_slot *sl = &scan_ring[slot];
            free(sl->last);
            sl->cursor = next;
            sl->last = s.last;
            sl->lastlen = s.lastlen;
            s.last = NULL;
        }
        char cur[32];
        snprintf(cur, sizeof(cur), "%llu", next);
        reply_array(c, 2);
        reply_bulk_cstr(c, cur);
        reply_array(c, s.n);
        for (long i = 0; i < s.n; i++)
            reply_bulk(c, s.names[i], s.lens[i]);
    }
    for (long i = 0; i < s.n; i++)
        free(s.names[i]);
    free(s.names);
    free(s.lens);
    free(s.last);
}

/* ---- deletes (background worker + deferred reply) ---- */

typedef struct del_job {
    deferred *d;        /* the pending reply */
    int flush;          /* FLUSHALL/FLUSHDB: delete every stream; reply +OK */
    int nkeys;          /* keys to delete (DEL) */
    char **keys;        /* copies of the names */
    size_t *lens;       /* their lengths */
    long long deleted;  /* streams deleted */
    int err;            /* first engine error other than not-found, or 0 */
    char errmsg[256];   /* its detail */
} del_job;

static void del_job_free(del_job *j)
{
    for (int i = 0; i < j->nkeys; i++)
        free(j->keys[i]);
    free(j->keys);
    free(j->lens);
    free(j);
}

static void delete_one(del_job *j, const char *name, size_t len)
{
    if (len == 0 || len > MN_MAX_STREAM_NAME)
        return;
    int rc = mn_delete_stream(server.store, name, len, MN_EXPECT_ANY, 0);
    if (rc == MN_OK)
        j->deleted++;
    else if (rc != MN_ENOTFOUND && rc != MN_EDELETED && !j->err) {
        j->err = rc;
        snprintf(j->errmsg, sizeof(j->errmsg), "%s", mn_errmsg());
    }
}

typedef struct name_list {
    char **v;           /* names */
    size_t *l;          /* lengths */
    size_t n, cap;      /* count, capacity */
    int oom;            /* allocation failed */
} name_list;

static int collect(void *ud, const char *name, size_t len)
{
    name_list *nl = ud;
    if (nl->n == nl->cap) {
        size_t cap = nl->cap ? nl->cap * 2 : 64;
        char **v = realloc(nl->v, cap * sizeof(*v));
        size_t *l = v ? realloc(nl->l, cap * sizeof(*l)) : NULL;
        if (v)
            nl->v = v;
        if (!v || !l) {
            nl->oom = 1;
            return 1;
        }
        nl->l = l;
        nl->cap = cap;
    }
    char *p = malloc(len + 1);
    if (!p) {
        nl->oom = 1;
        return 1;
    }
    memcpy(p, name, len);
    p[len] = '\0';
    nl->v[nl->n] = p;
    nl->l[nl->n++] = len;
    return 0;
}

/* Worker thread. */
static void del_work(void *arg)
{
    del_job *j = arg;
    if (!server.store)
        return;
    if (j->flush) {
        name_list nl = {0};
        mn_list_streams(server.store, NULL, 0, collect, &nl);
        for (size_t i = 0; i < nl.n; i++) {
            delete_one(j, nl.v[i], nl.l[i]);
            free(nl.v[i]);
        }
        free(nl.v);
        free(nl.l);
        if (nl.oom && !j->err) {
            j->err = MN_ENOMEM;
            snprintf(j->errmsg, sizeof(j->errmsg), "out of memory listing streams");
        }
    } else {
        for (int i = 0; i < j->nkeys; i++)
            delete_one(j, j->keys[i], j->lens[i]);
    }
}

/* Loop thread. */
static void del_done(void *arg)
{
    del_job *j = arg;
    client *c = deferred_client(j->d);
    if (c) {
        if (j->err)
            reply_errorf(c, "%s: %s", mn_strerror(j->err), j->errmsg);
        else if (j->flush)
            reply_ok(c);
        else
            reply_long(c, j->deleted);
    }
    deferred_done(j->d);
    del_job_free(j);
}

static void start_delete(client *c, int flush)
{
    del_job *j = calloc(1, sizeof(*j));
    if (!j)
        goto oom;
    j->flush = flush;
    if (!flush) {
        j->nkeys = c->argc - 1;
        j->keys = calloc((size_t)j->nkeys, sizeof(char *));
        j->lens = calloc((size_t)j->nkeys, sizeof(size_t));
        if (!j->keys || !j->lens)
            goto oom;
        for (int i = 0; i < j->nkeys; i++) {
            j->keys[i] = malloc(c->argvlen[i + 1] + 1);
            if (!j->keys[i])
                goto oom;
            memcpy(j->keys[i], c->argv[i + 1], c->argvlen[i + 1] + 1);
            j->lens[i] = c->argvlen[i + 1];
        }
    }
    j->d = client_defer(c);
    if (!j->d)
        goto oom;
    if (server_bg(del_work, del_done, j) < 0) {
        deferred *d = j->d;
        deferred_client(d);
        reply_error(c, "-OOM out of memory");
        deferred_done(d);
        del_job_free(j);
    }
    return;
oom:
    if (j)
        del_job_free(j);
    reply_error(c, "-OOM out of memory");
}

static void cmd_del(client *c) { start_delete(c, 0); }

static void cmd_flushall(client *c)
{
    if (c->argc > 2 || (c->argc == 2 && strcasecmp(c->argv[1], "async") != 0 &&
                        strcasecmp(c->argv[1], "sync") != 0)) {
        reply_error_syntax(c);
        return;
    }
    start_delete(c, 1);
}

#define KS "generic"
#define SRV "server"

const cmd_def keys_commands[] = {
    {"dbsize", cmd_dbsize, 1, CMD_READONLY | CMD_FAST, 0, 0, 0, SRV, "1.0.0",
     "Returns the number of keys in the database.", "O(1)", NULL},
    {"keys", cmd_keys, 2, CMD_READONLY, 0, 0, 0, KS, "1.0.0",
     "Returns all key names that match a pattern.", "O(N) with N being the number of keys in the database", NULL},
    {"scan", cmd_scan, -2, CMD_READONLY, 0, 0, 0, KS, "2.8.0",
     "Iterates over the key names in the database.", "O(1) for every call. O(N) for a complete iteration", NULL},
    {"exists", cmd_exists, -2, CMD_READONLY | CMD_FAST, 1, -1, 1, KS, "1.0.0",
     "Determines whether one or more keys exist.", "O(N) where N is the number of keys to check.", NULL},
    {"type", cmd_type, 2, CMD_READONLY | CMD_FAST, 1, 1, 1, KS, "1.0.0",
     "Determines the type of value stored at a key.", "O(1)", NULL},
    {"del", cmd_del, -2, CMD_WRITE, 1, -1, 1, KS, "1.0.0", "Deletes one or more keys.",
     "O(N) where N is the number of keys that will be removed.", NULL},
    /* UNLINK may pipeline past earlier UNLINKs (CMD_PIPELINE_DEFER): the one
     * background worker runs them in order, so replies complete in order. */
    {"unlink", cmd_del, -2, CMD_WRITE | CMD_FAST | CMD_PIPELINE_DEFER, 1, -1, 1, KS, "4.0.0",
     "Asynchronously deletes one or more keys.", "O(1) for each key removed regardless of its size.", NULL},
    {"flushall", cmd_flushall, -1, CMD_WRITE, 0, 0, 0, SRV, "1.0.0",
     "Removes all keys from all databases.", "O(N) where N is the total number of keys in all databases", NULL},
    {"flushdb", cmd_flushall, -1, CMD_WRITE, 0, 0, 0, SRV, "1.0.0",
     "Remove all keys from the current database.", "O(N) where N is the number of keys in the selected database", NULL},
    CMD_END,
};
