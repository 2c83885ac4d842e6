/*
 * webhook_json.c - strict JSON tokenizer and ISO-8601 parser for webhook ingest (no Lua).
 * Owns: the token array of each struct eng_wjson. Must not: keep or modify the caller's text.
 */
#include "webhook/webhook_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wj_parser {
    struct eng_wjson *doc;
    size_t pos;
    char *msg;
    size_t msgsize;
    int rc;
};

static int wj_fail(struct wj_parser *p, const char *what)
{
    if (p->rc == 0) {
        p->rc = -1;
        snprintf(p->msg, p->msgsize, "%s at byte %zu", what, p->pos + 1);
    }
    return -1;
}

static int wj_new(struct wj_parser *p, int type)
{
    struct eng_wjson *d = p->doc;
    if (d->ntok == d->cap) {
        int cap = d->cap ? d->cap * 2 : 64;
        struct eng_wjtok *t = realloc(d->tok, (size_t)cap * sizeof *t);
        if (t == NULL) {
            p->rc = -2;
            snprintf(p->msg, p->msgsize, "out of memory");
            return -1;
        }
        d->tok = t, d->cap = cap;
    }
    struct eng_wjtok *t = &d->tok[d->ntok];
    memset(t, 0, sizeof *t);
    t->type = (unsigned char)type;
    t->start = p->pos;
    return d->ntok++;
}

static void wj_ws(struct wj_parser *p)
{
    const char *s = p->doc->text;
    while (p->pos < p->doc->len &&
           (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' || s[p->pos] == '\r'))
        p->pos++;
}

/* Length of the valid UTF-8 sequence at s (avail bytes), or 0. */
static size_t wj_utf8(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, min = 0x10000;
    else
        return 0;
    if (avail < n)
        return 0;
    unsigned cp = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static int wj_hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int wj_string(struct wj_parser *p)
{
    const char *s = p->doc->text;
    size_t len = p->doc->len;
    int t = wj_new(p, ENG_WJ_STRING);
    if (t < 0)
        return -1;
    p->pos++; /* opening quote */
    size_t start = p->pos;
    int escaped = 0;
    while (p->pos < len) {
        unsigned char c = (unsigned char)s[p->pos];
        if (c == '"') {
            p->doc->tok[t].start = start;
            p->doc->tok[t].end = p->pos;
            p->doc->tok[t].escaped = (unsigned char)escaped;
            p->pos++;
            p->doc->tok[t].next = p->doc->ntok;
            return t;
        }
        if (c < 0x20)
            return wj_fail(p, "control character in a string");
        if (c == '\\') {
            escaped = 1;
            if (p->pos + 1 >= len)
                return wj_fail(p, "unterminated string");
            char e = s[p->pos + 1];
            if (e == 'u') {
                unsigned u;
                if (p->pos + 6 > len || wj_hex4(s + p->pos + 2, &u) != 0)
                    return wj_fail(p, "bad \\u escape");
                p->pos += 6;
            } else if (strchr("\"\\/bfnrt", e) != NULL && e != '\0') {
                p->pos += 2;
            } else {
                return wj_fail(p, "bad escape");
            }
            continue;
        }
        size_t n = wj_utf8((const unsigned char *)s + p->pos, len - p->pos);
        if (n == 0)
            return wj_fail(p, "invalid UTF-8");
        p->pos += n;
    }
    return wj_fail(p, "unterminated string");
}

static int wj_digits(struct wj_parser *p)
{
    const char *s = p->doc->text;
    size_t b = p->pos;
    while (p->pos < p->doc->len && s[p->pos] >= '0' && s[p->pos] <= '9')
        p->pos++;
    return p->pos > b ? 0 : -1;
}

static int wj_number(struct wj_parser *p)
{
    const char *s = p->doc->text;
    size_t len = p->doc->len;
    int t = wj_new(p, ENG_WJ_NUMBER);
    if (t < 0)
        return -1;
    if (s[p->pos] == '-')
        p->pos++;
    if (p->pos < len && s[p->pos] == '0')
        p->pos++;
    else if (wj_digits(p) != 0)
        return wj_fail(p, "bad number");
    if (p->pos < len && s[p->pos] == '.') {
        p->pos++;
        if (wj_digits(p) != 0)
            return wj_fail(p, "bad number");
    }
    if (p->pos < len && (s[p->pos] == 'e' || s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < len && (s[p->pos] == '+' || s[p->pos] == '-'))
            p->pos++;
        if (wj_digits(p) != 0)
            return wj_fail(p, "bad number");
    }
    p->doc->tok[t].end = p->pos;
    p->doc->tok[t].next = p->doc->ntok;
    return t;
}

static int wj_value(struct wj_parser *p, int depth);

static int wj_container(struct wj_parser *p, int depth, int object)
{
    const char *s = p->doc->text;
    size_t len = p->doc->len;
    if (depth >= ENG_WJSON_MAX_DEPTH)
        return wj_fail(p, "nested too deeply");
    int t = wj_new(p, object ? ENG_WJ_OBJECT : ENG_WJ_ARRAY);
    if (t < 0)
        return -1;
    char close = object ? '}' : ']';
    int size = 0;
    p->pos++;
    wj_ws(p);
    if (p->pos < len && s[p->pos] == close) {
        p->pos++;
    } else {
        for (;;) {
            wj_ws(p);
            if (object) {
                if (p->pos >= len || s[p->pos] != '"')
                    return wj_fail(p, "expected a member name");
                if (wj_string(p) < 0)
                    return -1;
                wj_ws(p);
                if (p->pos >= len || s[p->pos] != ':')
                    return wj_fail(p, "expected ':'");
                p->pos++;
            }
            if (wj_value(p, depth + 1) < 0)
                return -1;
            size++;
            wj_ws(p);
            if (p->pos < len && s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < len && s[p->pos] == close) {
                p->pos++;
                break;
            }
            return wj_fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    p->doc->tok[t].size = size;
    p->doc->tok[t].end = p->pos;
    p->doc->tok[t].next = p->doc->ntok;
    return t;
}

static int wj_literal(struct wj_parser *p, const char *word, int type)
{
    size_t n = strlen(word);
    if (p->doc->len - p->pos < n || memcmp(p->doc->text + p->pos, word, n) != 0)
        return wj_fail(p, "unexpected character");
    int t = wj_new(p, type);
    if (t < 0)
        return -1;
    p->pos += n;
    p->doc->tok[t].end = p->pos;
    p->doc->tok[t].next = p->doc->ntok;
    return t;
}

static int wj_value(struct wj_parser *p, int depth)
{
    wj_ws(p);
    if (p->pos >= p->doc->len)
        return wj_fail(p, "unexpected end of text");
    char c = p->doc->text[p->pos];
    switch (c) {
    case '{':
        return wj_container(p, depth, 1);
    case '[':
        return wj_container(p, depth, 0);
    case '"':
        return wj_string(p);
    case 't':
        return wj_literal(p, "true", ENG_WJ_BOOL);
    case 'f':
        return wj_literal(p, "false", ENG_WJ_BOOL);
    case 'n':
        return wj_literal(p, "null", ENG_WJ_NULL);
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return wj_number(p);
        return wj_fail(p, "unexpected character");
    }
}

int eng_wjson_parse(struct eng_wjson *doc, const char *text, size_t len, char *msg, size_t msgsize)
{
    memset(doc, 0, sizeof *doc);
    doc->text = text;
    doc->len = len;
    struct wj_parser p = {.doc = doc, .msg = msg, .msgsize = msgsize};
    if (msgsize > 0)
        msg[0] = '\0';
    if (wj_value(&p, 0) < 0)
        return p.rc != 0 ? p.rc : -1;
    wj_ws(&p);
    if (p.pos != len) {
        wj_fail(&p, "text after the value");
        return -1;
    }
    return 0;
}

void eng_wjson_free(struct eng_wjson *doc)
{
    free(doc->tok);
    doc->tok = NULL;
    doc->ntok = doc->cap = 0;
}

/* Decode string token t into out[size]; -1 when it does not fit or holds a NUL. */
static int wj_decode(const struct eng_wjson *doc, int t, char *out, size_t size)
{
    const char *s = doc->text + doc->tok[t].start;
    size_t n = doc->tok[t].end - doc->tok[t].start, o = 0;
    for (size_t i = 0; i < n;) {
        unsigned cp;
        if (s[i] != '\\') {
            if (o + 1 >= size)
                return -1;
            out[o++] = s[i++];
            continue;
        }
        char e = s[i + 1];
        i += 2;
        switch (e) {
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            if (wj_hex4(s + i, &cp) != 0)
                return -1; /* cannot happen: the parser checked it */
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= n && s[i] == '\\' && s[i + 1] == 'u') {
                unsigned lo;
                if (wj_hex4(s + i + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD; /* lone surrogate */
            break;
        default: /* " \ / */
            cp = (unsigned char)e;
        }
        if (cp == 0)
            return -1;
        unsigned char u[4];
        size_t k;
        if (cp < 0x80)
            u[0] = (unsigned char)cp, k = 1;
        else if (cp < 0x800)
            u[0] = (unsigned char)(0xC0 | cp >> 6), u[1] = (unsigned char)(0x80 | (cp & 0x3F)),
            k = 2;
        else if (cp < 0x10000)
            u[0] = (unsigned char)(0xE0 | cp >> 12),
            u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
            u[2] = (unsigned char)(0x80 | (cp & 0x3F)), k = 3;
        else
            u[0] = (unsigned char)(0xF0 | cp >> 18),
            u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)),
            u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
            u[3] = (unsigned char)(0x80 | (cp & 0x3F)), k = 4;
        if (o + k >= size)
            return -1;
        memcpy(out + o, u, k);
        o += k;
    }
    if (size == 0)
        return -1;
    out[o] = '\0';
    return 0;
}

int eng_wjson_get(const struct eng_wjson *doc, int obj, const char *key)
{
    if (obj < 0 || obj >= doc->ntok || doc->tok[obj].type != ENG_WJ_OBJECT)
        return -1;
    size_t klen = strlen(key);
    char buf[256];
    for (int i = eng_wjson_first(doc, obj); i >= 0 && i < doc->tok[obj].next;) {
        const struct eng_wjtok *k = &doc->tok[i];
        int v = k->next;
        int match;
        if (!k->escaped)
            match = k->end - k->start == klen && memcmp(doc->text + k->start, key, klen) == 0;
        else
            match = wj_decode(doc, i, buf, sizeof buf) == 0 && strcmp(buf, key) == 0;
        if (match)
            return v;
        i = doc->tok[v].next;
    }
    return -1;
}

int eng_wjson_first(const struct eng_wjson *doc, int tok)
{
    if (tok < 0 || tok >= doc->ntok || doc->tok[tok].size == 0 ||
        (doc->tok[tok].type != ENG_WJ_ARRAY && doc->tok[tok].type != ENG_WJ_OBJECT))
        return -1;
    return tok + 1;
}

int eng_wjson_text(const struct eng_wjson *doc, int tok, int allow_number, char *out, size_t size)
{
    if (tok < 0 || tok >= doc->ntok || size == 0)
        return -1;
    const struct eng_wjtok *t = &doc->tok[tok];
    if (t->type == ENG_WJ_STRING)
        return wj_decode(doc, tok, out, size);
    if (t->type == ENG_WJ_NUMBER && allow_number) {
        size_t n = t->end - t->start;
        if (n >= size)
            return -1;
        memcpy(out, doc->text + t->start, n);
        out[n] = '\0';
        return 0;
    }
    return -1;
}

/* ---- time ---- */

static int wj_num(const char *s, size_t n, size_t *i, int digits, int *out)
{
    int v = 0;
    for (int k = 0; k < digits; k++, (*i)++) {
        if (*i >= n || s[*i] < '0' || s[*i] > '9')
            return -1;
        v = v * 10 + (s[*i] - '0');
    }
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t wj_days(int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int eng_wjson_time(const char *s, size_t n, int64_t *epoch)
{
    size_t i = 0;
    int y, mo, d, h, mi, sec;
    if (wj_num(s, n, &i, 4, &y) || i >= n || s[i++] != '-' || wj_num(s, n, &i, 2, &mo) || i >= n ||
        s[i++] != '-' || wj_num(s, n, &i, 2, &d) || i >= n ||
        (s[i] != 'T' && s[i] != 't' && s[i] != ' '))
        return -1;
    i++;
    if (wj_num(s, n, &i, 2, &h) || i >= n || s[i++] != ':' || wj_num(s, n, &i, 2, &mi) || i >= n ||
        s[i++] != ':' || wj_num(s, n, &i, 2, &sec))
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        return -1;
    if (i < n && s[i] == '.') {
        i++;
        size_t b = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == b)
            return -1;
    }
    int off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i < n && (s[i] == '+' || s[i] == '-')) {
        int sign = s[i++] == '-' ? -1 : 1, oh, om = 0;
        if (wj_num(s, n, &i, 2, &oh))
            return -1;
        if (i < n && s[i] == ':')
            i++;
        if (i < n && wj_num(s, n, &i, 2, &om))
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    }
    if (i != n)
        return -1;
    *epoch = wj_days(y, mo, d) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec - off;
    return 0;
}
