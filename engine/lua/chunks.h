/*
 * chunks.h - compile each script text once while a scan validates many VMs (engine/lua only).
 * Owns: the process's table of compiled chunks, alive only while a window is open. Must not:
 * load a binary chunk from anywhere but its own table (every entry is the dump of a text this
 * process compiled itself), or keep its memory once the last window closes.
 */
#ifndef ENG_CHUNKS_H
#define ENG_CHUNKS_H

#include <stddef.h>

#include <lua.h>

/* As luaL_loadbufferx(L, src, len, chunkname, "t"): pushes the function or the error message
 * and returns the status. While a window is open, a text already compiled under the same chunk
 * name is loaded from its dump instead (same function, same debug information). [-0, +1, -] */
int eng_chunks_load(lua_State *L, const char *src, size_t len, const char *chunkname);

/* Open / close a window (nested and from any thread: the table lives while one is open). */
void eng_chunks_open(void);
void eng_chunks_close(void);

#endif
