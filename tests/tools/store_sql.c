/*
 * store_sql.c - the tests' window on the engine's store: runs SQL through engine/adapt/store.h
 * (eng_store_open on a DATABASE_URL or a file path, trusted statements, a 20 s busy timeout) and
 * prints each row the way `sqlite3 DB "SQL"` prints it by default, so a test's expectations are
 * the same text whichever back end the URL names (issue 15: the tests read the store through a
 * store-neutral tool, not the sqlite3 command).
 *
 *   store_sql DATABASE_URL|PATH [SQL]      (no SQL argument: the SQL is read from stdin)
 *
 * The SQL may hold several statements, run one after the other (each is one eng_store_prepare:
 * the text is split at each ';' outside quotes, comments and a CREATE TRIGGER's BEGIN ... END);
 * every row a statement returns is printed: its columns joined by '|', NULL as nothing, a blob's
 * bytes as they are, one row a line, no header. On the first error: the store's message on
 * stderr ("store_sql: statement N: ..."), nothing more run, exit 1. Bad usage: exit 2.
 * Owns: one connection, for the life of the process. Must not: include a back end's header
 * (sqlite3.h, libpq-fe.h): what it runs is what the engine's own code could run.
 */
#include "adapt/store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STORE_SQL_BUSY_MS 20000 /* as long as any test waits for the engine's write lock */

/* ---- splitting a text into statements ---- */

static int is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Past the quoted text (string or identifier) that opens with q at p: a doubled q continues it. */
static const char *skip_quoted(const char *p, const char *end, char q)
{
    for (p++; p < end; p++) {
        if (*p == q) {
            if (p + 1 < end && p[1] == q)
                p++;
            else
                return p + 1;
        }
    }
    return end;
}

/* When p opens a PostgreSQL dollar quote ($$ or $tag$), past its closing tag; else NULL. */
static const char *skip_dollar(const char *start, const char *p, const char *end)
{
    const char *q = p + 1;
    if (p > start && is_word_char(p[-1]))
        return NULL; /* part of a word or a parameter's name */
    while (q < end && (isalpha((unsigned char)*q) || *q == '_' || (q > p + 1 && is_word_char(*q))))
        q++;
    if (q >= end || *q != '$')
        return NULL;
    size_t taglen = (size_t)(q - p) + 1;
    for (q++; q + taglen <= end; q++)
        if (*q == '$' && memcmp(q, p, taglen) == 0)
            return q + taglen;
    return end;
}

static int word_is(const char *w, size_t n, const char *kw)
{
    return n == strlen(kw) && strncasecmp(w, kw, n) == 0;
}

/* The statement that starts at p: *end_out = just past its ';' (or end); 1 when it holds
 * anything but blanks, ';' and comments, else 0. In a CREATE TRIGGER a ';' ends the statement
 * only outside its BEGIN ... END (CASE ... END counted, so an END of a CASE is not the body's). */
static int next_statement(const char *p, const char *end, const char **end_out)
{
    const char *start = p;
    int seen = 0, words = 0, create = 0, trigger = 0, depth = 0;

    while (p < end) {
        char c = *p;
        if (c == '-' && p + 1 < end && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
        } else if (c == '/' && p + 1 < end && p[1] == '*') {
            const char *q = p + 2;
            while (q + 1 < end && !(q[0] == '*' && q[1] == '/'))
                q++;
            p = q + 1 < end ? q + 2 : end;
        } else if (isspace((unsigned char)c)) {
            p++;
        } else if (c == ';') {
            p++;
            if (!trigger || depth <= 0)
                break;
        } else if (c == '\'' || c == '"' || c == '`') {
            seen = 1;
            p = skip_quoted(p, end, c);
        } else if (c == '$' && skip_dollar(start, p, end) != NULL) {
            seen = 1;
            p = skip_dollar(start, p, end);
        } else if (is_word_char(c)) {
            const char *w = p;
            while (p < end && is_word_char(*p))
                p++;
            size_t n = (size_t)(p - w);
            seen = 1;
            words++;
            if (words == 1)
                create = word_is(w, n, "CREATE");
            else if (create && words <= 3 && word_is(w, n, "TRIGGER"))
                trigger = 1;
            else if (create && words == 2 && !word_is(w, n, "TEMP") && !word_is(w, n, "TEMPORARY"))
                create = 0;
            else if (trigger && (word_is(w, n, "BEGIN") || word_is(w, n, "CASE")))
                depth++;
            else if (trigger && word_is(w, n, "END"))
                depth--;
        } else {
            seen = 1;
            p++;
        }
    }
    *end_out = p;
    return seen;
}

/* ---- running ---- */

static void print_row(struct eng_store_stmt *s)
{
    int n = eng_store_column_count(s);
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        const void *v = NULL;
        if (i > 0)
            putchar('|');
        switch (eng_store_column_type(s, i)) {
        case ENG_STORE_NULL:
            break;
        case ENG_STORE_BLOB:
            v = eng_store_column_blob(s, i, &len);
            break;
        default:
            v = eng_store_column_text(s, i, &len);
            break;
        }
        if (v != NULL && len > 0)
            fwrite(v, 1, len, stdout);
    }
    putchar('\n');
}

/* Run every statement of sql[n]; 0, or 1 after printing the store's message. */
static int run_all(struct eng_store *st, const char *sql, size_t n)
{
    const char *p = sql, *end = sql + n, *next;
    struct eng_err err = {0};
    int count = 0;

    while (p < end) {
        if (!next_statement(p, end, &next)) {
            p = next;
            continue;
        }
        count++;
        struct eng_store_stmt *s = NULL;
        int rc = eng_store_prepare(st, p, (long)(next - p), ENG_STORE_TRUSTED, &s, &err);
        while (rc == 0 && (rc = eng_store_step(s, &err)) == ENG_STORE_ROW) {
            print_row(s);
            rc = 0;
        }
        eng_store_finalize(s);
        if (rc < 0) {
            fflush(stdout);
            fprintf(stderr, "store_sql: statement %d: %s\n", count, err.msg);
            return 1;
        }
        p = next;
    }
    return 0;
}

/* All of stdin into a malloc'd buffer (*n bytes, NUL-terminated); NULL when it cannot be read. */
static char *read_stdin(size_t *n)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        len += fread(buf + len, 1, cap - len - 1, stdin);
        if (ferror(stdin)) {
            free(buf);
            return NULL;
        }
        if (feof(stdin))
            break;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf != NULL) {
        buf[len] = '\0';
        *n = len;
    }
    return buf;
}

int main(int argc, char **argv)
{
    struct eng_store *st = NULL;
    struct eng_err err = {0};
    char *input = NULL;
    const char *sql;
    size_t n;
    int rc;

    if (argc < 2 || argc > 3 || argv[1][0] == '\0') {
        fprintf(stderr, "usage: store_sql DATABASE_URL|PATH [SQL]   (no SQL: read from stdin)\n");
        return 2;
    }
    if (argc == 3) {
        sql = argv[2];
        n = strlen(sql);
    } else {
        input = read_stdin(&n);
        if (input == NULL) {
            fprintf(stderr, "store_sql: cannot read the SQL from stdin\n");
            return 1;
        }
        sql = input;
    }
    if (eng_store_open(argv[1], &st, &err) != 0) {
        fprintf(stderr, "store_sql: %s\n", err.msg);
        free(input);
        return 1;
    }
    eng_store_set_busy_timeout(st, STORE_SQL_BUSY_MS);
    rc = run_all(st, sql, n);
    eng_store_close(st);
    free(input);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "store_sql: cannot write the rows\n");
        return 1;
    }
    return rc;
}
