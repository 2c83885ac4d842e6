/*
 * api_webhooks.c - the webhook receivers (POST /api/webhooks/woocommerce, /quickbooks,
 * /quickbooks/cloudevents) and the audit routes (GET /api/webhooks/events, POST
 * /api/webhooks/events/{id}/replay). A receiver verifies the signature over the raw bytes in
 * constant time before parsing anything, parses in C, hands the events to the ingest writer and
 * suspends; it answers when the writer has committed (200 only after the commit).
 * Owns: one struct wh_req per webhook request (the request's state), and the refusal log's rate
 * limit. Must not: run Lua, call a remote system, tell the sender why a delivery was refused (401
 * has no detail; the log says why), or log a body, a signature or a secret.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "flow/ingest.h"
#include "base/log.h"
#include "adapt/store.h"
#include "webhook/webhook.h"

struct wh_req {
    struct eng_ingest_item item;
    struct eng_httpd_req *req;
    struct eng_webhook_event one; /* WooCommerce, and a malformed QuickBooks body */
    struct eng_webhook_event *many;
    int nmany;
    char *headers;
    int malformed;
    char message[ENG_WEBHOOK_ERR_MAX + 64];
};

static void wh_req_free(void *p)
{
    struct wh_req *w = p;
    free(w->one.jobs);
    eng_webhook_events_free(w->many, w->nmany);
    free(w->headers);
    free(w);
}

static void wh_item_done(struct eng_ingest_item *it)
{
    struct wh_req *w = it->ud;
    eng_httpd_resume(w->req);
}

/* The headers that matter, as a JSON object (values reduced to printable ASCII). */
static char *wh_headers_json(struct eng_httpd_req *req, const char *const *names)
{
    struct eng_buf b;
    eng_buf_init(&b);
    eng_buf_putc(&b, '{');
    int n = 0;
    for (; *names != NULL; names++) {
        const char *v = eng_httpd_header(req, *names);
        if (v == NULL)
            continue;
        char clean[513];
        size_t k = 0;
        for (; v[k] != '\0' && k < sizeof clean - 1; k++) {
            char ch = v[k];
            if (ch < 0x20 || ch >= 0x7F)
                ch = '?';
            clean[k] = ch;
        }
        clean[k] = '\0';
        if (n++)
            eng_buf_putc(&b, ',');
        eng_buf_json_str(&b, *names, strlen(*names));
        eng_buf_putc(&b, ':');
        eng_buf_json_str(&b, clean, k);
    }
    eng_buf_putc(&b, '}');
    return eng_buf_take(&b, NULL);
}

/* Refusals are logged, but anyone can send forged deliveries by the thousand: at most
 * WH_REFUSAL_BURST lines per WH_REFUSAL_WINDOW_S seconds, one line when the limit is reached,
 * and the next window's first line counts what was left out (the metric counts them all).
 * Bounded: three numbers under a mutex. */
#define WH_REFUSAL_BURST    20
#define WH_REFUSAL_WINDOW_S 60

static pthread_mutex_t wh_refusal_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    long long window_start;
    int logged;
    unsigned long long suppressed;
} wh_refusals;

/* A header value fit for a log line: printable ASCII, at most size - 1 bytes; "" when absent. */
static void wh_clean(const char *v, char *out, size_t size)
{
    size_t k = 0;
    for (; v != NULL && v[k] != '\0' && k < size - 1; k++) {
        char ch = v[k];
        if (ch < 0x20 || ch >= 0x7F)
            ch = '?';
        out[k] = ch;
    }
    out[k] = '\0';
}

/* Log why a delivery was refused: route, delivery id, source, reason and the peer; never the
 * secret, the signature or the body. */
static void wh_log_refusal(struct eng_api_ctx *c, const char *msg, const char *delivery_header,
                           const char *source, const char *reason)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long long carried = 0;
    int log = 0, limit_hit = 0;
    pthread_mutex_lock(&wh_refusal_mu);
    if (wh_refusals.window_start == 0 ||
        (long long)ts.tv_sec - wh_refusals.window_start >= WH_REFUSAL_WINDOW_S) {
        carried = wh_refusals.suppressed;
        wh_refusals.window_start = (long long)ts.tv_sec;
        wh_refusals.logged = 0;
        wh_refusals.suppressed = 0;
    }
    if (wh_refusals.logged < WH_REFUSAL_BURST) {
        log = 1;
        limit_hit = ++wh_refusals.logged == WH_REFUSAL_BURST;
    } else {
        wh_refusals.suppressed++;
    }
    pthread_mutex_unlock(&wh_refusal_mu);
    if (!log)
        return;
    char delivery[129], src[257], n[32];
    wh_clean(delivery_header != NULL ? eng_httpd_header(c->req, delivery_header) : NULL, delivery,
             sizeof delivery);
    wh_clean(source, src, sizeof src);
    snprintf(n, sizeof n, "%llu", carried);
    const char *kv[] = {"route",
                        c->route->pattern,
                        "delivery",
                        delivery,
                        "source",
                        src,
                        "reason",
                        reason,
                        "peer",
                        eng_httpd_peer(c->req) ? eng_httpd_peer(c->req) : "",
                        carried ? "notLoggedBefore" : NULL,
                        n,
                        NULL};
    eng_log_kv(ENG_LOG_WARN, NULL, NULL, msg, kv);
    if (limit_hit)
        eng_log_kv(ENG_LOG_WARN, NULL, NULL,
                   "webhook refusals: 20 logged this minute; the rest are counted, not logged "
                   "(metric tallysync_webhook_refused_total)",
                   NULL);
}

static int wh_refuse(struct eng_api_ctx *c, _Atomic unsigned long long *counter,
                     const char *delivery_header, const char *source, const char *reason)
{
    if (counter != NULL)
        atomic_fetch_add(counter, 1);
    wh_log_refusal(c, "webhook refused", delivery_header, source, reason);
    /* one answer for every reason: no hint whether the signature, secret or tenant was wrong */
    return eng_api_error(c->resp, 401, "unauthorized", "the webhook could not be verified", NULL);
}

static int wh_unavailable(struct eng_api_ctx *c, const char *message)
{
    eng_httpd_resp_header(c->resp, "Retry-After", "1");
    return eng_api_error(c->resp, 503, "unavailable", message, NULL);
}

/* The resumed request: answer from the writer's result. */
static int wh_answer(struct eng_api_ctx *c, struct wh_req *w)
{
    struct eng_ingest_item *it = &w->item;
    if (it->rc != 0)
        return wh_unavailable(c, "the event could not be stored; retry");
    int woo = strcmp(c->route->pattern, "/api/webhooks/woocommerce") == 0;
    const char *dh = woo ? "X-WC-Webhook-Delivery-ID" : "intuit-t-id";
    const char *src = woo ? eng_httpd_header(c->req, "X-WC-Webhook-Source") : "quickbooks";
    /* signed, so not forged, but kept out of the sync: say so (same bounded log) */
    if (w->malformed) {
        wh_log_refusal(c, "webhook rejected", dh, src, w->message);
        return eng_api_error(c->resp, 400, "malformed_payload", w->message, NULL);
    }
    if (it->stale > 0)
        wh_log_refusal(c, "webhook rejected", dh, src,
                       "older than WEBHOOK_REPLAY_WINDOW_SECONDS: kept as rejected (stale), not "
                       "queued");
    eng_buf_printf(&c->resp->body,
                   "{\"received\":%d,\"stored\":%d,\"duplicates\":%d,\"jobs\":%d,"
                   "\"unrouted\":%d,\"ignored\":%d,\"rejected\":%d,\"stale\":%d}",
                   it->nevents, it->stored, it->duplicates, it->jobs, it->unrouted, it->ignored,
                   it->rejected, it->stale);
    return ENG_HTTPD_DONE;
}

static int wh_submit(struct eng_api_ctx *c, struct wh_req *w)
{
    struct eng_ingest *ing = c->api->ingest;
    w->req = c->req;
    w->item.done = wh_item_done;
    w->item.ud = w;
    eng_httpd_set_state(c->req, w, wh_req_free);
    int rc = eng_ingest_submit(ing, &w->item);
    if (rc != 0)
        return wh_unavailable(c, rc == ENG_EBUSY ? "too many webhooks at once; retry shortly"
                                                 : "the engine is stopping; retry shortly");
    return ENG_HTTPD_PENDING;
}

/* ---- WooCommerce ---- */

/* The start every receiver shares: a resumed request answers with its outcome; without the
 * ingest writer 503. */
struct wh_start {
    struct eng_ingest *ing;
    struct eng_ingest_counters *ctr;
    const char *body;
    size_t len;
    int answered; /* the handler's return value when wh_begin returns 1 */
};

/* 0 with the writer, its counters and the body in b, else 1 (answered). */
static int wh_begin(struct eng_api_ctx *c, struct wh_start *b)
{
    struct wh_req *w = eng_httpd_state(c->req);
    if (w != NULL)
        return b->answered = wh_answer(c, w), 1;
    b->ing = c->api->ingest;
    if (b->ing == NULL)
        return b->answered = wh_unavailable(c, "webhook ingest is not running"), 1;
    b->ctr = eng_ingest_counters(b->ing);
    b->body = eng_httpd_body(c->req, &b->len);
    return 0;
}

static const char *const wh_woo_headers[] = {"Content-Type",           "User-Agent",
                                             "X-WC-Webhook-Source",    "X-WC-Webhook-Topic",
                                             "X-WC-Webhook-Resource",  "X-WC-Webhook-Event",
                                             "X-WC-Webhook-ID",        "X-WC-Webhook-Delivery-ID",
                                             "X-WC-Webhook-Signature", NULL};

int eng_api_webhook_woocommerce(struct eng_api_ctx *c)
{
    struct wh_start b;
    if (wh_begin(c, &b) != 0)
        return b.answered;
    const char *sig = eng_httpd_header(c->req, "X-WC-Webhook-Signature");

    if (sig == NULL || *sig == '\0') {
        /* The activation ping: form-encoded webhook_id=N, no signature and no X-WC-Webhook-*
         * header at all. Anything but 200 marks the webhook failed; it carries nothing to do. */
        int wc_headers = 0;
        for (int i = 2; wh_woo_headers[i] != NULL; i++)
            wc_headers |= eng_httpd_header(c->req, wh_woo_headers[i]) != NULL;
        if (!wc_headers && eng_webhook_is_woo_ping(b.body, b.len)) {
            atomic_fetch_add(&b.ctr->pings, 1);
            eng_buf_puts(&c->resp->body, "{\"ok\":true,\"ping\":true}");
            return ENG_HTTPD_DONE;
        }
        return wh_refuse(c, &b.ctr->refused_woo, "X-WC-Webhook-Delivery-ID",
                         eng_httpd_header(c->req, "X-WC-Webhook-Source"),
                         "no X-WC-Webhook-Signature header, and not an activation ping");
    }

    char source[ENG_WEBHOOK_ACCT_MAX + 1] = "";
    const char *src = eng_httpd_header(c->req, "X-WC-Webhook-Source");
    if (src != NULL && eng_webhook_normalize_url(src, source, sizeof source) != 0)
        source[0] = '\0';
    const char *hint = eng_httpd_query(c->req, "tenant");
    if (hint != NULL && !eng_api_id_ok(hint, strlen(hint)))
        hint = NULL;
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    char tenant[ENG_WEBHOOK_ID_MAX + 1];
    struct eng_err err = {0};
    int rc = eng_webhook_tenant_woo(eng_ingest_secrets(b.ing), st, c->api->keys, source, hint,
                                    c->api->cfg->woocommerce_webhook_secret, sig, b.body, b.len,
                                    tenant, &err);
    if (rc == ENG_EAUTH)
        return wh_refuse(c, &b.ctr->refused_woo, "X-WC-Webhook-Delivery-ID",
                         eng_httpd_header(c->req, "X-WC-Webhook-Source"),
                         "the signature matches the webhook secret of no tenant this source "
                         "may belong to");
    if (rc != 0) {
        eng_logf(ENG_LOG_ERROR, "webhook: cannot look up the WooCommerce tenant: %s", err.msg);
        return wh_unavailable(c, "the store is not reachable; retry shortly");
    }

    struct wh_req *w = calloc(1, sizeof *w);
    if (w == NULL)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    struct eng_webhook_woo_headers h = {
        .source = source,
        .topic = eng_httpd_header(c->req, "X-WC-Webhook-Topic"),
        .resource = eng_httpd_header(c->req, "X-WC-Webhook-Resource"),
        .event = eng_httpd_header(c->req, "X-WC-Webhook-Event"),
        .delivery_id = eng_httpd_header(c->req, "X-WC-Webhook-Delivery-ID"),
        .webhook_id = eng_httpd_header(c->req, "X-WC-Webhook-ID"),
    };
    struct eng_policy_routes routes; /* the woocommerce connector's webhook_entities */
    eng_policy_webhook_routes(c->api->policy, "woocommerce", &routes);
    rc = eng_webhook_parse_woo(tenant, &h, b.body, b.len, &routes, &w->one);
    if (rc == ENG_ENOMEM) {
        wh_req_free(w);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    if (rc != 0) {
        w->malformed = 1;
        snprintf(w->message, sizeof w->message, "%s", w->one.error);
    }
    w->headers = wh_headers_json(c->req, wh_woo_headers);
    if (w->headers == NULL) {
        wh_req_free(w);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    w->item.kind = ENG_INGEST_EVENTS;
    w->item.events = &w->one;
    w->item.nevents = 1;
    w->item.headers_json = w->headers;
    return wh_submit(c, w);
}

/* ---- QuickBooks (both routes accept both formats) ---- */

static const char *const wh_qbo_headers[] = {
    "Content-Type", "User-Agent", "intuit-signature", "intuit-t-id", "intuit-created-time", NULL};

int eng_api_webhook_quickbooks(struct eng_api_ctx *c)
{
    struct wh_start b;
    if (wh_begin(c, &b) != 0)
        return b.answered;
    const char *sig = eng_httpd_header(c->req, "intuit-signature");
    const char *secret = c->api->cfg->quickbooks_webhook_secret;
    /* One verifier token per app (QUICKBOOKS_WEBHOOK_SECRET): without it nothing verifies. */
    const char *why = NULL;
    if (secret == NULL || *secret == '\0')
        why = "QUICKBOOKS_WEBHOOK_SECRET is not set: nothing can be verified";
    else if (sig == NULL || *sig == '\0')
        why = "no intuit-signature header";
    else if (!eng_webhook_signature_ok(sig, secret, strlen(secret), b.body, b.len))
        why = "the signature does not match QUICKBOOKS_WEBHOOK_SECRET";
    if (why != NULL)
        return wh_refuse(c, &b.ctr->refused_qbo, "intuit-t-id", "quickbooks", why);

    struct wh_req *w = calloc(1, sizeof *w);
    if (w == NULL)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    struct eng_err err = {0};
    int rc = eng_webhook_parse_qbo(b.body, b.len, (int64_t)time(NULL), eng_ingest_window(b.ing),
                                   &w->many, &w->nmany, &err);
    if (rc == ENG_ENOMEM) {
        wh_req_free(w);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    w->item.kind = ENG_INGEST_EVENTS;
    if (rc != 0) {
        /* signed by Intuit's verifier token, but not a notification: kept for audit */
        w->malformed = 1;
        snprintf(w->message, sizeof w->message, "%.200s", err.msg);
        w->one.source = "quickbooks";
        w->one.status = ENG_WEBHOOK_REJECTED;
        w->one.body = b.body;
        w->one.body_len = b.len;
        snprintf(w->one.error, sizeof w->one.error, "%.150s", err.msg);
        w->item.events = &w->one;
        w->item.nevents = 1;
    } else {
        w->item.events = w->many;
        w->item.nevents = w->nmany;
    }
    w->headers = wh_headers_json(c->req, wh_qbo_headers);
    if (w->headers == NULL) {
        wh_req_free(w);
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    }
    w->item.headers_json = w->headers;
    return wh_submit(c, w);
}

/* ---- audit: list and replay ---- */

static const char *const wh_statuses[] = {"received", "queued",   "processed", "ignored",
                                          "unrouted", "rejected", "failed",    NULL};

static int wh_in(const char *v, const char *const *list)
{
    for (; *list != NULL; list++)
        if (strcmp(v, *list) == 0)
            return 1;
    return 0;
}

/* Parse 1..18 digits into *out. */
static int wh_int(const char *s, long long *out)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 18)
        return -1;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static void wh_json_col(struct eng_buf *b, struct eng_store_stmt *s, int col)
{
    size_t n;
    const char *t = eng_store_column_text(s, col, &n);
    if (eng_store_column_type(s, col) == ENG_STORE_NULL || t == NULL)
        eng_buf_puts(b, "null");
    else
        eng_buf_json_str(b, t, n);
}

int eng_api_webhook_events(struct eng_api_ctx *c)
{
    const char *status = eng_httpd_query(c->req, "status");
    const char *source = eng_httpd_query(c->req, "source");
    const char *lim = eng_httpd_query(c->req, "limit");
    const char *before = eng_httpd_query(c->req, "before");
    long long limit = 50, before_id = 0;
    if (status != NULL && !wh_in(status, wh_statuses))
        return eng_api_error(c->resp, 400, "invalid_parameter",
                             "status must be one of received, queued, processed, ignored, "
                             "unrouted, rejected, failed",
                             NULL);
    if (source != NULL && strcmp(source, "woocommerce") != 0 && strcmp(source, "quickbooks") != 0)
        return eng_api_error(c->resp, 400, "invalid_parameter",
                             "source must be woocommerce or quickbooks", NULL);
    if (lim != NULL && (wh_int(lim, &limit) != 0 || limit < 1 || limit > 500))
        return eng_api_error(c->resp, 400, "invalid_parameter",
                             "limit must be an integer from 1 to 500", NULL);
    if (before != NULL && wh_int(before, &before_id) != 0)
        return eng_api_error(c->resp, 400, "invalid_parameter",
                             "before must be an event id (the previous page's next)", NULL);
    struct eng_store *st = eng_api_store(c);
    if (st == NULL)
        return ENG_HTTPD_DONE;
    /* What the delivery did: the record its job wrote (outside any run) for the event's
     * resource, first written after it arrived (or after its last replay); an open failure the
     * job updated counts too. */
    static const char sql[] =
        "SELECT id, source, format, tenant_id, account_id, event_id, topic, resource, "
        "resource_id, event_time, status, received_at, replay_count, last_replayed_at, error, "
        "json_extract(x, '$.outcome'), json_extract(x, '$.target'), x FROM (SELECT e.*, (SELECT "
        "j FROM (SELECT json_object('outcome', r.outcome, 'flow', r.flow, 'target', "
        "json_object('system', r.target_system, 'entity', r.target_type, 'id', r.target_id), "
        "'error', r.error, 'recordedAt', r.updated_at) AS j, r.created_at < "
        "coalesce(e.last_replayed_at, "
        "e.received_at) AS "
        "older, r.created_at AS c FROM sync_records r WHERE e.tenant_id IS NOT NULL AND "
        "r.tenant_id = e.tenant_id AND r.source_system = e.source AND r.source_entity = CASE "
        "e.resource WHEN 'order' THEN 'orders' WHEN 'customer' THEN 'customers' WHEN 'product' "
        "THEN 'products' ELSE e.resource END AND r.source_id = e.resource_id AND r.run_id IS "
        "NULL AND r.dry_run = 0 AND r.updated_at >= coalesce(e.last_replayed_at, e.received_at)) "
        "ORDER BY older, c LIMIT 1) "
        "AS x "
        "FROM webhook_events e WHERE (tenant_id = ?1 OR (?2 <> 0 AND tenant_id IS NULL)) AND "
        "(?3 IS NULL OR status = ?3) AND (?4 IS NULL OR source = ?4) AND (?5 = 0 OR id < ?5) "
        "ORDER BY id DESC LIMIT ?6) ORDER BY id DESC";
    struct eng_store_stmt *s = NULL;
    struct eng_err err = {0};
    int rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, &s, &err);
    if (rc == 0)
        rc = eng_store_bind_text(s, 1, c->tenant, strlen(c->tenant));
    if (rc == 0)
        rc = eng_store_bind_int64(s, 2, c->admin);
    if (rc == 0)
        rc = eng_store_bind_str(s, 3, status); /* NULL: a NULL typed as text ("?3 IS NULL") */
    if (rc == 0)
        rc = eng_store_bind_str(s, 4, source);
    if (rc == 0)
        rc = eng_store_bind_int64(s, 5, before_id);
    if (rc == 0)
        rc = eng_store_bind_int64(s, 6, limit + 1);
    struct eng_buf *b = &c->resp->body;
    eng_buf_puts(b, "{\"events\":[");
    long long n = 0, last = 0;
    int more = 0;
    while (rc == 0 && (rc = eng_store_step(s, &err)) == ENG_STORE_ROW) {
        rc = 0;
        if (n == limit) {
            more = 1;
            break;
        }
        last = (long long)eng_store_column_int64(s, 0);
        static const char *const keys[] = {NULL,         "source",         "format", "tenant",
                                           "accountId",  "eventId",        "topic",  "resource",
                                           "resourceId", "eventTime",      "status", "receivedAt",
                                           NULL,         "lastReplayedAt", "error"};
        eng_buf_printf(b, "%s{\"id\":%lld", n ? "," : "", last);
        for (int k = 1; k < 15; k++) {
            if (k == 12) {
                eng_buf_printf(b, ",\"replayCount\":%lld",
                               (long long)eng_store_column_int64(s, 12));
                continue;
            }
            eng_buf_printf(b, ",\"%s\":", keys[k]);
            wh_json_col(b, s, k);
        }
        /* outcome: created | updated | unchanged | skipped | failed | conflict, with the
         * target document; null until the job wrote one (or when no flow reads the event) */
        eng_buf_puts(b, ",\"outcome\":");
        wh_json_col(b, s, 15);
        for (int k = 16; k < 18; k++) { /* target, result: JSON objects or null */
            size_t jn;
            const char *j = eng_store_column_text(s, k, &jn);
            eng_buf_puts(b, k == 16 ? ",\"target\":" : ",\"result\":");
            if (eng_store_column_type(s, k) == ENG_STORE_NULL || j == NULL)
                eng_buf_puts(b, "null");
            else
                eng_buf_append(b, j, jn);
        }
        eng_buf_putc(b, '}');
        n++;
    }
    eng_store_finalize(s);
    if (rc < 0) {
        eng_logf(ENG_LOG_ERROR, "webhook: listing events failed: %s", err.msg);
        return eng_api_error(c->resp, 503, "unavailable", "cannot read the events; retry", NULL);
    }
    if (more)
        eng_buf_printf(b, "],\"next\":\"%lld\"}", last);
    else
        eng_buf_puts(b, "],\"next\":null}");
    return ENG_HTTPD_DONE;
}

int eng_api_webhook_replay(struct eng_api_ctx *c)
{
    struct wh_req *w = eng_httpd_state(c->req);
    if (w != NULL) {
        struct eng_ingest_item *it = &w->item;
        if (it->rc == ENG_ENOTFOUND)
            return eng_api_error(c->resp, 404, "not_found", "no such webhook event", NULL);
        if (it->rc == ENG_EINVAL)
            return eng_api_error(c->resp, 409, "nothing_to_replay", it->error, NULL);
        if (it->rc != 0)
            return wh_unavailable(c, "the replay could not be stored; retry");
        eng_buf_printf(&c->resp->body, "{\"id\":%lld,\"jobs\":%d,\"replayCount\":%lld}",
                       (long long)it->replay_id, it->jobs, (long long)it->replay_count);
        return ENG_HTTPD_DONE;
    }
    char idtext[24];
    long long id;
    if (eng_api_param(c, 0, idtext, sizeof idtext) != 0 || wh_int(idtext, &id) != 0)
        return eng_api_error(c->resp, 404, "not_found", "no such webhook event", NULL);
    if (c->api->ingest == NULL)
        return wh_unavailable(c, "webhook ingest is not running");
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return eng_api_error(c->resp, 500, "internal", "out of memory", NULL);
    w->item.kind = ENG_INGEST_REPLAY;
    w->item.replay_id = id;
    w->item.replay_admin = c->admin;
    snprintf(w->item.replay_tenant, sizeof w->item.replay_tenant, "%s", c->tenant);
    return wh_submit(c, w);
}
