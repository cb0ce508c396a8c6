/*
 * runner.c — the thread that builds one generation of a read model: it
 * reads the source from the checkpoint on, calls the handlers, and commits
 * many events per SQLite transaction together with the new checkpoint.
 *
 * Invariants:
 *  1. Exactly-once effect: a batch's handler changes and its checkpoint are
 *     one transaction (pdb.c, invariant 1). A failed handler rolls the whole
 *     batch back; the events before the failing one are then applied again
 *     in a transaction of their own, so the checkpoint ends right before the
 *     failing event and STATUS names it.
 *  2. next_pos only grows, and every source event at a position below it
 *     has been applied: a batch reads the source up to the store's end as
 *     seen before the batch (`end`), and only when the batch drained that
 *     range does next_pos jump to `end`; otherwise it is one past the last
 *     event applied. PROJECTION.QUERY AFTER p waits for next_pos > p.
 *  3. The thread never touches the network: it learns of new events by
 *     mn_wait (with a short timeout, to see stop/pause requests) and reports
 *     progress through reg->on_progress.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "lua/event.h"
#include "projection/internal.h"
#include "util/clock.h"

#define WAIT_MS 100

static void set_error(proj_inst *in, const char *msg, uint64_t pos)
{
    pthread_mutex_lock(&in->mu);
    snprintf(in->err, sizeof in->err, "%s", msg);
    in->err_pos = pos;
    atomic_store(&in->state, PROJ_FAILED);
    pthread_mutex_unlock(&in->mu);
    if (in->reg->on_progress)
        in->reg->on_progress(in->reg->ud); /* waiting queries learn it failed */
}

static int handled(const proj_inst *in, const char *type, size_t len)
{
    for (size_t i = 0; i < in->ntypes; i++)
        if (strlen(in->types[i]) == len && memcmp(in->types[i], type, len) == 0)
            return 1;
    return 0;
}

/* Protected (sbx_call): handlers[e.type](db, e). */
static int apply_one(lua_State *L)
{
    proj_inst *in = lua_touserdata(L, 1);
    const mn_event_view *ev = lua_touserdata(L, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, in->handlers_ref);
    lua_pushlstring(L, ev->type, ev->type_len);
    lua_rawget(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, in->db_ref);
    lev_push_event(L, in->lev, ev);
    lua_call(L, 2, 0);
    return 0;
}

/* Protected: init(db). */
static int call_init(lua_State *L)
{
    proj_inst *in = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, in->init_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, in->db_ref);
    lua_call(L, 1, 0);
    return 0;
}

/* Runs a protected function with in (and ev) as arguments under the Lua
 * budgets; the caller has set the SQL deadline (in->sql_deadline_ms). */
static int call_user(proj_inst *in, lua_CFunction fn, const mn_event_view *ev, char *err,
                     size_t errcap)
{
    lua_State *L = sbx_state(in->sb);
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, in);
    lua_pushlightuserdata(L, (void *)ev);
    in->in_handler = 1;
    if (in->lev)
        lev_set_current(in->lev, ev);
    int rc = sbx_call(in->sb, 2, 0, err, errcap);
    if (in->lev)
        lev_set_current(in->lev, NULL); /* ev is gone after this call */
    in->in_handler = 0;
    return rc;
}

static int open_source(proj_inst *in, uint64_t end, size_t limit, mn_iter **it)
{
    mn_store *st = in->reg->store;
    int rc;
    switch (in->src_kind) {
    case SRC_STREAM:
        rc = mn_read_stream(st, in->key, in->key_len, atomic_load(&in->next_version), limit, 0, it);
        break;
    case SRC_ALL:
        rc = mn_read_view(st, MN_VIEW_ALL, NULL, 0, atomic_load(&in->next_pos), end - 1, limit, 0, it);
        break;
    default:
        rc = mn_read_view(st, in->src_kind == SRC_CATEGORY ? MN_VIEW_CATEGORY : MN_VIEW_TYPE,
                          in->key, in->key_len, atomic_load(&in->next_pos), end - 1, limit, 0, it);
    }
    if (rc == MN_ENOTFOUND || rc == MN_EDELETED) {
        *it = NULL; /* a stream not written yet, or gone: nothing to read */
        return MN_OK;
    }
    return rc;
}

/* One transaction: up to `limit` events of the source below `end`.
 * Returns 1 if the range was drained, 0 if more remains, -1 on failure
 * (the projection is failed). With upto != 0 (the replay before a failing
 * event at upto, invariant 1) exactly `limit` events (maybe 0) are applied
 * and the checkpoint is set to upto: nothing of the source lies between. */
static int apply_batch(proj_inst *in, uint64_t end, size_t limit, uint64_t upto)
{
    char err[PROJ_ERR_MAX], msg[PROJ_ERR_MAX + 600];
    mn_iter *it = NULL;
    mn_event_view ev;
    size_t n = 0;
    uint64_t next = atomic_load(&in->next_pos), events = atomic_load(&in->events);
    int64_t next_version = atomic_load(&in->next_version);
    int rc = limit ? open_source(in, end, limit, &it) : MN_OK, drained = 0;
    int64_t deadline = (int64_t)clock_mono_ms() + PROJ_BATCH_MS;
    /* one clock read per batch, not per event: handler SQL may run until
     * PROJ_HANDLER_MS past the batch's start */
    in->sql_deadline_ms = deadline - PROJ_BATCH_MS + PROJ_HANDLER_MS;
    if (rc != MN_OK) {
        snprintf(msg, sizeof msg, "reading %s: %s (%s)", in->source, mn_strerror(rc), mn_errmsg());
        set_error(in, msg, next);
        return -1;
    }
    if (pdb_exec_simple(in, "BEGIN", err, sizeof err) < 0)
        goto fail_plain;
    while (it && (rc = mn_iter_next(it, &ev)) == 1) {
        if (handled(in, ev.type, ev.type_len) && call_user(in, apply_one, &ev, err, sizeof err) < 0) {
            snprintf(msg, sizeof msg, "handler %.*s failed at position %llu (stream %.*s, version "
                     "%lld): %s", (int)(ev.type_len > 200 ? 200 : ev.type_len), ev.type,
                     (unsigned long long)ev.position, (int)(ev.stream_len > 200 ? 200 : ev.stream_len),
                     ev.stream, (long long)ev.version, err);
            uint64_t pos = ev.position;
            pdb_exec_simple(in, "ROLLBACK", err, sizeof err);
            mn_iter_free(it);
            /* invariant 1: keep what came before the failing event */
            if (apply_batch(in, end, n, pos) < 0)
                return -1;
            set_error(in, msg, pos);
            return -1;
        }
        n++;
        events++;
        next = ev.position + 1;
        next_version = ev.version + 1;
        if (n >= limit || ((n & 63) == 0 && (int64_t)clock_mono_ms() > deadline))
            break;
    }
    if (it && rc < 0) {
        snprintf(msg, sizeof msg, "reading %s: %s (%s)", in->source, mn_strerror(rc), mn_errmsg());
        pdb_exec_simple(in, "ROLLBACK", err, sizeof err);
        mn_iter_free(it);
        set_error(in, msg, next);
        return -1;
    }
    mn_iter_free(it);
    drained = n < limit && (rc == 0 || !it);
    if (upto) {
        next = upto;
        drained = 0;
    } else if (drained && next < end) {
        next = end; /* invariant 2 */
    }
    if (pdb_save_checkpoint(in, next, next_version, events, err, sizeof err) < 0 ||
        pdb_exec_simple(in, "COMMIT", err, sizeof err) < 0) {
        char e2[64];
        pdb_exec_simple(in, "ROLLBACK", e2, sizeof e2);
        goto fail_plain;
    }
    atomic_store(&in->next_version, next_version);
    atomic_store(&in->events, events);
    atomic_store(&in->next_pos, next);
    return drained;
fail_plain:
    set_error(in, err, next);
    return -1;
}

/* Protected: the `db` object, kept in the registry, and event tables. */
static int make_db(lua_State *L)
{
    proj_inst *in = lua_touserdata(L, 1);
    pdb_push_lua(in);
    in->db_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    in->lev = lev_open(L, in->reg->store);
    return 0;
}

/* Loads the definition, opens the database, runs init on a new one. */
static int setup(proj_inst *in)
{
    char err[PROJ_ERR_MAX], msg[PROJ_ERR_MAX + 64];
    char source[sizeof in->source];
    if (sbx_new(0, 0, &in->sb, err, sizeof err) < 0 ||
        def_load(in->sb, in->src, in->src_len, in->p->name, source, sizeof source, &in->types,
                 &in->ntypes, &in->handlers_ref, &in->init_ref, err, sizeof err) < 0)
        goto fail;
    if (call_user(in, make_db, NULL, err, sizeof err) < 0 || pdb_open(in, err, sizeof err) < 0)
        goto fail;
    int ck = pdb_load_checkpoint(in, err, sizeof err);
    if (ck < 0)
        goto fail;
    if (ck == 1) {
        if (pdb_exec_simple(in, "BEGIN", err, sizeof err) < 0)
            goto fail;
        in->sql_deadline_ms = (int64_t)clock_mono_ms() + PROJ_HANDLER_MS;
        if (in->init_ref != LUA_NOREF && call_user(in, call_init, NULL, err, sizeof err) < 0) {
            snprintf(msg, sizeof msg, "init failed: %s", err);
            pdb_exec_simple(in, "ROLLBACK", err, sizeof err);
            set_error(in, msg, 0);
            return -1;
        }
        if (pdb_save_checkpoint(in, 0, 0, 0, err, sizeof err) < 0 ||
            pdb_exec_simple(in, "COMMIT", err, sizeof err) < 0)
            goto fail;
    }
    return 0;
fail:
    set_error(in, err, 0);
    return -1;
}

static void update_rate(proj_inst *in, int64_t *win_start, uint64_t *win_events)
{
    int64_t now = (int64_t)clock_mono_ms();
    if (now - *win_start < 1000)
        return;
    uint64_t ev = atomic_load(&in->events);
    atomic_store(&in->rate_milli, (ev - *win_events) * 1000000 / (uint64_t)(now - *win_start));
    *win_start = now;
    *win_events = ev;
}

/* Waits while paused or failed; 1 when asked to stop. */
static int hold(proj_inst *in)
{
    pthread_mutex_lock(&in->mu);
    for (;;) {
        if (in->stop)
            break;
        if (in->want_pause) {
            if (atomic_load(&in->state) != PROJ_FAILED)
                atomic_store(&in->state, PROJ_PAUSED);
        } else if (atomic_load(&in->state) == PROJ_FAILED) {
            if (in->retry) {
                in->retry = 0;
                in->err[0] = '\0';
                atomic_store(&in->state, PROJ_RUNNING);
                break;
            }
        } else {
            atomic_store(&in->state, PROJ_RUNNING);
            break;
        }
        pthread_cond_wait(&in->cv, &in->mu);
    }
    int stop = in->stop;
    pthread_mutex_unlock(&in->mu);
    return stop;
}

static void *runner_main(void *arg)
{
    proj_inst *in = arg;
    int64_t win_start = (int64_t)clock_mono_ms();
    uint64_t win_events = 0;
    int ok = setup(in) == 0;
    pthread_mutex_lock(&in->mu);
    in->ready = 1;
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
    win_events = atomic_load(&in->events);
    while (!hold(in)) {
        if (!ok) {
            /* RESUME after a failed setup: try it again */
            pdb_close(in);
            sbx_free(in->sb);
            in->sb = NULL;
            in->lev = NULL;
            def_free_types(in->types, in->ntypes);
            in->types = NULL;
            in->ntypes = 0;
            ok = setup(in) == 0;
            continue;
        }
        mn_store_info si;
        mn_store_info_get(in->reg->store, &si);
        int drained = 1;
        if (atomic_load(&in->next_pos) < si.end_position) {
            drained = apply_batch(in, si.end_position, PROJ_BATCH_EVENTS, 0);
            if (drained >= 0 && in->reg->on_progress)
                in->reg->on_progress(in->reg->ud);
        }
        update_rate(in, &win_start, &win_events);
        if (drained == 1) {
            if (!atomic_exchange(&in->caught_up, 1))
                registry_switch(in); /* a next generation takes over now */
            if (mn_wait(in->reg->store, si.end_position, WAIT_MS) == MN_ECLOSED)
                break;
        }
    }
    atomic_store(&in->state, PROJ_STOPPED);
    pdb_close(in);
    sbx_free(in->sb);
    in->sb = NULL;
    in->lev = NULL;
    return NULL;
}

int runner_start(proj_inst *in, char *err, size_t errcap)
{
    if (pthread_create(&in->th, NULL, runner_main, in) != 0) {
        snprintf(err, errcap, "cannot start the projection thread");
        return -1;
    }
    in->started = 1;
    return 0;
}

void runner_stop(proj_inst *in)
{
    if (!in || !in->started)
        return;
    pthread_mutex_lock(&in->mu);
    in->stop = 1;
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
    pthread_join(in->th, NULL);
    in->started = 0;
}
