/*
 * api_system.c - the engine's own routes: /health, /ready, /metrics (Prometheus text),
 * /api/openapi.json and GET /api/scripts. Nothing here runs a script or calls out.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "base/clock.h"
#include "lua/scripts.h"
#include "flow/ingest.h"
#include "flow/worker.h"
#include "base/log.h"
#include "adapt/store.h"
#include "data/vault.h"

/* GET /health: the process answers. */
int eng_api_health(struct eng_api_ctx *c)
{
    eng_buf_printf(&c->resp->body, "{\"status\":\"ok\",\"version\":\"%s\",\"uptimeMs\":%lld}",
                   ENG_VERSION, eng_now_ms() - c->api->started_ms);
    return ENG_HTTPD_DONE;
}

/* The workers stuck now (flow/worker.h's watchdog) as /ready's reasons and its "stuck_workers"
 * list: index, task, since when. No tenant: /ready is public. The number stuck. */
static int sys_stuck_workers(struct eng_api *api, struct eng_buf *reasons, int *n,
                             struct eng_buf *list)
{
    int stuck = 0;
    int count = api->workers != NULL ? eng_workers_count(api->workers) : 0;
    for (int i = 0; i < count; i++) {
        struct eng_worker_state ws;
        if (eng_workers_state(api->workers, i, &ws) != 0 || !ws.stuck)
            continue;
        char since[32], text[256];
        time_t s = (time_t)(ws.since_ms / 1000);
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
        snprintf(text, sizeof text, "workers: worker %d is stuck in %s since %s (%lld ms)",
                 ws.index, ws.what, since, ws.for_ms);
        eng_buf_puts(reasons, (*n)++ ? "," : "");
        eng_buf_json_str(reasons, text, strlen(text));
        eng_buf_printf(list, "%s{\"worker\":%d,\"task\":", stuck++ ? "," : "", ws.index);
        eng_buf_json_str(list, ws.what, strlen(ws.what));
        eng_buf_printf(list, ",\"since\":\"%s\",\"for_ms\":%lld}", since, ws.for_ms);
    }
    return stuck;
}

/* GET /ready: the store answers, every script has an accepted version, the configured keys
 * open the stored credentials and no worker is stuck. */
int eng_api_ready(struct eng_api_ctx *c)
{
    struct eng_buf reasons;
    eng_buf_init(&reasons);
    int n = 0;
    struct eng_err err = {0};
    struct eng_store *st = eng_api_store(c);
    if (st == NULL || eng_store_exec(st, "SELECT 1", &err) != 0) {
        eng_buf_puts(&reasons, "\"store: not reachable\"");
        n++;
    }
    struct eng_buf list;
    eng_buf_init(&list);
    eng_scripts_status_json(c->api->scripts, &list);
    /* A script whose only version was rejected is not loaded: the engine is not ready. */
    if (list.data != NULL && strstr(list.data, "\"active\":false") != NULL) {
        eng_buf_puts(&reasons, n++ ? "," : "");
        eng_buf_puts(&reasons, "\"scripts: a script failed to load (see GET /api/scripts)\"");
    }
    eng_buf_free(&list);
    /* a wrong INTEGRATION_ENCRYPTION_KEY: the engine runs (webhooks are still taken, the
     * credentials can be stored again) but nothing that needs them can work */
    char keymsg[1024];
    if (st != NULL && c->api->keys != NULL &&
        eng_vault_check_keys(st, c->api->keys, keymsg, sizeof keymsg, &err) > 0) {
        eng_buf_puts(&reasons, n++ ? "," : "");
        char text[1100];
        snprintf(text, sizeof text, "keys: %s", keymsg);
        eng_buf_json_str(&reasons, text, strlen(text));
    }
    struct eng_buf stuck;
    eng_buf_init(&stuck);
    int nstuck = sys_stuck_workers(c->api, &reasons, &n, &stuck);

    eng_buf_reset(&c->resp->body);
    c->resp->content_type = "application/json";
    if (n == 0) {
        c->resp->status = 200;
        eng_buf_puts(&c->resp->body, "{\"status\":\"ready\"}");
    } else {
        c->resp->status = 503;
        eng_buf_printf(&c->resp->body, "{\"status\":\"not_ready\",\"reasons\":[%s]",
                       reasons.data ? reasons.data : "");
        if (nstuck > 0)
            eng_buf_printf(&c->resp->body, ",\"stuck_workers\":[%s]", stuck.data ? stuck.data : "");
        eng_buf_putc(&c->resp->body, '}');
    }
    eng_buf_free(&stuck);
    eng_buf_free(&reasons);
    return ENG_HTTPD_DONE;
}

/* One labelled count per row of `SELECT label, COUNT(*) ... GROUP BY label`. */
static void sys_metric_group(struct eng_store *st, struct eng_buf *b, const char *name,
                             const char *help, const char *label, const char *sql)
{
    eng_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    if (st == NULL || eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, &err) != 0)
        return;
    while (eng_store_step(s, &err) == ENG_STORE_ROW) {
        size_t len;
        const char *v = eng_store_column_text(s, 0, &len);
        /* label values come from CHECK-constrained columns: plain words */
        eng_buf_printf(b, "%s{%s=\"%.*s\"} %lld\n", name, label, (int)len, v ? v : "",
                       (long long)eng_store_column_int64(s, 1));
    }
    eng_store_finalize(s);
}

/* The watchdog's figures (flow/worker.h): workers stuck now, VMs replaced after a stuck task, and
 * tasks finished per worker. */
static void sys_metric_workers(struct eng_api *api, struct eng_buf *b)
{
    int count = api->workers != NULL ? eng_workers_count(api->workers) : 0;
    int stuck = 0;
    unsigned long long replaced = 0;
    struct eng_buf per;
    eng_buf_init(&per);
    for (int i = 0; i < count; i++) {
        struct eng_worker_state ws;
        if (eng_workers_state(api->workers, i, &ws) != 0)
            continue;
        stuck += ws.stuck;
        replaced += ws.vm_replacements;
        eng_buf_printf(&per, "tallysync_worker_tasks_total{worker=\"%d\"} %llu\n", ws.index,
                       ws.tasks);
    }
    eng_buf_printf(b,
                   "# HELP tallysync_workers_stuck Workers busy for longer than WORKER_STUCK_MS "
                   "since their last heartbeat.\n"
                   "# TYPE tallysync_workers_stuck gauge\ntallysync_workers_stuck %d\n"
                   "# HELP tallysync_worker_vm_replacements_total VMs a worker replaced after "
                   "coming back from being stuck.\n"
                   "# TYPE tallysync_worker_vm_replacements_total counter\n"
                   "tallysync_worker_vm_replacements_total %llu\n"
                   "# HELP tallysync_worker_stuck_threshold_seconds WORKER_STUCK_MS.\n"
                   "# TYPE tallysync_worker_stuck_threshold_seconds gauge\n"
                   "tallysync_worker_stuck_threshold_seconds %.3f\n"
                   "# HELP tallysync_worker_tasks_total Tasks each worker finished.\n"
                   "# TYPE tallysync_worker_tasks_total counter\n",
                   stuck, replaced, (double)api->cfg->worker_stuck_ms / 1000.0);
    if (per.len > 0 && !per.oom)
        eng_buf_append(b, per.data, per.len);
    eng_buf_free(&per);
}

/* GET /metrics: Prometheus text exposition format 0.0.4. */
int eng_api_metrics(struct eng_api_ctx *c)
{
    struct eng_buf *b = &c->resp->body;
    struct eng_api *api = c->api;
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE; /* 503 already answered */
    c->resp->content_type = "text/plain; version=0.0.4; charset=utf-8";

    eng_buf_puts(b, "# HELP tallysync_http_requests_total HTTP requests answered, by route and "
                    "status class.\n# TYPE tallysync_http_requests_total counter\n");
    static const char *const cls[ENG_API_STATUS_CLASSES] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    for (size_t r = 0; r <= eng_api_nroutes; r++) {
        for (int k = 0; k < ENG_API_STATUS_CLASSES; k++) {
            unsigned long long n =
                atomic_load(&api->requests[r * ENG_API_STATUS_CLASSES + (size_t)k]);
            if (n == 0)
                continue;
            eng_buf_printf(b, "tallysync_http_requests_total{route=\"%s %s\",status=\"%s\"} %llu\n",
                           r < eng_api_nroutes ? eng_api_routes[r].method : "",
                           r < eng_api_nroutes ? eng_api_routes[r].pattern : "unmatched", cls[k],
                           n);
        }
    }
    eng_buf_printf(b,
                   "# HELP tallysync_uptime_seconds Seconds since the engine started.\n"
                   "# TYPE tallysync_uptime_seconds gauge\ntallysync_uptime_seconds %.3f\n"
                   "# HELP tallysync_workers Worker threads (WORKERS).\n"
                   "# TYPE tallysync_workers gauge\ntallysync_workers %d\n"
                   "# HELP tallysync_worker_tasks_queued Tasks waiting for a worker.\n"
                   "# TYPE tallysync_worker_tasks_queued gauge\ntallysync_worker_tasks_queued %d\n"
                   "# HELP tallysync_scripts_generation Script publications so far.\n"
                   "# TYPE tallysync_scripts_generation counter\n"
                   "tallysync_scripts_generation %llu\n"
                   "# HELP tallysync_script_errors Scripts whose latest version was rejected.\n"
                   "# TYPE tallysync_script_errors gauge\ntallysync_script_errors %d\n",
                   (double)(eng_now_ms() - api->started_ms) / 1000.0,
                   eng_workers_count(api->workers), eng_workers_queued(api->workers),
                   (unsigned long long)eng_scripts_generation(api->scripts),
                   eng_scripts_error_count(api->scripts));

    sys_metric_workers(api, b);

    sys_metric_group(st, b, "tallysync_sync_runs", "Sync runs by state.", "state",
                     "SELECT state, COUNT(*) FROM sync_runs GROUP BY state ORDER BY state");
    sys_metric_group(
        st, b, "tallysync_sync_records", "Records handled by runs, by outcome.", "outcome",
        "SELECT outcome, COUNT(*) FROM sync_records GROUP BY outcome ORDER BY outcome");
    sys_metric_group(st, b, "tallysync_queue_jobs",
                     "Jobs in sync_queue by status (depth: pending).", "status",
                     "SELECT status, COUNT(*) FROM sync_queue GROUP BY status ORDER BY status");
    sys_metric_group(st, b, "tallysync_webhook_events", "Webhook deliveries by status.", "status",
                     "SELECT status, COUNT(*) FROM webhook_events GROUP BY status ORDER BY status");
    eng_ingest_metrics(api->ingest, b);
    return ENG_HTTPD_DONE;
}

/* GET /api/openapi.json */
int eng_api_openapi(struct eng_api_ctx *c)
{
    eng_buf_append(&c->resp->body, eng_openapi_json, eng_openapi_json_len);
    return ENG_HTTPD_DONE;
}

/* GET /api/scripts: every script and mapping, its published version and its last error. */
int eng_api_scripts(struct eng_api_ctx *c)
{
    struct eng_scripts *reg = c->api->scripts;
    eng_buf_printf(&c->resp->body, "{\"generation\":%llu,\"errors\":%d,\"scripts\":",
                   (unsigned long long)eng_scripts_generation(reg), eng_scripts_error_count(reg));
    eng_scripts_status_json(reg, &c->resp->body);
    eng_buf_putc(&c->resp->body, '}');
    return ENG_HTTPD_DONE;
}
