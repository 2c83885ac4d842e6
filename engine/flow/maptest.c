/*
 * maptest.c - the mappings' data tests (see maptest.h): each case is one eng_vm_call of
 * scripts/lib/mapping_test.lua's run_case, so each case has its own budget and a failing one
 * cannot disturb the next. Owns: nothing past a call. Must not: touch the Lua stack; write
 * anywhere.
 */
#include "flow/maptest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/dirlist.h"
#include "flow/dryrun.h"
#include "flow/worker.h"
#include "lua/vm.h"

int eng_maptest_case(struct eng_vm *vm, const char *name, const char *text, size_t len,
                     long long budget_ms, char **report)
{
    struct eng_err err = {0};
    int ok = 0;
    char *why = NULL;
    if (eng_vm_call(vm, "lib.mapping_test", "run_case", budget_ms, &err, "sS>bs", name, text, len,
                    &ok, &why) != 0) {
        ok = 0;
        why = strdup(err.msg);
    }
    if (ok) {
        free(why);
        *report = NULL;
        return 1;
    }
    *report = why != NULL ? why : strdup("(no report)");
    return 0;
}

static char *maptest_read(const char *path, size_t *len)
{
    struct eng_buf b;
    eng_buf_init(&b);
    if (eng_buf_read_file(&b, path, 0, NULL) != 0) {
        eng_buf_free(&b);
        return NULL;
    }
    return eng_buf_take(&b, len);
}

/* Run every case of one mapping, each in a fresh protected call with its own budget. */
static void maptest_run_mapping(struct eng_vm *vm, const char *testdir, const char *name, FILE *out,
                                struct eng_maptest_counts *c)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/%s", testdir, name) >= (int)sizeof dir) {
        fprintf(out, "FAIL %s: path too long\n", name);
        c->failed++;
        return;
    }
    size_t n = 0;
    char **cases = eng_dirlist(dir, ".json", &n);
    if (n == 0) {
        fprintf(out, "FAIL %s: no test cases in %s\n", name, dir);
        c->failed++;
    }
    for (size_t i = 0; i < n; i++) {
        eng_workers_beat(NULL); /* each case has its own budget: a heartbeat per case */
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, cases[i]);
        size_t len = 0;
        char *text = maptest_read(path, &len);
        char *report = NULL;
        int ok = text != NULL && eng_maptest_case(vm, name, text, len, 0, &report);
        if (ok) {
            fprintf(out, "ok   %s/%s\n", name, cases[i]);
            c->passed++;
        } else {
            fprintf(out, "FAIL %s/%s\n", name, cases[i]);
            /* indent the report under the case */
            for (const char *p = report ? report : "cannot read the file"; *p;) {
                const char *nl = strchr(p, '\n');
                int l = nl ? (int)(nl - p) : (int)strlen(p);
                fprintf(out, "     %.*s\n", l, p);
                p = nl ? nl + 1 : p + l;
            }
            c->failed++;
        }
        free(report);
        free(text);
    }
    eng_dirlist_free(cases, n);
}

void eng_maptest_run(struct eng_vm *vm, const char *testdir, char *const *names, size_t n,
                     FILE *out, struct eng_maptest_counts *c)
{
    for (size_t i = 0; i < n; i++)
        maptest_run_mapping(vm, testdir, names[i], out, c);
}

char *eng_maptest_note(struct eng_vm *vm, char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *note = eng_dryrun_note(vm, names[i], NULL, 0); /* no settings: the defaults */
        if (note != NULL)
            return note;
    }
    return NULL;
}
