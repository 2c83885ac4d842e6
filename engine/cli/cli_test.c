/*
 * cli_test.c - `tallysync test [NAME...]`: run the data tests of mappings, the JSON cases in
 * MAPPINGS_DIR/tests/NAME/ *.json files, through flow/maptest.c (scripts/lib/mapping_test.lua).
 * Prints one line per case, a diff for each failure, and "N passed, M failed"; exit status 1 on
 * any failure. Owns: its VM and the list of names. Must not: write anything: no store is opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/dirlist.h"
#include "cli/cli.h"
#include "flow/maptest.h"
#include "lua/vm.h"

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
        names = eng_dirlist(testdir, NULL, &n);
    }

    /* a name that is no mapping is the user's typo, not a failed test: say so and stop */
    for (size_t i = 0; argc > 1 && i < n; i++) {
        char path[4400];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s.lua", cfg.mappings_dir, names[i]);
        if (strchr(names[i], '/') != NULL || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            fprintf(stderr, "tallysync test: no such mapping '%s' (no %s)\n", names[i], path);
            eng_dirlist_free(names, n);
            eng_config_free(&cfg);
            return 2;
        }
    }

    struct eng_vm_opts opts;
    eng_cli_vm_opts(&cfg, &opts);
    opts.database_path = NULL;
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&opts, &err);
    struct eng_maptest_counts c = {0, 0};
    int status = 1;
    if (vm == NULL) {
        fprintf(stderr, "tallysync test: %s\n", err.msg);
    } else if (n == 0) {
        fprintf(stderr, "tallysync test: no mapping tests found in %s\n", testdir);
    } else {
        eng_maptest_run(vm, testdir, names, n, stdout, &c);
        printf("%d passed, %d failed\n", c.passed, c.failed);
        char *note = eng_maptest_note(vm, names, n);
        if (note != NULL)
            fprintf(stderr, "note: cases without \"company\" assume: %s\n", note);
        free(note);
        status = c.failed == 0 ? 0 : 1;
    }
    fflush(stdout);
    eng_dirlist_free(names, n);
    eng_vm_free(vm);
    eng_config_free(&cfg);
    return status;
}
