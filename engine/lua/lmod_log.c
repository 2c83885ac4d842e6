/*
 * lmod_log.c - engine.log: structured log lines from scripts.
 * Values under keys that look secret are redacted at any depth (log.c decides what is secret).
 * The line is built in a buffer owned by a userdata, so an out-of-memory raise leaks nothing,
 * and it is capped (LOG_MSG_MAX, LOG_FIELDS_MAX): what a script logs costs at most ~17 KiB
 * outside its memory cap, however large the values it hands over.
 */
#include "lua/lmods.h"

#include <lauxlib.h>
#include <math.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "lua/vm_int.h"

#define LOG_BUF_MT    "engine.log.buf"
#define LOG_MAX_DEPTH 8
/* The documented caps (README, "engine.log"): the message is cut at LOG_MSG_MAX bytes and the
 * fields at LOG_FIELDS_MAX bytes of JSON (plus the brackets that close what was open); a cut line
 * carries "log_truncated":true. The walk stops at the cap, so a table of 512 references to one
 * 8 MiB string costs what 16 KiB costs. */
#define LOG_MSG_MAX    1024
#define LOG_FIELDS_MAX 16384

/* The line being built: owned by a userdata, so a raise (luaL_checkstack) leaks nothing. */
struct log_line {
    struct eng_buf b;
    size_t max; /* b.len stays at most max, but for closing brackets */
    int cut;    /* something did not fit: the walk stops */
};

/* __gc of the line. [-0, +0, -] */
static int log_buf_gc(lua_State *L)
{
    struct log_line *w = luaL_checkudata(L, 1, LOG_BUF_MT);
    eng_buf_free(&w->b);
    return 0;
}

static size_t log_room(const struct log_line *w)
{
    return w->b.len < w->max ? w->max - w->b.len : 0;
}

/* How many bytes eng_buf_json_str writes for byte c. */
static size_t log_esc_len(unsigned char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '\n':
    case '\r':
    case '\t':
    case '\b':
    case '\f':
        return 2;
    default:
        return c < 0x20 ? 6 : 1;
    }
}

/* Write s[0..n) as a JSON string in at most room bytes (quotes included), cut at a UTF-8
 * character boundary; marks the line cut when it does not fit whole. Returns 0, or -1 (nothing
 * written) when not even "" fits. Linear in what is written. */
static int log_str(struct log_line *w, const char *s, size_t n, size_t room)
{
    size_t used = 2, k = 0;

    if (room < 2)
        return -1;
    while (k < n && used + log_esc_len((unsigned char)s[k]) <= room)
        used += log_esc_len((unsigned char)s[k++]);
    if (k < n) {
        k = eng_buf_utf8_cut(s, n, k);
        w->cut = 1;
    }
    eng_buf_json_str(&w->b, s, k);
    return 0;
}

static void log_value(lua_State *L, struct log_line *w, int idx, int depth);

/* Keys of the line itself, which fields must not repeat (JSON readers keep the last one). */
static int log_reserved(const char *k, size_t n)
{
    static const char *const names[] = {"time", "level", "msg", "tenant", "run", "log_truncated"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0)
            return 1;
    return 0;
}

/* Escaped length of k[0..n) as a JSON string, stopping once it passes limit. */
static size_t log_key_len(const char *k, size_t n, size_t limit)
{
    size_t len = 2;
    for (size_t i = 0; i < n && len <= limit; i++)
        len += log_esc_len((unsigned char)k[i]);
    return len;
}

/* Write the table at idx as a JSON object (or array when its keys are 1..n), stopping at the
 * line's cap. [-0, +0, m] */
static void log_table(lua_State *L, struct log_line *w, int idx, int depth)
{
    idx = lua_absindex(L, idx);
    eng_vm_frozen_open(L, idx); /* a module's frozen table: read its contents */
    if (depth >= LOG_MAX_DEPTH) {
        if (log_str(w, "[nested too deep]", 17, log_room(w)) != 0) {
            eng_buf_puts(&w->b, "null");
            w->cut = 1;
        }
        return;
    }
    luaL_checkstack(L, 4, "engine.log: nested too deep");
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    int is_array = n > 0;
    lua_Integer count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) { /* as many entries as the memory cap lets a table hold */
        count++;
        if (!lua_isinteger(L, -2))
            is_array = 0;
        lua_pop(L, 1);
    }
    if (count != n)
        is_array = 0;

    if (is_array) {
        eng_buf_putc(&w->b, '[');
        for (lua_Integer i = 1; i <= n && !w->cut; i++) {
            if (log_room(w) < 6) { /* ",null" and the bracket */
                w->cut = 1;
                break;
            }
            if (i > 1)
                eng_buf_putc(&w->b, ',');
            lua_rawgeti(L, idx, i);
            log_value(L, w, -1, depth + 1);
            lua_pop(L, 1);
        }
        eng_buf_putc(&w->b, ']');
        return;
    }
    eng_buf_putc(&w->b, '{');
    int first = 1;
    lua_pushnil(L);
    while (!w->cut && lua_next(L, idx)) {
        char numkey[64];
        const char *k;
        size_t klen;
        if (lua_type(L, -2) == LUA_TSTRING) {
            k = lua_tolstring(L, -2, &klen);
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
            /* never lua_tostring the key itself: that would confuse lua_next */
            if (lua_isinteger(L, -2))
                klen = (size_t)snprintf(numkey, sizeof numkey, "%lld",
                                        (long long)lua_tointeger(L, -2));
            else
                klen = (size_t)snprintf(numkey, sizeof numkey, "%.17g", lua_tonumber(L, -2));
            k = numkey;
        } else {
            lua_pop(L, 1);
            continue;
        }
        /* the member whole (",", the key, ":" and at least null) or not at all */
        int shadow = depth == 0 && log_reserved(k, klen);
        size_t need = 1 + log_key_len(k, klen, log_room(w)) + (shadow ? 6 : 0) + 1 + 4;
        if (need > log_room(w)) {
            w->cut = 1;
            lua_pop(L, 2); /* value and key: the walk ends here */
            break;
        }
        if (!first)
            eng_buf_putc(&w->b, ',');
        first = 0;
        if (shadow) {
            /* never let a field shadow the line's own time/level/msg/tenant/run */
            eng_buf_puts(&w->b, "\"field.");
            eng_buf_append(&w->b, k, klen);
            eng_buf_putc(&w->b, '"');
        } else {
            eng_buf_json_str(&w->b, k, klen);
        }
        eng_buf_putc(&w->b, ':');
        if (eng_log_key_is_secret(k, klen)) {
            if (log_str(w, "[REDACTED]", 10, log_room(w)) != 0) {
                eng_buf_puts(&w->b, "null");
                w->cut = 1;
            }
        } else {
            log_value(L, w, -1, depth + 1);
        }
        lua_pop(L, 1);
    }
    eng_buf_putc(&w->b, '}');
}

/* Write one value in what room is left: a string is cut to fit; anything that does not fit
 * becomes null and ends the walk. [-0, +0, m] */
static void log_value(lua_State *L, struct log_line *w, int idx, int depth)
{
    size_t room = log_room(w);

    if (room < 32 && lua_type(L, idx) != LUA_TSTRING) {
        eng_buf_puts(&w->b, "null");
        w->cut = 1;
        return;
    }
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        if (log_str(w, s, n, room) != 0) {
            eng_buf_puts(&w->b, "null");
            w->cut = 1;
        }
        break;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            eng_buf_printf(&w->b, "%lld", (long long)lua_tointeger(L, idx));
        } else {
            double d = lua_tonumber(L, idx);
            if (isfinite(d))
                eng_buf_printf(&w->b, "%.17g", d);
            else
                eng_buf_puts(&w->b, "null");
        }
        break;
    case LUA_TBOOLEAN:
        eng_buf_puts(&w->b, lua_toboolean(L, idx) ? "true" : "false");
        break;
    case LUA_TTABLE:
        log_table(L, w, idx, depth);
        break;
    case LUA_TNIL:
        eng_buf_puts(&w->b, "null");
        break;
    default:
        eng_buf_printf(&w->b, "\"[%s]\"", luaL_typename(L, idx));
        break;
    }
}

/* Shared body of log.debug/info/warn/error(msg [, fields]) -> nothing.
 * msg must be a string; fields, when given, a table. [-0, +0, v] */
static int log_at(lua_State *L, enum eng_log_level level)
{
    size_t mlen;
    const char *msg = luaL_checklstring(L, 1, &mlen);
    char mcut[LOG_MSG_MAX + 1];
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    if (level < eng_log_get_level())
        return 0;

    struct log_line *w = lua_newuserdatauv(L, sizeof *w, 0);
    eng_buf_init(&w->b);
    w->max = LOG_FIELDS_MAX;
    w->cut = 0;
    luaL_setmetatable(L, LOG_BUF_MT);
    /* the message: at most LOG_MSG_MAX bytes, whole UTF-8 characters, up to a NUL */
    mlen = strnlen(msg, mlen < LOG_MSG_MAX ? mlen : LOG_MSG_MAX + 1);
    if (mlen > LOG_MSG_MAX) {
        mlen = eng_buf_utf8_cut(msg, mlen, LOG_MSG_MAX);
        w->cut = 1;
    }
    memcpy(mcut, msg, mlen);
    mcut[mlen] = '\0';
    int msg_cut = w->cut;
    w->cut = 0;
    if (lua_istable(L, 2)) {
        eng_buf_puts(&w->b, "\"fields\":");
        w->max += w->b.len;
        log_table(L, w, 2, 0);
        int object = w->b.len > 10 && w->b.data[9] == '{';
        int trunc = w->cut || msg_cut;
        if (object) {
            /* an object: its members join the line (strip "fields":{ and }) */
            w->b.len--;
            w->b.data[w->b.len] = '\0';
            if (trunc)
                eng_buf_puts(&w->b,
                             w->b.len > 10 ? ",\"log_truncated\":true" : "\"log_truncated\":true");
        } else if (trunc) {
            /* a list: kept whole under "fields" */
            eng_buf_puts(&w->b, ",\"log_truncated\":true");
        }
        if (w->b.oom)
            eng_log_raw(level, eng_vm_tenant_of(L), eng_vm_run_of(L), mcut,
                        "\"log_truncated\":true");
        else
            eng_log_raw(level, eng_vm_tenant_of(L), eng_vm_run_of(L), mcut,
                        object ? w->b.data + 10 : w->b.data);
    } else {
        eng_log_raw(level, eng_vm_tenant_of(L), eng_vm_run_of(L), mcut,
                    msg_cut ? "\"log_truncated\":true" : NULL);
    }
    eng_buf_free(&w->b);
    return 0;
}

/* log.debug(msg [, fields]) */
static int log_debug(lua_State *L)
{
    return log_at(L, ENG_LOG_DEBUG);
}

/* log.info(msg [, fields]) */
static int log_info(lua_State *L)
{
    return log_at(L, ENG_LOG_INFO);
}

/* log.warn(msg [, fields]) */
static int log_warn(lua_State *L)
{
    return log_at(L, ENG_LOG_WARN);
}

/* log.error(msg [, fields]) */
static int log_error(lua_State *L)
{
    return log_at(L, ENG_LOG_ERROR);
}

/* log.is_secret_key(key) -> boolean: would this key's value be redacted? [-0, +1, v] */
static int log_is_secret_key(lua_State *L)
{
    size_t n;
    const char *k = luaL_checklstring(L, 1, &n);
    lua_pushboolean(L, eng_log_key_is_secret(k, n));
    return 1;
}

static const luaL_Reg log_funcs[] = {
    {"debug", log_debug},
    {"info", log_info},
    {"warn", log_warn},
    {"error", log_error},
    {"is_secret_key", log_is_secret_key},
    {NULL, NULL},
};

/* [-0, +1, m] */
int luaopen_engine_log(lua_State *L)
{
    if (luaL_newmetatable(L, LOG_BUF_MT)) {
        lua_pushcfunction(L, log_buf_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    luaL_newlib(L, log_funcs);
    return 1;
}
