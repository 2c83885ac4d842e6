/*
 * api_mappings.c - POST /api/mappings/{name}/dry-run: the mapping runs on a worker with the
 * hot-reloaded sources while the connection waits suspended (no server thread is held). The
 * worker's VM writes nothing meanwhile (flow/dryrun.h); at most DRY_RUN_MAX_RECORDS records
 * (413 too_many_records otherwise, counted before anything is mapped) and ENG_DRYRUN_MAX_ERRORS
 * error lines per answer. The body is split record by record (no whole-input Lua table) and
 * each document is written into the answer as it is made.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "flow/dryrun.h"
#include "data/tenant_settings.h"

/* A dry run's own state (eng_api_job.arg). */
struct dryrun_arg {
    char mapping[72];
    struct eng_buf config; /* the tenant's settings.transformer_config (empty: defaults) */
    unsigned flags;        /* ?explain=true: ENG_DRYRUN_EXPLAIN | ENG_DRYRUN_EXPLAIN_JSON */
};

static void dryrun_arg_free(void *p)
{
    struct dryrun_arg *d = p;
    if (d != NULL)
        eng_buf_free(&d->config);
    free(d);
}

/* The documents written so far (j->body, in the input's layout) as one JSON array's text. */
static void dryrun_documents(struct eng_buf *to, const struct eng_buf *body, int format)
{
    const char *p = body->data != NULL ? body->data : "";
    size_t n = body->len;
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == ' '))
        n--;
    if (format == ENG_DRYRUN_ARRAY && n > 0) { /* "[\n doc,\n doc\n]" already */
        eng_buf_append(to, p, n);
        return;
    }
    /* NDJSON: one compact document a line (a string's newline is escaped); single: one */
    eng_buf_putc(to, '[');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n' && format == ENG_DRYRUN_NDJSON)
            eng_buf_putc(to, ',');
        else
            eng_buf_putc(to, p[i]);
    }
    eng_buf_putc(to, ']');
}

/* On the worker: map the body, each document into the answer as it is made. Every record
 * mapped: 200 with the output. Some failed: 422 mapping_failed whose details hold errors (one
 * line per failing record, at most ENG_DRYRUN_MAX_ERRORS and the line saying where it stopped),
 * failed (their numbers) and documents (the others' outputs, in input order). The input as a
 * whole unreadable: 400 malformed_json; too many records: 413 too_many_records. */
static void dryrun_job_run(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    (void)st;
    const struct dryrun_arg *d = j->arg;
    size_t len;
    const char *body = eng_httpd_body(j->req, &len);
    struct eng_buf errors, failed;
    eng_buf_init(&errors);
    eng_buf_init(&failed);
    int format = ENG_DRYRUN_SINGLE;
    struct eng_dryrun_limits lim = {.max_records =
                                        j->cfg != NULL ? j->cfg->dry_run_max_records : 0};
    int rc = eng_dryrun_execute(vm, d->mapping, body, len, "request body",
                                d->config.len > 0 ? d->config.data : NULL, d->config.len, &j->body,
                                &errors, &failed, &format, d->flags, &lim);
    if (rc == 0) {
        j->status = 200;
        j->content_type = format == ENG_DRYRUN_NDJSON ? "application/x-ndjson" : "application/json";
        eng_buf_free(&errors);
        eng_buf_free(&failed);
        return;
    }
    eng_buf_puts(&j->details, "{\"errors\":[");
    int n = 0;
    char first[512] = "";
    for (char *line = errors.data; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        size_t ll = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (n == 0)
            snprintf(first, sizeof first, "%.*s", (int)(ll < 500 ? ll : 500), line);
        eng_buf_puts(&j->details, n++ ? "," : "");
        eng_buf_json_str(&j->details, line, ll);
        line = nl != NULL ? nl + 1 : NULL;
    }
    eng_buf_puts(&j->details, "]");
    if (rc == ENG_ESCRIPT && lim.records > 0) { /* records failed, the others mapped */
        eng_buf_puts(&j->details, ",\"failed\":[");
        eng_buf_append(&j->details, failed.data != NULL ? failed.data : "", failed.len);
        eng_buf_puts(&j->details, "],\"documents\":");
        dryrun_documents(&j->details, &j->body, format);
    }
    eng_buf_puts(&j->details, "}");
    eng_buf_reset(&j->body);
    if (lim.too_many)
        eng_api_job_fail(j, 413, "too_many_records", first);
    else if (rc == ENG_EINVAL)
        eng_api_job_fail(j, 400, "malformed_json", first);
    else
        eng_api_job_fail(j, 422, "mapping_failed", first[0] ? first : "the mapping failed");
    eng_buf_free(&errors);
    eng_buf_free(&failed);
}

int eng_api_dry_run(struct eng_api_ctx *c)
{
    struct eng_api_job *j = eng_api_job_resumed(c);
    if (j != NULL) /* resumed: the worker is done */
        return eng_api_job_finish(c, j);

    char name[72];
    int ok = eng_api_param(c, 0, name, sizeof name) == 0;
    for (const char *p = name; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '_' || *p == '-';
    if (!ok || !eng_api_published(c, "mappings", name)) {
        char msg[128];
        snprintf(msg, sizeof msg, "no mapping named '%.*s'",
                 (int)(c->params[0].n < 64 ? c->params[0].n : 64), c->params[0].s);
        return eng_api_error(c->resp, 404, "not_found", msg, NULL);
    }

    /* The tenant's transformer settings, read here (a local query) so the worker only maps. */
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    struct eng_buf config;
    eng_buf_init(&config);
    struct eng_err err = {0};
    int rc = eng_tenant_settings_get(st, c->tenant, "transformer_config", &config, NULL, &err);
    if (rc < 0) {
        eng_buf_free(&config);
        return eng_api_error(c->resp, 503, "unavailable", "cannot read the tenant's settings",
                             NULL);
    }

    struct dryrun_arg *d = calloc(1, sizeof *d);
    if (d == NULL) {
        eng_buf_free(&config);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    const char *explain = eng_httpd_query(c->req, "explain");
    if (explain != NULL && (strcmp(explain, "true") == 0 || strcmp(explain, "1") == 0))
        d->flags = ENG_DRYRUN_EXPLAIN | ENG_DRYRUN_EXPLAIN_JSON;
    snprintf(d->mapping, sizeof d->mapping, "%s", name);
    d->config = config;
    const struct eng_api_job_opts o = {.run = dryrun_job_run,
                                       .flags = ENG_API_JOB_NO_STORE,
                                       .arg = d,
                                       .arg_free = dryrun_arg_free};
    return eng_api_job_start(c, &o);
}
