/*
 * fuzz_json_read.c - libFuzzer target: the engine's one JSON reader (base/json_read.c) and the
 * two readers built on it that see bytes from outside before anything else does: the request
 * body check (api/api_body.c eng_api_json_check, depth 32, no \u0000) and webhook ingest's
 * token array (webhook/webhook_json.c, depth 64, with its getters).
 * Input: any bytes, read as one JSON document.
 * Checks beyond "no crash, no sanitizer report": every token lies inside the input; an
 * unescaped string is never longer than its raw text; skip() ends where the walk ends; the
 * reader and the token array agree on whether a document (within both depth limits) is valid.
 * Corpus: tests/fuzz/corpus/json_read/ (the JSON fixtures of tests/fixtures, hostile cases).
 */
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/json_read.h"
#include "webhook/webhook_json.h"

/* Walk every token at depth limit `depth`; returns the final token (EOF or ERROR). */
static int walk(const char *s, size_t n, int depth, unsigned flags)
{
    struct eng_json_read r;
    eng_json_read_init(&r, s, n, depth, flags);
    char *buf = NULL;
    int t;
    while ((t = eng_json_read_next(&r)) != ENG_JSON_READ_EOF && t != ENG_JSON_READ_ERROR) {
        check(r.tok >= s && r.tok_len <= n && (size_t)(r.tok - s) <= n - r.tok_len);
        check(r.depth >= 0 && r.depth <= depth);
        if (t == ENG_JSON_READ_STRING || t == ENG_JSON_READ_KEY) {
            char *nb = realloc(buf, r.tok_len + 1);
            check(nb != NULL);
            buf = nb;
            size_t got = eng_json_read_unescape(r.tok, r.tok_len, buf, r.tok_len);
            check(got <= r.tok_len);
            if (!r.escaped)
                check(got == r.tok_len && memcmp(buf, r.tok, got) == 0);
            if (flags & ENG_JSON_READ_NO_NUL)
                check(memchr(buf, '\0', got) == NULL);
        }
    }
    if (t == ENG_JSON_READ_ERROR) {
        char msg[96];
        eng_json_read_error(&r, msg, sizeof msg);
        check(r.at <= n);
        check(eng_json_read_next(&r) == ENG_JSON_READ_ERROR); /* sticky */
    }
    free(buf);
    return t;
}

/* Skip the root value whole: the same verdict as the walk. */
static int skip_root(const char *s, size_t n, int depth)
{
    struct eng_json_read r;
    eng_json_read_init(&r, s, n, depth, 0);
    int t = eng_json_read_next(&r);
    if (t == ENG_JSON_READ_ERROR || t == ENG_JSON_READ_EOF)
        return t;
    t = eng_json_read_skip(&r, t);
    if (t == ENG_JSON_READ_ERROR)
        return t;
    return eng_json_read_next(&r);
}

static void tokens(const char *s, size_t n)
{
    struct eng_webhook_json doc;
    char msg[128];
    int rc = eng_webhook_json_parse(&doc, s, n, msg, sizeof msg);
    if (rc == 0) {
        check(doc.ntok > 0);
        char out[256];
        for (int i = 0; i < doc.ntok; i++) {
            const struct eng_webhook_json_tok *t = &doc.tok[i];
            check(t->start <= t->end && t->end <= n);
            check(t->next > i && t->next <= doc.ntok);
            eng_webhook_json_text(&doc, i, 1, out, sizeof out);
            if (t->type == ENG_WEBHOOK_JSON_OBJECT) {
                eng_webhook_json_get(&doc, i, "id");
                eng_webhook_json_get(&doc, i, "eventNotifications");
                int k = eng_webhook_json_first(&doc, i);
                if (k >= 0 && eng_webhook_json_text(&doc, k, 0, out, sizeof out) == 0)
                    check(eng_webhook_json_get(&doc, i, out) >= 0);
            }
            if (t->type == ENG_WEBHOOK_JSON_STRING)
                eng_webhook_json_time(s + t->start, t->end - t->start, &(int64_t){0});
        }
    }
    eng_webhook_json_free(&doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    int deep = walk(s, size, ENG_JSON_READ_MAX_DEPTH, 0);
    int hook = walk(s, size, ENG_WEBHOOK_JSON_MAX_DEPTH, 0);
    walk(s, size, 32, ENG_JSON_READ_NO_NUL);
    walk(s, size, 1, 0);
    check(skip_root(s, size, ENG_JSON_READ_MAX_DEPTH) == deep);
    /* a shallower limit can only refuse more */
    check(deep == ENG_JSON_READ_EOF || hook == ENG_JSON_READ_ERROR);

    char msg[160];
    int body = eng_api_json_check(s, size, 1, msg, sizeof msg);
    check(body == 0 || body == ENG_EINVAL);

    struct eng_webhook_json doc;
    int tok = eng_webhook_json_parse(&doc, s, size, msg, sizeof msg);
    eng_webhook_json_free(&doc);
    if (tok != -2)
        check((tok == 0) == (hook == ENG_JSON_READ_EOF));
    tokens(s, size);
    return 0;
}
