/*
 * api_operator.c - GET/PUT /api/operator/settings: the operator settings (operator_settings.h),
 * for the administrator's token only. A tenant (its token, or the demo's anonymous tenant) gets
 * 403: where tenants' secrets are sent is never a tenant's choice. PUT takes an object of
 * {NAME: "url" | null}, checks every value before writing any, writes them in one transaction,
 * and answers as GET does; the running engine uses them from its next start (restartRequired).
 * Runs on the server thread: two small local queries, no remote system.
 */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "base/log.h"
#include "data/operator_settings.h"
#include "adapt/store.h"

#define OPERATOR_MAX_BODY 8192

static int forbidden_unless_admin(struct eng_api_ctx *c)
{
    if (c->admin)
        return 0;
    eng_api_error(c->resp, 403, "forbidden",
                  "operator settings are the administrator's (use API_TOKEN): a tenant cannot "
                  "choose where its secrets are sent",
                  NULL);
    return -1;
}

static int answer(struct eng_api_ctx *c, struct eng_store *st)
{
    struct eng_err err = {0};
    struct eng_buf b;
    eng_buf_init(&b);
    int rc = eng_operator_settings_list_json(st, c->api->cfg, &b, &err);
    if (rc != 0 || b.oom) {
        eng_buf_free(&b);
        eng_logf(ENG_LOG_ERROR, "api: cannot read the operator settings: %s", err.msg);
        return eng_api_error(c->resp, 503, "unavailable", "cannot read the operator settings",
                             NULL);
    }
    c->resp->status = 200;
    c->resp->content_type = "application/json";
    eng_buf_append(&c->resp->body, b.data, b.len);
    eng_buf_free(&b);
    return ENG_HTTPD_DONE;
}

/* GET /api/operator/settings */
int eng_api_operator_get(struct eng_api_ctx *c)
{
    if (forbidden_unless_admin(c) != 0)
        return ENG_HTTPD_DONE;
    struct eng_store *st = eng_api_store(c);
    return st == NULL ? ENG_HTTPD_DONE : answer(c, st);
}

static int refuse(struct eng_api_ctx *c, int status, const char *code, const char *msg,
                  const char *field)
{
    char details[160];
    struct eng_buf d;
    eng_buf_init(&d);
    eng_buf_puts(&d, "{\"field\":");
    eng_buf_json_str(&d, field, strlen(field));
    eng_buf_putc(&d, '}');
    snprintf(details, sizeof details, "%s", d.oom ? "{}" : d.data);
    eng_buf_free(&d);
    return eng_api_error(c->resp, status, code, msg, details);
}

/* Check (pass 0) or write (pass 1) every member of body. 0, or an answer in c->resp (-1). */
static int put_pass(struct eng_api_ctx *c, struct eng_store *st, const char *body, size_t blen,
                    int pass)
{
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_store_prepare(st, "SELECT key, type, value FROM json_each(?1)", -1,
                               ENG_STORE_TRUSTED, &s, &err);
    if (rc == 0)
        rc = eng_store_bind_text(s, 1, body, blen);
    while (rc == 0 && (rc = eng_store_step(s, &err)) == ENG_STORE_ROW) {
        const char *key = eng_store_column_text(s, 0, NULL);
        const char *type = eng_store_column_text(s, 1, NULL);
        const char *val = eng_store_column_text(s, 2, NULL);
        char name[72];
        snprintf(name, sizeof name, "%.64s", key != NULL ? key : "");
        rc = 0;
        if (eng_operator_settings_find(name) == NULL) {
            eng_store_finalize(s);
            return refuse(c, 422, "invalid_setting",
                          "no operator setting of that name (GET /api/operator/settings lists "
                          "them)",
                          name),
                   -1;
        }
        int is_null = type != NULL && strcmp(type, "null") == 0;
        if (!is_null && (type == NULL || strcmp(type, "text") != 0)) {
            eng_store_finalize(s);
            return refuse(c, 422, "invalid_setting", "each value must be a URL string or null",
                          name),
                   -1;
        }
        if (pass == 0 && !is_null) {
            char v[ENG_OPERATOR_MAX_VALUE + 2];
            if (strlen(val) > ENG_OPERATOR_MAX_VALUE)
                rc = eng_err_set(&err, ENG_EINVAL, "%s must be at most %d bytes", name,
                                 ENG_OPERATOR_MAX_VALUE);
            else
                snprintf(v, sizeof v, "%s", val),
                    rc = eng_operator_settings_url_check(v, name, &err);
            if (rc != 0) {
                eng_store_finalize(s);
                return refuse(c, 422, "invalid_setting", err.msg, name), -1;
            }
        }
        if (pass == 1)
            rc = is_null ? eng_operator_settings_unset(st, name, NULL, &err)
                         : eng_operator_settings_set(st, name, val, "api", &err);
    }
    eng_store_finalize(s);
    if (rc < 0) {
        eng_logf(ENG_LOG_ERROR, "api: cannot store the operator settings: %s", err.msg);
        eng_api_error(c->resp, 503, "unavailable", "the store is busy; retry shortly", NULL);
        return -1;
    }
    return 0;
}

/* PUT /api/operator/settings */
int eng_api_operator_put(struct eng_api_ctx *c)
{
    if (forbidden_unless_admin(c) != 0)
        return ENG_HTTPD_DONE;
    size_t blen = 0;
    const char *body = NULL; /* the same syntax answer as every other route (api_body.c) */
    if (eng_api_body_object(c, 0, &body, &blen) != 0)
        return ENG_HTTPD_DONE;
    if (blen > OPERATOR_MAX_BODY)
        return eng_api_error(c->resp, 413, "too_large", "the operator settings are at most 8 KiB",
                             NULL);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_err err = {0};
    if (put_pass(c, st, body, blen, 0) != 0)
        return ENG_HTTPD_DONE;
    if (eng_store_exec(st, "BEGIN IMMEDIATE", &err) != 0) {
        eng_logf(ENG_LOG_ERROR, "api: cannot store the operator settings: %s", err.msg);
        return eng_api_error(c->resp, 503, "unavailable", "the store is busy; retry shortly", NULL);
    }
    if (put_pass(c, st, body, blen, 1) != 0) {
        eng_store_exec(st, "ROLLBACK", NULL);
        return ENG_HTTPD_DONE;
    }
    if (eng_store_exec(st, "COMMIT", &err) != 0) {
        eng_store_exec(st, "ROLLBACK", NULL);
        eng_logf(ENG_LOG_ERROR, "api: cannot store the operator settings: %s", err.msg);
        return eng_api_error(c->resp, 503, "unavailable", "the store is busy; retry shortly", NULL);
    }
    eng_log_kv(ENG_LOG_INFO, NULL, NULL, "operator settings changed (used from the next start)",
               NULL);
    return answer(c, st);
}
