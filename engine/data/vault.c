/*
 * vault.c - the credential vault: keyring parsing and the sealed rows of integration_credentials
 * (put, get, delete, status, rotation). Crypto goes through crypto.h, SQL through store.h.
 * Owns: the keyring block and the plaintext buffers it hands out; every buffer that held a key
 * or a secret is wiped before it is freed or goes out of scope. Must not: put key material or
 * secret values into error messages, logs or SQL parameters other than the sealed blob.
 */
#include "data/vault.h"

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "adapt/crypto.h"

#define AAD_PREFIX  "tallysync-cred-v1"
#define KEYID_LABEL "tallysync key id" /* hashed with its NUL, then the key */
#define NOW_SQL     "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
#define ENV_CURRENT "INTEGRATION_ENCRYPTION_KEY"
#define ENV_PREV    "INTEGRATION_ENCRYPTION_KEY_PREVIOUS"

struct vault_key {
    unsigned char key[ENG_CRYPTO_KEY_LEN];
    char id[ENG_KEYRING_ID_LEN + 1];
};

/* One heap block: the header and every key, wiped as a whole by eng_keyring_free. */
struct eng_keyring {
    size_t size; /* bytes of the block */
    size_t n;    /* keys in use; k[0] is the current key */
    struct vault_key k[];
};

/* ------------------------------------------------------------------------------------------ */
/* keyring                                                                                     */

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Trim whitespace around s[0..*len); returns the new start. */
static const char *trim(const char *s, size_t *len)
{
    size_t n = *len;
    while (n > 0 && is_blank((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_blank((unsigned char)s[n - 1])) {
        n--;
    }
    *len = n;
    return s;
}

/* id = first 16 hex digits of SHA-256("tallysync key id" NUL key). */
static int key_id(const unsigned char key[ENG_CRYPTO_KEY_LEN], char id[ENG_KEYRING_ID_LEN + 1],
                  struct eng_err *err)
{
    unsigned char msg[sizeof KEYID_LABEL + ENG_CRYPTO_KEY_LEN];
    unsigned char digest[ENG_CRYPTO_SHA256_LEN];
    memcpy(msg, KEYID_LABEL, sizeof KEYID_LABEL);
    memcpy(msg + sizeof KEYID_LABEL, key, ENG_CRYPTO_KEY_LEN);
    int rc = eng_crypto_sha256(msg, sizeof msg, digest, err);
    eng_crypto_wipe(msg, sizeof msg);
    if (rc == 0) {
        rc = eng_crypto_hex_encode(digest, ENG_KEYRING_ID_LEN / 2, id, ENG_KEYRING_ID_LEN + 1, err);
    }
    eng_crypto_wipe(digest, sizeof digest);
    return rc;
}

/* Decode text[0..len) (already trimmed, non-empty) into out. name/entry only label errors
 * (entry 0: the variable itself, N > 0: its Nth comma-separated item). */
static int decode_key(const char *name, int entry, const char *text, size_t len,
                      unsigned char out[ENG_CRYPTO_KEY_LEN], struct eng_err *err)
{
    char label[160];
    if (entry > 0) {
        snprintf(label, sizeof label, "%.100s entry %d", name, entry);
    } else {
        snprintf(label, sizeof label, "%.100s", name);
    }
    size_t cap = eng_crypto_base64_decoded_maxlen(len);
    unsigned char *tmp = malloc(cap > 0 ? cap : 1);
    if (tmp == NULL) {
        return eng_err_set(err, ENG_ENOMEM, "out of memory reading %s", label);
    }
    size_t n = 0;
    int rc = eng_crypto_base64_decode(text, len, tmp, cap, &n, NULL);
    if (rc != 0) {
        rc = eng_err_set(err, ENG_EINVAL,
                         "%s is not valid base64: it must be standard base64 of 32 bytes, as "
                         "printed by `tallysync keygen`",
                         label);
    } else if (n != ENG_CRYPTO_KEY_LEN) {
        rc =
            eng_err_set(err, ENG_EINVAL, "%s must be base64 of 32 bytes (got %zu bytes)", label, n);
    } else {
        memcpy(out, tmp, ENG_CRYPTO_KEY_LEN);
    }
    eng_crypto_wipe(tmp, cap > 0 ? cap : 1);
    free(tmp);
    return rc;
}

int eng_keyring_parse_named(const char *current_name, const char *current_b64,
                            const char *previous_name, const char *previous_csv,
                            struct eng_keyring **out, struct eng_err *err)
{
    *out = NULL;
    if (current_name == NULL) {
        current_name = ENV_CURRENT;
    }
    if (previous_name == NULL) {
        previous_name = ENV_PREV;
    }
    size_t clen = current_b64 != NULL ? strlen(current_b64) : 0;
    const char *cur = current_b64 != NULL ? trim(current_b64, &clen) : NULL;
    if (clen == 0) {
        return eng_err_set(err, ENG_EINVAL,
                           "%.100s is not set: generate one with `tallysync keygen`", current_name);
    }
    size_t slots = 1;
    if (previous_csv != NULL) {
        for (const char *p = previous_csv; *p != '\0'; p++) {
            slots += *p == ',';
        }
        slots++;
    }
    size_t size = sizeof(struct eng_keyring) + slots * sizeof(struct vault_key);
    struct eng_keyring *kr = calloc(1, size);
    if (kr == NULL) {
        return eng_err_set(err, ENG_ENOMEM, "out of memory building the keyring");
    }
    kr->size = size;
    int rc = decode_key(current_name, 0, cur, clen, kr->k[0].key, err);
    if (rc == 0) {
        rc = key_id(kr->k[0].key, kr->k[0].id, err);
    }
    kr->n = 1;
    const char *p = previous_csv;
    for (int entry = 1; rc == 0 && p != NULL; entry++) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *item = trim(p, &len);
        p = comma != NULL ? comma + 1 : NULL;
        if (len == 0) {
            continue;
        }
        struct vault_key *k = &kr->k[kr->n];
        rc = decode_key(previous_name, entry, item, len, k->key, err);
        if (rc == 0) {
            rc = key_id(k->key, k->id, err);
        }
        if (rc == 0 && !eng_keyring_has(kr, k->id)) {
            kr->n++;
        } else {
            eng_crypto_wipe(k, sizeof *k);
        }
    }
    if (rc != 0) {
        eng_keyring_free(kr);
        return rc;
    }
    *out = kr;
    return 0;
}

int eng_keyring_parse(const char *current_b64, const char *previous_csv, struct eng_keyring **out,
                      struct eng_err *err)
{
    return eng_keyring_parse_named(NULL, current_b64, NULL, previous_csv, out, err);
}

int eng_keyring_from_env(struct eng_keyring **out, struct eng_err *err)
{
    return eng_keyring_parse(getenv(ENV_CURRENT), getenv(ENV_PREV), out, err);
}

const char *eng_keyring_current_id(const struct eng_keyring *kr)
{
    return kr->k[0].id;
}

size_t eng_keyring_count(const struct eng_keyring *kr)
{
    return kr->n;
}

static const unsigned char *keyring_find(const struct eng_keyring *kr, const char *id)
{
    for (size_t i = 0; i < kr->n; i++) {
        if (strcmp(kr->k[i].id, id) == 0) {
            return kr->k[i].key;
        }
    }
    return NULL;
}

int eng_keyring_has(const struct eng_keyring *kr, const char *key_id_text)
{
    return keyring_find(kr, key_id_text) != NULL;
}

void eng_keyring_free(struct eng_keyring *kr)
{
    if (kr == NULL) {
        return;
    }
    eng_crypto_wipe(kr, kr->size);
    free(kr);
}

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                     */

/* aad = "tallysync-cred-v1" NUL tenant NUL platform NUL key_id (see vault.h). */
static int build_aad(struct eng_buf *b, const char *tenant, const char *platform, const char *kid,
                     struct eng_err *err)
{
    eng_buf_reset(b);
    eng_buf_append(b, AAD_PREFIX, sizeof AAD_PREFIX);
    eng_buf_append(b, tenant, strlen(tenant) + 1);
    eng_buf_append(b, platform, strlen(platform) + 1);
    eng_buf_append(b, kid, strlen(kid));
    if (b->oom) {
        return eng_err_set(err, ENG_ENOMEM, "out of memory sealing credentials");
    }
    return 0;
}

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

static int prepare(struct eng_store *st, const char *sql, struct eng_store_stmt **s,
                   const char *what, const char *platform, struct eng_err *err)
{
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, s, err);
    return rc != 0 ? store_err(err, rc, what, platform) : 0;
}

static int bind_names(struct eng_store_stmt *s, const char *tenant, const char *platform)
{
    int rc = eng_store_bind_text(s, 1, tenant, strlen(tenant));
    return rc != 0 ? rc : eng_store_bind_text(s, 2, platform, strlen(platform));
}

/* Bind ?1-?6 of a statement that writes a whole row: tenant, platform, the sealed blob, its key
 * id, the public fields and the external account id (NULL binds NULL). */
static int bind_row(struct eng_store_stmt *s, const char *tenant, const char *platform,
                    const unsigned char *blob, size_t bloblen, const char *kid,
                    const char *public_json, const char *account)
{
    int rc = bind_names(s, tenant, platform);
    if (rc == 0)
        rc = eng_store_bind_blob(s, 3, blob, bloblen);
    if (rc == 0)
        rc = eng_store_bind_text(s, 4, kid, strlen(kid));
    if (rc == 0)
        rc = eng_store_bind_text(s, 5, public_json, strlen(public_json));
    if (rc == 0)
        rc = account != NULL ? eng_store_bind_text(s, 6, account, strlen(account))
                             : eng_store_bind_null(s, 6);
    return rc;
}

/* 1 when text is a JSON object (as SQLite's JSON functions read it), 0 when not, or < 0. */
static int is_json_object(struct eng_store *st, const char *text, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = eng_store_prepare(
        st, "SELECT CASE WHEN json_valid(?1) THEN json_type(?1) = 'object' ELSE 0 END", -1,
        ENG_STORE_TRUSTED, &s, err);
    if (rc == 0) {
        rc = eng_store_bind_text(s, 1, text, strlen(text));
    }
    if (rc == 0) {
        rc = eng_store_step(s, err);
    }
    if (rc == ENG_STORE_ROW) {
        rc = eng_store_column_int64(s, 0) != 0;
    } else if (rc == ENG_STORE_DONE) {
        rc = 0;
    }
    eng_store_finalize(s);
    return rc;
}

/* Seal secret_json[0..len) for (tenant, platform) under kr's current key into a fresh heap
 * blob (*blob, *bloblen; the caller frees it: it holds no plaintext). */
static int seal_secret(const struct eng_keyring *kr, const char *tenant, const char *platform,
                       const char *secret_json, size_t len, unsigned char **blob, size_t *bloblen,
                       struct eng_err *err)
{
    *blob = NULL;
    *bloblen = 0;
    size_t n = len + ENG_CRYPTO_SEAL_OVERHEAD;
    unsigned char *out = malloc(n);
    if (out == NULL) {
        return eng_err_set(err, ENG_ENOMEM, "out of memory sealing credentials");
    }
    struct eng_buf aad;
    eng_buf_init(&aad);
    int rc = build_aad(&aad, tenant, platform, eng_keyring_current_id(kr), err);
    if (rc == 0) {
        rc = eng_crypto_seal(kr->k[0].key, aad.data, aad.len,
                             secret_json != NULL ? secret_json : "", len, out, n, NULL, err);
    }
    eng_buf_free(&aad);
    if (rc != 0) {
        free(out);
        return rc;
    }
    *blob = out;
    *bloblen = n;
    return 0;
}

/* The checks put and put_tokens share: names, sizes, public_json an object ("{}" for NULL). */
static int check_put(struct eng_store *st, const char *tenant, const char *platform,
                     const char *secret_json, size_t len, const char **public_json,
                     struct eng_err *err)
{
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
    if (*public_json == NULL) {
        *public_json = "{}";
    }
    rc = is_json_object(st, *public_json, err);
    if (rc < 0) {
        return store_err(err, rc, "store", platform);
    }
    if (rc == 0) {
        return eng_err_set(err, ENG_EINVAL,
                           "the public fields of the %.100s credentials must be a JSON object",
                           platform);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* rows                                                                                        */

int eng_vault_put(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                  const char *platform, const char *secret_json, size_t len,
                  const char *public_json, const char *external_account_id, struct eng_err *err)
{
    int rc = check_put(st, tenant, platform, secret_json, len, &public_json, err);
    if (rc != 0) {
        return rc;
    }
    const char *kid = eng_keyring_current_id(kr);
    unsigned char *blob = NULL;
    size_t bloblen = 0;
    struct eng_store_stmt *s = NULL;
    rc = seal_secret(kr, tenant, platform, secret_json, len, &blob, &bloblen, err);
    if (rc == 0) {
        rc = prepare(st,
                     "INSERT INTO integration_credentials (tenant_id, platform, ciphertext, key_id,"
                     " public_fields, external_account_id, is_active, status, last_test_at,"
                     " last_test_ok, last_test_message, updated_at)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, 'untested', NULL, NULL, NULL, " NOW_SQL
                     ") ON CONFLICT (tenant_id, platform) DO UPDATE SET"
                     " ciphertext = excluded.ciphertext, key_id = excluded.key_id,"
                     " public_fields = excluded.public_fields,"
                     " external_account_id = excluded.external_account_id, is_active = 1,"
                     " status = 'untested', last_test_at = NULL, last_test_ok = NULL,"
                     " last_test_message = NULL, updated_at = excluded.updated_at,"
                     " token_version = token_version + 1, refresh_lease_owner = NULL,"
                     " refresh_lease_until = NULL",
                     &s, "store", platform, err);
    }
    if (rc == 0) {
        rc = bind_row(s, tenant, platform, blob, bloblen, kid, public_json, external_account_id);
        if (rc != 0) {
            rc = eng_err_set(err, rc, "cannot store credentials for %.100s: %s", platform,
                             eng_err_name(rc));
        } else {
            rc = eng_store_step(s, err);
            rc = rc < 0 ? store_err(err, rc, "store", platform) : 0;
        }
    }
    eng_store_finalize(s);
    free(blob);
    return rc;
}

static int cannot_decrypt(struct eng_err *err, const char *platform, const char *kid)
{
    return eng_err_set(err, ENG_EAUTH,
                       "stored credentials for %.100s cannot be decrypted with the configured "
                       "keys (key id %.32s)",
                       platform, kid);
}

/* Open blob (sealed for tenant/platform under kid) with key into a fresh NUL-terminated heap
 * buffer *pt of *ptlen bytes. EAUTH via cannot_decrypt. */
static int open_blob(const unsigned char *key, const char *tenant, const char *platform,
                     const char *kid, const void *blob, size_t bloblen, char **pt, size_t *ptlen,
                     struct eng_err *err)
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
    struct eng_buf aad;
    eng_buf_init(&aad);
    int rc = build_aad(&aad, tenant, platform, kid, err);
    if (rc == 0) {
        rc = eng_crypto_open(key, aad.data, aad.len, blob, bloblen, (unsigned char *)out, n, NULL,
                             NULL);
        if (rc != 0) {
            rc = rc == ENG_EAUTH
                     ? cannot_decrypt(err, platform, kid)
                     : eng_err_set(err, rc, "cannot open the credentials for %.100s", platform);
        }
    }
    eng_buf_free(&aad);
    if (rc != 0) {
        eng_vault_free_secret(out, n);
        return rc;
    }
    out[n] = '\0';
    *pt = out;
    *ptlen = n;
    return 0;
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
    int rc = check_names(tenant, platform, err);
    if (rc != 0) {
        return rc;
    }
    struct eng_store_stmt *s = NULL;
    rc = prepare(st,
                 "SELECT ciphertext, key_id, public_fields, token_version"
                 " FROM integration_credentials"
                 " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1",
                 &s, "read", platform, err);
    if (rc != 0) {
        return rc;
    }
    rc = bind_names(s, tenant, platform);
    if (rc == 0) {
        rc = eng_store_step(s, err);
        if (rc < 0) {
            rc = store_err(err, rc, "read", platform);
        }
    } else {
        rc = eng_err_set(err, rc, "cannot read credentials for %.100s", platform);
    }
    if (rc == ENG_STORE_DONE) {
        rc = eng_err_set(err, ENG_ENOTFOUND, "no credentials are stored for %.100s", platform);
    }
    char *pt = NULL;
    size_t ptlen = 0;
    if (rc == ENG_STORE_ROW) {
        size_t bloblen = 0;
        const void *blob = eng_store_column_blob(s, 0, &bloblen);
        const char *kid = eng_store_column_text(s, 1, NULL);
        kid = kid != NULL ? kid : "";
        rc = open_blob(keyring_find(kr, kid), tenant, platform, kid, blob, bloblen, &pt, &ptlen,
                       err);
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

void eng_vault_free_secret(char *p, size_t len)
{
    if (p == NULL) {
        return;
    }
    eng_crypto_wipe(p, len + 1);
    free(p);
}

int eng_vault_delete(struct eng_store *st, const char *tenant, const char *platform,
                     struct eng_err *err)
{
    int rc = check_names(tenant, platform, err);
    if (rc != 0) {
        return rc;
    }
    struct eng_store_stmt *s = NULL;
    rc = prepare(st, "DELETE FROM integration_credentials WHERE tenant_id = ?1 AND platform = ?2",
                 &s, "delete", platform, err);
    if (rc != 0) {
        return rc;
    }
    rc = bind_names(s, tenant, platform);
    if (rc == 0) {
        rc = eng_store_step(s, err);
        rc = rc < 0 ? store_err(err, rc, "delete", platform) : 0;
    } else {
        rc = eng_err_set(err, rc, "cannot delete credentials for %.100s", platform);
    }
    if (rc == 0 && eng_store_changes(st) == 0) {
        rc = eng_err_set(err, ENG_ENOTFOUND, "no credentials are stored for %.100s", platform);
    }
    eng_store_finalize(s);
    return rc;
}

int eng_vault_set_status(struct eng_store *st, const char *tenant, const char *platform, int ok,
                         const char *message, struct eng_err *err)
{
    int rc = check_names(tenant, platform, err);
    if (rc != 0) {
        return rc;
    }
    struct eng_store_stmt *s = NULL;
    rc = prepare(st,
                 "UPDATE integration_credentials SET"
                 " status = CASE WHEN ?3 THEN 'connected' ELSE 'error' END,"
                 " last_test_at = " NOW_SQL ", last_test_ok = ?3, last_test_message = ?4"
                 " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1",
                 &s, "update the status of", platform, err);
    if (rc != 0) {
        return rc;
    }
    rc = bind_names(s, tenant, platform);
    if (rc == 0) {
        rc = eng_store_bind_int64(s, 3, ok != 0);
    }
    if (rc == 0) {
        rc = message != NULL ? eng_store_bind_text(s, 4, message, strlen(message))
                             : eng_store_bind_null(s, 4);
    }
    if (rc == 0) {
        rc = eng_store_step(s, err);
        rc = rc < 0 ? store_err(err, rc, "update the status of", platform) : 0;
    } else {
        rc = eng_err_set(err, rc, "cannot update the status of credentials for %.100s", platform);
    }
    if (rc == 0 && eng_store_changes(st) == 0) {
        rc = eng_err_set(err, ENG_ENOTFOUND, "no credentials are stored for %.100s", platform);
    }
    eng_store_finalize(s);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* token rotation                                                                              */

#define LEASE_MIN_MS 1000LL
#define LEASE_MAX_MS 600000LL

static int check_owner(const char *owner, struct eng_err *err)
{
    size_t n = owner != NULL ? strlen(owner) : 0;
    if (n == 0 || n > 64) {
        return eng_err_set(err, ENG_EINVAL, "a refresh lease needs an owner id of 1-64 chars");
    }
    return 0;
}

/* The active row's token_version into *version: ENG_STORE_ROW, ENG_STORE_DONE or < 0. */
static int row_version(struct eng_store *st, const char *tenant, const char *platform,
                       int64_t *version, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    int rc = prepare(st,
                     "SELECT token_version FROM integration_credentials"
                     " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1",
                     &s, "read", platform, err);
    if (rc != 0) {
        return rc;
    }
    rc = bind_names(s, tenant, platform);
    if (rc == 0) {
        rc = eng_store_step(s, err);
        rc = rc < 0 ? store_err(err, rc, "read", platform) : rc;
    } else {
        rc = eng_err_set(err, rc, "cannot read credentials for %.100s", platform);
    }
    if (rc == ENG_STORE_ROW) {
        *version = eng_store_column_int64(s, 0);
    }
    eng_store_finalize(s);
    return rc;
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
    struct eng_store_stmt *s = NULL;
    rc = prepare(st,
                 "UPDATE integration_credentials SET refresh_lease_owner = ?3,"
                 " refresh_lease_until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now',"
                 " printf('+%.3f seconds', ?5 / 1000.0))"
                 " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1"
                 " AND token_version = ?4 AND (refresh_lease_until IS NULL"
                 " OR refresh_lease_until <= " NOW_SQL " OR refresh_lease_owner = ?3)",
                 &s, "lease", platform, err);
    if (rc != 0) {
        return rc;
    }
    rc = bind_names(s, tenant, platform);
    if (rc == 0) {
        rc = eng_store_bind_text(s, 3, owner, strlen(owner));
    }
    if (rc == 0) {
        rc = eng_store_bind_int64(s, 4, version);
    }
    if (rc == 0) {
        rc = eng_store_bind_int64(s, 5, lease_ms);
    }
    if (rc == 0) {
        rc = eng_store_step(s, err);
        rc = rc < 0 ? store_err(err, rc, "lease", platform) : 0;
    } else {
        rc = eng_err_set(err, rc, "cannot lease credentials for %.100s", platform);
    }
    eng_store_finalize(s);
    if (rc != 0) {
        return rc;
    }
    if (eng_store_changes(st) == 1) {
        return 1;
    }
    int64_t v = 0;
    rc = row_version(st, tenant, platform, &v, err);
    if (rc == ENG_STORE_DONE) {
        return eng_err_set(err, ENG_ENOTFOUND, "no credentials are stored for %.100s", platform);
    }
    if (rc < 0) {
        return rc;
    }
    if (current != NULL) {
        *current = v;
    }
    return 0;
}

int eng_vault_lease_release(struct eng_store *st, const char *tenant, const char *platform,
                            const char *owner, const char *expired_message, struct eng_err *err)
{
    int rc = check_names(tenant, platform, err);
    if (rc == 0) {
        rc = check_owner(owner, err);
    }
    if (rc != 0) {
        return rc;
    }
    struct eng_store_stmt *s = NULL;
    rc = prepare(st,
                 "UPDATE integration_credentials SET"
                 " refresh_lease_owner = CASE WHEN refresh_lease_owner = ?3 THEN NULL"
                 " ELSE refresh_lease_owner END,"
                 " refresh_lease_until = CASE WHEN refresh_lease_owner = ?3 THEN NULL"
                 " ELSE refresh_lease_until END,"
                 " status = CASE WHEN ?4 IS NULL THEN status ELSE 'expired' END,"
                 " last_test_ok = CASE WHEN ?4 IS NULL THEN last_test_ok ELSE 0 END,"
                 " last_test_at = CASE WHEN ?4 IS NULL THEN last_test_at ELSE " NOW_SQL " END,"
                 " last_test_message = coalesce(?4, last_test_message)"
                 " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1",
                 &s, "release the lease of", platform, err);
    if (rc != 0) {
        return rc;
    }
    rc = bind_names(s, tenant, platform);
    if (rc == 0) {
        rc = eng_store_bind_text(s, 3, owner, strlen(owner));
    }
    if (rc == 0) {
        rc = expired_message != NULL
                 ? eng_store_bind_text(s, 4, expired_message, strlen(expired_message))
                 : eng_store_bind_null(s, 4);
    }
    if (rc == 0) {
        rc = eng_store_step(s, err);
        rc = rc < 0 ? store_err(err, rc, "release the lease of", platform) : 0;
    } else {
        rc = eng_err_set(err, rc, "cannot release the lease of credentials for %.100s", platform);
    }
    if (rc == 0 && eng_store_changes(st) == 0) {
        rc = eng_err_set(err, ENG_ENOTFOUND, "no credentials are stored for %.100s", platform);
    }
    eng_store_finalize(s);
    return rc;
}

int eng_vault_put_tokens(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                         const char *platform, int64_t expected, const char *owner,
                         const char *secret_json, size_t len, const char *public_json,
                         const char *external_account_id, int64_t *new_version, struct eng_err *err)
{
    if (new_version != NULL) {
        *new_version = expected;
    }
    int rc = check_put(st, tenant, platform, secret_json, len, &public_json, err);
    if (rc != 0) {
        return rc;
    }
    const char *kid = eng_keyring_current_id(kr);
    unsigned char *blob = NULL;
    size_t bloblen = 0;
    struct eng_store_stmt *s = NULL;
    rc = seal_secret(kr, tenant, platform, secret_json, len, &blob, &bloblen, err);
    if (rc == 0) {
        /* compare-and-swap on token_version: an older token set never overwrites a newer one */
        rc = prepare(st,
                     "UPDATE integration_credentials SET ciphertext = ?3, key_id = ?4,"
                     " public_fields = ?5, external_account_id = ?6,"
                     " token_version = token_version + 1, updated_at = " NOW_SQL ","
                     " refresh_lease_until = CASE WHEN refresh_lease_owner = ?8 THEN NULL"
                     " ELSE refresh_lease_until END,"
                     " refresh_lease_owner = CASE WHEN refresh_lease_owner = ?8 THEN NULL"
                     " ELSE refresh_lease_owner END"
                     " WHERE tenant_id = ?1 AND platform = ?2 AND is_active = 1"
                     " AND token_version = ?7 RETURNING token_version",
                     &s, "store", platform, err);
    }
    if (rc == 0) {
        rc = bind_row(s, tenant, platform, blob, bloblen, kid, public_json, external_account_id);
        if (rc == 0) {
            rc = eng_store_bind_int64(s, 7, expected);
        }
        if (rc == 0) {
            rc = owner != NULL ? eng_store_bind_text(s, 8, owner, strlen(owner))
                               : eng_store_bind_null(s, 8);
        }
        if (rc != 0) {
            rc = eng_err_set(err, rc, "cannot store credentials for %.100s: %s", platform,
                             eng_err_name(rc));
        } else {
            rc = eng_store_step(s, err);
            if (rc == ENG_STORE_ROW) {
                if (new_version != NULL) {
                    *new_version = eng_store_column_int64(s, 0);
                }
                rc = eng_store_step(s, err); /* finish the statement: DONE */
                rc = rc < 0 ? store_err(err, rc, "store", platform) : 0;
            } else if (rc == ENG_STORE_DONE) {
                rc = eng_err_set(err, ENG_EEXIST,
                                 "newer credentials for %.100s are stored (version %lld was "
                                 "replaced): read them instead",
                                 platform, (long long)expected);
            } else {
                rc = store_err(err, rc, "store", platform);
            }
        }
    }
    eng_store_finalize(s);
    free(blob);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* rotation                                                                                    */

struct rotation {
    struct eng_store *st;
    const struct eng_keyring *kr;
    const struct eng_keyring *nk; /* one key: the new one */
    struct eng_store_stmt *sel, *upd;
    struct eng_buf aad;
};

/* Re-seal the row with this id under the new key. */
static int rotate_row(struct rotation *r, int64_t id, struct eng_err *err)
{
    int rc = eng_store_bind_int64(r->sel, 1, id);
    if (rc != 0) {
        return eng_err_set(err, rc, "cannot read credential row %lld", (long long)id);
    }
    rc = eng_store_step(r->sel, err);
    if (rc == ENG_STORE_DONE) {
        rc = eng_err_set(err, ENG_EIO, "credential row %lld vanished during the rotation",
                         (long long)id);
    }
    if (rc != ENG_STORE_ROW) {
        eng_store_reset(r->sel);
        return rc;
    }
    const char *tenant = eng_store_column_text(r->sel, 0, NULL);
    const char *platform = eng_store_column_text(r->sel, 1, NULL);
    const char *kid = eng_store_column_text(r->sel, 2, NULL);
    size_t bloblen = 0;
    const void *blob = eng_store_column_blob(r->sel, 3, &bloblen);
    tenant = tenant != NULL ? tenant : "";
    platform = platform != NULL ? platform : "";
    kid = kid != NULL ? kid : "";

    const unsigned char *key = keyring_find(r->kr, kid);
    if (key == NULL) {
        key = keyring_find(r->nk, kid);
    }
    char *pt = NULL;
    size_t ptlen = 0;
    unsigned char *sealed = NULL;
    size_t sealedlen = 0;
    rc = open_blob(key, tenant, platform, kid, blob, bloblen, &pt, &ptlen, err);
    if (rc == ENG_EAUTH) {
        rc = eng_err_set(err, ENG_EAUTH,
                         "the credentials of tenant '%.100s' for %.100s cannot be decrypted "
                         "with the configured keys (key id %.32s)",
                         tenant, platform, kid);
    }
    if (rc == 0) {
        sealedlen = ptlen + ENG_CRYPTO_SEAL_OVERHEAD;
        sealed = malloc(sealedlen);
        rc = sealed == NULL ? eng_err_set(err, ENG_ENOMEM, "out of memory re-sealing credentials")
                            : build_aad(&r->aad, tenant, platform, r->nk->k[0].id, err);
    }
    if (rc == 0) {
        rc = eng_crypto_seal(r->nk->k[0].key, r->aad.data, r->aad.len, pt, ptlen, sealed, sealedlen,
                             NULL, err);
    }
    eng_vault_free_secret(pt, ptlen);
    if (rc == 0) {
        rc = eng_store_bind_blob(r->upd, 1, sealed, sealedlen);
        if (rc == 0) {
            rc = eng_store_bind_text(r->upd, 2, r->nk->k[0].id, ENG_KEYRING_ID_LEN);
        }
        if (rc == 0) {
            rc = eng_store_bind_int64(r->upd, 3, id);
        }
        if (rc != 0) {
            rc = eng_err_set(err, rc, "cannot update credential row %lld", (long long)id);
        }
    }
    eng_store_reset(r->sel); /* tenant, platform, kid and blob are gone from here on */
    free(sealed);
    if (rc == 0) {
        rc = eng_store_step(r->upd, err);
        eng_store_reset(r->upd);
        rc = rc < 0 ? rc : 0;
    }
    return rc;
}

/* The ids of every row, in *ids (malloc'd) and *n. */
static int list_ids(struct eng_store *st, int64_t **ids, size_t *n, struct eng_err *err)
{
    struct eng_store_stmt *s = NULL;
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    int rc = eng_store_prepare(st, "SELECT id FROM integration_credentials ORDER BY id", -1,
                               ENG_STORE_TRUSTED, &s, err);
    while (rc == 0 && (rc = eng_store_step(s, err)) == ENG_STORE_ROW) {
        if (*n == cap) {
            size_t ncap = cap == 0 ? 64 : cap * 2;
            int64_t *grown = realloc(*ids, ncap * sizeof **ids);
            if (grown == NULL) {
                rc = eng_err_set(err, ENG_ENOMEM, "out of memory listing credentials");
                break;
            }
            *ids = grown;
            cap = ncap;
        }
        (*ids)[(*n)++] = eng_store_column_int64(s, 0);
        rc = 0;
    }
    eng_store_finalize(s);
    return rc < 0 ? rc : 0;
}

int eng_vault_rotate(struct eng_store *st, const struct eng_keyring *kr, const char *new_key_b64,
                     int *rows, char new_id[ENG_KEYRING_ID_LEN + 1], struct eng_err *err)
{
    if (rows != NULL) {
        *rows = 0;
    }
    struct eng_keyring *nk = NULL;
    int rc = eng_keyring_parse_named("the new key", new_key_b64, NULL, NULL, &nk, err);
    if (rc != 0 || nk == NULL) { /* nk == NULL only when rc != 0 (for the analyzer) */
        return rc != 0 ? rc : ENG_EINVAL;
    }
    if (new_id != NULL) {
        memcpy(new_id, nk->k[0].id, ENG_KEYRING_ID_LEN + 1);
    }
    if (eng_store_in_tx(st)) {
        eng_keyring_free(nk);
        return eng_err_set(err, ENG_EINVAL, "key rotation needs its own transaction");
    }
    struct rotation r = {.st = st, .kr = kr, .nk = nk};
    eng_buf_init(&r.aad);
    int64_t *ids = NULL;
    size_t n = 0, done = 0;

    rc = eng_store_exec(st, "BEGIN IMMEDIATE", err);
    int in_tx = rc == 0;
    if (rc == 0) {
        rc = list_ids(st, &ids, &n, err);
    }
    if (rc == 0) {
        rc = eng_store_prepare(st,
                               "SELECT tenant_id, platform, key_id, ciphertext"
                               " FROM integration_credentials WHERE id = ?1",
                               -1, ENG_STORE_TRUSTED, &r.sel, err);
    }
    if (rc == 0) {
        rc = eng_store_prepare(st,
                               "UPDATE integration_credentials SET ciphertext = ?1, key_id = ?2"
                               " WHERE id = ?3",
                               -1, ENG_STORE_TRUSTED, &r.upd, err);
    }
    for (; rc == 0 && done < n; done++) {
        rc = rotate_row(&r, ids[done], err);
    }
    eng_store_finalize(r.sel);
    eng_store_finalize(r.upd);
    if (rc == 0 && in_tx) {
        rc = eng_store_exec(st, "COMMIT", err);
    }
    if (rc != 0 && in_tx && eng_store_in_tx(st)) {
        eng_store_exec(st, "ROLLBACK", NULL);
    }
    if (rc != 0 && err != NULL) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        eng_err_set(err, rc, "key rotation failed, nothing was re-encrypted: %s", msg);
    }
    free(ids);
    eng_buf_free(&r.aad);
    eng_keyring_free(nk);
    if (rc == 0 && rows != NULL) {
        *rows = (int)done;
    }
    return rc;
}
