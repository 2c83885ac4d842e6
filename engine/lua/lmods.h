/*
 * lmods.h - the engine's Lua modules, one file each (engine/lmod_<name>.c).
 * vm.c registers them in the sandbox's `require` so that `require "engine.http"` finds
 * luaopen_engine_http. Nothing here is ever made a global.
 */
#ifndef ENG_LMODS_H
#define ENG_LMODS_H

#include <lua.h>

int luaopen_engine_crypto(lua_State *L); /* lmod_crypto.c */
int luaopen_engine_db(lua_State *L);     /* lmod_db.c */
int luaopen_engine_http(lua_State *L);   /* lmod_http.c */
int luaopen_engine_idmap(lua_State *L);  /* lmod_idmap.c */
int luaopen_engine_text(lua_State *L);   /* lmod_text.c */
int luaopen_engine_json(lua_State *L);   /* lmod_json.c */
int luaopen_engine_log(lua_State *L);    /* lmod_log.c */
int luaopen_engine_money(lua_State *L);  /* lmod_money.c */
int luaopen_engine_queue(lua_State *L);  /* lmod_queue.c */
int luaopen_engine_trace(lua_State *L);  /* lmod_trace.c */

/* Create (once per state) the metatable `tname` of a userdata that owns a resource: __gc and
 * __close both call close (which must be idempotent), __metatable hides it behind label.
 * Leaves the stack as it was. [-0, +0, m] (lmod_util.c) */
void eng_lmod_handle_mt(lua_State *L, const char *tname, lua_CFunction close, const char *label);

#endif
