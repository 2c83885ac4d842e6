/*
 * mapedit.c - the console's mapping editor on a worker (see mapedit.h): preview, data tests,
 * impact and the list's declarations, each through scripts/lib/impact.lua by eng_vm_call, one
 * call per record or case (each with the VM's own budget), with the VM read-only throughout.
 * Owns: the references it takes (prepared states), released before it returns; a candidate
 * between eng_mapedit_open and eng_mapedit_close. Must not: touch the Lua stack; write anywhere
 * but out.
 */
#include "flow/mapedit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/dirlist.h"
#include "data/record_snapshots.h"
#include "flow/worker.h"
#include "lua/scripts.h"
#include "lua/vm.h"

/* One line: the message without its traceback. */
static void one_line(char *msg)
{
    char *tb = strstr(msg, "\nstack traceback:");
    if (tb != NULL)
        *tb = '\0';
}

void eng_mapedit_loaderr_from(const char *text, struct eng_mapedit_loaderr *le)
{
    memset(le, 0, sizeof *le);
    snprintf(le->message, sizeof le->message, "%s", text);
    one_line(le->message);
    /* "file.lua:LINE: message" or "file.lua: message" (a contract error has no line) */
    const char *p = le->message;
    size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-");
    if (n < 5 || n >= sizeof le->file || strncmp(p + n - 4, ".lua", 4) != 0 || p[n] != ':')
        return;
    memcpy(le->file, p, n);
    le->file[n] = '\0';
    const char *q = p + n + 1;
    char *end = NULL;
    long line = strtol(q, &end, 10);
    if (end != q && *end == ':' && line > 0 && line < 100000000) {
        le->line = (int)line;
        q = end + 1;
    }
    while (*q == ' ')
        q++;
    memmove(le->message, q, strlen(q) + 1);
}

int eng_mapedit_open(struct eng_scripts *reg, struct eng_vm *worker_vm, const char *name,
                     const char *text, size_t len, struct eng_mapedit_run *r,
                     struct eng_mapedit_loaderr *le, struct eng_err *err)
{
    memset(r, 0, sizeof *r);
    if (text == NULL) {
        r->vm = worker_vm;
        return 0;
    }
    char logical[160];
    snprintf(logical, sizeof logical, "mappings/%s.lua", name);
    struct eng_err e = {0};
    r->cand = eng_scripts_cand_new(reg, logical, text, len, &e);
    if (r->cand == NULL) {
        if (e.code == ENG_ENOMEM)
            return eng_err_set(err, ENG_ENOMEM, "%s", e.msg);
        eng_mapedit_loaderr_from(e.msg, le);
        if (le->file[0] == '\0')
            snprintf(le->file, sizeof le->file, "%s", logical);
        return eng_err_set(err, ENG_ESCRIPT, "%s", e.msg);
    }
    r->vm = eng_scripts_cand_vm(r->cand);
    return 0;
}

void eng_mapedit_close(struct eng_mapedit_run *r)
{
    eng_scripts_cand_free(r->cand);
    memset(r, 0, sizeof *r);
}

int eng_mapedit_preview(struct eng_vm *vm, const char *name, const char *tenant, const char *body,
                        size_t bodylen, const char *config, struct eng_err *err,
                        struct eng_buf *out)
{
    char *status = NULL, *text = NULL;
    size_t tlen = 0;
    int was = eng_vm_set_db_readonly(vm, 1);
    int rc = eng_vm_call(vm, "lib.impact", "preview", 0, err, "sSss>sS", name, body, bodylen,
                         config, tenant, &status, &text, &tlen);
    eng_vm_set_db_readonly(vm, was);
    if (rc == 0 && status != NULL && strcmp(status, "ok") == 0 && text != NULL)
        eng_buf_append(out, text, tlen);
    else if (rc == 0)
        rc = eng_err_set(err, ENG_EINVAL, "%s", text != NULL ? text : "the preview failed");
    else
        one_line(err->msg);
    free(status);
    free(text);
    return rc;
}

/* ---- data tests ---- */

int eng_mapedit_tests(struct eng_vm *vm, const char *mappings_dir, const char *name,
                      long long deadline_ms, struct eng_buf *out, int *failed, struct eng_err *err)
{
    (void)err;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/%s", mappings_dir, name);
    size_t n = 0;
    char **cases = eng_dirlist(dir, ".json", &n);
    int passed = 0;
    *failed = 0;
    struct eng_buf results;
    eng_buf_init(&results);
    int was = eng_vm_set_db_readonly(vm, 1);
    for (size_t i = 0; i < n && i < ENG_MAPEDIT_MAX_CASES; i++) {
        eng_workers_beat(NULL);           /* each case has its own budget: a heartbeat per case */
        size_t cl = strlen(cases[i]) - 5; /* without ".json" */
        char case_name[256];
        snprintf(case_name, sizeof case_name, "%.*s", (int)(cl < 200 ? cl : 200), cases[i]);
        if (i > 0)
            eng_buf_putc(&results, ',');
        if (deadline_ms > 0 && eng_now_ms() > deadline_ms) {
            eng_buf_puts(&results, "{\"case\":");
            eng_buf_json_str(&results, case_name, strlen(case_name));
            eng_buf_puts(&results, ",\"ok\":false,\"message\":\"not run: the time limit of the "
                                   "test run was reached\"}");
            (*failed)++;
            continue;
        }
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, cases[i]);
        size_t len = 0;
        char *text = eng_mapedit_read(path, ENG_MAPEDIT_MAX_CASE, &len);
        int ok = 0;
        char *res = NULL;
        size_t rlen = 0;
        struct eng_err e = {0};
        if (text == NULL ||
            eng_vm_call(vm, "lib.impact", "run_case", 0, &e, "ssS>bS", name, case_name, text, len,
                        &ok, &res, &rlen) != 0 ||
            res == NULL) {
            one_line(e.msg);
            eng_buf_puts(&results, "{\"case\":");
            eng_buf_json_str(&results, case_name, strlen(case_name));
            eng_buf_puts(&results, ",\"ok\":false,\"message\":");
            const char *why =
                text == NULL ? "cannot read the case file (missing, or over 1 MiB)" : e.msg;
            eng_buf_json_str(&results, why, strlen(why));
            eng_buf_putc(&results, '}');
            ok = 0;
        } else {
            eng_buf_append(&results, res, rlen);
        }
        if (ok)
            passed++;
        else
            (*failed)++;
        free(res);
        free(text);
    }
    eng_vm_set_db_readonly(vm, was);
    eng_buf_printf(out, "{\"passed\":%d,\"failed\":%d,\"results\":[", passed, *failed);
    if (results.len > 0)
        eng_buf_append(out, results.data, results.len);
    eng_buf_puts(out, "]}");
    int rc = results.oom ? ENG_ENOMEM : 0;
    eng_buf_free(&results);
    eng_dirlist_free(cases, n);
    return rc;
}

int eng_mapedit_tests_one(struct eng_vm *vm, const char *name, const char *case_name,
                          const char *text, size_t len, int *ok, char **result, size_t *rlen,
                          struct eng_err *err)
{
    *result = NULL;
    int was = eng_vm_set_db_readonly(vm, 1);
    int rc = eng_vm_call(vm, "lib.impact", "run_case", 0, err, "ssS>bS", name, case_name, text, len,
                         ok, result, rlen);
    eng_vm_set_db_readonly(vm, was);
    return rc;
}

/* ---- impact ---- */

struct snap {
    char *source_id, *updated_at, *record;
};

struct snaps {
    struct snap *v;
    size_t n, cap;
    int oom;
};

static int snaps_add(void *ud, const struct eng_record_snapshot_row *row)
{
    struct snaps *s = ud;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct snap *v = realloc(s->v, cap * sizeof *v);
        if (v == NULL)
            return s->oom = 1;
        s->v = v, s->cap = cap;
    }
    struct snap *x = &s->v[s->n];
    x->source_id = strdup(row->s.source_id != NULL ? row->s.source_id : "");
    x->updated_at = strdup(row->updated_at != NULL ? row->updated_at : "");
    x->record = strdup(row->s.record != NULL ? row->s.record : "null");
    if (x->source_id == NULL || x->updated_at == NULL || x->record == NULL) {
        free(x->source_id), free(x->updated_at), free(x->record);
        return s->oom = 1;
    }
    s->n++;
    return 0;
}

static void snaps_free(struct snaps *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].source_id), free(s->v[i].updated_at), free(s->v[i].record);
    free(s->v);
}

/* One version's result on one record: ok with the canonical document, or the error. */
struct outcome {
    int ok;
    char *text;
    size_t len;
};

static void run_record(struct eng_vm *vm, int state, const char *record, struct outcome *o)
{
    struct eng_err e = {0};
    o->ok = 0, o->text = NULL, o->len = 0;
    if (eng_vm_call(vm, "lib.impact", "run_one", 0, &e, "rs>bS", state, record, &o->ok, &o->text,
                    &o->len) != 0) {
        one_line(e.msg); /* a budget or memory error: this record fails with it */
        o->ok = 0;
        o->text = strdup(e.msg);
        o->len = o->text != NULL ? strlen(o->text) : 0;
    }
}

static void put_side(struct eng_buf *out, const char *key, const struct outcome *o)
{
    eng_buf_printf(out, ",\"%s\":{", key);
    if (o->ok && o->text != NULL) {
        eng_buf_puts(out, "\"document\":");
        eng_buf_append(out, o->text, o->len);
    } else {
        eng_buf_puts(out, "\"error\":");
        const char *t = o->text != NULL ? o->text : "the mapping failed";
        eng_buf_json_str(out, t, o->text != NULL ? o->len : strlen(t));
    }
    eng_buf_putc(out, '}');
}

int eng_mapedit_impact(struct eng_vm *cur, struct eng_vm *prop, struct eng_store *st,
                       const struct eng_mapedit_impact *o, struct eng_buf *out, struct eng_err *err)
{
    long long limit = o->limit;
    if (limit < 1)
        limit = 1;
    if (limit > ENG_MAPEDIT_MAX_IMPACT)
        limit = ENG_MAPEDIT_MAX_IMPACT;
    struct snaps s = {0};
    int rc = eng_record_snapshots_each(st, o->tenant, o->name, limit, snaps_add, &s, err);
    if (rc == 0 && s.oom)
        rc = eng_err_set(err, ENG_ENOMEM, "out of memory reading the snapshots");
    if (rc != 0) {
        snaps_free(&s);
        return rc;
    }

    int cw = eng_vm_set_db_readonly(cur, 1), pw = eng_vm_set_db_readonly(prop, 1);
    int cst = ENG_VM_NOREF, pst = ENG_VM_NOREF;
    struct eng_err e = {0};
    if (eng_vm_call(cur, "lib.impact", "prepare", 0, &e, "sss>r", o->name, o->config, o->tenant,
                    &cst) != 0 ||
        eng_vm_call(prop, "lib.impact", "prepare", 0, &e, "sss>r", o->name, o->config, o->tenant,
                    &pst) != 0) {
        one_line(e.msg);
        rc = eng_err_set(err, ENG_EINVAL, "%s", e.msg);
        goto done;
    }

    long long changed = 0, unchanged = 0, now_failing = 0, now_passing = 0, still = 0, n = 0;
    int truncated = 0;
    struct eng_buf items;
    eng_buf_init(&items);
    for (size_t i = 0; i < s.n; i++) {
        eng_workers_beat(NULL); /* each record has its own budget: a heartbeat per record */
        if ((o->deadline_ms > 0 && eng_now_ms() > o->deadline_ms) ||
            items.len > ENG_MAPEDIT_MAX_ANSWER) {
            truncated = 1;
            break;
        }
        struct outcome a, b;
        run_record(cur, cst, s.v[i].record, &a);
        run_record(prop, pst, s.v[i].record, &b);
        n++;
        const char *status;
        if (a.ok && b.ok && a.len == b.len && memcmp(a.text, b.text, a.len) == 0) {
            unchanged++;
            free(a.text), free(b.text);
            continue;
        }
        if (a.ok && b.ok)
            status = "changed", changed++;
        else if (a.ok)
            status = "now_failing", now_failing++;
        else if (b.ok)
            status = "now_passing", now_passing++;
        else
            status = "still_failing", still++;
        if (items.len > 0)
            eng_buf_putc(&items, ',');
        eng_buf_puts(&items, "{\"sourceId\":");
        eng_buf_json_str(&items, s.v[i].source_id, strlen(s.v[i].source_id));
        eng_buf_puts(&items, ",\"updatedAt\":");
        eng_buf_json_str(&items, s.v[i].updated_at, strlen(s.v[i].updated_at));
        eng_buf_printf(&items, ",\"status\":\"%s\"", status);
        put_side(&items, "current", &a);
        put_side(&items, "proposed", &b);
        if (a.ok && b.ok) {
            char *d = NULL;
            size_t dl = 0;
            int cut = 0;
            struct eng_err de = {0};
            if (eng_vm_call(prop, "lib.impact", "diff_docs", 0, &de, "SSi>Sb", a.text, a.len,
                            b.text, b.len, (long long)ENG_MAPEDIT_MAX_DIFF, &d, &dl, &cut) == 0 &&
                d != NULL) {
                eng_buf_puts(&items, ",\"diff\":");
                eng_buf_append(&items, d, dl);
                if (cut)
                    eng_buf_puts(&items, ",\"diffTruncated\":true");
            } else {
                eng_buf_puts(&items, ",\"diff\":[]");
            }
            free(d);
        }
        eng_buf_putc(&items, '}');
        free(a.text), free(b.text);
    }
    eng_buf_printf(out,
                   "{\"considered\":%lld,\"available\":%zu,\"changed\":%lld,\"unchanged\":%lld,"
                   "\"nowFailing\":%lld,\"nowPassing\":%lld,\"stillFailing\":%lld,"
                   "\"truncated\":%s,\"items\":[",
                   n, s.n, changed, unchanged, now_failing, now_passing, still,
                   truncated ? "true" : "false");
    if (items.len > 0)
        eng_buf_append(out, items.data, items.len);
    eng_buf_puts(out, "]}");
    if (items.oom)
        rc = eng_err_set(err, ENG_ENOMEM, "out of memory building the impact");
    eng_buf_free(&items);
done:
    eng_vm_unref(cur, cst);
    eng_vm_unref(prop, pst);
    eng_vm_set_db_readonly(cur, cw);
    eng_vm_set_db_readonly(prop, pw);
    snaps_free(&s);
    return rc;
}

void eng_mapedit_describe(struct eng_vm *vm, const char *name, struct eng_buf *out)
{
    char *text = NULL;
    size_t len = 0;
    struct eng_err e = {0};
    int was = eng_vm_set_db_readonly(vm, 1);
    if (eng_vm_call(vm, "lib.impact", "describe", 0, &e, "s>S", name, &text, &len) == 0 &&
        text != NULL)
        eng_buf_append(out, text, len);
    else
        eng_buf_puts(out, "{\"source\":null,\"target\":null,\"defaultFor\":null}");
    eng_vm_set_db_readonly(vm, was);
    free(text);
}

int eng_mapedit_case_check(struct eng_vm *vm, const char *text, size_t len, struct eng_err *err)
{
    char *why = NULL;
    int was = eng_vm_set_db_readonly(vm, 1);
    int rc = eng_vm_call(vm, "lib.impact", "check_case", 0, err, "S>s", text, len, &why);
    eng_vm_set_db_readonly(vm, was);
    if (rc == 0 && why != NULL)
        rc = eng_err_set(err, ENG_EINVAL, "%s", why);
    free(why);
    return rc;
}
