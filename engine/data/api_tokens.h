/*
 * api_tokens.h - the api_tokens table: tenant-scoped bearer tokens, kept as the SHA-256 of the
 * token (hex) and a short prefix to recognise one in a list. The one owner of every SQL
 * statement on that table (api/api.c authenticates with it, cli/cli_token.c manages it).
 * Must not: see or store a token itself (callers pass its hash).
 */
#ifndef ENG_API_TOKENS_H
#define ENG_API_TOKENS_H

#include <stddef.h>

#include "adapt/store.h"
#include "base/err.h"

/* Store a new token of tenant. *id (may be NULL) receives its id. 0 or < 0. */
int eng_api_tokens_insert(struct eng_store *st, const char *tenant, const char *name,
                          const char *hash_hex, const char *prefix, long long *id,
                          struct eng_err *err);

/* The tenant of a live token (not revoked, not expired) into tenant (a longer one is refused).
 * 1 when found, 0 when not, < 0 on a store error. */
int eng_api_tokens_lookup(struct eng_store *st, const char *hash_hex, char *tenant, size_t size,
                          struct eng_err *err);

/* Record the token's use now, at most once a minute (an older last_used_at only). 0 or < 0. */
int eng_api_tokens_touch(struct eng_store *st, const char *hash_hex, struct eng_err *err);

/* Revoke token id now. 1 when revoked, 0 when there is no active token with that id, < 0. */
int eng_api_tokens_revoke(struct eng_store *st, long long id, struct eng_err *err);

/* One row of a list: the strings are valid during the callback only; NULL for SQL NULL. */
struct eng_api_token {
    long long id;
    const char *tenant, *name, *prefix, *created_at, *last_used_at, *revoked_at;
};

/* Call fn for every token (of tenant, or every tenant when tenant is NULL) by id. 0 or < 0. */
int eng_api_tokens_list(struct eng_store *st, const char *tenant,
                        void (*fn)(void *ud, const struct eng_api_token *t), void *ud,
                        struct eng_err *err);

#endif
