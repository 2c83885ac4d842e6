/*
 * test_vault_rotate.c - unit tier for engine/data/vault_rotate.c against real, migrated SQLite
 * files: rotation to a new key (every row, active or not; idempotent; old and new keyrings), its
 * all-or-nothing rollback (a foreign key, a damaged row, a held write lock), rows under a previous
 * key, and what rotation must leave alone (public fields, status, token version).
 * Owns only its scratch folders (removed at the end of each test).
 */
#include "vault_fixture.h"

static void test_rotate(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *ka = ring(KEY_A, NULL);
    struct eng_err err = {0};
    REQUIRE(ka != NULL);
    char idb[17], new_id[17];
    expected_id(0xB2, idb);

    /* an empty vault rotates to nothing */
    int rows = -1;
    CHECK_INT(eng_vault_rotate(st, ka, KEY_B, &rows, new_id, &err), 0);
    CHECK_INT(rows, 0);
    CHECK_STR(new_id, idb);

    CHECK_INT(put(st, ka, "t1", "woocommerce", SECRET_JSON), 0);
    CHECK_INT(put(st, ka, "t2", "quickbooks", SECRET_JSON), 0);
    CHECK_INT(put(st, ka, "t2", "supabase", SECRET_JSON), 0);
    /* an inactive row is rotated too (it must stay readable if reactivated) */
    CHECK_INT(eng_store_exec(st,
                             "UPDATE integration_credentials SET is_active = 0"
                             " WHERE platform = 'supabase'",
                             &err),
              0);
    char before[8192], after[8192];
    snapshot(st, before, sizeof before);

    CHECK_INT(eng_vault_rotate(st, ka, KEY_B, &rows, new_id, &err), 0);
    CHECK_INT(rows, 3);
    CHECK_STR(new_id, idb);
    CHECK(!eng_store_in_tx(st));
    char v[64] = {0};
    query_text(st, "SELECT group_concat(DISTINCT key_id) FROM integration_credentials", v,
               sizeof v);
    CHECK_STR(v, idb);
    snapshot(st, after, sizeof after);
    CHECK(strcmp(before, after) != 0);

    /* old key only: nothing reads; new key only, or new + old: everything reads */
    CHECK_INT(get_check(st, ka, "t1", "woocommerce", NULL, &err), ENG_EAUTH);
    CHECK(strstr(err.msg, idb) != NULL);
    struct eng_keyring *kb = ring(KEY_B, NULL);
    struct eng_keyring *kba = ring(KEY_B, KEY_A);
    REQUIRE(kb != NULL && kba != NULL);
    CHECK_INT(get_check(st, kb, "t1", "woocommerce", SECRET_JSON, &err), 0);
    CHECK_INT(get_check(st, kb, "t2", "quickbooks", SECRET_JSON, &err), 0);
    CHECK_INT(get_check(st, kba, "t1", "woocommerce", SECRET_JSON, &err), 0);
    CHECK_INT(get_check(st, kba, "t2", "quickbooks", SECRET_JSON, &err), 0);
    CHECK_INT(eng_store_exec(st, "UPDATE integration_credentials SET is_active = 1", &err), 0);
    CHECK_INT(get_check(st, kb, "t2", "supabase", SECRET_JSON, &err), 0);

    /* a mixed vault (one row written by an engine still on A) reads with B + A */
    CHECK_INT(put(st, ka, "t3", "woocommerce", SECRET_JSON), 0);
    CHECK_INT(get_check(st, kba, "t3", "woocommerce", SECRET_JSON, &err), 0);

    /* again, idempotent: rows already under B are re-sealed with fresh nonces, the A row moves;
     * works whether the keyring holds B or only A (the new key itself opens B rows) */
    snapshot(st, before, sizeof before);
    CHECK_INT(eng_vault_rotate(st, ka, KEY_B, &rows, new_id, &err), 0);
    CHECK_INT(rows, 4);
    snapshot(st, after, sizeof after);
    CHECK(strcmp(before, after) != 0);
    CHECK_INT(eng_vault_rotate(st, kba, KEY_B, &rows, NULL, &err), 0);
    CHECK_INT(rows, 4);
    CHECK_INT(get_check(st, kb, "t3", "woocommerce", SECRET_JSON, &err), 0);
    query_text(st, "SELECT group_concat(DISTINCT key_id) FROM integration_credentials", v,
               sizeof v);
    CHECK_STR(v, idb);

    /* a malformed new key changes nothing */
    snapshot(st, before, sizeof before);
    CHECK_INT(eng_vault_rotate(st, kb, key_b64(0x31, 31, 3), &rows, NULL, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "the new key must be base64 of 32 bytes (got 31 bytes)") != NULL);
    snapshot(st, after, sizeof after);
    CHECK_STR(after, before);

    eng_keyring_free(kb);
    eng_keyring_free(kba);
    eng_keyring_free(ka);
    eng_store_close(st);
    scratch_done();
}

static void test_rotate_rolls_back(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *ka = ring(KEY_A, NULL);
    struct eng_keyring *kc = ring(KEY_C, NULL);
    struct eng_err err = {0};
    REQUIRE(ka != NULL && kc != NULL);

    CHECK_INT(put(st, ka, "t1", "woocommerce", SECRET_JSON), 0);
    CHECK_INT(put(st, kc, "t-foreign", "quickbooks", SECRET_JSON), 0); /* sealed with C */
    CHECK_INT(put(st, ka, "t2", "woocommerce", SECRET_JSON), 0);
    char before[8192], after[8192];
    snapshot(st, before, sizeof before);

    int rows = -1;
    char new_id[17];
    CHECK_INT(eng_vault_rotate(st, ka, KEY_B, &rows, new_id, &err), ENG_EAUTH);
    CHECK_INT(rows, 0);
    CHECK(strstr(err.msg, "t-foreign") != NULL);
    CHECK(strstr(err.msg, "quickbooks") != NULL);
    CHECK(strstr(err.msg, eng_keyring_current_id(kc)) != NULL);
    CHECK(strstr(err.msg, "nothing was re-encrypted") != NULL);
    CHECK(strstr(err.msg, SECRET) == NULL && strstr(err.msg, KEY_A) == NULL &&
          strstr(err.msg, KEY_B) == NULL && strstr(err.msg, KEY_C) == NULL);
    CHECK(!eng_store_in_tx(st));
    snapshot(st, after, sizeof after);
    CHECK_STR(after, before);
    /* every row reads as before with its own key */
    CHECK_INT(get_check(st, ka, "t1", "woocommerce", SECRET_JSON, &err), 0);
    CHECK_INT(get_check(st, ka, "t2", "woocommerce", SECRET_JSON, &err), 0);
    CHECK_INT(get_check(st, kc, "t-foreign", "quickbooks", SECRET_JSON, &err), 0);

    /* a corrupted row also rolls back */
    CHECK_INT(eng_vault_delete(st, "t-foreign", "quickbooks", &err), 0);
    CHECK_INT(eng_store_exec(st,
                             "UPDATE integration_credentials SET ciphertext = x'00'"
                             " WHERE tenant_id = 't2'",
                             &err),
              0);
    snapshot(st, before, sizeof before);
    CHECK_INT(eng_vault_rotate(st, ka, KEY_B, &rows, NULL, &err), ENG_EAUTH);
    CHECK(strstr(err.msg, "'t2'") != NULL);
    snapshot(st, after, sizeof after);
    CHECK_STR(after, before);

    /* with the foreign key in the keyring it goes through */
    CHECK_INT(eng_vault_delete(st, "t2", "woocommerce", &err), 0);
    CHECK_INT(put(st, kc, "t-foreign", "quickbooks", SECRET_JSON), 0);
    struct eng_keyring *kac = ring(KEY_A, KEY_C);
    REQUIRE(kac != NULL);
    CHECK_INT(eng_vault_rotate(st, kac, KEY_B, &rows, NULL, &err), 0);
    CHECK_INT(rows, 2);

    /* a held write lock: busy, nothing changed, no transaction left open */
    struct eng_store *other = NULL;
    REQUIRE(eng_store_open(dbpath, &other, &err) == 0);
    REQUIRE(eng_store_exec(other, "BEGIN IMMEDIATE", &err) == 0);
    eng_store_set_busy_timeout(st, 0);
    snapshot(st, before, sizeof before);
    CHECK_INT(eng_vault_rotate(st, kac, KEY_B, &rows, NULL, &err), ENG_EBUSY);
    CHECK(!eng_store_in_tx(st));
    eng_store_exec(other, "ROLLBACK", NULL);
    eng_store_close(other);
    snapshot(st, after, sizeof after);
    CHECK_STR(after, before);

    eng_keyring_free(kac);
    eng_keyring_free(ka);
    eng_keyring_free(kc);
    eng_store_close(st);
    scratch_done();
}

/* A row sealed under a previous key moves to the new key; only ciphertext and key_id change. */
static void test_rotate_previous_key_keeps_the_rest(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *kc = ring(KEY_C, NULL);
    struct eng_keyring *kac = ring(KEY_A, KEY_C); /* C is now a previous key */
    struct eng_err err = {0};
    REQUIRE(kc != NULL && kac != NULL);
    CHECK_INT(put(st, kc, "t1", "quickbooks", SECRET_JSON), 0);
    CHECK_INT(eng_vault_set_status(st, "t1", "quickbooks", 1, "connected fine", &err), 0);
    int64_t cur = -1;
    CHECK_INT(eng_vault_lease_take(st, "t1", "quickbooks", "owner-r", -1, 60000, &cur, &err), 0);
    CHECK_INT(eng_vault_lease_take(st, "t1", "quickbooks", "owner-r", cur, 60000, NULL, &err), 1);
    static const char rest_sql[] =
        "SELECT public_fields || '|' || coalesce(external_account_id, '') || '|' || status"
        " || '|' || last_test_ok || '|' || last_test_message || '|' || token_version || '|'"
        " || refresh_lease_owner || '|' || updated_at FROM integration_credentials";
    char before[1024], after[1024];
    query_text(st, rest_sql, before, sizeof before);
    REQUIRE(before[0] != '\0');

    int rows = -1;
    char new_id[17], idb[17];
    expected_id(0xB2, idb);
    CHECK_INT(eng_vault_rotate(st, kac, KEY_B, &rows, new_id, &err), 0);
    CHECK_INT(rows, 1);
    CHECK_STR(new_id, idb);
    query_text(st, rest_sql, after, sizeof after);
    CHECK_STR(after, before);
    char v[64];
    query_text(st, "SELECT key_id FROM integration_credentials", v, sizeof v);
    CHECK_STR(v, idb);
    struct eng_keyring *kb = ring(KEY_B, NULL);
    REQUIRE(kb != NULL);
    CHECK_INT(get_check(st, kb, "t1", "quickbooks", SECRET_JSON, &err), 0);
    CHECK_INT(get_check(st, kc, "t1", "quickbooks", NULL, &err), ENG_EAUTH);

    /* rotation inside a caller's transaction is refused before anything is read */
    CHECK_INT(eng_store_exec(st, "BEGIN", &err), 0);
    CHECK_INT(eng_vault_rotate(st, kb, KEY_A, &rows, NULL, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "its own transaction") != NULL);
    CHECK_INT(rows, 0);
    CHECK_INT(eng_store_exec(st, "ROLLBACK", &err), 0);

    eng_keyring_free(kb);
    eng_keyring_free(kc);
    eng_keyring_free(kac);
    eng_store_close(st);
    scratch_done();
}

CHECK_MAIN(CHECK_CASE(test_rotate), CHECK_CASE(test_rotate_rolls_back),
           CHECK_CASE(test_rotate_previous_key_keeps_the_rest))
