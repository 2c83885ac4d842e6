/*
 * store_fixture.h - a scratch store with every migration applied, for the unit tests of the table
 * owners, on either back end:
 *   SQLite (the default): a file in its own folder under /tmp (named after STORE_FIXTURE_NAME,
 *     which the test defines before including this);
 *   PostgreSQL, when STORE_FIXTURE_PG=1 (tests/tests.cmake registers each data test a second
 *     time so, as unit.pg.NAME): a fresh schema in the server TALLYSYNC_TEST_PG_URL names
 *     (tools/pg_server.sh), every connection opened on store_fixture_path reaching it through
 *     the URL's search_path option; missing URL: exit 2, saying so (never a silent pass).
 * fresh_store() makes one, done() closes it and removes the file, its WAL files and the folder,
 * or drops the schema. store_fixture_path is what eng_store_open takes to open another
 * connection to it (a path, or the URL: it holds the password, so it goes into no message).
 * store_fixture_pg() says which back end runs, for the cases that are SQLite's only (a file
 * path, WAL): they say so and run on SQLite only. Exits 2 when the store cannot be made.
 * Owns: that folder or schema, for one store at a time.
 */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapt/store.h"

#ifndef STORE_FIXTURE_NAME
#error "define STORE_FIXTURE_NAME (the test's name) before including store_fixture.h"
#endif

#pragma GCC diagnostic ignored "-Wunused-function" /* each test file uses a part */

static char store_fixture_dir[96], store_fixture_path[1024], store_fixture_schema[96];

/* 1 when the fixture runs on PostgreSQL (STORE_FIXTURE_PG=1). */
static int store_fixture_pg(void)
{
    const char *v = getenv("STORE_FIXTURE_PG");
    return v != NULL && strcmp(v, "1") == 0;
}

static const char *store_fixture_server(void)
{
    const char *url = getenv("TALLYSYNC_TEST_PG_URL");
    if (url == NULL || url[0] == '\0') {
        fprintf(stderr, "store fixture: STORE_FIXTURE_PG=1 but TALLYSYNC_TEST_PG_URL is not set "
                        "(start a server: tools/pg_server.sh start DIR)\n");
        exit(2);
    }
    return url;
}

/* Run sql on the server's own database (not the fixture's schema). */
static void store_fixture_admin(const char *sql)
{
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    if (eng_store_open(store_fixture_server(), &st, &err) != 0 ||
        eng_store_exec(st, sql, &err) != 0) {
        fprintf(stderr, "store fixture: %s\n", err.msg);
        exit(2);
    }
    eng_store_close(st);
}

/* The schemas made and not dropped yet: a test that does not call done() for each store gets
 * them dropped when it exits (in the process that made them). */
static char store_fixture_left[64][96];
static int store_fixture_nleft;
static pid_t store_fixture_owner;

static void store_fixture_drop_left(void)
{
    if (getpid() != store_fixture_owner)
        return; /* a forked child's exit */
    for (int i = 0; i < store_fixture_nleft; i++) {
        char sql[160];
        if (store_fixture_left[i][0] == '\0')
            continue;
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %.95s CASCADE", store_fixture_left[i]);
        store_fixture_admin(sql);
    }
    store_fixture_nleft = 0;
}

/* A fresh, empty store's location into store_fixture_path (not migrated). */
static void store_fixture_make(void)
{
    if (store_fixture_pg()) {
        static int seq;
        const char *url = store_fixture_server();
        char sql[160];
        snprintf(store_fixture_schema, sizeof store_fixture_schema, "fx_%s_%ld_%d",
                 STORE_FIXTURE_NAME, (long)getpid(), ++seq);
        snprintf(sql, sizeof sql, "CREATE SCHEMA %s", store_fixture_schema);
        store_fixture_admin(sql);
        if (store_fixture_nleft == 0 && store_fixture_owner == 0) {
            store_fixture_owner = getpid();
            atexit(store_fixture_drop_left);
        }
        if (store_fixture_nleft < 64)
            snprintf(store_fixture_left[store_fixture_nleft++], sizeof store_fixture_left[0], "%s",
                     store_fixture_schema);
        snprintf(store_fixture_path, sizeof store_fixture_path,
                 "%s%soptions=-c%%20search_path%%3D%s", url, strchr(url, '?') != NULL ? "&" : "?",
                 store_fixture_schema);
        return;
    }
    snprintf(store_fixture_dir, sizeof store_fixture_dir, "/tmp/%s.XXXXXX", STORE_FIXTURE_NAME);
    if (mkdtemp(store_fixture_dir) == NULL)
        exit(2);
    snprintf(store_fixture_path, sizeof store_fixture_path, "%s/t.db", store_fixture_dir);
}

/* Remove what store_fixture_make made (its connections closed). */
static void store_fixture_drop(void)
{
    if (store_fixture_pg()) {
        char sql[160];
        if (store_fixture_schema[0] == '\0')
            return;
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", store_fixture_schema);
        store_fixture_admin(sql);
        for (int i = 0; i < store_fixture_nleft; i++)
            if (strcmp(store_fixture_left[i], store_fixture_schema) == 0)
                store_fixture_left[i][0] = '\0';
        store_fixture_schema[0] = '\0';
        return;
    }
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char p[1100];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", store_fixture_path, suffix[i]);
        unlink(p);
    }
    rmdir(store_fixture_dir);
}

/* A connection to store_fixture_path, migrated with SCHEMA_DIR (default "schema"). */
static struct eng_store *store_fixture_open(int migrate)
{
    const char *schema = getenv("SCHEMA_DIR");
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    if (eng_store_open(store_fixture_path, &st, &err) != 0 ||
        (migrate && eng_store_migrate(st, schema != NULL ? schema : "schema", NULL, &err) != 0)) {
        fprintf(stderr, "store: %s\n", err.msg);
        exit(2);
    }
    return st;
}

/* First in a case that is SQLite's only (a file, its WAL): on PostgreSQL it says so and leaves
 * (that case runs in the SQLite registration of the same test). */
#define STORE_FIXTURE_SQLITE_ONLY(why)                                                             \
    do {                                                                                           \
        if (store_fixture_pg()) {                                                                  \
            printf("sqlite only: %s (%s)\n", __func__, why);                                       \
            return;                                                                                \
        }                                                                                          \
    } while (0)

static struct eng_store *fresh_store(void)
{
    store_fixture_make();
    return store_fixture_open(1);
}

static void done(struct eng_store *st)
{
    eng_store_close(st);
    store_fixture_drop();
}

#endif
