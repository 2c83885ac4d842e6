/*
 * vault.c - the sealed rows of integration_credentials (vault.h): put, get, delete, test status,
 * refresh leases and compare-and-swap token writes, and the seal/open of one row's blob that
 * rotation (vault_rotate.c) shares. Keys come from keyring.h, crypto through crypto.h, SQL through
 * store.h. Owns: the plaintext buffers it hands out; every buffer that held a secret is wiped
 * before it is freed. Must not: put key material or secret values into error messages, logs or
 * SQL parameters other than the sealed blob.
 */
#include "data/vault.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapt/crypto.h"
#include "data/vault_seal.h"

#define AAD_PREFIX "tallysync-cred-v1"

/* ------------------------------------------------------------------------------------------ */
/* sealing (vault_seal.h)                                                                      */

/* Seal (seal != 0) or open in[0..inlen) into out[0..outlen) under key, with the associated data
 * "tallysync-cred-v1" NUL tenant NUL platform NUL kid (see vault.h). The crypto's own codes. */
static int crypt_row(int seal, const unsigned char *key, const char *kid, const char *tenant,
                     const char *platform, const void *in, size_t inlen, unsigned char *out,
                     size_t outlen, struct eng_err *err)
{
    struct eng_buf aad;
    eng_buf_init(&aad);
    eng_buf_append(&aad, AAD_PREFIX, sizeof AAD_PREFIX);
    eng_buf_append(&aad, tenant, strlen(tenant) + 1);
    eng_buf_append(&aad, platform, strlen(platform) + 1);
    eng_buf_append(&aad, kid, strlen(kid));
    int rc;
    if (aad.oom) {
        rc = eng_err_set(err, ENG_ENOMEM, "out of memory sealing credentials");
    } else if (seal) {
        rc = eng_crypto_seal(key, aad.data, aad.len, in, inlen, out, outlen, NULL, err);
    } else {
        rc = eng_crypto_open(key, aad.data, aad.len, in, inlen, out, outlen, NULL, NULL);
    }
    eng_buf_free(&aad);
    return rc;
}

int eng_vault_seal_blob(const unsigned char *key, const char *kid, const char *tenant,
                        const char *platform, const char *pt, size_t len, unsigned char **blob,
                        size_t *bloblen, struct eng_err *err)
{
    *blob = NULL;
    *bloblen = 0;
    size_t n = len + ENG_CRYPTO_SEAL_OVERHEAD;
    unsigned char *out = malloc(n);
    if (out == NULL) {
        return eng_err_set(err, ENG_ENOMEM, "out of memory sealing credentials");
    }
    int rc = crypt_row(1, key, kid, tenant, platform, pt != NULL ? pt : "", len, out, n, err);
    if (rc != 0) {
        free(out);
        return rc;
    }
    *blob = out;
    *bloblen = n;
    return 0;
}

static int cannot_decrypt(struct eng_err *err, const char *platform, const char *kid)
{
    return eng_err_set(err, ENG_EAUTH,
                       "stored credentials for %.100s cannot be decrypted with the configured "
                       "keys (key id %.32s)",
                       platform, kid);
}

int eng_vault_open_blob(const unsigned char *key, const char *kid, const char *tenant,
                        const char *platform, const void *blob, size_t bloblen, char **pt,
                        size_t *ptlen, struct eng_err *err)
{
    *pt = NULL;
    *ptlen = 0;
    if (key == NULL || bloblen < ENG_CRYPTO_SEAL_OVERHEAD) {
        return cannot_decrypt(err, platform, kid);
    }
    size_t n = bloblen - ENG_CRYPTO_SEAL_OVERHEAD;
    char *out = malloc(n + 1);
    if (out == NULL) {
        return eng_err_set(err, ENG_ENOMEM, "out of memory opening credentials");
    }
    int rc = crypt_row(0, key, kid, tenant, platform, blob, bloblen, (unsigned char *)out, n, err);
    if (rc == ENG_EAUTH) {
        rc = cannot_decrypt(err, platform, kid);
    } else if (rc != 0) {
        rc = eng_err_set(err, rc, "cannot open the credentials for %.100s", platform);
    }
    if (rc != 0) {
        eng_vault_free_secret(out, n);
        return rc;
    }
    out[n] = '\0';
    *pt = out;
    *ptlen = n;
    return 0;
}

void eng_vault_free_secret(char *p, size_t len)
{
    if (p == NULL) {
        return;
    }
    eng_crypto_wipe(p, len + 1);
    free(p);
}

/* ------------------------------------------------------------------------------------------ */
/* statement helpers                                                                           */

static int check_names(const char *tenant, const char *platform, struct eng_err *err)
{
    if (tenant == NULL || tenant[0] == '\0') {
        return eng_err_set(err, ENG_EINVAL, "a tenant id is required");
    }
    if (platform == NULL || platform[0] == '\0') {
        return eng_err_set(err, ENG_EINVAL, "a platform name is required");
    }
    return 0;
}

/* Prefix err's message with what was being done (the store's message names no value). */
static int store_err(struct eng_err *err, int rc, const char *what, const char *platform)
{
    if (err != NULL) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        eng_err_set(err, rc, "cannot %s credentials for %.100s: %s", what, platform, msg);
    }
    return rc;
}

static int not_stored(struct eng_err *err, const char *platform)
{
    return eng_err_set(err, ENG_ENOTFOUND, "no credentials are stored for %.100s", platform);
}

/* Changes after each write of this process to the rows' identity or seal (eng_vault_generation):
 * bumped once the statement has returned, so the write is committed unless the caller wrapped it
 * in a transaction of its own. */
static _Atomic unsigned long long vault_gen;

unsigned long long eng_vault_generation(void)
{
    return atomic_load_explicit(&vault_gen, memory_order_acquire);
}

void eng_vault_changed(void)
{
    atomic_fetch_add_explicit(&vault_gen, 1, memory_order_acq_rel);
}

/* rc, what eng_store_run or eng_store_row answered for a statement on platform's row: a failure
 * says what was being done; must_change: a statement that changed no row is ENG_ENOTFOUND. */
static int checked(int rc, const char *what, const char *platform, int must_change,
                   struct eng_err *err)
{
    if (rc < 0) {
        return store_err(err, rc, what, platform);
    }
    if (must_change && rc == 0) {
        return not_stored(err, platform);
    }
    return rc;
}

/* 1 when text is a JSON object (as the store's JSON functions read it), 0 when not, or < 0. */
static int is_json_object(struct eng_store *st, const char *text, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_row(st, "SELECT " ENG_STORE_IS_JSON_OBJECT("?1"), &s, err, "s", text);
    if (rc == ENG_STORE_ROW) {
        rc = eng_store_column_int64(s, 0) != 0;
    }
    eng_store_finalize(s);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* rows                                                                                        */

/* A row's sealed blob (malloc'd: the caller frees it; it holds no plaintext) and its key id. */
struct sealed {
    unsigned char *blob;
    size_t len;
    const char *kid;
};

/* What put and put_tokens share: check the names, sizes and *public_json (an object; NULL becomes
 * "{}"), and seal secret_json under kr's current key into *w. The statement then binds ?1-?6 as
 * "ssbsss": tenant, platform, the blob, its key id, the public fields and the external account id
 * (NULL binds NULL). */
static int seal_write(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                      const char *platform, const char *secret_json, size_t len,
                      const char **public_json, struct sealed *w, struct eng_err *err)
{
    *w = (struct sealed){0};
    int rc = check_names(tenant, platform, err);
    if (rc != 0) {
        return rc;
    }
    if (secret_json == NULL && len > 0) {
        return eng_err_set(err, ENG_EINVAL, "the credentials for %.100s are missing", platform);
    }
    if (len > SIZE_MAX - ENG_CRYPTO_SEAL_OVERHEAD) {
        return eng_err_set(err, ENG_EINVAL, "the credentials for %.100s are too large", platform);
    }
    *public_json = *public_json != NULL ? *public_json : "{}";
    rc = is_json_object(st, *public_json, err);
    if (rc < 0) {
        return store_err(err, rc, "store", platform);
    }
    if (rc == 0) {
        return eng_err_set(err, ENG_EINVAL,
                           "the public fields of the %.100s credentials must be a JSON object",
                           platform);
    }
    w->kid = eng_keyring_current_id(kr);
    return eng_vault_seal_blob(eng_keyring_current_key(kr), w->kid, tenant, platform, secret_json,
                               len, &w->blob, &w->len, err);
}

int eng_vault_put(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                  const char *platform, const char *secret_json, size_t len,
                  const char *public_json, const char *external_account_id, struct eng_err *err)
{
    struct sealed w;
    int rc = seal_write(st, kr, tenant, platform, secret_json, len, &public_json, &w, err);
    if (rc != 0) {
        return rc;
    }
    /* clang-format off */
    rc = eng_store_run(st,
                           "INSERT INTO integration_credentials (tenant_id, platform, ciphertext,"
                           " key_id, public_fields, external_account_id, is_active, status,"
                           " last_test_at, last_test_ok, last_test_message, updated_at)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, 'untested', NULL, NULL, NULL, "
                           ENG_STORE_NOW ")"
                           ENG_STORE_UPSERT("tenant_id, platform")
                           " ciphertext = excluded.ciphertext, key_id = excluded.key_id,"
                           " public_fields = excluded.public_fields,"
                           " external_account_id = excluded.external_account_id, is_active = 1,"
                           " status = 'untested', last_test_at = NULL, last_test_ok = NULL,"
                           " last_test_message = NULL, updated_at = excluded.updated_at,"
                           " token_version = integration_credentials.token_version + 1,"
                           " store_version = integration_credentials.store_version + 1,"
                           " refresh_lease_owner = NULL,"
                           " refresh_lease_until = NULL",
                           err, "ssbsss", tenant, platform, w.blob, w.len, w.kid, public_json,
                           external_account_id);
    /* clang-format on */
    eng_vault_changed();
    free(w.blob);
    rc = checked(rc, "store", platform, 0, err);
    return rc < 0 ? rc : 0;
}

int eng_vault_get(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                  const char *platform, char **secret_json, size_t *len, char **public_json,
                  struct eng_err *err)
{
    return eng_vault_get_versioned(st, kr, tenant, platform, secret_json, len, public_json, NULL,
                                   err);
}

int eng_vault_get_versioned(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                            const char *platform, char **secret_json, size_t *len,
                            char **public_json, int64_t *version, struct eng_err *err)
{
    if (version != NULL) {
        *version = 0;
    }
    *secret_json = NULL;
    *len = 0;
    if (public_json != NULL) {
        *public_json = NULL;
    }
    struct eng_store_stmt *s = NULL;
    int rc = check_names(tenant, platform, err);
    if (rc == 0) {
        rc = checked(eng_store_row(st,
                                   "SELECT ciphertext, key_id, public_fields, token_version"
                                   " FROM integration_credentials"
                                   " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1",
                                   &s, err, "ss", tenant, platform),
                     "read", platform, 0, err);
    }
    if (rc == ENG_STORE_DONE) {
        rc = not_stored(err, platform);
    }
    char *pt = NULL;
    size_t ptlen = 0;
    if (rc == ENG_STORE_ROW) {
        size_t bloblen = 0;
        const void *blob = eng_store_column_blob(s, 0, &bloblen);
        const char *kid = eng_store_column_text(s, 1, NULL);
        kid = kid != NULL ? kid : "";
        rc = eng_vault_open_blob(eng_keyring_find(kr, kid), kid, tenant, platform, blob, bloblen,
                                 &pt, &ptlen, err);
    }
    if (rc == 0 && version != NULL) {
        *version = eng_store_column_int64(s, 3);
    }
    if (rc == 0 && public_json != NULL) {
        const char *pub = eng_store_column_text(s, 2, NULL);
        *public_json = strdup(pub != NULL ? pub : "{}");
        if (*public_json == NULL) {
            rc = eng_err_set(err, ENG_ENOMEM, "out of memory reading credentials");
        }
    }
    eng_store_finalize(s);
    if (rc != 0) {
        eng_vault_free_secret(pt, ptlen);
        return rc;
    }
    *secret_json = pt;
    *len = ptlen;
    return 0;
}

int eng_vault_delete(struct eng_store *st, const char *tenant, const char *platform,
                     struct eng_err *err)
{
    int rc = check_names(tenant, platform, err);
    if (rc == 0) {
        rc = checked(eng_store_run(st,
                                   "DELETE FROM integration_credentials"
                                   " WHERE tenant_id = ?1 AND platform = ?2",
                                   err, "ss", tenant, platform),
                     "delete", platform, 1, err);
        eng_vault_changed();
    }
    return rc < 0 ? rc : 0;
}

int eng_vault_set_status(struct eng_store *st, const char *tenant, const char *platform, int ok,
                         const char *message, struct eng_err *err)
{
    static const char what[] = "update the status of";
    int rc = check_names(tenant, platform, err);
    if (rc == 0) {
        rc = checked(eng_store_run(st,
                                   "UPDATE integration_credentials SET"
                                   " status = CASE WHEN ?3 <> 0 THEN 'connected' ELSE 'error' END,"
                                   " last_test_at = " ENG_STORE_NOW ", last_test_ok = ?3,"
                                   " last_test_message = ?4"
                                   " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1",
                                   err, "ssis", tenant, platform, (int64_t)(ok != 0), message),
                     what, platform, 1, err);
    }
    return rc < 0 ? rc : 0;
}

int eng_vault_exists(struct eng_store *st, const char *tenant, const char *platform,
                     struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = check_names(tenant, platform, err);
    if (rc == 0) {
        rc = checked(eng_store_row(st,
                                   "SELECT 1 FROM integration_credentials"
                                   " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1",
                                   &s, err, "ss", tenant, platform),
                     "read", platform, 0, err);
    }
    eng_store_finalize(s);
    return rc;
}

int eng_vault_find_with(struct eng_store *st, struct eng_store_stmt **slot, const char *platform,
                        int by, const char *value, struct eng_vault_ref *refs, int max, int *n,
                        struct eng_err *err)
{
    static const char *const sql[] = {
        [ENG_VAULT_BY_TENANT] = "SELECT tenant_id, ciphertext FROM integration_credentials"
                                " WHERE platform = ?2 AND is_active = 1 AND tenant_id = ?1"
                                " ORDER BY tenant_id LIMIT ?3",
        [ENG_VAULT_BY_ACCOUNT] = "SELECT tenant_id, ciphertext FROM integration_credentials"
                                 " WHERE platform = ?2 AND is_active = 1"
                                 " AND external_account_id = ?1 ORDER BY tenant_id LIMIT ?3",
        [ENG_VAULT_BY_ACCOUNT_NEWEST] =
            "SELECT tenant_id, ciphertext FROM integration_credentials"
            " WHERE platform = ?2 AND is_active = 1 AND external_account_id = ?1"
            " ORDER BY updated_at DESC, tenant_id LIMIT ?3",
    };
    *n = 0;
    if (by < ENG_VAULT_BY_TENANT || by > ENG_VAULT_BY_ACCOUNT_NEWEST || max < 0)
        return eng_err_set(err, ENG_EINVAL, "eng_vault_find: bad arguments");
    /* the names are checked with value as the "tenant": both must be non-empty */
    int rc = check_names(value, platform, err);
    if (rc != 0)
        return rc;
    rc = eng_store_row_kept(st, sql[by], slot, err, "ssi", value, platform, (int64_t)max);
    struct eng_store_stmt *s = *slot;
    for (; rc == ENG_STORE_ROW; rc = eng_store_step(s, err)) {
        size_t tl = 0, cl = 0;
        const char *t = eng_store_column_text(s, 0, &tl);
        const void *ct = eng_store_column_blob(s, 1, &cl);
        if (t == NULL || tl > ENG_VAULT_TENANT_MAX || *n >= max)
            continue;
        memcpy(refs[*n].tenant, t, tl + 1);
        eng_crypto_sha256(ct != NULL ? ct : "", cl, refs[*n].fingerprint, NULL);
        ++*n;
    }
    if (s != NULL)
        eng_store_reset(s); /* a kept statement must not hold its read transaction open */
    return rc < 0 ? store_err(err, rc, "read", platform) : 0;
}

int eng_vault_find(struct eng_store *st, const char *platform, int by, const char *value,
                   struct eng_vault_ref *refs, int max, int *n, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_vault_find_with(st, &s, platform, by, value, refs, max, n, err);
    eng_store_finalize(s);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* token rotation                                                                              */

#define LEASE_MIN_MS 1000LL
#define LEASE_MAX_MS 600000LL

/* owner's lease columns cleared when owner holds the lease, kept otherwise (?N = owner) */
#define LEASE_FREED_BY(n)                                                                          \
    " refresh_lease_owner = CASE WHEN refresh_lease_owner = " n " THEN NULL"                       \
    " ELSE refresh_lease_owner END,"                                                               \
    " refresh_lease_until = CASE WHEN refresh_lease_owner = " n " THEN NULL"                       \
    " ELSE refresh_lease_until END"

static int check_owner(const char *owner, struct eng_err *err)
{
    size_t n = owner != NULL ? strlen(owner) : 0;
    if (n == 0 || n > 64) {
        return eng_err_set(err, ENG_EINVAL, "a refresh lease needs an owner id of 1-64 chars");
    }
    return 0;
}

int eng_vault_lease_take(struct eng_store *st, const char *tenant, const char *platform,
                         const char *owner, int64_t version, long long lease_ms, int64_t *current,
                         struct eng_err *err)
{
    if (current != NULL) {
        *current = version;
    }
    int rc = check_names(tenant, platform, err);
    if (rc == 0) {
        rc = check_owner(owner, err);
    }
    if (rc != 0) {
        return rc;
    }
    lease_ms = lease_ms < LEASE_MIN_MS ? LEASE_MIN_MS : lease_ms;
    lease_ms = lease_ms > LEASE_MAX_MS ? LEASE_MAX_MS : lease_ms;
    /* One statement: two takers serialize on SQLite's write lock (or a row lock elsewhere), and
     * the second one sees the first one's lease. */
    /* clang-format off */
    rc = eng_store_run(st,
                     "UPDATE integration_credentials SET refresh_lease_owner = ?3,"
                     " refresh_lease_until = " ENG_STORE_NOW_PLUS_MS("?5")
                     " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1"
                     " AND token_version = ?4 AND (refresh_lease_until IS NULL"
                     " OR refresh_lease_until <= " ENG_STORE_NOW " OR refresh_lease_owner = ?3)",
                     err, "sssii", tenant, platform, owner, version, (int64_t)lease_ms);
    /* clang-format on */
    rc = checked(rc, "lease", platform, 0, err);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1) {
        return 1;
    }
    /* not taken: the row's version tells a held lease from newer tokens */
    struct eng_store_stmt *s = NULL;
    rc = checked(eng_store_row(st,
                               "SELECT token_version FROM integration_credentials"
                               " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1",
                               &s, err, "ss", tenant, platform),
                 "read", platform, 0, err);
    if (rc == ENG_STORE_ROW && current != NULL) {
        *current = eng_store_column_int64(s, 0);
    }
    eng_store_finalize(s);
    if (rc == ENG_STORE_DONE) {
        return not_stored(err, platform);
    }
    return rc < 0 ? rc : 0;
}

int eng_vault_lease_release(struct eng_store *st, const char *tenant, const char *platform,
                            const char *owner, const char *expired_message, struct eng_err *err)
{
    static const char what[] = "release the lease of";
    int rc = check_names(tenant, platform, err);
    if (rc == 0) {
        rc = check_owner(owner, err);
    }
    if (rc != 0) {
        return rc;
    }
    /* clang-format off */
    rc = eng_store_run(st,
                     "UPDATE integration_credentials SET"
                     LEASE_FREED_BY("?3") ","
                     " status = CASE WHEN ?4 IS NULL THEN status ELSE 'expired' END,"
                     " last_test_ok = CASE WHEN ?4 IS NULL THEN last_test_ok ELSE 0 END,"
                     " last_test_at = CASE WHEN ?4 IS NULL THEN last_test_at"
                     " ELSE " ENG_STORE_NOW " END,"
                     " last_test_message = coalesce(?4, last_test_message)"
                     " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1",
                     err, "ssss", tenant, platform, owner, expired_message);
    /* clang-format on */
    rc = checked(rc, what, platform, 1, err);
    return rc < 0 ? rc : 0;
}

int eng_vault_put_tokens(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                         const char *platform, int64_t expected, const char *owner,
                         const char *secret_json, size_t len, const char *public_json,
                         const char *external_account_id, int64_t *new_version, struct eng_err *err)
{
    if (new_version != NULL) {
        *new_version = expected;
    }
    /* compare-and-swap on token_version: an older token set never overwrites a newer one */
    struct sealed w;
    int rc = seal_write(st, kr, tenant, platform, secret_json, len, &public_json, &w, err);
    if (rc != 0) {
        return rc;
    }
    struct eng_store_stmt *s = NULL;
    /* clang-format off */
    rc = eng_store_row(st,
                           "UPDATE integration_credentials SET ciphertext = ?3, key_id = ?4,"
                           " public_fields = ?5, external_account_id = ?6,"
                           " token_version = token_version + 1,"
                           " updated_at = " ENG_STORE_NOW ","
                           LEASE_FREED_BY("?8")
                           " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1"
                           " AND token_version = ?7"
                           ENG_STORE_RETURNING("token_version"),
                           &s, err, "ssbsssis", tenant, platform, w.blob, w.len, w.kid, public_json,
                           external_account_id, expected, owner);
    /* clang-format on */
    eng_vault_changed();
    free(w.blob);
    rc = checked(rc, "store", platform, 0, err);
    if (rc == ENG_STORE_ROW) {
        if (new_version != NULL) {
            *new_version = eng_store_column_int64(s, 0);
        }
        /* finish the statement: DONE */
        rc = checked(eng_store_step(s, err), "store", platform, 0, err);
    } else if (rc == ENG_STORE_DONE) {
        rc = eng_err_set(err, ENG_EEXIST,
                         "newer credentials for %.100s are stored (version %lld was "
                         "replaced): read them instead",
                         platform, (long long)expected);
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}
