/*
 * api_sync_schedules.c - POST/GET/DELETE /api/sync/schedules and POST .../{id}/pause|resume: runs
 * the engine starts by itself, every intervalSeconds or on a cron expression (UTC). The
 * dispatcher's scheduler tick (scheduler.c) starts them. Bodies are checked with SQLite's JSON
 * functions; the rows are data/schedules.c's, and this file renders them. Local queries only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/log.h"
#include "adapt/store.h"
#include "base/policy.h"
#include "data/schedules.h"
#include "flow/sync.h"

/* One schedule as the API shows it: {"id","entity","flow","mode","dryRun","filters",
 * "intervalSeconds","cron","enabled","nextRunAt","lastRunAt","lastRunId","createdAt",
 * "updatedAt"}, after a comma when *n > 0 (ud: struct sched_out). */
struct sched_out {
    struct eng_buf *b;
    int n;
};

static void sched_json(void *ud, const struct eng_schedule *r)
{
    struct sched_out *o = ud;
    struct eng_buf *b = o->b;
    if (o->n++ > 0)
        eng_buf_putc(b, ',');
    eng_buf_printf(b, "{\"id\":%lld", r->id);
    eng_api_json_member(b, ",\"entity\":", r->entity);
    eng_api_json_member(b, ",\"flow\":", r->flow);
    eng_api_json_member(b, ",\"mode\":", r->mode);
    eng_buf_puts(b,
                 r->dry_run ? ",\"dryRun\":true,\"filters\":" : ",\"dryRun\":false,\"filters\":");
    eng_buf_puts(b, r->filters != NULL ? r->filters : "null");
    if (r->interval_s > 0)
        eng_buf_printf(b, ",\"intervalSeconds\":%lld", r->interval_s);
    else
        eng_buf_puts(b, ",\"intervalSeconds\":null");
    eng_api_json_member(b, ",\"cron\":", r->cron);
    eng_buf_puts(b, r->enabled ? ",\"enabled\":true" : ",\"enabled\":false");
    eng_api_json_member(b, ",\"nextRunAt\":", r->next_run_at);
    eng_api_json_member(b, ",\"lastRunAt\":", r->last_run_at);
    eng_api_json_member(b, ",\"lastRunId\":", r->last_run_id);
    eng_api_json_member(b, ",\"createdAt\":", r->created_at);
    eng_api_json_member(b, ",\"updatedAt\":", r->updated_at);
    eng_buf_putc(b, '}');
}

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
        return ENG_HTTPD_DONE;
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
    const char *f = flow;
    if (flow[0] == '\0' &&
        eng_sync_default_flow(c->api->policy, NULL, entity, flow, sizeof flow) != 0) {
        char msg[300], known[200];
        eng_policy_default_entities(c->api->policy, known, sizeof known);
        snprintf(msg, sizeof msg, "has no default flow (%s): name one in 'flow'", known);
        return sched_bad(c, "entity", msg);
    }
    if (!eng_api_id_ok(f, strlen(f)) || !eng_api_published(c, "mappings", f))
        return sched_bad(c, "flow", "no mapping by that name");
    char next[40];
    if (eng_scheduler_next(cron[0] ? cron : NULL, interval, next, sizeof next, &err) != 0)
        return sched_bad(c, "cron", err.msg);

    const struct eng_schedule_new row = {
        .tenant = c->tenant,
        .entity = entity,
        .flow = f,
        .mode = mode,
        .dry_run = dry,
        .filters = filters,
        .interval_s = interval > 0 ? interval : 0,
        .cron = cron[0] ? cron : NULL,
        .enabled = enabled,
        .next_run_at = next,
    };
    struct sched_out o = {&c->resp->body, 0};
    rc = eng_schedules_insert(st, &row, sched_json, &o, &err);
    if (rc == 0 && o.n == 1) {
        c->resp->status = 201;
        c->resp->content_type = "application/json";
    }
    if (rc < 0)
        return sched_internal(c, &err);
    eng_orchestrator_notify(c->api->orch);
    return ENG_HTTPD_DONE;
}

int eng_api_sync_schedule_list(struct eng_api_ctx *c)
{
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_err err = {0};
    struct sched_out o = {&c->resp->body, 0};
    eng_buf_puts(&c->resp->body, "{\"items\":[");
    int rc = eng_schedules_list(st, c->tenant, sched_json, &o, &err);
    eng_buf_puts(&c->resp->body, "]}");
    if (rc < 0) {
        eng_buf_reset(&c->resp->body);
        return sched_internal(c, &err);
    }
    c->resp->status = 200;
    c->resp->content_type = "application/json";
    return ENG_HTTPD_DONE;
}

/* When a schedule runs: copied out of its row (sched_when_fn). */
struct sched_when {
    int found;
    long long interval_s;
    char cron[128];
};

static void sched_when_fn(void *ud, const struct eng_schedule *r)
{
    struct sched_when *w = ud;
    w->found = 1;
    w->interval_s = r->interval_s;
    snprintf(w->cron, sizeof w->cron, "%s", r->cron != NULL ? r->cron : "");
}

/* The {id} path parameter as a schedule id (a whole positive number), or 0. */
static long long sched_id(const struct eng_api_ctx *c)
{
    char id[24];
    char *end = NULL;
    long long v = eng_api_param(c, 0, id, sizeof id) == 0 ? strtoll(id, &end, 10) : 0;
    return end != NULL && *end == '\0' && v > 0 ? v : 0;
}

/* POST /api/sync/schedules/{id}/pause | resume: 200 with the schedule; a resumed one's next run
 * is counted from now (not a backlog of the paused time); 404 for none of the tenant's. */
static int sched_set_enabled(struct eng_api_ctx *c, int enabled)
{
    long long v = sched_id(c);
    if (v < 1)
        return eng_api_error(c->resp, 404, "not_found", "no such schedule", NULL);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_err err = {0};
    struct sched_when w = {0};
    if (eng_schedules_get(st, c->tenant, v, sched_when_fn, &w, &err) < 0)
        return sched_internal(c, &err);
    if (!w.found)
        return eng_api_error(c->resp, 404, "not_found", "no such schedule", NULL);
    char next[40];
    const char *np = NULL;
    if (enabled) {
        if (eng_scheduler_next(w.cron[0] ? w.cron : NULL, w.interval_s, next, sizeof next, &err) !=
            0)
            return sched_bad(c, "cron", err.msg);
        np = next;
    }
    struct sched_out o = {&c->resp->body, 0};
    int rc = eng_schedules_set_enabled(st, c->tenant, v, enabled, np, sched_json, &o, &err);
    if (rc < 0) {
        eng_buf_reset(&c->resp->body);
        return sched_internal(c, &err);
    }
    if (o.n == 0) /* deleted meanwhile */
        return eng_api_error(c->resp, 404, "not_found", "no such schedule", NULL);
    c->resp->status = 200;
    c->resp->content_type = "application/json";
    if (enabled)
        eng_orchestrator_notify(c->api->orch);
    return ENG_HTTPD_DONE;
}

int eng_api_sync_schedule_pause(struct eng_api_ctx *c)
{
    return sched_set_enabled(c, 0);
}

int eng_api_sync_schedule_resume(struct eng_api_ctx *c)
{
    return sched_set_enabled(c, 1);
}

int eng_api_sync_schedule_delete(struct eng_api_ctx *c)
{
    long long v = sched_id(c);
    if (v < 1)
        return eng_api_error(c->resp, 404, "not_found", "no such schedule", NULL);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_err err = {0};
    int rc = eng_schedules_delete(st, c->tenant, v, &err);
    if (rc < 0)
        return sched_internal(c, &err);
    if (rc == 0)
        return eng_api_error(c->resp, 404, "not_found", "no such schedule", NULL);
    c->resp->status = 204;
    return ENG_HTTPD_DONE;
}
