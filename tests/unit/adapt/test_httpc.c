/*
 * test_httpc.c - unit tests of engine/adapt/httpc.c without an upstream: Retry-After forms, backoff
 * bounds, the header/body callbacks (reset per response, trimming, caps), URL checks, the error
 * text's redaction, and the retry loop against a refused port under a deadline.
 * The request paths against a real server are in tests/integration/http_module.sh.
 */
#include "check.h"

#include "../../../engine/adapt/httpc.c"

static void test_retry_after_seconds(void)
{
    CHECK_INT(eng_httpc_parse_retry_after("120", 0), 120000);
    CHECK_INT(eng_httpc_parse_retry_after(" 5 ", 0), 5000);
    CHECK_INT(eng_httpc_parse_retry_after("0", 0), 0);
    CHECK_INT(eng_httpc_parse_retry_after("99999999999999999999", 0), 2000000000L);
    CHECK_INT(eng_httpc_parse_retry_after(NULL, 0), -1);
    CHECK_INT(eng_httpc_parse_retry_after("", 0), -1);
    CHECK_INT(eng_httpc_parse_retry_after("-5", 0), -1);
    CHECK_INT(eng_httpc_parse_retry_after("5x", 0), -1);
    CHECK_INT(eng_httpc_parse_retry_after("1.5", 0), -1);
    CHECK_INT(eng_httpc_parse_retry_after("soon", 0), -1);
}

static void test_retry_after_dates(void)
{
    const time_t now = 1445412480; /* Wed, 21 Oct 2015 07:28:00 GMT */
    CHECK_INT(eng_httpc_parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), 30000);
    CHECK_INT(eng_httpc_parse_retry_after("Wednesday, 21-Oct-15 07:28:30 GMT", now), 30000);
    CHECK_INT(eng_httpc_parse_retry_after("Wed Oct 21 07:28:30 2015", now), 30000);
    CHECK_INT(eng_httpc_parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), 0); /* past */
    CHECK_INT(eng_httpc_parse_retry_after("Wed, 21 Oct 2099 07:28:30 GMT", now), 2000000000L);
}

static void test_backoff_bounds(void)
{
    struct eng_err err;
    struct eng_httpc *h = eng_httpc_new(&err);
    REQUIRE(h != NULL);
    for (int i = 0; i < 200; i++) {
        long d1 = httpc_backoff_ms(h, 1), d2 = httpc_backoff_ms(h, 2), d3 = httpc_backoff_ms(h, 3);
        CHECK(d1 >= 200 && d1 <= 300);
        CHECK(d2 >= 400 && d2 <= 600);
        CHECK(d3 >= 800 && d3 <= 1200);
        CHECK_INT(httpc_backoff_ms(h, 7), ENG_HTTPC_BACKOFF_CAP_MS); /* 12800 before the cap */
        CHECK_INT(httpc_backoff_ms(h, 1000), ENG_HTTPC_BACKOFF_CAP_MS);
    }
    long a = httpc_backoff_ms(h, 3), same = 0;
    for (int i = 0; i < 20; i++)
        same += httpc_backoff_ms(h, 3) == a;
    CHECK(same < 20); /* jitter actually varies */
    eng_httpc_free(h);
}

static size_t feed_header(struct httpc_xfer *x, const char *line)
{
    return httpc_on_header((char *)line, 1, strlen(line), x);
}

static void test_header_callback(void)
{
    struct eng_httpc_resp r;
    eng_httpc_resp_init(&r);
    struct httpc_xfer x = {.resp = &r, .max_body = 100};

    CHECK_INT(feed_header(&x, "HTTP/1.1 100 Continue\r\n"), 23);
    feed_header(&x, "X-Early: 1\r\n");
    feed_header(&x, "\r\n");
    feed_header(&x, "HTTP/1.1 200 OK\r\n"); /* a new response drops the 100's headers */
    feed_header(&x, "Content-Type: \t text/plain; charset=utf-8 \t\r\n");
    feed_header(&x, "X-Empty:\r\n");
    feed_header(&x, "X-Multi: a\r\n");
    feed_header(&x, "x-multi: b\r\n");
    feed_header(&x, "not a header\r\n");
    feed_header(&x, " folded continuation\r\n");
    feed_header(&x, ": no name\r\n");
    feed_header(&x, "\r\n");
    CHECK_INT(r.nhdr, 4);
    CHECK(eng_httpc_resp_header(&r, "x-early") == NULL);
    CHECK_STR(eng_httpc_resp_header(&r, "content-type"), "text/plain; charset=utf-8");
    CHECK_STR(eng_httpc_resp_header(&r, "x-empty"), "");
    CHECK_STR(eng_httpc_resp_header(&r, "x-multi"), "a");

    size_t pos = 0, n = 0;
    const char *name, *value;
    while (eng_httpc_resp_header_next(&r, &pos, &name, &value)) {
        for (const char *p = name; *p; p++)
            CHECK(!(*p >= 'A' && *p <= 'Z'));
        n++;
    }
    CHECK_INT(n, 4);

    feed_header(&x, "HTTP/2 302\r\n");
    CHECK_INT(r.nhdr, 0);
    CHECK(eng_httpc_resp_header(&r, "content-type") == NULL);

    /* one header over the cap stops the transfer */
    size_t big = ENG_HTTPC_MAX_HEADER_BYTES + 10;
    char *line = malloc(big + 8);
    REQUIRE(line != NULL);
    memcpy(line, "X-Big: ", 7);
    memset(line + 7, 'a', big);
    memcpy(line + 7 + big - 2, "\r\n", 3);
    CHECK_INT(feed_header(&x, line), 0);
    CHECK_INT(x.too_large, 2);
    free(line);
    eng_httpc_resp_clear(&r);
    eng_httpc_resp_clear(&r); /* idempotent */
}

static void test_body_callback_cap(void)
{
    struct eng_httpc_resp r;
    eng_httpc_resp_init(&r);
    struct httpc_xfer x = {.resp = &r, .max_body = 10};
    char data[] = "0123456789abc";

    CHECK_INT(httpc_on_body(data, 1, 6, &x), 6);
    CHECK_INT(httpc_on_body(data + 6, 1, 4, &x), 4); /* exactly at the cap */
    CHECK_INT(r.body_len, 10);
    CHECK_STR(r.body, "0123456789");
    CHECK(r.body_cap <= 11); /* never grows past cap + NUL */
    CHECK_INT(httpc_on_body(data, 1, 1, &x), 0);
    CHECK_INT(x.too_large, 1);
    eng_httpc_resp_clear(&r);
}

static void test_check_url(void)
{
    struct eng_err err;
    CHECK_INT(eng_httpc_check_url("http://a/b", &err), 0);
    CHECK_INT(eng_httpc_check_url("HTTPS://127.0.0.1:8/x?y=1#z", &err), 0);
    CHECK_INT(eng_httpc_check_url("ftp://example.com/x", &err), ENG_EINVAL);
    CHECK(strstr(err.msg, "only http and https") != NULL);
    CHECK_INT(eng_httpc_check_url("file:///etc/passwd", &err), ENG_EINVAL);
    CHECK_INT(eng_httpc_check_url("//example.com/x", &err), ENG_EINVAL);
    CHECK_INT(eng_httpc_check_url("example.com", &err), ENG_EINVAL);
    CHECK_INT(eng_httpc_check_url("http://", &err), ENG_EINVAL);
    CHECK_INT(eng_httpc_check_url("http://a b/", &err), ENG_EINVAL);
    CHECK_INT(eng_httpc_check_url(NULL, &err), ENG_EINVAL);
}

static void test_safe_url(void)
{
    char buf[256];
    httpc_safe_url("https://user:secret@h.example:8443/p/a?token=SECRET#frag", buf, sizeof buf);
    CHECK_STR(buf, "https://h.example:8443/p/a");
    httpc_safe_url("http://h.example?x=1", buf, sizeof buf);
    CHECK_STR(buf, "http://h.example/");
    httpc_safe_url("not a url", buf, sizeof buf);
    CHECK_STR(buf, "(unparseable URL)");
}

static void test_names(void)
{
    CHECK_STR(eng_httpc_fail_name(ENG_HTTPC_TIMEOUT), "timeout");
    CHECK_STR(eng_httpc_fail_name(ENG_HTTPC_CONNECT), "connect");
    CHECK_STR(eng_httpc_fail_name(ENG_HTTPC_TLS), "tls");
    CHECK_STR(eng_httpc_fail_name(ENG_HTTPC_DNS), "dns");
    CHECK_STR(eng_httpc_fail_name(ENG_HTTPC_TOO_LARGE), "too_large");
    CHECK_STR(eng_httpc_fail_name(ENG_HTTPC_HTTP), "http");
    CHECK(eng_httpc_method_idempotent("GET"));
    CHECK(eng_httpc_method_idempotent("PUT"));
    CHECK(eng_httpc_method_idempotent("DELETE"));
    CHECK(eng_httpc_method_idempotent(NULL));
    CHECK(!eng_httpc_method_idempotent("POST"));
    CHECK(!eng_httpc_method_idempotent("PATCH"));
}

/* Port 1 on loopback refuses: the retries back off but stop at the deadline. */
static void test_refused_retries_stop_at_deadline(void)
{
    struct eng_err err = {0, ""};
    struct eng_httpc *h = eng_httpc_new(&err);
    REQUIRE(h != NULL);
    struct eng_httpc_header hdrs[] = {{"Authorization", "Bearer SECRET1"}};
    struct eng_httpc_req req = {.method = "POST",
                                .url = "http://127.0.0.1:1/path?token=SECRET2",
                                .headers = hdrs,
                                .nheaders = 1,
                                .body = "x",
                                .body_len = 1,
                                .retries = 10};
    struct eng_httpc_resp r;
    eng_httpc_resp_init(&r);

    long long t0 = eng_httpc_now_ms();
    req.deadline = t0 + 700;
    int rc = eng_httpc_perform(h, &req, &r, &err);
    long long took = eng_httpc_now_ms() - t0;
    CHECK_INT(rc, ENG_EIO);
    CHECK_INT(r.fail, ENG_HTTPC_CONNECT);
    CHECK(r.attempts >= 2 && r.attempts <= 4); /* a refused POST was never sent: retried */
    CHECK(took < 800);
    CHECK(strstr(err.msg, "SECRET") == NULL);
    CHECK(strstr(err.msg, "POST http://127.0.0.1:1/path") != NULL);

    req.deadline = eng_httpc_now_ms() - 1; /* nothing left: no attempt at all */
    rc = eng_httpc_perform(h, &req, &r, &err);
    CHECK_INT(rc, ENG_ETIMEOUT);
    CHECK_INT(r.fail, ENG_HTTPC_TIMEOUT);
    CHECK_INT(r.attempts, 0);

    eng_httpc_resp_clear(&r);
    eng_httpc_free(h);
    eng_httpc_free(NULL);
}

CHECK_MAIN(CHECK_CASE(test_retry_after_seconds), CHECK_CASE(test_retry_after_dates),
           CHECK_CASE(test_backoff_bounds), CHECK_CASE(test_header_callback),
           CHECK_CASE(test_body_callback_cap), CHECK_CASE(test_check_url),
           CHECK_CASE(test_safe_url), CHECK_CASE(test_names),
           CHECK_CASE(test_refused_retries_stop_at_deadline))
