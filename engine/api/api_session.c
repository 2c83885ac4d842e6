/*
 * api_session.c - the web console's session: POST /api/session exchanges an API token for a
 * session cookie (the page never keeps the token), GET /api/session says who the caller is,
 * DELETE /api/session logs out; GET /api/tenants lists every tenant for the administrator's
 * switcher. The cookie holds 32 random bytes (base64url); the store keeps their SHA-256 only
 * (data/console_sessions.c). api.c authenticates requests by the cookie.
 * Login attempts (a token checked) are limited per client address (base/ratelimit, keys bounded by
 * hashing the address into ENG_API_LOGIN_SLOTS slots, so many addresses cannot grow the limiter's
 * table). Must not: log or answer a token, a cookie value or a hash.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "adapt/crypto.h"
#include "api/api.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/ratelimit.h"
#include "data/console_sessions.h"

#define ENG_API_LOGIN_SLOTS      256
#define ENG_API_LOGIN_BURST      20   /* attempts at once from one address */
#define ENG_API_LOGIN_PER_MINUTE 10.0 /* then this many a minute */

static uint64_t login_salt;
static pthread_once_t login_once = PTHREAD_ONCE_INIT;

static void login_salt_init(void)
{
    if (eng_crypto_random(&login_salt, sizeof login_salt, NULL) != 0)
        login_salt = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL;
}

/* 0 when this address may try to log in now, else -1 after answering 429. */
static int login_allowed(struct eng_api_ctx *c)
{
    pthread_once(&login_once, login_salt_init);
    const char *peer = eng_httpd_peer(c->req);
    uint64_t hsh = 1469598103934665603ULL ^ login_salt; /* FNV-1a, salted per process */
    for (const char *p = peer != NULL ? peer : ""; *p != '\0'; p++)
        hsh = (hsh ^ (unsigned char)*p) * 1099511628211ULL;
    char key[48];
    snprintf(key, sizeof key, "console-login:%u", (unsigned)(hsh % ENG_API_LOGIN_SLOTS));
    struct eng_ratelimit rl = {
        .key = key, .per_second = ENG_API_LOGIN_PER_MINUTE / 60.0, .burst = ENG_API_LOGIN_BURST};
    long long now_ms = eng_now_ms();
    struct eng_err err = {0};
    /* a deadline of now: never waits, refuses when no attempt is left */
    if (eng_ratelimit_acquire(&rl, now_ms > 0 ? now_ms : 1, &err) == 0) {
        eng_ratelimit_release(&rl);
        return 0;
    }
    eng_httpd_resp_header(c->resp, "Retry-After", "10");
    eng_api_error(c->resp, 429, "too_many_requests",
                  "too many login attempts from your address; wait a little and retry", NULL);
    return -1;
}

static void session_cookie(struct eng_api_ctx *c, const char *value, long long max_age)
{
    char cookie[200];
    snprintf(cookie, sizeof cookie,
             ENG_API_SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", value,
             max_age, eng_api_request_tls(c) ? "; Secure" : "");
    eng_httpd_resp_header(c->resp, "Set-Cookie", cookie);
}

static void session_json(struct eng_api_ctx *c, const char *expires, const char *auth)
{
    struct eng_buf *b = &c->resp->body;
    eng_buf_reset(b);
    eng_api_json_member(b, "{\"tenant\":", c->tenant);
    eng_buf_printf(b, ",\"admin\":%s", c->admin ? "true" : "false");
    eng_api_json_member(b, ",\"expiresAt\":", expires != NULL && *expires ? expires : NULL);
    eng_api_json_member(b, ",\"auth\":", auth);
    eng_buf_putc(b, '}');
    c->resp->status = 200;
    c->resp->content_type = "application/json";
}

/* The hash (hex) of a cookie value. */
static void cookie_hash(const char *value, char out[65])
{
    unsigned char d[ENG_CRYPTO_SHA256_LEN];
    eng_crypto_sha256(value, strlen(value), d, NULL);
    eng_crypto_hex_encode(d, sizeof d, out, 65, NULL);
}

/* POST /api/session {"token": "..."} (public). */
int eng_api_session_create(struct eng_api_ctx *c)
{
    /* A browser always sends Origin on a POST: a page of another site cannot log its visitor
     * in (as someone else) here. Clients that are not browsers send none. */
    if (eng_httpd_header(c->req, "Origin") != NULL && !eng_api_origin_ok(c))
        return eng_api_origin_mismatch(c->resp);
    const char *body;
    struct eng_store *st = eng_api_store_body(c, 0, &body);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    static const char sql[] =
        "SELECT (SELECT key FROM json_each(?1) WHERE key <> 'token' LIMIT 1), "
        "json_type(?1, '$.token'), json_extract(?1, '$.token')";
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_api_json_query(st, sql, body, &s, &err);
    if (rc != ENG_STORE_ROW) {
        eng_store_finalize(s);
        return rc < 0 ? eng_api_store_failed(c->resp, "session", &err)
                      : eng_api_error(c->resp, 500, "internal", "cannot read the body", NULL);
    }
    const char *unknown = eng_store_column_text(s, 0, NULL);
    const char *type = eng_store_column_text(s, 1, NULL);
    size_t tn = 0;
    const char *tok = eng_store_column_text(s, 2, &tn);
    if (unknown != NULL) {
        char field[48];
        snprintf(field, sizeof field, "%s", unknown);
        eng_store_finalize(s);
        return eng_api_field_error(c->resp, 422, field, "unknown field (token)");
    }
    if (type == NULL || strcmp(type, "text") != 0 || tok == NULL || tn == 0) {
        eng_store_finalize(s);
        return eng_api_field_error(c->resp, 422, "token", "required: an API token (a string)");
    }
    /* an attempt is a token checked: a malformed body has been answered already */
    if (login_allowed(c) != 0) {
        eng_store_finalize(s);
        return ENG_HTTPD_DONE;
    }
    char token_hash[65], tenant[65];
    int admin = 0;
    int found =
        eng_api_token_principal(c, tok, strlen(tok) == tn ? tn : 0, &admin, tenant, token_hash);
    eng_store_finalize(s);
    if (found < 0)
        return ENG_HTTPD_DONE;
    if (!found)
        return eng_api_error(c->resp, 401, "unauthorized",
                             "that token is not valid (the administrator's API_TOKEN, or a "
                             "tenant token from `tallysync token create`)",
                             NULL);

    /* a new random value for every login (an earlier cookie of this browser is ended) */
    char old[44];
    if (eng_api_session_cookie(c, old) == 1) {
        char old_id[65];
        cookie_hash(old, old_id);
        if (eng_console_sessions_delete(st, old_id, &err) < 0)
            eng_logf(ENG_LOG_WARN, "api: cannot end the previous session: %s", err.msg);
    }
    unsigned char raw[32];
    char value[44], id[65];
    if (eng_crypto_random(raw, sizeof raw, &err) != 0 ||
        eng_crypto_base64url_encode(raw, sizeof raw, value, sizeof value, NULL, &err) != 0) {
        eng_logf(ENG_LOG_ERROR, "api: cannot make a session: %s", err.msg);
        return eng_api_error(c->resp, 500, "internal", "cannot make a session", NULL);
    }
    eng_crypto_wipe(raw, sizeof raw);
    cookie_hash(value, id);
    struct eng_console_session sess;
    memset(&sess, 0, sizeof sess);
    snprintf(sess.tenant, sizeof sess.tenant, "%s", tenant);
    sess.admin = admin;
    if (admin)
        eng_api_admin_fingerprint(c->api->cfg, sess.admin_fp);
    else
        snprintf(sess.token_hash, sizeof sess.token_hash, "%s", token_hash);
    long long ttl = c->api->cfg->session_ttl_s > 0 ? c->api->cfg->session_ttl_s : 43200;
    if (eng_console_sessions_create(st, id, &sess, ttl, &err) != 0) {
        eng_crypto_wipe(value, sizeof value);
        return eng_api_store_failed(c->resp, "session", &err);
    }
    c->admin = admin;
    snprintf(c->tenant, sizeof c->tenant, "%s", tenant);
    session_json(c, sess.expires_at, "session");
    session_cookie(c, value, ttl);
    eng_crypto_wipe(value, sizeof value);
    return ENG_HTTPD_DONE;
}

/* GET /api/session: who the caller is (a session, a bearer token, or the demo's anonymous
 * tenant). */
int eng_api_session_get(struct eng_api_ctx *c)
{
    const char *auth = c->session                                          ? "session"
                       : eng_httpd_header(c->req, "Authorization") != NULL ? "token"
                                                                           : "anonymous";
    session_json(c, c->session ? c->session_expires : NULL, auth);
    return ENG_HTTPD_DONE;
}

/* DELETE /api/session: the cookie's session ends and the browser drops the cookie. */
int eng_api_session_delete(struct eng_api_ctx *c)
{
    char id[65] = "";
    char value[44];
    if (c->session)
        snprintf(id, sizeof id, "%s", c->session_id);
    else if (eng_api_session_cookie(c, value) == 1) /* a bearer caller's own cookie, too */
        cookie_hash(value, id);
    if (id[0] != '\0') {
        struct eng_store *st = eng_api_store(c);
        if (st == NULL)
            return ENG_HTTPD_DONE;
        struct eng_err err = {0};
        if (eng_console_sessions_delete(st, id, &err) < 0)
            return eng_api_store_failed(c->resp, "session", &err);
    }
    session_cookie(c, "", 0);
    eng_buf_reset(&c->resp->body);
    c->resp->status = 204;
    return ENG_HTTPD_DONE;
}

struct tenant_list {
    struct eng_buf *b;
    int n;
};

static void tenant_item(void *ud, const char *tenant)
{
    struct tenant_list *l = ud;
    eng_api_json_member(l->b, l->n++ > 0 ? ",{\"id\":" : "{\"id\":", tenant);
    eng_buf_putc(l->b, '}');
}

/* GET /api/tenants (administrator only): every tenant the store knows. */
int eng_api_tenants(struct eng_api_ctx *c)
{
    if (!c->admin)
        return eng_api_error(c->resp, 403, "forbidden",
                             "only the administrator may list the tenants", NULL);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_buf *b = &c->resp->body;
    eng_buf_reset(b);
    eng_buf_puts(b, "{\"items\":[");
    struct eng_err err = {0};
    struct tenant_list l = {b, 0};
    if (eng_console_tenants_list(st, tenant_item, &l, &err) != 0)
        return eng_api_store_failed(c->resp, "tenants", &err);
    eng_buf_puts(b, "]}");
    c->resp->status = 200;
    c->resp->content_type = "application/json";
    return ENG_HTTPD_DONE;
}
