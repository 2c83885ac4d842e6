/*
 * maptest.c - `tallysync test [NAME...]`: run the data tests of mappings, the JSON cases in
 * MAPPINGS_DIR/tests/NAME/ *.json files, through scripts/lib/mapping_test.lua. Prints one line per
 * case, a diff for each failure, and "N passed, M failed"; exit status 1 on any failure.
 * Writes nothing: no store is opened.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lua.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "flow/maptest.h"
#include "lua/vm.h"

struct maptest_counts {
    int passed, failed;
};

static int maptest_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **eng_maptest_list(const char *dir, const char *suffix, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    char **names = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(e->d_name);
        if (suffix != NULL) {
            size_t sl = strlen(suffix);
            if (len <= sl || strcmp(e->d_name + len - sl, suffix) != 0)
                continue;
        } else if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) {
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(names, cap * sizeof *p);
            if (p == NULL)
                break;
            names = p;
        }
        names[*n] = strdup(e->d_name);
        if (names[*n] != NULL)
            (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(names, *n, sizeof *names, maptest_cmp);
    return names;
}

void eng_maptest_free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
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

int eng_maptest_boot(struct eng_vm *vm, struct eng_err *err)
{
    static const char boot[] = "return require('lib.mapping_test')";
    int rc = eng_vm_load(vm, "=test", boot, sizeof boot - 1, err);
    return rc != 0 ? rc : eng_vm_pcall(vm, 0, 1, err);
}

int eng_maptest_case(struct eng_vm *vm, int mod, const char *name, const char *text, size_t len,
                     long long budget_ms, char **report)
{
    lua_State *L = eng_vm_state(vm);
    int top = lua_gettop(L);
    struct eng_err err = {0};
    int ok = 0;
    const char *why = NULL;
    lua_getfield(L, mod, "run_case");
    lua_pushstring(L, name);
    if (eng_vm_push_string(vm, text, len, &err) != 0 ||
        eng_vm_pcall_budget(vm, 2, 2, budget_ms, &err) != 0) {
        why = err.msg;
    } else {
        ok = lua_toboolean(L, -2);
        why = lua_tostring(L, -1);
    }
    *report = ok ? NULL : strdup(why != NULL ? why : "(no report)");
    lua_settop(L, top);
    return ok;
}

/* Run every case of one mapping, each in a fresh protected call with its own budget. */
static void maptest_run_mapping(struct eng_vm *vm, int mod, const char *testdir, const char *name,
                                struct maptest_counts *c)
{
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/%s", testdir, name) >= (int)sizeof dir) {
        printf("FAIL %s: path too long\n", name);
        c->failed++;
        return;
    }
    size_t n = 0;
    char **cases = eng_maptest_list(dir, ".json", &n);
    if (n == 0) {
        printf("FAIL %s: no test cases in %s\n", name, dir);
        c->failed++;
    }
    for (size_t i = 0; i < n; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, cases[i]);
        size_t len = 0;
        char *text = maptest_read(path, &len);
        char *report = NULL;
        int ok = text != NULL && eng_maptest_case(vm, mod, name, text, len, 0, &report);
        if (ok) {
            printf("ok   %s/%s\n", name, cases[i]);
            c->passed++;
        } else {
            printf("FAIL %s/%s\n", name, cases[i]);
            /* indent the report under the case */
            for (const char *p = report ? report : "cannot read the file"; *p;) {
                const char *nl = strchr(p, '\n');
                int l = nl ? (int)(nl - p) : (int)strlen(p);
                printf("     %.*s\n", l, p);
                p = nl ? nl + 1 : p + l;
            }
            c->failed++;
        }
        free(report);
        free(text);
    }
    eng_maptest_free_list(cases, n);
}

/* Say on stderr what cases without "company" assumed about the QuickBooks company (the first
 * tested mapping that targets QuickBooks; lib/mapping.lua assumption_note). */
static void maptest_note(struct eng_vm *vm, char **names, size_t n)
{
    static const char boot[] = "return require('lib.mapping').assumption_note(...)";
    lua_State *L = eng_vm_state(vm);
    int top = lua_gettop(L);
    for (size_t i = 0; i < n; i++) {
        struct eng_err err = {0};
        if (eng_vm_load(vm, "=test", boot, sizeof boot - 1, &err) != 0 ||
            eng_vm_push_string(vm, names[i], strlen(names[i]), &err) != 0) {
            lua_settop(L, top);
            break;
        }
        int ok = eng_vm_pcall(vm, 1, 1, &err) == 0 && lua_type(L, -1) == LUA_TSTRING;
        if (ok)
            fprintf(stderr, "note: cases without \"company\" assume: %s\n", lua_tostring(L, -1));
        lua_settop(L, top);
        if (ok)
            break;
    }
}

int eng_cli_test(int argc, char **argv)
{
    if (eng_cli_wants_help(argc, argv)) {
        printf("usage: tallysync test [MAPPING...]\n\n"
               "Runs the data tests of every mapping (or the ones named): each JSON file in\n"
               "MAPPINGS_DIR/tests/MAPPING/ is an object with\n"
               "  input           the source record\n"
               "  settings        the tenant's transformer_config (optional)\n"
               "  refs            what ctx.ref answers, {\"customer\": {\"KEY\": \"58\"}} "
               "(optional)\n"
               "  expected        the output document, or\n"
               "  expected_error  a text the mapping's error must contain\n"
               "  description     (optional)\n"
               "A failure shows every differing field (path, expected, got). Exit status 1 "
               "when\nany case fails.\n");
        return 0;
    }
    struct eng_config cfg;
    if (eng_cli_config(&cfg, "test") != 0)
        return 1;
    char testdir[4096];
    snprintf(testdir, sizeof testdir, "%s/tests", cfg.mappings_dir);

    size_t n = 0;
    char **names = NULL;
    if (argc > 1) {
        names = calloc((size_t)argc, sizeof *names);
        for (int i = 1; names != NULL && i < argc; i++)
            if ((names[n] = strdup(argv[i])) != NULL)
                n++;
    } else {
        names = eng_maptest_list(testdir, NULL, &n);
    }

    /* a name that is no mapping is the user's typo, not a failed test: say so and stop */
    for (size_t i = 0; argc > 1 && i < n; i++) {
        char path[4400];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s.lua", cfg.mappings_dir, names[i]);
        if (strchr(names[i], '/') != NULL || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            fprintf(stderr, "tallysync test: no such mapping '%s' (no %s)\n", names[i], path);
            eng_maptest_free_list(names, n);
            eng_config_free(&cfg);
            return 2;
        }
    }

    struct eng_vm_opts opts;
    eng_cli_vm_opts(&cfg, &opts);
    opts.database_path = NULL;
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&opts, &err);
    struct maptest_counts c = {0, 0};
    int status = 1;
    if (vm == NULL || eng_maptest_boot(vm, &err) != 0) {
        fprintf(stderr, "tallysync test: %s\n", err.msg);
    } else if (n == 0) {
        fprintf(stderr, "tallysync test: no mapping tests found in %s\n", testdir);
    } else {
        int mod = lua_gettop(eng_vm_state(vm));
        for (size_t i = 0; i < n; i++)
            maptest_run_mapping(vm, mod, testdir, names[i], &c);
        printf("%d passed, %d failed\n", c.passed, c.failed);
        maptest_note(vm, names, n);
        status = c.failed == 0 ? 0 : 1;
    }
    fflush(stdout);
    eng_maptest_free_list(names, n);
    eng_vm_free(vm);
    eng_config_free(&cfg);
    return status;
}
