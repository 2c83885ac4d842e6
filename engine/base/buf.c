/* buf.c - growable byte buffer. See buf.h for the ownership rules. */
#include "base/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_read.h"

void eng_buf_init(struct eng_buf *b)
{
    memset(b, 0, sizeof *b);
}

void eng_buf_free(struct eng_buf *b)
{
    free(b->data);
    eng_buf_init(b);
}

void eng_buf_reset(struct eng_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static int buf_reserve(struct eng_buf *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->data != NULL && b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void eng_buf_append(struct eng_buf *b, const void *p, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void eng_buf_puts(struct eng_buf *b, const char *s)
{
    eng_buf_append(b, s, strlen(s));
}

void eng_buf_putc(struct eng_buf *b, char c)
{
    eng_buf_append(b, &c, 1);
}

void eng_buf_printf(struct eng_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || buf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void eng_buf_json_str(struct eng_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    eng_buf_putc(b, '"');
    size_t run = 0; /* bytes copied verbatim in one append */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            if (c < 0x20) {
                u[0] = '\\', u[1] = 'u', u[2] = '0', u[3] = '0';
                u[4] = hex[c >> 4], u[5] = hex[c & 15], u[6] = '\0';
                esc = u;
            } else if (c >= 0x80) {
                /* JSON text is UTF-8 (RFC 8259 8.1): a valid sequence is copied whole, any
                 * other byte (text from outside: a path, a header) becomes U+FFFD */
                size_t k = eng_json_read_utf8((const unsigned char *)s + i, n - i);
                if (k == 0) {
                    esc = "\\ufffd";
                } else {
                    run += k;
                    i += k - 1;
                    continue;
                }
            }
        }
        if (esc != NULL) {
            eng_buf_append(b, s + i - run, run);
            run = 0;
            eng_buf_puts(b, esc);
        } else {
            run++;
        }
    }
    eng_buf_append(b, s + n - run, run);
    eng_buf_putc(b, '"');
}

char *eng_buf_take(struct eng_buf *b, size_t *len)
{
    if (b->oom) {
        eng_buf_free(b);
        return NULL;
    }
    if (b->data == NULL)
        eng_buf_append(b, "", 0);
    if (b->oom) {
        eng_buf_free(b);
        return NULL;
    }
    char *p = b->data;
    if (len != NULL)
        *len = b->len;
    eng_buf_init(b);
    return p;
}

int eng_buf_read_file(struct eng_buf *b, const char *path, size_t max, struct eng_err *err)
{
    int is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (f == NULL)
        return eng_err_set(err, errno == ENOENT ? ENG_ENOTFOUND : ENG_EIO, "cannot open %s: %s",
                           path, strerror(errno));
    size_t start = b->len;
    char chunk[65536];
    size_t got;
    int rc = 0;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (max > 0 && b->len - start + got > max) {
            rc = eng_err_set(err, ENG_EINVAL, "%s is larger than %zu bytes", path, max);
            break;
        }
        eng_buf_append(b, chunk, got);
    }
    if (rc == 0 && ferror(f))
        rc = eng_err_set(err, ENG_EIO, "cannot read %s", path);
    if (rc == 0 && b->oom)
        rc = eng_err_set(err, ENG_ENOMEM, "out of memory reading %s", path);
    if (!is_stdin)
        fclose(f);
    return rc;
}

size_t eng_buf_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}
