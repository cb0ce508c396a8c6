/*
 * definition.c — a saga definition: the Lua chunk, checked into a C
 * description (saga_def), and the calls into its functions (id, data,
 * on_ok) under the sandbox's budgets.
 *
 * Invariants:
 *  1. Lua runs only through sbx_call/sbx_run_chunk (protected): even reading
 *     the definition table is a protected C function, so a memory error
 *     never reaches lua_atpanic.
 *  2. The table is read with raw accesses only: a definition's metatables
 *     cannot run code while we parse it.
 *  3. Unknown keys are errors: a misspelt `timout_ms` must not silently
 *     mean "no timeout".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/ljson.h"
#include "saga/internal.h"

int sdef_valid_name(const char *name, size_t len)
{
    if (len == 0 || len > SAGA_MAX_NAME)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return 1;
}

/* ---- parsing the definition table (protected; raises with the message) ---- */

static char *dup_field(lua_State *L, const char *what)
{
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (n == 0 || n > MN_MAX_TYPE_LEN || memchr(s, '\0', n))
        luaL_error(L, "%s must be a string of 1..%d bytes", what, (int)MN_MAX_TYPE_LEN);
    char *d = malloc(n + 1);
    if (!d)
        luaL_error(L, "out of memory");
    memcpy(d, s, n + 1);
    return d;
}

/* Raw t[key] pushed; its Lua type. */
static int rawfield(lua_State *L, int t, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, t < 0 ? t - 1 : t);
}

/* Every string key of the table at t must be in allowed (invariant 3). */
static void check_keys(lua_State *L, int t, const char *const *allowed, const char *what)
{
    t = lua_absindex(L, t);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int ok = 0;
        for (int i = 0; k && allowed[i]; i++)
            if (!strcmp(k, allowed[i]))
                ok = 1;
        if (!ok) {
            if (k)
                luaL_error(L, "%s has an unknown key '%s'", what, k);
            luaL_error(L, "%s has a key that is not a name", what);
        }
    }
}

static char *req_string(lua_State *L, int t, const char *key, const char *what)
{
    char path[160];
    snprintf(path, sizeof path, "%s.%s", what, key);
    if (rawfield(L, t, key) != LUA_TSTRING)
        luaL_error(L, "%s must be a string", path);
    char *s = dup_field(L, path);
    lua_pop(L, 1);
    return s;
}

static int opt_function(lua_State *L, int t, const char *key, const char *what)
{
    int ty = rawfield(L, t, key);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return LUA_NOREF;
    }
    if (ty != LUA_TFUNCTION)
        luaL_error(L, "%s.%s must be a function", what, key);
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

static uint64_t opt_uint(lua_State *L, int t, const char *key, const char *what, uint64_t max)
{
    int ty = rawfield(L, t, key);
    uint64_t v = 0;
    if (ty != LUA_TNIL) {
        int isint;
        lua_Integer x = lua_tointegerx(L, -1, &isint);
        if (ty != LUA_TNUMBER || !isint || x < 0 || (uint64_t)x > max)
            luaL_error(L, "%s.%s must be an integer 0..%I", what, key, (lua_Integer)max);
        v = (uint64_t)x;
    }
    lua_pop(L, 1);
    return v;
}

static void parse_target(lua_State *L, int t, const char *key, saga_target *out, const char *what)
{
    static const char *const keys[] = {"stream", "type", "data", NULL};
    char path[120];
    snprintf(path, sizeof path, "%s.%s", what, key);
    if (rawfield(L, t, key) != LUA_TTABLE)
        luaL_error(L, "%s must be a table {stream = ..., type = ...}", path);
    int tt = lua_gettop(L);
    check_keys(L, tt, keys, path);
    out->stream = req_string(L, tt, "stream", path);
    if (out->stream[0] == '$')
        luaL_error(L, "%s.stream: names starting with '$' are read-only virtual streams", path);
    if (strlen(out->stream) > MN_MAX_STREAM_NAME)
        luaL_error(L, "%s.stream must be at most %d bytes", path, (int)MN_MAX_STREAM_NAME);
    out->type = req_string(L, tt, "type", path);
    out->data_ref = opt_function(L, tt, "data", path);
    lua_pop(L, 1);
}

static void parse_step(lua_State *L, int t, int i, saga_step *st, saga_def *d)
{
    static const char *const keys[] = {"name", "send", "ok", "fail", "compensate", "timeout_ms",
                                       "retries", "backoff_ms", "data", "on_ok", NULL};
    char what[40];
    snprintf(what, sizeof what, "steps[%d]", i + 1);
    check_keys(L, t, keys, what);
    st->send.data_ref = st->comp.data_ref = st->on_ok_ref = LUA_NOREF;
    st->name = req_string(L, t, "name", what);
    if (!sdef_valid_name(st->name, strlen(st->name)))
        luaL_error(L, "%s.name must be 1..%d characters of [A-Za-z0-9_.:]", what, SAGA_MAX_NAME);
    for (int j = 0; j < i; j++)
        if (!strcmp(d->steps[j].name, st->name))
            luaL_error(L, "%s.name '%s' is used twice", what, st->name);
    parse_target(L, t, "send", &st->send, what);
    /* `data` may sit on the step (as the issue writes it) or in `send` */
    int step_data = opt_function(L, t, "data", what);
    if (step_data != LUA_NOREF) {
        if (st->send.data_ref != LUA_NOREF)
            luaL_error(L, "%s has both data and send.data", what);
        st->send.data_ref = step_data;
    }
    st->ok = req_string(L, t, "ok", what);
    if (rawfield(L, t, "fail") != LUA_TNIL) {
        lua_pop(L, 1);
        st->fail = req_string(L, t, "fail", what);
        if (!strcmp(st->fail, st->ok))
            luaL_error(L, "%s: ok and fail must be different types", what);
    } else {
        lua_pop(L, 1);
    }
    if (rawfield(L, t, "compensate") != LUA_TNIL) {
        lua_pop(L, 1);
        parse_target(L, t, "compensate", &st->comp, what);
        st->has_comp = 1;
    } else {
        lua_pop(L, 1);
    }
    st->timeout_ms = opt_uint(L, t, "timeout_ms", what, 7ull * 24 * 3600 * 1000);
    st->retries = (int)opt_uint(L, t, "retries", what, 100);
    st->backoff_ms = opt_uint(L, t, "backoff_ms", what, 3600 * 1000);
    if (st->retries && !st->timeout_ms)
        luaL_error(L, "%s: retries need a timeout_ms (a resend happens after a timeout)", what);
    st->on_ok_ref = opt_function(L, t, "on_ok", what);
}

static void parse_trigger(lua_State *L, int t, saga_def *d)
{
    static const char *const keys[] = {"stream", NULL};
    if (rawfield(L, t, "trigger") != LUA_TTABLE)
        luaL_error(L, "trigger must be a table {stream = ...}");
    int tt = lua_gettop(L);
    check_keys(L, tt, keys, "trigger");
    d->trigger = req_string(L, tt, "stream", "trigger");
    lua_pop(L, 1);
    const char *s = d->trigger;
    size_t n = strlen(s);
    if (n > MN_MAX_STREAM_NAME)
        luaL_error(L, "trigger.stream must be at most %d bytes", (int)MN_MAX_STREAM_NAME);
    d->trig_kind = SAGA_TRIG_STREAM;
    d->trig_key = s;
    if (s[0] == '$') {
        if (!strcmp(s, "$all")) {
            d->trig_kind = SAGA_TRIG_ALL;
            d->trig_key = "";
        } else if (!strncmp(s, "$ce-", 4) && n > 4) {
            d->trig_kind = SAGA_TRIG_CATEGORY;
            d->trig_key = s + 4;
        } else if (!strncmp(s, "$et-", 4) && n > 4) {
            d->trig_kind = SAGA_TRIG_TYPE;
            d->trig_key = s + 4;
        } else {
            luaL_error(L, "trigger.stream '%s' is no stream: '$' names are $all, "
                          "$ce-<category>, $et-<type>", s);
        }
    }
}

/* lua: parse(def_ud, table) */
static int parse_definition(lua_State *L)
{
    static const char *const keys[] = {"trigger", "id", "steps", NULL};
    saga_def *d = lua_touserdata(L, 1);
    if (!lua_istable(L, 2))
        return luaL_error(L, "the definition must return a table {trigger, id, steps}");
    check_keys(L, 2, keys, "the definition");
    parse_trigger(L, 2, d);
    if (rawfield(L, 2, "id") != LUA_TFUNCTION)
        return luaL_error(L, "id must be a function(e) returning the saga id");
    d->id_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (rawfield(L, 2, "steps") != LUA_TTABLE)
        return luaL_error(L, "steps must be a non-empty array of steps");
    int st = lua_gettop(L);
    lua_Integer n = (lua_Integer)lua_rawlen(L, st);
    if (n < 1 || n > 100)
        return luaL_error(L, "steps must be an array of 1..100 steps");
    lua_pushnil(L);
    while (lua_next(L, st)) {
        lua_pop(L, 1);
        int isint;
        lua_Integer k = lua_tointegerx(L, -1, &isint);
        if (lua_type(L, -1) != LUA_TNUMBER || !isint || k < 1 || k > n)
            return luaL_error(L, "steps must be an array (keys 1..n only)");
    }
    d->steps = calloc((size_t)n, sizeof(*d->steps));
    if (!d->steps)
        return luaL_error(L, "out of memory");
    for (lua_Integer i = 0; i < n; i++) {
        if (lua_rawgeti(L, st, i + 1) != LUA_TTABLE)
            return luaL_error(L, "steps[%d] must be a table", (int)(i + 1));
        d->nsteps = (int)i + 1; /* so sdef_free frees what parse_step filled */
        parse_step(L, lua_gettop(L), (int)i, &d->steps[i], d);
        lua_pop(L, 1);
    }
    return 0;
}

int sdef_load(const char *name, size_t name_len, const char *src, size_t src_len,
              saga_def **out, char *err, size_t errcap)
{
    char msg[SAGA_ERR_MAX];
    saga_def *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errcap, "ERR out of memory");
        return -1;
    }
    d->id_ref = LUA_NOREF;
    if (!sdef_valid_name(name, name_len)) {
        snprintf(err, errcap, "ERR saga name must be 1..%d characters of [A-Za-z0-9_.:]",
                 SAGA_MAX_NAME);
        goto fail;
    }
    memcpy(d->name, name, name_len);
    d->src = malloc(src_len + 1);
    if (!d->src) {
        snprintf(err, errcap, "ERR out of memory");
        goto fail;
    }
    memcpy(d->src, src, src_len);
    d->src[src_len] = '\0';
    d->src_len = src_len;
    if (sbx_new(SAGA_SBX_MEM, SAGA_SBX_INSTR, &d->sbx, msg, sizeof msg) < 0) {
        snprintf(err, errcap, "ERR %s", msg);
        goto fail;
    }
    char chunk[SAGA_MAX_NAME + 8];
    snprintf(chunk, sizeof chunk, "=%s", d->name);
    if (sbx_run_chunk(d->sbx, src, src_len, chunk, msg, sizeof msg) < 0) {
        snprintf(err, errcap, "ERR saga definition: %s", msg);
        goto fail;
    }
    lua_State *L = sbx_state(d->sbx);
    lua_pushcfunction(L, parse_definition);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, d);
    lua_insert(L, -2);
    if (sbx_call(d->sbx, 2, 0, msg, sizeof msg) < 0) {
        snprintf(err, errcap, "ERR saga definition: %s", msg);
        goto fail;
    }
    *out = d;
    return 0;
fail:
    sdef_free(d);
    return -1;
}

static void free_target(saga_target *t)
{
    free(t->stream);
    free(t->type);
}

void sdef_free(saga_def *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->nsteps; i++) {
        saga_step *st = &d->steps[i];
        free(st->name);
        free_target(&st->send);
        free_target(&st->comp);
        free(st->ok);
        free(st->fail);
    }
    free(d->steps);
    free(d->trigger);
    free(d->src);
    sbx_free(d->sbx);
    free(d);
}

/* ---- calling into the definition ---- */

/* Pushes data p[0..n) as a Lua value: JSON decoded, else the string. */
static void push_json_or_string(lua_State *L, const void *p, size_t n)
{
    if (!n || !ljson_push(L, p, n))
        lua_pushlstring(L, p, n);
}

static void push_fields(lua_State *L, const mn_event_view *e)
{
    const void *f, *v;
    size_t fl, vl, off = 0;
    lua_newtable(L);
    while (mn_fields_next(e->data, e->data_len, &off, &f, &fl, &v, &vl) == 1) {
        lua_pushlstring(L, f, fl);
        lua_pushlstring(L, v, vl);
        lua_rawset(L, -3);
    }
}

void sdef_push_event(lua_State *L, const mn_event_view *e)
{
    char uuid[37];
    mn_uuid_format(e->id, uuid);
    lua_createtable(L, 0, 8);
    lua_pushstring(L, uuid);
    lua_setfield(L, -2, "id");
    lua_pushlstring(L, e->stream, e->stream_len);
    lua_setfield(L, -2, "stream");
    lua_pushlstring(L, e->type, e->type_len);
    lua_setfield(L, -2, "type");
    if (e->flags & MN_EVENT_FIELDS)
        push_fields(L, e);
    else
        push_json_or_string(L, e->data, e->data_len);
    lua_setfield(L, -2, "data");
    if (e->meta && e->meta_len) {
        push_json_or_string(L, e->meta, e->meta_len);
        lua_setfield(L, -2, "meta");
    }
    lua_pushinteger(L, (lua_Integer)e->position);
    lua_setfield(L, -2, "position");
    lua_pushinteger(L, (lua_Integer)e->version);
    lua_setfield(L, -2, "version");
    lua_pushinteger(L, (lua_Integer)(e->timestamp_us / 1000));
    lua_setfield(L, -2, "timestamp");
}

typedef struct call_ctx {
    saga_def *d;
    int fn_ref;                /* the function to call */
    const mn_event_view *e;    /* id(e), on_ok(saga, e) */
    const char *id;            /* the saga's */
    size_t id_len;
    const char *step;
    const buf *sdata;          /* saga data JSON */
    int with_saga;             /* pass the saga table first */
    int want;                  /* 0: id (string/number), 1: data (any), 2: saga.data after */
    buf *out;
    int none;                  /* out: the result was nil/false */
} call_ctx;

static void push_saga(lua_State *L, call_ctx *x)
{
    lua_createtable(L, 0, 4);
    lua_pushlstring(L, x->id, x->id_len);
    lua_setfield(L, -2, "id");
    lua_pushstring(L, x->d->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, x->step ? x->step : "");
    lua_setfield(L, -2, "step");
    push_json_or_string(L, x->sdata->data, x->sdata->len);
    lua_setfield(L, -2, "data");
}

/* Encodes the value at idx into out: strings as they are, the rest as JSON. */
static void encode_value(lua_State *L, int idx, buf *out)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        buf_append(out, s, n);
    } else {
        ljson_encode(L, idx, out);
    }
}

/* Protected: calls the function with its arguments and converts the result. */
static int do_call(lua_State *L)
{
    call_ctx *x = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, x->fn_ref);
    int nargs = 0, saga_idx = 0;
    if (x->with_saga) {
        push_saga(L, x);
        saga_idx = lua_gettop(L);
        nargs++;
    }
    if (x->e) {
        sdef_push_event(L, x->e);
        nargs++;
    }
    if (saga_idx)
        lua_pushvalue(L, saga_idx); /* kept: on_ok changes saga.data in place */
    if (saga_idx)
        lua_insert(L, 2);
    lua_call(L, nargs, 1);
    int res = lua_gettop(L);
    if (x->want == 2) {
        /* saga data is always JSON (a string becomes a JSON string) */
        lua_getfield(L, 2, "data");
        ljson_encode(L, lua_gettop(L), x->out);
        return 0;
    }
    if (lua_isnil(L, res) || (lua_isboolean(L, res) && !lua_toboolean(L, res))) {
        x->none = 1;
        return 0;
    }
    if (x->want == 0) {
        if (lua_type(L, res) == LUA_TNUMBER) {
            if (lua_isinteger(L, res))
                buf_printf(x->out, "%lld", (long long)lua_tointeger(L, res));
            else
                return luaL_error(L, "id() returned a float; return a string or an integer");
        } else if (lua_type(L, res) == LUA_TSTRING) {
            encode_value(L, res, x->out);
        } else {
            return luaL_error(L, "id() must return a string, an integer or nil (got %s)",
                              luaL_typename(L, res));
        }
        return 0;
    }
    encode_value(L, res, x->out);
    return 0;
}

static int run_call(call_ctx *x, char *err, size_t errcap)
{
    char msg[SAGA_ERR_MAX];
    lua_State *L = sbx_state(x->d->sbx);
    buf_reset(x->out);
    lua_pushcfunction(L, do_call);
    lua_pushlightuserdata(L, x);
    if (sbx_call(x->d->sbx, 1, 0, msg, sizeof msg) < 0) {
        snprintf(err, errcap, "%s", msg);
        return -1;
    }
    if (x->out->oom) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    return 0;
}

int sdef_call_id(saga_def *d, const mn_event_view *e, buf *out, char *err, size_t errcap)
{
    call_ctx x = {.d = d, .fn_ref = d->id_ref, .e = e, .want = 0, .out = out};
    if (run_call(&x, err, errcap) < 0)
        return -1;
    return x.none ? 0 : 1;
}

int sdef_command_data(saga_def *d, const saga_target *t, const char *id, size_t id_len,
                      const char *step, const buf *sdata, buf *out, char *err, size_t errcap)
{
    if (t->data_ref == LUA_NOREF) {
        buf_reset(out);
        buf_append(out, sdata->data ? sdata->data : "", sdata->len);
        return out->oom ? (snprintf(err, errcap, "out of memory"), -1) : 0;
    }
    call_ctx x = {.d = d, .fn_ref = t->data_ref, .id = id, .id_len = id_len, .step = step,
                  .sdata = sdata, .with_saga = 1, .want = 1, .out = out};
    if (run_call(&x, err, errcap) < 0)
        return -1;
    if (x.none) {
        buf_reset(out);
        buf_append(out, sdata->data ? sdata->data : "", sdata->len);
    }
    return 0;
}

int sdef_on_ok(saga_def *d, const saga_step *st, const char *id, size_t id_len,
               const buf *sdata, const mn_event_view *reply, buf *out, char *err, size_t errcap)
{
    if (st->on_ok_ref == LUA_NOREF) {
        buf_reset(out);
        buf_append(out, sdata->data ? sdata->data : "", sdata->len);
        return 0;
    }
    call_ctx x = {.d = d, .fn_ref = st->on_ok_ref, .e = reply, .id = id, .id_len = id_len,
                  .step = st->name, .sdata = sdata, .with_saga = 1, .want = 2, .out = out};
    return run_call(&x, err, errcap);
}
