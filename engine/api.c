/*
 * api.c - routing and the foundation's routes: /health, /ready, GET /api/scripts and
 * POST /api/mappings/{name}/dry-run. Owns per-request task state only.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dryrun.h"
#include "log.h"
#include "store.h"

void eng_api_error(struct eng_http_resp *resp, int status, const char *code, const char *message,
                   const char *details)
{
    eng_buf_reset(&resp->body);
    resp->status = status;
    resp->content_type = "application/json";
    eng_buf_printf(&resp->body, "{\"error\":{\"code\":\"%s\",\"message\":", code);
    eng_buf_json_str(&resp->body, message, strlen(message));
    eng_buf_printf(&resp->body, ",\"details\":%s}}", details != NULL ? details : "null");
}

static long long api_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* GET /health: the process answers. */
static int api_health(struct eng_api *api, struct eng_http_req *req, struct eng_http_resp *resp)
{
    (void)req;
    eng_buf_printf(&resp->body, "{\"status\":\"ok\",\"version\":\"%s\",\"uptimeMs\":%lld}",
                   ENG_VERSION, api_now_ms() - api->started_ms);
    return ENG_HTTP_DONE;
}

/* GET /ready: the store opens and answers, and every script has an accepted version. */
static int api_ready(struct eng_api *api, struct eng_http_req *req, struct eng_http_resp *resp)
{
    (void)req;
    struct eng_buf reasons;
    eng_buf_init(&reasons);
    int n = 0;

    struct eng_store *st = NULL;
    struct eng_err err = {0};
    if (eng_store_open(api->cfg->database_url, &st, &err) != 0 ||
        eng_store_exec(st, "SELECT 1", &err) != 0) {
        eng_buf_puts(&reasons, n++ ? "," : "");
        eng_buf_puts(&reasons, "\"store: ");
        eng_buf_puts(&reasons, "unreachable\"");
        eng_logf(ENG_LOG_WARN, "ready: store check failed: %s", err.msg);
    }
    eng_store_close(st);

    struct eng_buf list;
    eng_buf_init(&list);
    eng_scripts_status_json(api->scripts, &list);
    /* A script whose only version was rejected is not loaded: the engine is not ready. */
    if (list.data != NULL && strstr(list.data, "\"active\":false") != NULL) {
        eng_buf_puts(&reasons, n++ ? "," : "");
        eng_buf_puts(&reasons, "\"scripts: a script failed to load (see GET /api/scripts)\"");
    }
    eng_buf_free(&list);

    if (n == 0) {
        eng_buf_puts(&resp->body, "{\"status\":\"ready\"}");
    } else {
        resp->status = 503;
        eng_buf_printf(&resp->body, "{\"status\":\"not_ready\",\"reasons\":[%s]}",
                       reasons.data ? reasons.data : "");
    }
    eng_buf_free(&reasons);
    return ENG_HTTP_DONE;
}

/* GET /api/scripts: every script and mapping, its published version and its last error. */
static int api_scripts(struct eng_api *api, struct eng_http_req *req, struct eng_http_resp *resp)
{
    (void)req;
    eng_buf_printf(&resp->body, "{\"generation\":%llu,\"errors\":%d,\"scripts\":",
                   (unsigned long long)eng_scripts_generation(api->scripts),
                   eng_scripts_error_count(api->scripts));
    eng_scripts_status_json(api->scripts, &resp->body);
    eng_buf_putc(&resp->body, '}');
    return ENG_HTTP_DONE;
}

/* ---- POST /api/mappings/{name}/dry-run: runs on a worker, the connection waits suspended ---- */

struct dryrun_task {
    struct eng_task task; /* first: the worker hands us back this pointer */
    struct eng_http_req *req;
    char mapping[128];
    struct eng_buf out, errors;
    int rc, format;
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
    d->rc = eng_dryrun_execute(vm, d->mapping, body, len, "request body", NULL, 0, &d->out,
                               &d->errors, &d->format);
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
    free(d);
}

static void dryrun_finish(struct dryrun_task *d, struct eng_http_resp *resp)
{
    if (d->rc == 0) {
        resp->content_type =
            d->format == ENG_DRYRUN_NDJSON ? "application/x-ndjson" : "application/json";
        eng_buf_append(&resp->body, d->out.data ? d->out.data : "", d->out.len);
        return;
    }
    if (d->rc == ENG_EBUSY) {
        eng_api_error(resp, 503, "unavailable", "the engine is shutting down", NULL);
        return;
    }
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
}

static int api_dry_run(struct eng_api *api, struct eng_http_req *req, struct eng_http_resp *resp,
                       const char *name, size_t namelen)
{
    struct dryrun_task *d = eng_http_state(req);
    if (d != NULL) { /* resumed: the worker is done */
        dryrun_finish(d, resp);
        return ENG_HTTP_DONE;
    }
    int ok = namelen > 0 && namelen < 100;
    for (size_t i = 0; ok && i < namelen; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
             (name[i] >= '0' && name[i] <= '9') || name[i] == '_' || name[i] == '-';
    char logical[160];
    snprintf(logical, sizeof logical, "mappings/%.*s.lua", (int)namelen, name);
    size_t len;
    char *src = ok ? eng_scripts_source(api->scripts, logical, &len) : NULL;
    if (src == NULL) {
        char msg[200];
        snprintf(msg, sizeof msg, "no mapping named '%.*s'", (int)(namelen < 100 ? namelen : 100),
                 name);
        eng_api_error(resp, 404, "not_found", msg, NULL);
        return ENG_HTTP_DONE;
    }
    free(src);

    d = calloc(1, sizeof *d);
    if (d == NULL) {
        eng_api_error(resp, 500, "internal", "out of memory", NULL);
        return ENG_HTTP_DONE;
    }
    d->task.run = dryrun_task_run;
    d->task.done = dryrun_task_done;
    d->req = req;
    snprintf(d->mapping, sizeof d->mapping, "%.*s", (int)namelen, name);
    eng_buf_init(&d->out);
    eng_buf_init(&d->errors);
    eng_http_set_state(req, d, dryrun_task_free);
    int rc = eng_workers_submit(api->workers, &d->task);
    if (rc != 0) {
        eng_http_resp_header(resp, "Retry-After", "1");
        eng_api_error(resp, 503, "busy", "the workers' queue is full; retry shortly", NULL);
        return ENG_HTTP_DONE;
    }
    return ENG_HTTP_PENDING;
}

/* ---- routing ---- */

static int method_not_allowed(struct eng_http_resp *resp, const char *allow)
{
    eng_http_resp_header(resp, "Allow", allow);
    eng_api_error(resp, 405, "method_not_allowed", "this route does not accept that method", NULL);
    return ENG_HTTP_DONE;
}

int eng_api_handle(void *app, struct eng_http_req *req, struct eng_http_resp *resp)
{
    struct eng_api *api = app;
    const char *m = eng_http_method(req);
    const char *p = eng_http_path(req);
    int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;

    if (strcmp(p, "/health") == 0)
        return get ? api_health(api, req, resp) : method_not_allowed(resp, "GET");
    if (strcmp(p, "/ready") == 0)
        return get ? api_ready(api, req, resp) : method_not_allowed(resp, "GET");
    if (strcmp(p, "/api/scripts") == 0)
        return get ? api_scripts(api, req, resp) : method_not_allowed(resp, "GET");

    static const char mp[] = "/api/mappings/", dr[] = "/dry-run";
    size_t plen = strlen(p);
    if (strncmp(p, mp, sizeof mp - 1) == 0 && plen > sizeof mp - 1 + sizeof dr - 1 &&
        strcmp(p + plen - (sizeof dr - 1), dr) == 0) {
        if (strcmp(m, "POST") != 0)
            return method_not_allowed(resp, "POST");
        return api_dry_run(api, req, resp, p + sizeof mp - 1,
                           plen - (sizeof mp - 1) - (sizeof dr - 1));
    }
    eng_api_error(resp, 404, "not_found", "no such route", NULL);
    return ENG_HTTP_DONE;
}
