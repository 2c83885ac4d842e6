/*
 * api_sync_records.c - GET /api/sync/status/{syncId}/records: what a run did to each record,
 * with the document it wrote (or, in a dry run, would write) and the field differences against
 * what the target held. Paged, filterable by outcome, tenant-scoped (another tenant's run is
 * 404). Built by SQLite's JSON functions from the stored rows. Local queries only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/log.h"
#include "adapt/store.h"
#include "flow/sync.h"

#define RECORDS_PAGE_DEFAULT 50
#define RECORDS_PAGE_MAX     500

static const char *const outcomes[] = {"created", "updated",  "unchanged", "skipped",
                                       "failed",  "conflict", NULL};

/* ?outcome=a[,b...]: each a known outcome; 0, or -1 after answering 400. */
static int outcome_ok(struct eng_api_ctx *c, const char *v)
{
    if (v == NULL)
        return 0;
    size_t n = strlen(v);
    int ok = n > 0 && n < 128;
    for (const char *p = v; ok && *p;) {
        size_t k = strcspn(p, ",");
        int known = 0;
        for (int i = 0; outcomes[i] != NULL; i++)
            known |= strlen(outcomes[i]) == k && strncmp(p, outcomes[i], k) == 0;
        ok = known;
        p += k;
        if (*p == ',')
            p++, ok = ok && *p != '\0';
    }
    if (!ok)
        eng_api_error(c->resp, 400, "invalid_parameter",
                      "outcome must be created, updated, unchanged, skipped, failed or conflict "
                      "(several: comma-separated)",
                      NULL);
    return ok ? 0 : -1;
}

static int long_param(struct eng_api_ctx *c, const char *name, long lo, long hi, long *out)
{
    const char *v = eng_httpd_query(c->req, name);
    if (v == NULL)
        return 0;
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x < lo || x > hi) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be an integer from %ld to %ld", name, lo, hi);
        return eng_api_error(c->resp, 400, "invalid_parameter", msg, NULL), -1;
    }
    *out = x;
    return 0;
}

int eng_api_sync_records(struct eng_api_ctx *c)
{
    char id[ENG_SYNC_ID_SIZE];
    if (eng_api_param(c, 0, id, sizeof id) != 0)
        return eng_api_error(c->resp, 404, "not_found", "no such sync run", NULL);
    long limit = RECORDS_PAGE_DEFAULT, offset = 0;
    const char *outcome = eng_httpd_query(c->req, "outcome");
    if (long_param(c, "limit", 1, RECORDS_PAGE_MAX, &limit) != 0 ||
        long_param(c, "offset", 0, 1L << 30, &offset) != 0 || outcome_ok(c, outcome) != 0)
        return ENG_HTTPD_DONE;
#define REC_WHERE                                                                                  \
    "run_id = ?2 AND tenant_id = ?1 AND (?3 IS NULL OR instr(',' || ?3 || ',', ',' || outcome "    \
    "|| ',') > 0)"
    static const char sql[] =
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM sync_runs WHERE tenant_id = ?1 AND id = ?2) THEN "
        "json_object('syncId', ?2, 'items', (SELECT json_group_array(json(j)) FROM (SELECT "
        "json_object('id', id, 'outcome', outcome, 'dryRun', json(CASE dry_run WHEN 1 THEN 'true' "
        "ELSE 'false' END), 'source', json_object('system', source_system, 'entity', "
        "source_entity, 'id', source_id), 'target', json_object('system', target_system, "
        "'entity', target_type, 'id', target_id), 'document', json(output), 'differences', "
        "json(diff), 'conflict', json(conflict), 'error', error, 'code', error_code, "
        "'retryable', json(CASE retryable WHEN 1 THEN 'true' WHEN 0 THEN 'false' ELSE 'null' "
        "END), 'attempts', attempts, 'resolvedAt', resolved_at, 'currency', currency, "
        "'sourceTotalMinor', source_total_minor, 'targetTotalMinor', target_total_minor, "
        "'createdAt', created_at, 'updatedAt', updated_at) AS j FROM sync_records WHERE " REC_WHERE
        " ORDER BY id LIMIT ?4 OFFSET ?5)), 'total', (SELECT count(*) FROM sync_records "
        "WHERE " REC_WHERE "), 'limit', ?4, 'offset', ?5) END";
#undef REC_WHERE
    struct eng_err err = {0};
    const char *b[] = {c->tenant, id, outcome};
    const long long page[] = {limit, offset};
    int rc = eng_api_json_answer(c, sql, b, 3, page, 2, &err);
    if (rc < 0 && rc != ENG_ENOTFOUND)
        return eng_api_store_failed(c->resp, "sync records", &err);
    if (rc == ENG_ENOTFOUND)
        return eng_api_error(c->resp, 404, "not_found", "no such sync run", NULL);
    return ENG_HTTPD_DONE;
}
