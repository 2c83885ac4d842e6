/*
 * test_httpd.c - unit tests of engine/adapt/httpd.c's pure parts: who the client is behind
 * X-Forwarded-For (believed only from TRUSTED_PROXIES, walked from the nearest hop, a forged
 * first hop or garbage never chosen over the address that added it), and the oldest waiting
 * connection that gives way to a new one. Requests over real sockets are in
 * tests/integration/slow_clients.sh and header_edges.sh.
 */
#include "check.h"

#include "../../../engine/adapt/httpd.c"

static struct eng_netaddr addr(const char *text)
{
    struct eng_netaddr a;
    memset(&a, 0, sizeof a);
    if (eng_netaddr_parse(text, strlen(text), &a) != 0)
        fprintf(stderr, "bad address in the test: %s\n", text);
    return a;
}

/* The client address for a request from peer carrying X-Forwarded-For xff (NULL: none). */
static const char *client_of(struct eng_httpd *h, const char *peer, const char *xff)
{
    static char buf[64];
    struct httpd_scan sc = {0, NULL, xff, xff != NULL ? strlen(xff) : 0};
    struct eng_netaddr c = addr(peer);
    httpd_client(h, &sc, &c);
    eng_netaddr_format(&c, buf, sizeof buf);
    return buf;
}

static void test_forwarded_for(void)
{
    struct eng_httpd h;
    struct eng_err err = {0};
    memset(&h, 0, sizeof h);

    /* nobody trusted: the peer, whatever the header says */
    REQUIRE(eng_netaddr_list_parse(NULL, "TRUSTED_PROXIES", &h.trusted, &err) == 0);
    CHECK_STR(client_of(&h, "198.51.100.9", "203.0.113.7"), "198.51.100.9");
    CHECK_STR(client_of(&h, "127.0.0.1", "203.0.113.7"), "127.0.0.1");
    eng_netaddr_list_free(&h.trusted);

    REQUIRE(eng_netaddr_list_parse("10.0.0.0/8, 127.0.0.1", "TRUSTED_PROXIES", &h.trusted, &err) ==
            0);
    CHECK_STR(client_of(&h, "10.1.2.3", NULL), "10.1.2.3");             /* no header: the proxy */
    CHECK_STR(client_of(&h, "10.1.2.3", "203.0.113.7"), "203.0.113.7"); /* one hop */
    CHECK_STR(client_of(&h, "198.51.100.9", "203.0.113.7"), "198.51.100.9"); /* untrusted peer */
    /* the nearest untrusted hop: a forged first entry is never chosen */
    CHECK_STR(client_of(&h, "10.1.2.3", "1.2.3.4, 203.0.113.7"), "203.0.113.7");
    CHECK_STR(client_of(&h, "10.1.2.3", "1.2.3.4, 203.0.113.7, 10.9.9.9"), "203.0.113.7");
    CHECK_STR(client_of(&h, "10.1.2.3", " 203.0.113.7 ,\t10.9.9.9\t"), "203.0.113.7");
    CHECK_STR(client_of(&h, "10.1.2.3", "[2001:db8::1], 10.9.9.9"), "2001:db8::1");
    /* garbage stops the walk at the last address a trusted hop vouched for */
    CHECK_STR(client_of(&h, "10.1.2.3", "203.0.113.7, unknown"), "10.1.2.3");
    CHECK_STR(client_of(&h, "10.1.2.3", "203.0.113.7, 10.9.9.9, garbage"), "10.1.2.3");
    CHECK_STR(client_of(&h, "10.1.2.3", "garbage, 10.9.9.9"), "10.9.9.9");
    CHECK_STR(client_of(&h, "10.1.2.3", ""), "10.1.2.3");
    CHECK_STR(client_of(&h, "10.1.2.3", ",,,"), "10.1.2.3");
    CHECK_STR(client_of(&h, "10.1.2.3", "10.9.9.9, 10.8.8.8"), "10.9.9.9"); /* all trusted */
    CHECK_STR(client_of(&h, "::ffff:127.0.0.1", "203.0.113.7"), "203.0.113.7");
    eng_netaddr_list_free(&h.trusted);
}

static void test_oldest_waiting(void)
{
    struct eng_httpd h;
    memset(&h, 0, sizeof h);
    struct httpd_conn c[4];
    memset(c, 0, sizeof c);
    const char *who[] = {"127.0.0.1", "127.0.0.2", "127.0.0.1", "127.0.0.1"};
    long long since[] = {300, 100, 200, 50};
    enum httpd_phase phase[] = {HTTPD_HEADERS, HTTPD_HEADERS, HTTPD_HEADERS, HTTPD_BUSY};
    for (int i = 0; i < 4; i++) {
        c[i].addr = addr(who[i]);
        c[i].since = since[i];
        c[i].phase = phase[i];
        c[i].prev = i > 0 ? &c[i - 1] : NULL;
        c[i].next = i < 3 ? &c[i + 1] : NULL;
    }
    h.head = &c[0], h.tail = &c[3];
    size_t n = 0;
    struct eng_netaddr one = addr("127.0.0.1");
    CHECK(httpd_oldest_waiting(&h, &one, NULL, &n) == &c[2]); /* c[3] is busy: never chosen */
    CHECK_INT(n, 2);
    CHECK(httpd_oldest_waiting(&h, &one, &c[2], &n) == &c[0]); /* not the new one itself */
    CHECK(httpd_oldest_waiting(&h, NULL, NULL, &n) == &c[1]);
    CHECK_INT(n, 3);
}

CHECK_MAIN(CHECK_CASE(test_forwarded_for), CHECK_CASE(test_oldest_waiting))
