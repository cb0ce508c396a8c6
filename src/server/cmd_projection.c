/*
 * cmd_projection.c — the PROJECTION.* commands and the server's side of the
 * projection runtime (src/projection/): CREATE, QUERY, LIST, STATUS, PAUSE,
 * RESUME, RESET, DROP, and --projections DIR at start; and ES.FOLD, which
 * runs a Lua reducer over a stream with the same sandbox (it lives here,
 * not in cmd_es.c, because it is the only ES.* command that needs Lua).
 *
 * The network thread never waits for a projection: definitions are checked
 * and written (fsync) on the background worker (server_bg), queries run
 * there too, and QUERY ... AFTER <position> parks the client (client_block,
 * as a blocking XREAD) until the projection has applied that position.
 * Projection threads report each commit through on_progress, which posts
 * one coalesced server_retry_blocked() to the loop.
 *
 * Error words: -NOPROJECTION (no such name), -READONLY (the SQL would
 * write), -PROJECTIONFAILED (AFTER on a failed projection), -TIMEOUT
 * (AFTER did not get there in time), -ERR for the rest (bad Lua, bad SQL).
 */
#include <stdatomic.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "projection/projection.h"
#include "server.h"
#include "util/buf.h"

#define QUERY_DEFAULT_TIMEOUT_MS 5000 /* AFTER without TIMEOUT */
#define PROJ_ERRBUF 1024

static proj_registry *registry;

/* ---- wake-ups: coalesced, as the store's notify hook in server.c ---- */

static atomic_int progress_pending;
static server_post_item progress_item;

static void progress_run(void *arg)
{
    (void)arg;
    atomic_store(&progress_pending, 0);
    server_retry_blocked();
}

static void on_progress(void *ud)
{
    (void)ud;
    if (atomic_exchange(&progress_pending, 1) == 0)
        server_post_submit(&progress_item);
}

/* Sends err, whose first word is its code when it is one of ours. */
static void reply_proj_error(client *c, const char *err)
{
    static const char *const codes[] = {"ERR ", "NOPROJECTION ", "READONLY ", "PROJECTIONFAILED ",
                                        "OOM ", "TIMEOUT ", NULL};
    for (int i = 0; codes[i]; i++)
        if (strncmp(err, codes[i], strlen(codes[i])) == 0) {
            reply_errorf(c, "-%s", err);
            return;
        }
    reply_errorf(c, "-ERR %s", err);
}

static int arg_is(client *c, int i, const char *word)
{
    return strlen(word) == c->argvlen[i] && strncasecmp(c->argv[i], word, c->argvlen[i]) == 0;
}

static char *dup_arg(client *c, int i)
{
    char *p = malloc(c->argvlen[i] + 1);
    if (p) {
        memcpy(p, c->argv[i], c->argvlen[i]);
        p[c->argvlen[i]] = '\0';
    }
    return p;
}

/* Defers c's reply into *d and runs work(job) on the worker, then
 * done(job) on the loop. -1 on OOM: no slot is left and the caller, who
 * still owns job, replies. */
static int defer_to_bg(client *c, deferred **d, void (*work)(void *), void (*done)(void *),
                       void *job)
{
    *d = client_defer(c);
    if (*d && server_bg(work, done, job) == 0)
        return 0;
    if (*d) {
        deferred_client(*d);
        deferred_done(*d);
        *d = NULL;
    }
    return -1;
}

/* ---- changes (CREATE DROP PAUSE RESUME RESET) on the worker ---- */

enum { OP_CREATE, OP_DROP, OP_PAUSE, OP_RESUME, OP_RESET };

typedef struct admin_job {
    deferred *d;            /* the reply slot */
    int op;                 /* OP_* */
    char *name;             /* owned */
    size_t name_len;
    char *src;              /* CREATE: the definition (owned) */
    size_t src_len;
    int rc;                 /* result */
    const char *what;       /* CREATE: created / rebuilding / unchanged */
    char err[PROJ_ERRBUF];  /* when rc < 0 */
} admin_job;

static void admin_job_free(admin_job *j)
{
    free(j->name);
    free(j->src);
    free(j);
}

static void admin_work(void *arg)
{
    admin_job *j = arg;
    switch (j->op) {
    case OP_CREATE:
        j->rc = proj_create(registry, j->name, j->name_len, j->src, j->src_len, &j->what, j->err,
                            sizeof j->err);
        break;
    case OP_DROP: j->rc = proj_drop(registry, j->name, j->name_len, j->err, sizeof j->err); break;
    case OP_PAUSE:
    case OP_RESUME:
        j->rc = proj_pause(registry, j->name, j->name_len, j->op == OP_PAUSE, j->err, sizeof j->err);
        break;
    default: j->rc = proj_reset(registry, j->name, j->name_len, j->err, sizeof j->err); break;
    }
}

static void admin_done(void *arg)
{
    admin_job *j = arg;
    client *c = deferred_client(j->d);
    if (c) {
        if (j->rc < 0) reply_proj_error(c, j->err);
        else if (j->op == OP_CREATE) reply_simple(c, j->what);
        else reply_ok(c);
    }
    deferred_done(j->d);
    admin_job_free(j);
}

static void run_admin(client *c, int op)
{
    admin_job *j = calloc(1, sizeof *j);
    if (!j || !(j->name = dup_arg(c, 1)) || (op == OP_CREATE && !(j->src = dup_arg(c, 2)))) {
        if (j) admin_job_free(j);
        reply_error(c, "-OOM out of memory");
        return;
    }
    j->op = op;
    j->name_len = c->argvlen[1];
    if (op == OP_CREATE) j->src_len = c->argvlen[2];
    if (defer_to_bg(c, &j->d, admin_work, admin_done, j) < 0) {
        admin_job_free(j);
        reply_error(c, "-OOM out of memory");
    }
}

/* PROJECTION.CREATE <name> <definition> */
static void cmd_proj_create(client *c)
{
    if (c->argvlen[2] > PROJ_MAX_DEFINITION) {
        reply_errorf(c, "-ERR a definition is at most %u bytes", PROJ_MAX_DEFINITION);
        return;
    }
    run_admin(c, OP_CREATE);
}
/* PROJECTION.DROP <name> */
static void cmd_proj_drop(client *c) { run_admin(c, OP_DROP); }
/* PROJECTION.PAUSE <name> */
static void cmd_proj_pause(client *c) { run_admin(c, OP_PAUSE); }
/* PROJECTION.RESUME <name> */
static void cmd_proj_resume(client *c) { run_admin(c, OP_RESUME); }
/* PROJECTION.RESET <name> */
static void cmd_proj_reset(client *c) { run_admin(c, OP_RESET); }

/* ---- QUERY ---- */

typedef struct query_job {
    deferred *d;            /* the reply slot, once running */
    char *name;             /* owned copies of the arguments */
    size_t name_len;
    char *sql;
    size_t sql_len;
    char **args;
    size_t *arg_lens;
    size_t nargs;
    uint64_t after;         /* AFTER position */
    int has_after;
    long long timeout_ms;   /* TIMEOUT (0 = forever) */
    proj_result res;        /* the rows */
    int rc;
    char err[PROJ_ERRBUF];
} query_job;

static void query_job_free(query_job *j)
{
    if (!j) return;
    for (size_t i = 0; i < j->nargs; i++) free(j->args[i]);
    free(j->args);
    free(j->arg_lens);
    free(j->name);
    free(j->sql);
    proj_result_free(&j->res);
    free(j);
}

static void query_work(void *arg)
{
    query_job *j = arg;
    j->rc = proj_query(registry, j->name, j->name_len, j->sql, j->sql_len,
                       (const char *const *)j->args, j->arg_lens, j->nargs, &j->res, j->err,
                       sizeof j->err);
}

static void reply_value(client *c, const pq_value *v)
{
    switch (v->type) {
    case PQ_INT: reply_long(c, v->i); break;
    case PQ_REAL: reply_double(c, v->d); break;
    case PQ_NULL: reply_null(c); break;
    default: reply_bulk(c, v->p, v->n);
    }
}

static void query_done(void *arg)
{
    query_job *j = arg;
    client *c = deferred_client(j->d);
    if (c) {
        if (j->rc < 0) {
            reply_proj_error(c, j->err);
        } else {
            reply_array(c, (long)j->res.rows);
            for (size_t r = 0; r < j->res.rows; r++) {
                reply_array(c, (long)j->res.cols);
                for (size_t k = 0; k < j->res.cols; k++)
                    reply_value(c, &j->res.v[r * j->res.cols + k]);
            }
        }
    }
    deferred_done(j->d);
    query_job_free(j);
}

/* Hands j to the worker; j is the worker's from here on. */
static void start_query(client *c, query_job *j)
{
    if (defer_to_bg(c, &j->d, query_work, query_done, j) < 0) {
        query_job_free(j);
        reply_error(c, "-OOM out of memory");
    }
}

/* While parked: the job, until it is handed to the worker. */
typedef struct query_wait {
    query_job *job;
} query_wait;

static void query_wait_free(void *priv)
{
    query_wait *w = priv;
    query_job_free(w->job);
    free(w);
}

static int query_retry(client *c, void *priv)
{
    query_wait *w = priv;
    query_job *j = w->job;
    int r = proj_reached(registry, j->name, j->name_len, j->after, j->err, sizeof j->err);
    if (r == 0)
        return 0;
    if (r < 0) {
        reply_proj_error(c, j->err);
        return 1;
    }
    w->job = NULL;
    start_query(c, j);
    return 1;
}

static void query_timeout(client *c, void *priv)
{
    query_wait *w = priv;
    query_job *j = w->job;
    proj_status st;
    char err[PROJ_ERRBUF];
    uint64_t at = 0;
    if (proj_get_status(registry, j->name, j->name_len, &st, err, sizeof err) == 0)
        at = st.position;
    reply_errorf(c, "-TIMEOUT projection '%s' has not applied position %llu within %lld ms "
                    "(it has applied everything before %llu)",
                 j->name, (unsigned long long)j->after, j->timeout_ms, (unsigned long long)at);
}

/* Trailing [AFTER <position>] [TIMEOUT <ms>], in either order: an option
 * is a keyword followed by a number in the last two or four arguments;
 * anything before is a parameter of the SQL. Returns the index one past
 * the last SQL parameter, or -1 after replying an error. */
static int parse_query_options(client *c, query_job *j)
{
    int end = c->argc;
    for (int k = 0; k < 2 && end - 2 >= 3; k++) {
        long long v;
        int is_after = arg_is(c, end - 2, "after"), is_timeout = arg_is(c, end - 2, "timeout");
        if (!is_after && !is_timeout)
            break;
        if (!resp_str2ll(c->argv[end - 1], c->argvlen[end - 1], &v) || v < 0) {
            reply_errorf(c, "-ERR %s needs a number >= 0", is_after ? "AFTER" : "TIMEOUT");
            return -1;
        }
        if (is_after) {
            j->has_after = 1;
            j->after = (uint64_t)v;
        } else {
            j->timeout_ms = v;
        }
        end -= 2;
    }
    return end;
}

/* PROJECTION.QUERY <name> <sql> [<arg> ...] [AFTER <position>] [TIMEOUT <ms>] */
static void cmd_proj_query(client *c)
{
    query_job *j = calloc(1, sizeof *j);
    if (!j) {
        reply_error(c, "-OOM out of memory");
        return;
    }
    j->timeout_ms = QUERY_DEFAULT_TIMEOUT_MS;
    int end = parse_query_options(c, j);
    if (end < 0) {
        query_job_free(j);
        return;
    }
    j->nargs = (size_t)(end - 3);
    j->args = calloc(j->nargs ? j->nargs : 1, sizeof(char *));
    j->arg_lens = calloc(j->nargs ? j->nargs : 1, sizeof(size_t));
    j->name = dup_arg(c, 1);
    j->sql = dup_arg(c, 2);
    int oom = !j->args || !j->arg_lens || !j->name || !j->sql;
    for (size_t i = 0; !oom && i < j->nargs; i++) {
        j->args[i] = dup_arg(c, 3 + (int)i);
        j->arg_lens[i] = c->argvlen[3 + i];
        oom = !j->args[i];
    }
    if (oom) {
        query_job_free(j);
        reply_error(c, "-OOM out of memory");
        return;
    }
    j->name_len = c->argvlen[1];
    j->sql_len = c->argvlen[2];
    if (j->has_after) {
        int r = proj_reached(registry, j->name, j->name_len, j->after, j->err, sizeof j->err);
        if (r < 0) {
            reply_proj_error(c, j->err);
            query_job_free(j);
            return;
        }
        if (r == 0) {
            query_wait *w = calloc(1, sizeof *w);
            if (!w) {
                query_job_free(j);
                reply_error(c, "-OOM out of memory");
                return;
            }
            w->job = j;
            if (client_block(c, j->timeout_ms, query_retry, query_timeout, query_wait_free, w) < 0) {
                query_wait_free(w);
                reply_error(c, "-ERR AFTER cannot wait here");
            }
            return;
        }
    }
    start_query(c, j);
}

/* ---- ES.FOLD ---- */

typedef struct fold_job {
    deferred *d;            /* the reply slot */
    char *stream;           /* owned copies */
    size_t stream_len;
    char *src;
    size_t src_len;
    int64_t until;          /* -1: the whole stream */
    buf out;                /* the state, JSON */
    int64_t version;        /* last version folded */
    int rc;
    char err[PROJ_ERRBUF];
} fold_job;

static void fold_job_free(fold_job *j)
{
    free(j->stream);
    free(j->src);
    buf_free(&j->out);
    free(j);
}

static void fold_work(void *arg)
{
    fold_job *j = arg;
    j->rc = proj_fold(server.store, j->stream, j->stream_len, j->src, j->src_len, j->until,
                      &j->out, &j->version, j->err, sizeof j->err);
}

static void fold_done(void *arg)
{
    fold_job *j = arg;
    client *c = deferred_client(j->d);
    if (c) {
        if (j->rc < 0) reply_proj_error(c, j->err);
        else reply_bulk(c, j->out.data ? j->out.data : "", j->out.len);
    }
    deferred_done(j->d);
    fold_job_free(j);
}

/* ES.FOLD <stream> <reducer> [UNTIL <version>]: the state as of that
 * version, as JSON (see src/projection/fold.c). */
static void cmd_es_fold(client *c)
{
    long long until = -1;
    if (c->argc == 5 && arg_is(c, 3, "until")) {
        if (!resp_str2ll(c->argv[4], c->argvlen[4], &until) || until < 0) {
            reply_error(c, "UNTIL needs a version >= 0");
            return;
        }
    } else if (c->argc != 3) {
        reply_error_syntax(c);
        return;
    }
    if (c->argvlen[1] == 0 || c->argv[1][0] == '$') {
        reply_error(c, "ES.FOLD folds one stream; virtual streams ($all, $ce-, $et-) are read "
                       "with a projection instead");
        return;
    }
    fold_job *j = calloc(1, sizeof *j);
    if (!j || !(j->stream = dup_arg(c, 1)) || !(j->src = dup_arg(c, 2))) {
        if (j) fold_job_free(j);
        reply_error(c, "-OOM out of memory");
        return;
    }
    buf_init(&j->out);
    j->stream_len = c->argvlen[1];
    j->src_len = c->argvlen[2];
    j->until = until;
    if (defer_to_bg(c, &j->d, fold_work, fold_done, j) < 0) {
        fold_job_free(j);
        reply_error(c, "-OOM out of memory");
    }
}

/* ---- LIST / STATUS ---- */

static void reply_status(client *c, const proj_status *st)
{
    reply_map(c, st->rebuilding ? 15 : 11);
    reply_bulk_cstr(c, "name");
    reply_bulk_cstr(c, st->name);
    reply_bulk_cstr(c, "source");
    reply_bulk_cstr(c, st->source);
    reply_bulk_cstr(c, "state");
    reply_bulk_cstr(c, proj_state_name(st->state));
    reply_bulk_cstr(c, "generation");
    reply_long(c, (long long)st->generation);
    reply_bulk_cstr(c, "position");
    reply_long(c, (long long)st->position);
    reply_bulk_cstr(c, "events");
    reply_long(c, (long long)st->events);
    reply_bulk_cstr(c, "lag");
    reply_long(c, (long long)st->lag);
    reply_bulk_cstr(c, "events_per_sec");
    reply_double(c, st->rate);
    reply_bulk_cstr(c, "last_error");
    if (st->last_error[0]) reply_bulk_cstr(c, st->last_error);
    else reply_null(c);
    reply_bulk_cstr(c, "error_position");
    if (st->last_error[0]) reply_long(c, (long long)st->error_position);
    else reply_null(c);
    reply_bulk_cstr(c, "rebuilding");
    reply_long(c, st->rebuilding);
    if (st->rebuilding) {
        reply_bulk_cstr(c, "next_generation");
        reply_long(c, (long long)st->next_generation);
        reply_bulk_cstr(c, "next_state");
        reply_bulk_cstr(c, proj_state_name(st->next_state));
        reply_bulk_cstr(c, "next_position");
        reply_long(c, (long long)st->next_position);
        reply_bulk_cstr(c, "next_error");
        if (st->next_error[0]) reply_bulk_cstr(c, st->next_error);
        else reply_null(c);
    }
}

/* PROJECTION.STATUS <name> */
static void cmd_proj_status(client *c)
{
    proj_status st;
    char err[PROJ_ERRBUF];
    if (proj_get_status(registry, c->argv[1], c->argvlen[1], &st, err, sizeof err) < 0)
        reply_proj_error(c, err);
    else
        reply_status(c, &st);
}

typedef struct list_ctx {
    client *c;
    long n;
} list_ctx;

static int list_one(void *ud, const proj_status *st)
{
    list_ctx *lc = ud;
    client *c = lc->c;
    lc->n++;
    reply_array(c, 3);
    reply_bulk_cstr(c, st->name);
    reply_bulk_cstr(c, proj_state_name(st->state));
    reply_long(c, (long long)st->position);
    return 0;
}

/* PROJECTION.LIST: [name, state, position] per projection, by name. */
static void cmd_proj_list(client *c)
{
    list_ctx lc = {c, 0};
    void *h = reply_deferred_len(c);
    proj_list(registry, list_one, &lc);
    reply_set_array_len(c, h, lc.n);
}

/* ---- start and stop ---- */

/* --projections DIR: each DIR/<name>.lua is created, or becomes the next
 * version of <name> if its text changed. A bad file is logged and skipped:
 * the server still starts (the other projections and the store are fine). */
static void load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        server_log(LL_WARNING, "projections: cannot read %s", dir);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n <= 4 || strcmp(de->d_name + n - 4, ".lua") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        char *src = NULL;
        size_t len = 0;
        if (f) {
            fseek(f, 0, SEEK_END);
            long sz = ftell(f);
            fseek(f, 0, SEEK_SET);
            if (sz >= 0 && (src = malloc((size_t)sz + 1)))
                len = fread(src, 1, (size_t)sz, f);
            fclose(f);
        }
        const char *what = "";
        char err[PROJ_ERRBUF];
        if (!src)
            server_log(LL_WARNING, "projections: cannot read %s", path);
        else if (proj_create(registry, de->d_name, n - 4, src, len, &what, err, sizeof err) < 0)
            server_log(LL_WARNING, "projections: %s: %s", path, err);
        else
            server_log(LL_NOTICE, "projections: %.*s %s (%s)", (int)(n - 4), de->d_name, what, path);
        free(src);
    }
    closedir(d);
}

int projection_module_init(void)
{
    char err[PROJ_ERRBUF];
    progress_item.fn = progress_run;
    progress_item.arg = NULL;
    if (proj_registry_open(server.store, server.cfg.dir, on_progress, NULL, &registry, err,
                           sizeof err) < 0) {
        server_log(LL_WARNING, "projections: %s", err);
        return -1;
    }
    if (server.cfg.projections && server.cfg.projections[0])
        load_dir(server.cfg.projections);
    return 0;
}

void projection_module_shutdown(void)
{
    proj_registry_close(registry);
    registry = NULL;
}

#define PG "projection"
const cmd_def projection_commands[] = {
    {"projection.create", cmd_proj_create, 3, CMD_WRITE | CMD_NO_MULTI, 0, 0, 0, PG, "mnemosyne 0.1",
     "Creates a projection from a Lua definition, or rebuilds it with a new version.",
     "O(1) (the build runs in the background)", NULL},
    {"projection.query", cmd_proj_query, -3, CMD_READONLY | CMD_NO_MULTI | CMD_BLOCKING, 0, 0, 0, PG,
     "mnemosyne 0.1", "Runs read-only SQL on a projection's read model, optionally after it has "
     "applied a position.", "depends on the SQL", NULL},
    {"projection.list", cmd_proj_list, 1, CMD_READONLY, 0, 0, 0, PG, "mnemosyne 0.1",
     "Lists the projections with their state and position.", "O(N)", NULL},
    {"projection.status", cmd_proj_status, 2, CMD_READONLY, 0, 0, 0, PG, "mnemosyne 0.1",
     "A projection's position, lag, rate, state and last error.", "O(lag) up to 10000", NULL},
    {"projection.pause", cmd_proj_pause, 2, CMD_WRITE | CMD_NO_MULTI, 0, 0, 0, PG, "mnemosyne 0.1",
     "Stops applying events (durably) until RESUME.", "O(1)", NULL},
    {"projection.resume", cmd_proj_resume, 2, CMD_WRITE | CMD_NO_MULTI, 0, 0, 0, PG, "mnemosyne 0.1",
     "Resumes a paused projection, or retries a failed one.", "O(1)", NULL},
    {"projection.reset", cmd_proj_reset, 2, CMD_WRITE | CMD_NO_MULTI, 0, 0, 0, PG, "mnemosyne 0.1",
     "Rebuilds a projection from the start in the background; switches when caught up.", "O(1)",
     NULL},
    {"es.fold", cmd_es_fold, -3, CMD_READONLY | CMD_NO_MULTI, 1, 1, 1, "stream", "mnemosyne 0.1",
     "Folds a stream's events through a Lua reducer: its state as of a version, as JSON.",
     "O(N) in the events folded", NULL},
    {"projection.drop", cmd_proj_drop, 2, CMD_WRITE | CMD_NO_MULTI, 0, 0, 0, PG, "mnemosyne 0.1",
     "Removes a projection, its definition and its read models.", "O(1)", NULL},
    CMD_END,
};
