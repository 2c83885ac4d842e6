/*
 * vault_fixture.h - what the vault's unit tests share (test_vault.c, test_vault_rotate.c,
 * test_keyring.c): scratch folders with a migrated database, fixed test keys and their ids, row
 * readers and file scans. Included once per test file; owns only its scratch folder.
 */
#ifndef VAULT_FIXTURE_H
#define VAULT_FIXTURE_H

#include "check.h"
#include "adapt/crypto.h"
#include "adapt/store.h"
#include "data/vault.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wunused-function" /* each test file uses a part */

#define SECRET      "sk_live_VAULT_TEST_9f8e7d6c5b4a"
#define SECRET_JSON "{\"consumer_key\":\"ck_0123456789\",\"consumer_secret\":\"" SECRET "\"}"
#define PUBLIC_JSON "{\"store_url\":\"https://shop.vault-test.example\"}"

/* ---- helpers ---- */

#ifndef STORE_FIXTURE_NAME
#define STORE_FIXTURE_NAME "test_vault"
#endif
#include "store_fixture.h"

#define dbpath store_fixture_path

/* Remove the scratch store (its connections closed). */
static void scratch_done(void)
{
    store_fixture_drop();
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

/* SQLite only (the file and its WAL): callers skip it on PostgreSQL, saying so. */
static int db_files_contain(const char *needle)
{
    char wal[1100];
    snprintf(wal, sizeof wal, "%s-wal", dbpath);
    return file_contains(dbpath, needle, strlen(needle)) ||
           file_contains(wal, needle, strlen(needle));
}

/* A text snapshot of every row's id, tenant, platform, key id and ciphertext. */
static void snapshot(struct eng_store *st, char *out, size_t cap)
{
    query_text(st,
               "SELECT group_concat(id || ':' || tenant_id || ':' || platform || ':' || key_id"
               " || ':' || hex(ciphertext), ';') FROM (SELECT * FROM integration_credentials"
               " ORDER BY id) AS c",
               out, cap);
}

#endif
