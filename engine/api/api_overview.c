/*
 * api_overview.c - the console's first page in one answer, GET /api/overview (the tenant's
 * connections and their health, running runs with their progress, the queue by lane, open
 * failures, the last reconciliation of each flow), and GET /api/sync/stats/hourly (records per
 * hour by outcome, zero-filled). The connections reuse what /api/integrations shows
 * (eng_api_credentials_status) and the last webhook check (flow/webhook_health.h), reshaped with
 * SQLite's JSON functions; the rest are local queries (data/queue.h, data/sync_records.h, and
 * sync_runs, which has no owner in data/ yet, read here as api_sync.c reads it).
 * Owns: nothing past a call. Must not: show a secret (the credentials status holds none; only
 * the fields named below are copied from it), wait on a remote system, run Lua.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "adapt/store.h"
#include "data/queue.h"
#include "data/sync_records.h"
#include "flow/webhook_health.h"

#define HOURLY_DAYS_DEFAULT 7
#define HOURLY_DAYS_MAX     31

static int ov_internal(struct eng_api_ctx *c, const struct eng_err *err)
{
    eng_buf_reset(&c->resp->body);
    return eng_api_store_failed(c->resp, "overview", err);
}

/* Run sql binding ?1 (and ?2 when fmt is "ss"; texts, NULL binds NULL); append its one JSON
 * text column to out. */
static int ov_json(struct eng_store *st, const char *sql, const char *fmt, const char *a,
                   const char *b, struct eng_buf *out, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, sql, &s, err, fmt, a, b);
    if (rc == ENG_STORE_ROW) {
        size_t n = 0;
        const char *v = eng_store_column_text(s, 0, &n);
        if (v != NULL)
            eng_buf_append(out, v, n);
        else
            eng_buf_puts(out, "null");
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

/* The tenant's stored connections: per active credentials row, whether it works, its account,
 * token expiry, warnings, the last failed test, and for WooCommerce the webhooks' health. */
static int ov_connections(struct eng_api_ctx *c, struct eng_store *st, struct eng_buf *out,
                          struct eng_err *err)
{
    struct eng_buf list, hooks;
    eng_buf_init(&list);
    eng_buf_init(&hooks);
    int rc = eng_api_credentials_status(st, c->api->keys, c->tenant, NULL, &list, err);
    int have_hooks = 0;
    if (rc == 0) {
        rc = eng_webhook_health_status(st, c->tenant, &hooks, err);
        have_hooks = rc == 1 && !hooks.oom;
        rc = rc < 0 ? rc : 0;
    }
    if (rc == 0 && list.oom)
        rc = eng_err_set(err, ENG_ENOMEM, "out of memory");
    static const char sql[] =
        "SELECT coalesce(json_group_array(json_object('platform', json_extract(value, "
        "'$.platform'), 'connected', json(CASE WHEN json_extract(value, '$.status') = 'connected' "
        "THEN 'true' ELSE 'false' END), 'status', json_extract(value, '$.status'), 'account', "
        "json_extract(value, '$.account'), 'tokenExpiresAt', json_extract(value, "
        "'$.accessTokenExpiresAt'), 'refreshTokenExpiresAt', json_extract(value, "
        "'$.refreshTokenExpiresAt'), 'lastTestAt', json_extract(value, '$.lastTestAt'), "
        "'warnings', json(coalesce(json_extract(value, '$.warnings'), '[]')), 'webhook', "
        "json(CASE WHEN json_extract(value, '$.platform') <> 'woocommerce' THEN NULL WHEN ?2 IS "
        "NULL THEN json_object('status', 'unchecked', 'checkedAt', NULL, 'message', 'not checked "
        "yet', 'warnings', json('[]')) ELSE json_object('status', CASE CAST(json_extract(?2, "
        "'$.ok') AS INTEGER) "
        "WHEN 1 THEN 'ok' WHEN 0 THEN 'failing' ELSE 'unchecked' END, 'checkedAt', "
        "json_extract(?2, '$.checkedAt'), 'message', json_extract(?2, '$.message'), 'warnings', "
        "json(coalesce(json_extract(?2, '$.warnings'), '[]'))) END), 'lastError', json(CASE WHEN "
        "CAST(json_extract(value, '$.lastTestOk') AS INTEGER) = 0 THEN json_object('message', "
        "json_extract(value, "
        "'$.lastTestMessage'), 'at', json_extract(value, '$.lastTestAt')) END))), '[]') FROM "
        "json_each(?1)";
    if (rc == 0)
        rc = ov_json(st, sql, "ss", list.data != NULL ? list.data : "[]",
                     have_hooks ? hooks.data : NULL, out, err);
    eng_buf_free(&list);
    eng_buf_free(&hooks);
    return rc;
}

/* Running (and queued) runs with their progress, and the last finished run's reconciliation
 * of each flow (not dry runs'), as two members. */
static int ov_runs(struct eng_store *st, const char *tenant, struct eng_buf *out,
                   struct eng_err *err)
{
    static const char sql[] =
        "SELECT json_object('running', (SELECT coalesce(json_group_array(json(j)), '[]') FROM "
        "(SELECT json_object('syncId', id, 'entity', entity, 'flow', flow, 'mode', mode, "
        "'dryRun', json(CASE dry_run WHEN 1 THEN 'true' ELSE 'false' END), 'state', state, "
        "'processed', records_created + records_updated + records_unchanged + records_skipped + "
        "records_failed, 'read', records_read, 'total', records_total, 'failed', records_failed, "
        "'progress', progress, 'createdAt', created_at, 'startedAt', started_at, "
        "'cancelRequested', json(CASE cancel_requested WHEN 1 THEN 'true' ELSE 'false' END)) AS "
        "j FROM sync_runs WHERE tenant_id = ?1 AND state IN ('queued', 'running') ORDER BY "
        "created_at, id) AS running_runs), 'reconciliation', (SELECT "
        "coalesce(json_group_array(json(j)), "
        "'[]') FROM (SELECT json_object('flow', flow, 'entity', entity, 'syncId', id, 'state', "
        "state, 'finishedAt', finished_at, 'currency', currency, 'sourceTotalMinor', "
        "source_total_minor, 'targetTotalMinor', target_total_minor, 'differenceMinor', "
        "target_total_minor - source_total_minor, 'reconciled', reconciled_count, 'mismatched', "
        "mismatch_count) AS j FROM sync_runs r WHERE tenant_id = ?1 AND id = (SELECT id "
        "FROM sync_runs l WHERE l.tenant_id = ?1 AND l.flow = r.flow AND l.dry_run = 0 AND "
        "l.state IN ('succeeded', 'partial') AND l.finished_at IS NOT NULL ORDER BY "
        "l.finished_at DESC, l.id DESC LIMIT 1) ORDER BY flow) AS last_runs))";
    return ov_json(st, sql, "s", tenant, NULL, out, err);
}

/* GET /api/overview */
int eng_api_overview(struct eng_api_ctx *c)
{
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_buf *b = &c->resp->body;
    struct eng_err err = {0};
    struct eng_queue_depth q;
    int64_t open = 0;
    struct eng_sync_failures_query fq = {.tenant = c->tenant};
    eng_buf_puts(b, "{\"tenant\":");
    eng_buf_json_str(b, c->tenant, strlen(c->tenant));
    eng_buf_puts(b, ",\"connections\":");
    int rc = ov_connections(c, st, b, &err);
    if (rc == 0) {
        /* the runs' object, opened into this one: {"running":[...],"reconciliation":[...]} */
        struct eng_buf runs;
        eng_buf_init(&runs);
        rc = ov_runs(st, c->tenant, &runs, &err);
        if (rc == 0 && (runs.oom || runs.len < 2 || runs.data[0] != '{'))
            rc = eng_err_set(&err, ENG_ENOMEM, "out of memory");
        if (rc == 0) {
            eng_buf_putc(b, ',');
            eng_buf_append(b, runs.data + 1, runs.len - 2);
        }
        eng_buf_free(&runs);
    }
    if (rc == 0)
        rc = eng_queue_depth(st, c->tenant, &q, &err);
    if (rc == 0)
        rc = eng_sync_records_failures_count(st, &fq, &open, &err);
    if (rc != 0)
        return ov_internal(c, &err);
    eng_buf_printf(b,
                   ",\"queue\":{\"depth\":%lld,\"priority\":%lld,\"bulk\":%lld,\"running\":%lld},"
                   "\"failures\":{\"open\":%lld}}",
                   (long long)(q.priority + q.bulk), (long long)q.priority, (long long)q.bulk,
                   (long long)q.running, (long long)open);
    if (b->oom) {
        eng_buf_reset(b);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    return ENG_HTTPD_DONE;
}

/* GET /api/sync/stats/hourly?days=7 */
int eng_api_sync_hourly(struct eng_api_ctx *c)
{
    long days = HOURLY_DAYS_DEFAULT;
    const char *d = eng_httpd_query(c->req, "days");
    if (d != NULL) {
        char *end;
        days = strtol(d, &end, 10);
        if (*d == '\0' || *end != '\0' || days < 1 || days > HOURLY_DAYS_MAX)
            return eng_api_error(c->resp, 400, "invalid_parameter",
                                 "days must be an integer from 1 to 31", NULL);
    }
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    int nhours = (int)days * 24;
    /* the last nhours whole hours, the current one included (it is still filling) */
    long long now = (long long)time(NULL);
    long long from = now - now % 3600 - (long long)(nhours - 1) * 3600;
    struct eng_sync_hour *h = calloc((size_t)nhours, sizeof *h);
    if (h == NULL)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    struct eng_err err = {0};
    if (eng_sync_records_hourly(st, c->tenant, from, nhours, h, &err) != 0) {
        free(h);
        return ov_internal(c, &err);
    }
    struct eng_buf *b = &c->resp->body;
    char t[32];
    struct tm tm;
    time_t tt = (time_t)from;
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
    eng_buf_printf(b, "{\"days\":%ld,\"from\":\"%s\"", days, t);
    tt = (time_t)(from + (long long)nhours * 3600);
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
    eng_buf_printf(b, ",\"to\":\"%s\",\"hours\":[", t);
    struct eng_sync_hour sum = {0};
    for (int i = 0; i < nhours; i++) {
        tt = (time_t)(from + (long long)i * 3600);
        strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
        eng_buf_printf(b,
                       "%s{\"hour\":\"%s\",\"created\":%lld,\"updated\":%lld,\"unchanged\":%lld,"
                       "\"skipped\":%lld,\"failed\":%lld}",
                       i ? "," : "", t, h[i].created, h[i].updated, h[i].unchanged, h[i].skipped,
                       h[i].failed);
        sum.created += h[i].created, sum.updated += h[i].updated;
        sum.unchanged += h[i].unchanged, sum.skipped += h[i].skipped, sum.failed += h[i].failed;
    }
    eng_buf_printf(b,
                   "],\"totals\":{\"created\":%lld,\"updated\":%lld,\"unchanged\":%lld,"
                   "\"skipped\":%lld,\"failed\":%lld}}",
                   sum.created, sum.updated, sum.unchanged, sum.skipped, sum.failed);
    free(h);
    if (b->oom) {
        eng_buf_reset(b);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    return ENG_HTTPD_DONE;
}
