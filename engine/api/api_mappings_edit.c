/*
 * api_mappings_edit.c - the console's mapping routes: the list, a mapping's source (read; write
 * by the administrator: validated, its data tests passed, written atomically, published by the
 * registry's scan before the answer), the preview of a record with an unsaved text and its
 * lineage, the data test cases (list, write by the administrator, run). Routes that run Lua
 * finish on a worker through one api_job (flow/mapedit.h); api/ never sees a VM's insides.
 * The impact and the snapshots: api_mappings_impact.c.
 * Must not: write anywhere but MAPPINGS_DIR/NAME.lua and MAPPINGS_DIR/tests/NAME/CASE.json for
 * the administrator; take a name that is not a checked id (no '/', no '.': no traversal).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapt/crypto.h"
#include "api/api.h"
#include "base/clock.h"
#include "base/dirlist.h"
#include "data/tenant_settings.h"
#include "flow/mapedit.h"
#include "lua/scripts.h"

/* One publish at a time: the version check, the gate, the write and the scan together. */
static pthread_mutex_t publish_mu = PTHREAD_MUTEX_INITIALIZER;

/* ---- shared by the mapping routes (api.h) ---- */

int eng_api_mapping_param(struct eng_api_ctx *c, char name[72], struct eng_scripts_info *info)
{
    int ok = eng_api_param(c, 0, name, 72) == 0 && name[0] != '\0' && strlen(name) <= 64;
    for (const char *p = name; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '_' || *p == '-';
    char logical[160];
    if (ok) {
        snprintf(logical, sizeof logical, "mappings/%s.lua", name);
        ok = eng_scripts_info(c->api->scripts, logical, info);
        if (!ok)
            free(info->error);
    }
    if (!ok) {
        memset(info, 0, sizeof *info);
        char msg[128];
        snprintf(msg, sizeof msg, "no mapping named '%.*s'",
                 (int)(c->params[0].n < 64 ? c->params[0].n : 64), c->params[0].s);
        eng_api_error(c->resp, 404, "not_found", msg, NULL);
        return -1;
    }
    return 0;
}

int eng_api_mapping_admin(struct eng_api_ctx *c)
{
    if (c->admin)
        return 0;
    eng_api_error(c->resp, 403, "forbidden",
                  "only the administrator may change mappings and their data tests (a tenant "
                  "token may preview, run the tests and see the impact)",
                  NULL);
    return -1;
}

void eng_api_loaderr_json(struct eng_buf *out, const struct eng_mapedit_loaderr *le)
{
    eng_api_json_member(out, "{\"file\":", le->file[0] ? le->file : NULL);
    if (le->line > 0)
        eng_buf_printf(out, ",\"line\":%d", le->line);
    else
        eng_buf_puts(out, ",\"line\":null");
    eng_api_json_member(out, ",\"message\":", le->message);
    eng_buf_putc(out, '}');
}

/* The error object of a rejected version: {"message","file","line"} (line null when none). */
static void error_json(struct eng_buf *out, const char *error)
{
    if (error == NULL) {
        eng_buf_puts(out, "null");
        return;
    }
    struct eng_mapedit_loaderr le;
    eng_mapedit_loaderr_from(error, &le);
    eng_api_loaderr_json(out, &le);
}

int eng_api_mapping_source_field(struct eng_api_ctx *c, const char *body, int required, char **text,
                                 size_t *len)
{
    *text = NULL;
    *len = 0;
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return -1;
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_api_json_query(
        st, "SELECT json_type(?1, '$.source'), json_extract(?1, '$.source')", body, &s, &err);
    if (rc < 0)
        return eng_api_store_failed(c->resp, "reading a mapping's source", &err), -1;
    const char *type = rc == ENG_STORE_ROW ? eng_store_column_text(s, 0, NULL) : NULL;
    if (type == NULL || strcmp(type, "null") == 0) {
        eng_store_finalize(s);
        if (required)
            return eng_api_field_error(c->resp, 422, "source", "required: the mapping's Lua text"),
                   -1;
        return 0;
    }
    if (strcmp(type, "text") != 0) {
        eng_store_finalize(s);
        return eng_api_field_error(c->resp, 422, "source", "must be a string (the Lua text)"), -1;
    }
    size_t n = 0;
    const char *v = eng_store_column_text(s, 1, &n);
    if (n > ENG_MAPEDIT_MAX_SOURCE) {
        eng_store_finalize(s);
        return eng_api_error(c->resp, 413, "too_large",
                             "a mapping's source is at most 256 KiB (262144 bytes)", NULL),
               -1;
    }
    *text = malloc(n + 1);
    if (*text == NULL) {
        eng_store_finalize(s);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL), -1;
    }
    memcpy(*text, v != NULL ? v : "", n);
    (*text)[n] = '\0';
    *len = n;
    eng_store_finalize(s);
    return 0;
}

int eng_api_mapping_keys(struct eng_api_ctx *c, const char *body, const char *const *known)
{
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return -1;
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_api_json_query(st, "SELECT key FROM json_each(?1)", body, &s, &err);
    if (rc < 0)
        return eng_api_store_failed(c->resp, "reading a request body", &err), -1;
    while (rc == ENG_STORE_ROW) {
        const char *k = eng_store_column_text(s, 0, NULL);
        int ok = 0;
        for (size_t i = 0; k != NULL && known[i] != NULL && !ok; i++)
            ok = strcmp(k, known[i]) == 0;
        if (!ok) {
            char msg[160], field[48];
            snprintf(field, sizeof field, "%s", k != NULL ? k : "");
            snprintf(msg, sizeof msg, "unknown member (this body has %s%s%s%s%s)", known[0],
                     known[1] ? ", " : "", known[1] ? known[1] : "",
                     known[1] && known[2] ? ", " : "", known[1] && known[2] ? known[2] : "");
            eng_store_finalize(s);
            return eng_api_field_error(c->resp, 422, field, msg), -1;
        }
        rc = eng_store_step(s, &err);
    }
    eng_store_finalize(s);
    if (rc < 0)
        return eng_api_store_failed(c->resp, "reading a request body", &err), -1;
    return 0;
}

/* The tenant's transformer_config into *config (empty: the defaults). 0, or the job's 503. */
int eng_api_mapping_config(struct eng_api_job *j, struct eng_store *st, struct eng_buf *config)
{
    struct eng_err err = {0};
    if (eng_tenant_settings_get(st, j->tenant, "transformer_config", config, NULL, &err) < 0) {
        eng_api_job_fail(j, 503, "unavailable", "cannot read the tenant's settings");
        return -1;
    }
    return 0;
}

/* ---- the route state ---- */

struct edit_arg {
    char name[72];
    char case_name[72];
    struct eng_scripts *reg;
    char *text; /* the unsaved source (NULL: the published one), or a case's JSON */
    size_t len;
    char base[72];
    int has_base;
    int published;
};

static void edit_arg_free(void *p)
{
    struct edit_arg *a = p;
    if (a != NULL)
        free(a->text);
    free(a);
}

static struct edit_arg *edit_arg_new(struct eng_api_ctx *c, const char *name)
{
    struct edit_arg *a = calloc(1, sizeof *a);
    if (a == NULL) {
        eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
        return NULL;
    }
    snprintf(a->name, sizeof a->name, "%s", name);
    a->reg = c->api->scripts;
    return a;
}

/* The request of a route that runs an optional unsaved text (preview, tests/run): the body's
 * members checked against keys (empty_ok: no body at all is fine), its `source` taken; without
 * one, the published version runs, so a mapping that has none is 409. The job's argument, or NULL
 * once an answer is in c->resp. */
static struct edit_arg *unsaved_text_arg(struct eng_api_ctx *c, const char *name, int published,
                                         const char *const *keys, int empty_ok)
{
    const char *body = NULL;
    if (eng_api_store_body(c, empty_ok, &body) == NULL || eng_api_mapping_keys(c, body, keys) != 0)
        return NULL;
    struct edit_arg *a = edit_arg_new(c, name);
    if (a == NULL)
        return NULL;
    if (eng_api_mapping_source_field(c, body, 0, &a->text, &a->len) != 0) {
        edit_arg_free(a);
        return NULL;
    }
    if (a->text == NULL && !published) {
        edit_arg_free(a);
        eng_api_error(c->resp, 409, "not_published",
                      "this mapping has no published version: send its text as source", NULL);
        return NULL;
    }
    return a;
}

static int start(struct eng_api_ctx *c, eng_api_job_fn run, struct edit_arg *a, unsigned flags)
{
    const struct eng_api_job_opts o = {
        .run = run, .flags = flags, .arg = a, .arg_free = edit_arg_free};
    return eng_api_job_start(c, &o);
}

/* A 422 load_error answer of the job. */
void eng_api_job_load_error(struct eng_api_job *j, const struct eng_mapedit_loaderr *le)
{
    eng_buf_reset(&j->details);
    eng_api_loaderr_json(&j->details, le);
    char msg[1300];
    if (le->line > 0)
        snprintf(msg, sizeof msg, "%s:%d: %s", le->file, le->line, le->message);
    else
        snprintf(msg, sizeof msg, "%s: %s", le->file, le->message);
    eng_api_job_fail(j, 422, "load_error", msg);
}

/* ---- GET /api/mappings ---- */

static void list_run(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    (void)st;
    struct edit_arg *a = j->arg;
    size_t n = 0;
    char **names = eng_scripts_list(a->reg, "mappings/", &n);
    struct eng_buf *b = &j->body;
    eng_buf_puts(b, "{\"items\":[");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        const char *logical = names[i];
        size_t ll = strlen(logical);
        if (ll < 14 || strcmp(logical + ll - 4, ".lua") != 0)
            continue;
        char name[72];
        snprintf(name, sizeof name, "%.*s", (int)(ll - 13 < 64 ? ll - 13 : 64), logical + 9);
        struct eng_scripts_info info;
        if (!eng_scripts_info(a->reg, logical, &info))
            continue;
        eng_buf_puts(b, first ? "{" : ",{");
        first = 0;
        eng_api_json_member(b, "\"name\":", name);
        eng_api_json_member(b, ",\"path\":", logical);
        /* source, target and defaultFor of the published version (nulls when none) */
        struct eng_buf d;
        eng_buf_init(&d);
        eng_mapedit_describe(vm, name, &d);
        if (d.len > 2 && !d.oom) {
            eng_buf_putc(b, ',');
            eng_buf_append(b, d.data + 1, d.len - 2); /* the members, without the braces */
        }
        eng_buf_free(&d);
        eng_buf_printf(b, ",\"status\":\"%s\"", info.error != NULL ? "rejected" : "loaded");
        eng_api_json_member(b, ",\"version\":", info.published ? info.sha : NULL);
        if (info.published)
            eng_buf_printf(b, ",\"generation\":%llu,\"loadedAt\":\"%s\"",
                           (unsigned long long)info.generation, info.loaded_at);
        eng_buf_puts(b, ",\"error\":");
        error_json(b, info.error);
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/tests/%s", j->cfg->mappings_dir, name);
        size_t nt = 0;
        char **cases = eng_dirlist(dir, ".json", &nt);
        eng_dirlist_free(cases, nt);
        eng_buf_printf(b, ",\"tests\":%zu}", nt);
        free(info.error);
    }
    eng_buf_puts(b, "]}");
    eng_dirlist_free(names, n);
    j->status = 200;
}

int eng_api_mappings_list(struct eng_api_ctx *c)
{
    struct eng_api_job *j = eng_api_job_resumed(c);
    if (j != NULL)
        return eng_api_job_finish(c, j);
    struct edit_arg *a = edit_arg_new(c, "");
    if (a == NULL)
        return ENG_HTTPD_DONE;
    return start(c, list_run, a, ENG_API_JOB_NO_STORE);
}

/* ---- GET /api/mappings/{name}/source ---- */

int eng_api_mapping_source_get(struct eng_api_ctx *c)
{
    char name[72];
    struct eng_scripts_info info;
    if (eng_api_mapping_param(c, name, &info) != 0)
        return ENG_HTTPD_DONE;
    char logical[160], path[4200];
    snprintf(logical, sizeof logical, "mappings/%s.lua", name);
    snprintf(path, sizeof path, "%s/%s.lua", c->api->cfg->mappings_dir, name);
    size_t len = 0;
    char *src = NULL;
    const char *is = "published";
    /* a rejected latest version: its text, which the error's line points into */
    if (info.error != NULL && (src = eng_mapedit_read(path, ENG_MAPEDIT_MAX_SOURCE, &len)) != NULL)
        is = "rejected";
    if (src == NULL)
        src = eng_scripts_source(c->api->scripts, logical, &len);
    if (src == NULL) { /* rejected, never published, and gone from the disk meanwhile */
        free(info.error);
        return eng_api_error(c->resp, 404, "not_found", "the mapping's file is gone", NULL);
    }
    struct eng_buf *b = &c->resp->body;
    eng_buf_reset(b);
    eng_api_json_member(b, "{\"name\":", name);
    eng_api_json_member(b, ",\"path\":", logical);
    eng_buf_puts(b, ",\"source\":");
    eng_buf_json_str(b, src, len);
    eng_api_json_member(b, ",\"version\":", info.published ? info.sha : NULL);
    eng_buf_printf(b, ",\"sourceIs\":\"%s\",\"status\":\"%s\",\"error\":", is,
                   info.error != NULL ? "rejected" : "loaded");
    error_json(b, info.error);
    eng_buf_putc(b, '}');
    free(src);
    free(info.error);
    if (b->oom)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    c->resp->status = 200;
    c->resp->content_type = "application/json";
    return ENG_HTTPD_DONE;
}

/* ---- PUT /api/mappings/{name}/source ---- */

static void sha_of(const char *text, size_t len, char out[65])
{
    unsigned char d[ENG_CRYPTO_SHA256_LEN];
    out[0] = '\0';
    if (eng_crypto_sha256(text, len, d, NULL) == 0)
        eng_crypto_hex_encode(d, sizeof d, out, 65, NULL);
}

static int version_conflict(struct eng_api_job *j, const struct edit_arg *a)
{
    char logical[160];
    snprintf(logical, sizeof logical, "mappings/%s.lua", a->name);
    struct eng_scripts_info info;
    eng_scripts_info(a->reg, logical, &info);
    free(info.error);
    if (!info.published || (a->has_base && strcmp(a->base, info.sha) == 0))
        return 0;
    char msg[256];
    snprintf(msg, sizeof msg,
             "the published version is %.12s..., not the baseVersion sent: reload the mapping "
             "and apply the change again",
             info.sha);
    eng_buf_reset(&j->details);
    eng_api_json_member(&j->details, "{\"version\":", info.sha);
    eng_buf_putc(&j->details, '}');
    eng_api_job_fail(j, 409, "version_conflict", msg);
    return -1;
}

static void publish_run(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    (void)st;
    struct edit_arg *a = j->arg;
    pthread_mutex_lock(&publish_mu);
    struct eng_mapedit_run r;
    struct eng_mapedit_loaderr le;
    struct eng_err err = {0};
    char logical[160], file[96], sha[65];
    snprintf(logical, sizeof logical, "mappings/%s.lua", a->name);
    snprintf(file, sizeof file, "%s.lua", a->name);
    if (version_conflict(j, a) != 0)
        goto out;
    int rc = eng_mapedit_open(a->reg, vm, a->name, a->text, a->len, &r, &le, &err);
    if (rc == ENG_ESCRIPT) {
        eng_api_job_load_error(j, &le);
        goto out;
    }
    if (rc != 0) {
        eng_api_job_fail(j, 500, "internal", err.msg);
        goto out;
    }
    /* the data tests, one result per case: the answer names each failing one */
    struct eng_buf tests;
    eng_buf_init(&tests);
    int failed = 0;
    eng_mapedit_tests(r.vm, j->cfg->mappings_dir, a->name, eng_now_ms() + ENG_MAPEDIT_WALL_MS,
                      &tests, &failed, &err);
    eng_mapedit_close(&r);
    if (failed > 0 || tests.oom) {
        eng_buf_reset(&j->details);
        eng_buf_append(&j->details, tests.data, tests.len);
        char msg[160];
        snprintf(msg, sizeof msg,
                 "%d data test%s of %s fail%s with this text: nothing was published", failed,
                 failed == 1 ? "" : "s", a->name, failed == 1 ? "s" : "");
        eng_api_job_fail(j, 422, "tests_failed", msg);
        eng_buf_free(&tests);
        goto out;
    }
    /* the registry's own gate, exactly as the scan will apply it (the tests within one budget,
     * the default_for claims) */
    if (eng_scripts_check(a->reg, logical, a->text, a->len, &err) != 0) {
        eng_mapedit_loaderr_from(err.msg, &le);
        if (strstr(err.msg, "data test") != NULL) {
            eng_buf_reset(&j->details);
            eng_buf_append(&j->details, tests.data, tests.len);
            eng_api_job_fail(j, 422, "tests_failed", err.msg);
        } else {
            if (le.file[0] == '\0')
                snprintf(le.file, sizeof le.file, "%s", logical);
            eng_api_job_load_error(j, &le);
        }
        eng_buf_free(&tests);
        goto out;
    }
    if (eng_mapedit_write(j->cfg->mappings_dir, file, a->text, a->len, 0, NULL, &err) != 0) {
        eng_buf_free(&tests);
        eng_api_job_fail(j, 500, "internal", "cannot write the mapping's file (see the log)");
        goto out;
    }
    /* publish now rather than at the watcher's next look: the answer names what is served */
    eng_scripts_scan(a->reg, NULL);
    sha_of(a->text, a->len, sha);
    struct eng_scripts_info info;
    eng_scripts_info(a->reg, logical, &info);
    int live = info.published && strcmp(info.sha, sha) == 0;
    eng_api_json_member(&j->body, "{\"name\":", a->name);
    eng_api_json_member(&j->body, ",\"version\":", sha);
    eng_buf_printf(&j->body, ",\"published\":%s", live ? "true" : "false");
    if (live)
        eng_buf_printf(&j->body, ",\"generation\":%llu", (unsigned long long)info.generation);
    eng_buf_puts(&j->body, ",\"error\":");
    error_json(&j->body, live ? NULL : info.error);
    eng_buf_puts(&j->body, ",\"tests\":");
    eng_buf_append(&j->body, tests.data, tests.len);
    eng_buf_putc(&j->body, '}');
    free(info.error);
    eng_buf_free(&tests);
    j->status = 200;
out:
    pthread_mutex_unlock(&publish_mu);
}

int eng_api_mapping_source_put(struct eng_api_ctx *c)
{
    struct eng_api_job *j = eng_api_job_resumed(c);
    if (j != NULL)
        return eng_api_job_finish(c, j);
    char name[72];
    struct eng_scripts_info info;
    if (eng_api_mapping_admin(c) != 0 || eng_api_mapping_param(c, name, &info) != 0)
        return ENG_HTTPD_DONE;
    free(info.error);
    const char *body = NULL;
    if (eng_api_store_body(c, 0, &body) == NULL)
        return ENG_HTTPD_DONE;
    static const char *const keys[] = {"source", "baseVersion", NULL};
    if (eng_api_mapping_keys(c, body, keys) != 0)
        return ENG_HTTPD_DONE;
    struct edit_arg *a = edit_arg_new(c, name);
    if (a == NULL)
        return ENG_HTTPD_DONE;
    if (eng_api_mapping_source_field(c, body, 1, &a->text, &a->len) != 0) {
        edit_arg_free(a);
        return ENG_HTTPD_DONE;
    }
    /* baseVersion: the version the edit started from (required once a version is published) */
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_api_json_query(eng_api_store(c),
                                "SELECT json_type(?1, '$.baseVersion'), "
                                "json_extract(?1, '$.baseVersion')",
                                body, &s, &err);
    const char *type = rc == ENG_STORE_ROW ? eng_store_column_text(s, 0, NULL) : NULL;
    if (type != NULL && strcmp(type, "text") == 0) {
        a->has_base = eng_store_column_copy(s, 1, a->base, sizeof a->base);
    } else if (type != NULL && strcmp(type, "null") != 0) {
        eng_store_finalize(s);
        edit_arg_free(a);
        return eng_api_field_error(c->resp, 422, "baseVersion",
                                   "must be a string (the version GET .../source answered)");
    }
    eng_store_finalize(s);
    if (info.published && !a->has_base) {
        edit_arg_free(a);
        return eng_api_field_error(c->resp, 422, "baseVersion",
                                   "required: the version GET .../source answered");
    }
    return start(c, publish_run, a, ENG_API_JOB_NO_STORE);
}

/* ---- POST /api/mappings/{name}/preview ---- */

static void preview_run(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    struct edit_arg *a = j->arg;
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
    } else if (rc != 0) {
        eng_api_job_fail(j, 500, "internal", err.msg);
    } else {
        size_t len = 0;
        const char *body = eng_httpd_body(j->req, &len);
        rc = eng_mapedit_preview(r.vm, a->name, j->tenant, body, len,
                                 config.len > 0 ? config.data : NULL, &err, &j->body);
        if (rc == 0) {
            j->status = 200;
        } else if (rc == ENG_EINVAL) {
            /* "field: why" */
            const char *colon = strchr(err.msg, ':');
            size_t fl = colon != NULL ? (size_t)(colon - err.msg) : 0;
            snprintf(j->field, sizeof j->field, "%.*s", (int)(fl < 40 ? fl : 0), err.msg);
            eng_api_job_fail(j, 422, "invalid_field", err.msg);
        } else {
            eng_api_job_fail(j, 500, "internal", err.msg);
        }
        eng_mapedit_close(&r);
    }
    eng_buf_free(&config);
}

int eng_api_mapping_preview(struct eng_api_ctx *c)
{
    struct eng_api_job *j = eng_api_job_resumed(c);
    if (j != NULL)
        return eng_api_job_finish(c, j);
    char name[72];
    struct eng_scripts_info info;
    if (eng_api_mapping_param(c, name, &info) != 0)
        return ENG_HTTPD_DONE;
    free(info.error);
    static const char *const keys[] = {"source", "record", "config", NULL};
    struct edit_arg *a = unsaved_text_arg(c, name, info.published, keys, 0);
    if (a == NULL)
        return ENG_HTTPD_DONE;
    return start(c, preview_run, a, 0);
}

/* ---- GET /api/mappings/{name}/tests ---- */

int eng_api_mapping_tests_list(struct eng_api_ctx *c)
{
    char name[72];
    struct eng_scripts_info info;
    if (eng_api_mapping_param(c, name, &info) != 0)
        return ENG_HTTPD_DONE;
    free(info.error);
    eng_buf_reset(&c->resp->body);
    eng_mapedit_cases_json(c->api->cfg->mappings_dir, name, &c->resp->body);
    if (c->resp->body.oom)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    c->resp->status = 200;
    c->resp->content_type = "application/json";
    return ENG_HTTPD_DONE;
}

/* ---- PUT /api/mappings/{name}/tests/{case} ---- */

static void case_put_run(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    (void)st;
    struct edit_arg *a = j->arg;
    struct eng_err err = {0};
    int rc = eng_mapedit_case_check(vm, a->text, a->len, &err);
    if (rc == ENG_EINVAL) {
        eng_api_job_fail(j, 422, "invalid_case", err.msg);
        return;
    }
    if (rc != 0) {
        eng_api_job_fail(j, 500, "internal", err.msg);
        return;
    }
    char dir[4400], file[96];
    snprintf(dir, sizeof dir, "%s/tests/%s", j->cfg->mappings_dir, a->name);
    snprintf(file, sizeof file, "%s.json", a->case_name);
    int created = 0;
    pthread_mutex_lock(&publish_mu);
    rc = eng_mapedit_write(dir, file, a->text, a->len, 1, &created, &err);
    /* an edited test revalidates the mapping: the registry's status says at once whether the
     * published version still passes it */
    if (rc == 0)
        eng_scripts_scan(a->reg, NULL);
    pthread_mutex_unlock(&publish_mu);
    if (rc != 0) {
        eng_api_job_fail(j, 500, "internal", "cannot write the case's file (see the log)");
        return;
    }
    /* what the published version makes of it */
    char *res = NULL;
    size_t rlen = 0;
    int ok = 0;
    struct eng_err e = {0};
    eng_api_json_member(&j->body, "{\"mapping\":", a->name);
    eng_api_json_member(&j->body, ",\"case\":", a->case_name);
    eng_buf_printf(&j->body, ",\"created\":%s,\"result\":", created ? "true" : "false");
    if (eng_mapedit_tests_one(vm, a->name, a->case_name, a->text, a->len, &ok, &res, &rlen, &e) ==
            0 &&
        res != NULL)
        eng_buf_append(&j->body, res, rlen);
    else
        eng_buf_puts(&j->body, "null");
    eng_buf_putc(&j->body, '}');
    free(res);
    j->status = created ? 201 : 200;
}

int eng_api_mapping_case_put(struct eng_api_ctx *c)
{
    struct eng_api_job *j = eng_api_job_resumed(c);
    if (j != NULL)
        return eng_api_job_finish(c, j);
    char name[72], case_name[72];
    struct eng_scripts_info info;
    if (eng_api_mapping_admin(c) != 0 || eng_api_mapping_param(c, name, &info) != 0)
        return ENG_HTTPD_DONE;
    free(info.error);
    /* a case name: 1-64 of [A-Za-z0-9_.-], not starting with '.' (hidden, and no "..") */
    int ok = eng_api_param(c, 1, case_name, sizeof case_name) == 0 &&
             eng_api_id_ok(case_name, strlen(case_name)) && case_name[0] != '.';
    if (!ok)
        return eng_api_error(c->resp, 400, "invalid_case_name",
                             "a case name is 1-64 letters, digits, '_', '-' or '.', not starting "
                             "with '.'",
                             NULL);
    const char *body = NULL;
    size_t len = 0;
    if (eng_api_body_object(c, 0, &body, &len) != 0)
        return ENG_HTTPD_DONE;
    if (len > ENG_MAPEDIT_MAX_CASE)
        return eng_api_error(c->resp, 413, "too_large", "a test case is at most 1 MiB", NULL);
    struct edit_arg *a = edit_arg_new(c, name);
    if (a == NULL)
        return ENG_HTTPD_DONE;
    snprintf(a->case_name, sizeof a->case_name, "%s", case_name);
    a->text = malloc(len + 2);
    if (a->text == NULL) {
        edit_arg_free(a);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    memcpy(a->text, body, len);
    a->len = len;
    if (len == 0 || a->text[len - 1] != '\n') /* a text file ends with a newline */
        a->text[a->len++] = '\n';
    a->text[a->len] = '\0';
    return start(c, case_put_run, a, ENG_API_JOB_NO_STORE);
}

/* ---- POST /api/mappings/{name}/tests/run ---- */

static void tests_run(struct eng_api_job *j, struct eng_vm *vm, struct eng_store *st)
{
    (void)st;
    struct edit_arg *a = j->arg;
    struct eng_mapedit_run r;
    struct eng_mapedit_loaderr le;
    struct eng_err err = {0};
    int rc = eng_mapedit_open(a->reg, vm, a->name, a->text, a->len, &r, &le, &err);
    if (rc == ENG_ESCRIPT) {
        eng_api_job_load_error(j, &le);
        return;
    }
    if (rc != 0) {
        eng_api_job_fail(j, 500, "internal", err.msg);
        return;
    }
    int failed = 0;
    rc = eng_mapedit_tests(r.vm, j->cfg->mappings_dir, a->name, eng_now_ms() + ENG_MAPEDIT_WALL_MS,
                           &j->body, &failed, &err);
    eng_mapedit_close(&r);
    if (rc != 0)
        eng_api_job_fail(j, 500, "internal", "out of memory running the tests");
    else
        j->status = 200;
}

int eng_api_mapping_tests_run(struct eng_api_ctx *c)
{
    struct eng_api_job *j = eng_api_job_resumed(c);
    if (j != NULL)
        return eng_api_job_finish(c, j);
    char name[72];
    struct eng_scripts_info info;
    if (eng_api_mapping_param(c, name, &info) != 0)
        return ENG_HTTPD_DONE;
    free(info.error);
    static const char *const keys[] = {"source", NULL};
    struct edit_arg *a = unsaved_text_arg(c, name, info.published, keys, 1);
    if (a == NULL)
        return ENG_HTTPD_DONE;
    return start(c, tests_run, a, ENG_API_JOB_NO_STORE);
}
