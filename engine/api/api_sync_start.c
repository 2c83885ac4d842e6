/*
 * api_sync_start.c - POST /api/sync/{entity}: validate the body on the server thread, then ask a
 * worker whether the tenant has usable credentials for both connectors of the flow
 * (eng_sync_check_connections); only then queue the run (202 + syncId). A request that could
 * only fail is refused at once: 422 missing_connection naming each platform and the tenant.
 * Must not: touch Lua (the check runs on a worker), or hold a server thread on a remote system.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/buf.h"
#include "base/log.h"
#include "adapt/store.h"
#include "base/policy.h"
#include "flow/sync.h"

/* A start's own state (eng_api_job.arg). */
struct start_task {
    struct eng_sync_env env;
    char tenant[65], entity[72], flow[72], mode[16];
    int dry;
    char filters[4096];
    /* filled on the worker */
    int rc;
    char msg[sizeof(struct eng_err){0}.msg];
    struct eng_sync_missing miss[2];
    int nmiss;
};

static int internal(struct eng_api_ctx *c, const struct eng_err *err)
{
    return eng_api_store_failed(c->resp, "sync", err);
}

/* ---- POST /api/sync/{entity} ---- */

static int filters_ok(struct eng_api_ctx *c, struct eng_store *st, const char *body)
{
    /* allowed filters and their JSON types */
    static const char sql[] =
        "SELECT key, type FROM json_each(json_extract(?, '$.filters')) WHERE NOT ("
        "(key = 'status' AND type IN ('text', 'array')) OR (key = 'ids' AND type = 'array') OR "
        "(key = 'per_page' AND type = 'integer' AND CASE WHEN type = 'integer' THEN CAST(value AS "
        "INTEGER) END BETWEEN 1 AND 100) OR "
        "(key = 'until' AND type = 'text')) LIMIT 1";
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_api_json_query(st, sql, body, &s, &err);
    if (rc == ENG_STORE_ROW) {
        char msg[200];
        const char *key = eng_store_column_text(s, 0, NULL);
        int n = (int)eng_buf_utf8_cut(key, strlen(key), 40);
        snprintf(msg, sizeof msg,
                 "filters.%.*s is not a filter this run understands (status: text or list, "
                 "ids: list, per_page: 1-100, until: date-time)",
                 n, key);
        eng_store_finalize(s);
        return eng_api_error(c->resp, 422, "invalid_field", msg, "{\"field\":\"filters\"}"), -1;
    }
    eng_store_finalize(s);
    if (rc < 0)
        return internal(c, &err), -1;
    return 0;
}

/* On the worker: can both connectors of the flow be reached with the stored credentials? */
static void start_job_run(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    struct start_task *k = j->arg;
    struct eng_err err = {0};
    k->rc =
        eng_sync_check_connections(vm, &k->env, st, k->tenant, k->flow, k->miss, &k->nmiss, &err);
    if (k->rc != 0)
        snprintf(k->msg, sizeof k->msg, "%s", err.msg);
    j->status = 200;
}

/* 422 missing_connection: details {"tenant", "missing": [{"platform", "role", "reason"}]}. */
static int start_missing(struct eng_api_ctx *c, const struct start_task *k)
{
    struct eng_buf msg, d;
    eng_buf_init(&msg);
    eng_buf_init(&d);
    eng_buf_puts(&d, "{\"tenant\":");
    eng_buf_json_str(&d, k->tenant, strlen(k->tenant));
    eng_buf_puts(&d, ",\"flow\":");
    eng_buf_json_str(&d, k->flow, strlen(k->flow));
    eng_buf_puts(&d, ",\"missing\":[");
    for (int i = 0; i < k->nmiss; i++) {
        const struct eng_sync_missing *m = &k->miss[i];
        int none = strcmp(m->reason, "no_credentials") == 0;
        eng_buf_printf(&msg, "%s%s (%s): %s", i ? "; " : "", m->platform, m->role,
                       none ? "no credentials stored"
                            : "the stored credentials cannot be opened with the configured "
                              "INTEGRATION_ENCRYPTION_KEY");
        eng_buf_printf(&d, "%s{\"platform\":", i ? "," : "");
        eng_buf_json_str(&d, m->platform, strlen(m->platform));
        eng_buf_printf(&d, ",\"role\":\"%s\",\"reason\":\"%s\"}", m->role, m->reason);
    }
    eng_buf_puts(&d, "]}");
    eng_buf_printf(&msg,
                   " for tenant '%s'; store them with POST /api/integrations/{platform}/"
                   "credentials, then start the sync again",
                   k->tenant);
    if (msg.oom || d.oom)
        eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    else
        eng_api_error(c->resp, 422, "missing_connection", msg.data, d.data);
    eng_buf_free(&msg);
    eng_buf_free(&d);
    return ENG_HTTPD_DONE;
}

/* Resumed after the worker's check: refuse, or queue the run. */
static int start_finish(struct eng_api_ctx *c, struct eng_api_job *j)
{
    struct start_task *k = j->arg;
    if (j->status >= 400) { /* the pool is stopping, or the worker has no store */
        eng_httpd_resp_header(c->resp, "Retry-After", "1");
        return eng_api_job_finish(c, j);
    }
    if (k->rc != 0) {
        /* the flow does not load (a rejected script, a broken connector): say which */
        eng_log_kv(ENG_LOG_WARN, k->tenant, NULL, "sync refused: the flow cannot start",
                   (const char *const[]){"flow", k->flow, "error", k->msg, NULL});
        return eng_api_error(c->resp, 422, "flow_unavailable", k->msg, "{\"field\":\"flow\"}");
    }
    if (k->nmiss > 0)
        return start_missing(c, k);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_sync_req r = {
        .tenant = k->tenant,
        .entity = k->entity,
        .flow = k->flow,
        .mode = k->mode,
        .dry_run = k->dry,
        .filters = k->filters,
        .origin = "api",
        .requested_by = c->admin ? "admin" : "token",
    };
    char id[ENG_SYNC_ID_SIZE], active[ENG_SYNC_ID_SIZE];
    struct eng_err err = {0};
    int rc = eng_sync_create_run(st, &r, id, active, &err);
    if (rc == ENG_EEXIST) {
        char details[128];
        snprintf(details, sizeof details, "{\"syncId\":\"%s\"}", active);
        return eng_api_error(c->resp, 409, "already_running", err.msg, details);
    }
    if (rc != 0)
        return internal(c, &err);
    eng_orchestrator_notify(c->api->orch);
    c->resp->status = 202;
    c->resp->content_type = "application/json";
    eng_buf_printf(&c->resp->body,
                   "{\"syncId\":\"%s\",\"state\":\"queued\",\"flow\":\"%s\",\"mode\":\"%s\","
                   "\"dryRun\":%s}",
                   id, k->flow, k->mode, k->dry ? "true" : "false");
    return ENG_HTTPD_DONE;
}

int eng_api_sync_start(struct eng_api_ctx *c)
{
    struct eng_api_job *j = eng_api_job_resumed(c);
    if (j != NULL) /* resumed: the worker is done */
        return start_finish(c, j);
    char entity[72];
    if (eng_api_param(c, 0, entity, sizeof entity) != 0 || !eng_api_id_ok(entity, strlen(entity)))
        return eng_api_error(c->resp, 400, "invalid_field",
                             "entity must be 1-64 letters, digits, '_', '-' or '.'",
                             "{\"field\":\"entity\"}");
    const char *body;
    struct eng_store *st = eng_api_store_body(c, 1, &body);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    static const char sql[] =
        "SELECT json_valid(?1), json_type(?1), json_type(?1, '$.mode'), json_extract(?1, "
        "'$.mode'), json_type(?1, '$.dryRun'), json_type(?1, '$.filters'), json(json_extract(?1, "
        "'$.filters')), json_type(?1, '$.flow'), json_extract(?1, '$.flow'), (SELECT key FROM "
        "json_each(?1) WHERE key NOT IN ('mode', 'dryRun', 'filters', 'flow') LIMIT 1)";
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_api_json_query(st, sql, body, &s, &err);
    if (rc != ENG_STORE_ROW) {
        eng_store_finalize(s);
        return internal(c, &err);
    }
#define COL(i)   eng_store_column_text(s, i, NULL)
#define IS(i, v) (COL(i) != NULL && strcmp(COL(i), v) == 0)
    const char *bad = NULL, *field = NULL;
    char extra[64] = "";
    if (eng_store_column_int64(s, 0) != 1)
        bad = "the body is not valid JSON", field = "body";
    else if (!IS(1, "object"))
        bad = "the body must be a JSON object", field = "body";
    else if (COL(9) != NULL)
        snprintf(extra, sizeof extra, "%s", COL(9)), field = extra,
                                                     bad = "unknown field (mode, dryRun, "
                                                           "filters and flow are accepted)";
    else if (COL(2) != NULL && !(IS(2, "text") && (IS(3, "full") || IS(3, "incremental"))))
        bad = "mode must be \"full\" or \"incremental\"", field = "mode";
    else if (COL(4) != NULL && !IS(4, "true") && !IS(4, "false"))
        bad = "dryRun must be true or false", field = "dryRun";
    else if (COL(5) != NULL && !IS(5, "object"))
        bad = "filters must be a JSON object", field = "filters";
    else if (COL(7) != NULL && !IS(7, "text"))
        bad = "flow must be a mapping name", field = "flow";
    char mode[16], flow[72] = "", filters[4096] = "{}";
    snprintf(mode, sizeof mode, "%s", COL(2) != NULL ? COL(3) : "incremental");
    int dry = IS(4, "true");
    if (bad == NULL && COL(5) != NULL) {
        if (strlen(COL(6)) >= sizeof filters)
            bad = "filters is too large", field = "filters";
        else
            snprintf(filters, sizeof filters, "%s", COL(6));
    }
    if (bad == NULL && COL(7) != NULL) {
        const char *f = COL(8);
        int ok = strlen(f) > 0 && strlen(f) < 64;
        for (const char *p = f; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                 *p == '_' || *p == '-';
        if (!ok)
            bad = "flow must be a mapping name (letters, digits, _ and -)", field = "flow";
        else
            snprintf(flow, sizeof flow, "%s", f);
    }
#undef IS
#undef COL
    eng_store_finalize(s);
    if (bad != NULL)
        return eng_api_field_error(c->resp, 422, field, bad);
    if (filters_ok(c, st, body) != 0)
        return ENG_HTTPD_DONE;
    if (flow[0] == '\0' &&
        eng_sync_default_flow(c->api->policy, NULL, entity, flow, sizeof flow) != 0) {
        char msg[400], known[200];
        eng_policy_default_entities(c->api->policy, known, sizeof known);
        snprintf(msg, sizeof msg,
                 "entity: '%.64s' is not an entity with a default flow (%s); name a mapping in "
                 "'flow'",
                 entity, known);
        return eng_api_error(c->resp, 404, "unknown_entity", msg, "{\"field\":\"entity\"}");
    }
    if (!eng_api_published(c, "mappings", flow)) {
        char msg[160];
        snprintf(msg, sizeof msg, "flow: no mapping named '%s'", flow);
        return eng_api_error(c->resp, 404, "unknown_flow", msg, "{\"field\":\"flow\"}");
    }

    struct start_task *k = calloc(1, sizeof *k);
    if (k == NULL)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    k->env.cfg = c->api->cfg;
    k->env.keys = c->api->keys;
    snprintf(k->tenant, sizeof k->tenant, "%s", c->tenant);
    snprintf(k->entity, sizeof k->entity, "%s", entity);
    snprintf(k->flow, sizeof k->flow, "%s", flow);
    snprintf(k->mode, sizeof k->mode, "%s", mode);
    snprintf(k->filters, sizeof k->filters, "%s", filters);
    k->dry = dry;
    const struct eng_api_job_opts o = {.run = start_job_run, .arg = k, .arg_free = free};
    return eng_api_job_start(c, &o);
}
