/*
 * event.c — builds the Lua table of an event (see event.h). Every byte is
 * copied into the state: the table outlives the iterator's borrowed view.
 */
#include <lauxlib.h>

#include "lua/event.h"
#include "lua/ljson.h"

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

void lev_push_event(lua_State *L, const mn_event_view *ev)
{
    luaL_checkstack(L, 6, "event");
    lua_createtable(L, 0, 8);
    lua_pushlstring(L, ev->stream, ev->stream_len);
    lua_setfield(L, -2, "stream");
    lua_pushinteger(L, ev->version);
    lua_setfield(L, -2, "version");
    lua_pushinteger(L, (lua_Integer)ev->position);
    lua_setfield(L, -2, "position");
    char id[37];
    mn_uuid_format(ev->id, id);
    lua_pushstring(L, id);
    lua_setfield(L, -2, "id");
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
}
