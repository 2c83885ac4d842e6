/*
 * api_integrations.c - the credential routes: store, status, list, delete and test a connector's
 * credentials in the vault (vault.h). Storing and testing run on a worker, because the field list
 * and test(ctx) are Lua (credentials.h calls scripts/lib/credentials.lua, with a context built by
 * connctx.h) and a test waits on a remote system; status, list and delete are one SQL statement
 * each on the server thread. The WooCommerce webhook routes (check, register) run on a worker
 * too (webhook_health.h), and the woocommerce status adds the last webhook check. This file
 * never touches a lua_State.
 * Owns: each task and the answer it carries. Must not: put a secret value into an answer, a log
 * line or an error message; keep decrypted secrets past the call that needs them.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "flow/credentials.h"
#include "flow/oauth.h"
#include "base/log.h"
#include "adapt/store.h"
#include "data/vault.h"
#include "data/vault_status.h"
#include "flow/webhook_health.h"

#define INTEG_MAX_PLATFORMS 128 /* connectors listed by GET /api/integrations */

/* The webhooks member of the woocommerce status before any check. */
static const char integ_whh_never[] =
    "{\"checkedAt\":null,\"ok\":null,\"deliveryUrl\":null,\"message\":\"not checked yet\","
    "\"topics\":[],\"warnings\":[]}";

enum integ_op { INTEG_STORE, INTEG_TEST, INTEG_WH_CHECK, INTEG_WH_REGISTER, INTEG_FIELDS };

/* A job's own state (eng_api_job.arg). */
struct integ_arg {
    enum integ_op op;
    char platform[72];
};

/* ---- helpers shared by the handlers ---- */

/* Copy the {platform} parameter into buf: 0 when it has a connector name's shape (1-64 of
 * [A-Za-z0-9_-]; no '.', which require would read as a folder). */
static int integ_platform(const struct eng_api_ctx *c, char *buf, size_t size)
{
    if (eng_api_param(c, 0, buf, size) != 0 || !eng_api_id_ok(buf, strlen(buf)) ||
        strchr(buf, '.') != NULL)
        return -1;
    return 0;
}

/* 404 naming the platform (its shape was checked, or it is not named at all). */
static int integ_unknown(struct eng_api_ctx *c, const char *platform)
{
    char msg[224];
    if (platform != NULL)
        snprintf(msg, sizeof msg, "no connector named '%s' (scripts/connectors/%s.lua)", platform,
                 platform);
    else
        snprintf(msg, sizeof msg, "no such connector");
    return eng_api_error(c->resp, 404, "not_found", msg, NULL);
}

/* Resolve {platform} to a published connector, or answer 404. 0 when found. */
static int integ_known(struct eng_api_ctx *c, char *platform, size_t size)
{
    if (integ_platform(c, platform, size) != 0)
        return integ_unknown(c, NULL), -1;
    if (!eng_api_published(c, "scripts/connectors", platform))
        return integ_unknown(c, platform), -1;
    return 0;
}

/* Answer a store failure: 503 when the database is busy, else 500 (details in the log only). */
static int integ_store_error(struct eng_httpd_resp *resp, const char *what, struct eng_err *err)
{
    /* vault and store messages name tenants, platforms and key ids, never values */
    eng_logf(ENG_LOG_ERROR, "api: cannot %s: %s", what, err->msg);
    if (err->code == ENG_EBUSY) {
        eng_httpd_resp_header(resp, "Retry-After", "1");
        return eng_api_error(resp, 503, "unavailable", "the store is busy; retry shortly", NULL);
    }
    return eng_api_error(resp, 500, "internal", "the credentials store failed (see the log)", NULL);
}

/* ---- the worker side ---- */

/* The store failed under a worker: 503 when busy, else 500 with what (the cause is logged). */
static void integ_job_store_failed(struct eng_api_job *j, const char *log_what, const char *message,
                                   const struct eng_err *err)
{
    eng_logf(ENG_LOG_ERROR, "api: %s: %s", log_what, err->msg);
    if (err->code == ENG_EBUSY)
        eng_api_job_fail(j, 503, "unavailable", "the store is busy; retry shortly");
    else
        eng_api_job_fail(j, 500, "internal", message);
}

/* The script error's first line (no traceback), into the job's message with a prefix. */
static void integ_script_fail(struct eng_api_job *j, const char *prefix, struct eng_err *err)
{
    const struct integ_arg *a = j->arg;
    size_t n = strcspn(err->msg, "\n");
    eng_logf(ENG_LOG_ERROR, "api: %s credentials for %s: %.*s",
             a->op == INTEG_STORE ? "storing" : "testing", a->platform, (int)n, err->msg);
    j->status = 500;
    snprintf(j->code, sizeof j->code, "script_error");
    snprintf(j->message, sizeof j->message, "%s: %.*s", prefix, (int)(n < 400 ? n : 400), err->msg);
}

/* 1 when (tenant, platform) has an active row (store answers 200 for a replacement). */
static int integ_exists(struct eng_store *st, const char *tenant, const char *platform)
{
    return eng_vault_exists(st, tenant, platform, NULL) == 1;
}

/* POST .../credentials on the worker: validate and split in Lua, seal with the vault. */
static void integ_store(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    const struct integ_arg *a = j->arg;
    struct eng_err err = {0};
    size_t blen;
    const char *body = eng_httpd_body(j->req, &blen);
    struct eng_credentials_prepared p;
    if (eng_credentials_prepare(vm, a->platform, body, body != NULL ? blen : 0, &p, &err) != 0) {
        integ_script_fail(j, "the credentials could not be checked", &err);
        return;
    }
    if (!p.ok) {
        eng_api_job_fail(j, p.status, p.code, p.message);
        snprintf(j->field, sizeof j->field, "%s", p.field);
        return;
    }
    int existed = integ_exists(st, j->tenant, a->platform);
    if (eng_vault_put(st, j->keys, j->tenant, a->platform, p.secret_json, p.secret_len,
                      p.public_json, p.account_id, &err) != 0 ||
        eng_api_credentials_status(st, j->keys, j->tenant, a->platform, &j->body, &err) != 0) {
        eng_credentials_prepared_free(&p);
        integ_job_store_failed(j, "cannot store credentials",
                               "the credentials store failed (see the log)", &err);
        return;
    }
    /* the status object ends with '}': add the notes (e.g. plain-HTTP store_url) inside it */
    if (p.notes_json != NULL && j->body.len > 0 && j->body.data[j->body.len - 1] == '}') {
        j->body.len--;
        eng_buf_printf(&j->body, ",\"notes\":%s}", p.notes_json);
    }
    eng_credentials_prepared_free(&p);
    j->status = existed ? 200 : 201;
}

/* POST .../test on the worker: build the tenant's context (connctx.h), run connector.test(ctx)
 * under the connector budget, record the outcome: 200 {"ok","message"}. */
static void integ_test(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    const struct integ_arg *a = j->arg;
    struct eng_err err = {0};
    int ok = 0;
    char message[512] = "";
    struct eng_oauth_realm_proof proof; /* a pass proves the QuickBooks company (oauth.h) */
    eng_oauth_realm_before_test(st, j->tenant, a->platform, &proof);
    int rc = eng_credentials_test(vm, j->cfg, j->keys, st, j->tenant, a->platform,
                                  j->cfg->connector_timeout_ms, &ok, message, sizeof message, &err);
    if (rc == ENG_ENOTFOUND) {
        char msg[128];
        snprintf(msg, sizeof msg, "no credentials stored for %s", a->platform);
        eng_api_job_fail(j, 404, "not_found", msg);
        return;
    }
    if (rc == ENG_ESCRIPT) {
        /* lib/credentials.lua catches the connector's own errors and scrubs them; what gets
         * here is a failure of the library itself (its message holds no value) */
        size_t n = strcspn(err.msg, "\n");
        eng_logf(ENG_LOG_ERROR, "api: testing credentials for %s: %.*s", a->platform, (int)n,
                 err.msg);
        ok = 0;
        snprintf(message, sizeof message, "the connection test failed inside the engine: %.*s",
                 (int)(n < 400 ? n : 400), err.msg);
    } else if (rc != 0) {
        integ_job_store_failed(j, "cannot read credentials",
                               "the credentials store failed (see the log)", &err);
        return;
    }
    eng_oauth_realm_after_test(st, j->tenant, &proof, ok, message, sizeof message);
    rc = eng_vault_set_status(st, j->tenant, a->platform, ok, message, &err);
    if (rc != 0 && rc != ENG_ENOTFOUND) /* (a connector without credentials has no row) */
        eng_logf(ENG_LOG_WARN, "api: cannot record the test of %s: %s", a->platform, err.msg);
    eng_buf_printf(&j->body, "{\"ok\":%s,\"message\":", ok ? "true" : "false");
    eng_buf_json_str(&j->body, message, strlen(message));
    eng_buf_putc(&j->body, '}');
    j->status = 200;
}

/* A webhook check or register that failed, as an answer (webhook_health.h says where). */
static void integ_whh_failed(struct eng_api_job *j, int rc,
                             const struct eng_webhook_health_failure *f)
{
    switch (f->stage) {
    case ENG_WEBHOOK_HEALTH_CONFIG:
        eng_api_job_fail(j, 422, "invalid_field", f->message);
        snprintf(j->field, sizeof j->field, "%s", f->field);
        break;
    case ENG_WEBHOOK_HEALTH_CREDENTIALS:
        if (rc == ENG_ENOTFOUND)
            eng_api_job_fail(j, 404, "not_found", f->message);
        else
            eng_api_job_fail(j, 500, "internal", f->message);
        break;
    case ENG_WEBHOOK_HEALTH_SCRIPT:
        if (rc == ENG_EBUDGET)
            eng_api_job_fail(j, 504, "timeout", f->message);
        else
            eng_api_job_fail(j, 500, "script_error", f->message);
        break;
    case ENG_WEBHOOK_HEALTH_UPSTREAM:
        eng_api_job_fail(j, 502, "upstream", f->message);
        break;
    default:
        if (rc == ENG_EBUSY)
            eng_api_job_fail(j, 503, "unavailable", f->message);
        else
            eng_api_job_fail(j, 500, "internal", f->message);
        break;
    }
}

/* POST /api/integrations/woocommerce/webhooks/check on the worker (webhook_health.h). */
static void integ_wh_check(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    struct eng_err err = {0};
    int rc = eng_webhook_health_check(vm, j->cfg, j->keys, st, j->tenant, &j->body, &err);
    if (rc == ENG_ENOTFOUND)
        eng_api_job_fail(j, 404, "not_found", "no credentials stored for woocommerce");
    else if (rc != 0)
        integ_job_store_failed(j, "cannot record a webhook check",
                               "the webhook check could not be recorded (see the log)", &err);
    else
        j->status = 200;
}

/* POST /api/integrations/woocommerce/webhooks/register on the worker (webhook_health.h):
 * {"ok","registered","webhooks","sweep":{"queued","id","since","message"}}. */
static void integ_wh_register(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    struct eng_webhook_health_registered r;
    struct eng_webhook_health_failure f;
    int rc = eng_webhook_health_register(vm, j->cfg, j->keys, st, j->tenant, &r, &f);
    if (rc != 0) {
        integ_whh_failed(j, rc, &f);
        return;
    }
    struct eng_buf *b = &j->body;
    eng_buf_printf(b, "{\"ok\":%s,\"registered\":", r.ok ? "true" : "false");
    eng_buf_append(b, r.added.data, r.added.len);
    eng_buf_puts(b, ",\"webhooks\":");
    eng_buf_append(b, r.check.data, r.check.len);
    if (r.sweep_queued)
        eng_buf_printf(b, ",\"sweep\":{\"queued\":true,\"id\":%lld,\"since\":", r.sweep_id);
    else
        eng_buf_puts(b, ",\"sweep\":{\"queued\":false,\"id\":null,\"since\":");
    eng_buf_json_str(b, r.since, strlen(r.since));
    eng_buf_puts(b, r.sweep_queued ? ",\"message\":\"a catch-up sweep is queued\"}}"
                                   : ",\"message\":\"a sweep is running already; it was not "
                                     "queued again\"}}");
    eng_webhook_health_registered_free(&r);
    j->status = 200;
}

/* GET .../fields on the worker: the connector's declared credential fields (no value). */
static void integ_fields(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    (void)st;
    const struct integ_arg *a = j->arg;
    struct eng_err err = {0};
    char *json = NULL;
    if (eng_credentials_describe(vm, a->platform, &json, &err) != 0) {
        size_t n = strcspn(err.msg, "\n");
        eng_logf(ENG_LOG_ERROR, "api: describing the credentials of %s: %.*s", a->platform, (int)n,
                 err.msg);
        j->status = 500;
        snprintf(j->code, sizeof j->code, "script_error");
        snprintf(j->message, sizeof j->message, "the connector's credential fields: %.*s",
                 (int)(n < 400 ? n : 400), err.msg);
        return;
    }
    eng_buf_puts(&j->body, json);
    free(json);
    j->status = 200;
}

static void integ_job_run(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    const struct integ_arg *a = j->arg;
    if (a->op == INTEG_STORE)
        integ_store(j, vm, st);
    else if (a->op == INTEG_WH_CHECK)
        integ_wh_check(j, vm, st);
    else if (a->op == INTEG_WH_REGISTER)
        integ_wh_register(j, vm, st);
    else if (a->op == INTEG_FIELDS)
        integ_fields(j, vm, st);
    else
        integ_test(j, vm, st);
}

/* Start op for {platform} on a worker, or finish it when resumed. */
static int integ_submit(struct eng_api_ctx *c, enum integ_op op)
{
    struct eng_api_job *j = eng_api_job_resumed(c);
    if (j != NULL) /* resumed: the worker is done */
        return eng_api_job_finish(c, j);

    char platform[72];
    if (op == INTEG_WH_CHECK || op == INTEG_WH_REGISTER) { /* routes named .../woocommerce/... */
        snprintf(platform, sizeof platform, "woocommerce");
        if (!eng_api_published(c, "scripts/connectors", platform))
            return integ_unknown(c, platform);
    } else if (integ_known(c, platform, sizeof platform) != 0) {
        return ENG_HTTPD_DONE;
    }
    if (c->api->keys == NULL && op != INTEG_FIELDS)
        return eng_api_error(c->resp, 503, "unavailable", "the credential vault has no key", NULL);
    struct integ_arg *a = calloc(1, sizeof *a);
    if (a == NULL)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    a->op = op;
    snprintf(a->platform, sizeof a->platform, "%s", platform);
    const struct eng_api_job_opts o = {.run = integ_job_run, .arg = a, .arg_free = free};
    return eng_api_job_start(c, &o);
}

/* ---- handlers ---- */

/* POST /api/integrations/{platform}/credentials: 201 (new) or 200 (replaced) with the status. */
int eng_api_integration_store(struct eng_api_ctx *c)
{
    return integ_submit(c, INTEG_STORE);
}

/* POST /api/integrations/{platform}/test: 200 {"ok", "message"} within CONNECTOR_TIMEOUT_MS. */
int eng_api_integration_test(struct eng_api_ctx *c)
{
    return integ_submit(c, INTEG_TEST);
}

/* GET /api/integrations/{platform}/fields: 200 {"platform","accountField","fields":[...]}, the
 * connector's declared credential fields for a form (never a value). */
int eng_api_integration_fields(struct eng_api_ctx *c)
{
    return integ_submit(c, INTEG_FIELDS);
}

/* GET /api/integrations/{platform}/status */
int eng_api_integration_status(struct eng_api_ctx *c)
{
    char platform[72];
    if (integ_known(c, platform, sizeof platform) != 0)
        return ENG_HTTPD_DONE;
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_err err = {0};
    struct eng_buf *b = &c->resp->body;
    if (eng_api_credentials_status(st, c->api->keys, c->tenant, platform, b, &err) != 0)
        return integ_store_error(c->resp, "read a credentials status", &err);
    /* woocommerce: the last webhook check, inside the status object (it ends with '}') */
    if (strcmp(platform, "woocommerce") == 0 && b->len > 0 && b->data[b->len - 1] == '}') {
        b->len--;
        eng_buf_puts(b, ",\"webhooks\":");
        int rc = eng_webhook_health_status(st, c->tenant, b, &err);
        if (rc < 0) {
            eng_buf_reset(b);
            return integ_store_error(c->resp, "read the webhook check", &err);
        }
        if (rc == 0) /* before the first check */
            eng_buf_puts(b, integ_whh_never);
        eng_buf_putc(b, '}');
    }
    return ENG_HTTPD_DONE;
}

/* POST /api/integrations/woocommerce/webhooks/check: 200 with the stored check. */
int eng_api_woo_webhooks_check(struct eng_api_ctx *c)
{
    return integ_submit(c, INTEG_WH_CHECK);
}

/* POST /api/integrations/woocommerce/webhooks/register: 200 {"ok","registered","webhooks",
 * "sweep"}; 422 naming WEBHOOK_PUBLIC_URL or webhook_secret; 404 without credentials; 502 when
 * the store's webhooks cannot be listed. */
int eng_api_woo_webhooks_register(struct eng_api_ctx *c)
{
    return integ_submit(c, INTEG_WH_REGISTER);
}

/* DELETE /api/integrations/{platform}/credentials: 204, or 404 when nothing is stored. A row of
 * a connector that is no longer published can still be deleted (no orphaned secrets). */
int eng_api_integration_delete(struct eng_api_ctx *c)
{
    char platform[72];
    if (integ_platform(c, platform, sizeof platform) != 0)
        return integ_unknown(c, NULL);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_err err = {0};
    int rc = eng_vault_delete(st, c->tenant, platform, &err);
    if (rc == ENG_ENOTFOUND) {
        if (!eng_api_published(c, "scripts/connectors", platform))
            return integ_unknown(c, platform);
        char msg[128];
        snprintf(msg, sizeof msg, "no credentials stored for %s", platform);
        return eng_api_error(c->resp, 404, "not_found", msg, NULL);
    }
    if (rc != 0)
        return integ_store_error(c->resp, "delete credentials", &err);
    c->resp->status = 204;
    eng_buf_reset(&c->resp->body);
    return ENG_HTTPD_DONE;
}

static int integ_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* GET /api/integrations: the status of every published connector, by name. */
int eng_api_integrations_list(struct eng_api_ctx *c)
{
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/connectors", c->api->cfg->scripts_dir);
    char *names[INTEG_MAX_PLATFORMS];
    size_t n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d != NULL && n < INTEG_MAX_PLATFORMS && (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || len - 4 > 64 || strcmp(e->d_name + len - 4, ".lua") != 0)
            continue;
        char name[72];
        snprintf(name, sizeof name, "%.*s", (int)(len - 4), e->d_name);
        if (!eng_api_id_ok(name, len - 4) || strchr(name, '.') != NULL ||
            !eng_api_published(c, "scripts/connectors", name))
            continue;
        names[n] = strdup(name);
        if (names[n] != NULL)
            n++;
    }
    if (d != NULL)
        closedir(d);
    qsort(names, n, sizeof names[0], integ_cmp);

    struct eng_err err = {0};
    int rc = 0;
    eng_buf_puts(&c->resp->body, "{\"integrations\":[");
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0)
            eng_buf_putc(&c->resp->body, ',');
        rc =
            eng_api_credentials_status(st, c->api->keys, c->tenant, names[i], &c->resp->body, &err);
    }
    eng_buf_puts(&c->resp->body, "]}");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    if (rc != 0)
        return integ_store_error(c->resp, "list credentials", &err);
    return ENG_HTTPD_DONE;
}
