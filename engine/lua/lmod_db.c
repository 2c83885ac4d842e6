/*
 * lmod_db.c - engine.db: parameterised SQL on the engine's own store, for scripts.
 * Owns: one connection per lua_State (userdata "engine.db.conn" in the registry, opened lazily
 * from eng_vm_opts_of(L)->database_path; the engine migrates at start, this module never does)
 * and the statements of the call in progress ("engine.db.stmt", to-be-closed, so a raise never
 * leaks one). Must not: include sqlite3.h (store.h is the only door), build SQL from values,
 * or let a statement outlive the call that made it.
 *
 * Lua API (`local db = require "engine.db"`):
 *   db.exec(sql, ...)  -> changes, last_insert_rowid        | nil, message, code
 *   db.query(sql, ...) -> { row, ... } (array, maybe empty)  | nil, message, code
 *   db.row(sql, ...)   -> first row, or nil when none        | nil, message, code
 *   db.value(sql, ...) -> first column of the first row, or nil | nil, message, code
 *   db.tx(fn, ...)     -> fn's results (true when it returns none) | nil, message, code
 *   db.null            -> the engine.json null sentinel: binds SQL NULL
 * Parameters: positional `?` / `?NNN` from the arguments after sql, or ONE table for named
 * `:name` / `@name` / `$name` (key "name"; every statement parameter must be present - use
 * db.null for NULL - and every key must be used). nil and db.null -> NULL, booleans -> 0/1,
 * integers -> INTEGER, floats -> REAL, strings -> TEXT (CAST(? AS BLOB) for bytes).
 * Rows: tables keyed by column name (alias duplicate names: the last one wins); INTEGER -> Lua
 * integer, REAL -> float, TEXT and BLOB -> string, NULL -> absent (nil). Rows are marked as JSON
 * objects and query results as JSON arrays, so engine.json encodes them faithfully.
 * Raises (caller bugs): bad argument types, parameter mismatch, SQL that does not compile, more
 * than one statement ("engine.db: only one statement per call"), and statements scripts may not
 * run: ATTACH, DETACH, PRAGMA, VACUUM, BEGIN/COMMIT/ROLLBACK/SAVEPOINT (use db.tx), schema
 * changes other than TEMP tables and indexes, SQL functions off store.c's allow-list
 * (load_extension() and fts3_tokenizer() among them; extensions are never enabled either), and
 * every table but the scripts' own (store.h ENG_STORE_SCRIPT: TEMP tables, orders and
 * order_items; settings and sync_runs read only): "engine.db: reading table api_tokens is not
 * allowed in script SQL". The VM option db_all_tables (`tallysync run`) lifts the table list.
 * While the VM runs a dry run (eng_vm_set_db_readonly) every write is refused the same way.
 * Returns nil, message, code (failures of the world) with code "busy" (locked past the busy
 * timeout), "constraint" (UNIQUE, CHECK, NOT NULL, FOREIGN KEY), "timeout" (the script's time
 * budget ran out inside SQLite) or "error".
 * Budget: before each statement the busy timeout becomes min(5 s, the call's remaining time) and
 * a progress handler interrupts SQLite when the call's deadline passes.
 */
#include "lua/lmods.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "lua/json.h"
#include "adapt/store.h"
#include "lua/vm_int.h"

#define CONN_MT           "engine.db.conn"
#define STMT_MT           "engine.db.stmt"
#define DB_PROGRESS_STEPS 1000 /* SQLite VM steps between two deadline checks */

static const char conn_key = 'c'; /* registry[&conn_key] = the connection userdata */

struct l_conn {
    struct eng_store *st; /* NULL until opened, and once closed */
    int tx_depth;         /* db.tx nesting: 0 outside, 1 in BEGIN, >1 in SAVEPOINTs */
    long long deadline;   /* CLOCK_MONOTONIC ms at which SQLite is interrupted; 0 = never */
};

struct l_stmt {
    struct eng_store_stmt *s; /* NULL once closed */
};

enum run_mode { RUN_EXEC, RUN_QUERY, RUN_ROW, RUN_VALUE };

/* SQLite's progress callback: plain C, never touches the lua_State. */
static int conn_progress(void *ud)
{
    const struct l_conn *c = ud;
    return c->deadline != 0 && eng_now_ms() >= c->deadline;
}

/* __gc and __close of the connection; idempotent. [-0, +0, -] */
static int conn_close(lua_State *L)
{
    struct l_conn *c = luaL_checkudata(L, 1, CONN_MT);
    eng_store_close(c->st);
    c->st = NULL;
    c->tx_depth = 0;
    return 0;
}

/* __gc and __close of a statement; idempotent. [-0, +0, -] */
static int stmt_close(lua_State *L)
{
    struct l_stmt *s = luaL_checkudata(L, 1, STMT_MT);
    eng_store_finalize(s->s);
    s->s = NULL;
    return 0;
}

/* The open connection of this state, opening it on first use. NULL with err filled when it
 * cannot be opened (no database configured, unreadable file...). [-0, +0, m] */
static struct l_conn *conn_get(lua_State *L, struct eng_err *err)
{
    struct l_conn *c;
    const struct eng_vm_opts *opts;

    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &conn_key) == LUA_TUSERDATA) {
        c = lua_touserdata(L, -1);
    } else {
        lua_pop(L, 1);
        c = lua_newuserdatauv(L, sizeof *c, 0);
        memset(c, 0, sizeof *c);
        luaL_setmetatable(L, CONN_MT);
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &conn_key);
    }
    lua_pop(L, 1); /* the registry keeps it alive */
    if (c->st != NULL)
        return c;
    opts = eng_vm_opts_of(L);
    if (opts == NULL || opts->database_path == NULL || opts->database_path[0] == '\0') {
        eng_err_set(err, ENG_EINVAL, "no database is configured (DATABASE_URL)");
        return NULL;
    }
    if (eng_store_open(opts->database_path, &c->st, err) != 0)
        return NULL;
    c->tx_depth = 0;
    eng_store_set_progress(c->st, DB_PROGRESS_STEPS, conn_progress, c);
    /* a recursive CTE doubling a string would otherwise build up to 1 GB outside the cap */
    eng_store_set_max_length(c->st, (long long)opts->mem_limit);
    return c;
}

/* What this state's SQL may touch (store.h): the script fence, all tables for the operator's
 * `tallysync run`, no write at all while the VM runs a dry run. [-0, +0, -] */
static int script_flags(lua_State *L)
{
    const struct eng_vm_opts *opts = eng_vm_opts_of(L);
    int flags = ENG_STORE_SCRIPT;

    if (opts != NULL && opts->db_all_tables)
        flags |= ENG_STORE_ALL_TABLES;
    if (eng_vm_db_readonly_of(L))
        flags |= ENG_STORE_READONLY;
    return flags;
}

/* Fit the connection to the budget of the call in progress. [-0, +0, -] */
static void conn_arm(lua_State *L, struct l_conn *c)
{
    long long left = eng_vm_remaining_ms(L);

    if (left < 0) { /* not inside a budgeted call */
        c->deadline = 0;
        eng_store_set_busy_timeout(c->st, ENG_STORE_BUSY_TIMEOUT_MS);
        return;
    }
    c->deadline = eng_now_ms() + left;
    eng_store_set_busy_timeout(c->st, left < ENG_STORE_BUSY_TIMEOUT_MS ? (int)left
                                                                       : ENG_STORE_BUSY_TIMEOUT_MS);
}

/* After SQLite returns. When the call's deadline passed while SQLite ran (an interrupted query,
 * a busy wait cut to the budget), make the VM's budget hook fire on the very next instruction:
 * it raises the budget error and vm.c classifies it as such, so a script cannot carry on past
 * its budget with a "timeout" result in hand. [-0, +0, -] */
static void conn_disarm(lua_State *L, struct l_conn *c)
{
    if (c->deadline != 0 && eng_now_ms() >= c->deadline)
        eng_vm_budget_arm(L);
    c->deadline = 0;
}

/* The failure code scripts see for the last failure on st. */
static const char *fail_code(struct eng_store *st)
{
    switch (eng_store_last_fail(st)) {
    case ENG_STORE_FAIL_BUSY:
        return "busy";
    case ENG_STORE_FAIL_CONSTRAINT:
        return "constraint";
    case ENG_STORE_FAIL_INTERRUPT:
        return "timeout";
    default:
        return "error";
    }
}

/* Push nil, "engine.db: <msg>", code; returns 3. [-0, +3, m] */
static int push_fail(lua_State *L, const char *msg, const char *code)
{
    lua_pushnil(L);
    lua_pushfstring(L, "engine.db: %s", msg);
    lua_pushstring(L, code);
    return 3;
}

/* Is the value at idx one that binds as a parameter? [-0, +0, m] */
static int bindable(lua_State *L, int idx)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TBOOLEAN:
    case LUA_TNUMBER:
    case LUA_TSTRING:
        return 1;
    default:
        return eng_json_is_null(L, idx);
    }
}

/* Bind the (already checked) value at idx to parameter p. [-0, +0, -] */
static int bind_value(lua_State *L, struct eng_store_stmt *s, int p, int idx)
{
    size_t len;
    const char *str;

    switch (lua_type(L, idx)) {
    case LUA_TBOOLEAN:
        return eng_store_bind_int64(s, p, lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return eng_store_bind_int64(s, p, (int64_t)lua_tointeger(L, idx));
        return eng_store_bind_double(s, p, (double)lua_tonumber(L, idx));
    case LUA_TSTRING:
        str = lua_tolstring(L, idx, &len); /* a string already: no conversion, no raise */
        return eng_store_bind_text(s, p, str, len);
    default:
        return eng_store_bind_null(s, p); /* nil, db.null */
    }
}

/* Check the parameters in args first..top before anything is acquired: positional values must
 * be bindable; a single table (named) must have string keys and bindable values. Returns 1 for
 * named, 0 for positional. [-0, +0, v] */
static int check_params(lua_State *L, int first)
{
    int top = lua_gettop(L);
    if (top == first)
        eng_vm_frozen_open(L, first); /* a module's frozen table: read its contents */

    if (top == first && lua_type(L, first) == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, first) != 0) {
            if (lua_type(L, -2) != LUA_TSTRING)
                luaL_argerror(L, first,
                              lua_pushfstring(L, "named parameters need string keys, got a %s key",
                                              luaL_typename(L, -2)));
            if (!bindable(L, -1))
                luaL_argerror(L, first,
                              lua_pushfstring(L,
                                              "parameter '%s': string, number, boolean, nil or "
                                              "db.null expected, got %s",
                                              lua_tostring(L, -2), luaL_typename(L, -1)));
            lua_pop(L, 1);
        }
        return 1;
    }
    for (int i = first; i <= top; i++)
        if (!bindable(L, i))
            luaL_argerror(L, i,
                          lua_pushfstring(L,
                                          "parameter %d: string, number, boolean, nil or db.null "
                                          "expected, got %s",
                                          i - first + 1, luaL_typename(L, i)));
    return 0;
}

/* Bind the statement's parameters from args first..top (checked by check_params). Raises on a
 * mismatch; the statement is a to-be-closed slot, so nothing leaks. Returns 0 or an ENG_E*
 * binding failure. [-0, +0, v] */
static int bind_params(lua_State *L, struct eng_store_stmt *s, int first, int top, int named)
{
    int want = eng_store_param_count(s);
    int rc = 0;

    if (!named) {
        if (top - first + 1 != want)
            luaL_argerror(L, 1,
                          lua_pushfstring(L, "the statement has %d parameter%s, %d value%s given",
                                          want, want == 1 ? "" : "s", top - first + 1,
                                          top - first + 1 == 1 ? "" : "s"));
        for (int p = 1; p <= want; p++) {
            const char *name = eng_store_param_name(s, p);
            if (name != NULL && name[0] != '?')
                luaL_argerror(L, first,
                              lua_pushfstring(L,
                                              "the statement uses named parameters (%s): pass "
                                              "one table",
                                              name));
        }
        for (int p = 1; rc == 0 && p <= want; p++)
            rc = bind_value(L, s, p, first + p - 1);
        return rc;
    }
    for (int p = 1; p <= want; p++) {
        const char *name = eng_store_param_name(s, p);
        if (name == NULL || name[0] == '?')
            luaL_argerror(L, first,
                          "the statement uses positional parameters (?): pass values, not a "
                          "table");
        lua_pushstring(L, name + 1);
        if (lua_rawget(L, first) == LUA_TNIL)
            luaL_argerror(
                L, first,
                lua_pushfstring(L, "missing parameter '%s' (use db.null for NULL)", name));
        if (rc == 0)
            rc = bind_value(L, s, p, -1);
        lua_pop(L, 1);
    }
    /* Every key must be used: a key the SQL does not name is a typo somewhere. */
    lua_pushnil(L);
    while (lua_next(L, first) != 0) {
        const char *key = lua_tostring(L, -2); /* string keys only (check_params) */
        char full[256];
        int used = 0;
        for (const char *pre = ":@$"; *pre != '\0' && !used; pre++) {
            snprintf(full, sizeof full, "%c%s", *pre, key);
            used = strlen(key) < sizeof full - 1 && eng_store_param_index(s, full) > 0;
        }
        if (!used)
            luaL_argerror(L, first,
                          lua_pushfstring(L, "parameter '%s' is not used by the statement", key));
        lua_pop(L, 1);
    }
    return rc;
}

/* Push column col of the current row. [-0, +1, m] */
static void push_column(lua_State *L, struct eng_store_stmt *s, int col)
{
    size_t len = 0;
    const char *p;

    switch (eng_store_column_type(s, col)) {
    case ENG_STORE_INTEGER:
        lua_pushinteger(L, (lua_Integer)eng_store_column_int64(s, col));
        break;
    case ENG_STORE_FLOAT:
        lua_pushnumber(L, (lua_Number)eng_store_column_double(s, col));
        break;
    case ENG_STORE_TEXT:
        p = eng_store_column_text(s, col, &len);
        lua_pushlstring(L, p != NULL ? p : "", len);
        break;
    case ENG_STORE_BLOB:
        p = eng_store_column_blob(s, col, &len);
        lua_pushlstring(L, p != NULL ? p : "", len);
        break;
    default:
        lua_pushnil(L);
        break;
    }
}

/* Push the current row as a table keyed by column name (NULL columns absent). [-0, +1, m] */
static void push_row(lua_State *L, struct eng_store_stmt *s)
{
    int n = eng_store_column_count(s);

    lua_createtable(L, 0, n);
    for (int col = 0; col < n; col++) {
        const char *name = eng_store_column_name(s, col);
        if (eng_store_column_type(s, col) == ENG_STORE_NULL || name == NULL)
            continue;
        push_column(L, s, col);
        lua_setfield(L, -2, name);
    }
    eng_json_mark(L, -1, ENG_JSON_OBJECT);
}

/* exec / query / row / value. Stack: sql, params... [-0, +(1|2|3), v] */
static int db_run(lua_State *L, enum run_mode mode)
{
    size_t len;
    const char *sql = luaL_checklstring(L, 1, &len);
    int top = lua_gettop(L);
    int named = check_params(L, 2);
    struct eng_err err = {0};
    struct l_conn *c;
    struct l_stmt *us;
    int rc, nrows = 0;

    luaL_checkstack(L, 8, "engine.db");
    /* The statement's home exists before the statement: a later raise closes it. */
    us = lua_newuserdatauv(L, sizeof *us, 0);
    us->s = NULL;
    luaL_setmetatable(L, STMT_MT);
    lua_toclose(L, -1);

    c = conn_get(L, &err);
    if (c == NULL)
        return push_fail(L, err.msg, "error");
    conn_arm(L, c);
    rc = eng_store_prepare(c->st, sql, (long)len, script_flags(L), &us->s, &err);
    if (rc != 0) {
        conn_disarm(L, c);
        if (eng_store_last_fail(c->st) == ENG_STORE_FAIL_BUSY ||
            eng_store_last_fail(c->st) == ENG_STORE_FAIL_NOMEM)
            return push_fail(L, err.msg, fail_code(c->st));
        return luaL_error(L, "engine.db: %s", err.msg); /* the SQL is the caller's bug */
    }
    conn_disarm(L, c);
    rc = bind_params(L, us->s, 2, top, named);
    if (rc != 0)
        return push_fail(
            L, rc == ENG_ENOMEM ? "out of memory binding parameters" : "cannot bind a parameter",
            "error");
    conn_arm(L, c);
    if (mode == RUN_QUERY)
        lua_createtable(L, 0, 0);
    for (;;) {
        rc = eng_store_step(us->s, &err);
        if (rc != ENG_STORE_ROW)
            break;
        if (mode == RUN_EXEC)
            continue;
        if (mode == RUN_VALUE) {
            if (eng_store_column_count(us->s) > 0)
                push_column(L, us->s, 0);
            else
                lua_pushnil(L);
            nrows = 1;
            break;
        }
        push_row(L, us->s);
        nrows++;
        if (mode == RUN_ROW)
            break;
        lua_rawseti(L, -2, nrows);
    }
    conn_disarm(L, c);
    if (rc < 0) {
        const char *code = fail_code(c->st);
        eng_store_finalize(us->s);
        us->s = NULL;
        return push_fail(L, err.msg, code);
    }
    switch (mode) {
    case RUN_EXEC:
        eng_store_finalize(us->s); /* before changes(): finalize does not touch them */
        us->s = NULL;
        lua_pushinteger(L, (lua_Integer)eng_store_changes(c->st));
        lua_pushinteger(L, (lua_Integer)eng_store_last_insert_rowid(c->st));
        return 2;
    case RUN_QUERY:
        eng_json_mark(L, -1, ENG_JSON_ARRAY);
        break;
    case RUN_ROW:
    case RUN_VALUE:
        if (nrows == 0)
            lua_pushnil(L);
        break;
    }
    eng_store_finalize(us->s);
    us->s = NULL;
    return 1;
}

/* db.exec(sql, ...) -> changes, last_insert_rowid | nil, message, code  [-0, +(2|3), v] */
static int db_exec(lua_State *L)
{
    return db_run(L, RUN_EXEC);
}

/* db.query(sql, ...) -> array of rows | nil, message, code  [-0, +(1|3), v] */
static int db_query(lua_State *L)
{
    return db_run(L, RUN_QUERY);
}

/* db.row(sql, ...) -> first row or nil | nil, message, code  [-0, +(1|3), v] */
static int db_row(lua_State *L)
{
    return db_run(L, RUN_ROW);
}

/* db.value(sql, ...) -> first column of the first row or nil | nil, message, code
 * [-0, +(1|3), v] */
static int db_value(lua_State *L)
{
    return db_run(L, RUN_VALUE);
}

/* Run constant transaction SQL for db.tx; 0 or an ENG_E* code with err filled. */
static int tx_sql(struct l_conn *c, const char *verb, int depth, struct eng_err *err)
{
    char sql[96];

    if (depth <= 1)
        snprintf(sql, sizeof sql, "%s", verb);
    else if (strcmp(verb, ENG_STORE_BEGIN_WRITE) == 0)
        snprintf(sql, sizeof sql, "SAVEPOINT engine_db_tx%d", depth);
    else if (strcmp(verb, "COMMIT") == 0)
        snprintf(sql, sizeof sql, "RELEASE engine_db_tx%d", depth);
    else
        snprintf(sql, sizeof sql, "ROLLBACK TO engine_db_tx%d; RELEASE engine_db_tx%d", depth,
                 depth);
    return eng_store_exec(c->st, sql, err);
}

/* db.tx(fn, ...) -> fn's results (true when none) | nil, message, code
 * Runs fn(...) inside BEGIN IMMEDIATE (a SAVEPOINT when nested); COMMIT when it returns,
 * ROLLBACK and re-raise its error when it raises. [-0, +(n|3), v] */
static int db_tx(lua_State *L)
{
    struct eng_err err = {0};
    struct l_conn *c;
    int nargs = lua_gettop(L) - 1, depth, status, nres;

    luaL_checktype(L, 1, LUA_TFUNCTION);
    c = conn_get(L, &err);
    if (c == NULL)
        return push_fail(L, err.msg, "error");
    conn_arm(L, c);
    depth = c->tx_depth + 1;
    if (depth == 1 && eng_store_in_tx(c->st))
        return luaL_error(L, "engine.db: a transaction is already open on this connection");
    /* a dry run writes nothing: it never takes the write lock either */
    if (tx_sql(c, eng_vm_db_readonly_of(L) && depth == 1 ? "BEGIN" : ENG_STORE_BEGIN_WRITE, depth,
               &err) != 0) {
        conn_disarm(L, c);
        return push_fail(L, err.msg, fail_code(c->st));
    }
    conn_disarm(L, c);
    c->tx_depth = depth;
    status = lua_pcall(L, nargs, LUA_MULTRET, 0);
    c->tx_depth = depth - 1;
    c->deadline = 0; /* ending a transaction is never interrupted: fn finished or raised */
    if (status != LUA_OK) {
        /* SQLite may already have rolled the whole transaction back (I/O error, full disk). */
        if (eng_store_in_tx(c->st))
            (void)tx_sql(c, "ROLLBACK", depth, NULL);
        conn_disarm(L, c);
        return lua_error(L); /* the original error object, unchanged */
    }
    if (tx_sql(c, "COMMIT", depth, &err) != 0) {
        const char *code = fail_code(c->st);
        if (eng_store_in_tx(c->st))
            (void)tx_sql(c, "ROLLBACK", depth, NULL);
        conn_disarm(L, c);
        lua_settop(L, 0);
        return push_fail(L, err.msg, code);
    }
    conn_disarm(L, c);
    nres = lua_gettop(L);
    if (nres == 0) {
        lua_pushboolean(L, 1);
        nres = 1;
    }
    return nres;
}

static const luaL_Reg db_funcs[] = {
    {"exec", db_exec},   {"query", db_query}, {"row", db_row},
    {"value", db_value}, {"tx", db_tx},       {NULL, NULL},
};

/* Create (once per state) the metatable tname with close as __gc and __close. [-0, +0, m] */
/* require "engine.db" [-0, +1, m] */
int luaopen_engine_db(lua_State *L)
{
    eng_lmod_handle_mt(L, CONN_MT, conn_close, "engine.db handle");
    eng_lmod_handle_mt(L, STMT_MT, stmt_close, "engine.db handle");
    luaL_newlib(L, db_funcs);
    eng_json_push_null(L);
    lua_setfield(L, -2, "null");
    return 1;
}
