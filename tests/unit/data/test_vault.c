/*
 * test_vault.c - unit tier for engine/data/vault.c against real, migrated SQLite files in mkdtemp
 * folders: keyring parsing and key ids, put/get, fresh nonces, the raw file bytes, associated
 * data binding (tenant, platform, key id), unknown keys, delete, status JSON, and rotation
 * (success, idempotence, old/new keyrings, all-or-nothing rollback).
 * Owns only its scratch folders (removed at the end of each test).
 */
#include "check.h"
#include "adapt/crypto.h"
#include "api/api.h"
#include "adapt/store.h"
#include "data/vault.h"

#include <ftw.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET      "sk_live_VAULT_TEST_9f8e7d6c5b4a"
#define SECRET_JSON "{\"consumer_key\":\"ck_0123456789\",\"consumer_secret\":\"" SECRET "\"}"
#define PUBLIC_JSON "{\"store_url\":\"https://shop.vault-test.example\"}"

/* ---- helpers ---- */

static char tmproot[64];
static char dbpath[128];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void scratch_done(void)
{
    if (tmproot[0] != '\0') {
        nftw(tmproot, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        tmproot[0] = '\0';
    }
}

/* A fresh scratch folder with a migrated database in it. */
static struct eng_store *fresh_store(void)
{
    scratch_done();
    snprintf(tmproot, sizeof tmproot, "/tmp/test_vault.XXXXXX");
    if (mkdtemp(tmproot) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(dbpath, sizeof dbpath, "%s/vault.db", tmproot);
    const char *schema = getenv("SCHEMA_DIR");
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    if (eng_store_open(dbpath, &st, &err) != 0 ||
        eng_store_migrate(st, schema != NULL ? schema : "schema", NULL, &err) != 0) {
        fprintf(stderr, "store: %s\n", err.msg);
        exit(2);
    }
    return st;
}

/* base64 of n bytes all equal to fill (n <= 64), in a static buffer per slot. */
static const char *key_b64(unsigned char fill, size_t n, int slot)
{
    static char text[4][128];
    unsigned char raw[64];
    memset(raw, fill, n);
    if (eng_crypto_base64_encode(raw, n, text[slot], sizeof text[slot], NULL, NULL) != 0) {
        return "(encode failed)";
    }
    return text[slot];
}

#define KEY_A key_b64(0xA1, 32, 0)
#define KEY_B key_b64(0xB2, 32, 1)
#define KEY_C key_b64(0xC3, 32, 2)

static struct eng_keyring *ring(const char *cur, const char *prev)
{
    struct eng_keyring *kr = NULL;
    struct eng_err err = {0};
    if (eng_keyring_parse(cur, prev, &kr, &err) != 0) {
        fprintf(stderr, "keyring: %s\n", err.msg);
    }
    return kr;
}

/* The key id computed independently: hex of SHA-256("tallysync key id\0" || key)[0..8). */
static void expected_id(unsigned char fill, char out[17])
{
    unsigned char msg[17 + 32], digest[32];
    memcpy(msg, "tallysync key id", 17);
    memset(msg + 17, fill, 32);
    eng_crypto_sha256(msg, sizeof msg, digest, NULL);
    eng_crypto_hex_encode(digest, 8, out, 17, NULL);
}

static int put(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
               const char *platform, const char *secret)
{
    struct eng_err err = {0};
    int rc = eng_vault_put(st, kr, tenant, platform, secret, strlen(secret), PUBLIC_JSON,
                           "https://shop.vault-test.example", &err);
    if (rc != 0) {
        fprintf(stderr, "put: %s\n", err.msg);
    }
    return rc;
}

/* get, returning the code; *msg gets the error text. On success the secret must equal want. */
static int get_check(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                     const char *platform, const char *want, struct eng_err *err)
{
    char *secret = NULL, *pub = NULL;
    size_t len = 0;
    int rc = eng_vault_get(st, kr, tenant, platform, &secret, &len, &pub, err);
    if (rc == 0) {
        CHECK(want != NULL && len == strlen(want) && memcmp(secret, want, len) == 0);
        CHECK_INT(secret[len], '\0');
        CHECK_STR(pub, PUBLIC_JSON);
    } else {
        CHECK(secret == NULL && len == 0 && pub == NULL);
    }
    eng_vault_free_secret(secret, len);
    free(pub);
    return rc;
}

/* First text column of the first row of sql (a constant), copied into out. */
static void query_text(struct eng_store *st, const char *sql, char *out, size_t cap)
{
    struct eng_store_stmt *s = NULL;
    out[0] = '\0';
    if (eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, NULL) == 0 &&
        eng_store_step(s, NULL) == ENG_STORE_ROW) {
        const char *v = eng_store_column_text(s, 0, NULL);
        snprintf(out, cap, "%s", v != NULL ? v : "");
    }
    eng_store_finalize(s);
}

/* json_extract(json, path) as text through SQLite ("" when NULL). */
static void json_at(struct eng_store *st, const char *json, const char *path, char *out, size_t cap)
{
    struct eng_store_stmt *s = NULL;
    out[0] = '\0';
    if (eng_store_prepare(st, "SELECT json_extract(?1, ?2)", -1, ENG_STORE_TRUSTED, &s, NULL) ==
            0 &&
        eng_store_bind_text(s, 1, json, strlen(json)) == 0 &&
        eng_store_bind_text(s, 2, path, strlen(path)) == 0 &&
        eng_store_step(s, NULL) == ENG_STORE_ROW) {
        const char *v = eng_store_column_text(s, 0, NULL);
        snprintf(out, cap, "%s", v != NULL ? v : "");
    }
    eng_store_finalize(s);
}

static int json_valid(struct eng_store *st, const char *json)
{
    struct eng_store_stmt *s = NULL;
    int ok = 0;
    if (eng_store_prepare(st, "SELECT json_valid(?1)", -1, ENG_STORE_TRUSTED, &s, NULL) == 0 &&
        eng_store_bind_text(s, 1, json, strlen(json)) == 0 &&
        eng_store_step(s, NULL) == ENG_STORE_ROW) {
        ok = eng_store_column_int64(s, 0) == 1;
    }
    eng_store_finalize(s);
    return ok;
}

/* The ciphertext of (tenant, platform) into buf; returns its length (0 when none). */
static size_t ciphertext_of(struct eng_store *st, const char *tenant, const char *platform,
                            unsigned char *buf, size_t cap)
{
    struct eng_store_stmt *s = NULL;
    size_t n = 0;
    if (eng_store_prepare(st,
                          "SELECT ciphertext FROM integration_credentials"
                          " WHERE tenant_id = ?1 AND platform = ?2",
                          -1, ENG_STORE_TRUSTED, &s, NULL) == 0 &&
        eng_store_bind_text(s, 1, tenant, strlen(tenant)) == 0 &&
        eng_store_bind_text(s, 2, platform, strlen(platform)) == 0 &&
        eng_store_step(s, NULL) == ENG_STORE_ROW) {
        const void *b = eng_store_column_blob(s, 0, &n);
        if (n > cap) {
            n = cap;
        }
        memcpy(buf, b, n);
    }
    eng_store_finalize(s);
    return n;
}

/* 1 when the file at path contains needle[0..n). A missing file contains nothing. */
static int file_contains(const char *path, const void *needle, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }
    size_t cap = 1 << 16, len = 0;
    unsigned char *data = malloc(cap);
    size_t got;
    while (data != NULL && (got = fread(data + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *grown = realloc(data, cap * 2);
            if (grown == NULL) {
                break;
            }
            data = grown;
            cap *= 2;
        }
    }
    fclose(f);
    int found = data != NULL && memmem(data, len, needle, n) != NULL;
    free(data);
    return found;
}

static int db_files_contain(const char *needle)
{
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", dbpath);
    return file_contains(dbpath, needle, strlen(needle)) ||
           file_contains(wal, needle, strlen(needle));
}

/* ---- keyring ---- */

static void test_keyring_missing_and_malformed(void)
{
    struct eng_keyring *kr = (struct eng_keyring *)1;
    struct eng_err err = {0};

    CHECK_INT(eng_keyring_parse(NULL, NULL, &kr, &err), ENG_EINVAL);
    CHECK(kr == NULL);
    CHECK(strstr(err.msg, "INTEGRATION_ENCRYPTION_KEY is not set") != NULL);
    CHECK(strstr(err.msg, "tallysync keygen") != NULL);
    CHECK_INT(eng_keyring_parse(" \t\n", NULL, &kr, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "is not set") != NULL);

    CHECK_INT(eng_keyring_parse("not base64 at all!", NULL, &kr, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "INTEGRATION_ENCRYPTION_KEY is not valid base64") != NULL);
    CHECK(strstr(err.msg, "not base64 at all") == NULL);
    /* base64url of a 32-byte key is not the standard alphabet */
    CHECK_INT(eng_keyring_parse("-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8=", NULL, &kr, &err),
              ENG_EINVAL);
    CHECK(strstr(err.msg, "not valid base64") != NULL);

    const char *k31 = key_b64(0x31, 31, 3);
    CHECK_INT(eng_keyring_parse(k31, NULL, &kr, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "INTEGRATION_ENCRYPTION_KEY must be base64 of 32 bytes (got 31 bytes)");
    const char *k33 = key_b64(0x33, 33, 3);
    CHECK_INT(eng_keyring_parse(k33, NULL, &kr, &err), ENG_EINVAL);
    CHECK_STR(err.msg, "INTEGRATION_ENCRYPTION_KEY must be base64 of 32 bytes (got 33 bytes)");
    CHECK(strstr(err.msg, k33) == NULL);
    CHECK(kr == NULL);

    /* a bad previous entry is named by position, never shown */
    char prev[256];
    snprintf(prev, sizeof prev, "%s,%s", KEY_B, key_b64(0x31, 31, 3));
    CHECK_INT(eng_keyring_parse(KEY_A, prev, &kr, &err), ENG_EINVAL);
    CHECK_STR(err.msg,
              "INTEGRATION_ENCRYPTION_KEY_PREVIOUS entry 2 must be base64 of 32 bytes (got 31 "
              "bytes)");
    CHECK(strstr(err.msg, KEY_A) == NULL && strstr(err.msg, KEY_B) == NULL);
    CHECK(kr == NULL);

    /* the named form, as rotate-key uses it */
    CHECK_INT(eng_keyring_parse_named("NEW_KEY", NULL, NULL, NULL, &kr, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "NEW_KEY is not set") != NULL);
    CHECK_INT(eng_keyring_parse_named("NEW_KEY", "@@@@", NULL, NULL, &kr, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "NEW_KEY is not valid base64") != NULL);
}

static void test_keyring_ids_whitespace_previous(void)
{
    char ida[17], idb[17], idc[17];
    expected_id(0xA1, ida);
    expected_id(0xB2, idb);
    expected_id(0xC3, idc);

    struct eng_keyring *kr = ring(KEY_A, NULL);
    REQUIRE(kr != NULL);
    CHECK_STR(eng_keyring_current_id(kr), ida);
    CHECK_INT(strlen(eng_keyring_current_id(kr)), 16);
    CHECK_INT(eng_keyring_count(kr), 1);
    eng_keyring_free(kr);

    char padded[256];
    snprintf(padded, sizeof padded, " \t%s\r\n", KEY_A);
    kr = ring(padded, "");
    REQUIRE(kr != NULL);
    CHECK_STR(eng_keyring_current_id(kr), ida);
    eng_keyring_free(kr);

    /* empty items skipped, whitespace trimmed, duplicates (also of the current key) dropped */
    char prev[1024];
    snprintf(prev, sizeof prev, " %s , ,%s,%s ,%s,", KEY_B, KEY_C, KEY_B, KEY_A);
    kr = ring(KEY_A, prev);
    REQUIRE(kr != NULL);
    CHECK_INT(eng_keyring_count(kr), 3);
    CHECK_STR(eng_keyring_current_id(kr), ida);
    CHECK(eng_keyring_has(kr, ida) && eng_keyring_has(kr, idb) && eng_keyring_has(kr, idc));
    CHECK(!eng_keyring_has(kr, "0000000000000000"));
    eng_keyring_free(kr);
    eng_keyring_free(NULL);

    /* from the environment */
    struct eng_err err = {0};
    unsetenv("INTEGRATION_ENCRYPTION_KEY");
    unsetenv("INTEGRATION_ENCRYPTION_KEY_PREVIOUS");
    CHECK_INT(eng_keyring_from_env(&kr, &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "is not set") != NULL);
    setenv("INTEGRATION_ENCRYPTION_KEY", padded, 1);
    setenv("INTEGRATION_ENCRYPTION_KEY_PREVIOUS", KEY_B, 1);
    CHECK_INT(eng_keyring_from_env(&kr, &err), 0);
    REQUIRE(kr != NULL);
    CHECK_STR(eng_keyring_current_id(kr), ida);
    CHECK(eng_keyring_has(kr, idb));
    eng_keyring_free(kr);
    unsetenv("INTEGRATION_ENCRYPTION_KEY");
    unsetenv("INTEGRATION_ENCRYPTION_KEY_PREVIOUS");
}

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
    query_text(st,
               "SELECT count(*) || '|' || status || '|' || public_fields || '|' ||"
               " ifnull(external_account_id, 'NULL') || '|' || ifnull(last_test_ok, 'NULL')"
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
                      "\"status\":null,\"lastTestAt\":null,\"lastTestOk\":null,"
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

/* ---- rotation ---- */

/* A text snapshot of every row's id, tenant, platform, key id and ciphertext. */
static void snapshot(struct eng_store *st, char *out, size_t cap)
{
    query_text(st,
               "SELECT group_concat(id || ':' || tenant_id || ':' || platform || ':' || key_id"
               " || ':' || hex(ciphertext), ';') FROM (SELECT * FROM integration_credentials"
               " ORDER BY id)",
               out, cap);
}

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

CHECK_MAIN(CHECK_CASE(test_keyring_missing_and_malformed),
           CHECK_CASE(test_keyring_ids_whitespace_previous), CHECK_CASE(test_put_get_roundtrip),
           CHECK_CASE(test_fresh_nonce), CHECK_CASE(test_file_bytes), CHECK_CASE(test_aad_binding),
           CHECK_CASE(test_documented_layout), CHECK_CASE(test_unknown_key),
           CHECK_CASE(test_check_keys), CHECK_CASE(test_delete_and_status_errors),
           CHECK_CASE(test_status_json), CHECK_CASE(test_rotate),
           CHECK_CASE(test_rotate_rolls_back), CHECK_CASE(test_token_lease_and_cas))
