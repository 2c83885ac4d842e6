/*
 * lmod_http.c - engine.http: outbound HTTP(S) for connector scripts, on eng_httpc (httpc.h).
 * Owns: this VM's eng_httpc handles (a userdata anchored in the registry, freed by __gc at
 * lua_close: one, and up to HTTP_MAX_PARALLEL - 1 more for http.request_all) and each request's
 * response buffers (a userdata job, so a raise cannot leak them).
 * Must not: raise for failures of the world (they return nil, message, code), put request
 * headers into any message, hold C heap across a call that can raise, or offer a way to turn
 * TLS verification off.
 */
#include "lua/lmods.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "adapt/httpc.h"
#include "base/clock.h"
#include "lua/json.h"
#include "lua/vm_int.h"

#define HTTP_CLIENT_MT   "engine.http.client"
#define HTTP_MAX_HEADERS 200
#define HTTP_MAX_METHOD  16

static const char http_key_client = 'c'; /* registry[&key] = this VM's client userdata */

#define HTTP_JOB_MT       "engine.http.job"
#define HTTP_MAX_PARALLEL 10 /* http.request_all: requests in flight at once (QuickBooks: 10) */
#define HTTP_MAX_BATCH    64 /* http.request_all: requests in one call */

#define HTTP_ASYNC_MT  "engine.http.async"
#define HTTP_MAX_ASYNC 16 /* http.start: requests of this VM in flight at once, all handles */

struct http_client {
    struct eng_httpc *h;                           /* NULL until first use, and after __gc */
    struct eng_httpc *pool[HTTP_MAX_PARALLEL - 1]; /* request_all's other handles, on demand */
    struct eng_httpc *idle[HTTP_MAX_ASYNC];        /* http.start's handles between uses (their
                                                    * connections stay open for the next) */
    size_t nidle;
    size_t async_out; /* handles http.start's groups hold (started, not yet given back) */
};

/* One prepared request (http_prepare) and its answer: a userdata whose user value anchors every
 * string and array req points into; __gc clears the response. */
struct http_job {
    struct eng_httpc_req req;
    struct eng_ratelimit also;
    char method[HTTP_MAX_METHOD + 1];
    struct eng_httpc_resp r;
    struct eng_httpc *h; /* borrowed from the client for one perform */
    struct eng_err err;
    int rc;
    int offline; /* engine.http is off for this VM: nothing is sent */
};

/* One query pair, pointing into strings anchored in a private table on the stack. */
struct http_pair {
    const char *k, *v;
    size_t kl, vl;
    size_t order; /* keeps array values in their order under qsort */
};

/* {====================== userdata plumbing ====================== */

/* [-1, +0, -] __gc and __close of the client. */
static int http_client_close(lua_State *L)
{
    struct http_client *c = luaL_checkudata(L, 1, HTTP_CLIENT_MT);
    eng_httpc_free(c->h);
    c->h = NULL;
    for (size_t i = 0; i < HTTP_MAX_PARALLEL - 1; i++) {
        eng_httpc_free(c->pool[i]);
        c->pool[i] = NULL;
    }
    for (size_t i = 0; i < c->nidle; i++)
        eng_httpc_free(c->idle[i]);
    c->nidle = 0;
    return 0;
}

/* [-1, +0, -] __gc and __close of a job. */
static int http_job_close(lua_State *L)
{
    struct http_job *j = luaL_checkudata(L, 1, HTTP_JOB_MT);
    eng_httpc_resp_clear(&j->r);
    return 0;
}

/* This VM's curl handle, created on first use. Pushes the client userdata that owns it.
 * Returns NULL (err filled) when libcurl cannot give a handle. [-0, +1, m] */
static struct eng_httpc *http_client(lua_State *L, struct eng_err *err)
{
    struct http_client *c;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &http_key_client) == LUA_TUSERDATA) {
        c = lua_touserdata(L, -1);
        if (c->h != NULL)
            return c->h;
    } else {
        lua_pop(L, 1);
        eng_lmod_handle_mt(L, HTTP_CLIENT_MT, http_client_close, "engine.http internal");
        c = lua_newuserdatauv(L, sizeof *c, 0);
        memset(c, 0, sizeof *c);
        luaL_setmetatable(L, HTTP_CLIENT_MT); /* finalizable before it owns anything */
        lua_pushvalue(L, -1);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &http_key_client);
    }
    c->h = eng_httpc_new(err); /* owned by the userdata from here on; nothing raises between */
    return c->h;
}

/* }====================== */

/* {====================== URL encoding ====================== */

static int http_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static size_t http_enc_len(const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += http_unreserved((unsigned char)s[i]) ? 1 : 3;
    return len;
}

static char *http_enc(char *d, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (http_unreserved(c)) {
            *d++ = (char)c;
        } else {
            *d++ = '%';
            *d++ = hex[c >> 4];
            *d++ = hex[c & 15];
        }
    }
    return d;
}

/* http.urlencode(s) -> string
 * Percent-encodes everything but RFC 3986 unreserved characters (space becomes %20).
 * [-0, +1, m] */
static int l_http_urlencode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    size_t len = http_enc_len(s, n);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, len);
    http_enc(p, s, n);
    luaL_pushresultsize(&b, len);
    return 1;
}

static int http_scalar(int type)
{
    return type == LUA_TSTRING || type == LUA_TNUMBER || type == LUA_TBOOLEAN;
}

/* Push the string form of the scalar at idx. [-0, +1, m] */
static void http_push_scalar(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TBOOLEAN) {
        lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
    } else {
        lua_pushvalue(L, idx);
        lua_tostring(L, -1); /* a number becomes a string in the copy only */
    }
}

static int http_pair_cmp(const void *a, const void *b)
{
    const struct http_pair *x = a, *y = b;
    size_t n = x->kl < y->kl ? x->kl : y->kl;
    int c = memcmp(x->k, y->k, n);
    if (c != 0)
        return c;
    if (x->kl != y->kl)
        return x->kl < y->kl ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Push the query string of table t ("a=1&b=x%20y", keys sorted bytewise, array values repeat
 * the key). Bad shapes raise an argument error on argn. [-0, +1, v] */
static void http_push_query(lua_State *L, int t, int argn)
{
    size_t n = 0;
    t = lua_absindex(L, t);
    eng_vm_frozen_open(L, t); /* a module's frozen table: read its contents */
    lua_pushnil(L);
    while (lua_next(L, t) != 0) { /* pass 1: validate and count, no conversions */
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_argerror(L, argn, "query keys must be strings");
        if (lua_type(L, -1) == LUA_TTABLE) {
            eng_vm_frozen_open(L, -1);
            lua_Integer len = (lua_Integer)lua_rawlen(L, -1);
            for (lua_Integer i = 1; i <= len; i++) {
                if (!http_scalar(lua_rawgeti(L, -1, i)))
                    luaL_argerror(L, argn,
                                  "query values must be strings, numbers, booleans "
                                  "or arrays of those");
                lua_pop(L, 1);
            }
            n += (size_t)len;
        } else if (http_scalar(lua_type(L, -1))) {
            n++;
        } else {
            luaL_argerror(L, argn,
                          "query values must be strings, numbers, booleans or arrays of those");
        }
        lua_pop(L, 1);
    }

    /* pass 2: strings into a private anchor table, pointers into a userdata array */
    lua_createtable(L, (int)(n < 1000000 ? 2 * n : 0), 0); /* anchor */
    int a = lua_gettop(L);
    struct http_pair *p = lua_newuserdatauv(L, (n > 0 ? n : 1) * sizeof *p, 0);
    size_t k = 0;
    lua_Integer slot = 0;
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        int vt = lua_type(L, -1);
        if (vt == LUA_TTABLE)
            eng_vm_frozen_open(L, -1);
        lua_Integer len = vt == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, -1) : 1;
        for (lua_Integer i = 1; i <= len; i++) {
            if (k >= n)
                luaL_error(L, "query table changed while being encoded");
            if (vt == LUA_TTABLE)
                lua_rawgeti(L, -1, i);
            else
                lua_pushvalue(L, -1);
            if (!http_scalar(lua_type(L, -1)))
                luaL_error(L, "query table changed while being encoded");
            http_push_scalar(L, -1);
            p[k].v = lua_tolstring(L, -1, &p[k].vl);
            lua_rawseti(L, a, ++slot); /* anchored: the pointer stays valid */
            lua_pop(L, 1);
            lua_pushvalue(L, -2);
            p[k].k = lua_tolstring(L, -1, &p[k].kl); /* a string key: no conversion */
            lua_rawseti(L, a, ++slot);
            p[k].order = k;
            k++;
        }
        lua_pop(L, 1);
    }
    qsort(p, k, sizeof *p, http_pair_cmp);

    size_t len = 0;
    for (size_t i = 0; i < k; i++)
        len += (i > 0) + http_enc_len(p[i].k, p[i].kl) + 1 + http_enc_len(p[i].v, p[i].vl);
    luaL_Buffer b;
    char *d = luaL_buffinitsize(L, &b, len);
    for (size_t i = 0; i < k; i++) {
        if (i > 0)
            *d++ = '&';
        d = http_enc(d, p[i].k, p[i].kl);
        *d++ = '=';
        d = http_enc(d, p[i].v, p[i].vl);
    }
    luaL_pushresultsize(&b, len); /* anchor ud query */
    lua_replace(L, a);
    lua_pop(L, 1);
}

/* http.build_query(t) -> string
 * {b="x y", a={1,2}} -> "a=1&a=2&b=x%20y" (keys sorted). Raises on keys that are not strings
 * or values that are not scalars / arrays of scalars. [-0, +1, v] */
static int l_http_build_query(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    http_push_query(L, 1, 1);
    return 1;
}

/* }====================== */

/* {====================== requests ====================== */

static const char *const http_opt_names[] = {
    "method",     "url",     "headers",          "body",         "json",      "query",
    "timeout_ms", "retries", "follow_redirects", "retry_unsafe", "max_bytes", "rate",
    NULL};

static int http_is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int http_is_token(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!http_is_tchar((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Integer field k of t within [lo, hi], or dflt when absent. [-0, +0, v] */
static lua_Integer http_int_opt(lua_State *L, int t, const char *k, lua_Integer lo, lua_Integer hi,
                                lua_Integer dflt, int argn)
{
    int isint = 0;
    lua_Integer v = dflt;
    int type = lua_getfield(L, t, k);
    if (type != LUA_TNIL) {
        v = type == LUA_TNUMBER ? lua_tointegerx(L, -1, &isint) : 0;
        if (!isint || v < lo || v > hi)
            luaL_argerror(L, argn,
                          lua_pushfstring(L, "field '%s' must be an integer in %I..%I", k, lo, hi));
    }
    lua_pop(L, 1);
    return v;
}

/* Boolean field k of t, false when absent. [-0, +0, v] */
static int http_bool_opt(lua_State *L, int t, const char *k, int argn)
{
    int type = lua_getfield(L, t, k);
    if (type != LUA_TNIL && type != LUA_TBOOLEAN)
        luaL_argerror(L, argn, lua_pushfstring(L, "field '%s' must be a boolean", k));
    int v = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

/* Raise unless url (at idx) is an absolute http(s) URL. [-0, +0, v] */
/* The limits of a rate table at r into *rl; pushes rate.key, which rl->key points into.
 * [-0, +1, v] */
static void http_rate_opt(lua_State *L, int r, struct eng_ratelimit *rl, int argn)
{
    if (lua_getfield(L, r, "key") != LUA_TSTRING || lua_rawlen(L, -1) == 0 ||
        lua_rawlen(L, -1) > 200)
        luaL_argerror(L, argn, "rate.key must be a non-empty string (up to 200 bytes)");
    rl->key = lua_tostring(L, -1); /* anchored: stays on the stack */
    int isnum = 0;
    lua_getfield(L, r, "per_second");
    double ps = lua_isnil(L, -1) ? 0 : lua_tonumberx(L, -1, &isnum);
    if (!lua_isnil(L, -1) && (!isnum || ps < 0 || ps > 100000))
        luaL_argerror(L, argn, "rate.per_second must be a number in 0..100000");
    lua_pop(L, 1);
    rl->per_second = ps;
    rl->burst = (int)http_int_opt(L, r, "burst", 1, 100000, ps > 1 ? (lua_Integer)ps : 1, argn);
    rl->max_concurrent = (int)http_int_opt(L, r, "concurrent", 0, 10000, 0, argn);
    rl->per_window = (int)http_int_opt(L, r, "per_window", 0, 100000, 0, argn);
    rl->window_ms = (long)http_int_opt(L, r, "window_ms", 1, 3600000, 60000, argn);
}

static void http_check_url(lua_State *L, int idx, int argn)
{
    struct eng_err err = {0, ""};
    if (eng_httpc_check_url(lua_tostring(L, idx), &err) != 0)
        luaL_argerror(L, argn, lua_pushstring(L, err.msg));
}

/* Headers of table at h (absolute): validated names/values into a private anchor table and a
 * userdata array of n (+1 for a JSON content type) entries. Sets out and count; has_ct tells
 * whether a Content-Type was given. Pushes anchor and array. [-0, +2, v] */
static void http_push_headers(lua_State *L, int h, int argn, struct eng_httpc_header **out,
                              size_t *count, int *has_ct)
{
    size_t n = 0;
    *has_ct = 0;
    if (h != 0) {
        eng_vm_frozen_open(L, h); /* a module's frozen table: read its contents */
        lua_pushnil(L);
        while (lua_next(L, h) != 0) { /* validate, no conversions */
            size_t kl = 0, vl = 0;
            const char *name = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kl) : NULL;
            if (name == NULL || !http_is_token(name, kl))
                luaL_argerror(L, argn, "header names must be HTTP tokens (strings)");
            int vt = lua_type(L, -1);
            if (vt != LUA_TSTRING && vt != LUA_TNUMBER)
                luaL_argerror(L, argn, "header values must be strings or numbers");
            if (vt == LUA_TSTRING) {
                const char *v = lua_tolstring(L, -1, &vl);
                for (size_t i = 0; i < vl; i++)
                    if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
                        luaL_argerror(L, argn, "header values must not contain CR, LF or NUL");
            }
            if (++n > HTTP_MAX_HEADERS)
                luaL_argerror(L, argn, "too many headers");
            lua_pop(L, 1);
        }
    }
    lua_createtable(L, (int)(2 * n), 0);
    int a = lua_gettop(L);
    struct eng_httpc_header *arr = lua_newuserdatauv(L, (n + 1) * sizeof *arr, 0);
    size_t k = 0;
    if (h != 0) {
        lua_pushnil(L);
        while (lua_next(L, h) != 0) {
            if (k >= n || lua_type(L, -2) != LUA_TSTRING ||
                (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER))
                luaL_error(L, "headers table changed while being read");
            http_push_scalar(L, -1);
            arr[k].value = lua_tostring(L, -1);
            lua_rawseti(L, a, (lua_Integer)(2 * k + 1));
            lua_pushvalue(L, -2);
            arr[k].name = lua_tostring(L, -1);
            lua_rawseti(L, a, (lua_Integer)(2 * k + 2));
            if (strcasecmp(arr[k].name, "content-type") == 0)
                *has_ct = 1;
            k++;
            lua_pop(L, 1);
        }
    }
    *out = arr;
    *count = k;
}

/* Push the response table for r (status, attempts, body, headers). [-0, +1, m] */
static void http_push_response(lua_State *L, const struct eng_httpc_resp *r)
{
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "status");
    lua_pushinteger(L, r->attempts);
    lua_setfield(L, -2, "attempts");
    lua_pushlstring(L, r->body != NULL ? r->body : "", r->body_len);
    lua_setfield(L, -2, "body");

    lua_createtable(L, 0, (int)(r->nhdr < 64 ? r->nhdr : 64));
    size_t pos = 0;
    const char *name, *value;
    while (eng_httpc_resp_header_next(r, &pos, &name, &value)) {
        if (lua_getfield(L, -1, name) == LUA_TSTRING) { /* repeated: join with ", " */
            lua_pushfstring(L, "%s, %s", lua_tostring(L, -1), value);
            lua_setfield(L, -3, name);
        } else {
            lua_pushstring(L, value);
            lua_setfield(L, -3, name);
        }
        lua_pop(L, 1);
    }
    lua_setfield(L, -2, "headers");
}

/* Is this Content-Type JSON (application/json or any +json type)? */
static int http_is_json_type(const char *ct)
{
    if (ct == NULL)
        return 0;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return 1;
    return n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

/* resp.json = the decoded body when the response says it is JSON. A body that does not decode
 * sets resp.json_error instead (a failure of the world, not a raise). [-0, +0, m] */
static void http_decode_json(lua_State *L, int resp, const struct eng_httpc_resp *r)
{
    if (r->body_len == 0 || !http_is_json_type(eng_httpc_resp_header(r, "content-type")))
        return;
    struct eng_err err = {0, ""};
    if (eng_json_decode(L, r->body, r->body_len, &err) == 0) {
        lua_setfield(L, resp, "json");
    } else {
        lua_pushstring(L, err.msg);
        lua_setfield(L, resp, "json_error");
    }
}

/* The request described by table t. Arguments are all checked before anything is acquired.
 * Returns resp or nil, message, code. argn names t in argument errors. [-0, +(1|3), e] */
/* luaL_argerror for http_prepare (it raises; the NULL is never seen). */
static struct http_job *http_argerror(lua_State *L, int argn, const char *msg)
{
    luaL_argerror(L, argn, msg);
    return NULL;
}

/* Read the request table at t into a new job, pushed: its req points into strings and arrays
 * anchored in the job's user value. Bad arguments raise (argn names the argument). Builds Lua
 * values only; the job owns no C heap until it is performed. [-0, +1, v] */
static struct http_job *http_prepare(lua_State *L, int t, int argn)
{
    t = lua_absindex(L, t);
    luaL_checktype(L, t, LUA_TTABLE);
    eng_vm_frozen_open(L, t); /* a module's frozen table: read its contents */
    luaL_checkstack(L, 24, "engine.http");
    eng_lmod_handle_mt(L, HTTP_JOB_MT, http_job_close, "engine.http internal");
    struct http_job *job = lua_newuserdatauv(L, sizeof *job, 1);
    memset(job, 0, sizeof *job);
    eng_httpc_resp_init(&job->r);
    luaL_setmetatable(L, HTTP_JOB_MT);
    int jidx = lua_gettop(L);
    struct eng_httpc_req req;
    memset(&req, 0, sizeof req);

    const struct eng_vm_opts *vo = eng_vm_opts_of(L);
    if (vo != NULL && vo->no_network) { /* a text nobody published: no request leaves */
        job->offline = 1;
        return job;
    }
    /* unknown fields are a caller's bug (timeout= instead of timeout_ms=) */
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        int known = 0;
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            for (size_t i = 0; http_opt_names[i] != NULL && !known; i++)
                known = strcmp(k, http_opt_names[i]) == 0;
        }
        if (!known) {
            lua_pop(L, 1);
            return http_argerror(
                L, argn,
                lua_pushfstring(L, "unknown request field '%s'", luaL_tolstring(L, -1, NULL)));
        }
        lua_pop(L, 1);
    }

    /* method: an upper-cased token */
    char *method = job->method;
    memcpy(method, "GET", 4);
    int type = lua_getfield(L, t, "method");
    if (type != LUA_TNIL) {
        size_t n = 0;
        const char *m = type == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
        if (m == NULL || n > HTTP_MAX_METHOD || !http_is_token(m, n))
            return http_argerror(L, argn, "field 'method' must be an HTTP method name");
        for (size_t i = 0; i <= n; i++)
            method[i] = m[i] >= 'a' && m[i] <= 'z' ? (char)(m[i] - 'a' + 'A') : m[i];
    }
    lua_pop(L, 1);

    if (lua_getfield(L, t, "url") != LUA_TSTRING)
        return http_argerror(L, argn, "field 'url' must be a string");
    http_check_url(L, -1, argn);
    int url_idx = lua_gettop(L);

    type = lua_getfield(L, t, "headers");
    if (type != LUA_TNIL && type != LUA_TTABLE)
        return http_argerror(L, argn, "field 'headers' must be a table");
    int hdr_idx = type == LUA_TTABLE ? lua_gettop(L) : 0;

    int btype = lua_getfield(L, t, "body");
    if (btype != LUA_TNIL && btype != LUA_TSTRING)
        return http_argerror(L, argn, "field 'body' must be a string");
    int body_idx = lua_gettop(L);
    int jtype = lua_getfield(L, t, "json");
    if (jtype != LUA_TNIL && jtype != LUA_TTABLE)
        return http_argerror(L, argn, "field 'json' must be a table");
    if (jtype != LUA_TNIL && btype != LUA_TNIL)
        return http_argerror(L, argn, "give either 'body' or 'json', not both");
    int json_idx = lua_gettop(L);

    type = lua_getfield(L, t, "query");
    if (type != LUA_TNIL && type != LUA_TTABLE)
        return http_argerror(L, argn, "field 'query' must be a table");
    int query_idx = type == LUA_TTABLE ? lua_gettop(L) : 0;

    req.timeout_ms = (long)http_int_opt(L, t, "timeout_ms", 1, ENG_HTTPC_MAX_TIMEOUT_MS,
                                        ENG_HTTPC_DEFAULT_TIMEOUT_MS, argn);
    req.retries = (int)http_int_opt(L, t, "retries", 0, ENG_HTTPC_MAX_RETRIES, 0, argn);
    req.max_body =
        (size_t)http_int_opt(L, t, "max_bytes", 1, ENG_HTTPC_MAX_BODY, ENG_HTTPC_MAX_BODY, argn);
    req.follow_redirects = http_bool_opt(L, t, "follow_redirects", argn);
    req.retry_unsafe = http_bool_opt(L, t, "retry_unsafe", argn);

    /* rate = {key = "quickbooks:<realm>", per_second = 8.3, burst = 10, concurrent = 10,
     * per_window = 500, window_ms = 61000, also = {key = ..., ...}}: limits shared by every
     * worker of the process for that key (and also's, taken together) */
    struct eng_ratelimit *also = &job->also;
    type = lua_getfield(L, t, "rate");
    if (type != LUA_TNIL && type != LUA_TTABLE)
        return http_argerror(L, argn, "field 'rate' must be a table");
    if (type == LUA_TTABLE) {
        int r = lua_gettop(L);
        http_rate_opt(L, r, &req.limit, argn); /* pushes the key (anchored on the stack) */
        type = lua_getfield(L, r, "also");
        if (type != LUA_TNIL && type != LUA_TTABLE)
            return http_argerror(L, argn, "rate.also must be a table");
        if (type == LUA_TTABLE) {
            http_rate_opt(L, lua_gettop(L), also, argn);
            req.limit.also = also;
        }
    }

    /* everything below builds Lua values only; C resources come last */
    int has_ct = 0;
    struct eng_httpc_header *hdrs;
    size_t nh;
    http_push_headers(L, hdr_idx, argn, &hdrs, &nh, &has_ct); /* anchor, array */

    if (jtype != LUA_TNIL) {
        eng_json_encode_top(L, json_idx, 0); /* raises on a value JSON cannot hold */
        lua_replace(L, body_idx);
        if (!has_ct) {
            hdrs[nh].name = "Content-Type";
            hdrs[nh].value = "application/json";
            nh++;
        }
    }
    if (lua_type(L, body_idx) == LUA_TSTRING)
        req.body = lua_tolstring(L, body_idx, &req.body_len);

    if (query_idx != 0) { /* url + ('?' or '&') + query, before any '#fragment' */
        size_t ul;
        const char *u = lua_tolstring(L, url_idx, &ul);
        size_t frag = strcspn(u, "#");
        http_push_query(L, query_idx, argn);
        if (lua_rawlen(L, -1) > 0) {
            lua_pushlstring(L, u, frag);
            lua_pushstring(L, memchr(u, '?', frag) != NULL ? "&" : "?");
            lua_pushvalue(L, -3);
            lua_pushstring(L, u + frag);
            lua_concat(L, 4);
            lua_replace(L, url_idx);
        }
        lua_pop(L, 1);
    }
    req.url = lua_tostring(L, url_idx);
    req.method = method;
    req.headers = hdrs;
    req.nheaders = nh;

    job->req = req;
    /* anchor everything pushed above the job in its user value */
    int top = lua_gettop(L);
    lua_createtable(L, top - jidx, 0);
    for (int i = jidx + 1; i <= top; i++) {
        lua_pushvalue(L, i);
        lua_rawseti(L, -2, i - jidx);
    }
    lua_setiuservalue(L, jidx, 1);
    lua_settop(L, jidx);
    return job;
}

/* The deadline of a request from the script's budget. */
static long long http_deadline(lua_State *L)
{
    long long left = eng_vm_remaining_ms(L);
    return left > 0 ? eng_now_ms() + left : 0;
}

/* The results of a performed job (or its failure), as http.request answers. [-0, +(1|3), m] */
static int http_finish(lua_State *L, struct http_job *job)
{
    if (job->offline) {
        luaL_pushfail(L);
        lua_pushliteral(L, "engine.http is off for a mapping text that is not published (the "
                           "console's preview, tests and impact)");
        lua_pushliteral(L, "offline");
        return 3;
    }
    if (job->rc != 0) {
        enum eng_httpc_fail f = job->r.fail;
        eng_httpc_resp_clear(&job->r);
        lua_pushnil(L);
        lua_pushfstring(L, "engine.http: %s", job->err.msg);
        lua_pushstring(L, eng_httpc_fail_name(f == ENG_HTTPC_OK ? ENG_HTTPC_HTTP : f));
        return 3;
    }
    http_push_response(L, &job->r);
    int resp = lua_gettop(L);
    http_decode_json(L, resp, &job->r);
    eng_httpc_resp_clear(&job->r); /* give the body back now, not at the next GC */
    lua_pushvalue(L, resp);
    return 1;
}

/* Put job's results into the table at index out as its element i + 1: the answer table, or
 * {error =, code =} for a failure (request_all's and wait's shape). [-0, +0, m] */
static void http_finish_into(lua_State *L, int out, size_t i, struct http_job *job)
{
    int top = lua_gettop(L);
    if (http_finish(L, job) == 1) {
        lua_rawseti(L, out, (lua_Integer)i + 1);
    } else {
        lua_createtable(L, 0, 2);
        lua_pushvalue(L, top + 2);
        lua_setfield(L, -2, "error");
        lua_pushvalue(L, top + 3);
        lua_setfield(L, -2, "code");
        lua_rawseti(L, out, (lua_Integer)i + 1);
    }
    lua_settop(L, top);
}

static int http_do(lua_State *L, int t, int argn)
{
    struct http_job *job = http_prepare(L, t, argn);
    if (!job->offline) {
        struct eng_err err = {0, ""};
        struct eng_httpc *h = http_client(L, &err); /* pushes the client */
        if (h == NULL) {
            lua_pushnil(L);
            lua_pushstring(L, err.msg);
            lua_pushstring(L, eng_httpc_fail_name(ENG_HTTPC_HTTP));
            return 3;
        }
        job->req.deadline = http_deadline(L);
        /* blocks; runs no Lua; every C byte it allocates belongs to the job or is freed inside */
        job->rc = eng_httpc_perform(h, &job->req, &job->r, &job->err);
    }
    return http_finish(L, job);
}

/* {====================== http.request_all ====================== */

struct http_all {
    struct http_job *jobs[HTTP_MAX_BATCH];
    size_t n;
    atomic_size_t next;
};

struct http_worker {
    struct http_all *all;
    struct eng_httpc *h;
    pthread_t t;
};

/* Take the next job until none is left; runs no Lua, touches only the jobs it takes. */
static void *http_worker_run(void *arg)
{
    struct http_worker *w = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&w->all->next, 1);
        if (i >= w->all->n)
            break;
        struct http_job *j = w->all->jobs[i];
        if (!j->offline)
            j->rc = eng_httpc_perform(w->h, &j->req, &j->r, &j->err);
    }
    return NULL;
}

/* http.request_all(list [, parallel]) -> results
 * list: up to 64 request tables as http.request takes; at most `parallel` (1..10, default 10)
 * of them in flight at once, each on its own connection, each through its own rate limits
 * (which still bound the process as a whole). results[i] is list[i]'s response table, or
 * {error = message, code = code} when it had none (http.request's nil, message, code). Each
 * response body is capped at 32 MiB / parallel (or the request's smaller max_bytes): the call
 * holds no more than one request may. Bad arguments raise before anything is sent.
 * [-0, +1, e] */
static int l_http_request_all(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    eng_vm_frozen_open(L, 1);
    lua_Integer parallel = luaL_optinteger(L, 2, HTTP_MAX_PARALLEL);
    luaL_argcheck(L, parallel >= 1 && parallel <= HTTP_MAX_PARALLEL, 2, "parallel must be 1..10");
    size_t n = (size_t)lua_rawlen(L, 1);
    luaL_argcheck(L, n <= HTTP_MAX_BATCH, 1, "at most 64 requests in one call");
    luaL_checkstack(L, (int)n + 8, "engine.http");
    struct http_all all;
    memset(&all, 0, sizeof all);
    all.n = n;
    atomic_init(&all.next, 0);
    int first = lua_gettop(L) + 1;
    size_t cap = (size_t)(ENG_HTTPC_MAX_BODY / (unsigned)parallel);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        int t = lua_gettop(L);
        struct http_job *j = http_prepare(L, t, 1); /* job above the request table */
        lua_replace(L, t);
        if (j->req.max_body == 0 || j->req.max_body > cap)
            j->req.max_body = cap;
        all.jobs[i] = j;
    }
    struct eng_err err = {0, ""};
    struct eng_httpc *h0 = n > 0 ? http_client(L, &err) : NULL; /* pushes the client */
    if (n > 0 && h0 == NULL)
        return luaL_error(L, "engine.http: %s", err.msg);
    struct http_client *c = lua_touserdata(L, -1);
    long long deadline = http_deadline(L);
    for (size_t i = 0; i < n; i++)
        all.jobs[i]->req.deadline = deadline;

    /* the other workers' handles (created on first need, kept by the client) */
    struct http_worker w[HTTP_MAX_PARALLEL];
    size_t nw = 0;
    size_t want = (size_t)parallel < n ? (size_t)parallel : n;
    for (size_t k = 1; k < want; k++) {
        if (c->pool[k - 1] == NULL)
            c->pool[k - 1] = eng_httpc_new(&err);
        if (c->pool[k - 1] == NULL)
            break;
        w[nw].all = &all;
        w[nw].h = c->pool[k - 1];
        if (pthread_create(&w[nw].t, NULL, http_worker_run, &w[nw]) != 0)
            break;
        nw++;
    }
    /* this thread works too, then waits for the others; no Lua runs until they are done */
    struct http_worker self = {&all, h0, pthread_self()};
    if (n > 0)
        http_worker_run(&self);
    for (size_t k = 0; k < nw; k++)
        pthread_join(w[k].t, NULL);

    lua_createtable(L, (int)n, 0);
    int out = lua_gettop(L);
    for (size_t i = 0; i < n; i++)
        http_finish_into(L, out, i, all.jobs[i]);
    (void)first;
    return 1;
}

/* {====================== http.start / http.wait ====================== */

/* How a group's threads say they are done. Its threads are detached (a VM abandoned by a stuck
 * call, then the process's exit, leaves nothing unjoined), so the group waits on this instead
 * of joining: heap memory of its own, freed by the last of the group and its threads, because a
 * thread still unlocks it after the group may have gone on and freed its userdata. */
struct http_done {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int left; /* threads still working */
    int refs; /* the group + its running threads */
};

/* A done with the group's reference, or NULL (out of memory or resources). */
static struct http_done *http_done_new(void)
{
    struct http_done *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    if (pthread_mutex_init(&d->mu, NULL) != 0) {
        free(d);
        return NULL;
    }
    if (pthread_cond_init(&d->cv, NULL) != 0) {
        pthread_mutex_destroy(&d->mu);
        free(d);
        return NULL;
    }
    d->refs = 1;
    return d;
}

/* Drop one reference to d (mu held): frees it after the last. */
static void http_done_unref(struct http_done *d)
{
    int last = --d->refs == 0;
    pthread_mutex_unlock(&d->mu);
    if (last) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
    }
}

/* A group's worker: http_worker_run, then done (it reads nothing of the group after that). */
struct http_async_worker {
    struct http_worker w;
    struct http_done *done;
};

static void *http_async_run(void *arg)
{
    struct http_async_worker *aw = arg;
    struct http_done *d = aw->done;
    http_worker_run(&aw->w);
    pthread_mutex_lock(&d->mu);
    if (--d->left == 0)
        pthread_cond_broadcast(&d->cv);
    http_done_unref(d);
    return NULL;
}

/* A group of requests in flight while the script goes on (http.start): its own threads and
 * handles; the jobs are anchored in the userdata's user value. */
struct http_async {
    struct http_all all;
    struct http_async_worker w[HTTP_MAX_PARALLEL];
    struct eng_httpc *h[HTTP_MAX_PARALLEL]; /* owned until given back to the client */
    size_t nh, nw;                          /* handles held, threads started */
    struct http_done *done;                 /* NULL when no thread was started */
    struct http_client *c;                  /* the VM's client (finalized after this) */
    int joined;
    int waited; /* http.wait answered: a second wait raises */
};

/* Wait until the group's threads are done; no Lua runs meanwhile. Idempotent. */
static void http_async_join(struct http_async *a)
{
    struct http_done *d = a->done;
    if (d != NULL) {
        pthread_mutex_lock(&d->mu);
        while (d->left > 0)
            pthread_cond_wait(&d->cv, &d->mu);
        http_done_unref(d);
        a->done = NULL;
    }
    a->nw = 0;
    a->joined = 1;
}

/* Give the group's handles back to the client (kept for the next group, their connections
 * open) or free them. */
static void http_async_release(struct http_async *a, int keep)
{
    for (size_t k = 0; k < a->nh; k++) {
        if (keep && a->c != NULL && a->c->nidle < HTTP_MAX_ASYNC)
            a->c->idle[a->c->nidle++] = a->h[k];
        else
            eng_httpc_free(a->h[k]);
        a->h[k] = NULL;
    }
    if (a->c != NULL)
        a->c->async_out -= a->nh;
    a->nh = 0;
}

/* [-1, +0, -] __gc and __close of a group: waits for what is in flight (each request ends by
 * its deadline), then frees the handles. The client is finalized after every group (it is
 * created first), so a->c is valid here. */
static int http_async_close(lua_State *L)
{
    struct http_async *a = luaL_checkudata(L, 1, HTTP_ASYNC_MT);
    http_async_join(a);
    http_async_release(a, 0);
    return 0;
}

/* http.start(list [, parallel]) -> handle
 * Starts the requests of list (as http.request_all takes them: up to 64, at most `parallel`,
 * 1..10, default 10, in flight at once, each through its own rate limits) in the background and
 * returns at once; http.wait(handle) gives their results. The script goes on meanwhile (maps,
 * stores); no Lua runs on the other threads. Each request keeps the deadline of the call that
 * started it (the script's budget then); a VM has at most 16 requests of started groups in
 * flight (a start past that collects garbage once, then raises: wait for one first). A handle
 * dropped without a wait is waited for when it is collected. Bad arguments raise before
 * anything is sent. [-0, +1, e] */
static int l_http_start(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    eng_vm_frozen_open(L, 1);
    lua_Integer parallel = luaL_optinteger(L, 2, HTTP_MAX_PARALLEL);
    luaL_argcheck(L, parallel >= 1 && parallel <= HTTP_MAX_PARALLEL, 2, "parallel must be 1..10");
    size_t n = (size_t)lua_rawlen(L, 1);
    luaL_argcheck(L, n <= HTTP_MAX_BATCH, 1, "at most 64 requests in one call");
    luaL_checkstack(L, 16, "engine.http");
    struct eng_err err = {0, ""};
    /* the client first: it must be finalized after every group */
    if (http_client(L, &err) == NULL)
        return luaL_error(L, "engine.http: %s", err.msg);
    struct http_client *c = lua_touserdata(L, -1);
    lua_pop(L, 1);
    size_t want = (size_t)parallel < n ? (size_t)parallel : n;
    if (c->async_out + want > HTTP_MAX_ASYNC)
        /* a group dropped without a wait gives its slots back when collected (the sandbox's
         * collectgarbage cannot ask for that): collect once before refusing */
        lua_gc(L, LUA_GCCOLLECT);
    if (c->async_out + want > HTTP_MAX_ASYNC)
        return luaL_error(L,
                          "engine.http: more than %d started requests in flight (http.wait "
                          "for a group first)",
                          HTTP_MAX_ASYNC);
    eng_lmod_handle_mt(L, HTTP_ASYNC_MT, http_async_close, "engine.http internal");
    /* The jobs before the group: Lua runs finalizers in the reverse order of their marking, so
     * a group dropped together with its jobs is finalized first, and its __gc joins the threads
     * before any job's __gc frees what they write (TSan: a dropped group's jobs were freed
     * while a thread still wrote an answer into one). */
    struct http_job *jobs[HTTP_MAX_BATCH];
    lua_createtable(L, (int)n, 0); /* the jobs, anchored by the handle */
    int anchor = lua_gettop(L);
    size_t cap = (size_t)(ENG_HTTPC_MAX_BODY / HTTP_MAX_ASYNC);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, 1, (lua_Integer)i + 1);
        int t = lua_gettop(L);
        struct http_job *j = http_prepare(L, t, 1); /* job above the request table */
        lua_replace(L, t);
        if (j->req.max_body == 0 || j->req.max_body > cap)
            j->req.max_body = cap;
        jobs[i] = j;
        lua_rawseti(L, anchor, (lua_Integer)i + 1);
    }
    struct http_async *a = lua_newuserdatauv(L, sizeof *a, 1);
    memset(a, 0, sizeof *a);
    a->joined = 1; /* nothing to wait for until threads start */
    luaL_setmetatable(L, HTTP_ASYNC_MT);
    int ud = lua_gettop(L);
    for (size_t i = 0; i < n; i++)
        a->all.jobs[i] = jobs[i];
    lua_pushvalue(L, anchor);
    lua_setiuservalue(L, ud, 1);
    a->all.n = n;
    atomic_init(&a->all.next, 0);
    a->c = c;
    long long deadline = http_deadline(L);
    for (size_t i = 0; i < n; i++)
        a->all.jobs[i]->req.deadline = deadline;
    /* nothing below raises: handles and threads belong to the userdata as they are made */
    for (size_t k = 0; k < want; k++) {
        struct eng_httpc *h = c->nidle > 0 ? c->idle[--c->nidle] : eng_httpc_new(&err);
        if (h == NULL)
            break;
        a->h[a->nh++] = h;
        c->async_out++;
    }
    pthread_attr_t attr;
    memset(&attr, 0, sizeof attr);
    int detached = a->nh > 0 && pthread_attr_init(&attr) == 0;
    if (detached && pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0) {
        pthread_attr_destroy(&attr);
        detached = 0;
    }
    if (detached)
        a->done = http_done_new();
    for (size_t k = 0; a->done != NULL && k < a->nh; k++) {
        struct http_async_worker *aw = &a->w[a->nw];
        aw->w.all = &a->all;
        aw->w.h = a->h[k];
        aw->done = a->done;
        pthread_mutex_lock(&a->done->mu); /* counted before it can end */
        a->done->left++;
        a->done->refs++;
        pthread_mutex_unlock(&a->done->mu);
        if (pthread_create(&aw->w.t, &attr, http_async_run, aw) != 0) {
            pthread_mutex_lock(&a->done->mu);
            a->done->left--;
            a->done->refs--;
            pthread_mutex_unlock(&a->done->mu);
            break;
        }
        a->nw++;
        a->joined = 0;
    }
    if (detached)
        pthread_attr_destroy(&attr);
    if (a->nw == 0 && n > 0) { /* no thread: this one does the work (the call then blocks) */
        struct http_worker self = {&a->all, a->nh > 0 ? a->h[0] : NULL, pthread_self()};
        if (self.h == NULL) {
            http_async_release(a, 0);
            return luaL_error(L, "engine.http: %s", err.msg);
        }
        http_worker_run(&self);
    }
    lua_settop(L, ud);
    return 1;
}

/* http.wait(handle) -> results: waits for a started group and answers as http.request_all
 * (results[i] for list[i]); a second wait raises. [-0, +1, e] */
static int l_http_wait(lua_State *L)
{
    struct http_async *a = luaL_checkudata(L, 1, HTTP_ASYNC_MT);
    if (a->waited)
        return luaL_error(L, "engine.http: this group was already waited for");
    a->waited = 1;
    http_async_join(a);
    http_async_release(a, 1);
    lua_getiuservalue(L, 1, 1);
    int anchor = lua_gettop(L);
    size_t n = a->all.n;
    lua_createtable(L, (int)n, 0);
    int out = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
        struct http_job *j = a->all.jobs[i];
        a->all.jobs[i] = NULL;
        lua_rawgeti(L, anchor, (lua_Integer)i + 1); /* keeps j alive below */
        http_finish_into(L, out, i, j);
        lua_settop(L, out);
    }
    lua_pushnil(L);
    lua_setiuservalue(L, 1, 1); /* the jobs go with the next GC */
    lua_settop(L, out);
    return 1;
}

/* }====================== */

/* http.request{method="GET", url=, headers={}, body=string | json=table, query={},
 *              timeout_ms=30000, retries=0, retry_unsafe=false, follow_redirects=false,
 *              max_bytes=32 MiB, rate={key=, per_second=, burst=, concurrent=, per_window=,
 *              window_ms=60000, also={key=, ...}}}
 *   -> {status=int, headers={lower-case name = value}, body=string, json=value|nil,
 *       json_error=string|nil, attempts=int}
 *   | nil, message, code   code: "timeout" | "connect" | "tls" | "dns" | "too_large" | "http"
 * rate: limits shared by every worker for one key (a QuickBooks realm, a store), taken per
 * attempt (per_window: at most that many in any window_ms, a sliding log; also: a second key's
 * limits taken together with the first, all or nothing); waiting for a slot counts against the
 * budget, and a slot that cannot come in time is nil, "... rate limit ...", "timeout" at once. Any
 * status is a response (scripts decide about 404). Bad arguments raise (unknown fields too).
 * timeout_ms is per attempt; the whole call, retries and waits included, never outlives the
 * script's budget. Retries (with 200 ms .. 10 s exponential backoff and jitter): 429 and 503
 * always, honouring Retry-After (seconds or HTTP date; one over 120 s or past the budget ends the
 * retries and returns that response); connection failures before anything was sent always;
 * timeouts, resets, 502 and 504 only for GET/HEAD/PUT/DELETE/OPTIONS/TRACE or retry_unsafe.
 * Redirects (at most 5, http/https only, never https -> http) keep custom headers; libcurl drops
 * Authorization and Cookie when the host changes. TLS is always verified; ENGINE_HTTP_CA_FILE
 * (read once per process) replaces the CA bundle. Proxies come from the usual *_proxy variables.
 * [-1, +(1|3), e] */
static int l_http_request(lua_State *L)
{
    return http_do(L, 1, 1);
}

/* The request table of a convenience function: a copy of the options table at opts (may be
 * none/nil; the fields the function sets itself are refused) with url = the argument at 1 and
 * method. [-0, +1, v] */
static void http_push_request(lua_State *L, int opts, const char *const *reserved,
                              const char *method)
{
    if (lua_isnoneornil(L, opts)) {
        lua_newtable(L);
    } else {
        luaL_checktype(L, opts, LUA_TTABLE);
        eng_vm_frozen_open(L, opts); /* a module's frozen table: read its contents */
        for (size_t i = 0; reserved[i] != NULL; i++) {
            if (lua_getfield(L, opts, reserved[i]) != LUA_TNIL)
                luaL_argerror(L, opts,
                              lua_pushfstring(L, "field '%s' is not allowed here", reserved[i]));
            lua_pop(L, 1);
        }
        lua_newtable(L);
        lua_pushnil(L);
        while (lua_next(L, opts) != 0) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
    }
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "url");
    lua_pushstring(L, method);
    lua_setfield(L, -2, "method");
}

/* http.get(url [, opts]) -> resp | nil, message, code    (opts as http.request, no url/method)
 * [-0, +(1|3), e] */
static int l_http_get(lua_State *L)
{
    static const char *const reserved[] = {"url", "method", NULL};
    luaL_checkstring(L, 1);
    http_check_url(L, 1, 1);
    http_push_request(L, 2, reserved, "GET");
    return http_do(L, -1, 2);
}

/* http.post(url, body_or_table [, opts]) -> resp | nil, message, code
 * A string is sent as is; a table is sent as JSON (Content-Type: application/json).
 * [-0, +(1|3), e] */
static int l_http_post(lua_State *L)
{
    static const char *const reserved[] = {"url", "method", "body", "json", NULL};
    luaL_checkstring(L, 1);
    int bt = lua_type(L, 2);
    luaL_argexpected(L, bt == LUA_TSTRING || bt == LUA_TTABLE || bt == LUA_TNIL, 2,
                     "string or table");
    http_check_url(L, 1, 1);
    http_push_request(L, 3, reserved, "POST");
    if (bt != LUA_TNIL) {
        lua_pushvalue(L, 2);
        lua_setfield(L, -2, bt == LUA_TTABLE ? "json" : "body");
    }
    return http_do(L, -1, 3);
}

/* }====================== */

/* [-0, +1, m] */
int luaopen_engine_http(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"request", l_http_request},
        {"request_all", l_http_request_all},
        {"start", l_http_start},
        {"wait", l_http_wait},
        {"get", l_http_get},
        {"post", l_http_post},
        {"urlencode", l_http_urlencode},
        {"build_query", l_http_build_query},
        {NULL, NULL},
    };
    eng_lmod_handle_mt(L, HTTP_CLIENT_MT, http_client_close, "engine.http internal");
    eng_lmod_handle_mt(L, HTTP_JOB_MT, http_job_close, "engine.http internal");
    eng_lmod_handle_mt(L, HTTP_ASYNC_MT, http_async_close, "engine.http internal");
    luaL_newlib(L, funcs);
    return 1;
}
