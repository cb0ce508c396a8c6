/*
 * definition.c — a projection's definition: the Lua chunk that returns
 *     { source = "$ce-account", init = function(db) ... end,
 *       handlers = { EventType = function(db, e) ... end, ... } }
 * and the source names it may read from ("$all", "$ce-<category>",
 * "$et-<type>" or a stream name).
 *
 * The chunk runs once per load, in the sandbox; what it returns is checked
 * here so that PROJECTION.CREATE can refuse a bad definition with a clear
 * message before anything is stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "projection/internal.h"

int def_parse_source(const char *source, int *kind, const char **key, size_t *key_len)
{
    size_t n = strlen(source);
    if (n == 0 || n > MN_MAX_STREAM_NAME)
        return -1;
    if (strcmp(source, "$all") == 0) {
        *kind = SRC_ALL;
        *key = source;
        *key_len = 0;
        return 0;
    }
    if (strncmp(source, "$ce-", 4) == 0 || strncmp(source, "$et-", 4) == 0) {
        if (n == 4)
            return -1;
        *kind = source[1] == 'c' ? SRC_CATEGORY : SRC_TYPE;
        *key = source + 4;
        *key_len = n - 4;
        return 0;
    }
    if (source[0] == '$')
        return -1; /* no other virtual streams */
    *kind = SRC_STREAM;
    *key = source;
    *key_len = n;
    return 0;
}

void def_free_types(char **types, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(types[i]);
    free(types);
}

/* Protected: checks the table on top and copies what the caller keeps. */
typedef struct load_ctx {
    char *source_out;
    size_t cap;
    char **types;
    size_t ntypes;
    int handlers_ref;
    int init_ref;
} load_ctx;

static int check_table(lua_State *L)
{
    load_ctx *lc = lua_touserdata(L, 2);
    if (!lua_istable(L, 1))
        return luaL_error(L, "the definition must return a table {%sinit, handlers}, not a %s",
                          lc->source_out ? "source, " : "", luaL_typename(L, 1));
    if (lc->source_out) {
        lua_getfield(L, 1, "source");
        if (lua_type(L, -1) != LUA_TSTRING)
            return luaL_error(L, "source must be a string (\"$all\", \"$ce-<category>\", "
                                 "\"$et-<type>\" or a stream name)");
        size_t sl;
        const char *source = lua_tolstring(L, -1, &sl);
        int kind;
        const char *key;
        size_t kl;
        if (strlen(source) != sl || def_parse_source(source, &kind, &key, &kl) < 0)
            return luaL_error(L, "source '%s' is not \"$all\", \"$ce-<category>\", \"$et-<type>\" "
                                 "or a stream name", source);
        if (sl >= lc->cap)
            return luaL_error(L, "source too long");
        memcpy(lc->source_out, source, sl + 1);
        lua_pop(L, 1);
    }
    lua_getfield(L, 1, "init");
    if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
        return luaL_error(L, "init must be a function(db)");
    lua_getfield(L, 1, "handlers");
    if (!lua_istable(L, -1))
        return luaL_error(L, "handlers must be a table { EventType = function(db, e) ... end }");
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return luaL_error(L, "handlers: keys must be event type names");
        if (!lua_isfunction(L, -1))
            return luaL_error(L, "handlers.%s must be a function(db, e)", lua_tostring(L, -2));
        n++;
        lua_pop(L, 1);
    }
    char **types = calloc(n ? n : 1, sizeof(char *));
    if (!types)
        return luaL_error(L, "not enough memory");
    lc->types = types; /* freed by the caller whatever happens next */
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        size_t tl;
        const char *t = lua_tolstring(L, -2, &tl);
        char *copy = malloc(tl + 1);
        if (!copy)
            return luaL_error(L, "not enough memory");
        memcpy(copy, t, tl + 1);
        types[lc->ntypes++] = copy;
        lua_pop(L, 1);
    }
    lc->handlers_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops handlers */
    lc->init_ref = lua_isnil(L, -1) ? (lua_pop(L, 1), LUA_NOREF) : luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int def_load(sbx *sb, const char *src, size_t len, const char *name, char *source_out,
             size_t cap, char ***types, size_t *ntypes, int *handlers_ref, int *init_ref,
             char *err, size_t errcap)
{
    lua_State *L = sbx_state(sb);
    char chunk[PROJ_MAX_NAME + 16];
    snprintf(chunk, sizeof chunk, "=%s", name);
    load_ctx lc = {source_out, cap, NULL, 0, LUA_NOREF, LUA_NOREF};
    if (sbx_run_chunk(sb, src, len, chunk, err, errcap) < 0)
        goto fail;
    /* the result is on the stack: check_table(result, &lc) */
    lua_pushcfunction(L, check_table);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, &lc);
    if (sbx_call(sb, 2, 0, err, errcap) < 0)
        goto fail;
    *types = lc.types;
    *ntypes = lc.ntypes;
    *handlers_ref = lc.handlers_ref;
    *init_ref = lc.init_ref;
    return 0;
fail:
    def_free_types(lc.types, lc.ntypes);
    return -1;
}

int def_check(const char *src, size_t len, const char *name, char *source_out, size_t cap,
              char *err, size_t errcap)
{
    sbx *sb = NULL;
    char **types = NULL;
    size_t ntypes = 0;
    int h, i, rc = -1;
    if (sbx_new(0, 0, &sb, err, errcap) < 0)
        return -1;
    if (def_load(sb, src, len, name, source_out, cap, &types, &ntypes, &h, &i, err, errcap) < 0)
        goto out;
    def_free_types(types, ntypes);
    rc = 0;
out:
    sbx_free(sb);
    return rc;
}
