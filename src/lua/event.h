/*
 * event.h — an event as scripts see it: the table handed to projection
 * handlers, ES.FOLD reducers (and sagas):
 *   { stream, version, position, id, type, data, meta, timestamp }
 * data (and meta) are the decoded JSON when they are JSON, an XADD entry's
 * field/value pairs as a table, else the raw bytes as a string; meta is
 * absent when the event has none; timestamp is in milliseconds.
 *
 * `id` is made when first read (then kept in the table): formatting a UUID
 * into a new string for every event cost a fifth of a projection's time,
 * and most handlers never look at it. So pairs(e) and json.encode(e) show
 * it only once it has been read.
 */
#ifndef MN_LUA_EVENT_H
#define MN_LUA_EVENT_H

#include <lua.h>

#include "mnemosyne.h"

typedef struct lev_ctx lev_ctx; /* per Lua state; lives as long as the state */

/* Sets up event tables in L (their shared metatable); store is where an
 * event's id is looked up when its table is read after its call. Call in
 * protected mode (allocates); returns the state's context. */
lev_ctx *lev_open(lua_State *L, mn_store *store);

/* The event being handed to a script now (NULL after the call): its id is
 * taken from here without reading the store. */
void lev_set_current(lev_ctx *ctx, const mn_event_view *ev);

/* Pushes the table of ev. May raise (memory): call in protected mode. */
void lev_push_event(lua_State *L, lev_ctx *ctx, const mn_event_view *ev);

#endif
