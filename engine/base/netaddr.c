/*
 * netaddr.c - IP addresses, CIDR lists and the special-purpose ranges (see netaddr.h).
 * Owns: nothing shared. Must not: resolve names, log, or read the environment.
 */
#include "base/netaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"

int eng_netaddr_parse(const char *text, size_t len, struct eng_netaddr *out)
{
    char buf[INET6_ADDRSTRLEN + 1];
    unsigned char raw[16];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, raw) == 1) {
        eng_netaddr_from_v4(raw, out);
        return 0;
    }
    if (inet_pton(AF_INET6, buf, raw) == 1) {
        eng_netaddr_from_v6(raw, out);
        return 0;
    }
    return -1;
}

void eng_netaddr_from_v4(const unsigned char v4[4], struct eng_netaddr *out)
{
    memset(out->a, 0, 10);
    out->a[10] = out->a[11] = 0xff;
    memcpy(out->a + 12, v4, 4);
}

void eng_netaddr_from_v6(const unsigned char v6[16], struct eng_netaddr *out)
{
    memcpy(out->a, v6, 16);
}

static int netaddr_is_mapped(const struct eng_netaddr *a)
{
    static const unsigned char pre[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a->a, pre, 12) == 0;
}

void eng_netaddr_format(const struct eng_netaddr *a, char *buf, size_t size)
{
    char text[INET6_ADDRSTRLEN] = "?";
    if (netaddr_is_mapped(a))
        inet_ntop(AF_INET, a->a + 12, text, sizeof text);
    else
        inet_ntop(AF_INET6, a->a, text, sizeof text);
    snprintf(buf, size, "%s", text);
}

/* The first bits of a and b agree. */
static int netaddr_prefix_eq(const unsigned char *a, const unsigned char *b, int bits)
{
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, (size_t)whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

static const char *netaddr_special_v4(const unsigned char *v)
{
    static const struct {
        unsigned char net[4];
        int bits;
        const char *rule;
    } r[] = {
        {{169, 254, 169, 254}, 32, "metadata"},  {{255, 255, 255, 255}, 32, "broadcast"},
        {{0, 0, 0, 0}, 8, "unspecified"},        {{10, 0, 0, 0}, 8, "private"},
        {{100, 64, 0, 0}, 10, "shared (CGNAT)"}, {{127, 0, 0, 0}, 8, "loopback"},
        {{169, 254, 0, 0}, 16, "link-local"},    {{172, 16, 0, 0}, 12, "private"},
        {{192, 0, 0, 0}, 24, "reserved"},        {{192, 0, 2, 0}, 24, "reserved"},
        {{192, 88, 99, 0}, 24, "reserved"},      {{192, 168, 0, 0}, 16, "private"},
        {{198, 18, 0, 0}, 15, "reserved"},       {{198, 51, 100, 0}, 24, "reserved"},
        {{203, 0, 113, 0}, 24, "reserved"},      {{224, 0, 0, 0}, 4, "multicast"},
        {{240, 0, 0, 0}, 4, "reserved"},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (netaddr_prefix_eq(v, r[i].net, r[i].bits))
            return r[i].rule;
    return NULL;
}

const char *eng_netaddr_special(const struct eng_netaddr *a)
{
    static const struct {
        unsigned char net[16];
        int bits;
        const char *rule;
    } r[] = {
        {{0}, 128, "unspecified"},
        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
        {{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128, "metadata"},
        {{0xfc}, 7, "private"},                     /* unique local addresses */
        {{0xfe, 0x80}, 10, "link-local"},           /* */
        {{0xfe, 0xc0}, 10, "private"},              /* site-local (deprecated) */
        {{0xff}, 8, "multicast"},                   /* */
        {{0x01, 0x00}, 64, "reserved"},             /* discard-only */
        {{0x20, 0x01, 0x0d, 0xb8}, 32, "reserved"}, /* documentation */
    };
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char compat[12] = {0};

    /* forms that carry an IPv4 address: judged by it */
    if (netaddr_is_mapped(a) || memcmp(a->a, nat64, 12) == 0 ||
        (memcmp(a->a, compat, 12) == 0 && (a->a[12] | a->a[13] | a->a[14]) != 0)) {
        const char *rule = netaddr_special_v4(a->a + 12);
        if (rule != NULL || netaddr_is_mapped(a) || a->a[1] == 0x64)
            return rule;
        return "reserved"; /* ::a.b.c.d, deprecated: no route goes there */
    }
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (netaddr_prefix_eq(a->a, r[i].net, r[i].bits))
            return r[i].rule;
    if (a->a[0] == 0) /* ::/8 */
        return "reserved";
    return NULL;
}

static int netaddr_word(const char *s, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

int eng_netaddr_list_parse(const char *spec, const char *var, struct eng_netaddr_list *out,
                           struct eng_err *err)
{
    memset(out, 0, sizeof *out);
    if (spec == NULL)
        return 0;
    const char *sep = ", \t";
    size_t total = strlen(spec);
    size_t start = strspn(spec, sep), len = strcspn(spec + start, sep);
    if (start + len + strspn(spec + start + len, sep) == total) { /* one word (or none) */
        const char *w = spec + start;
        if (len == 0 || netaddr_word(w, len, "0") || netaddr_word(w, len, "false") ||
            netaddr_word(w, len, "no"))
            return 0;
        if (netaddr_word(w, len, "1") || netaddr_word(w, len, "true") ||
            netaddr_word(w, len, "yes") || netaddr_word(w, len, "all")) {
            out->all = 1;
            return 0;
        }
    }
    size_t cap = total / 2 + 1; /* an item and its separator take at least two bytes */
    out->items = calloc(cap, sizeof *out->items);
    if (out->items == NULL)
        return eng_err_set(err, ENG_ENOMEM, "out of memory reading %s", var);
    const char *p = spec;
    while (*p != '\0') {
        p += strspn(p, sep);
        size_t n = strcspn(p, sep);
        if (n == 0)
            break;
        const char *slash = memchr(p, '/', n);
        size_t alen = slash != NULL ? (size_t)(slash - p) : n;
        struct eng_netaddr_range *it = &out->items[out->n];
        int ok = eng_netaddr_parse(p, alen, &it->net) == 0;
        int v4 = ok && memchr(p, ':', alen) == NULL;
        int max = v4 ? 32 : 128;
        int bits = max;
        if (ok && slash != NULL) {
            const char *b = slash + 1, *e = p + n;
            bits = 0;
            ok = b < e && e - b <= 3;
            for (; ok && b < e; b++) {
                ok = *b >= '0' && *b <= '9';
                bits = bits * 10 + (*b - '0');
            }
            ok = ok && bits <= max;
        }
        if (!ok) {
            eng_netaddr_list_free(out);
            return eng_err_set(err, ENG_EINVAL,
                               "%s: '%.*s' is not an IP address or CIDR range (e.g. 10.0.0.5, "
                               "10.0.0.0/8, fd00::/8); or set it to 1 for every address",
                               var, (int)(n > 64 ? 64 : n), p);
        }
        it->bits = v4 ? bits + 96 : bits;
        out->n++;
        p += n;
    }
    return 0;
}

int eng_netaddr_list_has(const struct eng_netaddr_list *l, const struct eng_netaddr *a)
{
    if (l->all)
        return 1;
    for (size_t i = 0; i < l->n; i++)
        if (netaddr_prefix_eq(a->a, l->items[i].net.a, l->items[i].bits))
            return 1;
    return 0;
}

void eng_netaddr_list_free(struct eng_netaddr_list *l)
{
    free(l->items);
    memset(l, 0, sizeof *l);
}
