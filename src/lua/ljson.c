/*
 * ljson.c — JSON text <-> Lua values (see ljson.h for the mapping and why
 * this is not lua-cjson).
 *
 * The decoder is recursive descent straight onto the Lua stack: no tree of
 * its own, strings built in a luaL_Buffer, so every byte is allocated by the
 * state (and counted against the sandbox's memory budget). Depth is capped
 * at LJSON_MAX_DEPTH and the Lua stack checked at every level.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua/ljson.h"
#include "util/json.h"

static const char null_tag = 0; /* json.null is &null_tag */

typedef struct dec {
    lua_State *L;
    const char *p;   /* next byte */
    const char *end; /* one past the last */
    int depth;       /* current nesting */
} dec;

static void skip_ws(dec *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
        d->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(dec *d, unsigned *out)
{
    if (d->end - d->p < 4) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(d->p[i]);
        if (h < 0) return 0;
        v = v << 4 | (unsigned)h;
    }
    d->p += 4;
    *out = v;
    return 1;
}

static void add_utf8(luaL_Buffer *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
    }
    luaL_addlstring(b, u, n);
}

/* d->p is past the opening quote. Pushes the string. */
static int dec_string(dec *d)
{
    luaL_Buffer b;
    luaL_buffinit(d->L, &b);
    for (;;) {
        const char *run = d->p;
        while (d->p < d->end && *d->p != '"' && *d->p != '\\' && (unsigned char)*d->p >= 0x20)
            d->p++;
        luaL_addlstring(&b, run, (size_t)(d->p - run));
        if (d->p >= d->end || (unsigned char)*d->p < 0x20) return 0;
        if (*d->p == '"') { d->p++; break; }
        d->p++; /* backslash */
        if (d->p >= d->end) return 0;
        char c = *d->p++;
        switch (c) {
        case '"': luaL_addchar(&b, '"'); break;
        case '\\': luaL_addchar(&b, '\\'); break;
        case '/': luaL_addchar(&b, '/'); break;
        case 'b': luaL_addchar(&b, '\b'); break;
        case 'f': luaL_addchar(&b, '\f'); break;
        case 'n': luaL_addchar(&b, '\n'); break;
        case 'r': luaL_addchar(&b, '\r'); break;
        case 't': luaL_addchar(&b, '\t'); break;
        case 'u': {
            unsigned cp, lo;
            if (!read_hex4(d, &cp)) return 0;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (d->end - d->p < 2 || d->p[0] != '\\' || d->p[1] != 'u') return 0;
                d->p += 2;
                if (!read_hex4(d, &lo) || lo < 0xDC00 || lo > 0xDFFF) return 0;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return 0;
            }
            add_utf8(&b, cp);
            break;
        }
        default: return 0;
        }
    }
    luaL_pushresult(&b);
    return 1;
}

static int dec_number(dec *d)
{
    const char *s = d->p;
    int is_float = 0;
    if (d->p < d->end && *d->p == '-') d->p++;
    if (d->p >= d->end) return 0;
    if (*d->p == '0') d->p++;
    else if (*d->p >= '1' && *d->p <= '9') while (d->p < d->end && *d->p >= '0' && *d->p <= '9') d->p++;
    else return 0;
    if (d->p < d->end && *d->p == '.') {
        is_float = 1;
        d->p++;
        if (d->p >= d->end || *d->p < '0' || *d->p > '9') return 0;
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9') d->p++;
    }
    if (d->p < d->end && (*d->p == 'e' || *d->p == 'E')) {
        is_float = 1;
        d->p++;
        if (d->p < d->end && (*d->p == '+' || *d->p == '-')) d->p++;
        if (d->p >= d->end || *d->p < '0' || *d->p > '9') return 0;
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9') d->p++;
    }
    char tmp[64];
    size_t n = (size_t)(d->p - s);
    if (n >= sizeof(tmp)) is_float = 1; /* too many digits for an integer anyway */
    if (!is_float) {
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        errno = 0;
        long long v = strtoll(tmp, NULL, 10);
        if (errno == 0) {
            lua_pushinteger(d->L, (lua_Integer)v);
            return 1;
        }
    }
    /* strtod needs a terminated copy; long numbers are rare, keep it simple */
    char *copy = n < sizeof(tmp) ? tmp : malloc(n + 1);
    if (!copy) return luaL_error(d->L, "not enough memory");
    memcpy(copy, s, n);
    copy[n] = '\0';
    double v = strtod(copy, NULL);
    if (copy != tmp) free(copy);
    lua_pushnumber(d->L, v);
    return 1;
}

static int lit(dec *d, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0) return 0;
    d->p += n;
    return 1;
}

static int dec_value(dec *d)
{
    skip_ws(d);
    if (d->p >= d->end) return 0;
    char c = *d->p;
    if (c == '{' || c == '[') {
        if (++d->depth > LJSON_MAX_DEPTH) return 0;
        luaL_checkstack(d->L, 4, "JSON nesting");
        d->p++;
        lua_newtable(d->L);
        skip_ws(d);
        char close = c == '{' ? '}' : ']';
        if (d->p < d->end && *d->p == close) {
            d->p++;
            d->depth--;
            return 1;
        }
        for (lua_Integer i = 1;; i++) {
            if (c == '{') {
                skip_ws(d);
                if (d->p >= d->end || *d->p != '"') return 0;
                d->p++;
                if (!dec_string(d)) return 0;
                skip_ws(d);
                if (d->p >= d->end || *d->p != ':') return 0;
                d->p++;
                if (!dec_value(d)) return 0;
                lua_rawset(d->L, -3);
            } else {
                if (!dec_value(d)) return 0;
                lua_rawseti(d->L, -2, i);
            }
            skip_ws(d);
            if (d->p < d->end && *d->p == ',') { d->p++; continue; }
            if (d->p < d->end && *d->p == close) { d->p++; break; }
            return 0;
        }
        d->depth--;
        return 1;
    }
    if (c == '"') { d->p++; return dec_string(d); }
    if (c == 't') { if (!lit(d, "true")) return 0; lua_pushboolean(d->L, 1); return 1; }
    if (c == 'f') { if (!lit(d, "false")) return 0; lua_pushboolean(d->L, 0); return 1; }
    if (c == 'n') { if (!lit(d, "null")) return 0; ljson_push_null(d->L); return 1; }
    return dec_number(d);
}

int ljson_push(lua_State *L, const char *p, size_t n)
{
    int top = lua_gettop(L);
    dec d = {L, p, p + n, 0};
    int ok = dec_value(&d);
    if (ok) {
        skip_ws(&d);
        ok = d.p == d.end;
    }
    if (!ok) {
        lua_settop(L, top);
        return 0;
    }
    return 1;
}

void ljson_push_null(lua_State *L) { lua_pushlightuserdata(L, (void *)&null_tag); }

int ljson_is_null(lua_State *L, int idx)
{
    return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == &null_tag;
}

/* ---- encoding ---- */

static void enc_value(lua_State *L, int idx, buf *out, int depth);

/* n >= 1 if the table at idx has exactly the keys 1..n, else 0. */
static lua_Integer array_len(lua_State *L, int idx)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
    if (n == 0) return 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) { lua_pop(L, 1); return 0; }
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1 || k > n) { lua_pop(L, 1); return 0; }
        count++;
    }
    return count == n ? n : 0;
}

static void enc_table(lua_State *L, int idx, buf *out, int depth)
{
    if (depth > LJSON_MAX_DEPTH)
        luaL_error(L, "json.encode: nesting deeper than %d (a cycle?)", LJSON_MAX_DEPTH);
    luaL_checkstack(L, 4, "JSON nesting");
    lua_Integer n = array_len(L, idx);
    if (n > 0) {
        buf_append_byte(out, '[');
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1) buf_append_byte(out, ',');
            lua_rawgeti(L, idx, i);
            enc_value(L, lua_gettop(L), out, depth + 1);
            lua_pop(L, 1);
        }
        buf_append_byte(out, ']');
        return;
    }
    buf_append_byte(out, '{');
    int first = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        if (kt != LUA_TSTRING && kt != LUA_TNUMBER)
            luaL_error(L, "json.encode: a key of type %s", lua_typename(L, kt));
        if (!first) buf_append_byte(out, ',');
        first = 0;
        /* tolstring on a copy: converting the key in place confuses lua_next */
        lua_pushvalue(L, -2);
        size_t kl;
        const char *k = lua_tolstring(L, -1, &kl);
        json_append_string(out, k, kl);
        lua_pop(L, 1);
        buf_append_byte(out, ':');
        enc_value(L, lua_gettop(L), out, depth + 1);
        lua_pop(L, 1);
    }
    buf_append_byte(out, '}');
}

static void enc_value(lua_State *L, int idx, buf *out, int depth)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL: buf_append_str(out, "null"); break;
    case LUA_TBOOLEAN: buf_append_str(out, lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            buf_printf(out, "%lld", (long long)lua_tointeger(L, idx));
        } else {
            double v = lua_tonumber(L, idx);
            if (!isfinite(v)) luaL_error(L, "json.encode: %f is not a JSON number", v);
            buf_printf(out, "%.17g", v);
        }
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        json_append_string(out, s, n);
        break;
    }
    case LUA_TTABLE: enc_table(L, idx, out, depth); break;
    case LUA_TLIGHTUSERDATA:
        if (ljson_is_null(L, idx)) { buf_append_str(out, "null"); break; }
        /* fall through */
    default: luaL_error(L, "json.encode: cannot encode a %s", luaL_typename(L, idx));
    }
    if (out->oom) luaL_error(L, "not enough memory");
    /* the text is outside the state's allocator: cap it (a table may hold
     * one big string many times over) */
    if (out->len > LJSON_MAX_TEXT) luaL_error(L, "json.encode: text longer than %d bytes", LJSON_MAX_TEXT);
}

void ljson_encode(lua_State *L, int idx, buf *out)
{
    enc_value(L, lua_absindex(L, idx), out, 0);
}

static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (!ljson_push(L, s, n))
        return luaL_error(L, "json.decode: not valid JSON");
    return 1;
}

/* The text is built in a C buffer; a Lua error while encoding (bad value,
 * budget) would leak it, so the buffer lives in a userdata whose __gc
 * frees it — whatever way the call ends. */
static int buf_gc(lua_State *L)
{
    buf_free(lua_touserdata(L, 1));
    return 0;
}

static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    buf *b = lua_newuserdatauv(L, sizeof(buf), 0);
    buf_init(b);
    if (luaL_newmetatable(L, "mn.ljson.buf")) {
        lua_pushcfunction(L, buf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    ljson_encode(L, 1, b);
    lua_pushlstring(L, b->data ? b->data : "", b->len);
    buf_free(b);
    return 1;
}

void ljson_open(lua_State *L)
{
    lua_createtable(L, 0, 3);
    lua_pushcfunction(L, l_decode);
    lua_setfield(L, -2, "decode");
    lua_pushcfunction(L, l_encode);
    lua_setfield(L, -2, "encode");
    ljson_push_null(L);
    lua_setfield(L, -2, "null");
    lua_setglobal(L, "json");
}
