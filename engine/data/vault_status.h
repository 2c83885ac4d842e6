/*
 * vault_status.h - what is known about a tenant's stored credentials, without opening them:
 * the status columns of integration_credentials, the public fields, the token expiry times,
 * and the facts behind each warning (a key id the keyring lacks, a refused refresh token, a
 * refresh token past or near its expiry, what the last passed test warned about). Never the
 * ciphertext; needs no key (a keyring only to tell which key ids it holds). Rendering (the
 * API's JSON, its messages and routes) is api/'s.
 * Must not: open a sealed row; build an answer's text.
 */
#ifndef ENG_VAULT_STATUS_H
#define ENG_VAULT_STATUS_H

#include <stddef.h>

#include "adapt/store.h"
#include "base/err.h"

struct eng_keyring;

#define ENG_VAULT_REFRESH_WARN_DAYS 14 /* warn this long before a refresh token dies */

/* One platform's status. Every string is malloc'd, NULL when the column is NULL (or, for an
 * unconfigured platform, unknown). */
struct eng_vault_status {
    char *platform;
    int configured; /* 1: an active row exists */
    char *key_id;   /* the key id the row is sealed under */
    char *status;   /* 'untested', 'connected', 'error', 'expired' */
    char *last_test_at;
    int last_test_ok; /* 1, 0, or -1 when never tested */
    char *last_test_message;
    char *updated_at;
    char *fields;             /* the public fields: a JSON object's text ("{}" by default) */
    char *access_expires_at;  /* public field access_token_expires_at (text) */
    char *refresh_expires_at; /* public field refresh_token_expires_at (text) */
    int refresh_days_known;   /* 1 when refresh_days holds the time left */
    double refresh_days;      /* days until refresh_expires_at (negative: past) */
    int key_unknown;          /* a keyring was given and does not hold key_id */
    char *test_warning_code;  /* a passed test's message "...; warning CODE: text" */
    char *test_warning_text;
    char *account; /* external_account_id: the account the credentials name (store URL, realm) */
};

/* The status of one platform of tenant (configured 0, the rest NULL, when there is no active
 * row), with key_unknown judged against kr when kr is not NULL. 0 or < 0 with err. Free with
 * eng_vault_status_free. */
int eng_vault_status_get(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                         const char *platform, struct eng_vault_status *out, struct eng_err *err);

/* Every active row of tenant, ordered by platform: *rows (malloc'd array, free with
 * eng_vault_status_list_free) and *n. 0 or < 0 with err. */
int eng_vault_status_list(struct eng_store *st, const struct eng_keyring *kr, const char *tenant,
                          struct eng_vault_status **rows, size_t *n, struct eng_err *err);

void eng_vault_status_free(struct eng_vault_status *s);
void eng_vault_status_list_free(struct eng_vault_status *rows, size_t n);

#endif
