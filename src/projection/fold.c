/*
 * fold.c — ES.FOLD: a stream's state as of a version, by folding its events
 * through a Lua reducer, returned as JSON (time travel, event sourcing's
 * "load the aggregate"). The reducer is a chunk returning
 *     { init = function() return {balance = 0} end,          -- optional
 *       handlers = { MoneyDeposited = function(s, e) s.balance = s.balance + e.data.amount end } }
 * A handler may change the state in place or return a new one (a non-nil
 * return replaces it). Types without a handler leave the state alone.
 *
 * Nothing is stored: a fresh sandbox per call, the same budgets as
 * projections (per handler call), the same event table (lua/event.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/event.h"
#include "lua/ljson.h"
#include "projection/internal.h"

typedef struct fold_ctx {
    int handlers_ref;       /* the handlers table */
    int init_ref;           /* init, or LUA_NOREF */
    int state_ref;          /* the state so far */
    const mn_event_view *ev;/* the event being folded */
    lev_ctx *lev;           /* event tables (lua/event.h) */
    mn_store *store;        /* where lazily read ids come from */
    buf *out;               /* the JSON */
} fold_ctx;

static int fold_init(lua_State *L)
{
    fold_ctx *fc = lua_touserdata(L, 1);
    if (fc->init_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, fc->init_ref);
        lua_call(L, 0, 1);
    } else {
        lua_pushnil(L);
    }
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    fc->state_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    fc->lev = lev_open(L, fc->store);
    return 0;
}

static int fold_step(lua_State *L)
{
    fold_ctx *fc = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, fc->handlers_ref);
    lua_pushlstring(L, fc->ev->type, fc->ev->type_len);
    lua_rawget(L, -2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, fc->state_ref);
    lev_push_event(L, fc->lev, fc->ev);
    lua_call(L, 2, 1);
    if (!lua_isnil(L, -1))
        lua_rawseti(L, LUA_REGISTRYINDEX, fc->state_ref);
    return 0;
}

static int fold_encode(lua_State *L)
{
    fold_ctx *fc = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, fc->state_ref);
    ljson_encode(L, -1, fc->out);
    return 0;
}

static int run(sbx *sb, lua_CFunction fn, fold_ctx *fc, char *err, size_t errcap)
{
    lua_State *L = sbx_state(sb);
    lua_pushcfunction(L, fn);
    lua_pushlightuserdata(L, fc);
    return sbx_call(sb, 1, 0, err, errcap);
}

static int has_handler(char **types, size_t n, const char *t, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(types[i]) == len && memcmp(types[i], t, len) == 0)
            return 1;
    return 0;
}

int proj_fold(mn_store *store, const char *stream, size_t stream_len, const char *src,
              size_t src_len, int64_t until, buf *out, int64_t *version_out, char *err,
              size_t errcap)
{
    sbx *sb = NULL;
    mn_iter *it = NULL;
    char **types = NULL;
    size_t ntypes = 0;
    char msg[PROJ_ERR_MAX];
    fold_ctx fc = {LUA_NOREF, LUA_NOREF, LUA_NOREF, NULL, NULL, store, out};
    mn_event_view ev;
    int rc = -1, r;
    *version_out = MN_NO_VERSION;
    if (sbx_new(0, 0, &sb, err, errcap) < 0)
        return -1;
    if (def_load(sb, src, src_len, "reducer", NULL, 0, &types, &ntypes, &fc.handlers_ref,
                 &fc.init_ref, msg, sizeof msg) < 0) {
        snprintf(err, errcap, "ERR bad reducer: %s", msg);
        goto out;
    }
    if (run(sb, fold_init, &fc, msg, sizeof msg) < 0) {
        snprintf(err, errcap, "ERR init failed: %s", msg);
        goto out;
    }
    r = mn_read_stream(store, stream, stream_len, 0, until >= 0 ? (uint64_t)until + 1 : 0, 0, &it);
    if (r != MN_OK && r != MN_ENOTFOUND) {
        snprintf(err, errcap, "ERR reading %.*s: %s (%s)", (int)(stream_len > 200 ? 200 : stream_len),
                 stream, mn_strerror(r), mn_errmsg());
        goto out;
    }
    while (it && (r = mn_iter_next(it, &ev)) == 1) {
        if (until >= 0 && ev.version > until)
            break;
        *version_out = ev.version;
        if (!has_handler(types, ntypes, ev.type, ev.type_len))
            continue;
        fc.ev = &ev;
        lev_set_current(fc.lev, &ev);
        r = run(sb, fold_step, &fc, msg, sizeof msg);
        lev_set_current(fc.lev, NULL); /* ev changes with the next step */
        if (r < 0) {
            snprintf(err, errcap, "ERR handler %.*s failed at version %lld: %s",
                     (int)(ev.type_len > 200 ? 200 : ev.type_len), ev.type, (long long)ev.version,
                     msg);
            goto out;
        }
    }
    if (it && r < 0) {
        snprintf(err, errcap, "ERR reading: %s (%s)", mn_strerror(r), mn_errmsg());
        goto out;
    }
    if (run(sb, fold_encode, &fc, msg, sizeof msg) < 0) {
        snprintf(err, errcap, "ERR the state cannot be returned as JSON: %s", msg);
        goto out;
    }
    rc = 0;
out:
    mn_iter_free(it);
    def_free_types(types, ntypes);
    sbx_free(sb);
    return rc;
}
