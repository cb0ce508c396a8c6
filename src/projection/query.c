/*
 * query.c — PROJECTION.QUERY: one read-only SQL statement on a projection's
 * current read model.
 *
 * Read-only twice over: the connection is opened SQLITE_OPEN_READONLY, and a
 * statement sqlite3_stmt_readonly() does not vouch for is refused before it
 * runs (so the client gets "only read-only SQL", not a low-level error).
 * ATTACH is refused too: a query sees this read model and nothing else.
 *
 * In WAL mode a reader sees the last committed transaction, and the runner
 * publishes its position only after COMMIT: a query started after AFTER p
 * was satisfied sees every event up to p.
 *
 * Runs on whatever thread calls it (the server's background worker), never
 * on the network thread: a query may take up to PROJ_QUERY_MS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "projection/internal.h"
#include "util/clock.h"

proj_inst *registry_acquire(proj_registry *reg, const char *name, size_t name_len);

static int deny_outside(void *ud, int action, const char *a, const char *b, const char *c,
                        const char *d)
{
    (void)ud; (void)a; (void)b; (void)c; (void)d;
    return action == SQLITE_ATTACH || action == SQLITE_DETACH ? SQLITE_DENY : SQLITE_OK;
}

static int past_deadline(void *ud) { return (int64_t)clock_mono_ms() > *(int64_t *)ud; }

void query_close(proj_inst *in)
{
    pthread_mutex_lock(&in->ro_mu);
    sqlite3_close(in->ro);
    in->ro = NULL;
    pthread_mutex_unlock(&in->ro_mu);
}

void proj_result_free(proj_result *r)
{
    if (!r || !r->v)
        return;
    for (size_t i = 0; i < r->rows * r->cols; i++)
        free(r->v[i].p);
    free(r->v);
    r->v = NULL;
    r->rows = r->cols = 0;
}

static int is_int(const char *s, size_t n, long long *out)
{
    char tmp[24];
    if (n == 0 || n >= sizeof tmp)
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    long long v = strtoll(tmp, &end, 10);
    if (*end || (tmp[0] == '0' && n > 1) || (tmp[0] == '-' && (n == 1 || tmp[1] == '0')) ||
        tmp[0] == '+' || tmp[0] == ' ')
        return 0;
    /* strtoll saturates: refuse what did not round-trip */
    char back[24];
    snprintf(back, sizeof back, "%lld", v);
    if (strcmp(back, tmp) != 0)
        return 0;
    *out = v;
    return 1;
}

/* One row's values appended to r (grown as needed). */
static int add_row(proj_result *r, size_t *cap, sqlite3_stmt *st, size_t *bytes)
{
    if (r->rows == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        pq_value *m = realloc(r->v, nc * r->cols * sizeof *m);
        if (!m)
            return -1;
        r->v = m;
        *cap = nc;
    }
    pq_value *row = r->v + r->rows * r->cols;
    memset(row, 0, r->cols * sizeof *row);
    r->rows++;
    for (size_t c = 0; c < r->cols; c++) {
        pq_value *v = &row[c];
        switch (sqlite3_column_type(st, (int)c)) {
        case SQLITE_INTEGER: v->type = PQ_INT; v->i = sqlite3_column_int64(st, (int)c); break;
        case SQLITE_FLOAT: v->type = PQ_REAL; v->d = sqlite3_column_double(st, (int)c); break;
        case SQLITE_NULL: v->type = PQ_NULL; break;
        default: {
            int blob = sqlite3_column_type(st, (int)c) == SQLITE_BLOB;
            const void *p = blob ? sqlite3_column_blob(st, (int)c) : sqlite3_column_text(st, (int)c);
            v->n = (size_t)sqlite3_column_bytes(st, (int)c);
            v->type = blob ? PQ_BLOB : PQ_TEXT;
            v->p = malloc(v->n + 1);
            if (!v->p)
                return -1;
            if (v->n)
                memcpy(v->p, p, v->n);
            v->p[v->n] = '\0';
        }
        }
        *bytes += v->n + 16;
    }
    return 0;
}

int proj_query(proj_registry *reg, const char *name, size_t name_len, const char *sql,
               size_t sql_len, const char *const *args, const size_t *arg_lens, size_t nargs,
               proj_result *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    proj_inst *in = registry_acquire(reg, name, name_len);
    sqlite3_stmt *st = NULL;
    int rc = -1;
    int64_t deadline = (int64_t)clock_mono_ms() + PROJ_QUERY_MS;
    if (!in) {
        snprintf(err, errcap, "NOPROJECTION no projection named '%.*s'", (int)name_len, name);
        return -1;
    }
    pthread_mutex_lock(&in->ro_mu);
    if (!in->ro) {
        int orc = sqlite3_open_v2(in->path, &in->ro, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
        if (orc != SQLITE_OK) {
            snprintf(err, errcap, "ERR the read model cannot be opened (not built yet?): %s",
                     in->ro ? sqlite3_errmsg(in->ro) : sqlite3_errstr(orc));
            sqlite3_close(in->ro);
            in->ro = NULL;
            goto out;
        }
        sqlite3_limit(in->ro, SQLITE_LIMIT_ATTACHED, 0);
        sqlite3_set_authorizer(in->ro, deny_outside, NULL);
        sqlite3_busy_timeout(in->ro, 2000);
    }
    sqlite3_progress_handler(in->ro, 10000, past_deadline, &deadline);
    const char *tail = NULL;
    if (sqlite3_prepare_v2(in->ro, sql, (int)sql_len, &st, &tail) != SQLITE_OK) {
        snprintf(err, errcap, "SQL error: %s", sqlite3_errmsg(in->ro));
        goto out;
    }
    if (!st) {
        snprintf(err, errcap, "SQL error: empty statement");
        goto out;
    }
    for (const char *t = tail; t && t < sql + sql_len; t++)
        if (*t != ' ' && *t != '\t' && *t != '\n' && *t != '\r' && *t != ';') {
            snprintf(err, errcap, "SQL error: one statement per query");
            goto out;
        }
    if (!sqlite3_stmt_readonly(st)) {
        snprintf(err, errcap, "READONLY PROJECTION.QUERY runs read-only SQL only; read models "
                 "change through their handlers");
        goto out;
    }
    if ((int)nargs != sqlite3_bind_parameter_count(st)) {
        snprintf(err, errcap, "ERR the statement has %d parameters, %zu arguments given",
                 sqlite3_bind_parameter_count(st), nargs);
        goto out;
    }
    for (size_t i = 0; i < nargs; i++) {
        long long v;
        /* strict integers as integers (LIMIT ? needs one), the rest as text:
         * a column's affinity converts either way for comparisons */
        if (is_int(args[i], arg_lens[i], &v))
            sqlite3_bind_int64(st, (int)i + 1, v);
        else
            sqlite3_bind_text(st, (int)i + 1, args[i], (int)arg_lens[i], SQLITE_STATIC);
    }
    out->cols = (size_t)sqlite3_column_count(st);
    size_t cap = 0, bytes = 0;
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->cols == 0)
            continue;
        if (add_row(out, &cap, st, &bytes) < 0) {
            snprintf(err, errcap, "OOM out of memory");
            goto out;
        }
        if (bytes > PROJ_QUERY_MAX_BYTES) {
            snprintf(err, errcap, "ERR the result is larger than %u bytes; narrow the query",
                     PROJ_QUERY_MAX_BYTES);
            goto out;
        }
    }
    if (s != SQLITE_DONE) {
        if (s == SQLITE_INTERRUPT)
            snprintf(err, errcap, "ERR the query ran longer than %d ms and was stopped",
                     PROJ_QUERY_MS);
        else
            snprintf(err, errcap, "SQL error: %s", sqlite3_errmsg(in->ro));
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    if (in->ro)
        sqlite3_progress_handler(in->ro, 0, NULL, NULL);
    pthread_mutex_unlock(&in->ro_mu);
    registry_unref(in);
    if (rc < 0)
        proj_result_free(out);
    return rc;
}
