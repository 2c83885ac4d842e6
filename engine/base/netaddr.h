/*
 * netaddr.h - IP addresses as data: parse one, lists of addresses and CIDR ranges
 * (ALLOW_PRIVATE_TARGETS, TRUSTED_PROXIES), and the special-purpose ranges an outbound request
 * must not reach (loopback, private, link-local, metadata...). Pure: no I/O, no allocation but
 * a list's own array.
 * Owns: nothing shared. Must not: resolve names (callers pass the address actually used).
 */
#ifndef ENG_NETADDR_H
#define ENG_NETADDR_H

#include <stddef.h>

/* One address in IPv6 form; IPv4 is kept as ::ffff:a.b.c.d, so either spelling compares equal. */
struct eng_netaddr {
    unsigned char a[16];
};

struct eng_netaddr_range {
    struct eng_netaddr net;
    int bits; /* prefix length over the 128-bit form */
};

struct eng_netaddr_list {
    int all; /* "1" / "true" / "yes" / "all": every address */
    size_t n;
    struct eng_netaddr_range *items;
};

/* Numeric IPv4 or IPv6 text (len bytes, no brackets) to *out. 0, or -1 when it is not one. */
int eng_netaddr_parse(const char *text, size_t len, struct eng_netaddr *out);
void eng_netaddr_from_v4(const unsigned char v4[4], struct eng_netaddr *out);
void eng_netaddr_from_v6(const unsigned char v6[16], struct eng_netaddr *out);
/* The address as text (IPv4 for the mapped form) into buf (>= 46 bytes). */
void eng_netaddr_format(const struct eng_netaddr *a, char *buf, size_t size);

/* Why an outbound request must not go to a: NULL for an ordinary public address, else the
 * rule's name ("loopback", "private", "shared (CGNAT)", "link-local", "metadata", "unspecified",
 * "multicast", "broadcast", "reserved"). IPv4-mapped, IPv4-compatible and NAT64 (64:ff9b::/96)
 * forms are judged by the IPv4 address they carry. */
const char *eng_netaddr_special(const struct eng_netaddr *a);

/* Parse spec: empty, "0", "false", "no" = nothing; "1", "true", "yes", "all" = everything;
 * otherwise addresses and CIDR ranges separated by commas or blanks ("127.0.0.1, 10.0.0.0/8,
 * fd00::/8"). 0, ENG_EINVAL (err names var and the bad item), ENG_ENOMEM. Free with _free. */
struct eng_err;
int eng_netaddr_list_parse(const char *spec, const char *var, struct eng_netaddr_list *out,
                           struct eng_err *err);
int eng_netaddr_list_has(const struct eng_netaddr_list *l, const struct eng_netaddr *a);
void eng_netaddr_list_free(struct eng_netaddr_list *l);

#endif
