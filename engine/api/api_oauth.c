/*
 * api_oauth.c - the QuickBooks OAuth 2.0 connect flow (issue 3). GET .../quickbooks/connect
 * answers Intuit's authorization URL with a fresh random state, of which only the SHA-256 is
 * stored (oauth_states: tenant, single use, 10 minutes). GET .../quickbooks/callback is public
 * (the browser comes back from Intuit): it consumes the state in one UPDATE ... RETURNING, then a
 * worker exchanges the code with scripts/lib/quickbooks_oauth.lua and stores the tokens in the
 * vault while the connection waits suspended. The callback's path is fixed (ROUTE_CALLBACK):
 * OAUTH_REDIRECT_URI must point at it, directly or through a proxy.
 * Must not: block a server thread on Intuit; write a state, code, token or client secret
 * anywhere but the vault (no log line, answer or error message). The exchange itself is
 * flow/oauth.c's (on a worker, through eng_vm_call); the states are data/oauth_states.c's.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "adapt/crypto.h"
#include "base/log.h"
#include "data/oauth_states.h"
#include "flow/oauth.h"

#define ROUTE_CALLBACK     "/api/integrations/quickbooks/callback"
#define OAUTH_PLATFORM     ENG_OAUTH_PLATFORM
#define OAUTH_SCOPE        "com.intuit.quickbooks.accounting"
#define OAUTH_STATE_BYTES  32   /* random bytes of a state: 43 base64url characters */
#define OAUTH_STATE_MAXLEN 256  /* longer "states" are refused without a lookup */
#define OAUTH_CODE_MAXLEN  4096 /* Intuit's codes are ~50 characters */
#define OAUTH_TTL_S        600  /* a state lives 10 minutes */

/* ---- helpers ---- */

/* Append s percent-encoded (everything but RFC 3986 unreserved characters). */
static void oauth_urlenc(struct eng_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            eng_buf_putc(b, (char)ch);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            eng_buf_append(b, e, 3);
        }
    }
}

/* SHA-256 of the state text as 64 lowercase hex digits: the only form the store sees. */
static void oauth_state_hash(const char *state, char hex[2 * ENG_CRYPTO_SHA256_LEN + 1])
{
    unsigned char d[ENG_CRYPTO_SHA256_LEN];
    eng_crypto_sha256(state, strlen(state), d, NULL);
    eng_crypto_hex_encode(d, sizeof d, hex, 2 * ENG_CRYPTO_SHA256_LEN + 1, NULL);
    eng_crypto_wipe(d, sizeof d);
}

/* Warn once when OAUTH_REDIRECT_URI's path is not the callback route (a proxy may rewrite it,
 * so this is a warning, not an error). */
static void oauth_check_redirect_path(const char *uri)
{
    static atomic_int warned;
    const char *p = strstr(uri, "://");
    p = p != NULL ? strchr(p + 3, '/') : NULL;
    size_t n = p != NULL ? strcspn(p, "?#") : 0;
    if (p != NULL && n == strlen(ROUTE_CALLBACK) && strncmp(p, ROUTE_CALLBACK, n) == 0)
        return;
    if (atomic_exchange(&warned, 1) == 0)
        eng_log_kv(ENG_LOG_WARN, NULL, NULL,
                   "OAUTH_REDIRECT_URI does not end in the callback route: Intuit will send the "
                   "browser there, so it must reach this engine's callback",
                   (const char *const[]){"route", ROUTE_CALLBACK, NULL});
}

/* ---- GET /api/integrations/quickbooks/connect ---- */

int eng_api_qbo_connect(struct eng_api_ctx *c)
{
    const struct eng_config *cfg = c->api->cfg;
    if (c->api->keys == NULL || cfg->oauth_redirect_uri == NULL || cfg->quickbooks_auth_url == NULL)
        return eng_api_error(c->resp, 503, "unavailable",
                             "the vault or the QuickBooks OAuth settings are not configured", NULL);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    oauth_check_redirect_path(cfg->oauth_redirect_uri);

    /* client_id from the stored credentials (a local decrypt: fine on this thread) */
    struct eng_err err = {0};
    char client_id[256] = "";
    int rc = eng_oauth_client_id(st, c->api->keys, c->tenant, client_id, sizeof client_id, &err);
    if (rc == 0)
        return eng_api_error(c->resp, 409, "credentials_missing",
                             "store the QuickBooks client_id and client_secret first", NULL);
    if (rc == ENG_EAUTH)
        return eng_api_error(c->resp, 409, "credentials_unreadable", err.msg, NULL);
    if (rc != 1) {
        eng_logf(ENG_LOG_ERROR, "oauth connect: cannot read the credentials: %s", err.msg);
        return eng_api_error(c->resp, 503, "unavailable",
                             "cannot read the stored credentials; retry shortly", NULL);
    }

    /* the state: 32 random bytes, base64url; only its hash is stored */
    unsigned char raw[OAUTH_STATE_BYTES];
    char state[64], hash[2 * ENG_CRYPTO_SHA256_LEN + 1], expires[40] = "";
    rc = eng_crypto_random(raw, sizeof raw, &err);
    if (rc == 0)
        rc = eng_crypto_base64url_encode(raw, sizeof raw, state, sizeof state, NULL, &err);
    eng_crypto_wipe(raw, sizeof raw);
    if (rc == 0) {
        oauth_state_hash(state, hash);
        rc = eng_oauth_states_insert(st, hash, c->tenant, OAUTH_PLATFORM, OAUTH_TTL_S, expires,
                                     sizeof expires, &err);
    }
    if (rc != 0) {
        eng_crypto_wipe(state, sizeof state);
        eng_logf(ENG_LOG_ERROR, "oauth connect: cannot make a state: %s", err.msg);
        return eng_api_error(c->resp, 503, "unavailable", "cannot start the connection; retry",
                             NULL);
    }

    struct eng_buf url;
    eng_buf_init(&url);
    const char *auth = cfg->quickbooks_auth_url;
    eng_buf_puts(&url, auth);
    eng_buf_putc(&url, strchr(auth, '?') != NULL ? '&' : '?');
    eng_buf_puts(&url, "client_id=");
    oauth_urlenc(&url, client_id);
    eng_buf_puts(&url, "&response_type=code&scope=");
    oauth_urlenc(&url, OAUTH_SCOPE);
    eng_buf_puts(&url, "&redirect_uri=");
    oauth_urlenc(&url, cfg->oauth_redirect_uri);
    eng_buf_puts(&url, "&state=");
    eng_buf_puts(&url, state); /* base64url needs no encoding */

    struct eng_buf *b = &c->resp->body;
    eng_buf_reset(b);
    c->resp->status = 200;
    c->resp->content_type = "application/json";
    eng_buf_puts(b, "{\"authorizationUrl\":");
    eng_buf_json_str(b, url.data != NULL ? url.data : "", url.len);
    eng_buf_puts(b, ",\"state\":");
    eng_buf_json_str(b, state, strlen(state));
    eng_buf_puts(b, ",\"expiresAt\":");
    eng_buf_json_str(b, expires, strlen(expires));
    eng_buf_putc(b, '}');
    eng_crypto_wipe(state, sizeof state); /* (httpd sends Cache-Control: no-store) */
    int oom = url.oom;
    eng_buf_free(&url);
    if (oom || b->oom)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    eng_log_kv(ENG_LOG_INFO, c->tenant, NULL, "quickbooks oauth: connect started",
               (const char *const[]){"expires_at", expires, NULL});
    return ENG_HTTPD_DONE;
}

/* ---- GET /api/integrations/quickbooks/callback: the worker half ---- */

/* A callback's own state (eng_api_job.arg). */
struct oauth_arg {
    char realm_id[65];
    char *code; /* the authorization code: wiped and freed with the job */
    size_t code_len;
};

static void oauth_arg_free(void *p)
{
    struct oauth_arg *a = p;
    if (a != NULL && a->code != NULL) {
        eng_crypto_wipe(a->code, a->code_len);
        free(a->code);
    }
    free(a);
}

/* On the worker: the exchange (flow/oauth.h); its outcome becomes the answer. */
static void oauth_job_run(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    const struct oauth_arg *a = j->arg;
    struct eng_oauth_result r;
    int rc = eng_oauth_exchange(vm, j->cfg, j->keys, st, j->tenant, a->realm_id, a->code,
                                a->code_len, &r);
    if (rc == 0) {
        j->status = 200;
        eng_buf_puts(&j->body, "{\"connected\":true,\"realmId\":");
        eng_buf_json_str(&j->body, a->realm_id, strlen(a->realm_id));
        eng_buf_putc(&j->body, '}');
        return;
    }
    switch (r.stage) {
    case ENG_OAUTH_CREDENTIALS:
        if (rc == ENG_ENOTFOUND)
            eng_api_job_fail(j, 409, "credentials_missing", r.message);
        else if (rc == ENG_EAUTH)
            eng_api_job_fail(j, 409, "credentials_unreadable", r.message);
        else
            eng_api_job_fail(j, 503, "unavailable", r.message);
        break;
    case ENG_OAUTH_ENGINE:
        if (rc == ENG_EBUDGET)
            eng_api_job_fail(j, 504, "token_exchange_timeout", r.message);
        else
            eng_api_job_fail(j, 500, "internal", r.message);
        break;
    case ENG_OAUTH_REALM_OWNED: /* the message names the realm, never the other tenant */
        eng_api_job_fail(j, 409, "realm_owned", r.message);
        break;
    case ENG_OAUTH_REFUSED:
        if (strcmp(r.reason, "no_client") == 0)
            eng_api_job_fail(j, 409, "credentials_missing", r.message);
        else if (strcmp(r.reason, "bad_credentials") == 0)
            eng_api_job_fail(j, 409, "credentials_invalid", r.message);
        else if (strcmp(r.reason, "timeout") == 0)
            eng_api_job_fail(j, 504, "token_exchange_timeout", r.message);
        else
            eng_api_job_fail(j, 502, "token_exchange_failed", r.message);
        break;
    default:
        eng_api_job_fail(j, 503, "unavailable", r.message);
        break;
    }
}

/* ---- GET /api/integrations/quickbooks/callback: the server half ---- */

/* A QuickBooks company id: 1-32 digits (connectors/quickbooks.lua's realm_id rule). */
static int oauth_realm_ok(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (r[i] < '0' || r[i] > '9')
            return 0;
    return 1;
}

/* Intuit's ?error= value reduced to a safe token for the message. */
static void oauth_error_name(const char *e, char *out, size_t size)
{
    size_t n = 0;
    for (; e[n] != '\0' && n + 1 < size && n < 64; n++) {
        char ch = e[n];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || ch == '-' || ch == '.';
        out[n] = ch;
        if (!ok)
            out[n] = '?';
    }
    out[n] = '\0';
}

int eng_api_qbo_callback(struct eng_api_ctx *c)
{
    struct eng_api_job *j = eng_api_job_resumed(c);
    if (j != NULL) /* resumed: the worker is done */
        return eng_api_job_finish(c, j);
    /* A HEAD (link checkers, prefetchers) must not burn the user's state. */
    if (strcmp(eng_httpd_method(c->req), "GET") != 0) {
        eng_httpd_resp_header(c->resp, "Allow", "GET");
        return eng_api_error(c->resp, 405, "method_not_allowed", "the callback answers GET only",
                             NULL);
    }
    const struct eng_config *cfg = c->api->cfg;
    if (c->api->keys == NULL || cfg->oauth_redirect_uri == NULL ||
        cfg->quickbooks_token_url == NULL)
        return eng_api_error(c->resp, 503, "unavailable",
                             "the vault or the QuickBooks OAuth settings are not configured", NULL);

    const char *state = eng_httpd_query(c->req, "state");
    const char *error = eng_httpd_query(c->req, "error");
    const char *code = eng_httpd_query(c->req, "code");
    const char *realm = eng_httpd_query(c->req, "realmId");
    size_t slen = state != NULL ? strlen(state) : 0;
    if (slen == 0 || slen > OAUTH_STATE_MAXLEN)
        return eng_api_error(c->resp, 400, "invalid_state",
                             "the callback has no valid state: start again with GET "
                             "/api/integrations/quickbooks/connect",
                             NULL);
    if (error == NULL && (code == NULL || *code == '\0' || realm == NULL || *realm == '\0'))
        return eng_api_error(c->resp, 400, "missing_parameter",
                             "the callback needs code and realmId (as QuickBooks sends them)",
                             NULL);
    if (error == NULL && (strlen(code) > OAUTH_CODE_MAXLEN || !oauth_realm_ok(realm)))
        return eng_api_error(c->resp, 400, "invalid_parameter",
                             "realmId must be a QuickBooks company id (1-32 digits) and code at "
                             "most 4096 characters",
                             NULL);

    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_err err = {0};
    char hash[2 * ENG_CRYPTO_SHA256_LEN + 1], tenant[65];
    oauth_state_hash(state, hash);
    int rc = eng_oauth_states_consume(st, hash, OAUTH_PLATFORM, tenant, sizeof tenant, &err);
    if (rc == 1 && !eng_api_id_ok(tenant, strlen(tenant)))
        rc = 0;
    if (rc < 0) {
        eng_logf(ENG_LOG_ERROR, "quickbooks oauth: cannot check the state: %s", err.msg);
        return eng_api_error(c->resp, 503, "unavailable", "cannot check the state; retry shortly",
                             NULL);
    }
    if (error != NULL) { /* the user said no (the state, if valid, is used up all the same) */
        char name[72], msg[160];
        oauth_error_name(error, name, sizeof name);
        snprintf(msg, sizeof msg, "QuickBooks did not authorize the connection (%s)",
                 name[0] != '\0' ? name : "no reason given");
        if (rc == 1)
            eng_log_kv(ENG_LOG_INFO, tenant, NULL, "quickbooks oauth: authorization refused",
                       (const char *const[]){"error", name, NULL});
        return eng_api_error(c->resp, 400, "authorization_denied", msg, NULL);
    }
    if (rc == 0)
        return eng_api_error(c->resp, 400, "invalid_state",
                             "unknown, expired or already used state: start again with GET "
                             "/api/integrations/quickbooks/connect",
                             NULL);

    struct oauth_arg *a = calloc(1, sizeof *a);
    size_t clen = strlen(code);
    char *copy = a != NULL ? malloc(clen + 1) : NULL;
    if (copy == NULL) {
        free(a);
        eng_oauth_states_release(st, hash);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    memcpy(copy, code, clen + 1);
    a->code = copy;
    a->code_len = clen;
    snprintf(a->realm_id, sizeof a->realm_id, "%s", realm);
    const struct eng_api_job_opts o = {
        .run = oauth_job_run,
        .arg = a,
        .arg_free = oauth_arg_free,
        .shutting_down = "the engine is shutting down; connect again",
        .no_store = "the store is not reachable; connect again shortly",
        .tenant = tenant, /* the state's (the callback is public: c->tenant is the default) */
    };
    rc = eng_api_job_start(c, &o);
    if (rc != ENG_HTTPD_PENDING) /* nothing was exchanged: the same link may be retried */
        eng_oauth_states_release(st, hash);
    return rc;
}
