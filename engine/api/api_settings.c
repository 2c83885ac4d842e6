/*
 * api_settings.c - GET/PUT /api/settings/transformer_config: the tenant's transformer settings
 * (settings table, key 'transformer_config', as the seed's quick reference stores them).
 * Both run on a worker: the setting is checked by lib.mapping (the same check every mapping run
 * makes), so a value the mappings would refuse is refused on save with a 422 naming the field,
 * and GET shows the settings with their defaults exactly as ctx.config will hold them.
 * Owns: each task and the answer it carries. Must not: touch Lua outside the task's run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>

#include "api/api.h"
#include "base/log.h"
#include "adapt/store.h"

#define SETTINGS_MAX_VALUE ((size_t)256 * 1024) /* a transformer_config is a few hundred bytes */

struct settings_task {
    struct eng_task task; /* first: the worker hands us back this pointer */
    struct eng_http_req *req;
    const struct eng_config *cfg;
    int put;
    char tenant[65];
    /* the answer, filled on the worker */
    int status;
    char code[32];
    char message[512];
    char field[96];
    struct eng_buf body;
};

static void settings_fail(struct settings_task *k, int status, const char *code, const char *msg)
{
    k->status = status;
    snprintf(k->code, sizeof k->code, "%s", code);
    snprintf(k->message, sizeof k->message, "%s", msg);
}

/* Read the stored value and its time into value/at (empty when there is none). 0 or < 0. */
static int settings_read(struct eng_store *st, const char *tenant, struct eng_buf *value,
                         struct eng_buf *at, struct eng_err *err)
{
    static const char sql[] = "SELECT value, updated_at FROM settings WHERE tenant_id = ?1 AND "
                              "key = 'transformer_config'";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_text(s, 1, tenant, strlen(tenant));
    if (rc == 0 && (rc = eng_store_step(s, err)) == ENG_STORE_ROW) {
        size_t n = 0, m = 0;
        const char *v = eng_store_column_text(s, 0, &n);
        const char *t = eng_store_column_text(s, 1, &m);
        eng_buf_append(value, v != NULL ? v : "", v != NULL ? n : 0);
        eng_buf_append(at, t != NULL ? t : "", t != NULL ? m : 0);
        rc = 0;
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

static int settings_write(struct eng_store *st, const char *tenant, const char *value, size_t len,
                          struct eng_err *err)
{
    static const char sql[] =
        "INSERT INTO settings (tenant_id, key, value) VALUES (?1, 'transformer_config', ?2) "
        "ON CONFLICT (tenant_id, key) DO UPDATE SET value = excluded.value, updated_at = "
        "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, err);
    if (rc == 0)
        rc = eng_store_bind_text(s, 1, tenant, strlen(tenant));
    if (rc == 0)
        rc = eng_store_bind_text(s, 2, value, len);
    if (rc == 0)
        rc = eng_store_step(s, err);
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

/* Run lib.mapping.settings_check(text). On success leaves stored, effective on the stack and
 * returns 1; on a refused value fills the 422 and returns 0; on an engine failure returns -1
 * with err filled. [-0, +2|0, -] */
static int settings_check(struct settings_task *k, struct eng_vm *vm, const char *text, size_t len,
                          struct eng_err *err)
{
    static const char boot[] = "return require('lib.mapping').settings_check";
    lua_State *L = eng_vm_state(vm);
    int top = lua_gettop(L);
    if (eng_vm_load(vm, "=settings", boot, sizeof boot - 1, err) != 0 ||
        eng_vm_pcall(vm, 0, 1, err) != 0 || eng_vm_push_string(vm, text, len, err) != 0 ||
        eng_vm_pcall(vm, 1, 3, err) != 0) {
        lua_settop(L, top);
        return -1;
    }
    if (lua_type(L, -3) == LUA_TSTRING) {
        lua_pop(L, 1); /* stored, effective */
        return 1;
    }
    const char *msg = lua_tostring(L, -2);
    const char *field = lua_tostring(L, -1);
    settings_fail(k, 422, "invalid_setting", msg != NULL ? msg : "invalid transformer_config");
    snprintf(k->field, sizeof k->field, "%s", field != NULL ? field : "");
    lua_settop(L, top);
    return 0;
}

/* {"key","value","effective","updatedAt"[,"error"]} into k->body. value: the stored JSON text
 * (or null); effective: JSON text or NULL. */
static void settings_answer(struct settings_task *k, const char *value, size_t vlen,
                            const char *effective, size_t elen, const char *at, size_t atlen,
                            const char *error)
{
    struct eng_buf *b = &k->body;
    eng_buf_puts(b, "{\"key\":\"transformer_config\",\"value\":");
    if (vlen > 0)
        eng_buf_append(b, value, vlen);
    else
        eng_buf_puts(b, "null");
    eng_buf_puts(b, ",\"effective\":");
    if (effective != NULL)
        eng_buf_append(b, effective, elen);
    else
        eng_buf_puts(b, "null");
    eng_buf_puts(b, ",\"updatedAt\":");
    if (atlen > 0)
        eng_buf_json_str(b, at, atlen);
    else
        eng_buf_puts(b, "null");
    if (error != NULL) {
        eng_buf_puts(b, ",\"error\":");
        eng_buf_json_str(b, error, strlen(error));
    }
    eng_buf_putc(b, '}');
    k->status = 200;
}

static void settings_task_run(struct eng_task *t, struct eng_vm *vm)
{
    struct settings_task *k = (struct settings_task *)t;
    if (vm == NULL) {
        settings_fail(k, 503, "unavailable", "the engine is shutting down");
        return;
    }
    struct eng_err err = {0};
    struct eng_store *st = eng_store_thread(k->cfg->database_url, &err);
    if (st == NULL) {
        eng_logf(ENG_LOG_ERROR, "api: a worker cannot open the store: %s", err.msg);
        settings_fail(k, 503, "unavailable", "the store is not reachable; retry shortly");
        return;
    }
    lua_State *L = eng_vm_state(vm);
    int top = lua_gettop(L);
    struct eng_buf value, at;
    eng_buf_init(&value);
    eng_buf_init(&at);
    size_t blen = 0;
    const char *body = k->put ? eng_http_body(k->req, &blen) : NULL;

    int rc;
    if (k->put) {
        rc = settings_check(k, vm, body, blen, &err);
        if (rc == 1) {
            size_t slen = 0;
            const char *stored = lua_tolstring(L, -2, &slen);
            if (settings_write(st, k->tenant, stored, slen, &err) != 0 ||
                settings_read(st, k->tenant, &value, &at, &err) != 0) {
                eng_logf(ENG_LOG_ERROR, "api: cannot store transformer_config: %s", err.msg);
                settings_fail(k, 503, "unavailable", "the store is busy; retry shortly");
            } else {
                size_t elen = 0;
                const char *eff = lua_tolstring(L, -1, &elen);
                settings_answer(k, value.data, value.len, eff, elen, at.data, at.len, NULL);
            }
        }
    } else if (settings_read(st, k->tenant, &value, &at, &err) != 0) {
        settings_fail(k, 503, "unavailable", "cannot read the tenant's settings");
        rc = 0;
    } else {
        /* an empty row means defaults: check "{}" so effective still shows them */
        rc = settings_check(k, vm, value.len > 0 ? value.data : "{}", value.len > 0 ? value.len : 2,
                            &err);
        if (rc == 1) {
            size_t elen = 0;
            const char *eff = lua_tolstring(L, -1, &elen);
            settings_answer(k, value.data, value.len, eff, elen, at.data, at.len, NULL);
        } else if (rc == 0) {
            /* stored by hand and malformed: show it, say why, and that runs will refuse it */
            char why[600];
            snprintf(why, sizeof why, "%s (mapping runs refuse this setting until it is fixed)",
                     k->message);
            k->field[0] = '\0';
            settings_answer(k, value.data, value.len, NULL, 0, at.data, at.len, why);
        }
    }
    if (rc < 0) {
        size_t n = strcspn(err.msg, "\n");
        eng_logf(ENG_LOG_ERROR, "api: checking transformer_config: %.*s", (int)n, err.msg);
        settings_fail(k, 500, "internal", "the setting could not be checked (see the log)");
    }
    lua_settop(L, top);
    eng_buf_free(&value);
    eng_buf_free(&at);
}

static void settings_task_done(struct eng_task *t)
{
    eng_http_resume(((struct settings_task *)t)->req);
}

static void settings_task_free(void *p)
{
    struct settings_task *k = p;
    eng_buf_free(&k->body);
    free(k);
}

static int settings_finish(struct settings_task *k, struct eng_http_resp *resp)
{
    if (k->status >= 400) {
        char details[160] = "";
        if (k->field[0] != '\0') {
            struct eng_buf d;
            eng_buf_init(&d);
            eng_buf_puts(&d, "{\"field\":");
            eng_buf_json_str(&d, k->field, strlen(k->field));
            eng_buf_putc(&d, '}');
            if (!d.oom && d.len < sizeof details)
                memcpy(details, d.data, d.len + 1);
            eng_buf_free(&d);
        }
        return eng_api_error(resp, k->status, k->code, k->message,
                             details[0] != '\0' ? details : NULL);
    }
    if (k->body.oom)
        return eng_api_error(resp, 500, "internal", "out of memory", NULL);
    resp->status = 200;
    eng_buf_append(&resp->body, k->body.data, k->body.len);
    return ENG_HTTP_DONE;
}

static int settings_submit(struct eng_api_ctx *c, int put)
{
    struct settings_task *k = eng_http_state(c->req);
    if (k != NULL) /* resumed: the worker is done */
        return settings_finish(k, c->resp);
    if (put) {
        size_t len = 0;
        eng_http_body(c->req, &len);
        if (len == 0)
            return eng_api_error(c->resp, 400, "malformed_json",
                                 "send the transformer_config as a JSON object", NULL);
        if (len > SETTINGS_MAX_VALUE)
            return eng_api_error(c->resp, 413, "too_large",
                                 "a transformer_config is at most 256 KiB", NULL);
        const char *body; /* the same syntax answer as every other route (api_body.c) */
        if (eng_api_body_object(c, 0, &body, NULL) != 0)
            return ENG_HTTP_DONE;
    }
    k = calloc(1, sizeof *k);
    if (k == NULL)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    k->task.run = settings_task_run;
    k->task.done = settings_task_done;
    k->req = c->req;
    k->cfg = c->api->cfg;
    k->put = put;
    snprintf(k->tenant, sizeof k->tenant, "%s", c->tenant);
    eng_buf_init(&k->body);
    eng_http_set_state(c->req, k, settings_task_free);
    if (eng_workers_submit(c->api->workers, &k->task) != 0) {
        eng_http_resp_header(c->resp, "Retry-After", "1");
        return eng_api_error(c->resp, 503, "busy", "the workers' queue is full; retry shortly",
                             NULL);
    }
    return ENG_HTTP_PENDING;
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
