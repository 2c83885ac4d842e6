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

#include "adapt/store.h"
#include "base/buf.h"
#include "base/config.h"
#include "base/err.h"

struct eng_keyring;
struct eng_vm;
struct eng_workers;

#define ENG_WEBHOOK_HEALTH_SETTING                                                                 \
    "woocommerce_webhooks" /* settings key of the last check's report */

/* The delivery URL of tenant's webhooks: WEBHOOK_PUBLIC_URL + /api/webhooks/woocommerce?tenant=T
 * into out. 0, or ENG_ENOTFOUND when WEBHOOK_PUBLIC_URL is unset, ENG_EINVAL when it does not
 * fit. */
int eng_webhook_health_delivery_url(const struct eng_config *cfg, const char *tenant, char *out,
                                    size_t size);

/* Where a check or a register stopped, and why (never a secret). */
enum eng_webhook_health_stage {
    ENG_WEBHOOK_HEALTH_CONFIG = 1,  /* ENG_EINVAL: field names what is missing (WEBHOOK_PUBLIC_URL,
                                     * or the  stored credentials' webhook_secret) */
    ENG_WEBHOOK_HEALTH_CREDENTIALS, /* ENG_ENOTFOUND (none stored), ENG_EAUTH (cannot be decrypted)
                                     */
    ENG_WEBHOOK_HEALTH_SCRIPT,      /* lib/webhook_health.lua failed: ENG_EBUDGET, ENG_ESCRIPT,
                                       ENG_ENOMEM */
    ENG_WEBHOOK_HEALTH_UPSTREAM,    /* ENG_EIO: the store's webhooks could not be listed */
    ENG_WEBHOOK_HEALTH_STORE,       /* the engine's store failed: ENG_EBUSY (retry), other codes */
};

struct eng_webhook_health_failure {
    enum eng_webhook_health_stage stage;
    char field[64];
    char message[480];
};

/* ---- on a worker (vm is that worker's; st its thread's connection; keys and cfg as the
 * connector context needs them) ---- */

/* Check tenant's webhooks now (the store's API, under CONNECTOR_TIMEOUT_MS) and store the
 * report with its time (checkedAt). A check that fails (store unreachable, credentials that
 * cannot be decrypted, budget) is stored too: ok false, warning webhook_check_failed.
 * 0 with the stored report (the JSON object eng_webhook_health_status gives) appended to out;
 * ENG_ENOTFOUND when the tenant has no WooCommerce credentials; store errors with err. */
int eng_webhook_health_check(struct eng_vm *vm, const struct eng_config *cfg,
                             const struct eng_keyring *keys, struct eng_store *st,
                             const char *tenant, struct eng_buf *out, struct eng_err *err);

/* What a register did. */
struct eng_webhook_health_registered {
    int ok;               /* the check that followed found every topic delivering here */
    struct eng_buf added; /* JSON array of what was (re-)registered, as the library says */
    struct eng_buf check; /* the stored check report (JSON object) */
    int sweep_queued;     /* 1: a sweep job is queued (sweep_id); 0: one is running already */
    long long sweep_id;
    char since[64]; /* the sweep's since */
};

/* (Re-)register the engine's webhooks with the tenant's stored webhook_secret, store the check
 * that follows, and queue one `sweep` job (payload {"source":"woocommerce","reason":
 * "reregistered","since"}; merged into a pending sweep, keeping the earlier since). since is,
 * over the resources of the topics, the earliest of each resource's newest received event,
 * falling back to the previous check's time, then the credentials' updated_at.
 * 0 with out filled (free with eng_webhook_health_registered_free), or a negative ENG_E* code with
 * f saying where (eng_webhook_health_stage) and why. */
int eng_webhook_health_register(struct eng_vm *vm, const struct eng_config *cfg,
                                const struct eng_keyring *keys, struct eng_store *st,
                                const char *tenant, struct eng_webhook_health_registered *out,
                                struct eng_webhook_health_failure *f);
void eng_webhook_health_registered_free(struct eng_webhook_health_registered *r);

/* ---- anywhere ---- */

/* Append the tenant's stored report (a JSON object: {"checkedAt","ok","deliveryUrl",
 * "message","topics":[{"topic","status","ids"}],"warnings":[{"code","topic"?,"message"}]})
 * to out. 1 when there is one, 0 before any check (nothing appended), < 0 on a store error. */
int eng_webhook_health_status(struct eng_store *st, const char *tenant, struct eng_buf *out,
                              struct eng_err *err);

/* Submit a check task to w for each tenant with active WooCommerce credentials whose last check
 * is older than older_than_s seconds (never checked first, then the oldest), at most max of
 * them. Each task runs eng_webhook_health_check on a worker; *inflight (may be NULL) is incremented
 * per task submitted and decremented when it is done; cfg and keys must outlive the tasks. Returns
 * the number submitted (>= 0) or a negative ENG_E* code with err filled. */
int eng_webhook_health_check_all(struct eng_workers *w, const struct eng_config *cfg,
                                 const struct eng_keyring *keys, struct eng_store *st,
                                 long long older_than_s, int max, atomic_int *inflight,
                                 struct eng_err *err);

/* The schedule: a thread that, every min(WEBHOOK_CHECK_INTERVAL_S, 60) s, submits the checks
 * that are due (eng_webhook_health_check_all with WEBHOOK_CHECK_INTERVAL_S) once the previous round
 * is done. NULL with 0 returned when the interval is 0 (off). Stop it before the workers. */
struct eng_webhook_health_timer;
int eng_webhook_health_timer_start(const struct eng_config *cfg, const struct eng_keyring *keys,
                                   struct eng_workers *w, struct eng_webhook_health_timer **out,
                                   struct eng_err *err);
/* Stop the thread and join it (no new checks); call before eng_workers_stop. NULL is fine. */
void eng_webhook_health_timer_stop(struct eng_webhook_health_timer *t);
/* Free it once the workers are stopped (its tasks count themselves in it). NULL is fine. */
void eng_webhook_health_timer_free(struct eng_webhook_health_timer *t);

#endif
