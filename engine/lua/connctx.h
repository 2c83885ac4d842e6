/*
 * connctx.h - a connector's context for one tenant, built on a worker: the tenant's stored
 * credentials decrypted from the vault and merged with their public fields, the engine's settings
 * for that connector, and (for OAuth connectors) ctx.on_tokens, which writes rotated tokens back
 * to the vault so that two workers refreshing one company never lose the newer refresh token.
 * The orchestrator, the credential test and the OAuth flow all build contexts here.
 * Owns: nothing past a call; decrypted secrets live only in the VM's table it pushes.
 * Must not: put a secret value into a struct eng_err, a log line or the database in clear.
 */
#ifndef ENG_CONNCTX_H
#define ENG_CONNCTX_H

#include "base/config.h"
#include "base/err.h"
#include "adapt/store.h"
#include "data/vault.h"
#include "lua/vm_int.h"

/* struct eng_connctx_opts (cfg, keys, st) is defined in lua/vm.h: the 'c' letter's argument. */

/* Push onto vm's stack the context of connector `platform` for `tenant` (built by
 * lib/credentials.lua's build_context; the Lua-visible shape is documented there):
 *   { tenant = "...", platform = "...",
 *     credentials = { ...secret and public fields merged... },   -- {} for a connector that
 *                                                                -- declares no credentials
 *     config = { quickbooks_api_base, quickbooks_token_url, connector_timeout_ms },
 *     -- OAuth connectors (those declaring a refresh_token field) only:
 *     on_tokens = function(tokens) end,          -- persist rotated tokens (compare-and-swap)
 *     refresh_begin = function(opts) end,        -- take the refresh lease, or reload newer ones
 *     refresh_end = function(opts) end,          -- give the lease back without storing
 *     reload_credentials = function() end }      -- re-read the vault into ctx.credentials
 * The context's functions use o->keys and o->st whenever they are called: both must outlive the
 * VM (the worker's keyring and its thread's own store connection do). o->cfg is read here only.
 * Errors (nothing pushed): ENG_ENOTFOUND "no credentials stored for <platform>" when the
 * connector declares credentials and the tenant has none; ENG_EAUTH when the row cannot be
 * decrypted with the configured keys; ENG_ESCRIPT for an unknown connector; store errors.
 * [-0, +1 on success, +0 on failure] */
int eng_connctx_push(struct eng_vm *vm, const struct eng_connctx_opts *o, const char *tenant,
                     const char *platform, struct eng_err *err);

#endif
