/*
 * fuzz_api.c - libFuzzer target: the API's router, authentication, request rules and body
 * handling (engine/api: eng_api_handle over the route table, every handler it reaches, the jobs
 * they hand to a worker, webhook ingest) without sockets. This file stands in for the server
 * adapter (it defines the eng_httpd_* functions of adapt/httpd.h, so adapt/httpd.c is not
 * linked): a request is built from the input, handed to eng_api_handle, and when a handler
 * returns ENG_HTTPD_PENDING the request waits for eng_httpd_resume and the handler is called
 * again, as httpd.c does. Everything behind the router is real: a migrated SQLite store in a
 * scratch folder, the script registry over scripts/ and mappings/, one worker with its VM,
 * the ingest writer.
 * Input (text): "METHOD PATH[?QUERY]\n", then "Name: value\n" header lines, an empty line, the
 * body. In header values $ADMIN and $TENANT become the administrator's and a tenant's token,
 * and an X-WC-Webhook-Signature or intuit-signature of "$SIGN" becomes the body's real HMAC
 * under the configured secret, so mutated bodies still reach the parsers behind the check.
 * Checks: every request is answered (no hang, crash or sanitizer report), with a status in
 * 100..599; a JSON answer is valid JSON; no answer (body or header) contains a token, the
 * webhook secrets or the encryption key that no request has contained (the fuzzer learns
 * them from the comparisons it watches; what a client sent, the store may show back).
 * Isolation: outbound HTTP goes to a proxy at 127.0.0.1:9 (closed): no packet leaves the
 * machine, whatever URL a request stores. State (tokens, credentials, events) accumulates in
 * the scratch store across inputs, like a running engine's.
 * FUZZ_API_TRACE=1 prints each request's route and answer (to see what a corpus reaches).
 * Corpus: tests/fuzz/corpus/api/ (one request per route, the fixtures as bodies).
 */
#include "fuzz.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "adapt/crypto.h"
#include "adapt/httpd.h"
#include "adapt/store.h"
#include "api/api.h"
#include "base/config.h"
#include "base/log.h"
#include "base/policy.h"
#include "data/api_tokens.h"
#include "data/keyring.h"
#include "flow/ingest.h"
#include "flow/worker.h"
#include "lua/scripts.h"
#include "lua/vm.h"

#define ADMIN_TOKEN  "fuzz-admin-token-0123456789abcdef"
#define TENANT_TOKEN "fuzz-tenant-token-0123456789abcdef"
#define WOO_SECRET   "fuzz-woo-secret"
#define QBO_SECRET   "fuzz-qbo-verifier-token"
#define MAX_FIELDS   24

/* ---- the server adapter, in memory ---- */

struct eng_httpd_req {
    char method[32];
    char *path;
    char *hname[MAX_FIELDS], *hval[MAX_FIELDS];
    int nh;
    char *qname[MAX_FIELDS], *qval[MAX_FIELDS];
    int nq;
    char *body;
    size_t body_len;
    void *state;
    void (*state_free)(void *);
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int resumed;
};

void eng_httpd_resp_header(struct eng_httpd_resp *resp, const char *name, const char *value)
{
    if (resp->nheaders >= ENG_HTTPD_MAX_HEADERS)
        return;
    resp->header_names[resp->nheaders] = name;
    snprintf(resp->header_values[resp->nheaders], sizeof resp->header_values[0], "%s", value);
    resp->nheaders++;
}

const char *eng_httpd_method(struct eng_httpd_req *req)
{
    return req->method;
}

const char *eng_httpd_path(struct eng_httpd_req *req)
{
    return req->path;
}

const char *eng_httpd_header(struct eng_httpd_req *req, const char *name)
{
    for (int i = 0; i < req->nh; i++)
        if (strcasecmp(req->hname[i], name) == 0)
            return req->hval[i];
    return NULL;
}

const char *eng_httpd_query(struct eng_httpd_req *req, const char *name)
{
    for (int i = 0; i < req->nq; i++)
        if (strcmp(req->qname[i], name) == 0)
            return req->qval[i];
    return NULL;
}

const char *eng_httpd_body(struct eng_httpd_req *req, size_t *len)
{
    *len = req->body_len;
    return req->body;
}

const char *eng_httpd_peer(struct eng_httpd_req *req)
{
    (void)req;
    return "127.0.0.1";
}

void eng_httpd_resp_file(struct eng_httpd_resp *resp, int fd, unsigned long long size)
{
    if (resp->has_file)
        close(resp->file_fd);
    resp->has_file = 1;
    resp->file_fd = fd;
    resp->file_size = size;
}

int eng_httpd_via_proxy(struct eng_httpd_req *req)
{
    (void)req;
    return 0;
}

void *eng_httpd_state(struct eng_httpd_req *req)
{
    return req->state;
}

void eng_httpd_set_state(struct eng_httpd_req *req, void *state, void (*free_fn)(void *))
{
    req->state = state;
    req->state_free = free_fn;
}

void eng_httpd_resume(struct eng_httpd_req *req)
{
    pthread_mutex_lock(&req->mu);
    req->resumed++;
    pthread_cond_signal(&req->cv);
    pthread_mutex_unlock(&req->mu);
}

int eng_httpd_start(const struct eng_httpd_opts *opts, struct eng_httpd **out, struct eng_err *err)
{
    (void)opts;
    *out = NULL;
    return eng_err_set(err, ENG_EINVAL, "fuzz_api: no server");
}

int eng_httpd_port(const struct eng_httpd *h)
{
    (void)h;
    return 0;
}

void eng_httpd_stop(struct eng_httpd *h)
{
    (void)h;
}

void eng_httpd_lib_version(char *buf, size_t size)
{
    snprintf(buf, size, "fuzz_api (no server)");
}

/* ---- the engine behind the router ---- */

static struct eng_config cfg;
static struct eng_api api;
static const char *secrets[] = {ADMIN_TOKEN, TENANT_TOKEN, WOO_SECRET, QBO_SECRET, NULL, NULL};

static uint64_t generation(void *ud)
{
    return eng_scripts_generation(ud);
}

static void setup(void)
{
    eng_log_set_level(ENG_LOG_ERROR);
    char dir[] = "/tmp/fuzz_api.XXXXXX";
    check(mkdtemp(dir) != NULL);
    char url[128];
    snprintf(url, sizeof url, "sqlite:%s/engine.db", dir);
    static char key[64];
    unsigned char raw[32];
    struct eng_err err = {0};
    check(eng_crypto_random(raw, sizeof raw, &err) == 0);
    check(eng_crypto_base64_encode(raw, sizeof raw, key, sizeof key, NULL, &err) == 0);
    secrets[4] = key;
    const char *env[][2] = {
        {"DATABASE_URL", url},
        {"API_TOKEN", ADMIN_TOKEN},
        {"INTEGRATION_ENCRYPTION_KEY", key},
        {"WOOCOMMERCE_WEBHOOK_SECRET", WOO_SECRET},
        {"QUICKBOOKS_WEBHOOK_SECRET", QBO_SECRET},
        {"SCRIPTS_DIR", ENG_SOURCE_DIR "/scripts"},
        {"MAPPINGS_DIR", ENG_SOURCE_DIR "/mappings"},
        {"SCHEMA_DIR", ENG_SOURCE_DIR "/schema"},
        {"SCRIPT_TIMEOUT_MS", "500"},
        {"SCRIPT_MEMORY_MB", "32"},
        {"WORKERS", "1"},
        {"QUICKBOOKS_AUTH_URL", "http://127.0.0.1:9/auth"},
        {"QUICKBOOKS_TOKEN_URL", "http://127.0.0.1:9/token"},
        {"QUICKBOOKS_API_BASE", "http://127.0.0.1:9"},
        {"OAUTH_REDIRECT_URI", "http://127.0.0.1:9/api/integrations/quickbooks/callback"},
        /* every outbound request: a closed local port, never the URL a request names */
        {"http_proxy", "http://127.0.0.1:9"},
        {"HTTPS_PROXY", "http://127.0.0.1:9"},
        {"https_proxy", "http://127.0.0.1:9"},
        {"ALL_PROXY", "http://127.0.0.1:9"},
        {"all_proxy", "http://127.0.0.1:9"},
    };
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
        setenv(env[i][0], env[i][1], 1);
    unsetenv("NO_PROXY");
    unsetenv("no_proxy");
    unsetenv("API_ANONYMOUS_TENANT");
    if (eng_config_load(&cfg, &err) != 0) {
        fprintf(stderr, "fuzz_api: configuration: %s\n", err.msg);
        abort();
    }
    eng_log_set_level(ENG_LOG_ERROR);
    struct eng_store *st = NULL;
    check(eng_store_open(cfg.database_url, &st, &err) == 0);
    check(eng_store_migrate(st, cfg.schema_dir, NULL, &err) == 0);
    /* the tenant token, stored as `tallysync token create` stores one */
    unsigned char d[ENG_CRYPTO_SHA256_LEN];
    char hex[2 * ENG_CRYPTO_SHA256_LEN + 1];
    eng_crypto_sha256(TENANT_TOKEN, strlen(TENANT_TOKEN), d, NULL);
    eng_crypto_hex_encode(d, sizeof d, hex, sizeof hex, NULL);
    check(eng_api_tokens_insert(st, "acme", "fuzz", hex, "fuzz-ten", NULL, &err) == 0);
    eng_store_close(st);

    struct eng_keyring *keys = NULL;
    check(eng_keyring_from_env(&keys, &err) == 0);
    static struct eng_vm_opts vmopts;
    vmopts.scripts_dir = cfg.scripts_dir;
    vmopts.mappings_dir = cfg.mappings_dir;
    vmopts.database_path = cfg.database_url;
    vmopts.mem_limit = cfg.script_memory_bytes;
    vmopts.budget_ms = cfg.script_timeout_ms;
    vmopts.budget_instr = cfg.script_max_instructions;
    struct eng_scripts *scripts = eng_scripts_new(&vmopts, &err);
    check(scripts != NULL);
    check(eng_scripts_start(scripts, &err) == 0);
    api.cfg = &cfg;
    api.scripts = scripts;
    api.keys = keys;
    api.policy = eng_scripts_policy(scripts);
    api.started_ms = 1;
    check(eng_api_init(&api, &err) == 0);
    struct eng_workers_scripts ws = {eng_scripts_source, generation, scripts};
    api.workers = eng_workers_start(1, &vmopts, &ws, &err);
    check(api.workers != NULL);
    struct eng_ingest_opts io = {
        .window_s = cfg.webhook_replay_window_s, .sync_full = 0, .policy = api.policy};
    check(eng_ingest_start(cfg.database_url, &io, &api.ingest, &err) == 0);
    /* the engine runs until the fuzzer exits (as `serve` runs until it is stopped) */
}

/* ---- one request ---- */

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    check(p != NULL);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* value with $ADMIN / $TENANT replaced (first occurrence of each) */
static char *expand(const char *v)
{
    const char *names[] = {"$ADMIN", "$TENANT"}, *vals[] = {ADMIN_TOKEN, TENANT_TOKEN};
    char *out = strdup(v);
    check(out != NULL);
    for (int i = 0; i < 2; i++) {
        char *at = strstr(out, names[i]);
        if (at == NULL)
            continue;
        size_t pre = (size_t)(at - out), nl = strlen(names[i]), vl = strlen(vals[i]);
        char *n = malloc(strlen(out) - nl + vl + 1);
        check(n != NULL);
        memcpy(n, out, pre);
        memcpy(n + pre, vals[i], vl);
        strcpy(n + pre + vl, at + nl);
        free(out);
        out = n;
    }
    return out;
}

static void sign(struct eng_httpd_req *req, int i)
{
    const char *secret =
        strcasecmp(req->hname[i], "intuit-signature") == 0 ? QBO_SECRET : WOO_SECRET;
    unsigned char mac[ENG_CRYPTO_SHA256_LEN];
    check(eng_crypto_hmac_sha256(secret, strlen(secret), req->body, req->body_len, mac, NULL) == 0);
    char b64[64];
    check(eng_crypto_base64_encode(mac, sizeof mac, b64, sizeof b64, NULL, NULL) == 0);
    free(req->hval[i]);
    req->hval[i] = strdup(b64);
    check(req->hval[i] != NULL);
}

static int parse(struct eng_httpd_req *req, const char *s, size_t n)
{
    size_t i = 0, k;
    for (k = 0; i < n && s[i] != ' ' && s[i] != '\n' && k < sizeof req->method - 1; i++)
        req->method[k++] = s[i];
    req->method[k] = '\0';
    if (i >= n || s[i] != ' ' || k == 0)
        return -1;
    size_t ps = ++i;
    while (i < n && s[i] != '\n' && s[i] != '?')
        i++;
    req->path = dup_n(s + ps, i - ps);
    if (memchr(req->path, '\0', i - ps) != NULL) /* the server refuses it */
        return -1;
    if (i < n && s[i] == '?') {
        i++;
        while (i < n && s[i] != '\n') {
            size_t a = i;
            while (i < n && s[i] != '\n' && s[i] != '&')
                i++;
            const char *eq = memchr(s + a, '=', i - a);
            if (req->nq < MAX_FIELDS) {
                size_t kl = eq != NULL ? (size_t)(eq - (s + a)) : i - a;
                req->qname[req->nq] = dup_n(s + a, kl);
                req->qval[req->nq] =
                    eq != NULL ? dup_n(eq + 1, (size_t)(s + i - eq - 1)) : dup_n("", 0);
                req->nq++;
            }
            if (i < n && s[i] == '&')
                i++;
        }
    }
    if (i < n)
        i++;                        /* the request line's \n */
    while (i < n && s[i] != '\n') { /* header lines until an empty one */
        size_t a = i;
        while (i < n && s[i] != '\n')
            i++;
        const char *colon = memchr(s + a, ':', i - a);
        if (colon != NULL && req->nh < MAX_FIELDS) {
            const char *v = colon + 1;
            while (v < s + i && *v == ' ')
                v++;
            req->hname[req->nh] = dup_n(s + a, (size_t)(colon - (s + a)));
            char *raw = dup_n(v, (size_t)(s + i - v));
            req->hval[req->nh] = expand(raw); /* a NUL cuts the value, as a C string */
            free(raw);
            req->nh++;
        }
        if (i < n)
            i++;
    }
    if (i < n)
        i++; /* the empty line */
    req->body = dup_n(s + i, n - i);
    req->body_len = n - i;
    for (int h = 0; h < req->nh; h++)
        if (strcmp(req->hval[h], "$SIGN") == 0)
            sign(req, h);
    return 0;
}

static void req_free(struct eng_httpd_req *req)
{
    if (req->state_free != NULL)
        req->state_free(req->state);
    for (int i = 0; i < req->nh; i++)
        free(req->hname[i]), free(req->hval[i]);
    for (int i = 0; i < req->nq; i++)
        free(req->qname[i]), free(req->qval[i]);
    free(req->path);
    free(req->body);
    pthread_mutex_destroy(&req->mu);
    pthread_cond_destroy(&req->cv);
}

/* The request itself holds it (the fuzzer learns the secrets from the comparisons it watches
 * and writes them into paths and bodies): an answer that echoes it tells the client nothing. */
static int client_sent(const struct eng_httpd_req *req, const char *secret)
{
    size_t k = strlen(secret);
    if (strstr(req->path, secret) != NULL || memmem(req->body, req->body_len, secret, k) != NULL)
        return 1;
    for (int i = 0; i < req->nh; i++) /* a token in Authorization is a credential, not data */
        if ((strstr(req->hval[i], secret) != NULL && strcasecmp(req->hname[i], "Authorization")) ||
            strstr(req->hname[i], secret) != NULL)
            return 1;
    for (int i = 0; i < req->nq; i++)
        if (strstr(req->qval[i], secret) != NULL || strstr(req->qname[i], secret) != NULL)
            return 1;
    return 0;
}

/* secrets[i] was sent by some client already: the store keeps what clients send (a webhook
 * event's headers, a setting) and shows it back, so from then on it is theirs, not a leak */
static int exposed[sizeof secrets / sizeof secrets[0]];

/* A secret no client has sent, in s[0..n). */
static int has_secret(const char *s, size_t n)
{
    for (int i = 0; secrets[i] != NULL; i++)
        if (!exposed[i] && memmem(s, n, secrets[i], strlen(secrets[i])) != NULL)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (api.cfg == NULL)
        setup();
    struct eng_httpd_req req;
    memset(&req, 0, sizeof req);
    pthread_mutex_init(&req.mu, NULL);
    pthread_cond_init(&req.cv, NULL);
    struct eng_httpd_resp resp;
    memset(&resp, 0, sizeof resp);
    eng_buf_init(&resp.body);
    resp.status = 200; /* as httpd.c: a handler that sets none answers 200 */
    if (parse(&req, (const char *)data, size) == 0 && req.body_len <= cfg.max_body_bytes) {
        for (int i = 0; secrets[i] != NULL; i++)
            exposed[i] |= client_sent(&req, secrets[i]);
        int r = eng_api_handle(&api, &req, &resp);
        while (r == ENG_HTTPD_PENDING) { /* as httpd.c: suspended until resumed, then again */
            pthread_mutex_lock(&req.mu);
            while (req.resumed == 0)
                pthread_cond_wait(&req.cv, &req.mu);
            req.resumed--;
            pthread_mutex_unlock(&req.mu);
            eng_buf_free(&resp.body); /* each call of the handler gets a fresh answer */
            if (resp.has_file)
                close(resp.file_fd);
            memset(&resp, 0, sizeof resp);
            eng_buf_init(&resp.body);
            resp.status = 200;
            r = eng_api_handle(&api, &req, &resp);
        }
        if (getenv("FUZZ_API_TRACE") != NULL) /* see what each input reached */
            fprintf(stderr, "fuzz_api: %s %s -> %d %.200s\n", req.method, req.path, resp.status,
                    resp.body.data != NULL ? resp.body.data : "");
        check(resp.status >= 100 && resp.status <= 599);
        check(!resp.body.oom);
        const char *ct = resp.content_type != NULL ? resp.content_type : "application/json";
        if (strcmp(ct, "application/json") == 0 && resp.body.len > 0) {
            char msg[160];
            if (eng_api_json_check(resp.body.data, resp.body.len, 0, msg, sizeof msg) != 0) {
                fprintf(stderr, "fuzz_api: invalid JSON answer (%s): %.*s\n", msg,
                        (int)(resp.body.len > 400 ? 400 : resp.body.len), resp.body.data);
                abort();
            }
        }
        if (has_secret(resp.body.data != NULL ? resp.body.data : "", resp.body.len)) {
            fprintf(stderr, "fuzz_api: a secret in the answer: %.*s\n",
                    (int)(resp.body.len > 400 ? 400 : resp.body.len), resp.body.data);
            abort();
        }
        for (int i = 0; i < resp.nheaders; i++)
            check(!has_secret(resp.header_values[i], strlen(resp.header_values[i])));
    }
    eng_buf_free(&resp.body);
    if (resp.has_file) /* as httpd.c: the response owns a file's descriptor */
        close(resp.file_fd);
    req_free(&req);
    return 0;
}
