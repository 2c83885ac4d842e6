/*
 * webhook.c - signature checks and the parsers of WooCommerce and QuickBooks deliveries (see
 * webhook.h). Pure functions over bytes: no store, no Lua, no network, no global state.
 * Owns: the job arrays it allocates into events. Must not: log a body or a secret.
 */
#include "webhook/webhook.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "adapt/crypto.h"
#include "webhook/webhook_json.h"

/* ---- signatures and small checks ---- */

int eng_webhook_signature_ok(const char *header, const char *secret, size_t secret_len,
                             const char *body, size_t len)
{
    if (header == NULL || secret == NULL)
        return 0;
    while (*header == ' ')
        header++;
    size_t hl = strlen(header);
    while (hl > 0 && header[hl - 1] == ' ')
        hl--;
    unsigned char given[48], want[ENG_CRYPTO_SHA256_LEN];
    size_t glen = 0;
    if (hl == 0 || hl > 64 ||
        eng_crypto_base64_decode(header, hl, given, sizeof given, &glen, NULL) != 0 ||
        glen != ENG_CRYPTO_SHA256_LEN)
        return 0;
    if (eng_crypto_hmac_sha256(secret, secret_len, body, len, want, NULL) != 0)
        return 0;
    int ok = eng_crypto_equal(given, glen, want, sizeof want);
    eng_crypto_wipe(want, sizeof want);
    return ok;
}

size_t eng_webhook_wp_secret_decode(char *s, size_t len)
{
    static const struct {
        const char *ent;
        char ch;
    } map[] = {{"&amp;", '&'},   {"&lt;", '<'},   {"&gt;", '>'},   {"&quot;", '"'},
               {"&#039;", '\''}, {"&#39;", '\''}, {"&#x27;", '\''}};
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t k;
        for (k = 0; k < sizeof map / sizeof map[0]; k++) {
            size_t el = strlen(map[k].ent);
            if (len - i >= el && strncasecmp(s + i, map[k].ent, el) == 0) {
                s[o++] = map[k].ch;
                i += el;
                break;
            }
        }
        if (k == sizeof map / sizeof map[0])
            s[o++] = s[i++];
    }
    if (o < len)
        s[o] = '\0';
    return o;
}

int eng_webhook_normalize_url(const char *url, char *out, size_t size)
{
    if (url == NULL)
        return -1;
    const char *sep = strstr(url, "://");
    if (sep == NULL || sep == url)
        return -1;
    size_t n = strcspn(url, "?#");
    if (n >= size)
        return -1;
    size_t host_end = (size_t)(sep - url) + 3;
    host_end += strcspn(url + host_end, "/?#");
    static const char lower[] = "abcdefghijklmnopqrstuvwxyz";
    for (size_t i = 0; i < n; i++) {
        char c = url[i];
        if ((unsigned char)c <= 0x20 || (unsigned char)c >= 0x7F)
            return -1;
        if (i < host_end && c >= 'A' && c <= 'Z')
            c = lower[c - 'A'];
        out[i] = c;
    }
    while (n > 0 && out[n - 1] == '/')
        n--;
    out[n] = '\0';
    return n > (size_t)(sep - url) + 3 ? 0 : -1;
}

int eng_webhook_is_woo_ping(const char *body, size_t len)
{
    static const char k[] = "webhook_id=";
    if (len <= sizeof k - 1 || len > sizeof k - 1 + 20 || memcmp(body, k, sizeof k - 1) != 0)
        return 0;
    for (size_t i = sizeof k - 1; i < len; i++)
        if (body[i] < '0' || body[i] > '9')
            return 0;
    return 1;
}

/* 1..max bytes of [A-Za-z0-9_.:-] (record ids, realms, tenant ids) */
static int wh_id_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && strchr("_.:-", s[i]) == NULL)
            return 0;
    return 1;
}

/* 1..max printable ASCII bytes without quotes or backslashes (delivery and event ids) */
static int wh_evid_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7E || s[i] == '"' || s[i] == '\\')
            return 0;
    return 1;
}

static int wh_digits_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static void wh_reject(struct eng_webhook_event *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void wh_reject(struct eng_webhook_event *ev, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ev->status = ENG_WEBHOOK_REJECTED;
    vsnprintf(ev->error, sizeof ev->error, fmt, ap);
    va_end(ap);
    free(ev->jobs);
    ev->jobs = NULL;
    ev->njobs = 0;
}

static struct eng_webhook_job *wh_add_job(struct eng_webhook_event *ev, const char *entity,
                                          const char *id, const char *op)
{
    struct eng_webhook_job *j = realloc(ev->jobs, (size_t)(ev->njobs + 1) * sizeof *j);
    if (j == NULL)
        return NULL;
    ev->jobs = j;
    j = &ev->jobs[ev->njobs++];
    snprintf(j->entity, sizeof j->entity, "%s", entity);
    snprintf(j->id, sizeof j->id, "%s", id);
    snprintf(j->op, sizeof j->op, "%s", op);
    return j;
}

/* ---- WooCommerce ---- */

/* Fill the jobs of a WooCommerce event from resource, resource_id and topic; routes (the
 * connector's webhook_entities) say which entity a resource syncs. */
static int wh_woo_jobs(struct eng_webhook_event *ev, const struct eng_policy_routes *routes)
{
    const char *entity = eng_policy_route_entity(routes, ev->resource);
    if (entity == NULL || ev->resource_id[0] == '\0') {
        ev->status = ENG_WEBHOOK_IGNORED;
        snprintf(ev->error, sizeof ev->error, "no sync flow for %s webhooks",
                 ev->resource[0] ? ev->resource : "these");
        return 0;
    }
    const char *dot = strrchr(ev->topic, '.');
    if (wh_add_job(ev, entity, ev->resource_id, dot != NULL ? dot + 1 : ev->topic) == NULL)
        return ENG_ENOMEM;
    ev->status = ENG_WEBHOOK_QUEUED;
    return 0;
}

int eng_webhook_parse_woo(const char *tenant, const struct eng_webhook_woo_headers *h,
                          const char *body, size_t len, const struct eng_policy_routes *routes,
                          struct eng_webhook_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->source = "woocommerce";
    ev->format = "woocommerce";
    ev->body = body;
    ev->body_len = len;
    snprintf(ev->tenant, sizeof ev->tenant, "%s", tenant);
    snprintf(ev->account, sizeof ev->account, "%s", h->source ? h->source : "");
    if (h->delivery_id != NULL && *h->delivery_id != '\0') {
        if (!wh_evid_ok(h->delivery_id, ENG_WEBHOOK_EVID_MAX))
            return wh_reject(ev, "%s is not a valid delivery id (1-128 printable characters)",
                             "X-WC-Webhook-Delivery-ID"),
                   ENG_EINVAL;
        snprintf(ev->event_id, sizeof ev->event_id, "%s", h->delivery_id);
    }
    const char *topic = h->topic;
    if (topic == NULL || strlen(topic) >= sizeof ev->topic || !wh_id_ok(topic, 129) ||
        strchr(topic, '.') == NULL)
        return wh_reject(ev, "%s is missing or not of the form resource.event",
                         "X-WC-Webhook-Topic"),
               ENG_EINVAL;
    snprintf(ev->topic, sizeof ev->topic, "%s", topic);
    const char *res = h->resource;
    if (res == NULL || *res == '\0') {
        size_t n = strcspn(topic, ".");
        if (n > ENG_WEBHOOK_ID_MAX)
            n = ENG_WEBHOOK_ID_MAX;
        memcpy(ev->resource, topic, n);
        ev->resource[n] = '\0';
    } else if (!wh_id_ok(res, ENG_WEBHOOK_ID_MAX)) {
        return wh_reject(ev, "%s is not a resource name", "X-WC-Webhook-Resource"), ENG_EINVAL;
    } else {
        snprintf(ev->resource, sizeof ev->resource, "%s", res);
    }

    char msg[160];
    struct eng_webhook_json doc;
    int rc = eng_webhook_json_parse(&doc, body, len, msg, sizeof msg);
    if (rc == -2) {
        eng_webhook_json_free(&doc);
        return ENG_ENOMEM;
    }
    if (rc != 0 || doc.tok[0].type != ENG_WEBHOOK_JSON_OBJECT) {
        eng_webhook_json_free(&doc);
        if (rc != 0)
            return wh_reject(ev, "the body is not valid JSON: %s", msg), ENG_EINVAL;
        return wh_reject(ev, "the body is not a JSON %s", "object"), ENG_EINVAL;
    }
    if (eng_policy_route_entity(routes, ev->resource) != NULL ||
        strcmp(ev->resource, "coupon") == 0) {
        int id = eng_webhook_json_get(&doc, 0, "id");
        if (eng_webhook_json_text(&doc, id, 1, ev->resource_id, sizeof ev->resource_id) != 0 ||
            !wh_id_ok(ev->resource_id, ENG_WEBHOOK_ID_MAX)) {
            eng_webhook_json_free(&doc);
            ev->resource_id[0] = '\0';
            return wh_reject(ev, "the body has no usable \"%s\" (a number or a short string)",
                             "id"),
                   ENG_EINVAL;
        }
    }
    eng_webhook_json_free(&doc);
    return wh_woo_jobs(ev, routes);
}

/* ---- QuickBooks ---- */

/* Canonical QuickBooks entity name from CloudEvents' lower-case one. */
static void wh_qbo_entity(const char *lower, char *out, size_t size)
{
    static const char *const names[] = {
        "Account",       "Bill",          "BillPayment",   "Budget",       "Class",
        "CreditMemo",    "Currency",      "Customer",      "Department",   "Deposit",
        "Employee",      "Estimate",      "Invoice",       "Item",         "JournalCode",
        "JournalEntry",  "Payment",       "PaymentMethod", "Preferences",  "Purchase",
        "PurchaseOrder", "RefundReceipt", "SalesReceipt",  "TaxAgency",    "Term",
        "TimeActivity",  "Transfer",      "Vendor",        "VendorCredit", "CompanyCurrency"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(lower, names[i]) == 0) {
            snprintf(out, size, "%s", names[i]);
            return;
        }
    }
    snprintf(out, size, "%s", lower);
    out[0] = (char)toupper((unsigned char)out[0]);
}

/* Classic operation names from CloudEvents' verbs (created -> Create). */
static void wh_qbo_op(const char *verb, char *out, size_t size)
{
    static const char *const map[][2] = {{"created", "Create"}, {"updated", "Update"},
                                         {"deleted", "Delete"}, {"merged", "Merge"},
                                         {"voided", "Void"},    {"emailed", "Emailed"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcasecmp(verb, map[i][0]) == 0) {
            snprintf(out, size, "%s", map[i][1]);
            return;
        }
    }
    snprintf(out, size, "%s", verb);
    out[0] = (char)toupper((unsigned char)out[0]);
}

static int wh_letters_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > ENG_WEBHOOK_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]))
            return 0;
    return 1;
}

/* Refuse an event older than the window; 1 when it was refused. */
static int wh_stale(struct eng_webhook_event *ev, int64_t t, int64_t now, int64_t window)
{
    if (window <= 0 || t >= now - window)
        return 0;
    wh_reject(ev, "stale: the event's time is older than the replay window (%s)",
              "WEBHOOK_REPLAY_WINDOW_SECONDS");
    ev->stale = 1;
    return 1;
}

/* One CloudEvent (object token e) into ev. ENG_ENOMEM, else 0 (ev may be REJECTED). */
static int wh_cloudevent(const struct eng_webhook_json *d, int e, int64_t now, int64_t window,
                         struct eng_webhook_event *ev)
{
    ev->format = "qbo_cloudevents";
    if (d->tok[e].type != ENG_WEBHOOK_JSON_OBJECT)
        return wh_reject(ev, "a CloudEvent is not a JSON %s", "object"), 0;
    char buf[160];
    int t = eng_webhook_json_get(d, e, "specversion");
    if (t >= 0 && (eng_webhook_json_text(d, t, 0, buf, sizeof buf) != 0 || strcmp(buf, "1.0") != 0))
        return wh_reject(ev, "unsupported CloudEvents %s (expected \"1.0\")", "specversion"), 0;
    if (eng_webhook_json_text(d, eng_webhook_json_get(d, e, "id"), 0, ev->event_id,
                              ENG_WEBHOOK_EVID_MAX + 1) != 0 ||
        !wh_evid_ok(ev->event_id, ENG_WEBHOOK_EVID_MAX)) {
        ev->event_id[0] = '\0';
        return wh_reject(ev, "a CloudEvent has no valid \"%s\"", "id"), 0;
    }
    if (eng_webhook_json_text(d, eng_webhook_json_get(d, e, "intuitaccountid"), 1, ev->account,
                              sizeof ev->account) != 0 ||
        !wh_digits_ok(ev->account, 32)) {
        ev->account[0] = '\0';
        return wh_reject(ev, "the CloudEvent has no valid \"%s\" (realm id)", "intuitaccountid"), 0;
    }
    if (eng_webhook_json_text(d, eng_webhook_json_get(d, e, "type"), 0, ev->topic,
                              sizeof ev->topic) != 0)
        return wh_reject(ev, "the CloudEvent has no \"%s\"", "type"), 0;
    /* qbo.<entity>.<verb>.v<N> */
    char ent[ENG_WEBHOOK_ID_MAX + 1] = "", verb[33] = "";
    const char *p = ev->topic;
    size_t a = strcspn(p, ".");
    if (a == 3 && strncmp(p, "qbo", 3) == 0) {
        const char *q = p + 4;
        size_t b = strcspn(q, ".");
        if (q[b] == '.' && b > 0 && b <= ENG_WEBHOOK_ID_MAX) {
            memcpy(ent, q, b), ent[b] = '\0';
            const char *r = q + b + 1;
            size_t c = strcspn(r, ".");
            if (c > 0 && c < sizeof verb)
                memcpy(verb, r, c), verb[c] = '\0';
        }
    }
    if (!wh_letters_ok(ent) || !wh_letters_ok(verb))
        return wh_reject(ev, "the CloudEvent's type is not qbo.<entity>.<operation>.v1 (%s)",
                         "type"),
               0;
    wh_qbo_entity(ent, ev->resource, sizeof ev->resource);
    if (eng_webhook_json_text(d, eng_webhook_json_get(d, e, "intuitentityid"), 1, ev->resource_id,
                              sizeof ev->resource_id) != 0 ||
        !wh_id_ok(ev->resource_id, ENG_WEBHOOK_ID_MAX)) {
        ev->resource_id[0] = '\0';
        return wh_reject(ev, "the CloudEvent has no valid \"%s\"", "intuitentityid"), 0;
    }
    t = eng_webhook_json_get(d, e, "time");
    if (t >= 0) {
        int64_t when;
        if (eng_webhook_json_text(d, t, 0, ev->event_time, sizeof ev->event_time) != 0 ||
            eng_webhook_json_time(ev->event_time, strlen(ev->event_time), &when) != 0) {
            ev->event_time[0] = '\0';
            return wh_reject(ev, "the CloudEvent's \"%s\" is not an ISO-8601 date-time", "time"), 0;
        }
        if (wh_stale(ev, when, now, window))
            return 0;
    }
    char op[33];
    wh_qbo_op(verb, op, sizeof op);
    if (wh_add_job(ev, ev->resource, ev->resource_id, op) == NULL)
        return ENG_ENOMEM;
    ev->status = ENG_WEBHOOK_QUEUED;
    return 0;
}

/* One classic eventNotifications element (object token e) into ev. */
static int wh_classic(const struct eng_webhook_json *d, int e, int64_t now, int64_t window,
                      struct eng_webhook_event *ev)
{
    ev->format = "qbo_classic";
    if (d->tok[e].type != ENG_WEBHOOK_JSON_OBJECT)
        return wh_reject(ev, "an eventNotifications element is not a JSON %s", "object"), 0;
    if (eng_webhook_json_text(d, eng_webhook_json_get(d, e, "realmId"), 1, ev->account,
                              sizeof ev->account) != 0 ||
        !wh_digits_ok(ev->account, 32)) {
        ev->account[0] = '\0';
        return wh_reject(ev, "a notification has no valid \"%s\"", "realmId"), 0;
    }
    /* Classic notifications carry no id: the digest of the element's bytes stands for one, so
     * Intuit's retries of the same notification are recognised. */
    unsigned char dg[ENG_CRYPTO_SHA256_LEN];
    char hex[2 * ENG_CRYPTO_SHA256_LEN + 1];
    eng_crypto_sha256(d->text + d->tok[e].start, d->tok[e].end - d->tok[e].start, dg, NULL);
    eng_crypto_hex_encode(dg, sizeof dg, hex, sizeof hex, NULL);
    snprintf(ev->event_id, sizeof ev->event_id, "sha256:%s", hex);

    int ents = eng_webhook_json_get(d, eng_webhook_json_get(d, e, "dataChangeEvent"), "entities");
    if (ents < 0 || d->tok[ents].type != ENG_WEBHOOK_JSON_ARRAY || d->tok[ents].size == 0)
        return wh_reject(ev, "a notification has no %s", "dataChangeEvent.entities"), 0;
    if (d->tok[ents].size > ENG_WEBHOOK_MAX_JOBS)
        return wh_reject(ev, "a notification has more than %s entities", "200"), 0;
    int64_t newest = INT64_MIN;
    for (int i = eng_webhook_json_first(d, ents); i >= 0 && i < d->tok[ents].next;
         i = d->tok[i].next) {
        char name[ENG_WEBHOOK_ID_MAX + 1], id[ENG_WEBHOOK_ID_MAX + 1], op[33], when[48];
        if (eng_webhook_json_text(d, eng_webhook_json_get(d, i, "name"), 0, name, sizeof name) !=
                0 ||
            !wh_letters_ok(name) ||
            eng_webhook_json_text(d, eng_webhook_json_get(d, i, "id"), 1, id, sizeof id) != 0 ||
            !wh_id_ok(id, ENG_WEBHOOK_ID_MAX) ||
            eng_webhook_json_text(d, eng_webhook_json_get(d, i, "operation"), 0, op, sizeof op) !=
                0 ||
            !wh_letters_ok(op))
            return wh_reject(ev, "an entity lacks a valid %s", "name, id or operation"), 0;
        int lt = eng_webhook_json_get(d, i, "lastUpdated");
        if (lt >= 0) {
            int64_t t;
            if (eng_webhook_json_text(d, lt, 0, when, sizeof when) != 0 ||
                eng_webhook_json_time(when, strlen(when), &t) != 0)
                return wh_reject(ev, "an entity's \"%s\" is not an ISO-8601 date-time",
                                 "lastUpdated"),
                       0;
            if (t > newest) {
                newest = t;
                snprintf(ev->event_time, sizeof ev->event_time, "%s", when);
            }
        }
        if (ev->njobs == 0) {
            snprintf(ev->resource, sizeof ev->resource, "%s", name);
            snprintf(ev->resource_id, sizeof ev->resource_id, "%s", id);
            snprintf(ev->topic, sizeof ev->topic, "%s.%s", name, op);
        }
        if (wh_add_job(ev, name, id, op) == NULL)
            return ENG_ENOMEM;
    }
    if (ev->njobs > 1) {
        size_t n = strlen(ev->topic);
        snprintf(ev->topic + n, sizeof ev->topic - n, "+%d", ev->njobs - 1);
    }
    if (newest != INT64_MIN && wh_stale(ev, newest, now, window))
        return 0;
    ev->status = ENG_WEBHOOK_QUEUED;
    return 0;
}

void eng_webhook_events_free(struct eng_webhook_event *ev, int n)
{
    if (ev == NULL)
        return;
    for (int i = 0; i < n; i++)
        free(ev[i].jobs);
    free(ev);
}

int eng_webhook_parse_qbo(const char *body, size_t len, int64_t now, int64_t window,
                          struct eng_webhook_event **out, int *n, struct eng_err *err)
{
    *out = NULL;
    *n = 0;
    char msg[160];
    struct eng_webhook_json doc;
    int rc = eng_webhook_json_parse(&doc, body, len, msg, sizeof msg);
    if (rc != 0) {
        eng_webhook_json_free(&doc);
        if (rc == -2)
            return eng_err_set(err, ENG_ENOMEM, "out of memory reading the notification");
        return eng_err_set(err, ENG_EINVAL, "the body is not valid JSON: %s", msg);
    }
    int list = 0, classic = 0;
    if (doc.tok[0].type == ENG_WEBHOOK_JSON_OBJECT) {
        list = eng_webhook_json_get(&doc, 0, "eventNotifications");
        classic = 1;
    }
    if (list < 0 || doc.tok[list].type != ENG_WEBHOOK_JSON_ARRAY || doc.tok[list].size == 0) {
        eng_webhook_json_free(&doc);
        return eng_err_set(err, ENG_EINVAL,
                           "the body is neither {\"eventNotifications\":[...]} (classic) nor a "
                           "non-empty JSON array of CloudEvents");
    }
    int count = doc.tok[list].size;
    if (count > ENG_WEBHOOK_MAX_EVENT) {
        eng_webhook_json_free(&doc);
        return eng_err_set(err, ENG_EINVAL, "more than %d events in one delivery",
                           ENG_WEBHOOK_MAX_EVENT);
    }
    struct eng_webhook_event *ev = calloc((size_t)count, sizeof *ev);
    if (ev == NULL) {
        eng_webhook_json_free(&doc);
        return eng_err_set(err, ENG_ENOMEM, "out of memory reading the notification");
    }
    int k = 0;
    rc = 0;
    for (int i = eng_webhook_json_first(&doc, list); i >= 0 && i < doc.tok[list].next && rc == 0;
         i = doc.tok[i].next, k++) {
        ev[k].source = "quickbooks";
        ev[k].body = body + doc.tok[i].start;
        ev[k].body_len = doc.tok[i].end - doc.tok[i].start;
        if (doc.tok[i].type == ENG_WEBHOOK_JSON_STRING) /* include the quotes of a string element */
            ev[k].body--, ev[k].body_len += 2;
        rc = classic ? wh_classic(&doc, i, now, window, &ev[k])
                     : wh_cloudevent(&doc, i, now, window, &ev[k]);
    }
    eng_webhook_json_free(&doc);
    if (rc != 0) {
        eng_webhook_events_free(ev, count);
        return eng_err_set(err, ENG_ENOMEM, "out of memory reading the notification");
    }
    *out = ev;
    *n = count;
    return 0;
}

int eng_webhook_jobs_again(struct eng_webhook_event *ev, const struct eng_policy_routes *routes)
{
    free(ev->jobs);
    ev->jobs = NULL;
    ev->njobs = 0;
    if (ev->format != NULL && strcmp(ev->format, "woocommerce") == 0)
        return wh_woo_jobs(ev, routes);
    int classic = ev->format != NULL && strcmp(ev->format, "qbo_classic") == 0;
    if (!classic && (ev->format == NULL || strcmp(ev->format, "qbo_cloudevents") != 0))
        return ENG_EINVAL;
    char msg[160];
    struct eng_webhook_json doc;
    int rc = eng_webhook_json_parse(&doc, ev->body, ev->body_len, msg, sizeof msg);
    if (rc != 0) {
        eng_webhook_json_free(&doc);
        return rc == -2 ? ENG_ENOMEM : ENG_EINVAL;
    }
    struct eng_webhook_event tmp;
    memset(&tmp, 0, sizeof tmp);
    rc = classic ? wh_classic(&doc, 0, 0, 0, &tmp) : wh_cloudevent(&doc, 0, 0, 0, &tmp);
    eng_webhook_json_free(&doc);
    if (rc != 0 || tmp.status != ENG_WEBHOOK_QUEUED) {
        free(tmp.jobs);
        return rc != 0 ? rc : ENG_EINVAL;
    }
    ev->jobs = tmp.jobs;
    ev->njobs = tmp.njobs;
    return 0;
}

void eng_webhook_job_payload(const struct eng_webhook_event *ev, const struct eng_webhook_job *job,
                             int64_t webhook_event_id, struct eng_buf *out)
{
    int qbo = strcmp(ev->source, "quickbooks") == 0;
    eng_buf_puts(out, "{\"source\":");
    eng_buf_json_str(out, ev->source, strlen(ev->source));
    eng_buf_puts(out, ",\"entity\":");
    eng_buf_json_str(out, job->entity, strlen(job->entity));
    eng_buf_puts(out, ",\"id\":");
    eng_buf_json_str(out, job->id, strlen(job->id));
    eng_buf_puts(out, qbo ? ",\"operation\":" : ",\"event\":");
    eng_buf_json_str(out, job->op, strlen(job->op));
    if (qbo) {
        eng_buf_puts(out, ",\"realmId\":");
        eng_buf_json_str(out, ev->account, strlen(ev->account));
    }
    eng_buf_printf(out, ",\"webhookEventId\":%lld}", (long long)webhook_event_id);
}

void eng_webhook_job_dedupe_key(const struct eng_webhook_event *ev,
                                const struct eng_webhook_job *job, char *out, size_t size)
{
    if (strcmp(ev->source, "quickbooks") == 0)
        snprintf(out, size, "quickbooks:%s:%s:%s", ev->account, job->entity, job->id);
    else
        snprintf(out, size, "%s:%s:%s", ev->source, job->entity, job->id);
}
