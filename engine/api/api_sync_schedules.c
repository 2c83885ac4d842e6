/*
 * api_sync_schedules.c - POST/GET/DELETE /api/sync/schedules: runs the engine starts by itself,
 * every intervalSeconds or on a cron expression (UTC). The dispatcher's scheduler tick
 * (scheduler.c) starts them. Bodies are checked with SQLite's JSON functions; answers are built
 * from the stored rows. Local queries only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "lua/scripts.h"
#include "base/log.h"
#include "adapt/store.h"
#include "flow/sync.h"

#define SCHEDULE_JSON                                                                              \
    "json_object('id', id, 'entity', entity, 'flow', flow, 'mode', mode, 'dryRun', json(CASE "     \
    "dry_run WHEN 1 THEN 'true' ELSE 'false' END), 'filters', json(filters), 'intervalSeconds', "  \
    "interval_seconds, 'cron', cron, 'enabled', json(CASE enabled WHEN 1 THEN 'true' ELSE "        \
    "'false' END), 'nextRunAt', next_run_at, 'lastRunAt', last_run_at, 'lastRunId', last_run_id, " \
    "'createdAt', created_at, 'updatedAt', updated_at)"

static int sched_internal(struct eng_api_ctx *c, const struct eng_err *err)
{
    return eng_api_store_failed(c->resp, "schedules", err);
}

static int sched_bad(struct eng_api_ctx *c, const char *field, const char *msg)
{
    return eng_api_field_error(c->resp, 422, field, msg);
}

int eng_api_sync_schedule_create(struct eng_api_ctx *c)
{
    const char *body;
    struct eng_store *st = eng_api_store_body(c, 0, &body);
    if (st == NULL)
        return ENG_HTTP_DONE;
    static const char sql[] =
        "SELECT json_valid(?1) AND json_type(?1) = 'object', (SELECT key FROM json_each(?1) "
        "WHERE key NOT IN ('entity', 'flow', 'mode', 'dryRun', 'filters', 'intervalSeconds', "
        "'cron', 'enabled') LIMIT 1), json_type(?1, '$.entity'), json_extract(?1, '$.entity'), "
        "json_type(?1, '$.flow'), json_extract(?1, '$.flow'), json_type(?1, '$.mode'), "
        "json_extract(?1, '$.mode'), json_type(?1, '$.dryRun'), json_type(?1, '$.filters'), "
        "json(coalesce(json_extract(?1, '$.filters'), '{}')), json_type(?1, '$.intervalSeconds'), "
        "json_extract(?1, '$.intervalSeconds'), json_type(?1, '$.cron'), json_extract(?1, "
        "'$.cron'), json_type(?1, '$.enabled')";
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_api_json_query(st, sql, body, &s, &err);
    if (rc != ENG_STORE_ROW) {
        eng_store_finalize(s);
        return sched_internal(c, &err);
    }
#define COL(i)   eng_store_column_text(s, i, NULL)
#define IS(i, v) (COL(i) != NULL && strcmp(COL(i), v) == 0)
    char entity[72] = "", flow[72] = "", mode[16] = "incremental", filters[2048] = "{}",
         cron[128] = "", unknown[48] = "";
    long long interval = 0;
    int dry = IS(8, "true"), enabled = !IS(15, "false"), valid = (int)eng_store_column_int64(s, 0);
    const char *bad_field = NULL, *bad = NULL;
    if (COL(1) != NULL)
        snprintf(unknown, sizeof unknown, "%s", COL(1));
    if (!valid)
        bad_field = "body", bad = "must be a JSON object";
    else if (unknown[0] != '\0')
        bad_field = unknown, bad = "unknown field (entity, flow, mode, dryRun, filters, "
                                   "intervalSeconds, cron, enabled)";
    else if (!IS(2, "text") || !eng_api_id_ok(COL(3), strlen(COL(3))))
        bad_field = "entity", bad = "required: a source entity such as orders";
    else if (COL(4) != NULL && !IS(4, "text"))
        bad_field = "flow", bad = "must be a mapping name";
    else if (COL(6) != NULL && !(IS(6, "text") && (IS(7, "full") || IS(7, "incremental"))))
        bad_field = "mode", bad = "must be \"full\" or \"incremental\"";
    else if (COL(8) != NULL && !IS(8, "true") && !IS(8, "false"))
        bad_field = "dryRun", bad = "must be true or false";
    else if (COL(9) != NULL && !IS(9, "object"))
        bad_field = "filters", bad = "must be a JSON object";
    else if (COL(15) != NULL && !IS(15, "true") && !IS(15, "false"))
        bad_field = "enabled", bad = "must be true or false";
    else if ((COL(11) != NULL) == (COL(13) != NULL))
        bad_field = "intervalSeconds", bad = "give exactly one of intervalSeconds and cron";
    else if (COL(11) != NULL && (!IS(11, "integer") || eng_store_column_int64(s, 12) < 1 ||
                                 eng_store_column_int64(s, 12) > 366LL * 24 * 3600))
        bad_field = "intervalSeconds", bad = "must be an integer from 1 to 31622400";
    else if (COL(13) != NULL && (!IS(13, "text") || strlen(COL(14)) >= sizeof cron))
        bad_field = "cron", bad = "must be a cron expression such as \"*/15 * * * *\"";
    if (bad == NULL) {
        snprintf(entity, sizeof entity, "%s", COL(3));
        if (COL(4) != NULL)
            snprintf(flow, sizeof flow, "%.70s", COL(5));
        if (COL(6) != NULL)
            snprintf(mode, sizeof mode, "%s", COL(7));
        if (strlen(COL(10)) < sizeof filters)
            snprintf(filters, sizeof filters, "%s", COL(10));
        else
            bad_field = "filters", bad = "is too large";
        if (COL(11) != NULL)
            interval = eng_store_column_int64(s, 12);
        if (COL(13) != NULL)
            snprintf(cron, sizeof cron, "%s", COL(14));
    }
#undef IS
#undef COL
    eng_store_finalize(s);
    if (bad != NULL)
        return sched_bad(c, bad_field, bad);
    const char *f = flow[0] != '\0' ? flow : eng_sync_default_flow(entity);
    if (f == NULL)
        return sched_bad(c, "entity",
                         "has no default flow (orders, customers, products, refunds): name "
                         "one in 'flow'");
    char logical[96];
    snprintf(logical, sizeof logical, "mappings/%s.lua", f);
    size_t n;
    char *src =
        eng_api_id_ok(f, strlen(f)) ? eng_scripts_source(c->api->scripts, logical, &n) : NULL;
    if (src == NULL)
        return sched_bad(c, "flow", "no mapping by that name");
    free(src);
    char next[40];
    if (eng_schedule_next(cron[0] ? cron : NULL, interval, next, sizeof next, &err) != 0)
        return sched_bad(c, "cron", err.msg);

    rc = eng_store_prepare(st,
                           "INSERT INTO schedules (tenant_id, entity, flow, mode, dry_run, "
                           "filters, interval_seconds, cron, enabled, next_run_at) VALUES (?1, "
                           "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING " SCHEDULE_JSON,
                           -1, ENG_STORE_TRUSTED, &s, &err);
    if (rc == 0) {
        eng_store_bind_str(s, 1, c->tenant);
        eng_store_bind_str(s, 2, entity);
        eng_store_bind_str(s, 3, f);
        eng_store_bind_str(s, 4, mode);
        eng_store_bind_int64(s, 5, dry);
        eng_store_bind_str(s, 6, filters);
        if (interval > 0)
            eng_store_bind_int64(s, 7, interval);
        else
            eng_store_bind_null(s, 7);
        eng_store_bind_str(s, 8, cron[0] ? cron : NULL);
        eng_store_bind_int64(s, 9, enabled);
        eng_store_bind_str(s, 10, next);
        rc = eng_store_step(s, &err);
        if (rc == ENG_STORE_ROW) {
            size_t len;
            const char *j = eng_store_column_text(s, 0, &len);
            c->resp->status = 201;
            c->resp->content_type = "application/json";
            eng_buf_append(&c->resp->body, j, len);
            rc = eng_store_step(s, &err);
        }
        eng_store_finalize(s);
    }
    if (rc < 0)
        return sched_internal(c, &err);
    eng_orch_notify(c->api->orch);
    return ENG_HTTP_DONE;
}

int eng_api_sync_schedule_list(struct eng_api_ctx *c)
{
    static const char sql[] = "SELECT json_object('items', (SELECT json_group_array(json(j)) "
                              "FROM (SELECT " SCHEDULE_JSON " AS j FROM schedules WHERE "
                              "tenant_id = ?1 ORDER BY id)))";
    struct eng_err err = {0};
    const char *b[] = {c->tenant};
    int rc = eng_api_json_answer(c, sql, b, 1, NULL, 0, &err);
    return rc < 0 ? sched_internal(c, &err) : ENG_HTTP_DONE;
}

int eng_api_sync_schedule_delete(struct eng_api_ctx *c)
{
    char id[24];
    char *end = NULL;
    long long v = eng_api_param(c, 0, id, sizeof id) == 0 ? strtoll(id, &end, 10) : 0;
    if (end == NULL || *end != '\0' || v < 1)
        return eng_api_error(c->resp, 404, "not_found", "no such schedule", NULL);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTP_DONE;
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_store_prepare(st, "DELETE FROM schedules WHERE tenant_id = ? AND id = ?", -1,
                               ENG_STORE_TRUSTED, &s, &err);
    if (rc == 0) {
        eng_store_bind_str(s, 1, c->tenant);
        eng_store_bind_int64(s, 2, v);
        rc = eng_store_step(s, &err);
    }
    eng_store_finalize(s);
    if (rc < 0)
        return sched_internal(c, &err);
    if (eng_store_changes(st) == 0)
        return eng_api_error(c->resp, 404, "not_found", "no such schedule", NULL);
    c->resp->status = 204;
    return ENG_HTTP_DONE;
}
