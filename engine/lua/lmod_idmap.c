/*
 * lmod_idmap.c - engine.idmap: the id map (data/id_map.h) for lib/sync.lua's dependencies (the
 * customers and items a record requires), on this thread's own store connection.
 * Owns: nothing (the connection is the thread's, from eng_store_thread). Must not: write SQL
 * (data/id_map.c owns every statement on id_map), or raise while holding a row's strings.
 *
 * Lua API (`local idmap = require "engine.idmap"`); a key is tenant, source system, source
 * entity, source id, target system, target type (six strings):
 *   idmap.get(key...)        -> { target_id?, request_id?, content_hash?, sync_token? } | nil
 *                               (no row) | nil, message, "store"
 *   idmap.put(key..., { target_id =, sync_token? =, content_hash? =, run_id? = })
 *                            -> true | nil, message, "store"
 *     content_hash is replaced (nil stores NULL: the target's content is then unknown, and the
 *     next plan updates instead of calling it unchanged); sync_token nil keeps the stored one.
 *   Raises (caller bugs): a key part that is not a string, fields of the wrong type.
 */
#include "lua/lmods.h"

#include <lauxlib.h>

#include "adapt/store.h"
#include "data/id_map.h"
#include "lua/vm_int.h"

/* The six key strings at 1..6. [-0, +0, v] */
static void check_key(lua_State *L, struct eng_id_map_key *k)
{
    k->tenant = luaL_checkstring(L, 1);
    k->source_system = luaL_checkstring(L, 2);
    k->entity_type = luaL_checkstring(L, 3);
    k->source_id = luaL_checkstring(L, 4);
    k->target_system = luaL_checkstring(L, 5);
    k->target_type = luaL_checkstring(L, 6);
}

/* Optional string field f of the table at idx (the table keeps it alive). [-0, +0, e] */
static const char *opt_field(lua_State *L, int idx, const char *f)
{
    int t = lua_getfield(L, idx, f);
    const char *v = NULL;
    if (t == LUA_TSTRING)
        v = lua_tostring(L, -1);
    else if (t != LUA_TNIL)
        luaL_error(L, "engine.idmap.put: field '%s' must be a string", f);
    lua_pop(L, 1);
    return v;
}

/* The thread's store, or NULL with err filled. */
static struct eng_store *thread_store(lua_State *L, struct eng_err *err)
{
    const struct eng_vm_opts *o = eng_vm_opts_of(L);
    if (o == NULL || o->database_path == NULL || o->database_path[0] == '\0') {
        eng_err_set(err, ENG_EINVAL, "no database is configured (DATABASE_URL)");
        return NULL;
    }
    return eng_store_thread(o->database_path, err);
}

static int fail(lua_State *L, const struct eng_err *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err->msg);
    lua_pushliteral(L, "store");
    return 3;
}

static void set_opt(lua_State *L, const char *k, const char *v)
{
    if (v != NULL) {
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
}

/* Fill the table at 2 from the row at 1 (a light userdata). [-0, +0, m] */
static int fill_row(lua_State *L)
{
    const struct eng_id_map_row *row = lua_touserdata(L, 1);
    lua_settop(L, 2);
    set_opt(L, "target_id", row->target_id);
    set_opt(L, "request_id", row->request_id);
    set_opt(L, "content_hash", row->content_hash);
    set_opt(L, "sync_token", row->sync_token);
    return 0;
}

/* idmap.get(key...) -> row | nil | nil, message, "store"  [-6, +(1|3), e] */
static int l_get(lua_State *L)
{
    struct eng_id_map_key k;
    check_key(L, &k);
    lua_createtable(L, 0, 4); /* before the row exists: a memory error leaks nothing */
    struct eng_err err = {0};
    struct eng_store *st = thread_store(L, &err);
    if (st == NULL)
        return fail(L, &err);
    struct eng_id_map_row row;
    int found = 0;
    if (eng_id_map_get(st, &k, &row, &found, &err) != 0)
        return fail(L, &err);
    if (!found) {
        lua_pushnil(L);
        return 1;
    }
    /* copy into the table under a protected call, so the row's strings are freed even when
     * memory runs out; then raise that error */
    int t = lua_gettop(L);
    lua_pushcfunction(L, fill_row);
    lua_pushlightuserdata(L, &row);
    lua_pushvalue(L, t);
    int rc = lua_pcall(L, 2, 0, 0);
    eng_id_map_row_free(&row);
    if (rc != LUA_OK)
        return lua_error(L);
    lua_settop(L, t);
    return 1;
}

/* idmap.put(key..., fields) -> true | nil, message, "store"  [-7, +(1|3), e] */
static int l_put(lua_State *L)
{
    struct eng_id_map_key k;
    check_key(L, &k);
    luaL_checktype(L, 7, LUA_TTABLE);
    struct eng_id_map_put v = {0};
    v.target_id = opt_field(L, 7, "target_id");
    v.sync_token = opt_field(L, 7, "sync_token");
    v.content_hash = opt_field(L, 7, "content_hash");
    v.run_id = opt_field(L, 7, "run_id");
    struct eng_err err = {0};
    if (eng_vm_db_readonly_of(L)) { /* a dry run writes nothing */
        eng_err_set(&err, ENG_EINVAL, "engine.idmap.put: a dry run writes nothing");
        return fail(L, &err);
    }
    struct eng_store *st = thread_store(L, &err);
    if (st == NULL || eng_id_map_put(st, &k, &v, &err) != 0)
        return fail(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg idmap_funcs[] = {{"get", l_get}, {"put", l_put}, {NULL, NULL}};

/* require "engine.idmap" [-0, +1, m] */
int luaopen_engine_idmap(lua_State *L)
{
    luaL_newlib(L, idmap_funcs);
    return 1;
}
