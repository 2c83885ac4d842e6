/*
 * webhook_json.c - the token array webhook ingest reads (built from base/json_read, the engine's
 * one JSON reader) and the ISO-8601 parser (no Lua).
 * Owns: the token array of each struct eng_webhook_json. Must not: keep or modify the caller's
 * text, or parse JSON itself.
 */
#include "webhook/webhook_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_read.h"

static int wj_new(struct eng_webhook_json *d, int type, size_t start, size_t end)
{
    if (d->ntok == d->cap) {
        int cap = d->cap ? d->cap * 2 : 64;
        struct eng_webhook_json_tok *t = realloc(d->tok, (size_t)cap * sizeof *t);
        if (t == NULL)
            return -1;
        d->tok = t, d->cap = cap;
    }
    struct eng_webhook_json_tok *t = &d->tok[d->ntok];
    memset(t, 0, sizeof *t);
    t->type = (unsigned char)type;
    t->start = start;
    t->end = end;
    t->next = d->ntok + 1;
    return d->ntok++;
}

int eng_webhook_json_parse(struct eng_webhook_json *doc, const char *text, size_t len, char *msg,
                           size_t msgsize)
{
    memset(doc, 0, sizeof *doc);
    doc->text = text;
    doc->len = len;
    if (msgsize > 0)
        msg[0] = '\0';
    struct eng_json_read r;
    eng_json_read_init(&r, text, len, ENG_WEBHOOK_JSON_MAX_DEPTH, 0);
    int open[ENG_WEBHOOK_JSON_MAX_DEPTH]; /* token index of each open container */
    for (;;) {
        int t = eng_json_read_next(&r), i;
        if (t == ENG_JSON_READ_EOF)
            return 0;
        if (t == ENG_JSON_READ_ERROR) {
            eng_json_read_error(&r, msg, msgsize);
            return -1;
        }
        if (t == ENG_JSON_READ_OBJECT_END || t == ENG_JSON_READ_ARRAY_END) {
            i = open[r.depth];
            doc->tok[i].end = r.tok_at + 1;
            doc->tok[i].next = doc->ntok;
        } else {
            static const unsigned char type[] = {
                [ENG_JSON_READ_OBJECT] = ENG_WEBHOOK_JSON_OBJECT,
                [ENG_JSON_READ_ARRAY] = ENG_WEBHOOK_JSON_ARRAY,
                [ENG_JSON_READ_KEY] = ENG_WEBHOOK_JSON_STRING,
                [ENG_JSON_READ_STRING] = ENG_WEBHOOK_JSON_STRING,
                [ENG_JSON_READ_NUMBER] = ENG_WEBHOOK_JSON_NUMBER,
                [ENG_JSON_READ_TRUE] = ENG_WEBHOOK_JSON_BOOL,
                [ENG_JSON_READ_FALSE] = ENG_WEBHOOK_JSON_BOOL,
                [ENG_JSON_READ_NULL] = ENG_WEBHOOK_JSON_NULL,
            };
            size_t start = r.tok_at, end = r.tok_at + r.tok_len;
            if (t == ENG_JSON_READ_KEY || t == ENG_JSON_READ_STRING) /* inside the quotes */
                start = (size_t)(r.tok - text), end = start + r.tok_len;
            i = wj_new(doc, type[t], start, end);
            if (i < 0) {
                snprintf(msg, msgsize, "out of memory");
                return -2;
            }
            doc->tok[i].escaped = (unsigned char)r.escaped;
            if (t == ENG_JSON_READ_OBJECT || t == ENG_JSON_READ_ARRAY) {
                open[r.depth - 1] = i;
                continue; /* counted in its parent once it closes */
            }
            if (t == ENG_JSON_READ_KEY)
                continue; /* the member is counted with its value */
        }
        if (r.depth > 0)
            doc->tok[open[r.depth - 1]].size++;
    }
}

void eng_webhook_json_free(struct eng_webhook_json *doc)
{
    free(doc->tok);
    doc->tok = NULL;
    doc->ntok = doc->cap = 0;
}

/* Decode string token t into out[size], NUL-terminated; -1 when it does not fit or holds a NUL. */
static int wj_decode(const struct eng_webhook_json *doc, int t, char *out, size_t size)
{
    const char *s = doc->text + doc->tok[t].start;
    size_t n = doc->tok[t].end - doc->tok[t].start;
    if (size == 0)
        return -1;
    size_t o = eng_json_read_unescape(s, n, out, size - 1);
    if (o >= size || memchr(out, '\0', o) != NULL)
        return -1;
    out[o] = '\0';
    return 0;
}

int eng_webhook_json_get(const struct eng_webhook_json *doc, int obj, const char *key)
{
    if (obj < 0 || obj >= doc->ntok || doc->tok[obj].type != ENG_WEBHOOK_JSON_OBJECT)
        return -1;
    size_t klen = strlen(key);
    char buf[256];
    for (int i = eng_webhook_json_first(doc, obj); i >= 0 && i < doc->tok[obj].next;) {
        const struct eng_webhook_json_tok *k = &doc->tok[i];
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

int eng_webhook_json_first(const struct eng_webhook_json *doc, int tok)
{
    if (tok < 0 || tok >= doc->ntok || doc->tok[tok].size == 0 ||
        (doc->tok[tok].type != ENG_WEBHOOK_JSON_ARRAY &&
         doc->tok[tok].type != ENG_WEBHOOK_JSON_OBJECT))
        return -1;
    return tok + 1;
}

int eng_webhook_json_text(const struct eng_webhook_json *doc, int tok, int allow_number, char *out,
                          size_t size)
{
    if (tok < 0 || tok >= doc->ntok || size == 0)
        return -1;
    const struct eng_webhook_json_tok *t = &doc->tok[tok];
    if (t->type == ENG_WEBHOOK_JSON_STRING)
        return wj_decode(doc, tok, out, size);
    if (t->type == ENG_WEBHOOK_JSON_NUMBER && allow_number) {
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

int eng_webhook_json_time(const char *s, size_t n, int64_t *epoch)
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
