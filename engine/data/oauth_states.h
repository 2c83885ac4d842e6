/*
 * oauth_states.h - the oauth_states table: the SHA-256 of each OAuth connect state (never the
 * state itself), its tenant and platform, single use, with an expiry. The one owner of every
 * SQL statement on that table.
 * Must not: see a state's text (callers pass its hash).
 */
#ifndef ENG_OAUTH_STATES_H
#define ENG_OAUTH_STATES_H

#include <stddef.h>

#include "adapt/store.h"
#include "base/err.h"

/* Store a new state (hash) for tenant and platform, expiring ttl_s seconds from now; rows a day
 * past their expiry are dropped on the way. expires receives the expiry (ISO-8601 UTC).
 * 0 or < 0. */
int eng_oauth_states_insert(struct eng_store *st, const char *hash, const char *tenant,
                            const char *platform, long long ttl_s, char *expires, size_t size,
                            struct eng_err *err);

/* Consume a state in one statement (two callbacks racing on one state cannot both win).
 * 1 with its tenant copied into tenant (at most size - 1 bytes; a longer one is refused as 0),
 * 0 when unknown, expired or already used, < 0 on error. */
int eng_oauth_states_consume(struct eng_store *st, const char *hash, const char *platform,
                             char *tenant, size_t size, struct eng_err *err);

/* Give a consumed state back (nothing was done with it: the same link may be retried). */
void eng_oauth_states_release(struct eng_store *st, const char *hash);

#endif
