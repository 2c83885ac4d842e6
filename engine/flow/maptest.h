/*
 * maptest.h - the mappings' data tests (MAPPINGS_DIR/tests/NAME/ *.json) run by
 * scripts/lib/mapping_test.lua: one runner for `tallysync test` (maptest.c) and for hot reload,
 * which runs them before publishing a mapping (scripts.c).
 * Owns: nothing past a call; lists and reports it returns belong to the caller.
 */
#ifndef ENG_MAPTEST_H
#define ENG_MAPTEST_H

#include <stddef.h>

#include "lua/vm.h"

/* Sorted names in dir ending in suffix (NULL: subdirectories), hidden ones skipped; *n = count.
 * NULL when dir cannot be read. Free with eng_maptest_free_list. */
char **eng_maptest_list(const char *dir, const char *suffix, size_t *n);
void eng_maptest_free_list(char **names, size_t n);

/* Push lib.mapping_test's table. [-0, +1, -] on success; pushes nothing on failure. */
int eng_maptest_boot(struct eng_vm *vm, struct eng_err *err);

/* Run one case (the JSON text[0..len)) of mapping name with lib.mapping_test's table at stack
 * index mod, in its own protected call under budget_ms (0: the VM's budget). 1 when it passes;
 * 0 with *report = why (path, expected, got), malloc'd, freed by the caller. [-0, +0, -] */
int eng_maptest_case(struct eng_vm *vm, int mod, const char *name, const char *text, size_t len,
                     long long budget_ms, char **report);

#endif
