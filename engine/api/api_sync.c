/*
 * api_sync.c - the sync routes: list and show runs, history, stop and retry (starting a run is
 * api_sync_start.c; the failures, api_failures.c). Every answer is built by SQLite's JSON functions
 * from the stored rows, so the API shows exactly what is recorded; request bodies are checked
 * with the same functions (no Lua on a server thread). Local queries only: nothing here waits on
 * a remote system.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/log.h"
#include "adapt/store.h"
#include "flow/sync.h"

#define SYNC_PAGE_DEFAULT 50
#define SYNC_PAGE_MAX     500

/* What became of a run's failures since it ended: each failed record of the run is resolved
 * once the record goes through later (a retry, a webhook, another run). resolution: null (no
 * failure, or a dry run: nothing to resolve), none, some or all; the run's state stays what the
 * run itself did. */
#define RUN_FAILURES                                                                               \
    "(SELECT json_object('failed', n, 'resolved', r, 'open', n - r, 'resolution', CASE WHEN n = "  \
    "0 OR d = 1 THEN NULL WHEN r = 0 THEN 'none' WHEN r < n THEN 'some' ELSE 'all' END, "          \
    "'lastResolvedAt', last, 'summary', CASE WHEN n = 0 THEN NULL WHEN d = 1 THEN n || ' failed "  \
    "in this dry run (nothing was written)' WHEN r = 0 THEN n || ' failed; none resolved since' "  \
    "WHEN r < n THEN n || ' failed; ' || r || ' resolved since, ' || (n - r) || ' still failing' " \
    "ELSE n || ' failed; all ' || n || ' resolved since, the last at ' || last END) FROM (SELECT " \
    "count(*) AS n, count(resolved_at) AS r, max(resolved_at) AS "                                 \
    "last, sync_runs.dry_run AS d FROM sync_records WHERE run_id = sync_runs.id AND outcome IN "   \
    "('failed', 'conflict')))"

/* The JSON of one run (columns of sync_runs). */
#define RUN_JSON                                                                                   \
    "json_object('syncId', id, 'entity', entity, 'flow', flow, 'mode', mode, 'dryRun', "           \
    "json(CASE dry_run WHEN 1 THEN 'true' ELSE 'false' END), 'state', state, 'origin', origin, "   \
    "'requestedBy', requested_by, 'scheduleId', schedule_id, 'filters', json(filters), "           \
    "'counts', json_object('total', records_total, 'read', records_read, 'created', "              \
    "records_created, 'updated', records_updated, 'unchanged', records_unchanged, 'skipped', "     \
    "records_skipped, 'failed', records_failed), 'progress', progress, 'createdAt', created_at, "  \
    "'failures', json(" RUN_FAILURES "), "                                                         \
    "'startedAt', started_at, 'finishedAt', finished_at, 'updatedAt', updated_at, "                \
    "'cursorFrom', cursor_from, 'cursorTo', cursor_to, 'cancelRequested', json(CASE "              \
    "cancel_requested WHEN 1 THEN 'true' ELSE 'false' END), 'error', error, 'errorsSummary', "     \
    "json(coalesce(errors_summary, '[]')), 'reconciliation', json_object('currency', currency, "   \
    "'sourceTotalMinor', source_total_minor, 'targetTotalMinor', target_total_minor, "             \
    "'differenceMinor', target_total_minor - source_total_minor, 'reconciled', "                   \
    "reconciled_count, 'mismatched', mismatch_count, 'notWritten', "                               \
    "coalesce(CAST(json_extract(reconciliation, '$.notWritten') AS INTEGER), 0), "                 \
    "'notWrittenSourceMinor', coalesce(CAST(json_extract(reconciliation, "                         \
    "'$.notWrittenSourceMinor') AS INTEGER), 0), 'mismatches', "                                   \
    "json(coalesce(json_extract(reconciliation, '$.mismatches'), '[]'))))"

static int internal(struct eng_api_ctx *c, const struct eng_err *err)
{
    return eng_api_store_failed(c->resp, "sync", err);
}

/* Page parameters ?limit= (1..500) &offset= (>= 0). -1 after answering 400. */
static int page_params(struct eng_api_ctx *c, long *limit, long *offset)
{
    const char *l = eng_httpd_query(c->req, "limit");
    const char *o = eng_httpd_query(c->req, "offset");
    char *end;
    *limit = SYNC_PAGE_DEFAULT, *offset = 0;
    if (l != NULL) {
        *limit = strtol(l, &end, 10);
        if (*l == '\0' || *end != '\0' || *limit < 1 || *limit > SYNC_PAGE_MAX)
            return eng_api_error(c->resp, 400, "invalid_parameter",
                                 "limit must be an integer from 1 to 500", NULL),
                   -1;
    }
    if (o != NULL) {
        *offset = strtol(o, &end, 10);
        if (*o == '\0' || *end != '\0' || *offset < 0)
            return eng_api_error(c->resp, 400, "invalid_parameter",
                                 "offset must be a non-negative integer", NULL),
                   -1;
    }
    return 0;
}

/* eng_api_json_answer with texts, then limit and offset when nlim. */
static int json_answer(struct eng_api_ctx *c, const char *sql, const char *const *binds, int nbinds,
                       long limit, long offset, int nlim, struct eng_err *err)
{
    const long long page[] = {limit, offset};
    return eng_api_json_answer(c, sql, binds, nbinds, page, nlim ? 2 : 0, err);
}

/* ---- GET status / history ---- */

int eng_api_sync_status_list(struct eng_api_ctx *c)
{
    long limit, offset;
    if (page_params(c, &limit, &offset) != 0)
        return ENG_HTTPD_DONE;
    static const char sql[] =
        "SELECT json_object('items', (SELECT json_group_array(json(j)) FROM (SELECT " RUN_JSON
        " AS j FROM sync_runs WHERE tenant_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2 "
        "OFFSET ?3)), 'total', (SELECT count(*) FROM sync_runs WHERE tenant_id = ?1), 'limit', "
        "?2, 'offset', ?3)";
    struct eng_err err = {0};
    const char *b[] = {c->tenant};
    int rc = json_answer(c, sql, b, 1, limit, offset, 1, &err);
    return rc < 0 ? internal(c, &err) : ENG_HTTPD_DONE;
}

int eng_api_sync_status(struct eng_api_ctx *c)
{
    char id[ENG_SYNC_ID_SIZE];
    if (eng_api_param(c, 0, id, sizeof id) != 0)
        return eng_api_error(c->resp, 404, "not_found", "no such sync run", NULL);
    static const char sql[] = "SELECT " RUN_JSON " FROM sync_runs WHERE tenant_id = ? AND id = ?";
    struct eng_err err = {0};
    const char *b[] = {c->tenant, id};
    int rc = json_answer(c, sql, b, 2, 0, 0, 0, &err);
    if (rc == ENG_ENOTFOUND)
        return eng_api_error(c->resp, 404, "not_found", "no such sync run", NULL);
    return rc < 0 ? internal(c, &err) : ENG_HTTPD_DONE;
}

int eng_api_sync_history(struct eng_api_ctx *c)
{
    long limit, offset;
    if (page_params(c, &limit, &offset) != 0)
        return ENG_HTTPD_DONE;
    const char *state = eng_httpd_query(c->req, "state");
    if (state != NULL && strcmp(state, "succeeded") != 0 && strcmp(state, "partial") != 0 &&
        strcmp(state, "failed") != 0 && strcmp(state, "cancelled") != 0)
        return eng_api_error(c->resp, 400, "invalid_parameter",
                             "state must be succeeded, partial, failed or cancelled", NULL);
    const char *dry = eng_httpd_query(c->req, "dryRun");
    if (dry != NULL && strcmp(dry, "true") != 0 && strcmp(dry, "false") != 0)
        return eng_api_error(c->resp, 400, "invalid_parameter", "dryRun must be true or false",
                             NULL);
#define HIST_WHERE                                                                                 \
    "tenant_id = ?1 AND state IN ('succeeded', 'partial', 'failed', 'cancelled') AND (?2 IS NULL " \
    "OR entity = ?2) AND (?3 IS NULL OR flow = ?3) AND (?4 IS NULL OR state = ?4) AND (?5 IS "     \
    "NULL OR finished_at >= ?5) AND (?6 IS NULL OR finished_at < ?6) AND (?7 IS NULL OR mode = "   \
    "?7) AND (?8 IS NULL OR dry_run = CASE WHEN ?8 = 'true' THEN 1 ELSE 0 END)"
    static const char sql[] =
        "SELECT json_object('items', (SELECT json_group_array(json(j)) FROM (SELECT " RUN_JSON
        " AS j FROM sync_runs WHERE " HIST_WHERE " ORDER BY finished_at DESC, id DESC LIMIT ?9 "
        "OFFSET ?10)), 'total', (SELECT count(*) FROM sync_runs WHERE " HIST_WHERE
        "), 'limit', ?9, 'offset', ?10)";
#undef HIST_WHERE
    struct eng_err err = {0};
    const char *b[] = {c->tenant,
                       eng_httpd_query(c->req, "entity"),
                       eng_httpd_query(c->req, "flow"),
                       state,
                       eng_httpd_query(c->req, "from"),
                       eng_httpd_query(c->req, "to"),
                       eng_httpd_query(c->req, "mode"),
                       dry};
    int rc = json_answer(c, sql, b, 8, limit, offset, 1, &err);
    return rc < 0 ? internal(c, &err) : ENG_HTTPD_DONE;
}

/* ---- POST /api/sync/{syncId}/stop ---- */

int eng_api_sync_stop(struct eng_api_ctx *c)
{
    char id[ENG_SYNC_ID_SIZE], state[16] = "";
    if (eng_api_param(c, 0, id, sizeof id) != 0)
        return eng_api_error(c->resp, 404, "not_found", "no such sync run", NULL);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_store_prepare(st, "SELECT state FROM sync_runs WHERE tenant_id = ? AND id = ?", -1,
                               ENG_STORE_TRUSTED, &s, &err);
    if (rc == 0) {
        eng_store_bind_str(s, 1, c->tenant);
        eng_store_bind_str(s, 2, id);
        rc = eng_store_step(s, &err);
        if (rc == ENG_STORE_ROW)
            snprintf(state, sizeof state, "%s", eng_store_column_text(s, 0, NULL));
    }
    eng_store_finalize(s);
    if (rc < 0)
        return internal(c, &err);
    if (state[0] == '\0')
        return eng_api_error(c->resp, 404, "not_found", "no such sync run", NULL);
    if (strcmp(state, "queued") != 0 && strcmp(state, "running") != 0) {
        char msg[96], details[96];
        snprintf(msg, sizeof msg, "the run is already over (%s)", state);
        snprintf(details, sizeof details, "{\"syncId\":\"%s\",\"state\":\"%s\"}", id, state);
        return eng_api_error(c->resp, 409, "not_running", msg, details);
    }
    rc = eng_sync_request_stop(st, c->tenant, id, state, &err);
    if (rc != 0)
        return internal(c, &err);
    eng_orchestrator_notify(c->api->orch);
    c->resp->status = 202;
    c->resp->content_type = "application/json";
    eng_buf_printf(&c->resp->body, "{\"syncId\":\"%s\",\"state\":\"%s\",\"cancelRequested\":true}",
                   id, state);
    return ENG_HTTPD_DONE;
}

/* ---- retry (the failures list and detail: api_failures.c) ---- */

int eng_api_sync_retry(struct eng_api_ctx *c)
{
    const char *body;
    struct eng_store *st = eng_api_store_body(c, 1, &body);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    /* {"ids": [failure ids]} | {"runId"} | {"entity"} | {"flow"} | {} = every failure */
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_api_json_query(
        st,
        "SELECT json_valid(?1) AND json_type(?1) = 'object', (SELECT key FROM json_each(?1) "
        "WHERE NOT ((key = 'ids' AND type = 'array') OR (key IN ('runId', 'entity', 'flow') AND "
        "type = 'text')) LIMIT 1)",
        body, &s, &err);
    char bad[64] = "";
    int valid = 0;
    if (rc == ENG_STORE_ROW) {
        valid = (int)eng_store_column_int64(s, 0);
        const char *k = eng_store_column_text(s, 1, NULL);
        if (k != NULL)
            snprintf(bad, sizeof bad, "%s", k);
    }
    eng_store_finalize(s);
    if (rc < 0)
        return internal(c, &err);
    if (!valid)
        return eng_api_error(c->resp, 400, "malformed_json", "the body must be a JSON object",
                             NULL);
    if (bad[0] != '\0')
        return eng_api_field_error(c->resp, 422, bad,
                                   "not accepted here (ids: a list of failure ids, runId, entity, "
                                   "flow)");
    /* one retry job per flow and entity, listing the source ids; in one transaction */
    static const char pick[] =
        "SELECT flow, source_entity, json_group_array(DISTINCT source_id), count(*) FROM "
        "sync_records WHERE tenant_id = ?1 AND outcome IN ('failed', 'conflict') AND resolved_at "
        "IS NULL AND dry_run = 0 AND (json_extract(?2, '$.runId') IS NULL OR run_id = "
        "json_extract(?2, '$.runId')) AND (json_extract(?2, '$.entity') IS NULL OR source_entity "
        "= json_extract(?2, '$.entity')) AND (json_extract(?2, '$.flow') IS NULL OR flow = "
        "json_extract(?2, '$.flow')) AND (json_extract(?2, '$.ids') IS NULL OR id IN (SELECT "
        "CAST(value AS INTEGER) FROM json_each(?2, '$.ids'))) GROUP BY flow, source_entity";
    rc = eng_store_exec(st, "BEGIN IMMEDIATE", &err);
    if (rc != 0)
        return internal(c, &err);
    rc = eng_store_prepare(st, pick, -1, ENG_STORE_TRUSTED, &s, &err);
    long long records = 0;
    int jobs = 0;
    struct eng_buf ids;
    eng_buf_init(&ids);
    if (rc == 0) {
        eng_store_bind_str(s, 1, c->tenant);
        eng_store_bind_str(s, 2, body);
        while ((rc = eng_store_step(s, &err)) == ENG_STORE_ROW) {
            struct eng_buf payload;
            eng_buf_init(&payload);
            const char *flow = eng_store_column_text(s, 0, NULL);
            const char *ent = eng_store_column_text(s, 1, NULL);
            eng_buf_puts(&payload, "{\"entity\":");
            eng_buf_json_str(&payload, ent, strlen(ent));
            eng_buf_puts(&payload, ",\"flow\":");
            eng_buf_json_str(&payload, flow, strlen(flow));
            eng_buf_printf(&payload, ",\"ids\":%s}", eng_store_column_text(s, 2, NULL));
            struct eng_job_new j = {
                .tenant = c->tenant,
                .kind = "retry",
                .entity = ent,
                .flow = flow,
                .payload = payload.data,
                .priority = ENG_QUEUE_LANE_RECORD,
                .max_attempts = ENG_SYNC_REC_ATTEMPTS,
            };
            int64_t jid = 0;
            int r2 = payload.oom ? ENG_ENOMEM : eng_queue_enqueue(st, &j, &jid, NULL, &err);
            eng_buf_free(&payload);
            if (r2 != 0) {
                rc = r2;
                break;
            }
            eng_buf_printf(&ids, "%s%lld", jobs ? "," : "", (long long)jid);
            records += eng_store_column_int64(s, 3);
            jobs++;
        }
        eng_store_finalize(s);
    }
    if (rc >= 0)
        rc = eng_store_exec(st, "COMMIT", &err);
    if (rc < 0) {
        eng_store_exec(st, "ROLLBACK", NULL);
        eng_buf_free(&ids);
        return internal(c, &err);
    }
    eng_orchestrator_notify(c->api->orch);
    c->resp->status = 202;
    c->resp->content_type = "application/json";
    eng_buf_printf(&c->resp->body, "{\"records\":%lld,\"jobs\":[%s]}", records,
                   ids.data != NULL ? ids.data : "");
    eng_buf_free(&ids);
    return ENG_HTTPD_DONE;
}
