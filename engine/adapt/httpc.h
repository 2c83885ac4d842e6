/*
 * httpc.h - outbound HTTP(S) on libcurl for connectors: one easy handle per VM/thread,
 * timeouts capped by a deadline, retries with backoff, response size caps, and no connection
 * to a loopback, private, link-local or metadata address unless the operator allows it.
 * Owns: libcurl's global init and each handle's connection/DNS cache. Only httpc.c includes
 * curl.h. Must not: touch Lua, let TLS verification be turned off, speak anything but
 * http/https, or put request headers (credentials) or query strings into any error text.
 */
#ifndef ENG_HTTPC_H
#define ENG_HTTPC_H

#include <stddef.h>
#include <time.h>

#include "base/err.h"
#include "base/ratelimit.h"

#define ENG_HTTPC_MAX_BODY           (32u * 1024u * 1024u) /* response body cap (bytes) */
#define ENG_HTTPC_MAX_HEADER_BYTES   (256u * 1024u)        /* all response headers together */
#define ENG_HTTPC_MAX_REDIRS         5
#define ENG_HTTPC_MAX_RETRIES        10
#define ENG_HTTPC_DEFAULT_TIMEOUT_MS 30000L
#define ENG_HTTPC_MAX_TIMEOUT_MS     600000L
#define ENG_HTTPC_CONNECT_TIMEOUT_MS 10000L
#define ENG_HTTPC_BACKOFF_BASE_MS    200L
#define ENG_HTTPC_BACKOFF_CAP_MS     10000L
#define ENG_HTTPC_MAX_RETRY_AFTER_MS 120000L /* a longer Retry-After ends the retries */

/* Why a request produced no response. */
enum eng_httpc_fail {
    ENG_HTTPC_OK = 0,
    ENG_HTTPC_TIMEOUT,   /* "timeout": request timeout_ms or the caller's deadline */
    ENG_HTTPC_CONNECT,   /* "connect": refused, reset, closed without a reply */
    ENG_HTTPC_TLS,       /* "tls": handshake or certificate verification */
    ENG_HTTPC_DNS,       /* "dns": host name did not resolve */
    ENG_HTTPC_TOO_LARGE, /* "too_large": body or headers over the cap */
    ENG_HTTPC_HTTP,      /* "http": anything else (malformed reply, too many redirects...) */
    ENG_HTTPC_REFUSED,   /* "refused": the address (after resolution, on any redirect) is
                          * loopback, private, link-local, metadata... and not allowed by
                          * ALLOW_PRIVATE_TARGETS; never retried, never connected */
};

struct eng_httpc_header {
    const char *name;  /* token, no ':' */
    const char *value; /* no CR/LF; "" sends an empty header */
};

/* A request. Every pointer is borrowed for the duration of eng_httpc_perform only. */
struct eng_httpc_req {
    const char *method; /* upper-case token; NULL = "GET" */
    const char *url;    /* absolute http:// or https:// URL (see eng_httpc_check_url) */
    const struct eng_httpc_header *headers;
    size_t nheaders;
    const char *body; /* NULL = no body */
    size_t body_len;
    long timeout_ms;            /* per attempt; <= 0 = ENG_HTTPC_DEFAULT_TIMEOUT_MS */
    long long deadline;         /* eng_now_ms() value nothing may run past; 0 = none */
    int retries;                /* extra attempts, 0..ENG_HTTPC_MAX_RETRIES */
    int follow_redirects;       /* up to ENG_HTTPC_MAX_REDIRS, http/https only */
    int retry_unsafe;           /* retry non-idempotent methods on timeouts/resets/502/504 too */
    size_t max_body;            /* 0 or > ENG_HTTPC_MAX_BODY = ENG_HTTPC_MAX_BODY */
    struct eng_ratelimit limit; /* shared per-key limits, taken for each attempt (key NULL: none) */
};

/* A response. Its buffers belong to the struct: keep it where an error cannot leak it (a
 * userdata with __gc) and release them with eng_httpc_resp_clear. */
struct eng_httpc_resp {
    long status;              /* 0 when fail != ENG_HTTPC_OK */
    int attempts;             /* requests actually started */
    enum eng_httpc_fail fail; /* ENG_HTTPC_OK when a response (any status) arrived */
    char *body;               /* NUL-terminated, body_len bytes (may contain NULs) */
    size_t body_len, body_cap;
    char *hdr; /* nhdr pairs "name\0value\0", names lower-cased, last response only */
    size_t hdr_len, hdr_cap, nhdr;
};

struct eng_httpc;

/* Process-wide settings from the configuration (config.h), set at start-up before any handle
 * exists and before other threads run (cli.c's eng_cli_config): ca_file is the PEM bundle every
 * handle trusts instead of the system's (ENGINE_HTTP_CA_FILE; NULL or "" = the system's);
 * allow_private is ALLOW_PRIVATE_TARGETS (netaddr.h's list: NULL or "" = no special-purpose
 * address, "1" = all, or addresses and CIDR ranges). Strings are copied. 0, ENG_EINVAL naming
 * the variable, or ENG_ENOMEM. Until it is called, every special-purpose address is refused. */
int eng_httpc_setup(const char *ca_file, const char *allow_private, struct eng_err *err);

/* The rule that refuses a connection to a (eng_netaddr_special's name), or NULL when it may
 * open: a public address, or one ALLOW_PRIVATE_TARGETS allows. */
struct eng_netaddr;
const char *eng_httpc_target_refused(const struct eng_netaddr *a);

/* A new handle (runs libcurl's global init once per process). Returns NULL and fills err on
 * failure. The caller owns it and frees it with eng_httpc_free, on the thread that uses it. */
struct eng_httpc *eng_httpc_new(struct eng_err *err);
void eng_httpc_free(struct eng_httpc *h); /* NULL is fine */

void eng_httpc_resp_init(struct eng_httpc_resp *r);
void eng_httpc_resp_clear(struct eng_httpc_resp *r); /* frees the buffers, re-inits */

/* Run req (with its retries) on h. Blocks the calling thread until a response, a failure or
 * req->deadline. Returns 0 when resp holds a response of any status (a 404 is not a failure);
 * otherwise a negative ENG_E* (ENG_ETIMEOUT, ENG_EIO, ENG_ENOMEM, ENG_EINVAL), resp->fail says
 * why and err holds a sentence naming method, scheme, host and path (never query or headers). */
int eng_httpc_perform(struct eng_httpc *h, const struct eng_httpc_req *req,
                      struct eng_httpc_resp *resp, struct eng_err *err);

/* 0 when url is an absolute http(s) URL with a host; else ENG_EINVAL with err filled. */
int eng_httpc_check_url(const char *url, struct eng_err *err);

/* Iterate response headers: *pos starts at 0. Returns 1 and sets name/value, 0 at the end.
 * The strings point into r. */
int eng_httpc_resp_header_next(const struct eng_httpc_resp *r, size_t *pos, const char **name,
                               const char **value);
/* First value of a header (name lower-case), or NULL. Points into r. */
const char *eng_httpc_resp_header(const struct eng_httpc_resp *r, const char *name);

/* "timeout", "connect", "tls", "dns", "too_large", "http"; "" for ENG_HTTPC_OK. Static. */
const char *eng_httpc_fail_name(enum eng_httpc_fail f);

/* The libcurl the process runs on with its TLS backend, e.g. "libcurl 7.88.1 (OpenSSL/3.0.11)",
 * into buf. */
void eng_httpc_lib_version(char *buf, size_t size);

/* Retry-After (delta-seconds or HTTP-date, relative to now) in ms; -1 when unparseable. */
long eng_httpc_parse_retry_after(const char *value, time_t now);

/* 1 for GET, HEAD, PUT, DELETE, OPTIONS, TRACE (RFC 9110 idempotent methods). */
int eng_httpc_method_idempotent(const char *method);

#endif
