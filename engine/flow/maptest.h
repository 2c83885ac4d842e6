/*
 * maptest.h - the mappings' data tests (MAPPINGS_DIR/tests/NAME/ *.json), run by the driver
 * scripts/lib/mapping_test.lua through eng_vm_call: one case (eng_maptest_case), or every case
 * of some mappings with a report (eng_maptest_run, for `tallysync test` in cli/cli_test.c). The
 * script registry (lua/scripts.c) calls the same driver before it publishes a mapping.
 * Owns: nothing past a call; reports it returns belong to the caller. Must not: write
 * anywhere (no store is opened); hold Lua values past a call.
 */
#ifndef ENG_MAPTEST_H
#define ENG_MAPTEST_H

#include <stddef.h>
#include <stdio.h>

struct eng_vm;

/* Run one case (the JSON text[0..len)) of mapping name in its own protected call under
 * budget_ms (0: the VM's budget). 1 when it passes; 0 with *report = why (path, expected, got),
 * malloc'd, freed by the caller. */
int eng_maptest_case(struct eng_vm *vm, const char *name, const char *text, size_t len,
                     long long budget_ms, char **report);

struct eng_maptest_counts {
    int passed, failed;
};

/* Run every case in testdir/NAME/ of each of names[0..n), each in its own call with its own
 * budget, printing to out one line per case ("ok   NAME/case.json" or "FAIL ...") and, under a
 * failure, its report indented. Adds to *c. */
void eng_maptest_run(struct eng_vm *vm, const char *testdir, char *const *names, size_t n,
                     FILE *out, struct eng_maptest_counts *c);

/* What cases without "company" assume about the QuickBooks company: the note of the first of
 * names[0..n) that targets QuickBooks (lib/mapping.lua assumption_note), malloc'd; NULL when
 * none has one. */
char *eng_maptest_note(struct eng_vm *vm, char *const *names, size_t n);

#endif
