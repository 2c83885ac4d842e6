/*
 * store_fixture.h - a scratch SQLite store with every migration applied, for the unit tests of
 * the table owners: fresh_store() makes one in its own folder under /tmp (named after
 * STORE_FIXTURE_NAME, which the test defines before including this), done() closes it and
 * removes the file, its WAL files and the folder. Exits 2 when the store cannot be made.
 * Owns: that folder, for one store at a time.
 */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "adapt/store.h"

#ifndef STORE_FIXTURE_NAME
#error "define STORE_FIXTURE_NAME (the test's name) before including store_fixture.h"
#endif

static char store_fixture_dir[96], store_fixture_path[160];

static struct eng_store *fresh_store(void)
{
    snprintf(store_fixture_dir, sizeof store_fixture_dir, "/tmp/%s.XXXXXX", STORE_FIXTURE_NAME);
    if (mkdtemp(store_fixture_dir) == NULL)
        exit(2);
    snprintf(store_fixture_path, sizeof store_fixture_path, "%s/t.db", store_fixture_dir);
    const char *schema = getenv("SCHEMA_DIR");
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    if (eng_store_open(store_fixture_path, &st, &err) != 0 ||
        eng_store_migrate(st, schema != NULL ? schema : "schema", NULL, &err) != 0) {
        fprintf(stderr, "store: %s\n", err.msg);
        exit(2);
    }
    return st;
}

static void done(struct eng_store *st)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char p[200];
    eng_store_close(st);
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", store_fixture_path, suffix[i]);
        unlink(p);
    }
    rmdir(store_fixture_dir);
}

#endif
