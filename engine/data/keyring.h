/*
 * keyring.h - the vault's keys: INTEGRATION_ENCRYPTION_KEY (current: seals and opens) and
 * INTEGRATION_ENCRYPTION_KEY_PREVIOUS (older keys: open only), parsed from base64, each named by
 * a key id. Owns: the keyring's single heap block (keys and ids), wiped on free. Must not: write
 * a key, even partially, into a struct eng_err, a log line or the database.
 *
 * A key id is the first 16 lowercase hex digits of SHA-256("tallysync key id" NUL key): stable,
 * and reveals nothing useful about the key.
 */
#ifndef ENG_KEYRING_H
#define ENG_KEYRING_H

#include <stddef.h>

#include "base/err.h"

#define ENG_KEYRING_ID_LEN 16 /* hex digits of a key id (plus a NUL: char id[17]) */

struct eng_keyring; /* the current key (encrypts and decrypts) + older keys (decrypt only) */

/* Build a keyring from base64 text. current_b64: standard base64 of exactly 32 bytes,
 * surrounding whitespace ignored. previous_csv (may be NULL or empty): comma-separated older
 * keys, same format, empty items ignored, duplicates of an earlier key dropped. Errors are
 * ENG_EINVAL and name INTEGRATION_ENCRYPTION_KEY / INTEGRATION_ENCRYPTION_KEY_PREVIOUS (entry N):
 * "... is not set: generate one with `tallysync keygen`" (NULL or blank current key),
 * "... must be base64 of 32 bytes (got N bytes)", "... is not valid base64"; ENG_ENOMEM.
 * On success *out is owned by the caller (eng_keyring_free); on failure *out is NULL. */
int eng_keyring_parse(const char *current_b64, const char *previous_csv, struct eng_keyring **out,
                      struct eng_err *err);
/* The same, with the names used in error messages given by the caller (e.g. the variable
 * named by `rotate-key --new-key-env NAME`). previous_name may be NULL when previous_csv is. */
int eng_keyring_parse_named(const char *current_name, const char *current_b64,
                            const char *previous_name, const char *previous_csv,
                            struct eng_keyring **out, struct eng_err *err);
/* eng_keyring_parse(getenv("INTEGRATION_ENCRYPTION_KEY"),
 *                   getenv("INTEGRATION_ENCRYPTION_KEY_PREVIOUS"), out, err). */
int eng_keyring_from_env(struct eng_keyring **out, struct eng_err *err);
/* Id of the current key: 16 lowercase hex digits, NUL-terminated, owned by kr. */
const char *eng_keyring_current_id(const struct eng_keyring *kr);
/* Number of keys (1 + distinct previous keys). */
size_t eng_keyring_count(const struct eng_keyring *kr);
/* 1 when kr holds a key with this id (current or previous). */
int eng_keyring_has(const struct eng_keyring *kr, const char *key_id);
/* Wipe every key and free kr. NULL is fine. */
void eng_keyring_free(struct eng_keyring *kr);

/* ---- for the vault's sealing code (data/vault*.c) only: raw key bytes ---- */

/* The current key's ENG_CRYPTO_KEY_LEN bytes, owned by kr. */
const unsigned char *eng_keyring_current_key(const struct eng_keyring *kr);
/* The bytes of the key with this id (current or previous), owned by kr; NULL when kr is NULL or
 * holds no such key. */
const unsigned char *eng_keyring_find(const struct eng_keyring *kr, const char *key_id);

#endif
