/*
 * test_id_map.c - engine/data/id_map.c against a real, migrated SQLite file: get and put (the
 * content hash is replaced, NULL included; the sync token is kept when none is given), and the
 * exclusive reservation of a create (taken, refused to another owner, released, never over a
 * row that has its target id).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapt/store.h"
#include "check.h"
#define STORE_FIXTURE_NAME "test_id_map"
#include "store_fixture.h"
#include "data/id_map.h"

/* A fresh migrated store (tests/unit/store_fixture.h: SQLite, or PostgreSQL with
 * STORE_FIXTURE_PG=1); returns a connection to it. */
static struct eng_store *fresh(void)
{
    store_fixture_make();
    return store_fixture_open(1);
}

static const struct eng_id_map_key K = {"t1",  "woocommerce", "orders",
                                        "727", "quickbooks",  "Invoice"};

static void test_put_then_get(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct eng_id_map_row row;
    int found = 1;
    CHECK_INT(eng_id_map_get(st, &K, &row, &found, &err), 0);
    CHECK_INT(found, 0);
    CHECK(row.target_id == NULL);

    struct eng_id_map_put v = {.target_id = "145",
                               .content_hash = "h1",
                               .sync_token = "0",
                               .source_updated_at = "2026-01-01T00:00:00Z",
                               .run_id = "sync_a"};
    CHECK_INT(eng_id_map_put(st, &K, &v, &err), 0);
    CHECK_INT(eng_id_map_get(st, &K, &row, &found, &err), 0);
    CHECK_INT(found, 1);
    CHECK_STR(row.target_id, "145");
    CHECK_STR(row.content_hash, "h1");
    CHECK_STR(row.sync_token, "0");
    CHECK(row.request_id == NULL);
    eng_id_map_row_free(&row);

    /* another key of the same record (another target type) is another row */
    struct eng_id_map_key k2 = K;
    k2.target_type = "SalesReceipt";
    CHECK_INT(eng_id_map_get(st, &k2, &row, &found, &err), 0);
    CHECK_INT(found, 0);
    eng_store_close(st);
}

/* The two upserts differed: lib/sync.lua kept the old content_hash when the new one was null
 * (coalesce), the page commit replaced it. Replacing is right: the hash says what the target
 * holds, and a write whose content is unknown (a document found by `match`) must not leave the
 * old hash, or the next plan of that old content is called "unchanged" and never written. */
static void test_null_hash_replaces_the_old_one(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    struct eng_id_map_put v = {.target_id = "145", .content_hash = "h1", .sync_token = "3"};
    REQUIRE(eng_id_map_put(st, &K, &v, &err) == 0);
    struct eng_id_map_put linked = {.target_id = "146"}; /* no hash, no token */
    REQUIRE(eng_id_map_put(st, &K, &linked, &err) == 0);
    struct eng_id_map_row row;
    int found = 0;
    REQUIRE(eng_id_map_get(st, &K, &row, &found, &err) == 0 && found);
    CHECK_STR(row.target_id, "146");
    CHECK(row.content_hash == NULL); /* not "h1": the next plan updates */
    CHECK_STR(row.sync_token, "3");  /* a token not given keeps the stored one */
    eng_id_map_row_free(&row);
    eng_store_close(st);
}

static void test_reservations_are_exclusive(void)
{
    struct eng_store *st = fresh();
    REQUIRE(st != NULL);
    struct eng_err err = {0};
    int taken = 0;
    CHECK_INT(eng_id_map_reserve(st, &K, "rid-1", "sync_a", 600, &taken, &err), 0);
    CHECK_INT(taken, 1);
    /* the same owner again (a resumed run): taken */
    CHECK_INT(eng_id_map_reserve(st, &K, "rid-1", "sync_a", 600, &taken, &err), 0);
    CHECK_INT(taken, 1);
    /* another job within the lease: refused */
    CHECK_INT(eng_id_map_reserve(st, &K, "rid-2", "job:7", 600, &taken, &err), 0);
    CHECK_INT(taken, 0);
    struct eng_id_map_row row;
    int found = 0;
    REQUIRE(eng_id_map_get(st, &K, &row, &found, &err) == 0 && found);
    CHECK_STR(row.request_id, "rid-1");
    CHECK(row.target_id == NULL);
    eng_id_map_row_free(&row);
    /* released by its owner (the create failed): another job may take it; its request id
     * stayed until then */
    CHECK_INT(eng_id_map_release(st, &K, "job:7", &err), 0); /* not the owner: no effect */
    CHECK_INT(eng_id_map_reserve(st, &K, "rid-2", "job:7", 600, &taken, &err), 0);
    CHECK_INT(taken, 0);
    CHECK_INT(eng_id_map_release(st, &K, "sync_a", &err), 0);
    CHECK_INT(eng_id_map_reserve(st, &K, "rid-2", "job:7", 600, &taken, &err), 0);
    CHECK_INT(taken, 1);
    /* a row with its target id is never reserved again, not even by its owner */
    struct eng_id_map_put v = {.target_id = "145", .content_hash = "h", .run_id = "job:7"};
    REQUIRE(eng_id_map_put(st, &K, &v, &err) == 0);
    CHECK_INT(eng_id_map_reserve(st, &K, "rid-3", "job:7", 600, &taken, &err), 0);
    CHECK_INT(taken, 0);
    /* an expired lease (0 s) is taken over */
    struct eng_id_map_key k2 = K;
    k2.source_id = "728";
    REQUIRE(eng_id_map_reserve(st, &k2, "rid-4", "sync_a", 600, &taken, &err) == 0 && taken);
    usleep(5000);
    CHECK_INT(eng_id_map_reserve(st, &k2, "rid-5", "job:8", 0, &taken, &err), 0);
    CHECK_INT(taken, 1);
    eng_store_close(st);
}

CHECK_MAIN(CHECK_CASE(test_put_then_get), CHECK_CASE(test_null_hash_replaces_the_old_one),
           CHECK_CASE(test_reservations_are_exclusive))
