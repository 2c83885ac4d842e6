/*
 * api_settings.c - GET/PUT /api/settings/transformer_config: the tenant's transformer settings
 * (settings table, key 'transformer_config', as the seed's quick reference stores them).
 * Both run on a worker: the setting is checked by lib.mapping (flow/settings.h: the same check
 * every mapping run makes), so a value the mappings would refuse is refused on save with a 422
 * naming the field, and GET shows the settings with their defaults exactly as ctx.config will
 * hold them. The table is data/tenant_settings.c's.
 * Owns: each job's answer. Must not: touch Lua (the check is flow/settings.c's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/log.h"
#include "data/tenant_settings.h"
#include "flow/settings.h"

#define SETTINGS_KEY       "transformer_config"
#define SETTINGS_MAX_VALUE ((size_t)256 * 1024) /* a transformer_config is a few hundred bytes */

/* {"key","value","effective","updatedAt"[,"error"]} into j->body. value: the stored JSON text
 * (or null); effective: JSON text or NULL. */
static void settings_answer(struct eng_api_job *j, const struct eng_buf *value,
                            const char *effective, size_t elen, const struct eng_buf *at,
                            const char *error)
{
    struct eng_buf *b = &j->body;
    eng_buf_puts(b, "{\"key\":\"" SETTINGS_KEY "\",\"value\":");
    if (value->len > 0)
        eng_buf_append(b, value->data, value->len);
    else
        eng_buf_puts(b, "null");
    eng_buf_puts(b, ",\"effective\":");
    if (effective != NULL)
        eng_buf_append(b, effective, elen);
    else
        eng_buf_puts(b, "null");
    eng_buf_puts(b, ",\"updatedAt\":");
    if (at->len > 0)
        eng_buf_json_str(b, at->data, at->len);
    else
        eng_buf_puts(b, "null");
    if (error != NULL) {
        eng_buf_puts(b, ",\"error\":");
        eng_buf_json_str(b, error, strlen(error));
    }
    eng_buf_putc(b, '}');
    j->status = 200;
}

/* On the worker: PUT checks and stores the body; GET reads the row and checks it (an empty
 * row means defaults: "{}" is checked so effective still shows them). */
static void settings_job_run(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    int put = j->arg != NULL;
    struct eng_err err = {0};
    struct eng_buf value, at;
    eng_buf_init(&value);
    eng_buf_init(&at);
    struct eng_settings_checked chk = {0};
    int rc;
    if (put) {
        size_t blen = 0;
        const char *body = eng_httpd_body(j->req, &blen);
        rc = eng_settings_check(vm, body, blen, &chk, &err);
        if (rc == 0) {
            if (eng_tenant_settings_put(st, j->tenant, SETTINGS_KEY, chk.stored, chk.stored_len,
                                        &err) != 0 ||
                eng_tenant_settings_get(st, j->tenant, SETTINGS_KEY, &value, &at, &err) < 0) {
                eng_logf(ENG_LOG_ERROR, "api: cannot store transformer_config: %s", err.msg);
                eng_api_job_fail(j, 503, "unavailable", "the store is busy; retry shortly");
            } else {
                settings_answer(j, &value, chk.effective, chk.effective_len, &at, NULL);
            }
        } else if (rc == ENG_EINVAL) {
            eng_api_job_fail(j, 422, "invalid_setting", chk.message);
            snprintf(j->field, sizeof j->field, "%s", chk.field);
        }
    } else if (eng_tenant_settings_get(st, j->tenant, SETTINGS_KEY, &value, &at, &err) < 0) {
        eng_api_job_fail(j, 503, "unavailable", "cannot read the tenant's settings");
        rc = 0;
    } else {
        rc = eng_settings_check(vm, value.len > 0 ? value.data : "{}",
                                value.len > 0 ? value.len : 2, &chk, &err);
        if (rc == 0) {
            settings_answer(j, &value, chk.effective, chk.effective_len, &at, NULL);
        } else if (rc == ENG_EINVAL) {
            /* stored by hand and malformed: show it, say why, and that runs will refuse it */
            char why[600];
            snprintf(why, sizeof why, "%s (mapping runs refuse this setting until it is fixed)",
                     chk.message);
            settings_answer(j, &value, NULL, 0, &at, why);
        }
    }
    if (rc != 0 && rc != ENG_EINVAL) {
        size_t n = strcspn(err.msg, "\n");
        eng_logf(ENG_LOG_ERROR, "api: checking transformer_config: %.*s", (int)n, err.msg);
        eng_api_job_fail(j, 500, "internal", "the setting could not be checked (see the log)");
    }
    eng_settings_checked_free(&chk);
    eng_buf_free(&value);
    eng_buf_free(&at);
}

static int settings_submit(struct eng_api_ctx *c, int put)
{
    struct eng_api_job *j = eng_api_job_resumed(c);
    if (j != NULL) /* resumed: the worker is done */
        return eng_api_job_finish(c, j);
    if (put) {
        size_t len = 0;
        eng_httpd_body(c->req, &len);
        if (len == 0)
            return eng_api_error(c->resp, 400, "malformed_json",
                                 "send the transformer_config as a JSON object", NULL);
        if (len > SETTINGS_MAX_VALUE)
            return eng_api_error(c->resp, 413, "too_large",
                                 "a transformer_config is at most 256 KiB", NULL);
        const char *body; /* the same syntax answer as every other route (api_body.c) */
        if (eng_api_body_object(c, 0, &body, NULL) != 0)
            return ENG_HTTPD_DONE;
    }
    static int settings_put_mark; /* arg: non-NULL marks a PUT (nothing to free) */
    const struct eng_api_job_opts o = {.run = settings_job_run,
                                       .arg = put ? &settings_put_mark : NULL};
    return eng_api_job_start(c, &o);
}

/* GET /api/settings/transformer_config: 200 {key, value, effective, updatedAt[, error]} */
int eng_api_settings_get(struct eng_api_ctx *c)
{
    return settings_submit(c, 0);
}

/* PUT /api/settings/transformer_config: 200 as GET, or 422 naming the field. */
int eng_api_settings_put(struct eng_api_ctx *c)
{
    return settings_submit(c, 1);
}
