/*
 * console_sessions.h - the console_sessions table: the web console's login sessions, kept as
 * the SHA-256 (hex) of the random cookie value, never the value itself. The one owner of every
 * SQL statement on that table and on the known_tenants view (schema/0010_console_sessions.sql).
 * api/api.c authenticates with it, api/api_session.c logs in and out.
 * Must not: see a cookie value or a token (callers pass hashes), or log a hash.
 */
#ifndef ENG_CONSOLE_SESSIONS_H
#define ENG_CONSOLE_SESSIONS_H

#include <stddef.h>

#include "adapt/store.h"
#include "base/err.h"

#define ENG_CONSOLE_SESSIONS_PER_PRINCIPAL                                                         \
    20 /* a token's (or API_TOKEN's) newest sessions kept                                          \
        */

struct eng_console_session {
    char tenant[65];
    int admin;
    char token_hash[65]; /* a tenant session: the hash of the token it came from; else "" */
    char admin_fp[65];   /* an administrator's: the fingerprint of API_TOKEN then; else "" */
    char expires_at[32];
};

/* Store a new session s->... (token_hash for a tenant, admin_fp for the administrator) under
 * id_hash, expiring ttl_s seconds from now; s->expires_at receives the expiry. First deletes
 * the expired rows, then keeps the principal's newest ENG_CONSOLE_SESSIONS_PER_PRINCIPAL.
 * 0 or < 0. */
int eng_console_sessions_create(struct eng_store *st, const char *id_hash,
                                struct eng_console_session *s, long long ttl_s,
                                struct eng_err *err);

/* The live (not expired) session id_hash into *out. 1 found, 0 not, < 0 on a store error. */
int eng_console_sessions_lookup(struct eng_store *st, const char *id_hash,
                                struct eng_console_session *out, struct eng_err *err);

/* Record the session's use now, at most once a minute. 0 or < 0. */
int eng_console_sessions_touch(struct eng_store *st, const char *id_hash, struct eng_err *err);

/* Delete session id_hash (logout, or it no longer stands). 1 deleted, 0 none, < 0. */
int eng_console_sessions_delete(struct eng_store *st, const char *id_hash, struct eng_err *err);

/* Delete the expired rows. The number deleted, or < 0. */
int eng_console_sessions_prune(struct eng_store *st, struct eng_err *err);

/* Call fn with every tenant id the store knows (known_tenants), in order. 0 or < 0. */
int eng_console_tenants_list(struct eng_store *st, void (*fn)(void *ud, const char *tenant),
                             void *ud, struct eng_err *err);

#endif
