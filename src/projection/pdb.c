/*
 * pdb.c — a read model's SQLite database as its projection thread uses it:
 * opening (WAL), the checkpoint row, and the `db` object handlers get
 * (db:exec(sql, ...) and db:query(sql, ...) with bound parameters).
 *
 * Invariants:
 *  1. The checkpoint (_mn_checkpoint: next position, next stream version,
 *     events processed) is written in the same transaction as the handlers'
 *     changes (runner.c), so a crash keeps both or neither: each event's
 *     effect is applied exactly once.
 *  2. Handler SQL is confined to this one database: the authorizer refuses
 *     ATTACH/DETACH (another file), PRAGMA (journal and sync settings are
 *     ours), transaction control (the runner owns the transaction) and any
 *     write to _mn_checkpoint. Extensions are never enabled.
 *  3. One statement per call: text after the first statement is an error,
 *     not silently ignored.
 *
 * Why synchronous=NORMAL: in WAL mode a commit is then durable against a
 * process crash (kill -9) but the last commits may be lost to a power cut.
 * That never breaks exactly-once (invariant 1: the checkpoint goes back with
 * the data and the events are applied again from the log), it only means
 * re-applying a little, and it keeps an fsync off every batch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "lua/ljson.h"
#include "projection/internal.h"
#include "util/clock.h"

#define CHECKPOINT_TABLE "_mn_checkpoint"

static int authorize(void *ud, int action, const char *a, const char *b, const char *c,
                     const char *d)
{
    (void)b; (void)c; (void)d;
    proj_inst *in = ud;
    if (!in->in_handler)
        return SQLITE_OK;
    switch (action) {
    case SQLITE_ATTACH: case SQLITE_DETACH: case SQLITE_PRAGMA:
    case SQLITE_TRANSACTION: case SQLITE_SAVEPOINT:
        return SQLITE_DENY;
    case SQLITE_INSERT: case SQLITE_UPDATE: case SQLITE_DELETE: case SQLITE_DROP_TABLE:
    case SQLITE_ALTER_TABLE:
        return a && strcmp(a, CHECKPOINT_TABLE) == 0 ? SQLITE_DENY : SQLITE_OK;
    default:
        return SQLITE_OK;
    }
}

/* Interrupts handler SQL that runs past its deadline (a runaway recursive
 * CTE would otherwise hold the projection forever). */
static int progress(void *ud)
{
    proj_inst *in = ud;
    return in->sql_deadline_ms && (int64_t)clock_mono_ms() > in->sql_deadline_ms;
}

int pdb_exec_simple(proj_inst *in, const char *sql, char *err, size_t errcap)
{
    char *msg = NULL;
    if (sqlite3_exec(in->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errcap, "SQLite: %s", msg ? msg : sqlite3_errmsg(in->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

int pdb_open(proj_inst *in, char *err, size_t errcap)
{
    int rc = sqlite3_open_v2(in->path, &in->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errcap, "cannot open %s: %s", in->path,
                 in->db ? sqlite3_errmsg(in->db) : sqlite3_errstr(rc));
        return -1;
    }
    sqlite3_limit(in->db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_busy_timeout(in->db, 5000);
    if (pdb_exec_simple(in, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                            "PRAGMA cache_size=-32768; PRAGMA temp_store=MEMORY;", err, errcap) < 0)
        return -1;
    sqlite3_set_authorizer(in->db, authorize, in);
    sqlite3_progress_handler(in->db, 10000, progress, in);
    return 0;
}

void pdb_close(proj_inst *in)
{
    for (size_t i = 0; i < PROJ_STMT_CACHE; i++) {
        sqlite3_finalize(in->cache[i].st);
        free(in->cache[i].sql);
        in->cache[i].st = NULL;
        in->cache[i].sql = NULL;
    }
    sqlite3_close(in->db);
    in->db = NULL;
}

int pdb_load_checkpoint(proj_inst *in, char *err, size_t errcap)
{
    if (pdb_exec_simple(in, "CREATE TABLE IF NOT EXISTS " CHECKPOINT_TABLE
                            "(id INTEGER PRIMARY KEY CHECK (id = 1), next_position INTEGER NOT NULL,"
                            " next_version INTEGER NOT NULL, events INTEGER NOT NULL)",
                        err, errcap) < 0)
        return -1;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(in->db, "SELECT next_position, next_version, events FROM "
                           CHECKPOINT_TABLE " WHERE id = 1", -1, &st, NULL) != SQLITE_OK)
        goto sqlerr;
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        atomic_store(&in->next_pos, (uint64_t)sqlite3_column_int64(st, 0));
        atomic_store(&in->next_version, sqlite3_column_int64(st, 1));
        atomic_store(&in->events, (uint64_t)sqlite3_column_int64(st, 2));
        rc = 0;
    } else if (s == SQLITE_DONE) {
        rc = 1;
    } else {
        goto sqlerr;
    }
    sqlite3_finalize(st);
    return rc;
sqlerr:
    snprintf(err, errcap, "SQLite: %s", sqlite3_errmsg(in->db));
    sqlite3_finalize(st);
    return -1;
}

int pdb_save_checkpoint(proj_inst *in, uint64_t next_pos, int64_t next_version, uint64_t events,
                        char *err, size_t errcap)
{
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO " CHECKPOINT_TABLE
             " VALUES (1, %llu, %lld, %llu)", (unsigned long long)next_pos,
             (long long)next_version, (unsigned long long)events);
    return pdb_exec_simple(in, sql, err, errcap);
}

/* ---- the Lua `db` object ---- */

#define DB_META "mn.projection.db"

/* A cached prepared statement for sql (invariant 3), reset and unbound. */
static sqlite3_stmt *prepare(lua_State *L, proj_inst *in, const char *sql, size_t len)
{
    for (size_t i = 0; i < PROJ_STMT_CACHE; i++) {
        stmt_slot *s = &in->cache[i];
        if (s->sql && s->len == len && memcmp(s->sql, sql, len) == 0) {
            sqlite3_reset(s->st); /* every parameter is bound again (bind_args) */
            return s->st;
        }
    }
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    if (sqlite3_prepare_v2(in->db, sql, (int)len, &st, &tail) != SQLITE_OK) {
        luaL_error(L, "SQL error: %s", sqlite3_errmsg(in->db));
        return NULL;
    }
    if (!st)
        luaL_error(L, "SQL error: empty statement");
    for (const char *t = tail; t && t < sql + len; t++) {
        if (*t != ' ' && *t != '\t' && *t != '\n' && *t != '\r' && *t != ';') {
            sqlite3_finalize(st);
            luaL_error(L, "SQL error: one statement per call (found more after the first)");
        }
    }
    stmt_slot *s = &in->cache[in->cache_next];
    in->cache_next = (in->cache_next + 1) % PROJ_STMT_CACHE;
    char *copy = malloc(len + 1);
    if (!copy) {
        sqlite3_finalize(st);
        luaL_error(L, "not enough memory");
    }
    memcpy(copy, sql, len);
    copy[len] = '\0';
    sqlite3_finalize(s->st);
    free(s->sql);
    s->sql = copy;
    s->len = len;
    s->st = st;
    return st;
}

static void bind_args(lua_State *L, proj_inst *in, sqlite3_stmt *st, int first)
{
    int top = lua_gettop(L);
    int want = sqlite3_bind_parameter_count(st);
    if (top - first + 1 != want)
        luaL_error(L, "SQL error: the statement has %d parameters, %d values given", want,
                   top - first + 1);
    for (int i = first; i <= top; i++) {
        int k = i - first + 1, rc;
        switch (lua_type(L, i)) {
        case LUA_TNIL: rc = sqlite3_bind_null(st, k); break;
        case LUA_TBOOLEAN: rc = sqlite3_bind_int(st, k, lua_toboolean(L, i)); break;
        case LUA_TNUMBER:
            rc = lua_isinteger(L, i) ? sqlite3_bind_int64(st, k, lua_tointeger(L, i))
                                     : sqlite3_bind_double(st, k, lua_tonumber(L, i));
            break;
        case LUA_TSTRING: {
            size_t n;
            const char *s = lua_tolstring(L, i, &n);
            rc = sqlite3_bind_text(st, k, s, (int)n, SQLITE_TRANSIENT);
            break;
        }
        default:
            if (ljson_is_null(L, i)) {
                rc = sqlite3_bind_null(st, k);
                break;
            }
            luaL_error(L, "SQL error: cannot bind a %s (parameter %d)", luaL_typename(L, i), k);
            return;
        }
        if (rc != SQLITE_OK)
            luaL_error(L, "SQL error: %s", sqlite3_errmsg(in->db));
    }
}

static void push_column(lua_State *L, sqlite3_stmt *st, int c)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_INTEGER: lua_pushinteger(L, sqlite3_column_int64(st, c)); break;
    case SQLITE_FLOAT: lua_pushnumber(L, sqlite3_column_double(st, c)); break;
    case SQLITE_NULL: lua_pushnil(L); break;
    default: {
        const void *p = sqlite3_column_blob(st, c);
        lua_pushlstring(L, p ? p : "", (size_t)sqlite3_column_bytes(st, c));
    }
    }
}

/* Runs the statement; with rows, pushes them as an array of tables keyed
 * by column name; without, pushes the number of rows changed. The
 * statement is reset on every way out (a Lua error included: the next
 * prepare() of it resets too). */
static int run(lua_State *L, int rows)
{
    proj_inst *in = *(proj_inst **)luaL_checkudata(L, 1, DB_META);
    size_t len;
    const char *sql = luaL_checklstring(L, 2, &len);
    if (!in->db)
        return luaL_error(L, "the database is closed");
    sqlite3_stmt *st = prepare(L, in, sql, len);
    bind_args(L, in, st, 3);
    if (rows)
        lua_newtable(L);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!rows)
            continue;
        int cols = sqlite3_column_count(st);
        lua_createtable(L, 0, cols);
        for (int c = 0; c < cols; c++) {
            push_column(L, st, c);
            lua_setfield(L, -2, sqlite3_column_name(st, c));
        }
        lua_rawseti(L, -2, ++n);
    }
    if (rc != SQLITE_DONE) {
        const char *msg = rc == SQLITE_INTERRUPT ? "SQL ran past its time budget"
                                                 : sqlite3_errmsg(in->db);
        sqlite3_reset(st);
        return luaL_error(L, "SQL error: %s", msg);
    }
    if (!rows)
        lua_pushinteger(L, sqlite3_changes(in->db));
    sqlite3_reset(st);
    return 1;
}

static int l_exec(lua_State *L) { return run(L, 0); }
static int l_query(lua_State *L) { return run(L, 1); }

void pdb_push_lua(proj_inst *in)
{
    lua_State *L = sbx_state(in->sb);
    proj_inst **u = lua_newuserdatauv(L, sizeof(*u), 0);
    *u = in;
    if (luaL_newmetatable(L, DB_META)) {
        lua_createtable(L, 0, 2);
        lua_pushcfunction(L, l_exec);
        lua_setfield(L, -2, "exec");
        lua_pushcfunction(L, l_query);
        lua_setfield(L, -2, "query");
        lua_setfield(L, -2, "__index");
        lua_pushliteral(L, "projection database");
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
}
