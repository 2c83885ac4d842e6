/*
 * vault_rotate.c - key rotation (vault.h eng_vault_rotate): every row of integration_credentials
 * opened with the key its key_id names and sealed again under a new key, in one BEGIN IMMEDIATE
 * transaction (all rows or none). Owns: the new key's keyring and each row's plaintext for the
 * moment between open and seal (wiped at once). Must not: name a key or a value in an error
 * (tenant, platform and key ids only).
 */
#include "data/vault.h"

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "data/vault_seal.h"

struct rotation {
    struct eng_store *st;
    const struct eng_keyring *kr;
    const struct eng_keyring *nk; /* one key: the new one */
    struct eng_store_stmt *sel, *upd;
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

    const unsigned char *key = eng_keyring_find(r->kr, kid);
    if (key == NULL) {
        key = eng_keyring_find(r->nk, kid);
    }
    char *pt = NULL;
    size_t ptlen = 0;
    unsigned char *sealed = NULL;
    size_t sealedlen = 0;
    rc = eng_vault_open_blob(key, kid, tenant, platform, blob, bloblen, &pt, &ptlen, err);
    if (rc == ENG_EAUTH) {
        rc = eng_err_set(err, ENG_EAUTH,
                         "the credentials of tenant '%.100s' for %.100s cannot be decrypted "
                         "with the configured keys (key id %.32s)",
                         tenant, platform, kid);
    }
    const char *new_id = eng_keyring_current_id(r->nk);
    if (rc == 0) {
        rc = eng_vault_seal_blob(eng_keyring_current_key(r->nk), new_id, tenant, platform, pt,
                                 ptlen, &sealed, &sealedlen, err);
    }
    eng_vault_free_secret(pt, ptlen);
    if (rc == 0) {
        rc = eng_store_bind_blob(r->upd, 1, sealed, sealedlen);
        if (rc == 0) {
            rc = eng_store_bind_text(r->upd, 2, new_id, ENG_KEYRING_ID_LEN);
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
    int rc = eng_store_row(st, "SELECT id FROM integration_credentials ORDER BY id", &s, err, "");
    for (; rc == ENG_STORE_ROW; rc = eng_store_step(s, err)) {
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
        memcpy(new_id, eng_keyring_current_id(nk), ENG_KEYRING_ID_LEN + 1);
    }
    if (eng_store_in_tx(st)) {
        eng_keyring_free(nk);
        return eng_err_set(err, ENG_EINVAL, "key rotation needs its own transaction");
    }
    struct rotation r = {.st = st, .kr = kr, .nk = nk};
    int64_t *ids = NULL;
    size_t n = 0, done = 0;

    rc = eng_store_exec(st, ENG_STORE_BEGIN_WRITE, err);
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
    eng_vault_changed(); /* after the commit (or the rollback): either way, look again */
    if (rc != 0 && in_tx && eng_store_in_tx(st)) {
        eng_store_exec(st, "ROLLBACK", NULL);
    }
    if (rc != 0 && err != NULL) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        eng_err_set(err, rc, "key rotation failed, nothing was re-encrypted: %s", msg);
    }
    free(ids);
    eng_keyring_free(nk);
    if (rc == 0 && rows != NULL) {
        *rows = (int)done;
    }
    return rc;
}
