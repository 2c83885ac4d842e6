/*
 * test_vault.c - unit tier for engine/data/vault.c against real, migrated SQLite files in mkdtemp
 * folders: put/get, fresh nonces, the raw file bytes, associated data binding (tenant, platform,
 * key id), unknown keys, delete, status JSON, the key check and token leases (compare-and-swap).
 * The keyring: test_keyring.c; rotation: test_vault_rotate.c.
 * Owns only its scratch folders (removed at the end of each test).
 */
#include "vault_fixture.h"

#include "api/api.h" /* the status answer (eng_api_credentials_status) is rendered in api/ */

/* ---- rows ---- */

static void test_put_get_roundtrip(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *kr = ring(KEY_A, NULL);
    struct eng_err err = {0};
    REQUIRE(kr != NULL);

    CHECK_INT(get_check(st, kr, "default", "woocommerce", NULL, &err), ENG_ENOTFOUND);
    CHECK_INT(put(st, kr, "default", "woocommerce", SECRET_JSON), 0);
    CHECK_INT(get_check(st, kr, "default", "woocommerce", SECRET_JSON, &err), 0);
    CHECK_INT(get_check(st, kr, "other", "woocommerce", NULL, &err), ENG_ENOTFOUND);
    CHECK_INT(get_check(st, kr, "default", "quickbooks", NULL, &err), ENG_ENOTFOUND);
    CHECK(strstr(err.msg, "quickbooks") != NULL);

    /* columns */
    char v[256] = {0};
    query_text(st,
               "SELECT key_id || '|' || status || '|' || is_active || '|' || external_account_id"
               " || '|' || public_fields FROM integration_credentials",
               v, sizeof v);
    char want[256];
    snprintf(want, sizeof want, "%s|untested|1|https://shop.vault-test.example|%s",
             eng_keyring_current_id(kr), PUBLIC_JSON);
    CHECK_STR(v, want);

    /* upsert: one row, new secret, status back to untested, NULL public/external allowed */
    CHECK_INT(eng_vault_set_status(st, "default", "woocommerce", 1, "ok", &err), 0);
    const char *second = "{\"consumer_secret\":\"second\"}";
    CHECK_INT(
        eng_vault_put(st, kr, "default", "woocommerce", second, strlen(second), NULL, NULL, &err),
        0);
    query_text(
        st,
        "SELECT (SELECT count(*) FROM integration_credentials) || '|' || status || '|' ||"
        " public_fields || '|' ||"
        " ifnull(external_account_id, 'NULL') || '|' || ifnull(CAST(last_test_ok AS TEXT), 'NULL')"
        " FROM integration_credentials",
        v, sizeof v);
    CHECK_STR(v, "1|untested|{}|NULL|NULL");
    char *secret = NULL;
    size_t len = 0;
    CHECK_INT(eng_vault_get(st, kr, "default", "woocommerce", &secret, &len, NULL, &err), 0);
    CHECK(secret != NULL && strcmp(secret, second) == 0 && len == strlen(second));
    eng_vault_free_secret(secret, len);

    /* an empty secret is a valid plaintext */
    CHECK_INT(eng_vault_put(st, kr, "default", "empty", "", 0, "{}", NULL, &err), 0);
    CHECK_INT(eng_vault_get(st, kr, "default", "empty", &secret, &len, NULL, &err), 0);
    CHECK(secret != NULL && len == 0 && secret[0] == '\0');
    eng_vault_free_secret(secret, len);

    /* inputs refused */
    CHECK_INT(eng_vault_put(st, kr, "", "woocommerce", "{}", 2, NULL, NULL, &err), ENG_EINVAL);
    CHECK_INT(eng_vault_put(st, kr, "default", "", "{}", 2, NULL, NULL, &err), ENG_EINVAL);
    CHECK_INT(eng_vault_put(st, kr, "default", "woocommerce", "{}", 2, "[1]", NULL, &err),
              ENG_EINVAL);
    CHECK(strstr(err.msg, "JSON object") != NULL);
    CHECK_INT(eng_vault_put(st, kr, "default", "woocommerce", "{}", 2, "{nope", NULL, &err),
              ENG_EINVAL);
    /* the refused puts changed nothing */
    CHECK_INT(eng_vault_get(st, kr, "default", "woocommerce", &secret, &len, NULL, &err), 0);
    CHECK(secret != NULL && strcmp(secret, second) == 0);
    eng_vault_free_secret(secret, len);

    eng_keyring_free(kr);
    eng_store_close(st);
    scratch_done();
}

static void test_fresh_nonce(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *kr = ring(KEY_A, NULL);
    REQUIRE(kr != NULL);
    unsigned char c1[512], c2[512];

    CHECK_INT(put(st, kr, "default", "woocommerce", SECRET_JSON), 0);
    size_t n1 = ciphertext_of(st, "default", "woocommerce", c1, sizeof c1);
    CHECK_INT(put(st, kr, "default", "woocommerce", SECRET_JSON), 0);
    size_t n2 = ciphertext_of(st, "default", "woocommerce", c2, sizeof c2);
    CHECK_INT(n1, strlen(SECRET_JSON) + ENG_CRYPTO_SEAL_OVERHEAD);
    CHECK_INT(n1, n2);
    CHECK(memcmp(c1, c2, ENG_CRYPTO_NONCE_LEN) != 0); /* nonce */
    CHECK(memcmp(c1, c2, n1) != 0);
    CHECK(memmem(c1, n1, SECRET, strlen(SECRET)) == NULL);

    eng_keyring_free(kr);
    eng_store_close(st);
    scratch_done();
}

static void test_file_bytes(void)
{
    STORE_FIXTURE_SQLITE_ONLY("reads the database file and its WAL");
    struct eng_store *st = fresh_store();
    struct eng_keyring *kr = ring(KEY_A, NULL);
    struct eng_err err = {0};
    REQUIRE(kr != NULL);

    for (int i = 0; i < 3; i++) {
        char tenant[16];
        snprintf(tenant, sizeof tenant, "t%d", i);
        CHECK_INT(put(st, kr, tenant, "woocommerce", SECRET_JSON), 0);
    }
    CHECK_INT(eng_vault_set_status(st, "t0", "woocommerce", 0, "HTTP 401 from the store", &err), 0);
    /* While open (WAL holds the writes)... */
    CHECK(!db_files_contain(SECRET));
    CHECK(!db_files_contain("ck_0123456789"));
    CHECK(!db_files_contain(KEY_A));
    /* ...the scan does see what is stored in clear, so it would see the secret too. */
    CHECK(db_files_contain("https://shop.vault-test.example"));
    CHECK(db_files_contain("HTTP 401 from the store"));
    /* After close (checkpointed into the main file) and after a delete. */
    CHECK_INT(eng_vault_delete(st, "t1", "woocommerce", &err), 0);
    eng_store_close(st);
    CHECK(!db_files_contain(SECRET));
    CHECK(!db_files_contain("ck_0123456789"));
    CHECK(db_files_contain("https://shop.vault-test.example"));

    eng_keyring_free(kr);
    scratch_done();
}

static void test_aad_binding(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *kr = ring(KEY_A, KEY_B);
    struct eng_err err = {0};
    REQUIRE(kr != NULL);
    char idb[17];
    expected_id(0xB2, idb);

    CHECK_INT(put(st, kr, "t1", "woocommerce", SECRET_JSON), 0);
    CHECK_INT(put(st, kr, "t2", "woocommerce", "{\"consumer_secret\":\"t2-own\"}"), 0);

    /* moved to another tenant */
    CHECK_INT(eng_store_exec(st,
                             "UPDATE integration_credentials SET tenant_id = 't9'"
                             " WHERE tenant_id = 't1'",
                             &err),
              0);
    CHECK_INT(get_check(st, kr, "t9", "woocommerce", NULL, &err), ENG_EAUTH);
    CHECK(strstr(err.msg, "cannot be decrypted with the configured keys") != NULL);
    CHECK(strstr(err.msg, SECRET) == NULL);
    CHECK_INT(eng_store_exec(st,
                             "UPDATE integration_credentials SET tenant_id = 't1'"
                             " WHERE tenant_id = 't9'",
                             &err),
              0);
    CHECK_INT(get_check(st, kr, "t1", "woocommerce", SECRET_JSON, &err), 0);

    /* relabelled as another platform */
    CHECK_INT(eng_store_exec(st,
                             "UPDATE integration_credentials SET platform = 'quickbooks'"
                             " WHERE tenant_id = 't1'",
                             &err),
              0);
    CHECK_INT(get_check(st, kr, "t1", "quickbooks", NULL, &err), ENG_EAUTH);
    CHECK(strstr(err.msg, "stored credentials for quickbooks cannot be decrypted") != NULL);
    CHECK_INT(eng_store_exec(st,
                             "UPDATE integration_credentials SET platform = 'woocommerce'"
                             " WHERE tenant_id = 't1'",
                             &err),
              0);

    /* relabelled with another key id the keyring knows */
    char sql[256];
    snprintf(sql, sizeof sql,
             "UPDATE integration_credentials SET key_id = '%s' WHERE tenant_id = 't1'", idb);
    CHECK_INT(eng_store_exec(st, sql, &err), 0);
    CHECK_INT(get_check(st, kr, "t1", "woocommerce", NULL, &err), ENG_EAUTH);
    snprintf(sql, sizeof sql,
             "UPDATE integration_credentials SET key_id = '%s' WHERE tenant_id = 't1'",
             eng_keyring_current_id(kr));
    CHECK_INT(eng_store_exec(st, sql, &err), 0);
    CHECK_INT(get_check(st, kr, "t1", "woocommerce", SECRET_JSON, &err), 0);

    /* t1's ciphertext copied into t2's row */
    CHECK_INT(eng_store_exec(st,
                             "UPDATE integration_credentials SET ciphertext = (SELECT ciphertext"
                             " FROM integration_credentials WHERE tenant_id = 't1')"
                             " WHERE tenant_id = 't2'",
                             &err),
              0);
    CHECK_INT(get_check(st, kr, "t2", "woocommerce", NULL, &err), ENG_EAUTH);
    CHECK_INT(get_check(st, kr, "t1", "woocommerce", SECRET_JSON, &err), 0);

    /* a flipped byte / a truncated blob */
    CHECK_INT(eng_store_exec(st,
                             "UPDATE integration_credentials SET ciphertext = x'00112233'"
                             " WHERE tenant_id = 't2'",
                             &err),
              0);
    CHECK_INT(get_check(st, kr, "t2", "woocommerce", NULL, &err), ENG_EAUTH);

    eng_keyring_free(kr);
    eng_store_close(st);
    scratch_done();
}

/* The blob is exactly what vault.h documents: open it with crypto.h and the raw key. */
static void test_documented_layout(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *kr = ring(KEY_A, NULL);
    REQUIRE(kr != NULL);
    CHECK_INT(put(st, kr, "acme", "woocommerce", SECRET_JSON), 0);
    unsigned char blob[512], key[32], pt[512];
    size_t bloblen = ciphertext_of(st, "acme", "woocommerce", blob, sizeof blob), ptlen = 0;
    REQUIRE(bloblen == strlen(SECRET_JSON) + ENG_CRYPTO_SEAL_OVERHEAD);
    memset(key, 0xA1, sizeof key);

    char aad[128];
    int n = snprintf(aad, sizeof aad, "tallysync-cred-v1%cacme%cwoocommerce%c%s", 0, 0, 0,
                     eng_keyring_current_id(kr));
    REQUIRE(n > 0 && (size_t)n < sizeof aad);
    CHECK_INT(eng_crypto_open(key, aad, (size_t)n, blob, bloblen, pt, sizeof pt, &ptlen, NULL), 0);
    CHECK(ptlen == strlen(SECRET_JSON) && memcmp(pt, SECRET_JSON, ptlen) == 0);
    /* each part of the associated data counts: without the key id, or another tenant */
    CHECK_INT(eng_crypto_open(key, aad, (size_t)n - 16, blob, bloblen, pt, sizeof pt, NULL, NULL),
              ENG_EAUTH);
    aad[18] = 'b';
    CHECK_INT(eng_crypto_open(key, aad, (size_t)n, blob, bloblen, pt, sizeof pt, NULL, NULL),
              ENG_EAUTH);

    eng_crypto_wipe(key, sizeof key);
    eng_keyring_free(kr);
    eng_store_close(st);
    scratch_done();
}

static void test_unknown_key(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *ka = ring(KEY_A, NULL);
    struct eng_keyring *kb = ring(KEY_B, KEY_C);
    struct eng_err err = {0};
    REQUIRE(ka != NULL && kb != NULL);

    CHECK_INT(put(st, ka, "default", "woocommerce", SECRET_JSON), 0);
    CHECK_INT(get_check(st, kb, "default", "woocommerce", NULL, &err), ENG_EAUTH);
    char want[256];
    snprintf(want, sizeof want,
             "stored credentials for woocommerce cannot be decrypted with the configured keys "
             "(key id %s)",
             eng_keyring_current_id(ka));
    CHECK_STR(err.msg, want);
    CHECK(strstr(err.msg, KEY_A) == NULL && strstr(err.msg, KEY_B) == NULL);
    CHECK(strstr(err.msg, SECRET) == NULL);
    /* with the right key as a previous one it reads */
    struct eng_keyring *kba = ring(KEY_B, KEY_A);
    REQUIRE(kba != NULL);
    CHECK_INT(get_check(st, kba, "default", "woocommerce", SECRET_JSON, &err), 0);

    eng_keyring_free(kba);
    eng_keyring_free(ka);
    eng_keyring_free(kb);
    eng_store_close(st);
    scratch_done();
}

/* issue 10 item 6: a wrong INTEGRATION_ENCRYPTION_KEY is found before a run needs the rows. */
static void test_check_keys(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *ka = ring(KEY_A, NULL);
    struct eng_keyring *kb = ring(KEY_B, NULL);
    struct eng_keyring *kba = ring(KEY_B, KEY_A);
    struct eng_err err = {0};
    REQUIRE(ka != NULL && kb != NULL && kba != NULL);
    char msg[1024];

    CHECK_INT(eng_vault_check_keys(st, kb, msg, sizeof msg, &err), 0); /* nothing stored */
    CHECK_STR(msg, "");
    CHECK_INT(put(st, ka, "default", "woocommerce", SECRET_JSON), 0);
    CHECK_INT(put(st, ka, "shop-2", "quickbooks", SECRET_JSON), 0);
    CHECK_INT(eng_vault_check_keys(st, ka, msg, sizeof msg, &err), 0);
    CHECK_INT(eng_vault_check_keys(st, kba, msg, sizeof msg, &err), 0); /* A as a previous key */

    CHECK_INT(eng_vault_check_keys(st, kb, msg, sizeof msg, &err), 1);
    char want[512];
    snprintf(want, sizeof want,
             "2 stored credentials are (e.g. woocommerce for tenant default) sealed under key id "
             "%s, which is neither INTEGRATION_ENCRYPTION_KEY nor one of "
             "INTEGRATION_ENCRYPTION_KEY_PREVIOUS",
             eng_keyring_current_id(ka));
    CHECK(strncmp(msg, want, strlen(want)) == 0);
    CHECK(strstr(msg, "start with the key they were sealed with") != NULL);
    CHECK(strstr(msg, KEY_A) == NULL && strstr(msg, KEY_B) == NULL && strstr(msg, SECRET) == NULL);

    /* every status row says so too, naming key ids only */
    struct eng_buf b;
    eng_buf_init(&b);
    CHECK_INT(eng_api_credentials_status(st, kb, "default", "woocommerce", &b, &err), 0);
    CHECK(b.data != NULL && strstr(b.data, "\"code\":\"key_mismatch\"") != NULL);
    CHECK(b.data != NULL && strstr(b.data, eng_keyring_current_id(ka)) != NULL);
    CHECK(b.data != NULL && strstr(b.data, KEY_A) == NULL && strstr(b.data, KEY_B) == NULL);
    eng_buf_reset(&b);
    CHECK_INT(eng_api_credentials_status(st, kba, "default", "woocommerce", &b, &err), 0);
    CHECK(b.data != NULL && strstr(b.data, "\"warnings\":[]") != NULL);
    eng_buf_free(&b);

    /* a key id that is configured but does not open its row (a damaged row) is named too */
    REQUIRE(eng_store_exec(st,
                           "UPDATE integration_credentials SET ciphertext = zeroblob(64)"
                           " WHERE platform = 'woocommerce'",
                           &err) == 0);
    CHECK_INT(eng_vault_check_keys(st, ka, msg, sizeof msg, &err), 1);
    CHECK(strstr(msg, "does not open them") != NULL);

    eng_keyring_free(kba);
    eng_keyring_free(ka);
    eng_keyring_free(kb);
    eng_store_close(st);
    scratch_done();
}

static void test_delete_and_status_errors(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *kr = ring(KEY_A, NULL);
    struct eng_err err = {0};
    REQUIRE(kr != NULL);

    CHECK_INT(eng_vault_delete(st, "default", "woocommerce", &err), ENG_ENOTFOUND);
    CHECK_INT(eng_vault_set_status(st, "default", "woocommerce", 1, NULL, &err), ENG_ENOTFOUND);
    CHECK_INT(put(st, kr, "default", "woocommerce", SECRET_JSON), 0);
    CHECK_INT(put(st, kr, "other", "woocommerce", SECRET_JSON), 0);
    CHECK_INT(eng_vault_delete(st, "default", "woocommerce", &err), 0);
    CHECK_INT(get_check(st, kr, "default", "woocommerce", NULL, &err), ENG_ENOTFOUND);
    CHECK_INT(eng_vault_delete(st, "default", "woocommerce", &err), ENG_ENOTFOUND);
    /* another tenant's row is untouched */
    CHECK_INT(get_check(st, kr, "other", "woocommerce", SECRET_JSON, &err), 0);
    char v[64] = {0};
    query_text(st, "SELECT count(*) FROM integration_credentials", v, sizeof v);
    CHECK_STR(v, "1");

    eng_keyring_free(kr);
    eng_store_close(st);
    scratch_done();
}

static void test_status_json(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *kr = ring(KEY_A, NULL);
    struct eng_err err = {0};
    struct eng_buf b;
    char v[256] = {0};
    REQUIRE(kr != NULL);
    eng_buf_init(&b);

    CHECK_INT(put(st, kr, "default", "woocommerce", SECRET_JSON), 0);
    const char *qb = "{\"client_secret\":\"" SECRET "\"}";
    CHECK_INT(eng_vault_put(st, kr, "default", "quickbooks", qb, strlen(qb),
                            "{ \"realm_id\" : \"9130\", \"environment\":\"sandbox\" }", "9130",
                            &err),
              0);
    CHECK_INT(put(st, kr, "other", "supabase", SECRET_JSON), 0);
    CHECK_INT(eng_vault_set_status(st, "default", "woocommerce", 0, "401 \"Unauthorized\"\n", &err),
              0);
    CHECK_INT(eng_vault_set_status(st, "default", "quickbooks", 1, "connected to 9130", &err), 0);
    unsigned char blob[512];
    size_t bloblen = ciphertext_of(st, "default", "woocommerce", blob, sizeof blob);
    REQUIRE(bloblen > 0);

    /* one platform */
    CHECK_INT(eng_api_credentials_status(st, NULL, "default", "woocommerce", &b, &err), 0);
    REQUIRE(b.data != NULL);
    CHECK(json_valid(st, b.data));
    json_at(st, b.data, "$.platform", v, sizeof v);
    CHECK_STR(v, "woocommerce");
    json_at(st, b.data, "$.configured", v, sizeof v);
    CHECK_STR(v, "1");
    json_at(st, b.data, "$.keyId", v, sizeof v);
    CHECK_STR(v, eng_keyring_current_id(kr));
    json_at(st, b.data, "$.status", v, sizeof v);
    CHECK_STR(v, "error");
    json_at(st, b.data, "$.lastTestOk", v, sizeof v);
    CHECK_STR(v, "0");
    json_at(st, b.data, "$.lastTestMessage", v, sizeof v);
    CHECK_STR(v, "401 \"Unauthorized\"\n");
    json_at(st, b.data, "$.fields.store_url", v, sizeof v);
    CHECK_STR(v, "https://shop.vault-test.example");
    json_at(st, b.data, "$.lastTestAt", v, sizeof v);
    CHECK(strlen(v) == 24 && v[23] == 'Z');
    json_at(st, b.data, "$.updatedAt", v, sizeof v);
    CHECK(strlen(v) == 24 && v[23] == 'Z');
    CHECK(strstr(b.data, "\"lastTestOk\":false") != NULL);
    CHECK(strstr(b.data, "\"configured\":true") != NULL);
    CHECK(strstr(b.data, SECRET) == NULL);
    CHECK(strstr(b.data, "consumer_key") == NULL);
    CHECK(strstr(b.data, "ciphertext") == NULL);
    CHECK(memmem(b.data, b.len, blob + ENG_CRYPTO_NONCE_LEN, 8) == NULL);

    /* every platform of the tenant, ordered, appended after what the buffer held */
    eng_buf_reset(&b);
    eng_buf_puts(&b, "X");
    CHECK_INT(eng_api_credentials_status(st, NULL, "default", NULL, &b, &err), 0);
    REQUIRE(b.data != NULL && b.data[0] == 'X');
    CHECK(json_valid(st, b.data + 1));
    json_at(st, b.data + 1, "$[0].platform", v, sizeof v);
    CHECK_STR(v, "quickbooks");
    json_at(st, b.data + 1, "$[1].platform", v, sizeof v);
    CHECK_STR(v, "woocommerce");
    json_at(st, b.data + 1, "$[2].platform", v, sizeof v);
    CHECK_STR(v, "");
    json_at(st, b.data + 1, "$[0].fields", v, sizeof v);
    CHECK_STR(v, "{\"realm_id\":\"9130\",\"environment\":\"sandbox\"}");
    json_at(st, b.data + 1, "$[0].status", v, sizeof v);
    CHECK_STR(v, "connected");
    json_at(st, b.data + 1, "$[0].account", v, sizeof v); /* external_account_id, as stored */
    CHECK_STR(v, "9130");
    CHECK(strstr(b.data, "\"lastTestOk\":true") != NULL);
    CHECK(strstr(b.data, SECRET) == NULL);
    CHECK(strstr(b.data, "supabase") == NULL); /* other tenant */

    /* a tenant with nothing: [] ; a platform with nothing: configured false */
    eng_buf_reset(&b);
    CHECK_INT(eng_api_credentials_status(st, NULL, "nobody", NULL, &b, &err), 0);
    CHECK_STR(b.data, "[]");
    eng_buf_reset(&b);
    CHECK_INT(eng_api_credentials_status(st, NULL, "default", "supabase", &b, &err), 0);
    REQUIRE(b.data != NULL);
    CHECK(json_valid(st, b.data));
    CHECK_STR(b.data, "{\"platform\":\"supabase\",\"configured\":false,\"keyId\":null,"
                      "\"account\":null,\"status\":null,\"lastTestAt\":null,\"lastTestOk\":null,"
                      "\"lastTestMessage\":null,\"updatedAt\":null,\"fields\":{},"
                      "\"accessTokenExpiresAt\":null,\"refreshTokenExpiresAt\":null,"
                      "\"warnings\":[]}");
    /* status needs no key, and a deleted row is unconfigured again */
    CHECK_INT(eng_vault_delete(st, "default", "woocommerce", &err), 0);
    eng_buf_reset(&b);
    CHECK_INT(eng_api_credentials_status(st, NULL, "default", "woocommerce", &b, &err), 0);
    CHECK(b.data != NULL && strstr(b.data, "\"configured\":false") != NULL);

    eng_buf_free(&b);
    eng_keyring_free(kr);
    eng_store_close(st);
    scratch_done();
}

/* ---- token rotation: versions, the refresh lease, compare-and-swap ---- */

#define TOK_V2  "{\"client_secret\":\"" SECRET "\",\"refresh_token\":\"rt-version-two\"}"
#define TOK_OLD "{\"client_secret\":\"" SECRET "\",\"refresh_token\":\"rt-older-set\"}"

static int64_t version_of(struct eng_store *st, const struct eng_keyring *kr, char *secret_out,
                          size_t cap)
{
    char *secret = NULL;
    size_t len = 0;
    int64_t v = -1;
    struct eng_err err = {0};
    if (eng_vault_get_versioned(st, kr, "default", "quickbooks", &secret, &len, NULL, &v, &err) !=
        0)
        return -1;
    snprintf(secret_out, cap, "%s", secret);
    eng_vault_free_secret(secret, len);
    return v;
}

static void test_token_lease_and_cas(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *kr = ring(KEY_A, NULL);
    struct eng_err err = {0};
    char sec[256], v[128];
    int64_t cur = -1, nv = -1;

    CHECK_INT(eng_vault_lease_take(st, "default", "quickbooks", "owner-a", 0, 60000, &cur, &err),
              ENG_ENOTFOUND);
    REQUIRE(put(st, kr, "default", "quickbooks", SECRET_JSON) == 0);
    CHECK_INT(version_of(st, kr, sec, sizeof sec), 0);
    REQUIRE(put(st, kr, "default", "quickbooks", SECRET_JSON) == 0);
    CHECK_INT(version_of(st, kr, sec, sizeof sec), 1); /* a replaced row moves on */
    CHECK_INT(eng_vault_set_status(st, "default", "quickbooks", 1, "connected", &err), 0);

    /* one holder at a time; re-taking one's own lease is fine */
    CHECK_INT(eng_vault_lease_take(st, "default", "quickbooks", "owner-a", 1, 60000, &cur, &err),
              1);
    CHECK_INT(eng_vault_lease_take(st, "default", "quickbooks", "owner-b", 1, 60000, &cur, &err),
              0);
    CHECK_INT(cur, 1); /* same version: another holder has it */
    CHECK_INT(eng_vault_lease_take(st, "default", "quickbooks", "owner-a", 1, 60000, &cur, &err),
              1);
    /* a taker holding an older version is told the row moved on */
    CHECK_INT(eng_vault_lease_take(st, "default", "quickbooks", "owner-b", 0, 60000, &cur, &err),
              0);
    CHECK_INT(cur, 1);

    /* the holder stores over version 1: version 2, lease freed, status kept */
    CHECK_INT(eng_vault_put_tokens(st, kr, "default", "quickbooks", 1, "owner-a", TOK_V2,
                                   strlen(TOK_V2), "{\"realm_id\":\"9130\"}", "9130", &nv, &err),
              0);
    CHECK_INT(nv, 2);
    CHECK_INT(version_of(st, kr, sec, sizeof sec), 2);
    CHECK_STR(sec, TOK_V2);
    query_text(st,
               "SELECT coalesce(refresh_lease_owner, 'free') || ' ' || status"
               " FROM integration_credentials",
               v, sizeof v);
    CHECK_STR(v, "free connected");

    /* an older token set (written over version 1) never replaces version 2 */
    CHECK_INT(eng_vault_put_tokens(st, kr, "default", "quickbooks", 1, "owner-b", TOK_OLD,
                                   strlen(TOK_OLD), NULL, NULL, &nv, &err),
              ENG_EEXIST);
    CHECK(strstr(err.msg, "newer credentials for quickbooks are stored") != NULL);
    CHECK(strstr(err.msg, "rt-older") == NULL);
    CHECK_INT(version_of(st, kr, sec, sizeof sec), 2);
    CHECK_STR(sec, TOK_V2);

    /* release frees only one's own lease */
    CHECK_INT(eng_vault_lease_take(st, "default", "quickbooks", "owner-b", 2, 60000, &cur, &err),
              1);
    CHECK_INT(eng_vault_lease_release(st, "default", "quickbooks", "owner-a", NULL, &err), 0);
    CHECK_INT(eng_vault_lease_take(st, "default", "quickbooks", "owner-a", 2, 60000, &cur, &err),
              0);
    CHECK_INT(eng_vault_lease_release(st, "default", "quickbooks", "owner-b", NULL, &err), 0);
    CHECK_INT(eng_vault_lease_take(st, "default", "quickbooks", "owner-a", 2, 60000, &cur, &err),
              1);

    /* a holder that died: once its lease lapses, another takes it */
    CHECK_INT(eng_store_exec(st,
                             "UPDATE integration_credentials SET refresh_lease_until ="
                             " strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 seconds')",
                             &err),
              0);
    CHECK_INT(eng_vault_lease_take(st, "default", "quickbooks", "owner-b", 2, 60000, &cur, &err),
              1);
    /* the lease lasts lease_ms (clamped to at least 1 s) from the database's now */
    query_text(st,
               "SELECT CAST(round((julianday(refresh_lease_until) - julianday('now')) * 86400)"
               " AS INTEGER) FROM integration_credentials",
               v, sizeof v);
    CHECK_STR(v, "60");
    CHECK_INT(eng_vault_lease_take(st, "default", "quickbooks", "owner-b", 2, 5, &cur, &err), 1);
    query_text(st,
               "SELECT CAST(round((julianday(refresh_lease_until) - julianday('now')) * 86400)"
               " AS INTEGER) FROM integration_credentials",
               v, sizeof v);
    CHECK_STR(v, "1");

    /* a refused refresh token: status expired, a reconnect_required warning, lease freed */
    CHECK_INT(eng_vault_lease_release(st, "default", "quickbooks", "owner-b",
                                      "QuickBooks refused the refresh token (invalid_grant)", &err),
              0);
    struct eng_buf b;
    eng_buf_init(&b);
    CHECK_INT(eng_api_credentials_status(st, NULL, "default", "quickbooks", &b, &err), 0);
    REQUIRE(b.data != NULL);
    CHECK(strstr(b.data, "\"status\":\"expired\"") != NULL);
    CHECK(strstr(b.data, "{\"code\":\"reconnect_required\"") != NULL);
    CHECK(strstr(b.data, "invalid_grant") != NULL);
    eng_buf_free(&b);
    query_text(st, "SELECT coalesce(refresh_lease_owner, 'free') FROM integration_credentials", v,
               sizeof v);
    CHECK_STR(v, "free");

    /* bad owners; a deleted row */
    CHECK_INT(eng_vault_lease_take(st, "default", "quickbooks", "", 2, 1000, &cur, &err),
              ENG_EINVAL);
    CHECK_INT(eng_vault_delete(st, "default", "quickbooks", &err), 0);
    CHECK_INT(eng_vault_put_tokens(st, kr, "default", "quickbooks", 2, NULL, TOK_V2, strlen(TOK_V2),
                                   NULL, NULL, &nv, &err),
              ENG_EEXIST);
    CHECK_INT(eng_vault_lease_release(st, "default", "quickbooks", "owner-a", NULL, &err),
              ENG_ENOTFOUND);

    eng_keyring_free(kr);
    eng_store_close(st);
    scratch_done();
}

/* exists and find: who has a row, matched by tenant or account, and a fingerprint that follows
 * every re-seal; never the ciphertext itself. */
static void test_exists_and_find(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *kr = ring(KEY_A, NULL);
    struct eng_err err = {0};
    REQUIRE(kr != NULL);
    CHECK_INT(eng_vault_exists(st, "t1", "woocommerce", &err), 0);
    CHECK_INT(put(st, kr, "t2", "woocommerce", SECRET_JSON), 0); /* account: the shop URL */
    CHECK_INT(put(st, kr, "t1", "woocommerce", SECRET_JSON), 0);
    CHECK_INT(eng_vault_exists(st, "t1", "woocommerce", &err), 1);
    CHECK_INT(eng_vault_exists(st, "t1", "quickbooks", &err), 0);
    CHECK_INT(eng_vault_exists(st, "", "woocommerce", &err), ENG_EINVAL);

    struct eng_vault_ref refs[4];
    int n = -1;
    CHECK_INT(eng_vault_find(st, "woocommerce", ENG_VAULT_BY_ACCOUNT,
                             "https://shop.vault-test.example", refs, 4, &n, &err),
              0);
    REQUIRE(n == 2);
    CHECK_STR(refs[0].tenant, "t1"); /* ordered by tenant */
    CHECK_STR(refs[1].tenant, "t2");
    unsigned char ct[4096], dg[32];
    size_t len = ciphertext_of(st, "t1", "woocommerce", ct, sizeof ct);
    REQUIRE(len > 0);
    eng_crypto_sha256(ct, len, dg, NULL);
    CHECK(memcmp(refs[0].fingerprint, dg, 32) == 0);
    CHECK_INT(eng_vault_find(st, "woocommerce", ENG_VAULT_BY_ACCOUNT,
                             "https://shop.vault-test.example", refs, 1, &n, &err),
              0);
    CHECK_INT(n, 1);
    /* the newest first: t2 stored again */
    unsigned char before[32];
    CHECK_INT(eng_vault_find(st, "woocommerce", ENG_VAULT_BY_TENANT, "t2", refs, 4, &n, &err), 0);
    REQUIRE(n == 1);
    memcpy(before, refs[0].fingerprint, 32);
    REQUIRE(eng_store_exec(st,
                           "UPDATE integration_credentials SET updated_at = '2000-01-01T00:00:00Z'"
                           " WHERE tenant_id = 't1'",
                           &err) == 0);
    CHECK_INT(put(st, kr, "t2", "woocommerce", SECRET_JSON), 0);
    CHECK_INT(eng_vault_find(st, "woocommerce", ENG_VAULT_BY_ACCOUNT_NEWEST,
                             "https://shop.vault-test.example", refs, 4, &n, &err),
              0);
    REQUIRE(n == 2);
    CHECK_STR(refs[0].tenant, "t2");
    CHECK(memcmp(refs[0].fingerprint, before, 32) != 0); /* re-sealed: a new fingerprint */
    CHECK_INT(eng_vault_find(st, "woocommerce", ENG_VAULT_BY_TENANT, "nobody", refs, 4, &n, &err),
              0);
    CHECK_INT(n, 0);
    /* an inactive row is not found */
    REQUIRE(eng_store_exec(st, "UPDATE integration_credentials SET is_active = 0", &err) == 0);
    CHECK_INT(eng_vault_find(st, "woocommerce", ENG_VAULT_BY_TENANT, "t2", refs, 4, &n, &err), 0);
    CHECK_INT(n, 0);
    CHECK_INT(eng_vault_exists(st, "t2", "woocommerce", &err), 0);
    eng_keyring_free(kr);
    eng_store_close(st);
    scratch_done();
}

/* find with a kept statement (the webhook path's, issue 14): the same answers as eng_vault_find,
 * and between two calls it holds no read transaction, so another connection's change (a new
 * row, a re-seal, a deactivation) shows in the very next call. */
static void test_find_with_kept_statement(void)
{
    struct eng_store *st = fresh_store();
    struct eng_keyring *kr = ring(KEY_A, NULL);
    struct eng_err err = {0};
    REQUIRE(kr != NULL);
    struct eng_store *other = NULL;
    REQUIRE(eng_store_open(store_fixture_path, &other, &err) == 0);
    struct eng_store_stmt *slot = NULL;
    struct eng_vault_ref refs[4];
    int n = -1;
    CHECK_INT(eng_vault_find_with(other, &slot, "woocommerce", ENG_VAULT_BY_TENANT, "t1", refs, 4,
                                  &n, &err),
              0);
    CHECK_INT(n, 0);
    REQUIRE(slot != NULL); /* kept for the next call */
    struct eng_store_stmt *kept = slot;
    CHECK_INT(put(st, kr, "t1", "woocommerce", SECRET_JSON), 0);
    CHECK_INT(eng_vault_find_with(other, &slot, "woocommerce", ENG_VAULT_BY_TENANT, "t1", refs, 4,
                                  &n, &err),
              0);
    CHECK_INT(n, 1);
    CHECK(slot == kept); /* the same statement, not prepared again */
    unsigned char before[32];
    memcpy(before, refs[0].fingerprint, 32);
    CHECK_INT(put(st, kr, "t1", "woocommerce", SECRET_JSON), 0); /* re-sealed */
    CHECK_INT(eng_vault_find_with(other, &slot, "woocommerce", ENG_VAULT_BY_TENANT, "t1", refs, 4,
                                  &n, &err),
              0);
    REQUIRE(n == 1);
    CHECK(memcmp(refs[0].fingerprint, before, 32) != 0);
    /* the kept statement holds no snapshot: a full checkpoint is not blocked by it (busy = 0);
     * SQLite's WAL only */
    if (!store_fixture_pg()) {
        eng_store_set_busy_timeout(st, 0);
        struct eng_store_stmt *ck = NULL;
        CHECK_INT(eng_store_row(st, "PRAGMA wal_checkpoint(TRUNCATE)", &ck, &err, ""),
                  ENG_STORE_ROW);
        CHECK_INT(eng_store_column_int64(ck, 0), 0);
        eng_store_finalize(ck);
    }
    REQUIRE(eng_store_exec(st, "UPDATE integration_credentials SET is_active = 0", &err) == 0);
    CHECK_INT(eng_vault_find_with(other, &slot, "woocommerce", ENG_VAULT_BY_TENANT, "t1", refs, 4,
                                  &n, &err),
              0);
    CHECK_INT(n, 0);
    eng_store_finalize(slot);
    eng_store_close(other);
    eng_keyring_free(kr);
    eng_store_close(st);
    scratch_done();
}

CHECK_MAIN(CHECK_CASE(test_put_get_roundtrip), CHECK_CASE(test_find_with_kept_statement),
           CHECK_CASE(test_fresh_nonce), CHECK_CASE(test_file_bytes), CHECK_CASE(test_aad_binding),
           CHECK_CASE(test_documented_layout), CHECK_CASE(test_unknown_key),
           CHECK_CASE(test_check_keys), CHECK_CASE(test_delete_and_status_errors),
           CHECK_CASE(test_status_json), CHECK_CASE(test_token_lease_and_cas),
           CHECK_CASE(test_exists_and_find))
