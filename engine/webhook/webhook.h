/*
 * webhook.h - what a verified webhook delivery means: signature checks over the raw bytes, and
 * the pure parsers that turn a WooCommerce delivery or a QuickBooks notification (classic or
 * CloudEvents) into events (rows of webhook_events) and their jobs (rows of sync_queue).
 * webhook.c holds the parsers and checks (flow/webhook_tenant.h finds a WooCommerce delivery's
 * tenant and secret, which needs the store). Owns: the job arrays of the events it fills
 * (eng_webhook_events_free). Must not: run Lua, call a remote system, or keep a secret beyond the
 * call that needs it.
 */
#ifndef ENG_WEBHOOK_H
#define ENG_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/policy.h"

#define ENG_WEBHOOK_ID_MAX    64  /* tenant ids, record ids, entity names */
#define ENG_WEBHOOK_EVID_MAX  128 /* delivery / event ids */
#define ENG_WEBHOOK_ACCT_MAX  256 /* normalised store URL or realm id */
#define ENG_WEBHOOK_ERR_MAX   200
#define ENG_WEBHOOK_PRIORITY  10 /* sync_queue priority of webhook jobs (bulk runs use 0) */
#define ENG_WEBHOOK_MAX_JOBS  200
#define ENG_WEBHOOK_MAX_EVENT 200 /* events in one delivery (Intuit sends at most 100) */

/* What the sender's bytes ask for: one single-record sync. */
struct eng_webhook_job {
    char entity[ENG_WEBHOOK_ID_MAX + 1]; /* orders | customers | products; QuickBooks: Invoice... */
    char id[ENG_WEBHOOK_ID_MAX + 1];     /* the record's id in the sender's system */
    char op[ENG_WEBHOOK_ID_MAX * 2 + 2]; /* WooCommerce event (updated: as long as a topic can be) /
                                          * QuickBooks operation */
};

enum eng_webhook_status {
    ENG_WEBHOOK_QUEUED = 0, /* verified and routed: its jobs go to sync_queue */
    ENG_WEBHOOK_IGNORED,    /* verified, nothing to sync (topic without a flow) */
    ENG_WEBHOOK_REJECTED,   /* verified but malformed or stale: kept for audit, no job */
};

/* One row of webhook_events. Pointers (body) point into the caller's request. */
struct eng_webhook_event {
    const char *source; /* "woocommerce" | "quickbooks" */
    const char *format; /* "woocommerce" | "qbo_classic" | "qbo_cloudevents" | NULL */
    char tenant[ENG_WEBHOOK_ID_MAX + 1]; /* "" = find it from account (QuickBooks realm) */
    char account[ENG_WEBHOOK_ACCT_MAX + 1];
    char event_id[ENG_WEBHOOK_EVID_MAX + 8]; /* "" = NULL (no dedupe) */
    char topic[ENG_WEBHOOK_ID_MAX * 2 + 2];
    char resource[ENG_WEBHOOK_ID_MAX + 1];
    char resource_id[ENG_WEBHOOK_ID_MAX + 1];
    char event_time[48]; /* as sent; "" = none */
    int status;          /* enum eng_webhook_status */
    int stale;           /* REJECTED because it is older than the replay window */
    char error[ENG_WEBHOOK_ERR_MAX];
    const char *body; /* the event's own bytes (a slice of the delivery) */
    size_t body_len;
    struct eng_webhook_job *jobs; /* owned (free) */
    int njobs;
};

/* ---- signatures ---- */

/* 1 when header is the standard base64 of HMAC-SHA256(secret, body), compared in constant time
 * (the header is decoded first; anything not 32 bytes of base64 is simply a mismatch). */
int eng_webhook_signature_ok(const char *header, const char *secret, size_t secret_len,
                             const char *body, size_t len);

/* WordPress' wp_specialchars_decode(secret, ENT_QUOTES), which WooCommerce applies to the
 * secret before signing: &amp; &lt; &gt; &quot; &#039; &#39; &#x27; become the characters.
 * In place; returns the new length. */
size_t eng_webhook_wp_secret_decode(char *s, size_t len);

/* Normalise a store URL the way credentials are stored (scripts/lib/credentials.lua check_url):
 * scheme and host lower-cased, no trailing '/', no query or fragment. 0, or -1 (not a URL,
 * too long). */
int eng_webhook_normalize_url(const char *url, char *out, size_t size);

/* 1 when body is WooCommerce's activation ping: "webhook_id=<digits>" (form-encoded). */
int eng_webhook_is_woo_ping(const char *body, size_t len);

/* ---- parsers (verified bytes in, events out) ---- */

struct eng_webhook_woo_headers {
    const char *source, *topic, *resource, *event, *delivery_id, *webhook_id; /* may be NULL */
};

/* A verified WooCommerce delivery for tenant -> one event in *ev (jobs owned by ev). routes is
 * the woocommerce connector's webhook_entities as published (eng_policy_webhook_routes, copied
 * by the caller; NULL = none): a resource it does not list is an IGNORED event. Returns 0
 * (queued or ignored) or ENG_EINVAL when the body or the headers are malformed: ev is then a
 * REJECTED event whose error says what was wrong. */
int eng_webhook_parse_woo(const char *tenant, const struct eng_webhook_woo_headers *h,
                          const char *body, size_t len, const struct eng_policy_routes *routes,
                          struct eng_webhook_event *ev);

/* A verified QuickBooks body (classic {"eventNotifications":[...]} or a CloudEvents array) ->
 * events (*out, *n; free with eng_webhook_events_free). Element-level problems become REJECTED
 * events. Returns 0, or ENG_EINVAL when the body as a whole is not one of the two formats (err
 * says why; *out is then NULL), or ENG_ENOMEM. now/window: events whose timestamp is older
 * than now - window seconds (window > 0) are REJECTED as stale. */
int eng_webhook_parse_qbo(const char *body, size_t len, int64_t now, int64_t window,
                          struct eng_webhook_event **out, int *n, struct eng_err *err);

/* Jobs of a stored event again (replay): format and the stored columns/body as written by
 * ingest; a WooCommerce event is routed by routes as eng_webhook_parse_woo does. 0 with
 * ev->jobs/njobs filled (maybe 0 jobs), or ENG_EINVAL. */
int eng_webhook_jobs_again(struct eng_webhook_event *ev, const struct eng_policy_routes *routes);

void eng_webhook_events_free(struct eng_webhook_event *ev, int n);

/* Append the job's sync_queue payload (JSON object) to out; webhook_event_id is the row id. */
struct eng_buf;
void eng_webhook_job_payload(const struct eng_webhook_event *ev, const struct eng_webhook_job *job,
                             int64_t webhook_event_id, struct eng_buf *out);
/* The job's dedupe key: "woocommerce:orders:727", "quickbooks:<realm>:Invoice:130". */
void eng_webhook_job_dedupe_key(const struct eng_webhook_event *ev,
                                const struct eng_webhook_job *job, char *out, size_t size);

#endif
