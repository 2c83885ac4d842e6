/*
 * api_mappings_impact.c - the impact of an edited mapping before it is published (POST
 * /api/mappings/{name}/impact: its data tests, and the published and proposed versions over the
 * calling tenant's last source snapshots, compared field by field; flow/mapedit.h), and those
 * snapshots themselves (GET /api/mappings/{name}/records, data/record_snapshots.h).
 * Must not: read another tenant's snapshots (every read is by c->tenant / the job's tenant);
 * write anything (the runs are read-only; a candidate VM has no store).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/clock.h"
#include "data/record_snapshots.h"
#include "flow/mapedit.h"
#include "lua/scripts.h"

/* ---- GET /api/mappings/{name}/records?limit=20 ---- */

static int records_row(void *ud, const struct eng_record_snapshot_row *row)
{
    struct eng_buf *b = ud;
    if (b->len > 0)
        eng_buf_putc(b, ',');
    eng_api_json_member(b, "{\"sourceId\":", row->s.source_id);
    eng_api_json_member(b, ",\"updatedAt\":", row->updated_at);
    eng_api_json_member(b, ",\"sourceUpdatedAt\":", row->s.source_updated_at);
    eng_api_json_member(b, ",\"runId\":", row->s.run_id);
    eng_buf_puts(b, ",\"record\":");
    eng_buf_puts(b, row->s.record != NULL ? row->s.record : "null"); /* JSON the engine wrote */
    eng_buf_putc(b, '}');
    return b->oom;
}

/* ?limit=N in [1, max], default def: 0, or -1 after answering 400. */
static int limit_param(struct eng_api_ctx *c, long long def, long long max, long long *out)
{
    const char *q = eng_httpd_query(c->req, "limit");
    *out = def;
    if (q == NULL)
        return 0;
    char *end = NULL;
    long long v = strtoll(q, &end, 10);
    if (*q == '\0' || end == q || *end != '\0' || v < 1 || v > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "limit must be an integer from 1 to %lld", max);
        eng_api_error(c->resp, 400, "invalid_query", msg, NULL);
        return -1;
    }
    *out = v;
    return 0;
}

int eng_api_mapping_records(struct eng_api_ctx *c)
{
    char name[72];
    struct eng_scripts_info info;
    if (eng_api_mapping_param(c, name, &info) != 0)
        return ENG_HTTPD_DONE;
    free(info.error);
    long long limit = 0;
    if (limit_param(c, 20, ENG_MAPEDIT_MAX_IMPACT, &limit) != 0)
        return ENG_HTTPD_DONE;
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_buf items;
    eng_buf_init(&items);
    struct eng_err err = {0};
    int rc = eng_record_snapshots_each(st, c->tenant, name, limit, records_row, &items, &err);
    if (rc != 0) {
        eng_buf_free(&items);
        return eng_api_store_failed(c->resp, "reading record snapshots", &err);
    }
    struct eng_buf *b = &c->resp->body;
    eng_buf_reset(b);
    eng_buf_puts(b, "{\"items\":[");
    if (items.len > 0)
        eng_buf_append(b, items.data, items.len);
    eng_buf_puts(b, "]}");
    int oom = items.oom || b->oom;
    eng_buf_free(&items);
    if (oom)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    c->resp->status = 200;
    c->resp->content_type = "application/json";
    return ENG_HTTPD_DONE;
}

/* ---- POST /api/mappings/{name}/impact ---- */

struct impact_arg {
    char name[72];
    struct eng_scripts *reg;
    char *text;
    size_t len;
    long long limit;
};

static void impact_arg_free(void *p)
{
    struct impact_arg *a = p;
    if (a != NULL)
        free(a->text);
    free(a);
}

static void impact_run(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    struct impact_arg *a = j->arg;
    long long deadline = eng_now_ms() + ENG_MAPEDIT_WALL_MS;
    struct eng_buf config;
    eng_buf_init(&config);
    if (eng_api_mapping_config(j, st, &config) != 0) {
        eng_buf_free(&config);
        return;
    }
    struct eng_mapedit_run r;
    struct eng_mapedit_loaderr le;
    struct eng_err err = {0};
    int rc = eng_mapedit_open(a->reg, vm, a->name, a->text, a->len, &r, &le, &err);
    if (rc == ENG_ESCRIPT) {
        eng_api_job_load_error(j, &le);
        eng_buf_free(&config);
        return;
    }
    if (rc != 0) {
        eng_api_job_fail(j, 500, "internal", err.msg);
        eng_buf_free(&config);
        return;
    }
    int failed = 0;
    eng_buf_puts(&j->body, "{\"tests\":");
    rc = eng_mapedit_tests(r.vm, j->cfg->mappings_dir, a->name, deadline, &j->body, &failed, &err);
    eng_buf_puts(&j->body, ",\"records\":");
    struct eng_mapedit_impact o = {.tenant = j->tenant,
                                   .name = a->name,
                                   .config = config.len > 0 ? config.data : NULL,
                                   .limit = a->limit,
                                   .deadline_ms = deadline};
    if (rc == 0)
        rc = eng_mapedit_impact(vm, r.vm, st, &o, &j->body, &err);
    eng_buf_putc(&j->body, '}');
    eng_mapedit_close(&r);
    eng_buf_free(&config);
    if (rc == ENG_EINVAL) {
        snprintf(j->field, sizeof j->field, "transformer_config");
        eng_api_job_fail(j, 422, "invalid_field", err.msg);
    } else if (rc != 0) {
        eng_api_job_fail(j, rc == ENG_EBUSY ? 503 : 500,
                         rc == ENG_EBUSY ? "unavailable" : "internal",
                         "the impact could not be computed (see the log)");
    } else {
        j->status = 200;
    }
}

int eng_api_mapping_impact(struct eng_api_ctx *c)
{
    struct eng_api_job *j = eng_api_job_resumed(c);
    if (j != NULL)
        return eng_api_job_finish(c, j);
    char name[72];
    struct eng_scripts_info info;
    if (eng_api_mapping_param(c, name, &info) != 0)
        return ENG_HTTPD_DONE;
    free(info.error);
    if (!info.published)
        return eng_api_error(c->resp, 409, "not_published",
                             "this mapping has no published version to compare with", NULL);
    const char *body = NULL;
    static const char *const keys[] = {"source", "limit", NULL};
    if (eng_api_store_body(c, 0, &body) == NULL || eng_api_mapping_keys(c, body, keys) != 0)
        return ENG_HTTPD_DONE;
    struct impact_arg *a = calloc(1, sizeof *a);
    if (a == NULL)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    snprintf(a->name, sizeof a->name, "%s", name);
    a->reg = c->api->scripts;
    a->limit = c->api->cfg->impact_records > 0 ? c->api->cfg->impact_records : 200;
    if (eng_api_mapping_source_field(c, body, 1, &a->text, &a->len) != 0) {
        impact_arg_free(a);
        return ENG_HTTPD_DONE;
    }
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_api_json_query(eng_api_store(c),
                                "SELECT json_type(?1, '$.limit'), json_extract(?1, '$.limit')",
                                body, &s, &err);
    const char *type = rc == ENG_STORE_ROW ? eng_store_column_text(s, 0, NULL) : NULL;
    if (type != NULL && strcmp(type, "null") != 0) {
        long long v = strcmp(type, "integer") == 0 ? eng_store_column_int64(s, 1) : 0;
        if (v < 1 || v > ENG_MAPEDIT_MAX_IMPACT) {
            eng_store_finalize(s);
            impact_arg_free(a);
            return eng_api_field_error(c->resp, 422, "limit",
                                       "must be an integer from 1 to 1000 (the snapshots to map)");
        }
        a->limit = v;
    }
    eng_store_finalize(s);
    const struct eng_api_job_opts o = {.run = impact_run, .arg = a, .arg_free = impact_arg_free};
    return eng_api_job_start(c, &o);
}
