/*
 * event.h — an event as scripts see it: the table handed to projection
 * handlers, ES.FOLD reducers (and sagas):
 *   { stream, version, position, id, type, data, meta, timestamp }
 * data (and meta) are the decoded JSON when they are JSON, an XADD entry's
 * field/value pairs as a table, else the raw bytes as a string; meta is
 * absent when the event has none; timestamp is in milliseconds.
 */
#ifndef MN_LUA_EVENT_H
#define MN_LUA_EVENT_H

#include <lua.h>

#include "mnemosyne.h"

/* Pushes the table of ev. May raise (memory): call in protected mode. */
void lev_push_event(lua_State *L, const mn_event_view *ev);

#endif
