/*
 * fuzz_ljson.c — the JSON bridge of the Lua sandbox (src/lua/ljson.c):
 * ljson_push (JSON text -> Lua value) and ljson_encode (Lua value -> JSON),
 * which every projection handler's e.data/e.meta and every ES.FOLD result go
 * through.
 *
 * Input: any bytes, decoded as JSON in a sandbox (in protected mode, as the
 * server does). Invariants: decoding either fails cleanly or gives a value
 * whose encoding is valid JSON (util/json.h's strict validator) and decodes
 * again; text that the strict validator accepts is decoded unless it nests
 * deeper than LJSON_MAX_DEPTH; the state's stack is balanced either way.
 */
#include <string.h>

#include <lauxlib.h>

#include "fuzz.h"
#include "lua/ljson.h"
#include "lua/sandbox.h"
#include "util/json.h"

typedef struct round {
    const char *p;      /* input */
    size_t n;
    int decoded;        /* 1 if the input decoded */
    int redecoded;      /* 1 if its encoding decoded again */
    buf out;            /* the encoding */
} round;

static int run_round(lua_State *L)
{
    round *r = lua_touserdata(L, 1);
    r->decoded = ljson_push(L, r->p, r->n);
    if (!r->decoded)
        return 0;
    ljson_encode(L, -1, &r->out);
    r->redecoded = ljson_push(L, r->out.data ? r->out.data : "", r->out.len);
    return 0;
}

static size_t max_depth(const uint8_t *p, size_t n)
{
    size_t d = 0, m = 0;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            if (p[i] == '\\') i++;
            else if (p[i] == '"') in_str = 0;
        } else if (p[i] == '"') {
            in_str = 1;
        } else if (p[i] == '[' || p[i] == '{') {
            if (++d > m) m = d;
        } else if (p[i] == ']' || p[i] == '}') {
            d--;
        }
    }
    return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sbx *sb;
    char err[256];
    if (!sb)
        FUZZ_CHECK(sbx_new(16u << 20, 0, &sb, err, sizeof err) == 0);
    lua_State *L = sbx_state(sb);
    int top = lua_gettop(L);
    round r = {(const char *)data, size, 0, 0, {0}};
    buf_init(&r.out);
    lua_pushcfunction(L, run_round);
    lua_pushlightuserdata(L, &r);
    int rc = sbx_call(sb, 1, 0, err, sizeof err);
    FUZZ_CHECK(lua_gettop(L) == top);
    if (rc == 0 && r.decoded) {
        FUZZ_CHECK(json_is_valid(r.out.data, r.out.len));
        FUZZ_CHECK(r.redecoded);
    }
    if (rc == 0 && !r.decoded && json_is_valid(data, size))
        FUZZ_CHECK(max_depth(data, size) > LJSON_MAX_DEPTH);
    buf_free(&r.out);
    return 0;
}
