/*
 * credentials.h - the Lua half of the credential routes, run on a worker: checking and splitting
 * a submitted body (lib/credentials.lua prepare_store) and a connector's test(ctx) with a context
 * built by connctx.h. api_integrations.c calls these and never touches a lua_State.
 * Owns: the parts of a prepared store (eng_credentials_prepared_free wipes the secret). Must not:
 * put a secret value into a message or a log line.
 */
#ifndef ENG_CREDENTIALS_H
#define ENG_CREDENTIALS_H

#include <stddef.h>

#include "base/err.h"
#include "lua/vm.h" /* eng_vm_call, struct eng_connctx_opts */

struct eng_config;
struct eng_keyring;
struct eng_store;

/* A body checked and split for the vault. */
struct eng_credentials_prepared {
    int ok;            /* 1: the parts below are set; 0: status/code/message/field say why not */
    int status;        /* 400 (not a JSON object) or 422 (a field) when !ok */
    char code[32];     /* "malformed_json", "invalid_field" */
    char message[512]; /* names the field, never its value */
    char field[96];    /* details.field of a 422, "" when none */
    char *secret_json; /* owned; wiped by eng_credentials_prepared_free */
    size_t secret_len;
    char *public_json; /* owned */
    char *account_id;  /* owned, may be NULL */
    char *notes_json;  /* owned, may be NULL: a JSON array of notes (e.g. plain-HTTP store_url) */
};

/* Check body[0..len) against connector `platform`'s declared fields and split it into its
 * sealed and public parts. 0 with out filled (out->ok tells whether the body was accepted);
 * ENG_ESCRIPT / ENG_EBUDGET / ENG_ENOMEM when the script failed (err says where, no value). */
int eng_credentials_prepare(struct eng_vm *vm, const char *platform, const char *body, size_t len,
                            struct eng_credentials_prepared *out, struct eng_err *err);
void eng_credentials_prepared_free(struct eng_credentials_prepared *p);

/* The declared credential fields of connector `platform` as JSON (lib/credentials.lua
 * describe: names, types, rules, descriptions; never a value) into *json (malloc'd). 0, or
 * ENG_ESCRIPT / ENG_EBUDGET / ENG_ENOMEM with err filled. */
int eng_credentials_describe(struct eng_vm *vm, const char *platform, char **json,
                             struct eng_err *err);
/* Build the tenant's context (the 'c' letter: lua/connctx.h) and run the connector's test(ctx)
 * under budget_ms. 0 with *ok and message (a full sentence, UTF-8, no secret, cut to size) when the
 * test ran, including a test that ran out of budget or memory (ok 0, message says so);
 * ENG_ENOTFOUND (nothing stored), ENG_EAUTH (cannot decrypt: err names the key id), store errors
 * and ENG_ESCRIPT (lib/credentials.lua itself failed) otherwise, with err filled. */
int eng_credentials_test(struct eng_vm *vm, const struct eng_config *cfg,
                         const struct eng_keyring *keys, struct eng_store *st, const char *tenant,
                         const char *platform, long long budget_ms, int *ok, char *message,
                         size_t size, struct eng_err *err);

#endif
