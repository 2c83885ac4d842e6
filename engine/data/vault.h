/*
 * vault.h - the encrypted credential vault: the rows of integration_credentials sealed with
 * AES-256-GCM under a keyring (keyring.h, read from INTEGRATION_ENCRYPTION_KEY (+ _PREVIOUS)).
 * The one owner of every SQL statement on integration_credentials: vault.c (rows, leases),
 * vault_rotate.c (rotation), vault_check.c (key check), the status below.
 * Owns: the secret buffers it hands out (freed with eng_vault_free_secret, which wipes them).
 * Must not: write a key or a secret value, even partially, into a struct eng_err, a log line or
 * the database in clear.
 *
 * Row format (version 1): ciphertext = nonce(12) || AES-256-GCM(secret_json) || tag(16), sealed
 * by eng_crypto_seal under the key named by the key_id column, with the associated data
 *     "tallysync-cred-v1" NUL tenant_id NUL platform NUL key_id
 * (tenant ids and platforms cannot contain NUL, so the layout is unambiguous): a row copied to
 * another tenant or platform, or relabelled with another key id, does not decrypt.
 * Key ids: keyring.h.
 */
#ifndef ENG_VAULT_H
#define ENG_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "adapt/store.h"
#include "data/keyring.h"

/* ---- rows of integration_credentials ---- */

/* Upsert the (tenant, platform) row: ciphertext = seal of secret_json[0..len) under the current
 * key (fresh random nonce), key_id, public_fields = public_json (a JSON object of non-secret
 * values; NULL means "{}"), external_account_id (NULL clears it), is_active = 1,
 * status = 'untested' with last_test_* cleared, updated_at = now; a replaced row's token_version
 * is bumped and its refresh lease cleared (a refresh in flight then cannot overwrite it).
 * ENG_EINVAL for an empty tenant or platform or public_json that is not a JSON object; store errors
 * (ENG_EBUSY, ENG_EIO...). */
int eng_vault_put(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                  const char *platform, const char *secret_json, size_t len,
                  const char *public_json, const char *external_account_id, struct eng_err *err);

/* Decrypt the active (tenant, platform) row. *secret_json (NUL-terminated, *len bytes without
 * the NUL) is owned by the caller, who releases it with eng_vault_free_secret(*secret_json,
 * *len). public_json (may be NULL) receives the public_fields text, owned by the caller (free).
 * ENG_ENOTFOUND when there is no active row; ENG_EAUTH "stored credentials for <platform>
 * cannot be decrypted with the configured keys (key id <id>)" when the row's key is not in kr or
 * the tag does not verify. On failure the outputs are NULL / 0. */
int eng_vault_get(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                  const char *platform, char **secret_json, size_t *len, char **public_json,
                  struct eng_err *err);
/* eng_vault_get that also answers the row's token_version (see "token rotation" below) in
 * *version (may be NULL), read in the same statement as the ciphertext. */
int eng_vault_get_versioned(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                            const char *platform, char **secret_json, size_t *len,
                            char **public_json, int64_t *version, struct eng_err *err);
/* Wipe len bytes (and the NUL after them) at p, then free it. NULL is fine. */
void eng_vault_free_secret(char *p, size_t len);

/* Delete the (tenant, platform) row, active or not. ENG_ENOTFOUND when there was none. */
int eng_vault_delete(struct eng_store *st, const char *tenant, const char *platform,
                     struct eng_err *err);

/* 1 when (tenant, platform) has an active row, 0 when not, < 0 on a store failure. */
int eng_vault_exists(struct eng_store *st, const char *tenant, const char *platform,
                     struct eng_err *err);

/* An active row as code outside the vault may see it: whose it is, and a fingerprint of its
 * sealed blob (SHA-256 of the ciphertext), which changes whenever the row is sealed again (new
 * credentials, token refresh, rotation): a cache of what was opened from it is keyed by it. */
#define ENG_VAULT_TENANT_MAX 64
struct eng_vault_ref {
    char tenant[ENG_VAULT_TENANT_MAX + 1];
    unsigned char fingerprint[32];
};
enum {
    ENG_VAULT_BY_TENANT = 0,        /* value is the tenant id */
    ENG_VAULT_BY_ACCOUNT = 1,       /* value is the external account id; ordered by tenant id */
    ENG_VAULT_BY_ACCOUNT_NEWEST = 2 /* the same, the most recently stored first */
};
/* The active rows of platform matched by value (see the enum), at most max, into refs[0..*n).
 * Rows whose tenant id is longer than ENG_VAULT_TENANT_MAX are skipped. 0 or a store error;
 * ENG_EINVAL for an empty platform or value. Needs no keyring. */
int eng_vault_find(struct eng_store *st, const char *platform, int by, const char *value,
                   struct eng_vault_ref *refs, int max, int *n, struct eng_err *err);
/* A number that changes after every write this process makes to integration_credentials through
 * this module (put, put_tokens, delete, key rotation), once the write has committed. A reader
 * that takes it before eng_vault_find and finds it unchanged later knows that no write of this
 * process has committed since; writes by other processes (the CLI, other nodes) do not change
 * it, so a cache built on it also needs an age limit. */
unsigned long long eng_vault_generation(void);
/* The same with the statement kept in *slot (NULL: prepared here on st) for the next call with
 * the same st and by; the caller finalizes it before closing st. Reset after each call (no read
 * transaction is held between calls). For a hot path that must not parse SQL per request. */
int eng_vault_find_with(struct eng_store *st, struct eng_store_stmt **slot, const char *platform,
                        int by, const char *value, struct eng_vault_ref *refs, int max, int *n,
                        struct eng_err *err);

/* Record a connection test of the active row: status 'connected' (ok != 0) or 'error',
 * last_test_at = now, last_test_ok, last_test_message (may be NULL; the caller makes sure it
 * carries no secret). ENG_ENOTFOUND when there is no active row. */
int eng_vault_set_status(struct eng_store *st, const char *tenant, const char *platform, int ok,
                         const char *message, struct eng_err *err);

/* The status of stored credentials (no ciphertext, no key needed): data/vault_status.h. */

/* Does kr open what is stored? For each key id among the active rows (every tenant), the row
 * with the smallest id is opened and wiped at once. 0 with msg "" when every key id opens; 1
 * with msg (size bytes, truncated) naming per key id the rows, one example (platform, tenant),
 * the id and why (not in kr, or in kr but the tag fails), then what to do - never a key. < 0
 * with err on a store failure. (vault_check.c) */
int eng_vault_check_keys(struct eng_store *st, const struct eng_keyring *kr, char *msg, size_t size,
                         struct eng_err *err);

/* ---- token rotation (OAuth connectors: one refresher per row, newest tokens win) ----
 * Every row has a token_version, bumped by each write of its sealed part (eng_vault_put,
 * eng_vault_put_tokens), and a refresh lease (owner id + expiry, schema/0005). A refresher takes
 * the lease for the version it holds, refreshes at the remote system, then stores the new tokens
 * with eng_vault_put_tokens, which writes only over that same version (compare-and-swap) and
 * frees the lease in the same UPDATE. A lease lapses by itself, so a crashed holder blocks the
 * others only until then. Times are the database's clock (engines sharing it agree). */

/* Take the lease of the active (tenant, platform) row for `owner` (1-64 chars, unique per
 * holder) for lease_ms (clamped to 1 s .. 10 min), in one UPDATE, only when the row is still at
 * `version` and the lease is free, lapsed or already owner's. Answers 1 when taken; 0 when not,
 * with *current (may be NULL) = the row's version (== version: another holder has the lease;
 * != version: newer tokens are stored, read them instead of refreshing). ENG_ENOTFOUND when
 * there is no active row; store errors (ENG_EBUSY...). */
int eng_vault_lease_take(struct eng_store *st, const char *tenant, const char *platform,
                         const char *owner, int64_t version, long long lease_ms, int64_t *current,
                         struct eng_err *err);

/* Free owner's lease (nothing when another holds it or it lapsed). expired_message != NULL
 * also records that the remote system refused the refresh token: status 'expired',
 * last_test_ok 0, last_test_message = expired_message (the caller makes sure it carries no
 * secret), so the status warns "reconnect_required". ENG_ENOTFOUND when there is no row. */
int eng_vault_lease_release(struct eng_store *st, const char *tenant, const char *platform,
                            const char *owner, const char *expired_message, struct eng_err *err);

/* Store a refreshed secret: like eng_vault_put's seal of secret_json[0..len) with public_json
 * and external_account_id, but only over the active row still at `expected` version, in one
 * UPDATE that also bumps token_version (*new_version, may be NULL), frees owner's lease (owner
 * may be NULL) and keeps the row's status. ENG_EEXIST "newer credentials ... are stored" when
 * the row moved past `expected` (or is gone): nothing is written, the caller reads the stored
 * ones instead. ENG_EINVAL for public_json that is not a JSON object; store errors. */
int eng_vault_put_tokens(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                         const char *platform, int64_t expected, const char *owner,
                         const char *secret_json, size_t len, const char *public_json,
                         const char *external_account_id, int64_t *new_version,
                         struct eng_err *err);

/* ---- rotation (vault_rotate.c) ---- */

/* Re-encrypt every row of integration_credentials (every tenant, active or not) under the key
 * new_key_b64 (same format as INTEGRATION_ENCRYPTION_KEY), in one BEGIN IMMEDIATE transaction:
 * each row is opened with the key its key_id names (from kr, or the new key itself, so rows
 * already under the new key are simply re-sealed and a second run is harmless) and sealed again
 * with a fresh nonce, the new key id in its associated data and key_id column. A row that cannot
 * be opened rolls everything back: ENG_EAUTH naming its tenant, platform and key id.
 * *rows (may be NULL) = rows re-encrypted; new_id (may be NULL) = the new key's id. */
int eng_vault_rotate(struct eng_store *st, const struct eng_keyring *kr, const char *new_key_b64,
                     int *rows, char new_id[ENG_KEYRING_ID_LEN + 1], struct eng_err *err);

#endif
