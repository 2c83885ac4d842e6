/*
 * api.h - the engine's HTTP routes. One route table (api_routes.c), one router and auth layer
 * (api.c), one file per area of handlers (api_system.c, api_mappings.c, api_integrations.c,
 * api_oauth.c, api_settings.c, ...). Handlers are C, parse and validate, and hand anything that
 * runs a script or calls a remote system to the workers through one api_job (api_job.c), whose
 * run function calls flow/ with C arguments and gets C results back; they never block a server
 * thread on a remote system. Only api/ renders answers (JSON, statuses, route texts).
 * Must not: include libmicrohttpd (httpd.c is the adapter), a Lua header or the VM (api/ never sees
 * a lua_State or a VM's insides: struct eng_vm is only handed through), or write SQL on a table
 * that has an owner in data/.
 */
#ifndef ENG_API_H
#define ENG_API_H

#include <stdatomic.h>
#include <stddef.h>

#include "adapt/httpd.h"
#include "base/buf.h"
#include "base/config.h"

struct eng_ingest;
struct eng_keyring;
struct eng_orch;
struct eng_scripts;
struct eng_store;
struct eng_store_stmt;
struct eng_vm; /* handed through to flow/ functions by jobs; api/ never looks inside */
struct eng_workers;

#define ENG_API_MAX_PARAMS     4
#define ENG_API_STATUS_CLASSES 5 /* 1xx..5xx */

struct eng_api {
    const struct eng_config *cfg;
    struct eng_scripts *scripts;
    struct eng_policy *policy; /* the scripts' declarations (eng_scripts_policy(scripts)) */
    struct eng_workers *workers;
    const struct eng_keyring *keys; /* NULL only in tests that need no vault */
    struct eng_orch *orch;          /* the sync dispatcher (NULL in tests without one) */
    long long started_ms;
    struct eng_ingest *ingest; /* webhook ingest writer; NULL: webhook receivers answer 503 */
    /* requests answered, per route (last slot: no route matched) and status class */
    _Atomic unsigned long long *requests;
};

/* One request as the handlers see it. Rebuilt for each call of a handler (a handler that went
 * to a worker is called again when the worker is done; eng_httpd_state says which call it is). */
struct eng_api_ctx {
    struct eng_api *api;
    struct eng_httpd_req *req;
    struct eng_httpd_resp *resp;
    const struct eng_api_route *route;
    char tenant[65];     /* the tenant this request acts for */
    int admin;           /* authenticated with API_TOKEN (or a session made with it) */
    int session;         /* authenticated by the console's session cookie (not a bearer token) */
    char session_id[65]; /* then: the hash of the cookie value (console_sessions.id_hash) */
    char session_expires[32]; /* then: when the session ends */
    struct {
        const char *s;
        size_t n;
    } params[ENG_API_MAX_PARAMS]; /* {name} segments of the pattern, in order */
    int nparams;
};

typedef int (*eng_api_fn)(struct eng_api_ctx *c); /* ENG_HTTPD_DONE or ENG_HTTPD_PENDING */

enum {
    ENG_ROUTE_PUBLIC = 1,   /* no bearer token */
    ENG_ROUTE_NDJSON = 2,   /* also accepts application/x-ndjson bodies */
    ENG_ROUTE_ANY_BODY = 4, /* no content-type rule (webhooks, form posts) */
};

struct eng_api_route {
    const char *method;  /* "GET", "POST", "DELETE" */
    const char *pattern; /* "/api/integrations/{platform}/credentials" */
    unsigned flags;
    eng_api_fn fn;
};

extern const struct eng_api_route eng_api_routes[];
extern const size_t eng_api_nroutes;

/* Set up / tear down the shared parts (request counters, per-thread store key). */
int eng_api_init(struct eng_api *api, struct eng_err *err);
void eng_api_fini(struct eng_api *api);

/* The one eng_httpd_handler of the server; app is a struct eng_api. */
int eng_api_handle(void *app, struct eng_httpd_req *req, struct eng_httpd_resp *resp);

/* ---- for handlers ---- */

/* Fill resp with {"error":{"code","message","details"}}; details is JSON text or NULL. Always
 * returns ENG_HTTPD_DONE so handlers can `return eng_api_error(...)`. */
int eng_api_error(struct eng_httpd_resp *resp, int status, const char *code, const char *message,
                  const char *details);
/* A store failure answered the one way: logged as "api: <area>: <cause>", then 503 unavailable
 * when the store was busy (retry), else 500 internal (the cause stays in the log). ENG_HTTPD_DONE.
 */
int eng_api_store_failed(struct eng_httpd_resp *resp, const char *area, const struct eng_err *err);
/* This thread's connection to the store (opened on first use, closed when the thread ends);
 * NULL after answering 503 into c->resp. */
struct eng_store *eng_api_store(struct eng_api_ctx *c);
/* Run sql (one row whose first column is JSON text) with texts binds[0..nbinds) (NULL binds
 * NULL) then the integers ints[0..nints), and answer 200 with that text. 0; ENG_ENOTFOUND
 * (no row, or a NULL column: nothing answered); 1 when the store is not reachable (503
 * answered); other < 0 with err (nothing answered). */
int eng_api_json_answer(struct eng_api_ctx *c, const char *sql, const char *const *binds,
                        int nbinds, const long long *ints, int nints, struct eng_err *err);
/* Inspect JSON text with SQLite's JSON functions: prepare sql, bind ?1 to text, step. Returns
 * ENG_STORE_ROW (*s at the row) or ENG_STORE_DONE (*s finished): the caller finalizes *s; or
 * < 0 with err (*s NULL). */
int eng_api_json_query(struct eng_store *st, const char *sql, const char *text,
                       struct eng_store_stmt **s, struct eng_err *err);
/* eng_api_store, then eng_api_body_object: the store with *body set, or NULL after answering
 * (503, or 400 malformed_json). */
struct eng_store *eng_api_store_body(struct eng_api_ctx *c, int empty_ok, const char **body);
/* 1 when the script registry has a published version of "<folder>/<name>.lua" (folder
 * "scripts/connectors" or "mappings"), else 0. name must already be a checked id. */
int eng_api_published(const struct eng_api_ctx *c, const char *folder, const char *name);
/* Append key (the member's punctuation and name, e.g. ",\"keyId\":") then s as a JSON string,
 * or null when s is NULL. */
void eng_api_json_member(struct eng_buf *b, const char *key, const char *s);
/* Copy path parameter i into buf (NUL-terminated); 0, or -1 when it does not fit. */
int eng_api_param(const struct eng_api_ctx *c, int i, char *buf, size_t size);
/* 1 when s[0..n) is a tenant or platform id: 1-64 of [A-Za-z0-9_.-]. */
int eng_api_id_ok(const char *s, size_t n);
/* api_body.c: the request body as one JSON object (strict syntax, UTF-8, no NUL, depth <= 32).
 * 0 with *body (the request's NUL-terminated text, or "{}" for an empty body when empty_ok), or
 * -1 after answering 400 malformed_json naming what is wrong and at which byte. */
int eng_api_body_object(struct eng_api_ctx *c, int empty_ok, const char **body, size_t *len);
/* Answer status (422) invalid_field: message "field: msg", details {"field": field}; the field
 * may come from the client (escaped, cut at 40 bytes). Returns ENG_HTTPD_DONE. */
int eng_api_field_error(struct eng_httpd_resp *resp, int status, const char *field,
                        const char *msg);
/* The syntax check alone: 0, or ENG_EINVAL with a sentence in msg. */
int eng_api_json_check(const char *text, size_t len, int want_object, char *msg, size_t size);

/* ---- api_job.c: a route that finishes on a worker ----
 * The handler starts a job (eng_api_job_start) and returns ENG_HTTPD_PENDING; the job's run
 * function fills the answer on a worker (it may call flow/ functions with the VM it is handed);
 * then the server calls the handler again, which finds the job (eng_api_job_resumed) and
 * answers with it (eng_api_job_finish, or its own rendering). The job is freed with the
 * request. */
struct eng_api_job;
/* Runs on a worker. vm is that worker's VM (never NULL: a stopping pool answers 503 itself);
 * st is the worker thread's store connection (NULL for ENG_API_JOB_NO_STORE jobs). */
typedef void (*eng_api_job_fn)(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st);

struct eng_api_job {
    /* set by eng_api_job_start */
    struct eng_httpd_req *req;
    const struct eng_config *cfg;
    const struct eng_keyring *keys; /* c->api->keys (may be NULL) */
    char tenant[65];
    void *arg; /* the route's own state; arg_free(arg) runs when the job is freed */
    void (*arg_free)(void *arg);
    /* the answer, filled on the worker */
    int status;               /* HTTP status; >= 400 answers the error envelope */
    char code[40];            /* error code when status >= 400 */
    char message[512];        /* error message (never a secret) */
    char field[96];           /* details {"field": field} of an error, "" when none */
    struct eng_buf details;   /* details JSON text of an error (wins over field); empty: none */
    struct eng_buf body;      /* the body when status < 400 (JSON: "{}" when empty) */
    const char *content_type; /* of body; NULL: application/json */
};

enum {
    ENG_API_JOB_NO_STORE = 1, /* run needs no store connection (st is NULL) */
};

struct eng_api_job_opts {
    eng_api_job_fn run;
    unsigned flags;
    void *arg;
    void (*arg_free)(void *arg);
    /* 503 messages when the pool is stopping / the worker cannot open the store; NULL: "the
     * engine is shutting down" / "the store is not reachable; retry shortly" */
    const char *shutting_down;
    const char *no_store;
    const char *tenant; /* the tenant the job acts for; NULL: c->tenant */
};

/* Queue a job for this request. ENG_HTTPD_PENDING, or ENG_HTTPD_DONE after answering 503 busy
 * (queue full, Retry-After: 1) or 500 out of memory; arg is then freed with the request (or at
 * once when the job could not be allocated). */
int eng_api_job_start(struct eng_api_ctx *c, const struct eng_api_job_opts *o);
/* The job of a resumed request, or NULL on the first call of the handler. */
struct eng_api_job *eng_api_job_resumed(struct eng_api_ctx *c);
/* Answer with the job: the error envelope (details, or {"field"}) or status + body. DONE. */
int eng_api_job_finish(struct eng_api_ctx *c, struct eng_api_job *j);
/* On the worker: set the error answer (message cut at 500 bytes). */
void eng_api_job_fail(struct eng_api_job *j, int status, const char *code, const char *message);

/* ---- api_credentials.c: the credentials status (data/vault_status.h) as JSON ----
 *   {"platform":"woocommerce","configured":true,"keyId":"0123456789abcdef",
 *    "status":"untested","lastTestAt":null,"lastTestOk":null,"lastTestMessage":null,
 *    "updatedAt":"2026-01-15T09:30:00.000Z","fields":{...public_fields...},
 *    "accessTokenExpiresAt":null,"refreshTokenExpiresAt":null,"warnings":[]}
 * warnings: {"code":"key_mismatch","message"} (kr given and lacking the row's key id; names key
 * ids only), {"code":"reconnect_required","message"} (a refused refresh), the last passed
 * test's {"code","message"}, {"code":"refresh_token_expiring"|"refresh_token_expired",
 * "message","expiresAt"} (within ENG_VAULT_REFRESH_WARN_DAYS days of the expiry, or after). */
struct eng_vault_status;
void eng_api_credentials_status_json(struct eng_buf *out, const struct eng_vault_status *s,
                                     const struct eng_keyring *kr);
/* Append the status of one platform (an object; configured false when nothing is stored), or
 * with platform NULL a JSON array of the tenant's active rows by platform. 0, or < 0 with err
 * and out as it was. kr may be NULL (no key_mismatch warnings). */
int eng_api_credentials_status(struct eng_store *st, const struct eng_keyring *kr,
                               const char *tenant, const char *platform, struct eng_buf *out,
                               struct eng_err *err);

/* ---- api_causes.c: a failure's cause in words ----
 * The sentence (static; what the code means and what to do) for a failed record's error code
 * (sync_records.error_code) and, for code "mapping", its message's words. Never NULL: a code
 * it does not know (or none) gets a generic sentence; it never quotes code or message. */
const char *eng_api_cause(const char *code, const char *error);

/* ---- handlers, by file ---- */
int eng_api_health(struct eng_api_ctx *c);  /* api_system.c */
int eng_api_ready(struct eng_api_ctx *c);   /* api_system.c */
int eng_api_metrics(struct eng_api_ctx *c); /* api_system.c */
int eng_api_openapi(struct eng_api_ctx *c); /* api_system.c */
int eng_api_scripts(struct eng_api_ctx *c); /* api_system.c */
int eng_api_dry_run(struct eng_api_ctx *c); /* api_mappings.c */

int eng_api_integrations_list(struct eng_api_ctx *c);  /* api_integrations.c */
int eng_api_integration_status(struct eng_api_ctx *c); /* api_integrations.c */
int eng_api_integration_store(struct eng_api_ctx *c);  /* api_integrations.c */
int eng_api_integration_delete(struct eng_api_ctx *c); /* api_integrations.c */
int eng_api_integration_test(struct eng_api_ctx *c);   /* api_integrations.c */

/* api_integrations.c, with webhook_health.h */
int eng_api_woo_webhooks_check(struct eng_api_ctx *c);
int eng_api_woo_webhooks_register(struct eng_api_ctx *c);

int eng_api_qbo_connect(struct eng_api_ctx *c);  /* api_oauth.c */
int eng_api_qbo_callback(struct eng_api_ctx *c); /* api_oauth.c */

int eng_api_sync_start(struct eng_api_ctx *c);             /* api_sync.c */
int eng_api_sync_status_list(struct eng_api_ctx *c);       /* api_sync.c */
int eng_api_sync_status(struct eng_api_ctx *c);            /* api_sync.c */
int eng_api_sync_history(struct eng_api_ctx *c);           /* api_sync.c */
int eng_api_sync_records(struct eng_api_ctx *c);           /* api_sync_records.c */
int eng_api_sync_stop(struct eng_api_ctx *c);              /* api_sync.c */
int eng_api_sync_failures(struct eng_api_ctx *c);          /* api_failures.c */
int eng_api_sync_failure(struct eng_api_ctx *c);           /* api_failures.c */
int eng_api_sync_failure_test_case(struct eng_api_ctx *c); /* api_failures.c */
int eng_api_sync_hourly(struct eng_api_ctx *c);            /* api_overview.c */
int eng_api_overview(struct eng_api_ctx *c);               /* api_overview.c */
int eng_api_sync_retry(struct eng_api_ctx *c);             /* api_sync.c */
int eng_api_sync_schedule_create(struct eng_api_ctx *c);   /* api_sync_schedules.c */
int eng_api_sync_schedule_list(struct eng_api_ctx *c);     /* api_sync_schedules.c */
int eng_api_sync_schedule_delete(struct eng_api_ctx *c);   /* api_sync_schedules.c */
int eng_api_settings_get(struct eng_api_ctx *c);           /* api_settings.c */
int eng_api_settings_put(struct eng_api_ctx *c);           /* api_settings.c */
int eng_api_webhook_woocommerce(struct eng_api_ctx *c);    /* api_webhooks.c */
int eng_api_webhook_quickbooks(struct eng_api_ctx *c);     /* api_webhooks.c (both formats) */
int eng_api_webhook_events(struct eng_api_ctx *c);         /* api_webhooks.c */
int eng_api_webhook_replay(struct eng_api_ctx *c);         /* api_webhooks.c */

/* api_operator.c: the operator settings, administrator only */
int eng_api_operator_get(struct eng_api_ctx *c);
int eng_api_operator_put(struct eng_api_ctx *c);

/* api_static.c: the console's files from WEB_DIR, for a GET or HEAD no route matched whose
 * path is not reserved. eng_api_static_reserved: 1 for /api, /health, /ready, /metrics and
 * anything below them (those answer the API's JSON 404 instead). */
int eng_api_static_reserved(const char *path);
int eng_api_static(struct eng_api_ctx *c);

/* ---- api.c: who is calling (used by api_session.c) ---- */
#define ENG_API_SESSION_COOKIE "tallysync_session"
/* The principal of a bearer token's text tok[0..n): 1 with *admin, tenant ("default" for the
 * administrator) and, for a tenant token, its hash (hex) in token_hash; 0 when the token is not
 * a live one; -1 after answering 503 (the store). Records a tenant token's use. */
int eng_api_token_principal(struct eng_api_ctx *c, const char *tok, size_t n, int *admin,
                            char tenant[65], char token_hash[65]);
/* The fingerprint of API_TOKEN an administrator's session keeps (hex), "" when it is unset. */
void eng_api_admin_fingerprint(const struct eng_config *cfg, char fp[65]);
/* The session cookie's value into value (43 base64url characters): 1 when the request has one
 * of that form, 0 when it has none, -1 when it has one of another form. */
int eng_api_session_cookie(struct eng_api_ctx *c, char value[44]);
/* 1 when the request's Origin is the engine's own origin (scheme and host as the request
 * reached it: Host, or X-Forwarded-Host/-Proto from a trusted proxy), else 0. */
int eng_api_origin_ok(struct eng_api_ctx *c);
/* 1 when the request reached the engine over TLS (through a trusted proxy that says so). */
int eng_api_request_tls(struct eng_api_ctx *c);
/* Answer 403 origin_mismatch. ENG_HTTPD_DONE. */
int eng_api_origin_mismatch(struct eng_httpd_resp *resp);

/* api_session.c: the console's login (public), whoami, logout; the tenants (admin only) */
int eng_api_session_create(struct eng_api_ctx *c);
int eng_api_session_get(struct eng_api_ctx *c);
int eng_api_session_delete(struct eng_api_ctx *c);
int eng_api_tenants(struct eng_api_ctx *c);

/* The OpenAPI document served at /api/openapi.json (generated from engine/api/openapi.json). */
extern const char eng_openapi_json[];
extern const size_t eng_openapi_json_len;

#endif
