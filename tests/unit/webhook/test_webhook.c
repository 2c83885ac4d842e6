/*
 * test_webhook.c - unit tier for engine/webhook/webhook.c and engine/webhook/webhook_json.c: the
 * published WooCommerce and QuickBooks signature vectors (read from $FIXTURES_DIR with the parser
 * under test), tampering, the strict JSON reader, ISO-8601 times, URL normalisation, the ping,
 * and the parsers of the vendors' sample payloads into events and jobs.
 * Owns only its scratch memory.
 */
#include "check.h"
#include "base/buf.h"
#include "webhook/webhook.h"
#include "webhook/webhook_json.h"

#include <stdlib.h>

static const char *fixtures_dir(void)
{
    const char *d = getenv("FIXTURES_DIR");
    return d != NULL && d[0] != '\0' ? d : "tests/fixtures";
}

static char *fixture(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fixtures_dir(), rel);
    struct eng_buf b;
    eng_buf_init(&b);
    if (eng_buf_read_file(&b, path, 0, NULL) != 0) {
        eng_buf_free(&b);
        return NULL;
    }
    return eng_buf_take(&b, len);
}

/* Member text of object tok (decoded) into a static buffer. */
static const char *member(struct eng_webhook_json *d, int obj, const char *key)
{
    static char buf[4096];
    if (eng_webhook_json_text(d, eng_webhook_json_get(d, obj, key), 0, buf, sizeof buf) != 0)
        return NULL;
    return buf;
}

static void test_woo_vectors(void)
{
    size_t len;
    char *json = fixture("woocommerce/webhook-signature-vectors.json", &len);
    REQUIRE(json != NULL);
    struct eng_webhook_json d;
    char msg[128];
    REQUIRE(eng_webhook_json_parse(&d, json, len, msg, sizeof msg) == 0);
    int vecs = eng_webhook_json_get(&d, 0, "vectors");
    int checked = 0;
    for (int v = eng_webhook_json_first(&d, vecs); v >= 0 && v < d.tok[vecs].next;
         v = d.tok[v].next) {
        char sig[128], secret[256];
        if (eng_webhook_json_text(&d, eng_webhook_json_get(&d, v, "x_wc_webhook_signature"), 0, sig,
                                  sizeof sig) != 0)
            continue; /* the ping has none */
        snprintf(secret, sizeof secret, "%.200s", member(&d, v, "secret"));
        char *body;
        size_t blen;
        const char *bf = member(&d, v, "body_file");
        if (bf != NULL) {
            char rel[512];
            snprintf(rel, sizeof rel, "woocommerce/%.200s", bf);
            body = fixture(rel, &blen);
        } else {
            body = strdup(member(&d, v, "body"));
            blen = strlen(body);
        }
        REQUIRE(body != NULL);
        CHECK(eng_webhook_signature_ok(sig, secret, strlen(secret), body, blen));
        CHECK(!eng_webhook_signature_ok(sig, "wrong", 5, body, blen));
        body[blen / 2] ^= 1; /* tampered */
        CHECK(!eng_webhook_signature_ok(sig, secret, strlen(secret), body, blen));
        free(body);
        checked++;
    }
    CHECK_INT(checked, 2);
    eng_webhook_json_free(&d);
    free(json);
}

static void test_qbo_vectors(void)
{
    size_t len;
    char *json = fixture("quickbooks/webhook-signature-vectors.json", &len);
    REQUIRE(json != NULL);
    struct eng_webhook_json d;
    char msg[128];
    REQUIRE(eng_webhook_json_parse(&d, json, len, msg, sizeof msg) == 0);
    int vecs = eng_webhook_json_get(&d, 0, "vectors");
    CHECK_INT(d.tok[vecs].size, 2);
    for (int v = eng_webhook_json_first(&d, vecs); v >= 0 && v < d.tok[vecs].next;
         v = d.tok[v].next) {
        char sig[128], token[128], body[2048];
        REQUIRE(eng_webhook_json_text(&d, eng_webhook_json_get(&d, v, "intuit_signature"), 0, sig,
                                      sizeof sig) == 0);
        REQUIRE(eng_webhook_json_text(&d, eng_webhook_json_get(&d, v, "verifier_token"), 0, token,
                                      sizeof token) == 0);
        REQUIRE(eng_webhook_json_text(&d, eng_webhook_json_get(&d, v, "body"), 0, body,
                                      sizeof body) == 0);
        size_t bl = strlen(body);
        CHECK(eng_webhook_signature_ok(sig, token, strlen(token), body, bl));
        CHECK(!eng_webhook_signature_ok(sig, token, strlen(token) - 1, body, bl));
        CHECK(!eng_webhook_signature_ok(sig, token, strlen(token), body, bl - 1));
        /* the parsed notification: old events are stale with a window, accepted without */
        struct eng_webhook_event *ev = NULL;
        int n = 0;
        REQUIRE(eng_webhook_parse_qbo(body, bl, 1767225600 /* 2026-01-01 */, 86400, &ev, &n,
                                      NULL) == 0);
        CHECK_INT(n, 1);
        CHECK_INT(ev[0].status, ENG_WEBHOOK_REJECTED);
        CHECK(ev[0].stale);
        eng_webhook_events_free(ev, n);
        REQUIRE(eng_webhook_parse_qbo(body, bl, 1767225600, 0, &ev, &n, NULL) == 0);
        CHECK_INT(ev[0].status, ENG_WEBHOOK_QUEUED);
        CHECK(ev[0].njobs >= 1);
        CHECK(strncmp(ev[0].event_id, "sha256:", 7) == 0);
        eng_webhook_events_free(ev, n);
    }
    eng_webhook_json_free(&d);
    free(json);
}

static void test_signature_header_forms(void)
{
    /* the official vector: empty secret, body "secret" */
    const char *good = "GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs=";
    CHECK(eng_webhook_signature_ok(good, "", 0, "secret", 6));
    CHECK(eng_webhook_signature_ok(" GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs= ", "", 0,
                                   "secret", 6));
    CHECK(!eng_webhook_signature_ok("GBDo00G55h6IiV+6CxqivQPLbI//KzaOZm747971tPs", "", 0, "secret",
                                    6));
    CHECK(!eng_webhook_signature_ok("", "", 0, "secret", 6));
    CHECK(!eng_webhook_signature_ok(NULL, "", 0, "secret", 6));
    CHECK(!eng_webhook_signature_ok("GBDo00G55h6IiV+6CxqivQ==", "", 0, "secret", 6)); /* 16 bytes */
}

static void test_small_checks(void)
{
    char s[64] = "a&amp;b&#039;c&lt;&GT;&quot;";
    size_t n = eng_webhook_wp_secret_decode(s, strlen(s));
    CHECK_INT(n, 8);
    CHECK_STR(s, "a&b'c<>\"");
    char out[128];
    CHECK(eng_webhook_normalize_url("HTTPS://Shop.Example.COM/Store//?x=1", out, sizeof out) == 0);
    CHECK_STR(out, "https://shop.example.com/Store");
    CHECK(eng_webhook_normalize_url("https://example.com/", out, sizeof out) == 0);
    CHECK_STR(out, "https://example.com");
    CHECK(eng_webhook_normalize_url("example.com", out, sizeof out) != 0);
    CHECK(eng_webhook_normalize_url("https:///", out, sizeof out) != 0);
    CHECK(eng_webhook_normalize_url("https://a b", out, sizeof out) != 0);
    CHECK(eng_webhook_is_woo_ping("webhook_id=142", 14));
    CHECK(!eng_webhook_is_woo_ping("webhook_id=", 11));
    CHECK(!eng_webhook_is_woo_ping("webhook_id=1x", 13));
    CHECK(!eng_webhook_is_woo_ping("{\"id\":1}", 8));
}

static int parses(const char *text)
{
    struct eng_webhook_json d;
    char msg[128];
    int rc = eng_webhook_json_parse(&d, text, strlen(text), msg, sizeof msg);
    eng_webhook_json_free(&d);
    return rc == 0;
}

static void test_json(void)
{
    CHECK(parses("{\"a\":[1,-2.5e3,true,false,null,\"x\\u00e9\\/\"],\"b\":{}}"));
    CHECK(parses(" [] "));
    CHECK(!parses(""));
    CHECK(!parses("[1,]"));
    CHECK(!parses("{\"a\":1,}"));
    CHECK(!parses("01"));
    CHECK(!parses("1."));
    CHECK(!parses("\"\\x\""));
    CHECK(!parses("\"a\tb\""));
    CHECK(!parses("\"\xc3\x28\""));     /* invalid UTF-8 */
    CHECK(!parses("\"\xed\xa0\x80\"")); /* encoded surrogate */
    CHECK(!parses("[1] [2]"));
    CHECK(!parses("{\"a\" 1}"));
    CHECK(!parses("tru"));
    CHECK(!parses("[[")); /* unterminated */
    CHECK(!parses("\"abc"));
    /* A lone surrogate escape: this reader used to take it (decoding U+FFFD) while engine.json
     * refused it, so a delivery was accepted that its job could never decode. Both read through
     * base/json_read now and refuse it. */
    CHECK(!parses("{\"id\":\"\\ud800\"}"));
    CHECK(!parses("{\"id\":\"\\udc00x\"}"));
    struct eng_webhook_json d;
    char msg[128];
    const char *t = "{\"k\\u0065y\":\"v\\ud83d\\ude00\",\"n\":727,\"s\":\"a\\u0000b\"}";
    REQUIRE(eng_webhook_json_parse(&d, t, strlen(t), msg, sizeof msg) == 0);
    char buf[32];
    CHECK(eng_webhook_json_text(&d, eng_webhook_json_get(&d, 0, "key"), 0, buf, sizeof buf) == 0);
    CHECK_STR(buf, "v\xf0\x9f\x98\x80");
    CHECK(eng_webhook_json_text(&d, eng_webhook_json_get(&d, 0, "n"), 0, buf, sizeof buf) != 0);
    CHECK(eng_webhook_json_text(&d, eng_webhook_json_get(&d, 0, "n"), 1, buf, sizeof buf) == 0);
    CHECK_STR(buf, "727");
    CHECK(eng_webhook_json_text(&d, eng_webhook_json_get(&d, 0, "s"), 0, buf, sizeof buf) !=
          0); /* NUL */
    CHECK_INT(eng_webhook_json_get(&d, 0, "missing"), -1);
    CHECK(eng_webhook_json_text(&d, eng_webhook_json_get(&d, 0, "key"), 0, buf, 3) !=
          0); /* too small */
    eng_webhook_json_free(&d);
    /* escapes shrink: 12 bytes of text decode to "AB", which fits in 3 */
    t = "[\"\\u0041\\u0042\", {\"a\": [1, {}], \"b\": null}, 5]";
    REQUIRE(eng_webhook_json_parse(&d, t, strlen(t), msg, sizeof msg) == 0);
    CHECK(eng_webhook_json_text(&d, 1, 0, buf, 3) == 0);
    CHECK_STR(buf, "AB");
    /* the token array: sizes, subtree ends, byte ranges */
    CHECK_INT(d.ntok, 10);
    CHECK_INT(d.tok[0].type, ENG_WEBHOOK_JSON_ARRAY);
    CHECK_INT(d.tok[0].size, 3);
    CHECK_INT(d.tok[0].next, 10);
    CHECK_INT(d.tok[0].end, strlen(t));
    CHECK_INT(d.tok[2].type, ENG_WEBHOOK_JSON_OBJECT);
    CHECK_INT(d.tok[2].size, 2);
    CHECK_INT(d.tok[2].next, 9);
    CHECK_INT(d.tok[1].next, 2);
    int a = eng_webhook_json_get(&d, 2, "a");
    CHECK_INT(a, 4);
    CHECK_INT(d.tok[a].size, 2);
    CHECK_INT(d.tok[a].next, 7);
    CHECK_INT(d.tok[eng_webhook_json_get(&d, 2, "b")].type, ENG_WEBHOOK_JSON_NULL);
    CHECK_INT(d.tok[9].type, ENG_WEBHOOK_JSON_NUMBER);
    CHECK(d.tok[9].end - d.tok[9].start == 1 && t[d.tok[9].start] == '5');
    CHECK(d.tok[2].start == 17 && t[d.tok[2].end - 1] == '}');
    eng_webhook_json_free(&d);
    REQUIRE(eng_webhook_json_parse(&d, "[1, 2", 5, msg, sizeof msg) != 0);
    CHECK(strstr(msg, "at byte") != NULL);
    eng_webhook_json_free(&d);
}

static void test_deep_json(void)
{
    char deep[2 * ENG_WEBHOOK_JSON_MAX_DEPTH + 3];
    size_t n = ENG_WEBHOOK_JSON_MAX_DEPTH + 1;
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    CHECK(!parses(deep));
    n = ENG_WEBHOOK_JSON_MAX_DEPTH;
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    CHECK(parses(deep));
}

static void test_time(void)
{
    int64_t t;
    CHECK(eng_webhook_json_time("2015-10-05T14:42:19-0700", 24, &t) == 0);
    CHECK_INT(t, 1444081339);
    CHECK(eng_webhook_json_time("2025-09-10T21:31:25.179851517Z", 30, &t) == 0);
    CHECK_INT(t, 1757539885);
    CHECK(eng_webhook_json_time("2019-10-30T15:29:54.000Z", 24, &t) == 0);
    CHECK_INT(t, 1572449394);
    CHECK(eng_webhook_json_time("2026-01-15T09:30:00+05:30", 25, &t) == 0);
    CHECK_INT(t, 1768449600);
    CHECK(eng_webhook_json_time("2026-13-01T00:00:00Z", 20, &t) != 0);
    CHECK(eng_webhook_json_time("2026-01-01", 10, &t) != 0);
    CHECK(eng_webhook_json_time("2026-01-01T00:00:00Zjunk", 24, &t) != 0);
    CHECK(eng_webhook_json_time("yesterday", 9, &t) != 0);
}

static void test_parse_qbo_fixtures(void)
{
    size_t len;
    char *body = fixture("quickbooks/webhook-classic.json", &len);
    REQUIRE(body != NULL);
    struct eng_webhook_event *ev = NULL;
    int n = 0;
    REQUIRE(eng_webhook_parse_qbo(body, len, 0, 0, &ev, &n, NULL) == 0);
    CHECK_INT(n, 1);
    CHECK_STR(ev[0].format, "qbo_classic");
    CHECK_STR(ev[0].account, "1185883450");
    CHECK_INT(ev[0].njobs, 2);
    CHECK_STR(ev[0].jobs[1].entity, "Vendor");
    CHECK_STR(ev[0].jobs[1].op, "Create");
    CHECK_STR(ev[0].topic, "Customer.Create+1");
    CHECK_STR(ev[0].event_time, "2015-10-05T14:42:19-0700");
    /* replay rebuilds the same jobs from the stored slice */
    struct eng_webhook_event again;
    memset(&again, 0, sizeof again);
    again.source = "quickbooks";
    again.format = "qbo_classic";
    again.body = ev[0].body;
    again.body_len = ev[0].body_len;
    CHECK(eng_webhook_jobs_again(&again, NULL) == 0);
    CHECK_INT(again.njobs, 2);
    free(again.jobs);
    struct eng_buf p;
    eng_buf_init(&p);
    eng_webhook_job_payload(&ev[0], &ev[0].jobs[0], 5, &p);
    CHECK_STR(p.data, "{\"source\":\"quickbooks\",\"entity\":\"Customer\",\"id\":\"1\","
                      "\"operation\":\"Create\",\"realmId\":\"1185883450\",\"webhookEventId\":5}");
    eng_buf_free(&p);
    char key[256];
    eng_webhook_job_dedupe_key(&ev[0], &ev[0].jobs[0], key, sizeof key);
    CHECK_STR(key, "quickbooks:1185883450:Customer:1");
    eng_webhook_events_free(ev, n);
    free(body);

    body = fixture("quickbooks/webhook-cloudevents.json", &len);
    REQUIRE(body != NULL);
    REQUIRE(eng_webhook_parse_qbo(body, len, 1757539885 + 60, 3600, &ev, &n, NULL) == 0);
    CHECK_INT(n, 1);
    CHECK_STR(ev[0].format, "qbo_cloudevents");
    CHECK_INT(ev[0].status, ENG_WEBHOOK_QUEUED);
    CHECK_STR(ev[0].event_id, "88cd52aa-33b6-4351-9aa4-47572edbd068");
    CHECK_STR(ev[0].account, "310687");
    CHECK_STR(ev[0].resource, "Account");
    CHECK_STR(ev[0].resource_id, "1234");
    CHECK_STR(ev[0].jobs[0].op, "Create");
    eng_webhook_events_free(ev, n);
    /* a day later it is stale */
    REQUIRE(eng_webhook_parse_qbo(body, len, 1757539885 + 86400 + 1, 86400, &ev, &n, NULL) == 0);
    CHECK_INT(ev[0].status, ENG_WEBHOOK_REJECTED);
    CHECK(ev[0].stale);
    eng_webhook_events_free(ev, n);
    free(body);

    struct eng_err err = {0};
    CHECK(eng_webhook_parse_qbo("{\"x\":1}", 7, 0, 0, &ev, &n, &err) == ENG_EINVAL);
    CHECK(strstr(err.msg, "eventNotifications") != NULL);
    CHECK(eng_webhook_parse_qbo("[]", 2, 0, 0, &ev, &n, &err) == ENG_EINVAL);
    CHECK(eng_webhook_parse_qbo("nope", 4, 0, 0, &ev, &n, &err) == ENG_EINVAL);
    CHECK(strstr(err.msg, "not valid JSON") != NULL);
    /* element-level problems reject that element only */
    const char *mixed =
        "[{\"id\":\"a\",\"type\":\"qbo.invoice.updated.v1\",\"intuitentityid\":\"1\","
        "\"intuitaccountid\":\"42\"},{\"id\":\"b\",\"type\":\"bogus\"},7]";
    REQUIRE(eng_webhook_parse_qbo(mixed, strlen(mixed), 0, 0, &ev, &n, NULL) == 0);
    CHECK_INT(n, 3);
    CHECK_INT(ev[0].status, ENG_WEBHOOK_QUEUED);
    CHECK_STR(ev[0].resource, "Invoice");
    CHECK_INT(ev[1].status, ENG_WEBHOOK_REJECTED);
    CHECK_INT(ev[2].status, ENG_WEBHOOK_REJECTED);
    eng_webhook_events_free(ev, n);
}

/* The woocommerce connector's webhook_entities, as the registry publishes them. */
static const struct eng_policy_routes woo_routes = {
    3, {{"order", "orders"}, {"customer", "customers"}, {"product", "products"}}};

static void test_parse_woo(void)
{
    size_t len;
    char *body = fixture("woocommerce/webhook-order-updated.derived.body.json", &len);
    REQUIRE(body != NULL);
    struct eng_webhook_woo_headers h = {.source = "https://example.com",
                                        .topic = "order.updated",
                                        .resource = "order",
                                        .event = "updated",
                                        .delivery_id = "abc123"};
    struct eng_webhook_event ev;
    CHECK(eng_webhook_parse_woo("default", &h, body, len, &woo_routes, &ev) == 0);
    CHECK_INT(ev.status, ENG_WEBHOOK_QUEUED);
    CHECK_STR(ev.resource_id, "727");
    CHECK_INT(ev.njobs, 1);
    CHECK_STR(ev.jobs[0].entity, "orders");
    CHECK_STR(ev.jobs[0].op, "updated");
    struct eng_buf p;
    eng_buf_init(&p);
    eng_webhook_job_payload(&ev, &ev.jobs[0], 9, &p);
    CHECK_STR(p.data, "{\"source\":\"woocommerce\",\"entity\":\"orders\",\"id\":\"727\","
                      "\"event\":\"updated\",\"webhookEventId\":9}");
    eng_buf_free(&p);
    free(ev.jobs);
    free(body);

    h.topic = "order.deleted";
    h.event = "deleted";
    CHECK(eng_webhook_parse_woo("t", &h, "{\"id\":5}", 8, &woo_routes, &ev) == 0);
    CHECK_STR(ev.jobs[0].op, "deleted");
    free(ev.jobs);
    CHECK(eng_webhook_parse_woo("t", &h, "[1]", 3, &woo_routes, &ev) == ENG_EINVAL);
    CHECK_INT(ev.status, ENG_WEBHOOK_REJECTED);
    CHECK(eng_webhook_parse_woo("t", &h, "{\"id\":{}}", 9, &woo_routes, &ev) == ENG_EINVAL);
    /* the event part of a topic is kept whole however long the topic may be (it was cut to 32
     * bytes, the size that broke the Release build's format-truncation check) */
    static const char long_topic[] =
        "order.a123456789b123456789c123456789d123456789e123456789f123456789g123456789h123456789";
    h.topic = long_topic;
    h.event = NULL;
    CHECK(eng_webhook_parse_woo("t", &h, "{\"id\":5}", 8, &woo_routes, &ev) == 0);
    REQUIRE(ev.njobs == 1);
    CHECK_STR(ev.jobs[0].op, long_topic + 6);
    free(ev.jobs);
    h.topic = "coupon.created";
    h.resource = "coupon";
    CHECK(eng_webhook_parse_woo("t", &h, "{\"id\":5}", 8, &woo_routes, &ev) == 0);
    CHECK_INT(ev.status, ENG_WEBHOOK_IGNORED);
    CHECK_INT(ev.njobs, 0);
    h.topic = NULL;
    CHECK(eng_webhook_parse_woo("t", &h, "{\"id\":5}", 8, &woo_routes, &ev) == ENG_EINVAL);
    CHECK(strstr(ev.error, "X-WC-Webhook-Topic") != NULL);
    h.topic = "order.updated";
    h.delivery_id = "has space";
    CHECK(eng_webhook_parse_woo("t", &h, "{\"id\":5}", 8, &woo_routes, &ev) == ENG_EINVAL);
}

/* The routing is the table the caller hands in (the connector's declaration), nothing in C. */
static void test_woo_routing_is_declared(void)
{
    struct eng_webhook_woo_headers h = {.topic = "order.updated", .resource = "order"};
    struct eng_webhook_event ev;
    struct eng_policy_routes mine = {2, {{"order", "sales"}, {"coupon", "coupons"}}};
    CHECK(eng_webhook_parse_woo("t", &h, "{\"id\":5}", 8, &mine, &ev) == 0);
    CHECK_INT(ev.status, ENG_WEBHOOK_QUEUED);
    CHECK_STR(ev.jobs[0].entity, "sales");
    free(ev.jobs);
    h.topic = "coupon.created";
    h.resource = "coupon";
    CHECK(eng_webhook_parse_woo("t", &h, "{\"id\":9}", 8, &mine, &ev) == 0);
    CHECK_INT(ev.status, ENG_WEBHOOK_QUEUED);
    CHECK_STR(ev.jobs[0].entity, "coupons");
    CHECK_STR(ev.jobs[0].id, "9");
    free(ev.jobs);
    /* no table (no connector published): verified, kept, nothing to sync */
    h.topic = "order.updated";
    h.resource = "order";
    CHECK(eng_webhook_parse_woo("t", &h, "{\"id\":5}", 8, NULL, &ev) == 0);
    CHECK_INT(ev.status, ENG_WEBHOOK_IGNORED);
    CHECK_INT(ev.njobs, 0);
    /* a replay routes by the table it is given */
    ev.format = "woocommerce";
    snprintf(ev.resource_id, sizeof ev.resource_id, "5");
    CHECK(eng_webhook_jobs_again(&ev, &mine) == 0);
    CHECK_INT(ev.njobs, 1);
    CHECK_STR(ev.jobs[0].entity, "sales");
    free(ev.jobs);
}

CHECK_MAIN(CHECK_CASE(test_woo_vectors), CHECK_CASE(test_qbo_vectors),
           CHECK_CASE(test_signature_header_forms), CHECK_CASE(test_small_checks),
           CHECK_CASE(test_json), CHECK_CASE(test_deep_json), CHECK_CASE(test_time),
           CHECK_CASE(test_parse_qbo_fixtures), CHECK_CASE(test_parse_woo),
           CHECK_CASE(test_woo_routing_is_declared))
