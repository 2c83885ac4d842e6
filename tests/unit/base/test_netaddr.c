/*
 * test_netaddr.c - unit tests of engine/base/netaddr.c: the address classifier outbound requests
 * rely on (every special-purpose range, its IPv4-mapped, -compatible and NAT64 forms, public
 * neighbours just outside each range), and the lists ALLOW_PRIVATE_TARGETS and TRUSTED_PROXIES
 * are read with. Pure data: nothing here opens a socket.
 */
#include "check.h"

#include "base/err.h"
#include "base/netaddr.h"

static const char *rule_of(const char *text)
{
    struct eng_netaddr a;
    if (eng_netaddr_parse(text, strlen(text), &a) != 0)
        return "(unparsed)";
    const char *r = eng_netaddr_special(&a);
    return r != NULL ? r : "public";
}

static void test_special_ranges(void)
{
    static const char *const cases[][2] = {
        {"127.0.0.1", "loopback"},
        {"127.0.0.2", "loopback"},
        {"127.255.255.255", "loopback"},
        {"::1", "loopback"},
        {"::ffff:127.0.0.1", "loopback"},
        {"::ffff:7f00:2", "loopback"},
        {"10.0.0.1", "private"},
        {"10.255.255.255", "private"},
        {"172.16.0.1", "private"},
        {"172.31.255.254", "private"},
        {"192.168.1.1", "private"},
        {"::ffff:10.1.2.3", "private"},
        {"::ffff:192.168.0.1", "private"},
        {"64:ff9b::10.0.0.1", "private"},
        {"fc00::1", "private"},
        {"fd12:3456::1", "private"},
        {"fec0::1", "private"},
        {"100.64.0.1", "shared (CGNAT)"},
        {"100.127.255.255", "shared (CGNAT)"},
        {"169.254.169.254", "metadata"},
        {"::ffff:169.254.169.254", "metadata"},
        {"64:ff9b::169.254.169.254", "metadata"},
        {"fd00:ec2::254", "metadata"},
        {"169.254.0.1", "link-local"},
        {"fe80::1", "link-local"},
        {"febf::1", "link-local"},
        {"0.0.0.0", "unspecified"},
        {"0.1.2.3", "unspecified"},
        {"::", "unspecified"},
        {"::ffff:0.0.0.0", "unspecified"},
        {"224.0.0.1", "multicast"},
        {"239.255.255.250", "multicast"},
        {"ff02::1", "multicast"},
        {"255.255.255.255", "broadcast"},
        {"240.0.0.1", "reserved"},
        {"192.0.2.1", "reserved"},
        {"198.18.0.1", "reserved"},
        {"::10.0.0.1", "private"}, /* IPv4-compatible: the address it carries */
        {"::8.8.8.8", "reserved"}, /* deprecated form: nowhere to go */
        {"2001:db8::1", "reserved"},
        /* public neighbours just outside the ranges */
        {"8.8.8.8", "public"},
        {"11.0.0.1", "public"},
        {"172.15.255.255", "public"},
        {"172.32.0.1", "public"},
        {"192.169.0.1", "public"},
        {"100.63.255.255", "public"},
        {"100.128.0.1", "public"},
        {"169.253.255.255", "public"},
        {"126.255.255.255", "public"},
        {"128.0.0.1", "public"},
        {"223.255.255.255", "public"},
        {"::ffff:8.8.8.8", "public"},
        {"64:ff9b::8.8.8.8", "public"},
        {"2606:4700::1111", "public"},
        {"fbff::1", "public"},
        {"fd00:ec2::253", "private"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = rule_of(cases[i][0]);
        if (strcmp(got, cases[i][1]) != 0)
            fprintf(stderr, "  %s: %s, expected %s\n", cases[i][0], got, cases[i][1]);
        CHECK_STR(got, cases[i][1]);
    }
}

static void test_parse_and_format(void)
{
    struct eng_netaddr a, b;
    char buf[64];
    CHECK_INT(eng_netaddr_parse("10.0.0.1", 8, &a), 0);
    CHECK_INT(eng_netaddr_parse("::ffff:10.0.0.1", 15, &b), 0);
    CHECK(memcmp(&a, &b, sizeof a) == 0); /* one form for both spellings */
    eng_netaddr_format(&a, buf, sizeof buf);
    CHECK_STR(buf, "10.0.0.1");
    CHECK_INT(eng_netaddr_parse("fd00::1", 7, &a), 0);
    eng_netaddr_format(&a, buf, sizeof buf);
    CHECK_STR(buf, "fd00::1");
    CHECK_INT(eng_netaddr_parse("10.0.0.1x", 9, &a), -1);
    CHECK_INT(eng_netaddr_parse("", 0, &a), -1);
    CHECK_INT(eng_netaddr_parse("example.com", 11, &a), -1);
    CHECK_INT(eng_netaddr_parse("10.0.0.1,10.0.0.2", 8, &a), 0); /* len bounds the text */
}

static int list_has(const struct eng_netaddr_list *l, const char *text)
{
    struct eng_netaddr a;
    return eng_netaddr_parse(text, strlen(text), &a) == 0 && eng_netaddr_list_has(l, &a);
}

static void test_lists(void)
{
    struct eng_netaddr_list l;
    struct eng_err err = {0};
    const char *none[] = {NULL, "", "0", "false", "NO", "  "};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        CHECK_INT(eng_netaddr_list_parse(none[i], "X", &l, &err), 0);
        CHECK(!list_has(&l, "127.0.0.1"));
        eng_netaddr_list_free(&l);
    }
    const char *all[] = {"1", "true", "Yes", "all", " 1 "};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        CHECK_INT(eng_netaddr_list_parse(all[i], "X", &l, &err), 0);
        CHECK(list_has(&l, "169.254.169.254"));
        eng_netaddr_list_free(&l);
    }
    CHECK_INT(eng_netaddr_list_parse("127.0.0.1, 10.0.0.0/8 fd00::/8,::1", "X", &l, &err), 0);
    CHECK_INT(l.n, 4);
    CHECK(list_has(&l, "127.0.0.1"));
    CHECK(list_has(&l, "::ffff:127.0.0.1"));
    CHECK(!list_has(&l, "127.0.0.2"));
    CHECK(list_has(&l, "10.200.1.1"));
    CHECK(!list_has(&l, "11.0.0.1"));
    CHECK(list_has(&l, "fd00:ec2::254"));
    CHECK(!list_has(&l, "fe80::1"));
    CHECK(list_has(&l, "::1"));
    eng_netaddr_list_free(&l);
    CHECK_INT(eng_netaddr_list_parse("0.0.0.0/0", "X", &l, &err), 0);
    CHECK(list_has(&l, "8.8.8.8"));
    CHECK(!list_has(&l, "::1")); /* an IPv4 range covers IPv4 only */
    eng_netaddr_list_free(&l);

    const char *bad[] = {"10.0.0.0/33", "10.0.0.0/",  "fd00::/129", "localhost",
                         "10.0.0.0/8x", "1.2.3.4/-1", "2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(eng_netaddr_list_parse(bad[i], "TRUSTED_PROXIES", &l, &err), ENG_EINVAL);
        CHECK(strstr(err.msg, "TRUSTED_PROXIES") != NULL);
        CHECK(l.items == NULL && l.n == 0);
    }
}

CHECK_MAIN(CHECK_CASE(test_special_ranges), CHECK_CASE(test_parse_and_format),
           CHECK_CASE(test_lists))
