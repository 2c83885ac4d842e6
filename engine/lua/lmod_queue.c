/*
 * lmod_queue.c - engine.queue: scripts enqueue follow-up jobs ("sync customer 42 first") into
 * the durable queue (engine/data/queue.h), on this thread's own store connection.
 * Owns: nothing (the connection is the thread's, from eng_store_thread). Must not: claim, lease
 * or finish jobs (only the engine's dispatcher does), or raise while holding a statement.
 *
 * Lua API (`local queue = require "engine.queue"`):
 *   queue.enqueue{ kind = "record", entity = "orders", flow = "woo_order_to_qbo_invoice",
 *                  payload = { source = "woocommerce", entity = "orders", id = "727" },
 *                  dedupe_key = "woocommerce:orders:727", lane = "record" | "bulk",
 *                  delay_ms = 0, max_attempts = 8, tenant = <default: the calling run's> }
 *     -> id, deduped (boolean)          | nil, message, code ("busy" | "error")
 *   Raises (caller bugs): a missing kind, wrong field types, a payload JSON cannot hold.
 */
#include "lua/lmods.h"

#include <lauxlib.h>
#include <string.h>

#include "lua/json.h"
#include "data/queue.h"
#include "adapt/store.h"
#include "lua/vm_int.h"

/* Optional string field k of the table at 1, or NULL. [-0, +0, e] */
static const char *opt_field(lua_State *L, const char *k)
{
    int t = lua_getfield(L, 1, k);
    const char *v = NULL;
    if (t == LUA_TSTRING)
        v = lua_tostring(L, -1); /* the table keeps it alive */
    else if (t != LUA_TNIL)
        luaL_error(L, "engine.queue.enqueue: field '%s' must be a string", k);
    lua_pop(L, 1);
    return v;
}

static lua_Integer opt_int(lua_State *L, const char *k, lua_Integer dflt)
{
    int t = lua_getfield(L, 1, k);
    lua_Integer v = dflt;
    if (t == LUA_TNUMBER && lua_isinteger(L, -1))
        v = lua_tointeger(L, -1);
    else if (t != LUA_TNIL)
        luaL_error(L, "engine.queue.enqueue: field '%s' must be an integer", k);
    lua_pop(L, 1);
    return v;
}

/* queue.enqueue(job) -> id, deduped | nil, message, code  [-1, +(2|3), e] */
static int q_enqueue(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    struct eng_job_new j = {0};
    j.kind = opt_field(L, "kind");
    if (j.kind == NULL || *j.kind == '\0')
        return luaL_error(L, "engine.queue.enqueue: field 'kind' is required");
    j.entity = opt_field(L, "entity");
    j.flow = opt_field(L, "flow");
    j.dedupe_key = opt_field(L, "dedupe_key");
    j.run_id = opt_field(L, "run_id");
    j.tenant = opt_field(L, "tenant");
    if (j.tenant == NULL)
        j.tenant = eng_vm_tenant_of(L);
    if (j.tenant == NULL)
        return luaL_error(L, "engine.queue.enqueue: no tenant (give field 'tenant')");
    const char *lane = opt_field(L, "lane");
    if (lane == NULL || strcmp(lane, "record") == 0)
        j.priority = ENG_QUEUE_LANE_RECORD;
    else if (strcmp(lane, "bulk") == 0)
        j.priority = ENG_QUEUE_LANE_BULK;
    else
        return luaL_error(L, "engine.queue.enqueue: lane must be 'record' or 'bulk'");
    j.delay_ms = opt_int(L, "delay_ms", 0);
    lua_Integer max = opt_int(L, "max_attempts", 8);
    if (max < 1 || max > 1000)
        return luaL_error(L, "engine.queue.enqueue: max_attempts must be 1..1000");
    j.max_attempts = (int)max;
    int t = lua_getfield(L, 1, "payload");
    if (t == LUA_TTABLE) {
        eng_json_encode_top(L, lua_gettop(L), 0); /* raises on an unencodable payload */
        j.payload = lua_tostring(L, -1);
    } else if (t != LUA_TNIL) {
        return luaL_error(L, "engine.queue.enqueue: field 'payload' must be a table");
    }
    /* payload (and its encoding) stay on the stack until the call is done */

    const struct eng_vm_opts *o = eng_vm_opts_of(L);
    struct eng_err err = {0};
    struct eng_store *st = NULL;
    if (o == NULL || o->database_path == NULL || o->database_path[0] == '\0')
        eng_err_set(&err, ENG_EINVAL, "no database is configured (DATABASE_URL)");
    else if (eng_vm_db_readonly_of(L))
        eng_err_set(&err, ENG_EINVAL, "engine.queue.enqueue: a dry run writes nothing");
    else
        st = eng_store_thread(o->database_path, &err);
    int64_t id = 0;
    int deduped = 0;
    int rc = st != NULL ? eng_queue_enqueue(st, &j, &id, &deduped, &err) : err.code;
    if (rc != 0) {
        lua_pushnil(L);
        lua_pushstring(L, err.msg);
        lua_pushstring(L, rc == ENG_EBUSY ? "busy" : "error");
        return 3;
    }
    lua_pushinteger(L, (lua_Integer)id);
    lua_pushboolean(L, deduped);
    return 2;
}

static const luaL_Reg queue_funcs[] = {{"enqueue", q_enqueue}, {NULL, NULL}};

/* require "engine.queue" [-0, +1, m] */
int luaopen_engine_queue(lua_State *L)
{
    luaL_newlib(L, queue_funcs);
    return 1;
}
