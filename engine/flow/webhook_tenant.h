/*
 * webhook_tenant.h - which tenant a WooCommerce delivery belongs to: the tenant whose webhook
 * secret (sealed in the vault) signs it, with opened secrets cached in memory per tenant.
 * Owns: the cache (struct eng_webhook_tenant_secrets) and its copies of secrets. Must not: log,
 * return or store a secret. Lives in flow/ because it reads the store and the vault; the pure
 * signature check it uses is webhook/webhook.h's eng_webhook_signature_ok.
 */
#ifndef ENG_WEBHOOK_TENANT_H
#define ENG_WEBHOOK_TENANT_H

#include <stddef.h>

#include "base/err.h"
#include "webhook/webhook.h"

struct eng_store;
struct eng_keyring;

struct eng_webhook_tenant_secrets; /* per-tenant webhook secrets, decrypted once and cached in
                                      memory */

/* A new, empty cache (NULL when out of memory); the caller frees it with
 * eng_webhook_tenant_secrets_free, after the last eng_webhook_tenant_woo returned. With a
 * database_url the candidates are read on connections of its own, their statements prepared
 * once (NULL: on the st each call passes). */
struct eng_webhook_tenant_secrets *eng_webhook_tenant_secrets_new(const char *database_url);
void eng_webhook_tenant_secrets_free(
    struct eng_webhook_tenant_secrets *c); /* wipes every cached secret; NULL is fine */

/* Find the tenant whose webhook secret signs body with signature: tenants whose stored store
 * URL is source (normalised), then the ?tenant= hint, then - when no stored store matched - the
 * default tenant with default_secret (WOOCOMMERCE_WEBHOOK_SECRET). 0 with tenant filled, or
 * ENG_EAUTH (no candidate verifies), or a store error. Never says why in err (401 answers carry
 * no detail) beyond what a log may hold. */
int eng_webhook_tenant_woo(struct eng_webhook_tenant_secrets *c, struct eng_store *st,
                           const struct eng_keyring *keys, const char *source_norm,
                           const char *hint_tenant, const char *default_secret,
                           const char *signature, const char *body, size_t len,
                           char tenant[ENG_WEBHOOK_ID_MAX + 1], struct eng_err *err);

#endif
