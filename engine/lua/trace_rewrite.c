/*
 * trace_rewrite.c - rewrites a Lua chunk so that, when it runs, every table constructor and
 * every field assignment tells engine.trace where it happened: the lineage of `dry-run
 * --explain`. Only the copies loaded for an explain see this text; the normal path runs the
 * files as written, so lineage costs nothing when it is off.
 *   { a = x, y }    ->  __lineage_c({ a = x, y }, L, "a", La, 1, Ly)   (call form f{..} too)
 *   p.k = v         ->  __lineage_s(p, L).k = v       p[k] = v  ->  __lineage_s(p, L)[k] = v
 * L is the line of the constructor, of each item, of the assigned key. Nothing added holds a
 * newline, so every line number (errors, lineage) is the file's own.
 * Owns: nothing beyond its result. Must not: change what the program computes.
 */
#include "lua/trace_rewrite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

#define TR_MAX_PAIRS 60 /* a bigger constructor reports its own line for every key */

enum { TK_NAME, TK_KW, TK_STR, TK_NUM, TK_OP };

struct tr_tok {
    unsigned char kind;
    char op[4];
    int line;
    size_t off, end;
    long match; /* closers: index of their opener */
};

struct tr_frame {
    char kind; /* ( [ { B (block closed by end) L (loop header until do) R (repeat) */
    long tok;
    int call, item_start, npos;
    size_t pairs_start;
};

struct tr_pair {
    long key_tok; /* a Name key, or -1 for a positional item */
    int pos, line;
};

struct tr_ins {
    size_t off;
    int prio; /* 0: text after a token (closers), 1: text before one (openers) */
    size_t seq, text, len;
};

struct tr {
    const char *src;
    size_t len;
    struct tr_tok *tok;
    size_t ntok, captok;
    struct tr_frame *fr;
    size_t nfr, capfr;
    struct tr_pair *pair;
    size_t npair, cappair;
    struct tr_ins *ins;
    size_t nins, capins;
    struct eng_buf pool;
    int oom;
};

static void *tr_grow(void *p, size_t *cap, size_t n, size_t size, int *oom)
{
    if (n < *cap)
        return p;
    size_t nc = *cap ? *cap * 2 : 64;
    void *q = realloc(p, nc * size);
    if (q == NULL) {
        *oom = 1;
        return NULL;
    }
    *cap = nc;
    return q;
}

static const char *const tr_keywords[] = {"and",   "break", "do",       "else", "elseif", "end",
                                          "false", "for",   "function", "goto", "if",     "in",
                                          "local", "nil",   "not",      "or",   "repeat", "return",
                                          "then",  "true",  "until",    "while"};

static int tr_is(const struct tr *t, long i, const char *word)
{
    if (i < 0 || (size_t)i >= t->ntok)
        return 0;
    const struct tr_tok *k = &t->tok[i];
    if (k->kind == TK_OP)
        return strcmp(k->op, word) == 0;
    size_t n = strlen(word);
    return (k->kind == TK_KW || k->kind == TK_NAME) && k->end - k->off == n &&
           memcmp(t->src + k->off, word, n) == 0;
}

static int tr_kind(const struct tr *t, long i, int kind)
{
    return i >= 0 && (size_t)i < t->ntok && t->tok[i].kind == kind;
}

/* A token after which `{`, `(` or a string are call arguments. */
static int tr_ends_prefix(const struct tr *t, long i)
{
    return tr_kind(t, i, TK_NAME) || tr_kind(t, i, TK_STR) || tr_is(t, i, ")") ||
           tr_is(t, i, "]") || tr_is(t, i, "}");
}

static int tr_isname(int c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* Consume one line break at *p (\n, \r, \r\n or \n\r, as Lua counts them). */
static int tr_newline(const char *s, size_t len, size_t *p, int *line)
{
    char c = s[*p];
    if (c != '\n' && c != '\r')
        return 0;
    (*p)++;
    if (*p < len && (s[*p] == '\n' || s[*p] == '\r') && s[*p] != c)
        (*p)++;
    (*line)++;
    return 1;
}

/* At s[p] == '[': the level of a long bracket "[==[", or -1. */
static int tr_long_level(const char *s, size_t len, size_t p)
{
    size_t q = p + 1;
    while (q < len && s[q] == '=')
        q++;
    return (q < len && s[q] == '[') ? (int)(q - p - 1) : -1;
}

/* Skip a long bracket of level lv opening at p; returns the offset after it or 0 (unclosed). */
static size_t tr_skip_long(const char *s, size_t len, size_t p, int lv, int *line)
{
    p += (size_t)lv + 2;
    while (p < len) {
        if (tr_newline(s, len, &p, line))
            continue;
        if (s[p] == ']') {
            size_t q = p + 1;
            while (q < len && s[q] == '=')
                q++;
            if (q < len && s[q] == ']' && (int)(q - p - 1) == lv)
                return q + 1;
        }
        p++;
    }
    return 0;
}

static int tr_push_tok(struct tr *t, int kind, const char *op, int line, size_t off, size_t end)
{
    struct tr_tok *k = tr_grow(t->tok, &t->captok, t->ntok, sizeof *k, &t->oom);
    if (k == NULL)
        return -1;
    t->tok = k;
    k = &t->tok[t->ntok++];
    memset(k, 0, sizeof *k);
    k->kind = (unsigned char)kind;
    if (op != NULL)
        snprintf(k->op, sizeof k->op, "%s", op);
    k->line = line, k->off = off, k->end = end, k->match = -1;
    return 0;
}

/* Split the source into tokens. 0, or -1 with *errline (unclosed string or comment). */
static int tr_lex(struct tr *t, int *errline)
{
    static const char *const ops[] = {"...", "..", "==", "~=", "<=", ">=", "//", "::", "<<", ">>"};
    const char *s = t->src;
    size_t len = t->len, p = 0;
    int line = 1;
    while (p < len) {
        if (tr_newline(s, len, &p, &line))
            continue;
        unsigned char c = (unsigned char)s[p];
        if (c == ' ' || c == '\t' || c == '\f' || c == '\v') {
            p++;
            continue;
        }
        if (c == '-' && p + 1 < len && s[p + 1] == '-') { /* comment */
            p += 2;
            int lv = (p < len && s[p] == '[') ? tr_long_level(s, len, p) : -1;
            if (lv >= 0) {
                int start = line;
                p = tr_skip_long(s, len, p, lv, &line);
                if (p == 0) {
                    *errline = start;
                    return -1;
                }
            } else {
                while (p < len && s[p] != '\n' && s[p] != '\r')
                    p++;
            }
            continue;
        }
        size_t start = p;
        int sline = line;
        if (c == '"' || c == '\'') {
            p++;
            while (p < len && s[p] != (char)c) {
                if (s[p] == '\\' && p + 1 < len) {
                    p++;
                    if (tr_newline(s, len, &p, &line))
                        continue;
                } else if (tr_newline(s, len, &p, &line)) {
                    continue;
                }
                p++;
            }
            if (p >= len) {
                *errline = sline;
                return -1;
            }
            p++;
            if (tr_push_tok(t, TK_STR, NULL, sline, start, p) != 0)
                return -2;
            continue;
        }
        if (c == '[') {
            int lv = tr_long_level(s, len, p);
            if (lv >= 0) {
                p = tr_skip_long(s, len, p, lv, &line);
                if (p == 0) {
                    *errline = sline;
                    return -1;
                }
                if (tr_push_tok(t, TK_STR, NULL, sline, start, p) != 0)
                    return -2;
                continue;
            }
        }
        if ((c >= '0' && c <= '9') ||
            (c == '.' && p + 1 < len && s[p + 1] >= '0' && s[p + 1] <= '9')) {
            p++;
            while (p < len) {
                char d = s[p];
                char prev = s[p - 1];
                int exp_sign = (d == '+' || d == '-') &&
                               (prev == 'e' || prev == 'E' || prev == 'p' || prev == 'P');
                if (!tr_isname((unsigned char)d, 0) && d != '.' && !exp_sign)
                    break;
                p++;
            }
            if (tr_push_tok(t, TK_NUM, NULL, sline, start, p) != 0)
                return -2;
            continue;
        }
        if (tr_isname(c, 1)) {
            while (p < len && tr_isname((unsigned char)s[p], 0))
                p++;
            int kind = TK_NAME;
            for (size_t i = 0; i < sizeof tr_keywords / sizeof tr_keywords[0]; i++)
                if (strlen(tr_keywords[i]) == p - start &&
                    memcmp(tr_keywords[i], s + start, p - start) == 0)
                    kind = TK_KW;
            if (tr_push_tok(t, kind, NULL, sline, start, p) != 0)
                return -2;
            continue;
        }
        char op[4] = {(char)c, 0, 0, 0};
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            size_t n = strlen(ops[i]);
            if (p + n <= len && memcmp(s + p, ops[i], n) == 0) {
                memcpy(op, ops[i], n);
                break;
            }
        }
        p += strlen(op);
        if (tr_push_tok(t, TK_OP, op, sline, start, p) != 0)
            return -2;
    }
    return 0;
}

static int tr_insert(struct tr *t, size_t off, int prio, const char *text)
{
    struct tr_ins *in = tr_grow(t->ins, &t->capins, t->nins, sizeof *in, &t->oom);
    if (in == NULL)
        return -1;
    t->ins = in;
    in = &t->ins[t->nins];
    in->off = off, in->prio = prio, in->seq = t->nins, in->text = t->pool.len;
    eng_buf_append(&t->pool, text, strlen(text));
    if (t->pool.oom) {
        t->oom = 1;
        return -1;
    }
    in->len = t->pool.len - in->text;
    t->nins++;
    return 0;
}

static int tr_push_frame(struct tr *t, char kind, long tok)
{
    struct tr_frame *f = tr_grow(t->fr, &t->capfr, t->nfr, sizeof *f, &t->oom);
    if (f == NULL)
        return -1;
    t->fr = f;
    f = &t->fr[t->nfr++];
    memset(f, 0, sizeof *f);
    f->kind = kind, f->tok = tok, f->pairs_start = t->npair;
    return 0;
}

static struct tr_frame *tr_top(struct tr *t)
{
    return t->nfr > 0 ? &t->fr[t->nfr - 1] : NULL;
}

static int tr_add_pair(struct tr *t, long key_tok, int pos, int line)
{
    struct tr_pair *p = tr_grow(t->pair, &t->cappair, t->npair, sizeof *p, &t->oom);
    if (p == NULL)
        return -1;
    t->pair = p;
    t->pair[t->npair++] = (struct tr_pair){key_tok, pos, line};
    return 0;
}

/* The constructor at frame f closes at token i: report it with its items' lines. */
static int tr_close_ctor(struct tr *t, const struct tr_frame *f, long i)
{
    size_t end = t->tok[i].end;
    char num[64];
    snprintf(num, sizeof num, ", %d", t->tok[f->tok].line);
    if (tr_insert(t, end, 0, num) != 0)
        return -1;
    size_t n = t->npair - f->pairs_start;
    for (size_t k = 0; n <= TR_MAX_PAIRS && k < n; k++) {
        const struct tr_pair *p = &t->pair[f->pairs_start + k];
        int rc;
        if (p->key_tok >= 0) {
            const struct tr_tok *kt = &t->tok[p->key_tok];
            size_t off = t->pool.len;
            eng_buf_printf(&t->pool, ", \"%.*s\", %d", (int)(kt->end - kt->off), t->src + kt->off,
                           p->line);
            if (t->pool.oom)
                return t->oom = 1, -1;
            /* a raw insertion: the text is already in the pool */
            struct tr_ins *in = tr_grow(t->ins, &t->capins, t->nins, sizeof *in, &t->oom);
            if (in == NULL)
                return -1;
            t->ins = in;
            t->ins[t->nins] = (struct tr_ins){end, 0, t->nins, off, t->pool.len - off};
            t->nins++;
            rc = 0;
        } else {
            snprintf(num, sizeof num, ", %d, %d", p->pos, p->line);
            rc = tr_insert(t, end, 0, num);
        }
        if (rc != 0)
            return -1;
    }
    t->npair = f->pairs_start;
    return tr_insert(t, end, 0, f->call ? "))" : ")");
}

/* Where the prefix expression ending at token p starts, or -1 when it is not one. */
static long tr_prefix_start(const struct tr *t, long p)
{
    while (p >= 0) {
        if (tr_kind(t, p, TK_NAME)) {
            if (tr_is(t, p - 1, ".") || tr_is(t, p - 1, ":")) {
                p -= 2;
                continue;
            }
            return p;
        }
        if (tr_is(t, p, ")")) {
            long o = t->tok[p].match;
            if (tr_ends_prefix(t, o - 1)) {
                p = o - 1;
                continue;
            }
            return o;
        }
        if (tr_is(t, p, "]") || tr_is(t, p, "}")) {
            p = t->tok[p].match - 1;
            continue;
        }
        if (tr_kind(t, p, TK_STR)) {
            p--;
            continue;
        }
        return -1;
    }
    return -1;
}

/* The `=` at token i ends an assignment: wrap each field target `p.k` / `p[k]` on its left. */
static int tr_assignment(struct tr *t, long i)
{
    long j = i - 1;
    while (j >= 0) {
        long suffix, start;
        if (tr_kind(t, j, TK_NAME) && !tr_is(t, j - 1, ".")) {
            start = j; /* a plain variable */
        } else {
            if (tr_kind(t, j, TK_NAME))
                suffix = j - 1;
            else if (tr_is(t, j, "]"))
                suffix = t->tok[j].match;
            else
                return 0; /* local x <const> = ..., or not an assignment we know */
            start = tr_prefix_start(t, suffix - 1);
            if (start < 0)
                return 0;
            char num[32];
            snprintf(num, sizeof num, ", %d)", t->tok[suffix].line);
            if (tr_insert(t, t->tok[start].off, 1, ENG_TRACE_HOOK_STORE "(") != 0 ||
                tr_insert(t, t->tok[suffix].off, 0, num) != 0)
                return -1;
        }
        if (!tr_is(t, start - 1, ","))
            return 0;
        j = start - 2;
    }
    return 0;
}

/* Walk the tokens with a stack of brackets and blocks; collect the insertions. */
static int tr_scan(struct tr *t, int *errline)
{
    for (size_t u = 0; u < t->ntok; u++) {
        long i = (long)u;
        struct tr_tok *k = &t->tok[u];
        struct tr_frame *top = tr_top(t);
        if (top != NULL && top->kind == '{' && top->item_start) {
            top->item_start = 0;
            if (tr_is(t, i, "}") || tr_is(t, i, "[")) {
                /* an empty constructor, or a computed key: the constructor's line */
            } else if (k->kind == TK_NAME && tr_is(t, i + 1, "=")) {
                if (tr_add_pair(t, i, 0, k->line) != 0)
                    return -2;
            } else if (tr_add_pair(t, -1, ++top->npos, k->line) != 0) {
                return -2;
            }
        }
        int rc = 0;
        if (tr_is(t, i, "(") || tr_is(t, i, "[")) {
            rc = tr_push_frame(t, k->op[0], i);
        } else if (tr_is(t, i, "{")) {
            int call = tr_ends_prefix(t, i - 1);
            rc = tr_push_frame(t, '{', i);
            if (rc == 0) {
                tr_top(t)->call = call, tr_top(t)->item_start = 1;
                rc = tr_insert(t, k->off, 1,
                               call ? "(" ENG_TRACE_HOOK_CTOR "(" : ENG_TRACE_HOOK_CTOR "(");
            }
        } else if (tr_is(t, i, ")") || tr_is(t, i, "]") || tr_is(t, i, "}")) {
            char want = (char)(k->op[0] == ')' ? '(' : k->op[0] == ']' ? '[' : '{');
            if (top == NULL || top->kind != want) {
                *errline = k->line;
                return -1;
            }
            k->match = top->tok;
            struct tr_frame f = *top;
            t->nfr--;
            if (want == '{')
                rc = tr_close_ctor(t, &f, i);
        } else if (tr_is(t, i, ",") || tr_is(t, i, ";")) {
            if (top != NULL && top->kind == '{')
                top->item_start = 1;
        } else if (tr_is(t, i, "=")) {
            if (top == NULL || top->kind != '{')
                rc = tr_assignment(t, i);
        } else if (k->kind == TK_KW) {
            if (tr_is(t, i, "function") || tr_is(t, i, "if")) {
                rc = tr_push_frame(t, 'B', i);
            } else if (tr_is(t, i, "while") || tr_is(t, i, "for")) {
                rc = tr_push_frame(t, 'L', i);
            } else if (tr_is(t, i, "do")) {
                if (top != NULL && top->kind == 'L')
                    top->kind = 'B';
                else
                    rc = tr_push_frame(t, 'B', i);
            } else if (tr_is(t, i, "repeat")) {
                rc = tr_push_frame(t, 'R', i);
            } else if (tr_is(t, i, "end") || tr_is(t, i, "until")) {
                if (top == NULL || top->kind != (tr_is(t, i, "end") ? 'B' : 'R')) {
                    *errline = k->line;
                    return -1;
                }
                t->nfr--;
            }
        }
        if (rc != 0)
            return -2;
    }
    if (t->nfr > 0 && t->fr != NULL) {
        *errline = t->tok[t->fr[t->nfr - 1].tok].line;
        return -1;
    }
    return 0;
}

static int tr_ins_cmp(const void *a, const void *b)
{
    const struct tr_ins *x = a, *y = b;
    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    if (x->prio != y->prio)
        return x->prio - y->prio;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int eng_trace_rewrite(const char *src, size_t len, char **out, size_t *outlen, int *line)
{
    struct tr t;
    memset(&t, 0, sizeof t);
    t.src = src, t.len = len;
    eng_buf_init(&t.pool);
    *out = NULL;
    *line = 0;
    int rc = tr_lex(&t, line);
    if (rc == 0)
        rc = tr_scan(&t, line);
    if (rc == 0) {
        if (t.nins > 0) /* qsort must not see NULL, even for 0 items */
            qsort(t.ins, t.nins, sizeof *t.ins, tr_ins_cmp);
        struct eng_buf b;
        eng_buf_init(&b);
        size_t at = 0;
        for (size_t i = 0; i < t.nins; i++) {
            eng_buf_append(&b, src + at, t.ins[i].off - at);
            eng_buf_append(&b, t.pool.data + t.ins[i].text, t.ins[i].len);
            at = t.ins[i].off;
        }
        eng_buf_append(&b, src + at, len - at);
        eng_buf_putc(&b, '\0');
        if (b.oom) {
            eng_buf_free(&b);
            rc = -2;
        } else {
            *out = eng_buf_take(&b, outlen);
            if (*out == NULL)
                rc = -2;
            else
                (*outlen)--; /* the NUL */
        }
    }
    if (t.oom)
        rc = -2;
    free(t.tok);
    free(t.fr);
    free(t.pair);
    free(t.ins);
    eng_buf_free(&t.pool);
    if (rc != 0) {
        free(*out);
        *out = NULL;
    }
    return rc;
}
