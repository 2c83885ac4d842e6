/*
 * api_failures.c - the failures routes: GET /api/sync/failures (the open failures), GET
 * /api/sync/failures/{id} (one failure with its input and its cause in words) and POST
 * /api/sync/failures/{id}/test-case (a draft mapping test case made from a failure, written
 * nowhere). Rows come from data/sync_records.h, always for the calling tenant (another tenant's
 * id is 404); the cause comes from eng_api_cause. Drafting maps the failure's input with the
 * failure's mapping and the tenant's settings on a worker (flow/dryrun.h), then runs the draft
 * as `tallysync test` would (flow/maptest.h) to say whether it passes as drafted.
 * Owns: each job's argument. Must not: write a file or a row (the console saves a draft with
 * PUT /api/mappings/{name}/tests/{case}); show a secret (a failure holds none: connectors scrub
 * their messages, and input is the source record).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "adapt/store.h"
#include "data/sync_records.h"
#include "data/tenant_settings.h"
#include "flow/dryrun.h"
#include "flow/maptest.h"

#define FAIL_PAGE_DEFAULT 50
#define FAIL_PAGE_MAX     500
#define FAIL_CASE_MAX     64 /* a case name: [A-Za-z0-9_.-]{1,64} */

static int fail_internal(struct eng_api_ctx *c, const struct eng_err *err)
{
    return eng_api_store_failed(c->resp, "failures", err);
}

/* ",\"key\":" then text as JSON that the store checked (json_valid on insert), or null. */
static void fail_json_member(struct eng_buf *b, const char *key, const char *json)
{
    eng_buf_printf(b, ",\"%s\":", key);
    eng_buf_puts(b, json != NULL && json[0] != '\0' ? json : "null");
}

/* One failure as JSON; detail adds the record's input, output, the target id, resolution. */
static void fail_render(struct eng_buf *b, const struct eng_sync_record_row *row, int detail)
{
    const struct eng_sync_record *r = &row->rec;
    eng_buf_printf(b, "{\"id\":%lld", (long long)row->id);
    eng_api_json_member(b, ",\"runId\":", r->run_id);
    eng_api_json_member(b, ",\"flow\":", r->flow);
    eng_api_json_member(b, ",\"entity\":", r->source_entity);
    eng_api_json_member(b, ",\"sourceSystem\":", r->source_system);
    eng_api_json_member(b, ",\"sourceId\":", r->source_id);
    eng_api_json_member(b, ",\"targetSystem\":", r->target_system);
    eng_api_json_member(b, ",\"targetType\":", r->target_type);
    eng_api_json_member(b, ",\"outcome\":", r->outcome);
    eng_api_json_member(b, ",\"error\":", r->error);
    eng_api_json_member(b, ",\"code\":", r->code);
    eng_api_json_member(b, ",\"cause\":", eng_api_cause(r->code, r->error));
    eng_buf_printf(b, ",\"retryable\":%s",
                   r->retryable < 0 ? "null"
                   : r->retryable   ? "true"
                                    : "false");
    eng_buf_printf(b, ",\"attempts\":%lld", row->attempts);
    eng_api_json_member(b, ",\"nextRetryAt\":", row->next_retry_at);
    fail_json_member(b, "conflict", r->conflict);
    eng_api_json_member(b, ",\"createdAt\":", row->created_at);
    eng_api_json_member(b, ",\"updatedAt\":", row->updated_at);
    if (detail) {
        eng_api_json_member(b, ",\"targetId\":", r->target_id);
        eng_buf_printf(b, ",\"dryRun\":%s", r->dry_run ? "true" : "false");
        eng_api_json_member(b, ",\"resolvedAt\":", row->resolved_at);
        fail_json_member(b, "input", r->input);
        fail_json_member(b, "output", r->output);
    }
    eng_buf_putc(b, '}');
}

/* ---- GET /api/sync/failures ---- */

struct fail_list {
    struct eng_buf *b;
    int n;
};

static int fail_list_row(void *ud, const struct eng_sync_record_row *row)
{
    struct fail_list *l = ud;
    if (l->n++ > 0)
        eng_buf_putc(l->b, ',');
    fail_render(l->b, row, 0);
    return 0;
}

/* ?name= as a page parameter: an integer in [lo, hi], else -1 after answering 400. */
static int fail_int_param(struct eng_api_ctx *c, const char *name, long lo, long hi, long *v)
{
    const char *s = eng_httpd_query(c->req, name);
    if (s == NULL)
        return 0;
    char *end;
    long n = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || n < lo || n > hi) {
        char msg[96];
        if (hi == FAIL_PAGE_MAX)
            snprintf(msg, sizeof msg, "%s must be an integer from %ld to %ld", name, lo, hi);
        else
            snprintf(msg, sizeof msg, "%s must be a non-negative integer", name);
        eng_api_error(c->resp, 400, "invalid_parameter", msg, NULL);
        return -1;
    }
    *v = n;
    return 0;
}

int eng_api_sync_failures(struct eng_api_ctx *c)
{
    long limit = FAIL_PAGE_DEFAULT, offset = 0;
    if (fail_int_param(c, "limit", 1, FAIL_PAGE_MAX, &limit) != 0 ||
        fail_int_param(c, "offset", 0, 0x7fffffffL, &offset) != 0)
        return ENG_HTTPD_DONE;
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_sync_failures_query q = {.tenant = c->tenant,
                                        .entity = eng_httpd_query(c->req, "entity"),
                                        .flow = eng_httpd_query(c->req, "flow"),
                                        .run_id = eng_httpd_query(c->req, "runId"),
                                        .limit = limit,
                                        .offset = offset};
    struct eng_err err = {0};
    int64_t total = 0;
    struct eng_buf *b = &c->resp->body;
    struct fail_list l = {b, 0};
    eng_buf_puts(b, "{\"items\":[");
    int rc = eng_sync_records_failures_each(st, &q, fail_list_row, &l, &err);
    if (rc == 0)
        rc = eng_sync_records_failures_count(st, &q, &total, &err);
    if (rc != 0) {
        eng_buf_reset(b);
        return fail_internal(c, &err);
    }
    eng_buf_printf(b, "],\"total\":%lld,\"limit\":%ld,\"offset\":%ld}", (long long)total, limit,
                   offset);
    if (b->oom) {
        eng_buf_reset(b);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    return ENG_HTTPD_DONE;
}

/* ---- one failure ---- */

/* The {id} parameter: 1-18 digits, else 0 (no failure has it). */
static int64_t fail_id(const struct eng_api_ctx *c)
{
    char id[24];
    if (eng_api_param(c, 0, id, sizeof id) != 0 || id[0] == '\0' || strlen(id) > 18)
        return 0;
    int64_t v = 0;
    for (const char *p = id; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (*p - '0');
    }
    return v;
}

static int fail_not_found(struct eng_api_ctx *c)
{
    return eng_api_error(c->resp, 404, "not_found", "no such failure", NULL);
}

static int fail_detail_row(void *ud, const struct eng_sync_record_row *row)
{
    fail_render(ud, row, 1);
    return 0;
}

int eng_api_sync_failure(struct eng_api_ctx *c)
{
    int64_t id = fail_id(c);
    if (id <= 0)
        return fail_not_found(c);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_err err = {0};
    int rc = eng_sync_records_failure_get(st, c->tenant, id, fail_detail_row, &c->resp->body, &err);
    if (rc < 0) {
        eng_buf_reset(&c->resp->body);
        return fail_internal(c, &err);
    }
    if (rc == 0)
        return fail_not_found(c);
    return ENG_HTTPD_DONE;
}

/* ---- POST /api/sync/failures/{id}/test-case ---- */

struct draft_arg {
    char mapping[128];
    char case_name[FAIL_CASE_MAX + 1];
    char *input;         /* the failure's input (JSON text) */
    char *description;   /* the case's description */
    struct eng_buf conf; /* the tenant's transformer_config; empty: none stored */
};

static void draft_arg_free(void *p)
{
    struct draft_arg *d = p;
    if (d == NULL)
        return;
    free(d->input);
    free(d->description);
    eng_buf_free(&d->conf);
    free(d);
}

/* What the server thread reads of the failure for the draft (NULL fields: not there). */
struct draft_row {
    struct draft_arg *d;
    int ok;
};

/* "failure-" and the source id with every byte outside [A-Za-z0-9_.-] as '-', cut to 64. */
static void draft_case_name(char *out, const char *source_id)
{
    int n = snprintf(out, FAIL_CASE_MAX + 1, "failure-");
    for (const char *p = source_id != NULL ? source_id : ""; *p && n < FAIL_CASE_MAX; p++) {
        unsigned char ch = (unsigned char)*p;
        int keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
        out[n++] = keep ? (char)ch : '-';
    }
    out[n] = '\0';
}

static int draft_row(void *ud, const struct eng_sync_record_row *row)
{
    struct draft_row *dr = ud;
    struct draft_arg *d = dr->d;
    const struct eng_sync_record *r = &row->rec;
    snprintf(d->mapping, sizeof d->mapping, "%s", r->flow != NULL ? r->flow : "");
    draft_case_name(d->case_name, r->source_id);
    d->input = r->input != NULL ? strdup(r->input) : NULL;
    char desc[400];
    snprintf(desc, sizeof desc, "drafted from failure %lld (%.64s %.64s%s%.40s): edit expected",
             (long long)row->id, r->source_entity != NULL ? r->source_entity : "record",
             r->source_id != NULL ? r->source_id : "?", r->run_id != NULL ? ", run " : "",
             r->run_id != NULL ? r->run_id : "");
    d->description = strdup(desc);
    dr->ok = d->description != NULL && (r->input == NULL || d->input != NULL);
    return 0;
}

/* The mapping's error without dry run's "record 1 (id X): " prefix: the text the mapping
 * raised (or its end), first line only - which the case's expected_error must be part of. */
static void draft_error_text(const char *line, size_t len, const char **s, size_t *n)
{
    static const char head[] = "record 1";
    *s = line, *n = len;
    if (len < sizeof head || strncmp(line, head, sizeof head - 1) != 0)
        return;
    const char *rest = line + sizeof head - 1;
    const char *end = line + len;
    const char *cut = NULL;
    if (rest + 2 <= end && rest[0] == ':' && rest[1] == ' ')
        cut = rest + 2;
    else if (rest + 5 <= end && strncmp(rest, " (id ", 5) == 0) {
        for (const char *p = rest + 5; p + 3 <= end; p++)
            if (p[0] == ')' && p[1] == ':' && p[2] == ' ') {
                cut = p + 3;
                break;
            }
    }
    if (cut != NULL && cut < end)
        *s = cut, *n = (size_t)(end - cut);
}

static void draft_job_run(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    (void)st;
    struct draft_arg *d = j->arg;
    struct eng_buf out, errors;
    eng_buf_init(&out);
    eng_buf_init(&errors);
    int format = ENG_DRYRUN_SINGLE;
    struct eng_dryrun_limits lim = {.max_records = 1};
    const char *conf = d->conf.len > 0 ? d->conf.data : NULL;
    int rc = eng_dryrun_execute(vm, d->mapping, d->input, strlen(d->input), "the failure's input",
                                conf, d->conf.len, &out, &errors, NULL, &format, 0, &lim);
    const char *line = errors.data != NULL ? errors.data : "";
    size_t ll = strcspn(line, "\n");
    int refused = rc == ENG_ESCRIPT && strncmp(line, "record 1", 8) == 0;
    if (rc != 0 && !refused) {
        char msg[480];
        snprintf(msg, sizeof msg, "the mapping could not run on the failure's input: %.*s",
                 (int)(ll < 400 ? ll : 400), ll > 0 ? line : "no reason given");
        eng_api_job_fail(j, 422, "mapping_failed", msg);
        eng_buf_free(&out);
        eng_buf_free(&errors);
        return;
    }
    /* the case, as a file of mappings/tests/NAME/ holds it (lib/mapping_test.lua) */
    struct eng_buf cs;
    eng_buf_init(&cs);
    eng_buf_puts(&cs, "{\"description\":");
    eng_buf_json_str(&cs, d->description, strlen(d->description));
    eng_buf_puts(&cs, ",\"input\":");
    eng_buf_puts(&cs, d->input);
    if (conf != NULL) {
        eng_buf_puts(&cs, ",\"settings\":");
        eng_buf_append(&cs, d->conf.data, d->conf.len);
    }
    if (refused) {
        const char *s;
        size_t n;
        draft_error_text(line, ll, &s, &n);
        eng_buf_puts(&cs, ",\"expected_error\":");
        eng_buf_json_str(&cs, s, n);
    } else {
        eng_buf_puts(&cs, ",\"expected\":");
        eng_buf_append(&cs, out.data, out.len);
    }
    eng_buf_putc(&cs, '}');
    eng_buf_free(&out);
    eng_buf_free(&errors);
    if (cs.oom) {
        eng_buf_free(&cs);
        eng_api_job_fail(j, 500, "internal", "out of memory");
        return;
    }
    /* the draft as `tallysync test` runs it: it should pass as drafted (it states what the
     * mapping does now); the person then edits expected to what it should do */
    char *report = NULL;
    int passes = eng_maptest_case(vm, d->mapping, cs.data, cs.len, 0, &report);
    struct eng_buf *b = &j->body;
    eng_buf_puts(b, "{\"mapping\":");
    eng_buf_json_str(b, d->mapping, strlen(d->mapping));
    eng_buf_puts(b, ",\"case\":");
    eng_buf_json_str(b, d->case_name, strlen(d->case_name));
    eng_buf_printf(b, ",\"expects\":\"%s\"", refused ? "error" : "document");
    eng_buf_printf(b, ",\"passesNow\":%s", passes ? "true" : "false");
    if (!passes && report != NULL) {
        eng_buf_puts(b, ",\"report\":");
        eng_buf_json_str(b, report, strlen(report));
    }
    eng_buf_puts(b, ",\"body\":");
    eng_buf_append(b, cs.data, cs.len);
    eng_buf_putc(b, '}');
    free(report);
    eng_buf_free(&cs);
    j->status = 200;
}

int eng_api_sync_failure_test_case(struct eng_api_ctx *c)
{
    struct eng_api_job *j = eng_api_job_resumed(c);
    if (j != NULL)
        return eng_api_job_finish(c, j);
    int64_t id = fail_id(c);
    if (id <= 0)
        return fail_not_found(c);
    const char *body;
    struct eng_store *st = eng_api_store_body(c, 1, &body);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct draft_arg *d = calloc(1, sizeof *d);
    if (d == NULL)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    eng_buf_init(&d->conf);
    struct draft_row dr = {d, 0};
    struct eng_err err = {0};
    int rc = eng_sync_records_failure_get(st, c->tenant, id, draft_row, &dr, &err);
    if (rc == 1 && !dr.ok)
        rc = eng_err_set(&err, ENG_ENOMEM, "out of memory");
    if (rc == 1)
        rc = eng_tenant_settings_get(st, c->tenant, "transformer_config", &d->conf, NULL, &err);
    if (rc < 0) {
        draft_arg_free(d);
        return fail_internal(c, &err);
    }
    if (rc == 0 && d->mapping[0] == '\0') {
        draft_arg_free(d);
        return fail_not_found(c);
    }
    if (d->input == NULL) {
        draft_arg_free(d);
        return eng_api_error(c->resp, 422, "no_input",
                             "this failure kept no input record (it was recorded before failures "
                             "kept their input), so no test case can be drafted from it; retry it, "
                             "and draft from its next failure",
                             NULL);
    }
    if (!eng_api_id_ok(d->mapping, strlen(d->mapping)) ||
        !eng_api_published(c, "mappings", d->mapping)) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "the failure's mapping '%.64s' is not loaded (mappings/%.64s.lua)", d->mapping,
                 d->mapping);
        draft_arg_free(d);
        return eng_api_error(c->resp, 409, "mapping_not_loaded", msg, NULL);
    }
    const struct eng_api_job_opts o = {
        .run = draft_job_run, .flags = ENG_API_JOB_NO_STORE, .arg = d, .arg_free = draft_arg_free};
    return eng_api_job_start(c, &o);
}
