/*
 * event.c — builds the Lua table of an event (see event.h). Every byte is
 * copied into the state: the table outlives the iterator's borrowed view.
 * The id comes lazily from the metatable's __index: from the current event
 * when the table is the current event's (the usual case, no I/O), else from
 * the store by the event's position (a table a script kept from an earlier
 * call).
 */
#include <lauxlib.h>

#include "lua/event.h"
#include "lua/ljson.h"

#define EVENT_META "mn.event"

struct lev_ctx {
    const mn_event_view *cur; /* the event handed to the script now, or NULL */
    mn_store *store;          /* for tables read after their call */
};

/* e.data / e.meta: a field list as a table, JSON decoded, else the bytes. */
static void push_payload(lua_State *L, const void *p, size_t n, int fields)
{
    if (fields) {
        size_t off = 0, fl, vl;
        const void *f, *v;
        lua_newtable(L);
        while (mn_fields_next(p, n, &off, &f, &fl, &v, &vl) == 1) {
            lua_pushlstring(L, f, fl);
            lua_pushlstring(L, v, vl);
            lua_rawset(L, -3);
        }
        return;
    }
    if (!ljson_push(L, p, n))
        lua_pushlstring(L, p ? p : "", n);
}

/* __index(e, k): only "id" is lazy. */
static int event_index(lua_State *L)
{
    lev_ctx *ctx = lua_touserdata(L, lua_upvalueindex(1));
    size_t kl;
    const char *k = lua_tolstring(L, 2, &kl);
    if (!k || kl != 2 || k[0] != 'i' || k[1] != 'd')
        return 0;
    lua_getfield(L, 1, "position");
    if (!lua_isinteger(L, -1))
        return 0;
    uint64_t pos = (uint64_t)lua_tointeger(L, -1);
    char id[37];
    if (ctx->cur && ctx->cur->position == pos) {
        mn_uuid_format(ctx->cur->id, id);
    } else {
        mn_iter *it = NULL;
        mn_event_view ev;
        int found = ctx->store &&
                    mn_read_view(ctx->store, MN_VIEW_ALL, NULL, 0, pos, pos, 1, 0, &it) == MN_OK &&
                    mn_iter_next(it, &ev) == 1 && ev.position == pos;
        if (found)
            mn_uuid_format(ev.id, id);
        mn_iter_free(it);
        if (!found)
            return 0;
    }
    lua_pushstring(L, id);
    lua_pushvalue(L, -1);
    lua_setfield(L, 1, "id"); /* kept: the next read is a plain field */
    return 1;
}

lev_ctx *lev_open(lua_State *L, mn_store *store)
{
    lev_ctx *ctx = lua_newuserdatauv(L, sizeof *ctx, 0);
    ctx->cur = NULL;
    ctx->store = store;
    luaL_newmetatable(L, EVENT_META);
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, event_index, 1); /* the closure keeps ctx alive */
    lua_setfield(L, -2, "__index");
    lua_pop(L, 2);
    return ctx;
}

void lev_set_current(lev_ctx *ctx, const mn_event_view *ev) { ctx->cur = ev; }

void lev_push_event(lua_State *L, lev_ctx *ctx, const mn_event_view *ev)
{
    (void)ctx;
    luaL_checkstack(L, 6, "event");
    lua_createtable(L, 0, 8);
    lua_pushlstring(L, ev->stream, ev->stream_len);
    lua_setfield(L, -2, "stream");
    lua_pushinteger(L, ev->version);
    lua_setfield(L, -2, "version");
    lua_pushinteger(L, (lua_Integer)ev->position);
    lua_setfield(L, -2, "position");
    lua_pushlstring(L, ev->type, ev->type_len);
    lua_setfield(L, -2, "type");
    push_payload(L, ev->data, ev->data_len, (ev->flags & MN_EVENT_FIELDS) != 0);
    lua_setfield(L, -2, "data");
    if (ev->meta) {
        push_payload(L, ev->meta, ev->meta_len, 0);
        lua_setfield(L, -2, "meta");
    }
    lua_pushinteger(L, (lua_Integer)(ev->timestamp_us / 1000));
    lua_setfield(L, -2, "timestamp");
    luaL_setmetatable(L, EVENT_META);
}
