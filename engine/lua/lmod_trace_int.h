/*
 * lmod_trace_int.h - what engine.trace's files share (lmod_trace.c: hooks, session, traced
 * require; lmod_trace_table.c: the table library traced code sees). Not for other modules.
 */
#ifndef ENG_LMOD_TRACE_INT_H
#define ENG_LMOD_TRACE_INT_H

#include <lua.h>

/* Push the origins table of the running explain and return 1; 0 (nothing pushed) when none.
 * [-0, +0|1, -] */
int eng_trace_push_session(lua_State *L);
/* Push origins[t] (t at index ti; origins at oi), created when absent. [-0, +1, m] */
void eng_trace_push_keymap(lua_State *L, int oi, int ti);
/* Push the writer's file (the Lua function at level 1) and the array of its callers'
 * "file:line" up to the mapping. [-0, +2, m] */
void eng_trace_push_writer(lua_State *L);
/* Push a new entry { where = "<file at fi>:line", via = <the array at vi> }. [-0, +1, m] */
void eng_trace_push_entry(lua_State *L, int fi, int vi, lua_Integer line);
/* Push the `table` library of traced code (lmod_trace_table.c). [-0, +1, m] */
void eng_trace_push_table_lib(lua_State *L);

#endif
