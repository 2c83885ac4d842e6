/*
 * api_mappings.c - POST /api/mappings/{name}/dry-run: the mapping runs on a worker with the
 * hot-reloaded sources while the connection waits suspended (no server thread is held).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "flow/dryrun.h"
#include "adapt/store.h"

struct dryrun_task {
    struct eng_task task; /* first: the worker hands us back this pointer */
    struct eng_http_req *req;
    char mapping[72];
    struct eng_buf out, errors;
    struct eng_buf config; /* the tenant's settings.transformer_config (empty: defaults) */
    int rc, format;
    unsigned flags; /* ?explain=true: ENG_DRYRUN_EXPLAIN | ENG_DRYRUN_EXPLAIN_JSON */
};

static void dryrun_task_run(struct eng_task *t, struct eng_vm *vm)
{
    struct dryrun_task *d = (struct dryrun_task *)t;
    if (vm == NULL) {
        d->rc = ENG_EBUSY;
        return;
    }
    size_t len;
    const char *body = eng_http_body(d->req, &len);
    d->rc = eng_dryrun_execute(vm, d->mapping, body, len, "request body",
                               d->config.len > 0 ? d->config.data : NULL, d->config.len, &d->out,
                               &d->errors, &d->format, d->flags);
}

static void dryrun_task_done(struct eng_task *t)
{
    struct dryrun_task *d = (struct dryrun_task *)t;
    eng_http_resume(d->req);
}

static void dryrun_task_free(void *p)
{
    struct dryrun_task *d = p;
    eng_buf_free(&d->out);
    eng_buf_free(&d->errors);
    eng_buf_free(&d->config);
    free(d);
}

static int dryrun_finish(struct dryrun_task *d, struct eng_http_resp *resp)
{
    if (d->rc == 0) {
        resp->content_type =
            d->format == ENG_DRYRUN_NDJSON ? "application/x-ndjson" : "application/json";
        eng_buf_append(&resp->body, d->out.data ? d->out.data : "", d->out.len);
        return ENG_HTTP_DONE;
    }
    if (d->rc == ENG_EBUSY)
        return eng_api_error(resp, 503, "unavailable", "the engine is shutting down", NULL);
    /* details.errors: one entry per failing record (or the one reason the input failed) */
    struct eng_buf details;
    eng_buf_init(&details);
    eng_buf_puts(&details, "{\"errors\":[");
    int n = 0;
    char first[512] = "";
    for (char *line = d->errors.data; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (n == 0)
            snprintf(first, sizeof first, "%.*s", (int)(len < 500 ? len : 500), line);
        eng_buf_puts(&details, n++ ? "," : "");
        eng_buf_json_str(&details, line, len);
        line = nl != NULL ? nl + 1 : NULL;
    }
    eng_buf_puts(&details, "]}");
    if (d->rc == ENG_EINVAL)
        eng_api_error(resp, 400, "malformed_json", first, details.data);
    else
        eng_api_error(resp, 422, "mapping_failed", first[0] ? first : "the mapping failed",
                      details.data);
    eng_buf_free(&details);
    return ENG_HTTP_DONE;
}

int eng_api_dry_run(struct eng_api_ctx *c)
{
    struct dryrun_task *d = eng_http_state(c->req);
    if (d != NULL) /* resumed: the worker is done */
        return dryrun_finish(d, c->resp);

    char name[72], logical[96];
    int ok = eng_api_param(c, 0, name, sizeof name) == 0;
    for (const char *p = name; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '_' || *p == '-';
    size_t len;
    char *src = NULL;
    if (ok) {
        snprintf(logical, sizeof logical, "mappings/%s.lua", name);
        src = eng_scripts_source(c->api->scripts, logical, &len);
    }
    if (src == NULL) {
        char msg[128];
        snprintf(msg, sizeof msg, "no mapping named '%.*s'",
                 (int)(c->params[0].n < 64 ? c->params[0].n : 64), c->params[0].s);
        return eng_api_error(c->resp, 404, "not_found", msg, NULL);
    }
    free(src);

    /* The tenant's transformer settings, read here (a local query) so the worker only maps. */
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTP_DONE;
    struct eng_buf config;
    eng_buf_init(&config);
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_store_prepare(st,
                               "SELECT value FROM settings WHERE tenant_id = ? AND "
                               "key = 'transformer_config'",
                               -1, ENG_STORE_TRUSTED, &s, &err);
    if (rc == 0)
        rc = eng_store_bind_text(s, 1, c->tenant, strlen(c->tenant));
    if (rc == 0 && (rc = eng_store_step(s, &err)) == ENG_STORE_ROW) {
        size_t n;
        const char *v = eng_store_column_text(s, 0, &n);
        eng_buf_append(&config, v != NULL ? v : "", v != NULL ? n : 0);
        rc = 0;
    }
    eng_store_finalize(s);
    if (rc < 0) {
        eng_buf_free(&config);
        return eng_api_error(c->resp, 503, "unavailable", "cannot read the tenant's settings",
                             NULL);
    }

    d = calloc(1, sizeof *d);
    if (d == NULL) {
        eng_buf_free(&config);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    const char *explain = eng_http_query(c->req, "explain");
    if (explain != NULL && (strcmp(explain, "true") == 0 || strcmp(explain, "1") == 0))
        d->flags = ENG_DRYRUN_EXPLAIN | ENG_DRYRUN_EXPLAIN_JSON;
    d->task.run = dryrun_task_run;
    d->task.done = dryrun_task_done;
    d->req = c->req;
    snprintf(d->mapping, sizeof d->mapping, "%s", name);
    eng_buf_init(&d->out);
    eng_buf_init(&d->errors);
    d->config = config;
    eng_http_set_state(c->req, d, dryrun_task_free);
    if (eng_workers_submit(c->api->workers, &d->task) != 0) {
        eng_http_resp_header(c->resp, "Retry-After", "1");
        return eng_api_error(c->resp, 503, "busy", "the workers' queue is full; retry shortly",
                             NULL);
    }
    return ENG_HTTP_PENDING;
}
