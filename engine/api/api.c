/*
 * api.c - routing, authentication, the request rules every route shares (body type, tenant),
 * the error envelope, per-thread store connections and request counters.
 * Owns: the counters and the thread-local store key. Handlers live in api_*.c.
 */
#include "api/api.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "adapt/crypto.h"
#include "base/log.h"
#include "adapt/store.h"
#include "data/api_tokens.h"
#include "data/console_sessions.h"
#include "lua/scripts.h"

int eng_api_init(struct eng_api *api, struct eng_err *err)
{
    api->requests = calloc((eng_api_nroutes + 1) * ENG_API_STATUS_CLASSES, sizeof *api->requests);
    if (api->requests == NULL)
        return eng_err_set(err, ENG_ENOMEM, "out of memory setting up the API");
    return 0;
}

void eng_api_fini(struct eng_api *api)
{
    free((void *)api->requests);
    api->requests = NULL;
}

int eng_api_error(struct eng_httpd_resp *resp, int status, const char *code, const char *message,
                  const char *details)
{
    eng_buf_reset(&resp->body);
    resp->status = status;
    resp->content_type = "application/json";
    eng_buf_puts(&resp->body, "{\"error\":{\"code\":");
    eng_buf_json_str(&resp->body, code, strlen(code));
    eng_buf_puts(&resp->body, ",\"message\":");
    eng_buf_json_str(&resp->body, message, strlen(message));
    eng_buf_printf(&resp->body, ",\"details\":%s}}", details != NULL ? details : "null");
    return ENG_HTTPD_DONE;
}

int eng_api_store_failed(struct eng_httpd_resp *resp, const char *area, const struct eng_err *err)
{
    eng_logf(ENG_LOG_ERROR, "api: %s: %s", area, err->msg);
    if (err->code == ENG_EBUSY)
        return eng_api_error(resp, 503, "unavailable", "the store is busy; retry shortly", NULL);
    return eng_api_error(resp, 500, "internal", "the store failed (see the log)", NULL);
}

struct eng_store *eng_api_store(struct eng_api_ctx *c)
{
    struct eng_err err = {0};
    struct eng_store *st = eng_store_thread(c->api->cfg->database_url, &err);
    if (st == NULL) {
        eng_logf(ENG_LOG_ERROR, "api: cannot open the store: %s", err.msg);
        eng_api_error(c->resp, 503, "unavailable", "the store is not reachable; retry shortly",
                      NULL);
    }
    return st;
}

struct eng_store *eng_api_store_body(struct eng_api_ctx *c, int empty_ok, const char **body)
{
    struct eng_store *st = eng_api_store(c);
    if (st == NULL || eng_api_body_object(c, empty_ok, body, NULL) != 0)
        return NULL;
    return st;
}

int eng_api_json_answer(struct eng_api_ctx *c, const char *sql, const char *const *binds,
                        int nbinds, const long long *ints, int nints, struct eng_err *err)
{
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return 1;
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    for (int i = 0; rc == 0 && i < nbinds; i++)
        rc = eng_store_bind_str(s, i + 1, binds[i]);
    for (int i = 0; rc == 0 && i < nints; i++)
        rc = eng_store_bind_int64(s, nbinds + i + 1, ints[i]);
    if (rc == 0)
        rc = eng_store_step(s, err);
    if (rc == ENG_STORE_ROW && eng_store_column_type(s, 0) != ENG_STORE_NULL) {
        size_t n = 0;
        const char *v = eng_store_column_text(s, 0, &n);
        c->resp->status = 200;
        c->resp->content_type = "application/json";
        eng_buf_append(&c->resp->body, v, n);
        rc = 0;
    } else if (rc >= 0) {
        rc = ENG_ENOTFOUND;
    }
    eng_store_finalize(s);
    return rc;
}

int eng_api_json_query(struct eng_store *st, const char *sql, const char *text,
                       struct eng_store_stmt **s, struct eng_err *err)
{
    *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, s, err);
    if (rc == 0)
        rc = eng_store_bind_str(*s, 1, text);
    if (rc == 0)
        rc = eng_store_step(*s, err);
    if (rc < 0) {
        eng_store_finalize(*s);
        *s = NULL;
    }
    return rc;
}

void eng_api_json_member(struct eng_buf *b, const char *key, const char *s)
{
    eng_buf_puts(b, key);
    if (s == NULL)
        eng_buf_puts(b, "null");
    else
        eng_buf_json_str(b, s, strlen(s));
}

int eng_api_published(const struct eng_api_ctx *c, const char *folder, const char *name)
{
    char logical[160];
    int n = snprintf(logical, sizeof logical, "%s/%s.lua", folder, name);
    if (n < 0 || (size_t)n >= sizeof logical)
        return 0;
    size_t len;
    char *src = eng_scripts_source(c->api->scripts, logical, &len);
    free(src);
    return src != NULL;
}

int eng_api_param(const struct eng_api_ctx *c, int i, char *buf, size_t size)
{
    if (i < 0 || i >= c->nparams || c->params[i].n >= size)
        return -1;
    memcpy(buf, c->params[i].s, c->params[i].n);
    buf[c->params[i].n] = '\0';
    return 0;
}

int eng_api_id_ok(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return 0;
    }
    return 1;
}

/* ---- routing ---- */

/* Match path against pattern; fills c->params for {name} segments. */
static int api_match(const char *pattern, const char *path, struct eng_api_ctx *c)
{
    int np = 0;
    const char *p = pattern, *s = path;
    while (*p != '\0' && *s != '\0') {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *se = strchr(s, '/');
            size_t n = se != NULL ? (size_t)(se - s) : strlen(s);
            if (pe == NULL || n == 0 || np >= ENG_API_MAX_PARAMS)
                return 0;
            c->params[np].s = s, c->params[np].n = n;
            np++;
            p = pe + 1, s += n;
        } else if (*p++ != *s++) {
            return 0;
        }
    }
    if (*p != '\0' || *s != '\0')
        return 0;
    c->nparams = np;
    return 1;
}

/* ---- authentication ---- */

static int api_unauthorized(struct eng_httpd_resp *resp)
{
    eng_httpd_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"tallysync\"");
    /* one answer for every failure: no hint whether the token exists, expired or is malformed */
    return eng_api_error(resp, 401, "unauthorized", "a valid bearer token is required", NULL);
}

/* No token sent at all: say where tokens are. The same text whatever the configuration (it
 * tells nobody whether API_TOKEN is set, or where the engine runs). */
static int api_token_missing(struct eng_httpd_resp *resp)
{
    eng_httpd_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"tallysync\"");
    return eng_api_error(resp, 401, "unauthorized",
                         "a bearer token is required (Authorization: Bearer TOKEN): the "
                         "administrator's token is API_TOKEN, in the engine's .env when "
                         "tools/start.sh started it; tenant tokens come from `tallysync token "
                         "create`",
                         NULL);
}

/* Record when a tenant token was last used, at most once a minute per token (so a busy client
 * costs one small write a minute, not one per request). A failure only costs the timestamp. */
static void api_token_touch(struct eng_store *st, const char *hash_hex)
{
    struct eng_err err = {0};
    if (eng_api_tokens_touch(st, hash_hex, &err) < 0)
        eng_logf(ENG_LOG_WARN, "api: cannot record a token's last use: %s", err.msg);
}

int eng_api_token_principal(struct eng_api_ctx *c, const char *tok, size_t n, int *admin,
                            char tenant[65], char token_hash[65])
{
    *admin = 0;
    tenant[0] = token_hash[0] = '\0';
    if (n == 0 || n > 512)
        return 0;
    /* Compare digests in constant time: neither length nor content leaks through timing. */
    unsigned char given[ENG_CRYPTO_SHA256_LEN];
    eng_crypto_sha256(tok, n, given, NULL);
    const char *adm = c->api->cfg->api_token;
    if (adm != NULL) {
        unsigned char want[ENG_CRYPTO_SHA256_LEN];
        eng_crypto_sha256(adm, strlen(adm), want, NULL);
        if (eng_crypto_equal(given, sizeof given, want, sizeof want)) {
            *admin = 1;
            snprintf(tenant, 65, "default");
            return 1;
        }
    }
    char hex[2 * ENG_CRYPTO_SHA256_LEN + 1];
    eng_crypto_hex_encode(given, sizeof given, hex, sizeof hex, NULL);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return -1;
    struct eng_err err = {0};
    int found = eng_api_tokens_lookup(st, hex, tenant, 65, &err);
    if (found < 0) {
        tenant[0] = '\0';
        eng_logf(ENG_LOG_ERROR, "api: token lookup failed: %s", err.msg);
        eng_api_error(c->resp, 503, "unavailable", "cannot check the token; retry shortly", NULL);
        return -1;
    }
    if (!found)
        return 0;
    api_token_touch(st, hex);
    snprintf(token_hash, 65, "%s", hex);
    return 1;
}

void eng_api_admin_fingerprint(const struct eng_config *cfg, char fp[65])
{
    fp[0] = '\0';
    if (cfg->api_token == NULL)
        return;
    /* domain-separated from the token's plain SHA-256: the two are never comparable */
    static const char label[] = "tallysync console session: administrator\n";
    size_t ll = sizeof label - 1, tl = strlen(cfg->api_token);
    char *m = malloc(ll + tl);
    if (m == NULL)
        return;
    memcpy(m, label, ll);
    memcpy(m + ll, cfg->api_token, tl);
    unsigned char d[ENG_CRYPTO_SHA256_LEN];
    eng_crypto_sha256(m, ll + tl, d, NULL);
    eng_crypto_wipe(m, ll + tl);
    free(m);
    eng_crypto_hex_encode(d, sizeof d, fp, 65, NULL);
}

int eng_api_session_cookie(struct eng_api_ctx *c, char value[44])
{
    static const char name[] = ENG_API_SESSION_COOKIE "=";
    const size_t nl = sizeof name - 1;
    value[0] = '\0';
    const char *h = eng_httpd_header(c->req, "Cookie");
    if (h == NULL)
        return 0;
    /* "a=b; tallysync_session=V; c=d": the first cookie of that name counts */
    for (const char *p = h; *p != '\0';) {
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        size_t len = strcspn(p, ";");
        if (len >= nl - 1 && strncmp(p, name, nl - 1) == 0 && (len == nl - 1 || p[nl - 1] == '=')) {
            const char *v = p + nl;
            size_t vl = len > nl ? len - nl : 0;
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (vl != 43)
                return -1;
            for (size_t i = 0; i < vl; i++) {
                char ch = v[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
                    return -1;
            }
            memcpy(value, v, 43);
            value[43] = '\0';
            return 1;
        }
        p += len;
    }
    return 0;
}

int eng_api_request_tls(struct eng_api_ctx *c)
{
    if (!eng_httpd_via_proxy(c->req))
        return 0;
    const char *p = eng_httpd_header(c->req, "X-Forwarded-Proto");
    if (p == NULL)
        return 0;
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, ", ");
    return n == 5 && strncasecmp(p, "https", 5) == 0;
}

/* host[0..n) without the scheme's default port, into out. 0, or -1 when it does not fit or is
 * empty. */
static int api_origin_host(const char *host, size_t n, int tls, char *out, size_t size)
{
    while (n > 0 && (host[n - 1] == ' ' || host[n - 1] == '\t'))
        n--;
    while (n > 0 && (*host == ' ' || *host == '\t'))
        host++, n--;
    const char *def = tls ? ":443" : ":80";
    size_t dl = strlen(def);
    if (n > dl && strncmp(host + n - dl, def, dl) == 0)
        n -= dl;
    if (n == 0 || n >= size)
        return -1;
    memcpy(out, host, n);
    out[n] = '\0';
    return 0;
}

int eng_api_origin_ok(struct eng_api_ctx *c)
{
    const char *origin = eng_httpd_header(c->req, "Origin");
    if (origin == NULL)
        return 0;
    int tls = eng_api_request_tls(c);
    const char *host = NULL;
    size_t hn = 0;
    if (eng_httpd_via_proxy(c->req) &&
        (host = eng_httpd_header(c->req, "X-Forwarded-Host")) != NULL)
        hn = strcspn(host, ","); /* the first proxy's view: what the browser asked for */
    else if ((host = eng_httpd_header(c->req, "Host")) != NULL)
        hn = strlen(host);
    if (host == NULL)
        return 0;
    char want[300], got[300];
    if (api_origin_host(host, hn, tls, want, sizeof want) != 0)
        return 0;
    const char *scheme = tls ? "https://" : "http://";
    size_t sl = strlen(scheme);
    if (strncasecmp(origin, scheme, sl) != 0 ||
        api_origin_host(origin + sl, strlen(origin + sl), tls, got, sizeof got) != 0)
        return 0;
    return strcasecmp(want, got) == 0;
}

int eng_api_origin_mismatch(struct eng_httpd_resp *resp)
{
    return eng_api_error(resp, 403, "origin_mismatch",
                         "a request that changes something with the console's session must come "
                         "from the console's own page (its Origin header is not this engine's "
                         "address)",
                         NULL);
}

/* The session is missing, ended or malformed: 401, and the browser drops the cookie. */
static int api_session_ended(struct eng_api_ctx *c)
{
    char cookie[160];
    snprintf(cookie, sizeof cookie,
             ENG_API_SESSION_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
             eng_api_request_tls(c) ? "; Secure" : "");
    eng_httpd_resp_header(c->resp, "Set-Cookie", cookie);
    return eng_api_error(c->resp, 401, "unauthorized",
                         "the console session has ended (logged out, expired, or its token was "
                         "revoked): log in again",
                         NULL);
}

static int api_state_changing(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0 ||
           strcmp(m, "DELETE") == 0;
}

/* The tenant a principal acts for: an administrator picks one with X-Tenant-ID ("default"
 * without), anyone else acts for its own. 0 or an answer in c->resp. */
static int api_pick_tenant(struct eng_api_ctx *c)
{
    const char *t = eng_httpd_header(c->req, "X-Tenant-ID");
    if (c->admin) {
        if (t == NULL || *t == '\0')
            t = "default";
        if (!eng_api_id_ok(t, strlen(t)))
            return eng_api_error(c->resp, 400, "invalid_tenant",
                                 "X-Tenant-ID must be 1-64 letters, digits, '_', '-' or '.'", NULL),
                   -1;
        snprintf(c->tenant, sizeof c->tenant, "%s", t);
        return 0;
    }
    if (t != NULL && *t != '\0' && strcmp(t, c->tenant) != 0)
        return eng_api_error(c->resp, 403, "forbidden",
                             c->session ? "a tenant's session acts for its own tenant only (drop "
                                          "X-Tenant-ID)"
                                        : "a tenant token acts for its own tenant only (drop "
                                          "X-Tenant-ID)",
                             NULL),
               -1;
    return 0;
}

/* Authenticate by the console's session cookie (value checked for form). 0 or an answer. */
static int api_session_auth(struct eng_api_ctx *c, const char *value)
{
    /* A browser sends the cookie with any request to this site: one that changes something
     * must come from the console's own page. */
    if (api_state_changing(eng_httpd_method(c->req)) && !eng_api_origin_ok(c))
        return eng_api_origin_mismatch(c->resp), -1;
    unsigned char d[ENG_CRYPTO_SHA256_LEN];
    eng_crypto_sha256(value, strlen(value), d, NULL);
    char id[2 * ENG_CRYPTO_SHA256_LEN + 1];
    eng_crypto_hex_encode(d, sizeof d, id, sizeof id, NULL);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return -1;
    struct eng_err err = {0};
    struct eng_console_session s;
    int found = eng_console_sessions_lookup(st, id, &s, &err);
    if (found < 0) {
        eng_logf(ENG_LOG_ERROR, "api: session lookup failed: %s", err.msg);
        return eng_api_error(c->resp, 503, "unavailable", "cannot check the session; retry shortly",
                             NULL),
               -1;
    }
    int ok = found;
    if (ok && s.admin) {
        /* made with API_TOKEN: it stands while API_TOKEN is the same */
        char fp[65];
        eng_api_admin_fingerprint(c->api->cfg, fp);
        ok = fp[0] != '\0' && eng_crypto_equal(fp, strlen(fp), s.admin_fp, strlen(s.admin_fp));
    } else if (ok) {
        /* made with a tenant token: it stands while that token does */
        char tenant[65];
        int live = eng_api_tokens_lookup(st, s.token_hash, tenant, sizeof tenant, &err);
        if (live < 0) {
            eng_logf(ENG_LOG_ERROR, "api: token lookup failed: %s", err.msg);
            return eng_api_error(c->resp, 503, "unavailable",
                                 "cannot check the session; retry shortly", NULL),
                   -1;
        }
        ok = live == 1 && strcmp(tenant, s.tenant) == 0;
    }
    if (!ok) {
        if (found && eng_console_sessions_delete(st, id, &err) < 0)
            eng_logf(ENG_LOG_WARN, "api: cannot delete an ended session: %s", err.msg);
        return api_session_ended(c), -1;
    }
    if (eng_console_sessions_touch(st, id, &err) < 0)
        eng_logf(ENG_LOG_WARN, "api: cannot record a session's last use: %s", err.msg);
    c->session = 1;
    c->admin = s.admin;
    snprintf(c->tenant, sizeof c->tenant, "%s", s.tenant);
    snprintf(c->session_id, sizeof c->session_id, "%s", id);
    snprintf(c->session_expires, sizeof c->session_expires, "%s", s.expires_at);
    return api_pick_tenant(c);
}

/* Decide who is calling and for which tenant: a bearer token (wins when both are sent), else
 * the console's session cookie, else the demo's anonymous tenant. 0 or an answer in c->resp. */
static int api_authenticate(struct eng_api_ctx *c)
{
    const char *h = eng_httpd_header(c->req, "Authorization");
    if (h == NULL) {
        char value[44];
        int ck = eng_api_session_cookie(c, value);
        if (ck < 0)
            return api_session_ended(c), -1;
        if (ck > 0)
            return api_session_auth(c, value);
    }
    const char *anon = c->api->cfg->anonymous_tenant;
    if (h == NULL && anon != NULL) {
        /* the local demo (config.c allows it on loopback only): a tenant, never the admin.
         * Like a cookie it is ambient: a browser's request from another site's page (its Origin
         * not this engine's) may not change anything. Clients that are not browsers send none. */
        if (api_state_changing(eng_httpd_method(c->req)) &&
            eng_httpd_header(c->req, "Origin") != NULL && !eng_api_origin_ok(c))
            return eng_api_origin_mismatch(c->resp), -1;
        snprintf(c->tenant, sizeof c->tenant, "%s", anon);
        const char *t = eng_httpd_header(c->req, "X-Tenant-ID");
        if (t != NULL && *t != '\0' && strcmp(t, c->tenant) != 0)
            return eng_api_error(c->resp, 403, "forbidden",
                                 "anonymous requests act for API_ANONYMOUS_TENANT only", NULL),
                   -1;
        return 0;
    }
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return api_token_missing(c->resp), -1;
    const char *tok = h + 7;
    while (*tok == ' ')
        tok++;
    char token_hash[65];
    int found = eng_api_token_principal(c, tok, strlen(tok), &c->admin, c->tenant, token_hash);
    if (found < 0)
        return -1;
    if (!found)
        return api_unauthorized(c->resp), -1;
    return api_pick_tenant(c);
}

/* Bodies are JSON (or NDJSON where a route allows it): anything else is 415. */
static int api_check_body_type(struct eng_api_ctx *c)
{
    size_t len;
    eng_httpd_body(c->req, &len);
    if (len == 0 || (c->route->flags & ENG_ROUTE_ANY_BODY))
        return 0;
    const char *ct = eng_httpd_header(c->req, "Content-Type");
    if (ct != NULL) {
        size_t n = strcspn(ct, ";");
        while (n > 0 && ct[n - 1] == ' ')
            n--;
        if ((n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
            (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0) ||
            ((c->route->flags & ENG_ROUTE_NDJSON) && n == 20 &&
             strncasecmp(ct, "application/x-ndjson", 20) == 0))
            return 0;
    }
    eng_api_error(c->resp, 415, "unsupported_media_type",
                  (c->route->flags & ENG_ROUTE_NDJSON)
                      ? "send the body as application/json or application/x-ndjson"
                      : "send the body as application/json",
                  NULL);
    return -1;
}

static void api_count(struct eng_api *api, size_t route, int status)
{
    int cls = status / 100 - 1;
    if (cls < 0 || cls >= ENG_API_STATUS_CLASSES)
        cls = ENG_API_STATUS_CLASSES - 1;
    atomic_fetch_add(&api->requests[route * ENG_API_STATUS_CLASSES + (size_t)cls], 1);
}

int eng_api_handle(void *app, struct eng_httpd_req *req, struct eng_httpd_resp *resp)
{
    struct eng_api *api = app;
    struct eng_api_ctx c;
    memset(&c, 0, sizeof c);
    c.api = api, c.req = req, c.resp = resp;
    const char *m = eng_httpd_method(req);
    const char *path = eng_httpd_path(req);
    int head = strcmp(m, "HEAD") == 0;

    /* Find the route; remember which methods the path allows for a 405. */
    char allow[64] = "";
    size_t idx = eng_api_nroutes;
    for (size_t i = 0; i < eng_api_nroutes; i++) {
        if (!api_match(eng_api_routes[i].pattern, path, &c))
            continue;
        const char *rm = eng_api_routes[i].method;
        if (strcmp(rm, m) == 0 || (head && strcmp(rm, "GET") == 0)) {
            idx = i;
            break;
        }
        size_t used = strlen(allow);
        if (strstr(allow, rm) == NULL && used + strlen(rm) + 3 < sizeof allow)
            snprintf(allow + used, sizeof allow - used, "%s%s", used > 0 ? ", " : "", rm);
    }
    int r = ENG_HTTPD_DONE;
    int get = head || strcmp(m, "GET") == 0;
    if (idx == eng_api_nroutes && allow[0] == '\0' && !eng_api_static_reserved(path)) {
        /* the console's files: every other path is theirs, and only read */
        if (get) {
            /* not counted in /metrics: its route counters are the API's ("unmatched" is a
             * miss in the API's paths, not a console file) */
            return eng_api_static(&c);
        } else {
            eng_httpd_resp_header(resp, "Allow", "GET, HEAD");
            eng_api_error(resp, 405, "method_not_allowed",
                          "the console's files are only read (GET, HEAD)", NULL);
        }
    } else if (idx == eng_api_nroutes) {
        if (allow[0] != '\0') {
            eng_httpd_resp_header(resp, "Allow", allow);
            eng_api_error(resp, 405, "method_not_allowed",
                          "this route does not accept that method (see the Allow header)", NULL);
        } else {
            eng_api_error(resp, 404, "not_found", "no such route", NULL);
        }
    } else {
        c.route = &eng_api_routes[idx];
        api_match(c.route->pattern, path, &c); /* params of the chosen route */
        snprintf(c.tenant, sizeof c.tenant, "default");
        if ((c.route->flags & ENG_ROUTE_PUBLIC) || api_authenticate(&c) == 0) {
            if (api_check_body_type(&c) == 0)
                r = c.route->fn(&c);
        }
    }
    if (r == ENG_HTTPD_DONE)
        api_count(api, idx, resp->status);
    return r;
}
