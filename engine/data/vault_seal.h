/*
 * vault_seal.h - the seal and open of one integration_credentials blob, shared by the rows
 * (vault.c) and rotation (vault_rotate.c); the layout is vault.h's "Row format". For data/vault*.c
 * only. Owns: nothing past a call (the caller owns what it is handed). Must not: put a key or a
 * plaintext into an error message.
 */
#ifndef ENG_VAULT_SEAL_H
#define ENG_VAULT_SEAL_H

#include <stddef.h>

#include "base/err.h"

/* Seal pt[0..len) (pt may be NULL when len is 0) for (tenant, platform) under key, named kid in
 * the associated data, with a fresh nonce, into a new heap blob (*blob, *bloblen): the caller
 * frees it (it holds no plaintext). ENG_ENOMEM, crypto errors. */
int eng_vault_seal_blob(const unsigned char *key, const char *kid, const char *tenant,
                        const char *platform, const char *pt, size_t len, unsigned char **blob,
                        size_t *bloblen, struct eng_err *err);

/* Open blob (sealed for tenant/platform under kid) with key (NULL: not in the keyring) into a
 * fresh NUL-terminated heap buffer *pt of *ptlen bytes, released with eng_vault_free_secret.
 * ENG_EAUTH "stored credentials for <platform> cannot be decrypted with the configured keys
 * (key id <kid>)" when key is NULL, the blob is short or the tag fails; ENG_ENOMEM. */
int eng_vault_open_blob(const unsigned char *key, const char *kid, const char *tenant,
                        const char *platform, const void *blob, size_t bloblen, char **pt,
                        size_t *ptlen, struct eng_err *err);

/* Say that this process wrote integration_credentials (eng_vault_generation): after the write
 * returned, or after the COMMIT of a transaction the writer opened itself. */
void eng_vault_changed(void);

#endif
