/*
 * fuzz_webhook.c - libFuzzer target: the webhook verifiers and parsers (webhook/webhook.c),
 * which read a delivery's bytes from anyone on the network (the signature check runs before any
 * parsing; the parsers run on verified bytes, but a shop's own data is in them).
 * Input: byte 0 picks the part, the rest is split at the first lines:
 *   0  QuickBooks: the body (classic or CloudEvents) through eng_webhook_parse_qbo with a replay
 *      window, then for every event its jobs again (replay), payloads and dedupe keys
 *   1  WooCommerce: lines source, topic, resource, event, delivery id, webhook id (an empty line
 *      is an absent header), then the body, through eng_webhook_parse_woo with the woocommerce
 *      connector's routes, then jobs again
 *   2  signatures and small parsers: line 1 the header, line 2 the secret, rest the body:
 *      eng_webhook_signature_ok, wp_secret_decode, normalize_url, is_woo_ping, the ISO times
 * Checks: no crash or sanitizer report; results stay in their buffers (NUL-terminated, ids in
 * their limits); a header that is not base64 of 32 bytes never verifies.
 * Corpus: tests/fuzz/corpus/webhook/ (the fixtures' deliveries, with the selector byte).
 */
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/policy.h"
#include "webhook/webhook.h"
#include "webhook/webhook_json.h"

/* Next line of s[*at..n) as a malloc'd C string (NULL when empty and empty_null). */
static char *line(const char *s, size_t n, size_t *at, int empty_null)
{
    size_t i = *at;
    while (i < n && s[i] != '\n')
        i++;
    size_t len = i - *at;
    char *out = NULL;
    if (len > 0 || !empty_null) {
        out = malloc(len + 1);
        check(out != NULL);
        memcpy(out, s + *at, len);
        out[len] = '\0';
    }
    *at = i < n ? i + 1 : n;
    return out;
}

static void event_checks(struct eng_webhook_event *ev, const struct eng_policy_routes *routes)
{
    check(memchr(ev->tenant, '\0', sizeof ev->tenant) != NULL);
    check(memchr(ev->account, '\0', sizeof ev->account) != NULL);
    check(memchr(ev->event_id, '\0', sizeof ev->event_id) != NULL);
    check(memchr(ev->topic, '\0', sizeof ev->topic) != NULL);
    check(memchr(ev->error, '\0', sizeof ev->error) != NULL);
    check(ev->njobs >= 0 && ev->njobs <= ENG_WEBHOOK_MAX_JOBS);
    struct eng_buf b;
    eng_buf_init(&b);
    char key[512];
    for (int j = 0; j < ev->njobs; j++) {
        eng_buf_reset(&b);
        eng_webhook_job_payload(ev, &ev->jobs[j], 42, &b);
        eng_webhook_job_dedupe_key(ev, &ev->jobs[j], key, sizeof key);
        check(memchr(key, '\0', sizeof key) != NULL);
    }
    eng_buf_free(&b);
    if (ev->status == ENG_WEBHOOK_QUEUED && ev->body != NULL)
        eng_webhook_jobs_again(ev, routes);
}

static void qbo(const char *s, size_t n, const struct eng_policy_routes *routes)
{
    struct eng_webhook_event *evs = NULL;
    int nev = 0;
    struct eng_err err = {0};
    int rc = eng_webhook_parse_qbo(s, n, 1767225600 /* 2026-01-01 */, 3600, &evs, &nev, &err);
    check(rc == 0 || rc == ENG_EINVAL || rc == ENG_ENOMEM);
    if (rc != 0) {
        check(evs == NULL);
        return;
    }
    check(nev >= 0 && nev <= ENG_WEBHOOK_MAX_EVENT);
    for (int i = 0; i < nev; i++) {
        check(evs[i].body == NULL || (evs[i].body >= s && evs[i].body + evs[i].body_len <= s + n));
        event_checks(&evs[i], routes);
    }
    eng_webhook_events_free(evs, nev);
}

static void woo(const char *s, size_t n, const struct eng_policy_routes *routes)
{
    size_t at = 0;
    char *f[6];
    for (int i = 0; i < 6; i++)
        f[i] = line(s, n, &at, 1);
    struct eng_webhook_woo_headers h = {f[0], f[1], f[2], f[3], f[4], f[5]};
    struct eng_webhook_event ev;
    memset(&ev, 0, sizeof ev);
    int rc = eng_webhook_parse_woo("tenant-1", &h, s + at, n - at, routes, &ev);
    check(rc == 0 || rc == ENG_EINVAL || rc == ENG_ENOMEM);
    event_checks(&ev, routes);
    free(ev.jobs);
    for (int i = 0; i < 6; i++)
        free(f[i]);
}

static void small(const char *s, size_t n)
{
    size_t at = 0;
    char *header = line(s, n, &at, 0);
    char *secret = line(s, n, &at, 0);
    const char *body = s + at;
    size_t blen = n - at;
    eng_webhook_signature_ok(header, secret, strlen(secret), body, blen);
    /* a header that cannot be base64 of 32 bytes never verifies */
    if (strlen(header) != 44)
        check(!eng_webhook_signature_ok(header, secret, strlen(secret), body, blen));
    size_t slen = strlen(secret);
    size_t dlen = eng_webhook_wp_secret_decode(secret, slen);
    check(dlen <= slen);
    char url[ENG_WEBHOOK_ACCT_MAX + 1];
    if (eng_webhook_normalize_url(header, url, sizeof url) == 0)
        check(memchr(url, '\0', sizeof url) != NULL);
    eng_webhook_is_woo_ping(body, blen);
    int64_t t;
    eng_webhook_json_time(header, strlen(header), &t);
    eng_webhook_json_time(body, blen, &t);
    free(header);
    free(secret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static struct eng_policy_routes routes;
    if (routes.n == 0) { /* the woocommerce connector's webhook_entities */
        const char *r[][2] = {
            {"order", "orders"}, {"customer", "customers"}, {"product", "products"}};
        for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
            strcpy(routes.v[i].resource, r[i][0]);
            strcpy(routes.v[i].entity, r[i][1]);
        }
        routes.n = 3;
    }
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 3) {
    case 0:
        qbo(s, n, &routes);
        break;
    case 1:
        woo(s, n, &routes);
        break;
    default:
        small(s, n);
        break;
    }
    return 0;
}
