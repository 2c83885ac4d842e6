/*
 * json.h - engine.json's decoder and canonical encoder, for C code that holds a lua_State.
 * Owns: the one JSON <-> Lua mapping (json.null sentinel, array/object marks, 64-bit integers,
 * canonical text) shared by `require "engine.json"` (lmod_json.c) and the C core.
 * Must not: run Lua code (no metamethod is consulted), malloc, or keep state outside the
 * lua_State (the sentinel and the marks live in its registry).
 *
 * Mapping: object <-> table marked with object_mt; array <-> table marked with array_mt (every
 * decoded table is marked, so empty ones round-trip); null <-> the json.null sentinel; an integer
 * token <-> a Lua integer when it fits int64, else a string of its exact digits; a token with a
 * fraction or exponent <-> a float; strings are UTF-8 (invalid UTF-8 is rejected both ways).
 */
#ifndef ENG_JSON_H
#define ENG_JSON_H

#include <stddef.h>

#include <lua.h>

#include "base/err.h"

/* Containers nested deeper than this are refused by both directions (<= ENG_JSON_READ_MAX_DEPTH). */
#define ENG_JSON_MAX_DEPTH 256

enum eng_json_kind {
    ENG_JSON_NONE = 0,   /* not a table, or a table that cannot be encoded */
    ENG_JSON_ARRAY = 1,  /* encodes as [...] */
    ENG_JSON_OBJECT = 2, /* encodes as {...} */
};

/* Decode len bytes of text. On success pushes the value and returns 0. On malformed text pushes
 * nothing, returns ENG_EINVAL and fills err with "json: <what> at byte N" (N 1-based).
 * Only a memory error raises. [-0, +(0|1), m] */
int eng_json_decode(lua_State *L, const char *text, size_t len, struct eng_err *err);

/* Encode the value at idx canonically: object keys sorted bytewise, no whitespace, or with
 * pretty != 0 two-space indentation (still sorted). Pushes the string (owned by Lua) and
 * returns 1, so a lua_CFunction can return it. Raises "json.encode: <what> at <path>" for a
 * value JSON cannot hold (NaN/inf, sparse or mixed table, cycle, function, ...). [-0, +1, e] */
int eng_json_encode_top(lua_State *L, int idx, int pretty);

/* Protected form of eng_json_encode_top for C callers outside any pcall. On success pushes the
 * string and returns 0; otherwise pushes nothing and returns ENG_EINVAL (unencodable value, err
 * holds the message) or ENG_ENOMEM. [-0, +(0|1), -] */
int eng_json_encode(lua_State *L, int idx, int pretty, struct eng_err *err);

/* Push the json.null sentinel of this state. [-0, +1, m] */
void eng_json_push_null(lua_State *L);
/* Is the value at idx json.null? [-0, +0, m] */
int eng_json_is_null(lua_State *L, int idx);
/* Mark the table at idx as an array or an object (replaces a json mark; the caller makes sure
 * it carries no other metatable). [-0, +0, m] */
void eng_json_mark(lua_State *L, int idx, enum eng_json_kind kind);
/* How the value at idx would be encoded: ENG_JSON_ARRAY, ENG_JSON_OBJECT, or ENG_JSON_NONE for
 * a non-table or a table whose keys make it unencodable. Never raises. [-0, +0, -] */
enum eng_json_kind eng_json_kind_of(lua_State *L, int idx);

/* ---- shared by json_dec.c, json_enc.c and lmod_json.c ---- */

/* Push json.null, array_mt and object_mt (in that order), creating them in the registry on
 * first use. [-0, +3, m] */
void eng_json_push_state(lua_State *L);
/* The json mark on the table at idx (ENG_JSON_NONE: no metatable, or not one of ours). Needs 2
 * free stack slots. [-0, +0, -] */
enum eng_json_kind eng_json_mark_of(lua_State *L, int idx);

#endif
