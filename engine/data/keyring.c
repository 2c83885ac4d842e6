/*
 * keyring.c - the vault's keyring (keyring.h): base64 keys from the environment or the caller,
 * their key ids, lookups by id. Crypto (base64, SHA-256, wiping) goes through adapt/crypto.h.
 * Owns: the keyring block; every buffer that held a key is wiped before it is freed or goes out
 * of scope. Must not: put key material into error messages or logs (only variable names, entry
 * numbers and byte counts).
 */
#include "data/keyring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapt/crypto.h"

#define KEYID_LABEL "tallysync key id" /* hashed with its NUL, then the key */
#define ENV_CURRENT "INTEGRATION_ENCRYPTION_KEY"
#define ENV_PREV    "INTEGRATION_ENCRYPTION_KEY_PREVIOUS"

struct keyring_key {
    unsigned char key[ENG_CRYPTO_KEY_LEN];
    char id[ENG_KEYRING_ID_LEN + 1];
};

/* One heap block: the header and every key, wiped as a whole by eng_keyring_free. */
struct eng_keyring {
    size_t size; /* bytes of the block */
    size_t n;    /* keys in use; k[0] is the current key */
    struct keyring_key k[];
};
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
    size_t size = sizeof(struct eng_keyring) + slots * sizeof(struct keyring_key);
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
        struct keyring_key *k = &kr->k[kr->n];
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

const unsigned char *eng_keyring_find(const struct eng_keyring *kr, const char *id)
{
    if (kr == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < kr->n; i++) {
        if (strcmp(kr->k[i].id, id) == 0) {
            return kr->k[i].key;
        }
    }
    return NULL;
}

int eng_keyring_has(const struct eng_keyring *kr, const char *key_id_text)
{
    return eng_keyring_find(kr, key_id_text) != NULL;
}

void eng_keyring_free(struct eng_keyring *kr)
{
    if (kr == NULL) {
        return;
    }
    eng_crypto_wipe(kr, kr->size);
    free(kr);
}

const unsigned char *eng_keyring_current_key(const struct eng_keyring *kr)
{
    return kr->k[0].key;
}
