/*
 * api_static.c - the console's files, served from WEB_DIR (web/dist by default) for every GET or
 * HEAD that no route matched and that is not under /api/ nor /health, /ready, /metrics.
 * `/` and any extension-less path that is not a file answer index.html (client-side routes).
 * The path is walked one segment at a time from a descriptor of WEB_DIR with O_NOFOLLOW: a
 * segment that is empty is skipped; ".", "..", a hidden name ('.' first), a byte outside
 * [A-Za-z0-9._~@+,-] (so no '%', '\\' or NUL) or a symbolic link anywhere below WEB_DIR is
 * refused; the file is opened once, its type and size read from that descriptor (fstat) and the
 * answer sent from it (eng_httpd_resp_file: never whole in memory), so nothing is swapped between
 * the check and the read. Only known extensions are served, each with its content type; files
 * over ENG_API_STATIC_MAX_BYTES are refused.
 * Must not: serve anything outside WEB_DIR, or anything but regular files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "base/log.h"

#define ENG_API_STATIC_MAX_BYTES (16u * 1024u * 1024u)
#define ENG_API_STATIC_MAX_PATH  1024
#define ENG_API_STATIC_MAX_DEPTH 16
#define ENG_API_STATIC_MAX_SEG   255

static const char csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
    "data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"txt", "text/plain; charset=utf-8"},
};

int eng_api_static_reserved(const char *path)
{
    static const char *const exact[] = {"/api", "/health", "/ready", "/metrics"};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        size_t n = strlen(exact[i]);
        if (strncmp(path, exact[i], n) == 0 && (path[n] == '\0' || path[n] == '/'))
            return 1;
    }
    return 0;
}

/* The content type for name's extension, or NULL (not served). */
static const char *static_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(dot + 1, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

static int seg_ok(const char *s, size_t n)
{
    if (n == 0 || n > ENG_API_STATIC_MAX_SEG || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-' || ch == '~' || ch == '@' || ch == '+' ||
              ch == ','))
            return 0;
    }
    return 1;
}

static void static_headers(struct eng_httpd_resp *resp, int immutable)
{
    eng_httpd_resp_header(resp, "Content-Security-Policy", csp);
    eng_httpd_resp_header(resp, "Referrer-Policy", "no-referrer");
    eng_httpd_resp_header(resp, "X-Frame-Options", "DENY");
    eng_httpd_resp_header(resp, "Cache-Control",
                          immutable ? "public, max-age=31536000, immutable" : "no-cache");
}

static int static_text(struct eng_httpd_resp *resp, int status, const char *type, const char *text)
{
    eng_buf_reset(&resp->body);
    resp->status = status;
    resp->content_type = type;
    eng_buf_puts(&resp->body, text);
    eng_httpd_resp_header(resp, "Content-Security-Policy", csp);
    eng_httpd_resp_header(resp, "Referrer-Policy", "no-referrer");
    eng_httpd_resp_header(resp, "X-Frame-Options", "DENY");
    return ENG_HTTPD_DONE;
}

static int static_not_found(struct eng_httpd_resp *resp)
{
    return static_text(resp, 404, "text/plain; charset=utf-8", "not found\n");
}

static int static_not_built(struct eng_httpd_resp *resp)
{
    eng_httpd_resp_header(resp, "Retry-After", "60");
    return static_text(
        resp, 503, "text/html; charset=utf-8",
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>tallysync: console not built</title></head><body>\n"
        "<h1>The console is not built</h1>\n"
        "<p>The engine is running (the API is under <code>/api/</code>), but its web console "
        "has not been built into WEB_DIR. Build it with <code>tools/build_web.sh</code> "
        "(<code>tools/setup.sh</code> runs it), then reload this page.</p>\n"
        "</body></html>\n");
}

/* Open rel (segments already checked, '/'-separated, no leading '/') below dirfd without
 * following any symbolic link. A descriptor, or -1 with errno. */
static int static_open(int dirfd, const char *rel)
{
    int fd = dup(dirfd);
    if (fd < 0)
        return -1;
    const char *s = rel;
    for (;;) {
        const char *e = strchr(s, '/');
        char seg[ENG_API_STATIC_MAX_SEG + 1];
        size_t n = e != NULL ? (size_t)(e - s) : strlen(s);
        memcpy(seg, s, n);
        seg[n] = '\0';
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | (e != NULL ? O_DIRECTORY : 0);
        int next = openat(fd, seg, flags);
        int saved = errno;
        close(fd);
        if (next < 0) {
            errno = saved;
            return -1;
        }
        fd = next;
        if (e == NULL)
            return fd;
        s = e + 1;
    }
}

/* Open the regular file rel for the answer: 0 with resp set to send it from the file, 2 when
 * the client's copy is current (If-None-Match: nothing to send), 1 when it is absent or not a
 * regular file, or -1 after answering an error. etag gets the file's validator (size and
 * modification time). */
static int static_file(struct eng_api_ctx *c, int dirfd, const char *rel, char etag[64])
{
    int fd = static_open(dirfd, rel);
    if (fd < 0)
        return 1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 1;
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > ENG_API_STATIC_MAX_BYTES) {
        close(fd);
        eng_logf(ENG_LOG_ERROR, "api: console file %s is larger than %u bytes: not served", rel,
                 ENG_API_STATIC_MAX_BYTES);
        eng_api_error(c->resp, 500, "internal", "the file is too large to serve", NULL);
        return -1;
    }
    snprintf(etag, 64, "\"%llx-%llx%09lx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    const char *inm = eng_httpd_header(c->req, "If-None-Match");
    if (inm != NULL && (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0)) {
        close(fd);
        eng_buf_reset(&c->resp->body);
        return 2;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK); /* it only kept a FIFO's open quick */
    /* sent from this descriptor as the client reads: never whole in memory, and a HEAD gets
     * its headers alone (libmicrohttpd) */
    eng_buf_reset(&c->resp->body);
    eng_httpd_resp_file(c->resp, fd, (unsigned long long)st.st_size);
    return 0;
}

int eng_api_static(struct eng_api_ctx *c)
{
    const char *path = eng_httpd_path(c->req);
    size_t plen = strlen(path);
    if (path[0] != '/' || plen > ENG_API_STATIC_MAX_PATH)
        return static_not_found(c->resp);

    /* Check every segment; build the relative path without empty segments. */
    char rel[ENG_API_STATIC_MAX_PATH + 1];
    size_t rl = 0;
    int depth = 0;
    const char *last = NULL;
    for (const char *s = path + 1; *s != '\0';) {
        const char *e = strchr(s, '/');
        size_t n = e != NULL ? (size_t)(e - s) : strlen(s);
        if (n > 0) {
            if (!seg_ok(s, n) || ++depth > ENG_API_STATIC_MAX_DEPTH)
                return static_not_found(c->resp);
            if (rl > 0)
                rel[rl++] = '/';
            memcpy(rel + rl, s, n);
            last = rel + rl;
            rl += n;
        }
        if (e == NULL)
            break;
        s = e + 1;
    }
    rel[rl] = '\0';

    const char *dir = c->api->cfg->web_dir;
    int dirfd = dir != NULL ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dirfd < 0)
        return static_not_built(c->resp);
    int r = 1;
    char etag[64] = "";
    const char *type = NULL;
    int immutable = 0;
    if (rl > 0) {
        type = static_type(last);
        if (type == NULL && strchr(last, '.') != NULL) {
            close(dirfd);
            return static_not_found(c->resp); /* an extension not served */
        }
        if (type != NULL) {
            r = static_file(c, dirfd, rel, etag);
            immutable = strncmp(rel, "assets/", 7) == 0;
        }
    }
    if (r == 1 && rl > 0 && type != NULL) {
        close(dirfd);
        return static_not_found(c->resp); /* a file name that is not there */
    }
    if (r == 1) { /* "/", or an extension-less path: the console's own routes */
        type = "text/html; charset=utf-8";
        immutable = 0;
        r = static_file(c, dirfd, "index.html", etag);
        if (r == 1) {
            close(dirfd);
            return static_not_built(c->resp);
        }
    }
    close(dirfd);
    if (r < 0)
        return ENG_HTTPD_DONE;
    c->resp->status = r == 2 ? 304 : 200; /* 304: the client's copy is current */
    c->resp->content_type = type;
    static_headers(c->resp, immutable);
    eng_httpd_resp_header(c->resp, "ETag", etag);
    return ENG_HTTPD_DONE;
}
