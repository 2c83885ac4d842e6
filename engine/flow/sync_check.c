/*
 * sync_check.c - before a run is queued: does the tenant have usable credentials for both
 * connectors of the flow? The same check the run's start makes (the flow's source and target
 * from lib/sync.lua, each context built by connctx.h), made early so a request without them is
 * refused with the missing connection named instead of queued to fail.
 * Owns: nothing past the call. Must not: keep a context (it holds decrypted secrets) past it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/sync.h"
#include "lua/vm.h"

int eng_sync_check_connections(struct eng_vm *vm, const struct eng_sync_env *env,
                               struct eng_store *st, const char *tenant, const char *flow,
                               struct eng_sync_missing miss[2], int *nmiss, struct eng_err *err)
{
    *nmiss = 0;
    char *msg = NULL, *src = NULL, *dst = NULL;
    int retry = 0;
    int rc = eng_vm_call(vm, "lib.sync", "c_platforms", 0, err, "s>sbss", flow, &msg, &retry, &src,
                         &dst);
    if (rc == 0 && (msg != NULL || src == NULL || dst == NULL))
        rc =
            eng_err_set(err, ENG_ESCRIPT, "%s", msg != NULL ? msg : "the flow names no connectors");
    char platform[2][64];
    snprintf(platform[0], sizeof platform[0], "%s", src != NULL ? src : "");
    snprintf(platform[1], sizeof platform[1], "%s", dst != NULL ? dst : "");
    free(msg);
    free(src);
    free(dst);
    if (rc != 0)
        return rc;
    struct eng_connctx_opts o = {.cfg = env->cfg, .keys = env->keys, .st = st};
    for (int i = 0; i < 2; i++) {
        if (i == 1 && strcmp(platform[0], platform[1]) == 0)
            break;
        struct eng_err e = {0};
        /* build the context in the script (c_ctx_ok drops it at once: it holds secrets) */
        int ok = 0;
        rc = eng_vm_call(vm, "lib.sync", "c_ctx_ok", 0, &e, "c>b", &o, tenant, platform[i], &ok);
        if (rc == 0)
            continue;
        if (rc != ENG_ENOTFOUND && rc != ENG_EAUTH) {
            eng_err_set(err, rc, "%s", e.msg);
            return rc;
        }
        struct eng_sync_missing *m = &miss[(*nmiss)++];
        snprintf(m->platform, sizeof m->platform, "%.63s", platform[i]);
        snprintf(m->role, sizeof m->role, "%s", i == 0 ? "source" : "target");
        snprintf(m->reason, sizeof m->reason, "%s",
                 rc == ENG_ENOTFOUND ? "no_credentials" : "cannot_decrypt");
    }
    return 0;
}
