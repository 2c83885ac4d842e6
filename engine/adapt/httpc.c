/*
 * httpc.c - the libcurl adapter (the only file that includes curl.h): one easy handle per
 * VM/thread, TLS always verified, http/https only, bodies capped, retries with backoff that
 * never sleep past the caller's deadline.
 * Must not: touch Lua (callbacks only fill C buffers), install signal handlers (NOSIGNAL), or
 * copy request headers, userinfo or query strings into error text.
 */
#include "adapt/httpc.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <netinet/in.h>

#include <curl/curl.h>

#include "base/clock.h"
#include "base/netaddr.h"

#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl 7.85 or newer is needed (CURLOPT_PROTOCOLS_STR)"
#endif

#ifndef ENG_VERSION
#define ENG_VERSION "dev"
#endif

struct eng_httpc {
    CURL *curl;
    uint64_t rng; /* xorshift state for backoff jitter */
    char errbuf[CURL_ERROR_SIZE];
};

/* What the curl callbacks see during one attempt. */
struct httpc_xfer {
    struct eng_httpc_resp *resp;
    size_t max_body;
    int too_large; /* 1 = body, 2 = headers */
    int oom;
    const char *refused; /* the rule (eng_netaddr_special) that kept a connection from opening */
};

/* {====================== process-wide state ====================== */

static pthread_once_t httpc_once = PTHREAD_ONCE_INIT;
static CURLcode httpc_global_rc = CURLE_FAILED_INIT;
static char *httpc_ca_file; /* eng_httpc_setup's copy of ENGINE_HTTP_CA_FILE; lives until exit */
/* ALLOW_PRIVATE_TARGETS: the special-purpose addresses (eng_netaddr_special) a connection may
 * still open to; empty (the default) = none. Set before other threads run. */
static struct eng_netaddr_list httpc_allowed;

static void httpc_global_init(void)
{
    httpc_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int eng_httpc_setup(const char *ca_file, const char *allow_private, struct eng_err *err)
{
    char *copy = NULL;
    struct eng_netaddr_list allowed;
    int rc = eng_netaddr_list_parse(allow_private, "ALLOW_PRIVATE_TARGETS", &allowed, err);
    if (rc != 0)
        return rc;
    if (ca_file != NULL && ca_file[0] != '\0' && (copy = strdup(ca_file)) == NULL) {
        eng_netaddr_list_free(&allowed);
        return eng_err_set(err, ENG_ENOMEM, "out of memory reading ENGINE_HTTP_CA_FILE");
    }
    free(httpc_ca_file);
    httpc_ca_file = copy;
    eng_netaddr_list_free(&httpc_allowed);
    httpc_allowed = allowed;
    return 0;
}

const char *eng_httpc_target_refused(const struct eng_netaddr *a)
{
    const char *rule = eng_netaddr_special(a);
    return rule != NULL && !eng_netaddr_list_has(&httpc_allowed, a) ? rule : NULL;
}

static int httpc_global(struct eng_err *err)
{
    pthread_once(&httpc_once, httpc_global_init);
    if (httpc_global_rc != CURLE_OK)
        return eng_err_set(err, ENG_EIO, "libcurl global init failed: %s",
                           curl_easy_strerror(httpc_global_rc));
    return 0;
}

/* }====================== */

/* {====================== handles and responses ====================== */

struct eng_httpc *eng_httpc_new(struct eng_err *err)
{
    if (httpc_global(err) != 0)
        return NULL;
    struct eng_httpc *h = calloc(1, sizeof *h);
    if (h == NULL) {
        eng_err_set(err, ENG_ENOMEM, "out of memory creating an HTTP client");
        return NULL;
    }
    h->curl = curl_easy_init();
    if (h->curl == NULL) {
        free(h);
        eng_err_set(err, ENG_ENOMEM, "libcurl could not create an easy handle");
        return NULL;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    h->rng = ((uint64_t)ts.tv_sec * 1000000007u) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)h;
    if (h->rng == 0)
        h->rng = 0x9e3779b97f4a7c15u;
    return h;
}

void eng_httpc_free(struct eng_httpc *h)
{
    if (h == NULL)
        return;
    curl_easy_cleanup(h->curl);
    free(h);
}

void eng_httpc_resp_init(struct eng_httpc_resp *r)
{
    memset(r, 0, sizeof *r);
}

void eng_httpc_resp_clear(struct eng_httpc_resp *r)
{
    free(r->body);
    free(r->hdr);
    eng_httpc_resp_init(r);
}

int eng_httpc_resp_header_next(const struct eng_httpc_resp *r, size_t *pos, const char **name,
                               const char **value)
{
    if (r->hdr == NULL || *pos >= r->hdr_len)
        return 0;
    *name = r->hdr + *pos;
    *value = *name + strlen(*name) + 1;
    *pos = (size_t)(*value - r->hdr) + strlen(*value) + 1;
    return 1;
}

const char *eng_httpc_resp_header(const struct eng_httpc_resp *r, const char *name)
{
    size_t pos = 0;
    const char *n, *v;
    while (eng_httpc_resp_header_next(r, &pos, &n, &v))
        if (strcmp(n, name) == 0)
            return v;
    return NULL;
}

const char *eng_httpc_fail_name(enum eng_httpc_fail f)
{
    switch (f) {
    case ENG_HTTPC_OK:
        return "";
    case ENG_HTTPC_TIMEOUT:
        return "timeout";
    case ENG_HTTPC_CONNECT:
        return "connect";
    case ENG_HTTPC_TLS:
        return "tls";
    case ENG_HTTPC_DNS:
        return "dns";
    case ENG_HTTPC_TOO_LARGE:
        return "too_large";
    case ENG_HTTPC_HTTP:
        return "http";
    case ENG_HTTPC_REFUSED:
        return "refused";
    }
    return "http";
}

int eng_httpc_method_idempotent(const char *method)
{
    static const char *const safe[] = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"};
    if (method == NULL)
        return 1; /* GET */
    for (size_t i = 0; i < sizeof safe / sizeof safe[0]; i++)
        if (strcmp(method, safe[i]) == 0)
            return 1;
    return 0;
}

/* }====================== */

/* {====================== curl callbacks (C buffers only, never Lua) ====================== */

/* Grow *buf to hold need bytes, never beyond limit (need <= limit). 0 or -1 on OOM. */
static int httpc_reserve(char **buf, size_t *cap, size_t need, size_t limit)
{
    if (need <= *cap && *buf != NULL)
        return 0;
    size_t ncap = *cap != 0 ? *cap : 4096;
    while (ncap < need)
        ncap = ncap > limit / 2 ? limit : ncap * 2;
    if (ncap > limit)
        ncap = limit;
    if (ncap < need)
        ncap = need;
    char *p = realloc(*buf, ncap);
    if (p == NULL)
        return -1;
    *buf = p;
    *cap = ncap;
    return 0;
}

static size_t httpc_on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct httpc_xfer *x = ud;
    struct eng_httpc_resp *r = x->resp;
    size_t n = size * nmemb; /* size is always 1 */

    if (n > x->max_body - r->body_len) {
        x->too_large = 1;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (httpc_reserve(&r->body, &r->body_cap, r->body_len + n + 1, x->max_body + 1) != 0) {
        x->oom = 1;
        return 0;
    }
    memcpy(r->body + r->body_len, ptr, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return n;
}

static int httpc_is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* One header line per call, CRLF included. A status line starts a new response (1xx, or a
 * redirect being followed), so only the last response's headers are kept. */
static size_t httpc_on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct httpc_xfer *x = ud;
    struct eng_httpc_resp *r = x->resp;
    size_t n = size * nmemb, len = n;

    while (len > 0 && (ptr[len - 1] == '\n' || ptr[len - 1] == '\r'))
        len--;
    if (len >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        r->hdr_len = 0;
        r->nhdr = 0;
        return n;
    }
    if (len == 0 || httpc_is_ows(ptr[0])) /* end of headers; obsolete line folding ignored */
        return n;
    const char *colon = memchr(ptr, ':', len);
    if (colon == NULL || colon == ptr)
        return n; /* not a header: ignore */
    size_t nlen = (size_t)(colon - ptr);
    const char *v = colon + 1, *end = ptr + len;
    while (v < end && httpc_is_ows(*v))
        v++;
    while (end > v && httpc_is_ows(end[-1]))
        end--;
    size_t vlen = (size_t)(end - v);
    size_t need = r->hdr_len + nlen + vlen + 2;
    if (need > ENG_HTTPC_MAX_HEADER_BYTES) {
        x->too_large = 2;
        return 0;
    }
    if (httpc_reserve(&r->hdr, &r->hdr_cap, need, ENG_HTTPC_MAX_HEADER_BYTES) != 0) {
        x->oom = 1;
        return 0;
    }
    char *d = r->hdr + r->hdr_len;
    for (size_t i = 0; i < nlen; i++) {
        char c = ptr[i];
        d[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    d[nlen] = '\0';
    memcpy(d + nlen + 1, v, vlen);
    d[nlen + 1 + vlen] = '\0';
    r->hdr_len = need;
    r->nhdr++;
    return n;
}

/* }====================== */

/* {====================== URLs, Retry-After, backoff ====================== */

/* "scheme://host[:port]/path" of url, without userinfo, query or fragment, into buf. */
static void httpc_safe_url(const char *url, char *buf, size_t size)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;

    snprintf(buf, size, "(unparseable URL)");
    if (u == NULL)
        return;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        (void)curl_url_get(u, CURLUPART_PORT, &port, 0); /* absent: default port */
        (void)curl_url_get(u, CURLUPART_PATH, &path, 0);
        snprintf(buf, size, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
                 path ? path : "/");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
}

int eng_httpc_check_url(const char *url, struct eng_err *err)
{
    if (url == NULL)
        return eng_err_set(err, ENG_EINVAL, "no URL given");
    if (httpc_global(err) != 0)
        return ENG_EINVAL;
    CURLU *u = curl_url();
    if (u == NULL)
        return eng_err_set(err, ENG_ENOMEM, "out of memory parsing a URL");

    int rc = 0;
    char *scheme = NULL, *host = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        rc = eng_err_set(err, ENG_EINVAL, "invalid URL (%s); it must be absolute http(s)",
                         curl_url_strerror(uc));
    } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        rc = eng_err_set(err, ENG_EINVAL, "unsupported URL scheme '%s': only http and https",
                         scheme ? scheme : "");
    } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host[0] == '\0') {
        rc = eng_err_set(err, ENG_EINVAL, "invalid URL: no host");
    }
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

long eng_httpc_parse_retry_after(const char *value, time_t now)
{
    const long max_s = 2000000; /* fits a 32-bit long in ms */
    if (value == NULL)
        return -1;
    while (httpc_is_ows(*value))
        value++;
    if (*value >= '0' && *value <= '9') {
        long s = 0;
        for (; *value >= '0' && *value <= '9'; value++)
            if (s <= max_s)
                s = s * 10 + (*value - '0');
        while (httpc_is_ows(*value))
            value++;
        if (*value != '\0')
            return -1;
        return (s > max_s ? max_s : s) * 1000;
    }
    if (*value == '\0' || *value == '-' || *value == '+')
        return -1;
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return -1;
    if (t <= now)
        return 0;
    double d = difftime(t, now);
    return d > (double)max_s ? max_s * 1000 : (long)d * 1000;
}

static uint64_t httpc_rand(struct eng_httpc *h)
{
    uint64_t x = h->rng; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    h->rng = x;
    return x * 2685821657736338717u;
}

/* Wait before attempt n+1 after n failed attempts: base*2^(n-1) plus up to half again of
 * jitter, never above the cap. */
static long httpc_backoff_ms(struct eng_httpc *h, int n)
{
    long d = ENG_HTTPC_BACKOFF_BASE_MS;
    for (int i = 1; i < n && d < ENG_HTTPC_BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > ENG_HTTPC_BACKOFF_CAP_MS)
        d = ENG_HTTPC_BACKOFF_CAP_MS;
    d += (long)(httpc_rand(h) % (uint64_t)(d / 2 + 1));
    return d > ENG_HTTPC_BACKOFF_CAP_MS ? ENG_HTTPC_BACKOFF_CAP_MS : d;
}

static void httpc_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* }====================== */

/* {====================== one request ====================== */

/* Every connection curl opens (the first, each redirect's, each address it tries) passes here
 * with the address it is about to connect to, after resolution: a special-purpose address the
 * operator did not allow is refused before any packet is sent, so an open port and a closed one
 * look the same. */
static curl_socket_t httpc_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *sa)
{
    struct httpc_xfer *x = ud;
    struct eng_netaddr a;
    int known = 1;
    if (sa->family == AF_INET && sa->addrlen >= sizeof(struct sockaddr_in))
        eng_netaddr_from_v4(
            (const unsigned char *)&((const struct sockaddr_in *)(void *)&sa->addr)->sin_addr, &a);
    else if (sa->family == AF_INET6 && sa->addrlen >= sizeof(struct sockaddr_in6))
        eng_netaddr_from_v6(
            (const unsigned char *)&((const struct sockaddr_in6 *)(void *)&sa->addr)->sin6_addr,
            &a);
    else
        known = 0;
    if (purpose != CURLSOCKTYPE_IPCXN || !known) {
        x->refused = "non-IP";
        return CURL_SOCKET_BAD;
    }
    const char *rule = eng_httpc_target_refused(&a);
    if (rule != NULL) {
        x->refused = rule;
        return CURL_SOCKET_BAD;
    }
    return socket(sa->family, sa->socktype, sa->protocol);
}

/* Request headers as a curl list ("Name: value", "Name;" for empty). NULL on OOM. */
static int httpc_headers(const struct eng_httpc_req *req, struct curl_slist **out)
{
    struct curl_slist *list = NULL, *next;
    int has_expect = 0;

    *out = NULL;
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *name = req->headers[i].name, *value = req->headers[i].value;
        size_t len = strlen(name) + strlen(value) + 3;
        char *line = malloc(len);
        if (line == NULL)
            goto oom;
        if (value[0] == '\0')
            snprintf(line, len, "%s;", name);
        else
            snprintf(line, len, "%s: %s", name, value);
        next = curl_slist_append(list, line);
        free(line);
        if (next == NULL)
            goto oom;
        list = next;
        if (strcasecmp(name, "expect") == 0)
            has_expect = 1;
    }
    if (!has_expect) { /* no "100-continue" round trip before large bodies */
        next = curl_slist_append(list, "Expect:");
        if (next == NULL)
            goto oom;
        list = next;
    }
    *out = list;
    return 0;
oom:
    curl_slist_free_all(list);
    return ENG_ENOMEM;
}

static CURLcode httpc_setup(struct eng_httpc *h, const struct eng_httpc_req *req,
                            struct curl_slist *headers, struct httpc_xfer *x, long timeout_ms)
{
    CURL *c = h->curl;
    const char *method = req->method != NULL ? req->method : "GET";
    int https = strncasecmp(req->url, "https:", 6) == 0;
    CURLcode rc = CURLE_OK;

    curl_easy_reset(c); /* keeps the connection and DNS caches */
    h->errbuf[0] = '\0';
#define HTTPC_SET(opt, val)                                                                        \
    do {                                                                                           \
        if (rc == CURLE_OK)                                                                        \
            rc = curl_easy_setopt(c, opt, val);                                                    \
    } while (0)
    HTTPC_SET(CURLOPT_ERRORBUFFER, h->errbuf);
    HTTPC_SET(CURLOPT_NOSIGNAL, 1L);
    HTTPC_SET(CURLOPT_URL, req->url);
    HTTPC_SET(CURLOPT_PROTOCOLS_STR, "http,https");
    /* An https origin never redirects to plain http (headers would travel in clear). */
    HTTPC_SET(CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http,https");
    HTTPC_SET(CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
    HTTPC_SET(CURLOPT_MAXREDIRS, (long)ENG_HTTPC_MAX_REDIRS);
    HTTPC_SET(CURLOPT_SSL_VERIFYPEER, 1L);
    HTTPC_SET(CURLOPT_SSL_VERIFYHOST, 2L);
    /* libcurl silently resends a request once when a reused connection turns out dead, even a
     * POST the server may already have acted on (an order note written twice, an OAuth nonce
     * replayed). A request that is not safe to repeat goes on a fresh connection instead. */
    if (!(req->retry_unsafe || eng_httpc_method_idempotent(method)))
        HTTPC_SET(CURLOPT_FRESH_CONNECT, 1L);
    if (httpc_ca_file != NULL)
        HTTPC_SET(CURLOPT_CAINFO, httpc_ca_file);
    HTTPC_SET(CURLOPT_TIMEOUT_MS, timeout_ms);
    HTTPC_SET(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < ENG_HTTPC_CONNECT_TIMEOUT_MS
                                             ? timeout_ms
                                             : ENG_HTTPC_CONNECT_TIMEOUT_MS);
    HTTPC_SET(CURLOPT_TCP_KEEPALIVE, 1L);
    HTTPC_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_body);
    HTTPC_SET(CURLOPT_ACCEPT_ENCODING, ""); /* the cap applies to the decoded body */
    HTTPC_SET(CURLOPT_USERAGENT, "tallysync/" ENG_VERSION);
    HTTPC_SET(CURLOPT_HTTPHEADER, headers);
    HTTPC_SET(CURLOPT_WRITEFUNCTION, httpc_on_body);
    HTTPC_SET(CURLOPT_WRITEDATA, (void *)x);
    HTTPC_SET(CURLOPT_HEADERFUNCTION, httpc_on_header);
    HTTPC_SET(CURLOPT_HEADERDATA, (void *)x);
    /* No proxy from the environment (http_proxy, HTTPS_PROXY, ALL_PROXY): the address check
     * above would judge the proxy, never the target, and the configuration is read by
     * base/config.c only. */
    HTTPC_SET(CURLOPT_PROXY, "");
    HTTPC_SET(CURLOPT_OPENSOCKETFUNCTION, httpc_open_socket);
    HTTPC_SET(CURLOPT_OPENSOCKETDATA, (void *)x);

    /* The method goes through the dedicated options where one exists: CUSTOMREQUEST would
     * survive a 303 redirect unchanged. */
    const char *body = req->body != NULL ? req->body : "";
    int with_body = req->body != NULL || strcmp(method, "PUT") == 0 ||
                    strcmp(method, "PATCH") == 0 || strcmp(method, "POST") == 0;
    if (strcmp(method, "HEAD") == 0) {
        HTTPC_SET(CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") == 0 && req->body == NULL) {
        HTTPC_SET(CURLOPT_HTTPGET, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            HTTPC_SET(CURLOPT_CUSTOMREQUEST, method);
        if (with_body) {
            HTTPC_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
            HTTPC_SET(CURLOPT_POSTFIELDS, body);
        }
    }
#undef HTTPC_SET
    return rc;
}

/* Map a failed transfer to a class; *maybe_sent tells whether the server may have seen it. */
static enum eng_httpc_fail httpc_classify(CURL *c, CURLcode cc, const struct httpc_xfer *x,
                                          int *maybe_sent)
{
    curl_off_t pre = 0;
    long redirects = 0;
    (void)curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pre);
    (void)curl_easy_getinfo(c, CURLINFO_REDIRECT_COUNT, &redirects);
    *maybe_sent = pre > 0 || redirects > 0;

    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        return ENG_HTTPC_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
        *maybe_sent = redirects > 0;
        return ENG_HTTPC_CONNECT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return ENG_HTTPC_CONNECT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        *maybe_sent = redirects > 0;
        return ENG_HTTPC_DNS;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return ENG_HTTPC_TLS;
    case CURLE_FILESIZE_EXCEEDED:
        return ENG_HTTPC_TOO_LARGE;
    case CURLE_WRITE_ERROR:
        return x->too_large ? ENG_HTTPC_TOO_LARGE : ENG_HTTPC_HTTP;
    default:
        return ENG_HTTPC_HTTP;
    }
}

int eng_httpc_perform(struct eng_httpc *h, const struct eng_httpc_req *req,
                      struct eng_httpc_resp *resp, struct eng_err *err)
{
    resp->status = 0;
    resp->attempts = 0;
    resp->fail = ENG_HTTPC_HTTP;
    resp->body_len = resp->hdr_len = resp->nhdr = 0;
    if (h == NULL || req == NULL || req->url == NULL)
        return eng_err_set(err, ENG_EINVAL, "HTTP request without a handle or URL");

    const char *method = req->method != NULL ? req->method : "GET";
    int safe_to_resend = req->retry_unsafe || eng_httpc_method_idempotent(method);
    int retries = req->retries < 0                       ? 0
                  : req->retries > ENG_HTTPC_MAX_RETRIES ? ENG_HTTPC_MAX_RETRIES
                                                         : req->retries;
    long timeout = req->timeout_ms <= 0                         ? ENG_HTTPC_DEFAULT_TIMEOUT_MS
                   : req->timeout_ms > ENG_HTTPC_MAX_TIMEOUT_MS ? ENG_HTTPC_MAX_TIMEOUT_MS
                                                                : req->timeout_ms;
    struct httpc_xfer x = {.resp = resp, .max_body = req->max_body};
    if (x.max_body == 0 || x.max_body > ENG_HTTPC_MAX_BODY)
        x.max_body = ENG_HTTPC_MAX_BODY;

    struct curl_slist *headers = NULL;
    if (httpc_headers(req, &headers) != 0)
        return eng_err_set(err, ENG_ENOMEM, "out of memory building request headers");

    char where[512];
    httpc_safe_url(req->url, where, sizeof where);
    int rc = 0, capped = 0;
    long t;
    CURLcode cc = CURLE_OK;
    for (;;) {
        t = timeout;
        capped = 0;
        if (req->deadline != 0) {
            long long left = req->deadline - eng_now_ms();
            if (left <= 0) {
                resp->fail = ENG_HTTPC_TIMEOUT;
                rc = eng_err_set(err, ENG_ETIMEOUT,
                                 "%s %s: the call's time budget ran out before an attempt (%d "
                                 "made)",
                                 method, where, resp->attempts);
                goto out;
            }
            if (left < t) {
                t = (long)left;
                capped = 1;
            }
        }
        resp->status = 0;
        resp->body_len = resp->hdr_len = resp->nhdr = 0;
        if (resp->body != NULL)
            resp->body[0] = '\0';
        x.too_large = x.oom = 0;
        x.refused = NULL;
        cc = httpc_setup(h, req, headers, &x, t);
        if (cc != CURLE_OK) {
            rc = eng_err_set(err, ENG_EIO, "%s %s: libcurl refused an option: %s", method, where,
                             curl_easy_strerror(cc));
            goto out;
        }
        struct eng_ratelimit_hold hold;
        if (eng_ratelimit_acquire_held(&req->limit, req->deadline, &hold, err) != 0) {
            resp->fail = ENG_HTTPC_TIMEOUT;
            rc = ENG_ETIMEOUT;
            goto out;
        }
        resp->attempts++;
        cc = curl_easy_perform(h->curl);
        /* the attempt's window slots count from its answer (ratelimit.h) */
        eng_ratelimit_release_held(&req->limit, &hold);

        int retryable = 0, maybe_sent = 1;
        long wait = -1;
        if (cc == CURLE_OK) {
            (void)curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
            resp->fail = ENG_HTTPC_OK;
            long s = resp->status;
            if (s == 429 || s == 503) {
                retryable = 1; /* the server did not act on it */
                long ra = eng_httpc_parse_retry_after(eng_httpc_resp_header(resp, "retry-after"),
                                                      time(NULL));
                if (ra > ENG_HTTPC_MAX_RETRY_AFTER_MS)
                    retryable = 0;
                else if (ra >= 0)
                    wait = ra;
            } else if (s == 502 || s == 504) {
                retryable = safe_to_resend;
            }
        } else {
            resp->fail = httpc_classify(h->curl, cc, &x, &maybe_sent);
            if (x.refused != NULL && cc == CURLE_COULDNT_CONNECT)
                resp->fail = ENG_HTTPC_REFUSED; /* the operator's rule: no retry changes it */
            if (x.oom) {
                rc = eng_err_set(err, ENG_ENOMEM, "%s %s: out of memory reading the response",
                                 method, where);
                goto out;
            }
            switch (resp->fail) {
            case ENG_HTTPC_TIMEOUT:
            case ENG_HTTPC_CONNECT:
            case ENG_HTTPC_DNS:
                retryable = !maybe_sent || safe_to_resend;
                break;
            default:
                retryable = 0;
                break;
            }
        }
        if (!retryable || resp->attempts > retries)
            break;
        if (wait < 0)
            wait = httpc_backoff_ms(h, resp->attempts);
        if (req->deadline != 0 && eng_now_ms() + wait >= req->deadline)
            break; /* never sleep past the caller's budget */
        httpc_sleep_ms(wait);
    }

    if (resp->fail == ENG_HTTPC_OK) {
        rc = 0;
    } else {
        const char *why = h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(cc);
        char tries[48] = "";
        if (resp->attempts > 1)
            snprintf(tries, sizeof tries, " (after %d attempts)", resp->attempts);
        switch (resp->fail) {
        case ENG_HTTPC_TIMEOUT:
            rc = eng_err_set(err, ENG_ETIMEOUT, "%s %s: timed out after %ld ms%s%s", method, where,
                             t, capped ? " (the call's time budget)" : "", tries);
            break;
        case ENG_HTTPC_REFUSED:
            /* the rule only: never the address a name resolved to, nor whether a port is open */
            rc = eng_err_set(err, ENG_EIO,
                             "%s %s: refused: the target is a %s address, and outbound requests "
                             "go to public addresses only (the operator may allow others with "
                             "ALLOW_PRIVATE_TARGETS)",
                             method, where, x.refused);
            break;
        case ENG_HTTPC_TOO_LARGE:
            rc = eng_err_set(err, ENG_EIO, "%s %s: response %s larger than %zu bytes", method,
                             where, x.too_large == 2 ? "headers" : "body",
                             x.too_large == 2 ? (size_t)ENG_HTTPC_MAX_HEADER_BYTES : x.max_body);
            break;
        default:
            rc = eng_err_set(err, ENG_EIO, "%s %s: %s%s", method, where, why, tries);
            break;
        }
    }
out:
    curl_slist_free_all(headers);
    return rc;
}

/* }====================== */

void eng_httpc_lib_version(char *buf, size_t size)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    snprintf(buf, size, "libcurl %s (%s)", v->version,
             v->ssl_version != NULL ? v->ssl_version : "no TLS");
}
