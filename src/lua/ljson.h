/*
 * ljson.h — JSON <-> Lua values, for the sandbox (json.decode/json.encode)
 * and for handing events to scripts (e.data, e.meta).
 *
 * Why our own bridge and not Debian's lua-cjson: lua-cjson 2.1 decodes every
 * number as a float (Lua 5.4 has integers: an amount of 10 would reach SQLite
 * as the REAL 10.0 and print as "10.0"), its buffers are malloc'ed outside
 * the state's allocator (so outside the sandbox's memory budget), and it is
 * a module we would have to dlopen from a path at run time. This bridge is
 * small, keeps integers integers, allocates only through the Lua state, and
 * has a nesting limit.
 *
 * Mapping: object -> table with string keys; array -> sequence 1..n; null ->
 * json.null (a light userdata, since nil cannot be stored in a table);
 * true/false -> booleans; numbers without '.', 'e' or 'E' that fit 64 bits
 * -> integers, others -> floats. Encoding: a table whose keys are exactly
 * 1..n (n >= 1) is an array, any other table an object (number keys written
 * as strings); an empty table is {}. NaN/Inf, functions and cycles are errors.
 *
 * Every function here may raise a Lua error (memory, budget): call them in
 * protected mode.
 */
#ifndef MN_LUA_LJSON_H
#define MN_LUA_LJSON_H

#include <stddef.h>

#include <lua.h>

#include "util/buf.h"

#define LJSON_MAX_DEPTH 200
#define LJSON_MAX_TEXT (64 << 20) /* longest text json.encode writes */

/* Pushes the value of JSON text p[0..n). 1, or 0 (nothing pushed) if the
 * text is not one valid JSON value. */
int ljson_push(lua_State *L, const char *p, size_t n);

/* Appends the JSON of the value at idx to out. Raises on what JSON cannot
 * hold (function, NaN, cycle/too deep). */
void ljson_encode(lua_State *L, int idx, buf *out);

/* Pushes json.null. */
void ljson_push_null(lua_State *L);
/* 1 if the value at idx is json.null. */
int ljson_is_null(lua_State *L, int idx);

/* Sets the global table `json` {decode, encode, null}. */
void ljson_open(lua_State *L);

#endif
