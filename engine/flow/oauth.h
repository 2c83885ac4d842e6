/*
 * oauth.h - the flow side of the QuickBooks OAuth connect routes (api_oauth.c): the client_id
 * a connect link needs, and on a worker the code-for-tokens exchange of
 * scripts/lib/quickbooks_oauth.lua with the stored credentials, whose tokens go to the vault.
 * Must not: include a Lua header (scripts through eng_vm_call only); put a code, token or
 * client secret into a result, a log line or an error.
 */
#ifndef ENG_OAUTH_H
#define ENG_OAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "adapt/store.h"
#include "base/config.h"
#include "base/err.h"
#include "data/realm_owners.h"

struct eng_keyring;
struct eng_vm;

#define ENG_OAUTH_PLATFORM "quickbooks"

/* The client_id of tenant's stored QuickBooks credentials (the secret part when the connector
 * declares it secret, else the public part) into out, and client_secret must be set.
 * 1 with out filled, 0 when either is missing (or no credentials), ENG_EAUTH when they cannot
 * be decrypted (err names the key id), other < 0 on a store error. */
int eng_oauth_client_id(struct eng_store *st, const struct eng_keyring *keys, const char *tenant,
                        char *out, size_t size, struct eng_err *err);

/* Where an exchange stopped (eng_oauth_exchange). */
enum eng_oauth_stage {
    ENG_OAUTH_CONNECTED = 0,
    ENG_OAUTH_CREDENTIALS, /* reading the stored credentials: rc ENG_ENOTFOUND, ENG_EAUTH, ... */
    ENG_OAUTH_ENGINE,      /* the library itself failed: rc ENG_EBUDGET or ENG_ESCRIPT, ... */
    ENG_OAUTH_REFUSED,     /* the library refused: reason is its code ("no_client",
                            * "bad_credentials", "timeout", ...) */
    ENG_OAUTH_STORING,     /* the tokens could not be stored */
    ENG_OAUTH_REALM_OWNED, /* rc ENG_EEXIST: another tenant owns the realm (nothing stored) */
};

struct eng_oauth_result {
    enum eng_oauth_stage stage;
    char reason[40];   /* ENG_OAUTH_REFUSED: the library's code ("" when none) */
    char message[512]; /* what went wrong, never a secret */
};

/* On a worker: exchange the authorization code for tenant (realm_id: the company) with the
 * stored credentials, store the tokens in the vault (realm_id, or the library's account id,
 * becomes the account id), make the realm the tenant's (data/realm_owners.h: the callback is
 * Intuit's proof) and mark the credentials tested, in one transaction. A realm another tenant
 * owns is refused (ENG_OAUTH_REALM_OWNED) before the code is exchanged and nothing is stored. 0
 * when connected; otherwise a negative ENG_E* code with r->stage and r->message saying where and
 * why. */
int eng_oauth_exchange(struct eng_vm *vm, const struct eng_config *cfg,
                       const struct eng_keyring *keys, struct eng_store *st, const char *tenant,
                       const char *realm_id, const char *code, size_t code_len,
                       struct eng_oauth_result *r);

/* A connection test as proof of the realm (data/realm_owners.h): what tenant's QuickBooks
 * credentials named before the test ran, so that a pass proves that company and no other
 * (credentials stored again meanwhile are not proven). */
struct eng_oauth_realm_proof {
    int have; /* 1: a QuickBooks row naming realm at store_version */
    char realm[ENG_REALM_MAX + 1];
    int64_t version;
};
/* Before the test: fill p (p->have 0 for other platforms, no row or a store error). */
void eng_oauth_realm_before_test(struct eng_store *st, const char *tenant, const char *platform,
                                 struct eng_oauth_realm_proof *p);
/* After it: when the test passed (ok), make p->realm tenant's, unless another tenant owns it
 * (then message[size] gets a sentence saying so, naming no tenant) or the credentials changed
 * meanwhile. Failures are logged; the test's answer stands. */
void eng_oauth_realm_after_test(struct eng_store *st, const char *tenant,
                                const struct eng_oauth_realm_proof *p, int ok, char *message,
                                size_t size);

#endif
