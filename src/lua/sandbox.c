/*
 * sandbox.c — the Lua sandbox (see sandbox.h for what it allows).
 *
 * Invariants:
 *  1. Lua runs only inside lua_pcall: state setup, chunk loading and calls
 *     go through protected C functions, so an error (memory included) never
 *     reaches lua_atpanic, which would abort the server.
 *  2. `killed` is set when a budget is exceeded and stays set until the
 *     outermost sbx_call returns; while it is set the count hook raises at
 *     every tick and the script's pcall re-raises, so the error unwinds all
 *     the way out of the script.
 *  3. The allocator never lets `used` exceed `mem_limit` by a growth; frees
 *     and shrinks always succeed (Lua requires that). A refused growth is
 *     retried by Lua after an emergency collection; a memory error that
 *     reaches a script's pcall means the live data does not fit, and kills
 *     the call like a spent instruction budget.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lua/sandbox.h"
#include "lua/ljson.h"

#define HOOK_EVERY 1000 /* instructions between two count-hook calls */

struct sbx {
    lua_State *L;           /* the state */
    size_t used;            /* bytes allocated by the state now */
    size_t mem_limit;       /* most bytes it may hold */
    uint64_t instr_limit;   /* instructions per call */
    uint64_t instr;         /* instructions counted in the current call */
    int killed;             /* 0, or which budget ran out (1 instr, 2 memory) */
    int depth;              /* nested sbx_call (0: not in a call) */
};

static void *sbx_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    sbx *s = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        s->used -= old;
        return NULL;
    }
    /* Refusing makes Lua collect garbage and ask again; only when that fails
     * too does the script get LUA_ERRMEM, which kills the call
     * (sandbox_pcall). So garbage never counts against the budget. */
    if (nsize > old && s->used - old + nsize > s->mem_limit)
        return NULL;
    void *p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    s->used = s->used - old + nsize;
    return p;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    sbx *s;
    lua_getallocf(L, (void **)&s);
    s->instr += HOOK_EVERY;
    if (s->instr > s->instr_limit && !s->killed)
        s->killed = 1;
    if (s->killed == 1)
        luaL_error(L, "instruction budget exceeded (%I instructions)",
                   (lua_Integer)s->instr_limit);
    if (s->killed == 2)
        luaL_error(L, "memory budget exceeded (%I bytes)", (lua_Integer)s->mem_limit);
}

/* pcall for scripts: as the base library's, except that a budget error is
 * not caught (invariant 2). */
static int sandbox_pcall(lua_State *L)
{
    sbx *s;
    lua_getallocf(L, (void **)&s);
    luaL_checkany(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    if (status == LUA_ERRMEM)
        s->killed = 2;
    if (s->killed)
        return lua_error(L);
    if (status != LUA_OK) {
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    return lua_gettop(L);
}

static void open_lib(lua_State *L, const char *name, lua_CFunction fn, int global)
{
    luaL_requiref(L, name, fn, global);
    lua_pop(L, 1);
}

/* Runs protected (invariant 1): opens the allowed libraries, strips the rest. */
static int setup(lua_State *L)
{
    open_lib(L, LUA_GNAME, luaopen_base, 1);
    open_lib(L, LUA_STRLIBNAME, luaopen_string, 1);
    open_lib(L, LUA_TABLIBNAME, luaopen_table, 1);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math, 1);
    open_lib(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    static const char *const drop[] = {"dofile", "loadfile", "load", "require", "collectgarbage",
                                       "print", "xpcall", NULL};
    for (int i = 0; drop[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, drop[i]);
    }
    lua_pushcfunction(L, sandbox_pcall);
    lua_setglobal(L, "pcall");
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    /* math.random is fine (no I/O); its seed is per state */
    ljson_open(L);
    /* the registry's loaded-table keeps "_G" etc.; nothing else to reach */
    return 0;
}

static void set_err(char *err, size_t cap, const char *msg)
{
    if (err && cap)
        snprintf(err, cap, "%s", msg ? msg : "unknown error");
}

int sbx_new(size_t mem_limit, uint64_t instr_limit, sbx **out, char *err, size_t errcap)
{
    sbx *s = calloc(1, sizeof(*s));
    if (!s) {
        set_err(err, errcap, "out of memory");
        return -1;
    }
    s->mem_limit = mem_limit ? mem_limit : SBX_DEFAULT_MEM;
    s->instr_limit = instr_limit ? instr_limit : SBX_DEFAULT_INSTR;
    s->L = lua_newstate(sbx_alloc, s);
    if (!s->L) {
        set_err(err, errcap, "out of memory creating the Lua state");
        goto fail;
    }
    lua_pushcfunction(s->L, setup);
    if (lua_pcall(s->L, 0, 0, 0) != LUA_OK) {
        set_err(err, errcap, lua_tostring(s->L, -1));
        goto fail;
    }
    lua_sethook(s->L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    /* handlers make many short-lived tables (one event each): the
     * generational collector frees them young, at a fraction of the cost of
     * incremental sweeps */
    lua_gc(s->L, LUA_GCGEN, 0, 0);
    *out = s;
    return 0;
fail:
    sbx_free(s);
    return -1;
}

void sbx_free(sbx *s)
{
    if (!s)
        return;
    if (s->L)
        lua_close(s->L);
    free(s);
}

lua_State *sbx_state(sbx *s) { return s->L; }

size_t sbx_mem_used(const sbx *s) { return s->used; }

/* The message of a failed call: the budget's own words win over whatever
 * the script turned the error into. */
static void call_error(sbx *s, int rc, char *err, size_t errcap)
{
    /* lua_tostring would convert a number in place, which allocates: only
     * take strings (we are outside protected mode here) */
    const char *msg = lua_type(s->L, -1) == LUA_TSTRING ? lua_tostring(s->L, -1) : NULL;
    if (s->killed == 2 || rc == LUA_ERRMEM)
        snprintf(err, errcap, "memory budget exceeded (%llu bytes)",
                 (unsigned long long)s->mem_limit);
    else
        set_err(err, errcap, msg ? msg : "an error whose value is not a string");
    lua_pop(s->L, 1);
}

int sbx_call(sbx *s, int nargs, int nres, char *err, size_t errcap)
{
    if (s->depth++ == 0) {
        s->instr = 0;
        s->killed = 0;
    }
    int rc = lua_pcall(s->L, nargs, nres, 0);
    if (rc != LUA_OK)
        call_error(s, rc, err, errcap);
    if (--s->depth == 0) {
        s->killed = 0;
        if (rc != LUA_OK)
            lua_gc(s->L, LUA_GCCOLLECT);
    }
    return rc == LUA_OK ? 0 : -1;
}

int sbx_run_chunk(sbx *s, const char *src, size_t len, const char *name, char *err,
                  size_t errcap)
{
    /* "t": text only; loading can fail for memory too, and that is protected */
    int rc = luaL_loadbufferx(s->L, src, len, name, "t");
    if (rc != LUA_OK) {
        call_error(s, rc, err, errcap);
        return -1;
    }
    return sbx_call(s, 0, 1, err, errcap);
}
