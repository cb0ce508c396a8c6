/*
 * test_sandbox.c — the Lua sandbox (src/lua/): what scripts cannot reach,
 * the instruction and memory budgets (which a script's pcall cannot catch),
 * and the JSON bridge.
 */
#include "harness.h"

#include <lauxlib.h>

#include "lua/ljson.h"
#include "lua/sandbox.h"

static sbx *mk(size_t mem, uint64_t instr)
{
    sbx *s = NULL;
    char err[256];
    ASSERT_EQ(sbx_new(mem, instr, &s, err, sizeof err), 0);
    return s;
}

/* Runs src; returns 0/-1 and leaves the message (or the tostring of the
 * result) in out. */
static int run(sbx *s, const char *src, char *out, size_t cap)
{
    lua_State *L = sbx_state(s);
    int rc = sbx_run_chunk(s, src, strlen(src), "=test", out, cap);
    if (rc == 0) {
        const char *r = lua_tostring(L, -1);
        snprintf(out, cap, "%s", r ? r : "(nil)");
        lua_pop(L, 1);
    }
    return rc;
}

TEST(no_os_io_require)
{
    sbx *s = mk(0, 0);
    char out[512];
    ASSERT_EQ(run(s, "return os.execute('true')", out, sizeof out), -1);
    ASSERT(strstr(out, "os") != NULL);
    ASSERT_EQ(run(s, "return io.open('/etc/passwd')", out, sizeof out), -1);
    ASSERT_EQ(run(s, "return require('os')", out, sizeof out), -1);
    ASSERT_EQ(run(s, "return dofile('/etc/passwd')", out, sizeof out), -1);
    ASSERT_EQ(run(s, "return loadfile('/etc/passwd')", out, sizeof out), -1);
    ASSERT_EQ(run(s, "return load('return 1')", out, sizeof out), -1);
    ASSERT_EQ(run(s, "return string.dump(function() end)", out, sizeof out), -1);
    ASSERT_EQ(run(s, "return debug.getinfo(1)", out, sizeof out), -1);
    ASSERT_EQ(run(s, "return tostring(package)", out, sizeof out), 0);
    ASSERT_STR_EQ(out, "nil");
    ASSERT_EQ(run(s, "return tostring(coroutine)", out, sizeof out), 0);
    ASSERT_STR_EQ(out, "nil");
    /* what stays works */
    ASSERT_EQ(run(s, "return string.format('%d-%s', 1 + 2, ('ab'):upper())", out, sizeof out), 0);
    ASSERT_STR_EQ(out, "3-AB");
    sbx_free(s);
}

TEST(bytecode_refused)
{
    sbx *s = mk(0, 0);
    char err[256];
    const char bc[] = "\x1bLua\x54\x00";
    ASSERT_EQ(sbx_run_chunk(s, bc, sizeof bc - 1, "=bc", err, sizeof err), -1);
    ASSERT(strstr(err, "binary") != NULL);
    sbx_free(s);
}

TEST(instruction_budget)
{
    sbx *s = mk(0, 1000000);
    char out[512];
    ASSERT_EQ(run(s, "while true do end", out, sizeof out), -1);
    ASSERT(strstr(out, "instruction budget") != NULL);
    /* pcall cannot swallow it */
    ASSERT_EQ(run(s, "while true do pcall(function() while true do end end) end", out,
                  sizeof out), -1);
    ASSERT(strstr(out, "instruction budget") != NULL);
    /* and the state is usable afterwards, with a fresh budget */
    ASSERT_EQ(run(s, "local n = 0 for i = 1, 1000 do n = n + i end return n", out, sizeof out), 0);
    ASSERT_STR_EQ(out, "500500");
    sbx_free(s);
}

TEST(memory_budget)
{
    sbx *s = mk(8u << 20, 0);
    char out[512];
    ASSERT_EQ(run(s, "local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(100) .. i end", out,
                  sizeof out), -1);
    ASSERT(strstr(out, "memory budget") != NULL);
    ASSERT_EQ(run(s, "return #(('x'):rep(1e9))", out, sizeof out), -1);
    ASSERT(strstr(out, "memory budget") != NULL);
    ASSERT_EQ(run(s, "local ok = pcall(function() local s = ('x'):rep(1e9) end) return 1", out,
                  sizeof out), -1);
    ASSERT(sbx_mem_used(s) <= (8u << 20));
    ASSERT_EQ(run(s, "return 'alive'", out, sizeof out), 0);
    ASSERT_STR_EQ(out, "alive");
    sbx_free(s);
}

TEST(json_round_trip)
{
    sbx *s = mk(0, 0);
    char out[512];
    ASSERT_EQ(run(s, "local v = json.decode('{\"a\":10,\"b\":[1,2.5,\"x\\\\u00e9\",true,null],\"c\":{}}')"
                     " return math.type(v.a) .. ' ' .. v.b[2] .. ' ' .. tostring(v.b[5] == json.null)",
                  out, sizeof out), 0);
    ASSERT_STR_EQ(out, "integer 2.5 true");
    ASSERT_EQ(run(s, "return json.encode({a = 1, list = {1, 2, 3}, s = 'q\"\\n', f = 0.5, n = json.null})",
                  out, sizeof out), 0);
    ASSERT(strstr(out, "\"list\":[1,2,3]") != NULL);
    ASSERT(strstr(out, "\"s\":\"q\\\"\\n\"") != NULL);
    ASSERT(strstr(out, "\"n\":null") != NULL);
    ASSERT_EQ(run(s, "return json.encode({})", out, sizeof out), 0);
    ASSERT_STR_EQ(out, "{}");
    ASSERT_EQ(run(s, "return json.decode('{bad')", out, sizeof out), -1);
    ASSERT(strstr(out, "not valid JSON") != NULL);
    ASSERT_EQ(run(s, "local t = {} t.t = t return json.encode(t)", out, sizeof out), -1);
    ASSERT_EQ(run(s, "return json.encode(function() end)", out, sizeof out), -1);
    ASSERT_EQ(run(s, "return json.decode(string.rep('[', 10000))", out, sizeof out), -1);
    sbx_free(s);
}

int main(int argc, char **argv)
{
    harness_init(argc, argv);
    RUN(no_os_io_require);
    RUN(bytecode_refused);
    RUN(instruction_budget);
    RUN(memory_budget);
    RUN(json_round_trip);
    return harness_summary();
}
