/*
 * webhook_health.h - are the store's webhooks still delivering to this engine? WooCommerce
 * disables a webhook after repeated failed deliveries and never re-sends what it missed, so the
 * engine lists the store's webhooks (lib/webhook_health.lua with the tenant's connector context)
 * on a schedule and on demand, keeps the outcome in settings key `woocommerce_webhooks` per
 * tenant, can (re-)register its own webhooks, and then queues a catch-up `sweep` job.
 * Owns: the timer thread and its tasks. Must not: put a secret into a report, a log line or an
 * answer; run Lua or call the store's API outside a worker.
 */
#ifndef ENG_WEBHOOK_HEALTH_H
#define ENG_WEBHOOK_HEALTH_H

#include <stdatomic.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/config.h"
#include "lua/connctx.h"
#include "base/err.h"
#include "adapt/store.h"
#include "lua/vm.h"
#include "flow/worker.h"

#define ENG_WHH_SETTING "woocommerce_webhooks" /* settings key of the last check's report */

/* The delivery URL of tenant's webhooks: WEBHOOK_PUBLIC_URL + /api/webhooks/woocommerce?tenant=T
 * into out. 0, or ENG_ENOTFOUND when WEBHOOK_PUBLIC_URL is unset, ENG_EINVAL when it does not
 * fit. */
int eng_whh_delivery_url(const struct eng_config *cfg, const char *tenant, char *out, size_t size);

/* ---- on a worker (vm is that worker's; o->st its connection) ---- */

/* Check tenant's webhooks now (the store's API, under CONNECTOR_TIMEOUT_MS) and store the
 * report with its time (checkedAt). A check that fails (store unreachable, credentials that
 * cannot be decrypted, budget) is stored too: ok false, warning webhook_check_failed.
 * 0 with the stored report (JSON, the shape of eng_whh_status_json's object) appended to out;
 * ENG_ENOTFOUND when the tenant has no WooCommerce credentials; store errors. */
int eng_whh_check(struct eng_vm *vm, const struct eng_connctx_opts *o, const char *tenant,
                  struct eng_buf *out, struct eng_err *err);

/* The outcome of eng_whh_register. */
struct eng_whh_answer {
    int status;          /* HTTP status of the answer */
    char code[32];       /* error code when status >= 400 */
    char message[512];   /* error message (no secret) */
    char field[64];      /* details.field of a 422: "WEBHOOK_PUBLIC_URL" or "webhook_secret" */
    struct eng_buf body; /* 200: {"ok","registered","webhooks","sweep"} */
};

/* (Re-)register the engine's webhooks with the tenant's stored webhook_secret, store the check
 * that follows, and queue one `sweep` job (payload {"source":"woocommerce","reason":
 * "reregistered","since"}; merged into a pending sweep, keeping the earlier since). since is,
 * over the resources of the topics, the earliest of each resource's newest received event,
 * falling back to the previous check's time, then the credentials' updated_at.
 * Always fills a (status 200, 404, 422, 502, 503 or 500) and returns 0, except for bugs. */
int eng_whh_register(struct eng_vm *vm, const struct eng_connctx_opts *o, const char *tenant,
                     struct eng_whh_answer *a);

/* ---- anywhere ---- */

/* Append the tenant's stored report as a JSON object: {"checkedAt","ok","deliveryUrl",
 * "message","topics":[{"topic","status","ids"}],"warnings":[{"code","topic"?,"message"}]};
 * before any check {"checkedAt":null,"ok":null,...,"topics":[],"warnings":[]}. */
int eng_whh_status_json(struct eng_store *st, const char *tenant, struct eng_buf *out,
                        struct eng_err *err);

/* Submit a check task to w for each tenant with active WooCommerce credentials whose last check
 * is older than older_than_s seconds (never checked first, then the oldest), at most max of
 * them. Each task runs eng_whh_check on a worker; *inflight (may be NULL) is incremented per
 * task submitted and decremented when it is done; cfg and keys must outlive the tasks. Returns
 * the number submitted (>= 0) or a negative ENG_E* code with err filled. */
int eng_whh_check_all(struct eng_workers *w, const struct eng_config *cfg,
                      const struct eng_keyring *keys, struct eng_store *st, long long older_than_s,
                      int max, atomic_int *inflight, struct eng_err *err);

/* The schedule: a thread that, every min(WEBHOOK_CHECK_INTERVAL_S, 60) s, submits the checks
 * that are due (eng_whh_check_all with WEBHOOK_CHECK_INTERVAL_S) once the previous round is
 * done. NULL with 0 returned when the interval is 0 (off). Stop it before the workers. */
struct eng_whh_timer;
int eng_whh_timer_start(const struct eng_config *cfg, const struct eng_keyring *keys,
                        struct eng_workers *w, struct eng_whh_timer **out, struct eng_err *err);
/* Stop the thread and join it (no new checks); call before eng_workers_stop. NULL is fine. */
void eng_whh_timer_stop(struct eng_whh_timer *t);
/* Free it once the workers are stopped (its tasks count themselves in it). NULL is fine. */
void eng_whh_timer_free(struct eng_whh_timer *t);

#endif
