/*
 * test_httpc.c - unit tests of engine/adapt/httpc.c without an upstream: Retry-After forms, backoff
 * bounds, the header/body callbacks (reset per response, trimming, caps), URL checks, the error
 * text's redaction, the retry loop against a refused port under a deadline, and the refusal of
 * special-purpose targets (ALLOW_PRIVATE_TARGETS): on loopback listeners that must never see a
 * connection, a redirect from an allowed server, and a name stubbed (CURLOPT_RESOLVE, cached in
 * the handle) to 10.0.0.1 that is refused before connect. No packet ever leaves loopback.
 * The request paths against a real server are in tests/integration/http_module.sh.
 */
#include "check.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <unistd.h>

#include "../../../engine/adapt/httpc.c"
#include "base/clock.h"

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
    REQUIRE(eng_httpc_setup(NULL, "1", &err) == 0); /* loopback allowed, as in the tests */
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

    long long t0 = eng_now_ms();
    req.deadline = t0 + 700;
    int rc = eng_httpc_perform(h, &req, &r, &err);
    long long took = eng_now_ms() - t0;
    CHECK_INT(rc, ENG_EIO);
    CHECK_INT(r.fail, ENG_HTTPC_CONNECT);
    CHECK(r.attempts >= 2 && r.attempts <= 4); /* a refused POST was never sent: retried */
    CHECK(took < 800);
    CHECK(strstr(err.msg, "SECRET") == NULL);
    CHECK(strstr(err.msg, "POST http://127.0.0.1:1/path") != NULL);

    req.deadline = eng_now_ms() - 1; /* nothing left: no attempt at all */
    rc = eng_httpc_perform(h, &req, &r, &err);
    CHECK_INT(rc, ENG_ETIMEOUT);
    CHECK_INT(r.fail, ENG_HTTPC_TIMEOUT);
    CHECK_INT(r.attempts, 0);

    eng_httpc_resp_clear(&r);
    eng_httpc_free(h);
    eng_httpc_free(NULL);
}

/* ---- special-purpose targets ---- */

/* A non-blocking listener on ip, its port in *port; -1 when the address cannot be bound. */
static int listen_on(const char *ip, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof sa;
    if (fd < 0 || inet_pton(AF_INET, ip, &sa.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* How many connections reached the listener (accepted and closed here). */
static int connections_seen(int fd)
{
    int n = 0, c;
    while ((c = accept(fd, NULL, NULL)) >= 0) {
        close(c);
        n++;
    }
    return n;
}

static struct eng_httpc_resp get(struct eng_httpc *h, const char *url, int follow, int *rc,
                                 struct eng_err *err)
{
    struct eng_httpc_req req = {.url = url, .retries = 3, .follow_redirects = follow};
    struct eng_httpc_resp r;
    eng_httpc_resp_init(&r);
    req.deadline = eng_now_ms() + 5000;
    *rc = eng_httpc_perform(h, &req, &r, err);
    return r;
}

static int refusal_wired; /* a loopback target was refused with no connection reaching it */

/* An open and a closed loopback port answer alike, before any connection, naming the rule. */
static void test_refused_loopback(void)
{
    struct eng_err err = {0, ""}, err2 = {0, ""};
    REQUIRE(eng_httpc_setup(NULL, NULL, &err) == 0); /* the production default */
    struct eng_httpc *h = eng_httpc_new(&err);
    REQUIRE(h != NULL);
    int port = 0, rc = 0;
    int fd = listen_on("127.0.0.2", &port);
    REQUIRE(fd >= 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.2:%d/x?k=SECRET", port);
    struct eng_httpc_resp r = get(h, url, 0, &rc, &err);
    CHECK_INT(rc, ENG_EIO);
    CHECK_INT(r.fail, ENG_HTTPC_REFUSED);
    CHECK_INT(r.attempts, 1); /* never retried */
    CHECK_STR(eng_httpc_fail_name(r.fail), "refused");
    CHECK(strstr(err.msg, "loopback") != NULL);
    CHECK(strstr(err.msg, "ALLOW_PRIVATE_TARGETS") != NULL);
    CHECK(strstr(err.msg, "SECRET") == NULL);
    int seen = connections_seen(fd);
    CHECK_INT(seen, 0);
    eng_httpc_resp_clear(&r);

    r = get(h, "http://127.0.0.2:1/x", 0, &rc, &err2); /* closed port: the same answer */
    CHECK_INT(r.fail, ENG_HTTPC_REFUSED);
    const char *a = strstr(err.msg, ": refused"), *b = strstr(err2.msg, ": refused");
    CHECK(a != NULL && b != NULL && strcmp(a, b) == 0);
    eng_httpc_resp_clear(&r);

    r = get(h, "http://localhost:1/", 0, &rc, &err); /* a name: judged after resolution */
    CHECK_INT(r.fail, ENG_HTTPC_REFUSED);
    CHECK(strstr(err.msg, "loopback") != NULL);
    eng_httpc_resp_clear(&r);
    refusal_wired = rc == ENG_EIO && seen == 0;

    /* allowed by the operator: the connection opens */
    REQUIRE(eng_httpc_setup(NULL, "127.0.0.2", &err) == 0);
    struct eng_httpc_req req = {.url = url, .timeout_ms = 300};
    eng_httpc_resp_init(&r);
    rc = eng_httpc_perform(h, &req, &r, &err);
    CHECK_INT(r.fail, ENG_HTTPC_TIMEOUT); /* it connected; nobody answers on the listener */
    CHECK_INT(connections_seen(fd), 1);
    eng_httpc_resp_clear(&r);
    close(fd);
    eng_httpc_free(h);
}

/* A proxy named in the environment is not used: the connection goes to the target (whose
 * address is the one checked), never to the proxy. */
static void test_no_proxy_from_environment(void)
{
    struct eng_err err = {0, ""};
    REQUIRE(eng_httpc_setup(NULL, "127.0.0.0/8", &err) == 0);
    struct eng_httpc *h = eng_httpc_new(&err);
    REQUIRE(h != NULL);
    int pp = 0, pt = 0;
    int proxy = listen_on("127.0.0.1", &pp), target = listen_on("127.0.0.2", &pt);
    REQUIRE(proxy >= 0 && target >= 0);
    char env[64], url[64];
    snprintf(env, sizeof env, "http://127.0.0.1:%d", pp);
    setenv("http_proxy", env, 1);
    setenv("ALL_PROXY", env, 1);
    snprintf(url, sizeof url, "http://127.0.0.2:%d/", pt);
    struct eng_httpc_req req = {.url = url, .timeout_ms = 300};
    struct eng_httpc_resp r;
    eng_httpc_resp_init(&r);
    (void)eng_httpc_perform(h, &req, &r, &err); /* nobody answers: a timeout */
    unsetenv("http_proxy");
    unsetenv("ALL_PROXY");
    CHECK_INT(connections_seen(proxy), 0);
    CHECK_INT(connections_seen(target), 1);
    eng_httpc_resp_clear(&r);
    close(proxy);
    close(target);
    eng_httpc_free(h);
}

static curl_socket_t no_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *sa)
{
    (void)ud, (void)purpose, (void)sa;
    return CURL_SOCKET_BAD;
}

/* Other ranges only through the classifier's wiring proven above: a name stubbed to 10.0.0.1
 * (the handle's DNS cache, loaded without any connection) and metadata literals are refused
 * before connect. Skipped when the loopback refusal failed: then a packet could leave. */
static void test_refused_private_before_connect(void)
{
    struct eng_err err = {0, ""};
    REQUIRE(refusal_wired);
    REQUIRE(eng_httpc_setup(NULL, "127.0.0.0/8", &err) == 0);
    struct eng_httpc *h = eng_httpc_new(&err);
    REQUIRE(h != NULL);
    struct eng_netaddr ten;
    REQUIRE(eng_netaddr_parse("10.0.0.1", 8, &ten) == 0);
    REQUIRE(eng_httpc_target_refused(&ten) != NULL);

    struct curl_slist *stub = curl_slist_append(NULL, "internal.example:8080:10.0.0.1");
    stub = curl_slist_append(stub, "meta.example:80:[fd00:ec2::254]");
    REQUIRE(stub != NULL);
    curl_easy_setopt(h->curl, CURLOPT_RESOLVE, stub);
    curl_easy_setopt(h->curl, CURLOPT_URL, "http://127.0.0.1:1/");
    curl_easy_setopt(h->curl, CURLOPT_OPENSOCKETFUNCTION, no_socket);
    (void)curl_easy_perform(h->curl); /* loads the stub into the handle's DNS cache */
    curl_slist_free_all(stub);

    int rc = 0;
    struct eng_httpc_resp r = get(h, "http://internal.example:8080/", 0, &rc, &err);
    CHECK_INT(r.fail, ENG_HTTPC_REFUSED);
    CHECK(strstr(err.msg, "private address") != NULL);
    CHECK(strstr(err.msg, "10.0.0.1") == NULL); /* the rule, never what a name resolved to */
    eng_httpc_resp_clear(&r);
    r = get(h, "http://meta.example/", 0, &rc, &err);
    CHECK_INT(r.fail, ENG_HTTPC_REFUSED);
    CHECK(strstr(err.msg, "metadata") != NULL);
    eng_httpc_resp_clear(&r);
    const char *literals[] = {"http://169.254.169.254/latest/meta-data/",
                              "http://[::ffff:169.254.169.254]/", "http://[::ffff:a00:1]:80/",
                              "http://0.0.0.0:80/", "http://[::]:80/"};
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        r = get(h, literals[i], 0, &rc, &err);
        CHECK_INT(r.fail, ENG_HTTPC_REFUSED);
        eng_httpc_resp_clear(&r);
    }
    eng_httpc_free(h);
}

struct redirector {
    int fd;
    int served;
    char location[96];
};

/* Answer every connection on fd with a 302 to location until 1 s passes without one. */
static void *redirect_all(void *ud)
{
    struct redirector *rd = ud;
    for (;;) {
        struct pollfd p = {.fd = rd->fd, .events = POLLIN};
        if (poll(&p, 1, 1000) <= 0)
            return NULL;
        int c = accept(rd->fd, NULL, NULL);
        if (c < 0)
            continue;
        char buf[2048];
        size_t got = 0;
        while (got < sizeof buf - 1) {
            struct pollfd q = {.fd = c, .events = POLLIN};
            if (poll(&q, 1, 2000) <= 0)
                break;
            ssize_t n = read(c, buf + got, sizeof buf - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n") != NULL)
                break;
        }
        char out[256];
        int n = snprintf(out, sizeof out,
                         "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n",
                         rd->location);
        if (write(c, out, (size_t)n) == n)
            rd->served++;
        close(c);
    }
}

/* A server the operator allows (127.0.0.1) redirects to 127.0.0.2: the redirect is refused. */
static void test_refused_redirect(void)
{
    struct eng_err err = {0, ""};
    REQUIRE(eng_httpc_setup(NULL, "127.0.0.1", &err) == 0);
    struct eng_httpc *h = eng_httpc_new(&err);
    REQUIRE(h != NULL);
    int pa = 0, pb = 0, rc = 0;
    struct redirector rd = {.fd = listen_on("127.0.0.1", &pa)};
    int target = listen_on("127.0.0.2", &pb);
    REQUIRE(rd.fd >= 0 && target >= 0);
    fcntl(rd.fd, F_SETFL, fcntl(rd.fd, F_GETFL) & ~O_NONBLOCK);
    snprintf(rd.location, sizeof rd.location, "http://127.0.0.2:%d/inside", pb);
    pthread_t t;
    REQUIRE(pthread_create(&t, NULL, redirect_all, &rd) == 0);

    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/start", pa);
    struct eng_httpc_resp r = get(h, url, 0, &rc, &err); /* allowed, not followed */
    CHECK_INT(rc, 0);
    CHECK_INT(r.status, 302);
    eng_httpc_resp_clear(&r);
    r = get(h, url, 1, &rc, &err); /* followed: the hop to 127.0.0.2 is refused */
    CHECK_INT(rc, ENG_EIO);
    CHECK_INT(r.fail, ENG_HTTPC_REFUSED);
    CHECK(strstr(err.msg, "loopback") != NULL);
    CHECK_INT(connections_seen(target), 0);
    eng_httpc_resp_clear(&r);

    pthread_join(t, NULL);
    CHECK_INT(rd.served, 2);
    close(rd.fd);
    close(target);
    eng_httpc_free(h);
}

CHECK_MAIN(CHECK_CASE(test_refused_loopback), CHECK_CASE(test_refused_private_before_connect),
           CHECK_CASE(test_refused_redirect), CHECK_CASE(test_no_proxy_from_environment),
           CHECK_CASE(test_retry_after_seconds), CHECK_CASE(test_retry_after_dates),
           CHECK_CASE(test_backoff_bounds), CHECK_CASE(test_header_callback),
           CHECK_CASE(test_body_callback_cap), CHECK_CASE(test_check_url),
           CHECK_CASE(test_safe_url), CHECK_CASE(test_names),
           CHECK_CASE(test_refused_retries_stop_at_deadline))
