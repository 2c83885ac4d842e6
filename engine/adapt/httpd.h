/*
 * httpd.h - the HTTP server adapter (libmicrohttpd is included by httpd.c only).
 * It reads a whole request (body capped), calls one application handler, and sends what the
 * handler put in struct eng_httpd_resp. A handler that hands work to a worker returns
 * ENG_HTTPD_PENDING; the connection is suspended (no server thread waits) until someone calls
 * eng_httpd_resume, and then the handler is called again for the same request to finish.
 * Requests are refused before the handler sees them when a header holds a NUL byte (400), the
 * announced body is over the limit (413, without reading it) or the client address has too
 * many requests in progress (429); slow clients are closed on deadlines (eng_httpd_opts).
 */
#ifndef ENG_HTTPD_H
#define ENG_HTTPD_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define ENG_HTTPD_DONE        0
#define ENG_HTTPD_PENDING     1
#define ENG_HTTPD_MAX_HEADERS 6

struct eng_httpd_req;

struct eng_httpd_resp {
    int status;
    const char *content_type; /* static string; default application/json */
    struct eng_buf body;
    const char *header_names[ENG_HTTPD_MAX_HEADERS]; /* static names */
    char header_values[ENG_HTTPD_MAX_HEADERS][256];
    int nheaders;
    /* eng_httpd_resp_file: the body is file_size bytes of file_fd instead of `body` */
    int has_file;
    int file_fd;
    unsigned long long file_size;
};

/* Answer with the first size bytes of the open regular file fd instead of the body, sent from
 * the file as the client reads (never whole in memory); the response owns fd from now on and
 * closes it. A HEAD gets the headers (Content-Length: size) alone. */
void eng_httpd_resp_file(struct eng_httpd_resp *resp, int fd, unsigned long long size);

/* Add a response header (name must be a static string). Extra headers are dropped. */
void eng_httpd_resp_header(struct eng_httpd_resp *resp, const char *name, const char *value);

const char *eng_httpd_method(struct eng_httpd_req *req);
const char *eng_httpd_path(struct eng_httpd_req *req); /* without the query string */
const char *eng_httpd_header(struct eng_httpd_req *req, const char *name); /* NULL if absent */
const char *eng_httpd_query(struct eng_httpd_req *req, const char *name);  /* NULL if absent */
const char *eng_httpd_body(struct eng_httpd_req *req, size_t *len);        /* NUL-terminated */
/* The client's IP address as text: the TCP peer, or, when that is a trusted proxy, the nearest
 * address in the last X-Forwarded-For header that is not one. */
const char *eng_httpd_peer(struct eng_httpd_req *req);
/* 1 when the TCP peer is one of trusted_proxies (so its X-Forwarded-Proto and X-Forwarded-Host
 * may be believed), else 0. The server speaks plain HTTP itself: TLS ends at such a proxy. */
int eng_httpd_via_proxy(struct eng_httpd_req *req);

/* Per-request state of an application handler; free_fn runs when the request ends. */
void *eng_httpd_state(struct eng_httpd_req *req);
void eng_httpd_set_state(struct eng_httpd_req *req, void *state, void (*free_fn)(void *));
/* Wake a request whose handler returned ENG_HTTPD_PENDING. Any thread, exactly once. */
void eng_httpd_resume(struct eng_httpd_req *req);

typedef int (*eng_httpd_handler)(void *app, struct eng_httpd_req *req, struct eng_httpd_resp *resp);

struct eng_httpd_opts {
    const char *host; /* numeric IPv4 or IPv6 address to bind */
    int port;         /* 0 = any free port (see eng_httpd_port) */
    size_t max_body;  /* larger request bodies get 413, at once when announced */
    int threads;      /* server threads */
    eng_httpd_handler handler;
    void *app;
    /* Slow and greedy clients (0 = the default in brackets). A request's headers must arrive
     * whole within headers_timeout_s [10] of the connection or of the previous answer on it,
     * and its body within body_timeout_s [60] after them, however slowly they trickle: else the
     * connection is closed. One client address holds at most per_address [32] connections
     * waiting for headers (a new one closes its oldest such) and per_address requests in
     * progress (more get 429); requests under unlimited_prefix (the webhook routes: vendors
     * deliver from few addresses) are not counted. When the server nears its connection limit,
     * the oldest connection still waiting for headers is closed for the new one. */
    int headers_timeout_s;
    int body_timeout_s;
    int per_address;
    const char *unlimited_prefix; /* NULL = every request counts */
    /* Addresses and CIDR ranges (netaddr.h list) of reverse proxies whose X-Forwarded-For
     * names the client (eng_httpd_peer, the per-address limits); NULL = nobody's. */
    const char *trusted_proxies;
};

struct eng_httpd;

/* ENG_EINVAL (a bad address or trusted_proxies), ENG_EIO (cannot listen), ENG_ENOMEM. */
int eng_httpd_start(const struct eng_httpd_opts *opts, struct eng_httpd **out, struct eng_err *err);
int eng_httpd_port(const struct eng_httpd *h);
/* Stop accepting and close. Requests still pending must have been resumed first. */
void eng_httpd_stop(struct eng_httpd *h);
/* The libmicrohttpd the process runs on, e.g. "libmicrohttpd 0.9.75", into buf. */
void eng_httpd_lib_version(char *buf, size_t size);

#endif
