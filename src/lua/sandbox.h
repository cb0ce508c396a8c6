/*
 * sandbox.h — a Lua 5.4 state that user code (projections, sagas, ES.FOLD
 * reducers) may run in without reaching the machine.
 *
 * What a sandbox has: the base library minus dofile/loadfile/load/require/
 * collectgarbage/print, and string (without string.dump), table, math, utf8,
 * plus `json` (json.decode, json.encode, json.null: see json.h). What it has
 * not: os, io, package, debug, coroutine, bytecode. Chunks are loaded as text
 * only ("t" mode), so hand-made bytecode never reaches the VM.
 *
 * Budgets. Every sbx_call gets `instr_limit` VM instructions (a count hook);
 * the whole state gets `mem_limit` bytes (its allocator refuses past it).
 * Either one exceeded *kills the call*: the error propagates through any
 * pcall inside the script (our pcall re-raises it), so a script cannot catch
 * its own budget error and spin on. After the call returns, the state is
 * usable again (the memory of the failed call is garbage and is collected).
 *
 * Threads: a sandbox belongs to one thread at a time. All entry points run
 * Lua in protected mode; no Lua error ever reaches lua_atpanic.
 */
#ifndef MN_LUA_SANDBOX_H
#define MN_LUA_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#define SBX_DEFAULT_MEM (64u << 20)        /* bytes per state */
#define SBX_DEFAULT_INSTR 100000000ull     /* VM instructions per call */

typedef struct sbx sbx; /* opaque */

/* Creates a sandbox. 0, or -1 with a message in err. */
int sbx_new(size_t mem_limit, uint64_t instr_limit, sbx **out, char *err, size_t errcap);
/* Frees it; NULL is a no-op. */
void sbx_free(sbx *s);
/* The state, for pushing arguments and reading results (stack only; do not
 * call lua_call on it: use sbx_call). */
lua_State *sbx_state(sbx *s);

/* Loads text chunk src (named name in messages) and runs it with no
 * arguments under the budgets, leaving its first result on the stack.
 * 0, or -1 with the message in err (syntax error, runtime error, budget). */
int sbx_run_chunk(sbx *s, const char *src, size_t len, const char *name, char *err,
                  size_t errcap);

/* Calls the function below nargs arguments on the stack, under the budgets,
 * leaving nres results (LUA_MULTRET allowed). 0, or -1 with the message in
 * err and nothing left on the stack from the call. */
int sbx_call(sbx *s, int nargs, int nres, char *err, size_t errcap);

/* Bytes the state uses now. */
size_t sbx_mem_used(const sbx *s);

#endif
