/*
 * store_pg.c - the PostgreSQL back end of store.h over libpq (store_backend.h's
 * eng_store_pg_ops): open from a postgres:// or postgresql:// URL (libpq parses it, sslmode and
 * all), migrations, exec, and the statement API. The engine's SQL, written once in SQLite's
 * dialect (the common subset, ARCHITECTURE.md), becomes PostgreSQL's as it is prepared, in one
 * linear pass with the placeholders (eng_store_pg_translate: ?N and ? -> $N, the rename table to
 * schema/pg/compat.sql's twins, the DDL types, IS, blob literals, names for subqueries, BEGIN
 * IMMEDIATE -> BEGIN and the write lock); a SAVEPOINT outside a transaction begins one, as on
 * SQLite. Trusted statements are cached per connection (PG_CACHE, prepared on the server at their
 * first run). Values are bound typed as SQLite's are (text, int8, float8; blobs as binary bytea;
 * a NULL of 's' or 'I' typed too); rows come one at a time (libpq's single-row mode: a big SELECT
 * never sits in memory whole), and a statement run while another returns rows reads the other's
 * rest into memory first. Booleans read as 1 / 0 and numerics as integers or floats, floats in
 * SQLite's text form. libpq is loaded by the first open (store_pg_load.c). Errors map to the
 * engine's codes by SQLSTATE: any integrity violation (23xxx: unique, foreign key, not null,
 * check) -> ENG_EEXIST as on SQLite; lock not available, serialization failure, deadlock ->
 * ENG_EBUSY; a lost connection -> ENG_EIO.
 * Migrations: schema/pg/compat.sql first (every time, not recorded), then the numbered files
 * translated (or schema/pg/'s file of the same name instead, as it is), each in one transaction
 * under pg_advisory_xact_lock, recorded with the same checksums as on SQLite.
 * Not yet (later slices of issue 15): script SQL (ENG_STORE_SCRIPT: its fence is SQLite's
 * authorizer), named parameters, the progress callback and the value length limit (no-ops).
 * Owns: PGconn and PGresult handles, and the URL's password, which reaches no message: messages
 * carry libpq's and the server's primary text, the host, port, database and user, never the
 * password and never a bound value (a data error's text, which may quote one, is not used).
 */
#include "adapt/store.h"
#include "adapt/store_backend.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the translation (no libpq needed: tests/fuzz/fuzz_pg_sql.c reaches this in every build) */

#define DOLLAR_TAG_MAX 65 /* "$" + an identifier of at most 63 bytes + "$" */
#define WRAP_MAX       32 /* json_object / json_group_array calls open at once */

/* The end of the dollar-quoted string whose opening tag "$tag$" is at p[0..taglen), or end. */
static const char *dollar_end(const char *p, size_t taglen, const char *end)
{
    for (const char *q = p + taglen; q < end; q++)
        if (*q == '$' && (size_t)(end - q) >= taglen && memcmp(q, p, taglen) == 0)
            return q + taglen;
    return end;
}

/* The rename table: SQLite's functions whose PostgreSQL twin has another name or another
 * answer -> what the call becomes (schema/pg/compat.sql defines the ts_* ones). wrap: the call
 * is also wrapped, "name(args)" -> "to(args))": to ends in the opening of the inner call. */
static const struct pg_rename {
    const char *from, *to;
    int wrap;
} pg_renames[] = {
    {"strftime", "ts_strftime", 0},
    {"julianday", "ts_julianday", 0},
    {"json_extract", "ts_json_extract", 0},
    {"json_type", "ts_json_type", 0},
    {"json_valid", "ts_json_valid", 0},
    {"json_set", "ts_json_set", 0},
    {"json_each", "ts_json_each", 0},
    {"json", "ts_json", 0},
    /* PostgreSQL's builtins take any types (json nested as JSON, text as strings); the wrap makes
     * the text compact and an empty json_group_array "[]" as SQLite's */
    {"json_object", "ts_json_compact(json_build_object", 1},
    {"json_group_array", "ts_json_group(json_agg", 1},
    {"ifnull", "coalesce", 0},
    {"instr", "strpos", 0},
    {"group_concat", "ts_group_concat", 0},
    {"hex", "ts_hex", 0},
    {"zeroblob", "ts_zeroblob", 0},
};

static int word_is(const char *w, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(w, name, n) == 0;
}

static int ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* 1 when the word after a subquery's ")" starts a clause: the subquery has no name. */
static int clause_word(const char *w, size_t n)
{
    static const char *const words[] = {
        "WHERE", "GROUP",  "ORDER",  "LIMIT",     "OFFSET", "UNION", "EXCEPT",  "INTERSECT",
        "JOIN",  "LEFT",   "RIGHT",  "FULL",      "INNER",  "CROSS", "NATURAL", "ON",
        "USING", "HAVING", "WINDOW", "RETURNING", "SET",    "FETCH", "FOR",     NULL};
    for (int i = 0; words[i] != NULL; i++)
        if (strlen(words[i]) == n && strncasecmp(w, words[i], n) == 0)
            return 1;
    return 0;
}

/* The word at p (letters, digits, '_') after blanks: its start and length (0: none). */
static size_t next_word(const char *p, const char *end, const char **w)
{
    while (p < end && isspace((unsigned char)*p))
        p++;
    *w = p;
    if (p >= end || !(isalpha((unsigned char)*p) || *p == '_'))
        return 0;
    const char *q = p;
    while (q < end && ident_char(*q))
        q++;
    return (size_t)(q - p);
}

/* Translate sql[n] into out[outsize] (8n + 64 is enough): ?N -> $N, ? -> $(largest so far + 1),
 * as SQLite numbers them; string literals ('...', E'...' with backslash escapes, $tag$...$tag$),
 * quoted identifiers ("...") and comments (--, nested slash-star) are copied as they are. With
 * ENG_PG_DIALECT, in the same pass, SQLite's dialect becomes PostgreSQL's (store_backend.h).
 * One pass: linear, a dollar-quoted string's end being looked for with its tag, of at most
 * DOLLAR_TAG_MAX bytes (longer is ENG_EINVAL), and a word's lookahead reading the next two
 * words at most. */
int eng_store_pg_translate(const char *sql, size_t n, char *out, size_t outsize, int flags,
                           struct eng_pg_xlate *res)
{
    const char *p = sql, *end = sql + n;
    size_t o = 0;
    int top = 0, seen_stmt = 0, after_semi = 0, depth = 0, nwrap = 0;
    int wraps[WRAP_MAX];
    int from_open = 0, nsub = 0, nalias = 0; /* FROM ( or JOIN ( just seen; subqueries open */
    int subs[WRAP_MAX];

    memset(res, 0, sizeof *res);
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (o + 1 >= outsize)                                                                      \
            return ENG_EINVAL;                                                                     \
        out[o++] = (c);                                                                            \
    } while (0)
#define PUTS(str)                                                                                  \
    do {                                                                                           \
        for (const char *s_ = (str); *s_ != '\0'; s_++)                                            \
            PUT(*s_);                                                                              \
    } while (0)
    while (p < end) {
        char c = *p;
        if (c == '-' && p + 1 < end && p[1] == '-') {
            while (p < end && *p != '\n')
                PUT(*p++);
            continue;
        }
        if (c == '/' && p + 1 < end && p[1] == '*') {
            int nest = 0;
            do {
                if (*p == '/' && p + 1 < end && p[1] == '*') {
                    nest++;
                    PUT(*p++);
                } else if (*p == '*' && p + 1 < end && p[1] == '/') {
                    nest--;
                    PUT(*p++);
                }
                PUT(*p++);
            } while (p < end && nest > 0);
            continue;
        }
        if (isspace((unsigned char)c)) {
            PUT(*p++);
            continue;
        }
        if (c == ';') {
            if (seen_stmt)
                after_semi = 1;
            PUT(*p++);
            continue;
        }
        if (after_semi) {
            if (!(flags & ENG_PG_MULTI)) {
                res->tail = p;
                break;
            }
            after_semi = 0;
        }
        seen_stmt = 1;
        int was_from = from_open;
        from_open = 0;
        if ((flags & ENG_PG_DIALECT) && (c == 'x' || c == 'X') && p + 1 < end && p[1] == '\'' &&
            (p == sql || !(ident_char(p[-1]) || p[-1] == '.' || p[-1] == '$'))) {
            /* SQLite's blob literal x'00ff' -> '\x00ff'::bytea (hex digits only, as SQLite) */
            const char *q = p + 2;
            while (q < end && isxdigit((unsigned char)*q))
                q++;
            if (q < end && *q == '\'') {
                PUTS("'\\x");
                for (p += 2; p < q; p++)
                    PUT(*p);
                PUTS("'::bytea");
                p++;
                continue;
            }
        }
        if (c == '\'' || c == '"') {
            int escapes = c == '\'' && p > sql && (p[-1] == 'E' || p[-1] == 'e') &&
                          (p - 1 == sql || !(isalnum((unsigned char)p[-2]) || p[-2] == '_'));
            PUT(*p++);
            while (p < end) {
                if (escapes && *p == '\\' && p + 1 < end) {
                    PUT(*p++);
                    PUT(*p++);
                    continue;
                }
                if (*p == c) {
                    PUT(*p++);
                    if (p < end && *p == c) { /* '' or "" */
                        PUT(*p++);
                        continue;
                    }
                    break;
                }
                PUT(*p++);
            }
            continue;
        }
        if (c == '$' && (p == sql || !(isalnum((unsigned char)p[-1]) || p[-1] == '_'))) {
            const char *q = p + 1;
            while (q < end && (isalnum((unsigned char)*q) || *q == '_') &&
                   !isdigit((unsigned char)p[1]))
                q++;
            if (q < end && *q == '$' && q - p + 1 > DOLLAR_TAG_MAX)
                return ENG_EINVAL;
            if (q < end && *q == '$') { /* $tag$ or $$: a dollar-quoted string */
                const char *stop = dollar_end(p, (size_t)(q - p + 1), end);
                while (p < stop)
                    PUT(*p++);
                continue;
            }
        }
        if (c == '?') {
            long v = 0;
            p++;
            if (p < end && isdigit((unsigned char)*p)) {
                while (p < end && isdigit((unsigned char)*p)) {
                    v = v * 10 + (*p++ - '0');
                    if (v > 32766)
                        return ENG_EINVAL;
                }
                if (v == 0)
                    return ENG_EINVAL;
            } else {
                v = top + 1;
                if (v > 32766)
                    return ENG_EINVAL;
            }
            if (v > top)
                top = (int)v;
            char num[16];
            int len = snprintf(num, sizeof num, "$%ld", v);
            for (int i = 0; i < len; i++)
                PUT(num[i]);
            continue;
        }
        if (!(flags & ENG_PG_DIALECT)) {
            PUT(*p++);
            continue;
        }
        if (c == '(') {
            if (was_from) { /* a subquery in FROM: PostgreSQL wants it named */
                if (nsub == WRAP_MAX)
                    return ENG_EINVAL;
                subs[nsub++] = depth;
            }
            depth++;
            PUT(*p++);
            continue;
        }
        if (c == ')') {
            depth--;
            PUT(*p++);
            if (nwrap > 0 && wraps[nwrap - 1] == depth) {
                nwrap--;
                PUT(')');
            }
            if (nsub > 0 && subs[nsub - 1] == depth) {
                nsub--;
                const char *w2;
                size_t l2 = next_word(p, end, &w2);
                if (l2 == 0 ? (w2 >= end || *w2 != '"') : clause_word(w2, l2)) {
                    char alias[24];
                    snprintf(alias, sizeof alias, " AS ts_sub%d", ++nalias % 100000);
                    PUTS(alias);
                }
            }
            continue;
        }
        if ((isalpha((unsigned char)c) || c == '_') &&
            (p == sql || !(ident_char(p[-1]) || p[-1] == '.' || p[-1] == '$'))) {
            const char *w = p;
            while (p < end && ident_char(*p))
                p++;
            size_t wl = (size_t)(p - w);
            const char *q = p;
            while (q < end && isspace((unsigned char)*q))
                q++;
            int call = q < end && *q == '(';
            const char *w2, *w3;
            size_t l2 = next_word(p, end, &w2), l3 = 0;
            if (call) {
                size_t i;
                for (i = 0; i < sizeof pg_renames / sizeof pg_renames[0]; i++)
                    if (word_is(w, wl, pg_renames[i].from))
                        break;
                if (i < sizeof pg_renames / sizeof pg_renames[0]) {
                    if (pg_renames[i].wrap) {
                        if (nwrap == WRAP_MAX)
                            return ENG_EINVAL;
                        wraps[nwrap++] = depth;
                    }
                    PUTS(pg_renames[i].to);
                    continue;
                }
            } else if (word_is(w, wl, "INTEGER")) {
                /* INTEGER PRIMARY KEY [AUTOINCREMENT]: SQLite's rowid alias, numbered for us */
                if (word_is(w2, l2, "PRIMARY") && (l3 = next_word(w2 + l2, end, &w3)) > 0 &&
                    word_is(w3, l3, "KEY")) {
                    PUTS("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
                    p = w3 + l3;
                    const char *w4;
                    size_t l4 = next_word(p, end, &w4);
                    if (word_is(w4, l4, "AUTOINCREMENT"))
                        p = w4 + l4;
                } else {
                    PUTS("BIGINT");
                }
                continue;
            } else if (word_is(w, wl, "REAL")) {
                PUTS("DOUBLE PRECISION");
                continue;
            } else if (word_is(w, wl, "BLOB")) {
                PUTS("BYTEA");
                continue;
            } else if (word_is(w, wl, "BEGIN") &&
                       (word_is(w2, l2, "IMMEDIATE") || word_is(w2, l2, "EXCLUSIVE") ||
                        word_is(w2, l2, "DEFERRED"))) {
                int lock = !word_is(w2, l2, "DEFERRED");
                PUTS("BEGIN");
                p = w2 + l2;
                if (lock && (flags & ENG_PG_MULTI))
                    PUTS("; " ENG_PG_WRITE_LOCK_SQL);
                if (lock)
                    res->write_lock = 1;
                continue;
            } else if (word_is(w, wl, "IS") && l2 > 0 && word_is(w2, l2, "NOT")) {
                /* SQLite's IS NOT between two values */
                l3 = next_word(w2 + l2, end, &w3);
                if (!(word_is(w3, l3, "NULL") || word_is(w3, l3, "DISTINCT") ||
                      word_is(w3, l3, "TRUE") || word_is(w3, l3, "FALSE") ||
                      word_is(w3, l3, "UNKNOWN"))) {
                    PUTS("IS DISTINCT FROM");
                    p = w2 + l2;
                    continue;
                }
            } else if (word_is(w, wl, "IS") &&
                       !(word_is(w2, l2, "NULL") || word_is(w2, l2, "NOT") ||
                         word_is(w2, l2, "DISTINCT") || word_is(w2, l2, "TRUE") ||
                         word_is(w2, l2, "FALSE") || word_is(w2, l2, "UNKNOWN"))) {
                PUTS("IS NOT DISTINCT FROM"); /* SQLite's IS between two values */
                continue;
            }
            from_open = word_is(w, wl, "FROM") || word_is(w, wl, "JOIN");
            while (w < p)
                PUT(*w++);
            continue;
        }
        PUT(*p++);
    }
#undef PUTS
#undef PUT
    out[o] = '\0';
    res->nparams = top;
    res->empty = !seen_stmt;
    return 0;
}

#ifdef ENG_HAVE_LIBPQ

#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include <libpq-fe.h>

/* type OIDs of pg_type (stable since PostgreSQL 7) */
#define PG_BOOLOID    16
#define PG_BYTEAOID   17
#define PG_INT8OID    20
#define PG_INT2OID    21
#define PG_INT4OID    23
#define PG_TEXTOID    25
#define PG_OIDOID     26
#define PG_FLOAT4OID  700
#define PG_FLOAT8OID  701
#define PG_NUMERICOID 1700

struct pg_stmt;

/* The connection's cache of trusted statements, as store_sqlite.c keeps one: the last PG_CACHE
 * texts prepared, each translated once and prepared on the server (a named statement) at its
 * first run, so that a hot statement is neither translated nor parsed and planned again. */
#define PG_CACHE 16
struct pg_cached {
    struct pg_stmt *handle; /* handed out while busy; kept with the slot */
    char *sql;              /* the engine's text (the key) */
    size_t len;
    unsigned hash;
    unsigned long long used_at;
    int busy;
    int prepared; /* the server holds it as name */
    char name[24];
};

struct pg_store {
    struct eng_store base; /* first: store.c's view */
    PGconn *conn;
    char *path;             /* the URL without its password: "postgres://user@host:port/db" */
    char *secret;           /* the URL's password (scrubbed from every message), or NULL */
    struct pg_stmt *active; /* the statement whose rows are being read, or NULL */
    int busy_ms;
    int busy_stale;   /* the server's lock_timeout may not be busy_ms yet (sync_busy) */
    int active_in_tx; /* a transaction was open when active started */
    int64_t changes;  /* rows changed by the last INSERT / UPDATE / DELETE / MERGE */
    int last_fail;
    int last_code;     /* the SQLSTATE packed 6 bits a character (0 when there is none) */
    int nstmts;        /* statements not finalized: a closed connection's struct waits for them */
    char outer_sp[64]; /* the savepoint that opened the transaction (SQLite's SAVEPOINT outside
                        * one begins one, and its RELEASE commits it), or "" */
    struct pg_cached cache[PG_CACHE];
    unsigned long long cache_tick;
    unsigned next_name; /* server statement names: ts_1, ts_2... */
    int closed;
};

struct pg_param {
    char *val; /* NULL: SQL NULL */
    int len;
    int binary;
    unsigned type; /* an OID, 0 for the server to infer */
};

enum { PG_FRESH, PG_RUNNING, PG_DONE };

struct pg_stmt {
    struct eng_store_stmt base; /* first: store.c's view */
    struct pg_store *st;
    char *sql; /* with $N placeholders */
    int nparams;
    struct pg_param *params;
    int state;
    PGresult *row; /* the current row (single-row mode), or NULL */
    int ncols;
    unsigned char **blob; /* per column of the current row: its bytea decoded (malloc'd,
                           * NUL-terminated), or NULL */
    size_t *blob_len;
    int blob_cols;
    int64_t changes; /* what the statement changed, once done */
    int write_lock;  /* a BEGIN IMMEDIATE: take the write lock once it ran */
    /* the rest of its results, read into memory when another statement of the connection had to
     * start while this one was returning rows (spill): then step reads them from here */
    PGresult **spill;
    size_t nspill, spill_pos;
    int spilled;
    struct pg_cached *cached; /* its slot in the cache, or NULL: finalized for real */
};

/* ---- messages ---- */

/* Copy src into dst[size] with every occurrence of secret replaced by "***". */
static void scrub(char *dst, size_t size, const char *src, const char *secret)
{
    size_t n = 0, sl = secret != NULL ? strlen(secret) : 0;
    while (*src != '\0' && n + 1 < size) {
        if (sl > 0 && strncmp(src, secret, sl) == 0) {
            for (const char *r = "***"; *r != '\0' && n + 1 < size; r++)
                dst[n++] = *r;
            src += sl;
        } else {
            dst[n++] = *src++;
        }
    }
    dst[n] = '\0';
    while (n > 0 && (dst[n - 1] == '\n' || dst[n - 1] == ' '))
        dst[--n] = '\0'; /* libpq's messages end in a newline */
}

static int pack_sqlstate(const char *s)
{
    int v = 0;
    for (int i = 0; s != NULL && i < 5 && s[i] != '\0'; i++)
        v = (v << 6) | (s[i] & 0x3f);
    return v;
}

/* Record a failure with this class and code, message "what: text" (scrubbed). */
static int pg_fail_msg(struct pg_store *st, int fail, int code, const char *sqlstate,
                       const char *what, const char *text, struct eng_err *err)
{
    char clean[sizeof err->msg];
    st->last_fail = fail;
    st->last_code = pack_sqlstate(sqlstate);
    scrub(clean, sizeof clean, text != NULL ? text : "", st->secret);
    return eng_err_set(err, code, "%s%s%s", what, what[0] != '\0' ? ": " : "", clean);
}

/* A failed result (res may be NULL: a client-side failure, read from the connection). */
static int pg_fail(struct pg_store *st, const PGresult *res, struct eng_err *err)
{
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char what[160] = "";

    if (PQstatus(st->conn) == CONNECTION_BAD || (state != NULL && strncmp(state, "08", 2) == 0)) {
        snprintf(what, sizeof what, "the PostgreSQL connection to %s failed", st->path);
        return pg_fail_msg(st, ENG_STORE_FAIL_ERROR, ENG_EIO, state, what,
                           primary != NULL ? primary : PQerrorMessage(st->conn), err);
    }
    if (primary == NULL)
        primary = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(st->conn);
    if (state == NULL)
        return pg_fail_msg(st, ENG_STORE_FAIL_ERROR, ENG_EIO, NULL, "", primary, err);
    if (strncmp(state, "23", 2) == 0)
        return pg_fail_msg(st, ENG_STORE_FAIL_CONSTRAINT, ENG_EEXIST, state, "", primary, err);
    if (strcmp(state, "55P03") == 0 || strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return pg_fail_msg(st, ENG_STORE_FAIL_BUSY, ENG_EBUSY, state, "", primary, err);
    if (strcmp(state, "57014") == 0) /* query_canceled: statement_timeout */
        return pg_fail_msg(st, ENG_STORE_FAIL_INTERRUPT, ENG_EBUDGET, state,
                           "the database statement was interrupted", primary, err);
    if (strncmp(state, "53", 2) == 0)
        return pg_fail_msg(st, ENG_STORE_FAIL_NOMEM, ENG_ENOMEM, state, "", primary, err);
    if (strncmp(state, "22", 2) == 0) { /* its text may quote a bound value */
        snprintf(what, sizeof what, "a value does not fit the statement (SQLSTATE %s)", state);
        return pg_fail_msg(st, ENG_STORE_FAIL_ERROR, ENG_EINVAL, state, what, NULL, err);
    }
    return pg_fail_msg(st, ENG_STORE_FAIL_ERROR, ENG_EIO, state, "", primary, err);
}

static int pg_fail_own(struct pg_store *st, int code)
{
    st->last_fail = ENG_STORE_FAIL_ERROR;
    st->last_code = 0;
    return code;
}

/* ---- connections ---- */

/* "postgres://user@host:port/db" from libpq's reading of url; the password into *secret. */
static int describe_url(const char *url, char **path, char **secret, struct eng_err *err)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    const char *user = "", *host = "", *port = "", *db = "";
    if (opts == NULL) {
        /* libpq's message may quote the URL: keep only what says what is wrong, generally */
        PQfreemem(perr);
        return eng_err_set(err, ENG_EINVAL,
                           "DATABASE_URL is not a PostgreSQL URL libpq can read (expected "
                           "postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=...)");
    }
    *secret = NULL;
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL)
            continue;
        if (strcmp(o->keyword, "user") == 0)
            user = o->val;
        else if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "dbname") == 0)
            db = o->val;
        else if (strcmp(o->keyword, "password") == 0 && o->val[0] != '\0' &&
                 (*secret = strdup(o->val)) == NULL)
            break;
    }
    size_t n = strlen(user) + strlen(host) + strlen(port) + strlen(db) + 32;
    *path = malloc(n);
    if (*path != NULL)
        snprintf(*path, n, "postgres://%s%s%s%s%s/%s", user, user[0] != '\0' ? "@" : "", host,
                 port[0] != '\0' ? ":" : "", port, db);
    PQconninfoFree(opts);
    if (*path == NULL) {
        free(*secret);
        *secret = NULL;
        return eng_err_set(err, ENG_ENOMEM, "out of memory opening the database");
    }
    return 0;
}

static void free_stmt(struct pg_stmt *s);

static void pg_close(struct eng_store *base)
{
    struct pg_store *st = (struct pg_store *)base;
    if (st == NULL)
        return;
    for (int i = 0; i < PG_CACHE; i++) {
        struct pg_cached *c = &st->cache[i];
        if (c->handle != NULL && c->busy)
            c->handle->cached = NULL; /* still out: its finalize, after the close, is a real one */
        else if (c->handle != NULL)
            free_stmt(c->handle);
        free(c->sql);
        memset(c, 0, sizeof *c);
    }
    PQfinish(st->conn); /* NULL is a no-op */
    st->conn = NULL;
    st->active = NULL; /* its rows went with the connection */
    free(st->path);
    st->path = NULL;
    if (st->secret != NULL) {
        memset(st->secret, 0, strlen(st->secret));
        free(st->secret);
        st->secret = NULL;
    }
    st->closed = 1;
    if (st->nstmts == 0) /* else the last statement's finalize frees it (store.h) */
        free(st);
}

/* Put busy_ms into the server's lock_timeout when it may differ there: a SET made inside a
 * transaction is undone by its ROLLBACK, so it is made again once the connection is idle. */
static void sync_busy(struct pg_store *st)
{
    if (!st->busy_stale || st->active != NULL)
        return;
    char sql[64];
    /* lock_timeout 0 means "wait for ever": a busy timeout of 0 (fail at once) waits 1 ms */
    snprintf(sql, sizeof sql, "SET lock_timeout = %d", st->busy_ms > 0 ? st->busy_ms : 1);
    int idle = PQtransactionStatus(st->conn) == PQTRANS_IDLE;
    PGresult *res = PQexec(st->conn, sql);
    if (PQresultStatus(res) == PGRES_COMMAND_OK && idle)
        st->busy_stale = 0;
    PQclear(res);
}

static void pg_set_busy_timeout(struct eng_store *base, int ms)
{
    struct pg_store *st = (struct pg_store *)base;
    st->busy_ms = ms < 0 ? 0 : ms;
    st->busy_stale = 1;
    sync_busy(st); /* or before the next statement, when one is returning rows */
}

static void ignore_notice(void *ud, const char *msg)
{
    (void)ud, (void)msg;
}

static int pg_open(const char *url, const char *location, struct eng_store **out,
                   struct eng_err *err)
{
    (void)location;
    *out = NULL;
    int rc = eng_store_pg_load(err);
    if (rc != 0)
        return rc;
    struct pg_store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return eng_err_set(err, ENG_ENOMEM, "out of memory opening the database");
    st->base.ops = &eng_store_pg_ops;
    rc = describe_url(url, &st->path, &st->secret, err);
    if (rc != 0) {
        free(st);
        return rc;
    }
    /* expand_dbname: the URL is read whole; the keywords after it override what it says */
    const char *const keys[] = {"dbname", "client_encoding", "application_name", NULL};
    const char *const vals[] = {url, "UTF8", "tallysync", NULL};
    st->conn = PQconnectdbParams(keys, vals, 1);
    if (st->conn == NULL) {
        pg_close(&st->base);
        return eng_err_set(err, ENG_ENOMEM, "out of memory opening the database");
    }
    if (PQstatus(st->conn) != CONNECTION_OK) {
        char what[160];
        snprintf(what, sizeof what, "cannot open the PostgreSQL database %s", st->path);
        rc = pg_fail_msg(st, ENG_STORE_FAIL_ERROR, ENG_EIO, NULL, what, PQerrorMessage(st->conn),
                         err);
        pg_close(&st->base);
        return rc;
    }
    /* the server's notices ("table ... does not exist, skipping") are not errors: libpq's
     * default prints them on stderr */
    PQsetNoticeProcessor(st->conn, ignore_notice, NULL);
    pg_set_busy_timeout(&st->base, ENG_STORE_BUSY_TIMEOUT_MS);
    *out = &st->base;
    return 0;
}

static const char *pg_path(const struct eng_store *base)
{
    return ((const struct pg_store *)base)->path;
}

static int pg_mode_warning(const struct eng_store *base, char *msg, size_t size)
{
    (void)base;
    (void)msg;
    (void)size;
    return 0; /* no file of ours */
}

/* The statement whose rows are being read holds the connection: before anything else runs, the
 * rest of its results are read into memory (its step goes on from there), as SQLite lets a
 * caller run a statement while it reads another's rows. */
static int pg_idle(struct pg_store *st, const struct pg_stmt *me, struct eng_err *err)
{
    struct pg_stmt *a = st->active;
    if (a == NULL || a == me)
        return 0;
    PGresult *res;
    size_t cap = 0;
    int rc = 0;
    while ((res = PQgetResult(st->conn)) != NULL) {
        if (rc == 0 && a->nspill == cap) {
            PGresult **grown = realloc(a->spill, (cap = cap * 2 + 16) * sizeof *grown);
            if (grown == NULL)
                rc = eng_err_set(err, pg_fail_own(st, ENG_ENOMEM), "out of memory");
            else
                a->spill = grown;
        }
        if (rc != 0)
            PQclear(res);
        else
            a->spill[a->nspill++] = res;
    }
    st->active = NULL;
    a->spilled = 1;
    return rc;
}

/* "UPDATE 3" -> 3; SELECT and the rest change nothing. */
static int64_t command_changes(const PGresult *res)
{
    const char *status = PQcmdStatus((PGresult *)res);
    if (strncmp(status, "INSERT", 6) != 0 && strncmp(status, "UPDATE", 6) != 0 &&
        strncmp(status, "DELETE", 6) != 0 && strncmp(status, "MERGE", 5) != 0)
        return -1;
    return strtoll(PQcmdTuples((PGresult *)res), NULL, 10);
}

static int exec_raw(struct pg_store *st, const char *sql, struct eng_err *err);

/* 1 when sql is "VERB name" ("RELEASE SAVEPOINT name" too), name copied into name[size]. */
static int savepoint_verb(const char *sql, const char *verb, char *name, size_t size)
{
    const char *p = sql, *w;
    size_t n = next_word(p, p + strlen(p), &w);
    if (!word_is(w, n, verb))
        return 0;
    p = w + n;
    n = next_word(p, p + strlen(p), &w);
    if (strcmp(verb, "RELEASE") == 0 && word_is(w, n, "SAVEPOINT")) {
        p = w + n;
        n = next_word(p, p + strlen(p), &w);
    }
    if (n == 0 || n >= size)
        return 0;
    for (p = w + n; *p == ' ' || *p == ';' || *p == '\n'; p++)
        ;
    if (*p != '\0')
        return 0;
    memcpy(name, w, n);
    name[n] = '\0';
    return 1;
}
static int pg_exec(struct eng_store *base, const char *sql, struct eng_err *err);

/* After a BEGIN IMMEDIATE: the write lock (ENG_PG_WRITE_LOCK_SQL), or no transaction at all. */
static int take_write_lock(struct pg_store *st, struct eng_err *err)
{
    int rc = exec_raw(st, ENG_PG_WRITE_LOCK_SQL, err);
    if (rc != 0 && PQtransactionStatus(st->conn) != PQTRANS_IDLE)
        (void)exec_raw(st, "ROLLBACK", NULL);
    return rc;
}

/* ---- migrations ---- */

#define MIGRATE_BUSY_TIMEOUT_MS 60000 /* a second migrator waits for the first one this long */
/* every migrator of one schema takes this lock in each of its transactions: one at a time */
#define MIGRATE_LOCK_SQL "SELECT pg_advisory_xact_lock(8, hashtext(current_schema()))"

/* The recorded (name, checksum) of version v; 1 found, 0 absent, < 0 error. */
static int applied_row(struct pg_store *st, long v, char *name, size_t nsize, char *sum,
                       size_t ssize, struct eng_err *err)
{
    char num[32];
    snprintf(num, sizeof num, "%ld", v);
    const char *vals[1] = {num};
    PGresult *res =
        PQexecParams(st->conn, "SELECT name, checksum FROM schema_migrations WHERE version = $1", 1,
                     NULL, vals, NULL, NULL, 0);
    int rc;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        rc = pg_fail(st, res, err);
    } else if (PQntuples(res) == 0) {
        rc = 0;
    } else {
        snprintf(name, nsize, "%s", PQgetvalue(res, 0, 0));
        snprintf(sum, ssize, "%s", PQgetvalue(res, 0, 1));
        rc = 1;
    }
    PQclear(res);
    return rc;
}

/* One statement with up to three text parameters, no rows wanted. */
static int exec_params(struct pg_store *st, const char *sql, int n, const char *const *vals,
                       struct eng_err *err)
{
    PGresult *res = PQexecParams(st->conn, sql, n, NULL, vals, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = pg_fail(st, res, err);
    PQclear(res);
    return rc;
}

static void rollback_quietly(struct pg_store *st)
{
    if (PQtransactionStatus(st->conn) != PQTRANS_IDLE)
        (void)exec_raw(st, "ROLLBACK", NULL);
}

/* Apply (or check) one migration file. Its text is translated (store_backend.h) unless
 * schema_dir/pg holds a file of the same name, written for PostgreSQL, which runs instead (as it
 * is). The checksum recorded is the common file's, as on SQLite. *done = 1 when applied. */
static int migrate_one(struct pg_store *st, const char *dir, const struct eng_store_migration *m,
                       int *done, struct eng_err *err)
{
    char path[4096], pg_path[4096], name[256], rec_sum[80], sum[80];
    char *sql = NULL, *own = NULL;
    size_t len = 0, own_len = 0;
    int rc, found;

    *done = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, m->file) >= sizeof path ||
        (size_t)snprintf(pg_path, sizeof pg_path, "%s/pg/%s", dir, m->file) >= sizeof pg_path)
        return eng_err_set(err, ENG_EINVAL, "schema path too long: %s/%s", dir, m->file);
    rc = eng_store_read_file(path, &sql, &len, err);
    if (rc == 0)
        rc = eng_store_checksum(sql, len, sum, sizeof sum, err);
    if (rc != 0) {
        free(sql);
        return rc;
    }
    /* cheap path first, without the lock: already applied? */
    found = applied_row(st, m->version, name, sizeof name, rec_sum, sizeof rec_sum, err);
    if (found != 0) {
        free(sql);
        return found > 0 ? eng_store_migration_check(dir, m, name, rec_sum, sum, err) : found;
    }
    FILE *f = fopen(pg_path, "rb");
    if (f != NULL) {
        fclose(f);
        rc = eng_store_read_file(pg_path, &own, &own_len, err);
        if (rc != 0) {
            free(sql);
            return rc;
        }
    }
    /* take the lock, then look again: another engine may have won the race */
    rc = exec_raw(st, "BEGIN; " MIGRATE_LOCK_SQL, err);
    if (rc == 0) {
        found = applied_row(st, m->version, name, sizeof name, rec_sum, sizeof rec_sum, err);
        if (found > 0) {
            rc = eng_store_migration_check(dir, m, name, rec_sum, sum, err);
        } else if (found < 0) {
            rc = found;
        } else {
            rc = own != NULL ? exec_raw(st, own, err) : pg_exec(&st->base, sql, err);
            if (rc != 0) {
                char msg[sizeof err->msg];
                if (err != NULL) {
                    snprintf(msg, sizeof msg, "%s", err->msg);
                    eng_err_set(err, rc, "schema migration %s failed: %s",
                                own != NULL ? pg_path : path, msg);
                }
            } else if (PQtransactionStatus(st->conn) != PQTRANS_INTRANS) {
                rc = eng_err_set(err, pg_fail_own(st, ENG_EINVAL),
                                 "schema migration %s must not contain BEGIN, COMMIT or ROLLBACK "
                                 "(each file already runs in its own transaction)",
                                 own != NULL ? pg_path : path);
            } else {
                char num[32];
                snprintf(num, sizeof num, "%ld", m->version);
                const char *vals[3] = {num, m->file, sum};
                rc = exec_params(st,
                                 "INSERT INTO schema_migrations (version, name, checksum) "
                                 "VALUES ($1, $2, $3)",
                                 3, vals, err);
                if (rc == 0)
                    *done = 1;
            }
        }
    }
    free(sql);
    free(own);
    if (rc == 0)
        rc = exec_raw(st, "COMMIT", err);
    if (rc != 0) {
        *done = 0;
        rollback_quietly(st);
    }
    return rc;
}

/* schema_dir/pg/compat.sql (the ts_* twins) and the schema_migrations table, in one
 * transaction under the migrators' lock: every start, so a changed compat.sql takes effect. */
static int migrate_compat(struct pg_store *st, const char *dir, struct eng_err *err)
{
    char path[4096];
    char *sql = NULL;
    size_t len = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/pg/compat.sql", dir) >= sizeof path)
        return eng_err_set(err, ENG_EINVAL, "schema path too long: %s/pg/compat.sql", dir);
    int rc = eng_store_read_file(path, &sql, &len, err);
    if (rc != 0)
        return rc;
    rc = exec_raw(st, "BEGIN; " MIGRATE_LOCK_SQL, err);
    if (rc == 0) {
        rc = exec_raw(st, sql, err);
        if (rc != 0 && err != NULL) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            eng_err_set(err, rc, "%s failed: %s", path, msg);
        }
    }
    if (rc == 0)
        rc = exec_raw(st,
                      "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " version BIGINT PRIMARY KEY,"
                      " name TEXT NOT NULL,"
                      " checksum TEXT NOT NULL,"
                      " applied_at TEXT NOT NULL"
                      "  DEFAULT (ts_strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));"
                      "COMMIT",
                      err);
    free(sql);
    if (rc != 0)
        rollback_quietly(st);
    return rc;
}

static int pg_migrate(struct eng_store *base, const char *schema_dir, int *applied,
                      struct eng_err *err)
{
    struct pg_store *st = (struct pg_store *)base;
    struct eng_store_migration *m = NULL;
    size_t n = 0;
    int rc, count = 0, busy = st->busy_ms;

    if (applied != NULL)
        *applied = 0;
    if ((rc = pg_idle(st, NULL, err)) != 0)
        return rc;
    if (PQtransactionStatus(st->conn) != PQTRANS_IDLE)
        return eng_err_set(err, pg_fail_own(st, ENG_EINVAL),
                           "cannot migrate inside an open transaction");
    rc = eng_store_migrations_list(schema_dir, &m, &n, err);
    if (rc != 0)
        return rc;
    pg_set_busy_timeout(base, MIGRATE_BUSY_TIMEOUT_MS);
    rc = migrate_compat(st, schema_dir, err);
    if (rc == 0) {
        PGresult *res = PQexec(st->conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            rc = pg_fail(st, res, err);
        } else {
            long top = strtol(PQgetvalue(res, 0, 0), NULL, 10);
            if (top > (long)n)
                rc = eng_err_set(err, ENG_EINVAL,
                                 "the database %s is at schema version %ld but %s has only %zu "
                                 "migrations: is this an older tallysync than the one that last "
                                 "migrated it?",
                                 st->path, top, schema_dir, n);
        }
        PQclear(res);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int done = 0;
        rc = migrate_one(st, schema_dir, &m[i], &done, err);
        count += done;
    }
    pg_set_busy_timeout(base, busy);
    eng_store_migrations_free(m, n);
    if (applied != NULL)
        *applied = count;
    return rc;
}

static int pg_exec(struct eng_store *base, const char *sql, struct eng_err *err)
{
    struct pg_store *st = (struct pg_store *)base;
    int rc = pg_idle(st, NULL, err);
    if (rc != 0)
        return rc;
    size_t n = strlen(sql);
    if (n > (size_t)1 << 28)
        return eng_err_set(err, pg_fail_own(st, ENG_EINVAL), "SQL text is too long");
    char *text = malloc(n * 8 + 64);
    if (text == NULL)
        return eng_err_set(err, pg_fail_own(st, ENG_ENOMEM), "out of memory");
    struct eng_pg_xlate x;
    if (eng_store_pg_translate(sql, n, text, n * 8 + 64, ENG_PG_DIALECT | ENG_PG_MULTI, &x) != 0) {
        free(text);
        return eng_err_set(err, pg_fail_own(st, ENG_EINVAL),
                           "SQL the PostgreSQL store cannot translate (a dollar-quote tag longer "
                           "than 63 bytes, or json_object calls nested too deep)");
    }
    int idle = PQtransactionStatus(st->conn) == PQTRANS_IDLE;
    char name[64];
    const char *run = text;
    char *sp = NULL;
    if (idle)
        st->outer_sp[0] = '\0';
    if (savepoint_verb(text, "SAVEPOINT", name, sizeof name) && idle) {
        /* SQLite: a SAVEPOINT outside a transaction begins one */
        sp = malloc(strlen(text) + 8);
        if (sp != NULL) {
            snprintf(sp, strlen(text) + 8, "BEGIN; %s", text);
            run = sp;
            snprintf(st->outer_sp, sizeof st->outer_sp, "%s", name);
        }
    } else if (st->outer_sp[0] != '\0' && savepoint_verb(text, "RELEASE", name, sizeof name) &&
               strcasecmp(name, st->outer_sp) == 0) {
        /* ...and its RELEASE commits it */
        sp = malloc(strlen(text) + 9);
        if (sp != NULL) {
            snprintf(sp, strlen(text) + 9, "%s; COMMIT", text);
            run = sp;
            st->outer_sp[0] = '\0';
        }
    }
    rc = exec_raw(st, run, err);
    free(sp);
    free(text);
    /* a BEGIN IMMEDIATE whose lock was not had leaves no transaction, as on SQLite */
    if (rc != 0 && x.write_lock && idle && PQtransactionStatus(st->conn) == PQTRANS_INERROR)
        (void)exec_raw(st, "ROLLBACK", NULL);
    return rc;
}

/* Run sql as it is (PostgreSQL's dialect, no parameters, several statements allowed). */
static int exec_raw(struct pg_store *st, const char *sql, struct eng_err *err)
{
    int rc = 0;
    sync_busy(st);
    /* the simple query protocol: several statements in one string, no parameters */
    if (!PQsendQuery(st->conn, sql))
        return pg_fail(st, NULL, err);
    PGresult *res;
    while ((res = PQgetResult(st->conn)) != NULL) {
        ExecStatusType t = PQresultStatus(res);
        if (rc == 0 && t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK && t != PGRES_EMPTY_QUERY)
            rc = pg_fail(st, res, err);
        else if (rc == 0 && command_changes(res) >= 0)
            st->changes = command_changes(res);
        PQclear(res);
    }
    if (rc == 0 && PQstatus(st->conn) == CONNECTION_BAD)
        rc = pg_fail(st, NULL, err);
    return rc;
}

static int64_t pg_changes(struct eng_store *base)
{
    return ((struct pg_store *)base)->changes;
}

static int64_t pg_last_insert_rowid(struct eng_store *base)
{
    (void)base;
    return 0; /* no rowid: INSERT ... RETURNING says which row */
}

static int pg_in_tx(struct eng_store *base)
{
    PGTransactionStatusType t = PQtransactionStatus(((struct pg_store *)base)->conn);
    /* while a statement returns rows the server says ACTIVE: what it was when that began */
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR ||
           (t == PQTRANS_ACTIVE && ((struct pg_store *)base)->active_in_tx);
}

static int pg_busy_timeout(const struct eng_store *base)
{
    return ((const struct pg_store *)base)->busy_ms;
}

static void pg_set_progress(struct eng_store *base, int n_steps, int (*fn)(void *), void *ud)
{
    (void)base, (void)n_steps, (void)fn, (void)ud; /* script connections are SQLite's */
}

static void pg_set_max_length(struct eng_store *base, long long bytes)
{
    (void)base, (void)bytes;
}

static int pg_last_fail(const struct eng_store *base)
{
    return ((const struct pg_store *)base)->last_fail;
}

static int pg_last_code(const struct eng_store *base)
{
    return ((const struct pg_store *)base)->last_code;
}

static int op_fail_own(struct eng_store *base, int code)
{
    return pg_fail_own((struct pg_store *)base, code);
}

/* ---- statements ---- */

static int pg_prepare(struct eng_store *base, const char *sql, long len, int flags,
                      struct eng_store_stmt **out, struct eng_err *err)
{
    struct pg_store *st = (struct pg_store *)base;
    size_t n = len < 0 ? strlen(sql) : (size_t)len;
    struct eng_pg_xlate x;

    *out = NULL;
    if (flags & ENG_STORE_SCRIPT)
        return eng_err_set(err, pg_fail_own(st, ENG_EINVAL),
                           "the PostgreSQL store is not complete in this build: script SQL "
                           "(engine.db) runs on SQLite only");
    if (n > (size_t)1 << 28)
        return eng_err_set(err, pg_fail_own(st, ENG_EINVAL), "SQL text is too long");
    size_t room = n * 8 + 64; /* store_backend.h: enough for any translation */
    char *text = malloc(room);
    struct pg_stmt *s = calloc(1, sizeof *s);
    if (text == NULL || s == NULL) {
        free(text);
        free(s);
        return eng_err_set(err, pg_fail_own(st, ENG_ENOMEM), "out of memory");
    }
    int rc = eng_store_pg_translate(sql, n, text, room, ENG_PG_DIALECT, &x);
    int nparams = x.nparams;
    if (rc == 0 && x.empty)
        rc = eng_err_set(err, ENG_EINVAL, "empty SQL: expected one statement");
    else if (rc == 0 && x.tail != NULL)
        rc = eng_err_set(err, ENG_EINVAL, "only one statement per call");
    else if (rc != 0)
        rc = eng_err_set(err, rc,
                         "a statement parameter's number is out of range (1..32766), a "
                         "dollar-quote tag is longer than 63 bytes, or json_object / "
                         "json_group_array calls nest more than 32 deep");
    if (rc == 0 && nparams > 0 && (s->params = calloc((size_t)nparams, sizeof *s->params)) == NULL)
        rc = eng_err_set(err, ENG_ENOMEM, "out of memory");
    if (rc != 0) {
        free(text);
        free(s);
        return pg_fail_own(st, rc);
    }
    s->base.st = &st->base;
    s->base.ops = st->base.ops;
    s->st = st;
    st->nstmts++;
    s->sql = text;
    s->nparams = nparams;
    s->write_lock = x.write_lock;
    s->state = PG_FRESH;
    *out = &s->base;
    return 0;
}

static void clear_row(struct pg_stmt *s)
{
    for (int i = 0; i < s->blob_cols; i++) {
        free(s->blob[i]);
        s->blob[i] = NULL;
    }
    PQclear(s->row);
    s->row = NULL;
}

/* Read what is left of this statement's results (the rows nobody wants) and free the
 * connection for the next statement. */
static void drain(struct pg_stmt *s)
{
    clear_row(s);
    if (s->st->active == s) {
        PGresult *res;
        while ((res = PQgetResult(s->st->conn)) != NULL)
            PQclear(res);
        s->st->active = NULL;
    }
    for (size_t i = s->spill_pos; i < s->nspill; i++)
        PQclear(s->spill[i]);
    free(s->spill);
    s->spill = NULL;
    s->nspill = s->spill_pos = 0;
    s->spilled = 0;
}

/* The statement's next result: from the connection, or from what was spilled. */
static PGresult *next_result(struct pg_stmt *s)
{
    if (!s->spilled)
        return PQgetResult(s->st->conn);
    return s->spill_pos < s->nspill ? s->spill[s->spill_pos++] : NULL;
}

static void pg_reset(struct eng_store_stmt *base)
{
    struct pg_stmt *s = (struct pg_stmt *)base;
    drain(s);
    s->state = PG_FRESH;
}

static void pg_clear_bindings(struct eng_store_stmt *base)
{
    struct pg_stmt *s = (struct pg_stmt *)base;
    for (int i = 0; i < s->nparams; i++) {
        free(s->params[i].val);
        memset(&s->params[i], 0, sizeof s->params[i]);
    }
}

static void pg_finalize(struct eng_store_stmt *base)
{
    struct pg_stmt *s = (struct pg_stmt *)base;
    drain(s);
    pg_clear_bindings(base);
    if (s->cached != NULL) { /* back to the cache, holding no row and no bound value */
        s->state = PG_FRESH;
        s->cached->busy = 0;
        return;
    }
    free_stmt(s);
}

/* Free s for real (its connection freed with it when that was closed and s was its last). */
static void free_stmt(struct pg_stmt *s)
{
    drain(s);
    pg_clear_bindings(&s->base);
    free(s->params);
    free(s->blob);
    free(s->blob_len);
    free(s->sql);
    struct pg_store *st = s->st;
    free(s);
    if (--st->nstmts == 0 && st->closed)
        free(st);
}

/* Trusted sql from the connection's cache, or prepared (and kept there when a slot is free or
 * idle: the least recently used one, whose server statement is deallocated). */
static int prepare_cached(struct pg_store *st, const char *sql, size_t n,
                          struct eng_store_stmt **out, struct eng_err *err)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)sql[i]) * 16777619u;
    struct pg_cached *victim = NULL;
    for (int i = 0; i < PG_CACHE; i++) {
        struct pg_cached *c = &st->cache[i];
        if (c->busy)
            continue;
        if (c->handle != NULL && c->hash == h && c->len == n && memcmp(c->sql, sql, n) == 0) {
            c->busy = 1;
            c->used_at = ++st->cache_tick;
            *out = &c->handle->base;
            return 0;
        }
        if (victim == NULL ||
            (victim->handle != NULL && (c->handle == NULL || c->used_at < victim->used_at)))
            victim = c;
    }
    int rc = pg_prepare(&st->base, sql, (long)n, ENG_STORE_TRUSTED, out, err);
    if (rc != 0 || victim == NULL)
        return rc;
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return 0; /* served uncached */
    memcpy(copy, sql, n);
    copy[n] = '\0';
    if (victim->handle != NULL) {
        if (victim->prepared) { /* best effort: a name is never used twice anyway */
            char dealloc[48];
            snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", victim->name);
            (void)pg_exec(&st->base, dealloc, NULL);
        }
        free_stmt(victim->handle);
    }
    free(victim->sql);
    memset(victim, 0, sizeof *victim);
    victim->sql = copy;
    victim->len = n;
    victim->hash = h;
    victim->used_at = ++st->cache_tick;
    victim->busy = 1;
    victim->handle = (struct pg_stmt *)*out;
    victim->handle->cached = victim;
    return 0;
}

/* A trusted statement comes from the cache when its text was prepared before and is not out. */
static int op_prepare(struct eng_store *st, const char *sql, long len, int flags,
                      struct eng_store_stmt **out, struct eng_err *err)
{
    if (flags == ENG_STORE_TRUSTED)
        return prepare_cached((struct pg_store *)st, sql, len < 0 ? strlen(sql) : (size_t)len, out,
                              err);
    return pg_prepare(st, sql, len, flags, out, err);
}

static int pg_prepare_cached(struct eng_store *st, const char *sql, struct eng_store_stmt **out,
                             struct eng_err *err)
{
    return prepare_cached((struct pg_store *)st, sql, strlen(sql), out, err);
}

static int pg_param_count(struct eng_store_stmt *base)
{
    return ((struct pg_stmt *)base)->nparams;
}

static const char *pg_param_name(struct eng_store_stmt *base, int idx)
{
    (void)base, (void)idx;
    return NULL; /* ?N and ? only */
}

static int pg_param_index(struct eng_store_stmt *base, const char *name)
{
    (void)base, (void)name;
    return 0;
}

/* Bind len bytes of v (copied) to idx as text (binary: bytea) of type oid. */
static int bind(struct pg_stmt *s, int idx, const void *v, size_t len, int binary, unsigned oid)
{
    if (idx < 1 || idx > s->nparams)
        return ENG_EINVAL;
    if (len > INT32_MAX - 1)
        return ENG_EINVAL;
    char *copy = NULL;
    if (v != NULL) {
        copy = malloc(len + 1);
        if (copy == NULL)
            return ENG_ENOMEM;
        if (len > 0)
            memcpy(copy, v, len);
        copy[len] = '\0';
    }
    struct pg_param *p = &s->params[idx - 1];
    free(p->val);
    p->val = copy;
    p->len = (int)len;
    p->binary = binary;
    p->type = oid;
    return 0;
}

static int pg_bind_null(struct eng_store_stmt *base, int idx)
{
    return bind((struct pg_stmt *)base, idx, NULL, 0, 0, 0);
}

static int pg_bind_null_typed(struct eng_store_stmt *base, int idx, int type)
{
    return bind((struct pg_stmt *)base, idx, NULL, 0, 0,
                type == ENG_STORE_INTEGER ? PG_INT8OID : PG_TEXTOID);
}

static int pg_bind_int64(struct eng_store_stmt *base, int idx, int64_t v)
{
    char num[32];
    int n = snprintf(num, sizeof num, "%" PRId64, v);
    return bind((struct pg_stmt *)base, idx, num, (size_t)n, 0, PG_INT8OID);
}

static int pg_bind_double(struct eng_store_stmt *base, int idx, double v)
{
    char num[40];
    int n = isnan(v)   ? snprintf(num, sizeof num, "NaN")
            : isinf(v) ? snprintf(num, sizeof num, "%sInfinity", v < 0 ? "-" : "")
                       : snprintf(num, sizeof num, "%.17g", v);
    return bind((struct pg_stmt *)base, idx, num, (size_t)n, 0, PG_FLOAT8OID);
}

static int pg_bind_text(struct eng_store_stmt *base, int idx, const char *v, size_t len)
{
    /* A NULL pointer is an empty string, as on SQLite. Typed text, as SQLite's value is: the
     * functions that take any type (json_build_object, json_agg, json_set's value) need one,
     * and a text compared with a number is the statement's to CAST (the common subset). */
    return bind((struct pg_stmt *)base, idx, v != NULL ? v : "", v != NULL ? len : 0, 0,
                PG_TEXTOID);
}

static int pg_bind_blob(struct eng_store_stmt *base, int idx, const void *v, size_t len)
{
    return bind((struct pg_stmt *)base, idx, v != NULL ? v : "", v != NULL ? len : 0, 1,
                PG_BYTEAOID);
}

/* Send the statement with its bound values, rows to come one at a time. */
static int start(struct pg_stmt *s, struct eng_err *err)
{
    struct pg_store *st = s->st;
    enum { FEW = 16 };
    const char *vals_few[FEW];
    int lens_few[FEW], fmts_few[FEW];
    unsigned types_few[FEW];
    const char **vals = vals_few;
    int *lens = lens_few, *fmts = fmts_few;
    unsigned *types = types_few;
    int rc = pg_idle(st, s, err);
    if (rc != 0)
        return rc;
    sync_busy(st);
    PGTransactionStatusType before = PQtransactionStatus(st->conn);
    st->active_in_tx = before == PQTRANS_INTRANS || before == PQTRANS_INERROR;
    if (s->nparams > FEW) {
        vals = malloc((size_t)s->nparams * sizeof *vals);
        lens = malloc((size_t)s->nparams * sizeof *lens);
        fmts = malloc((size_t)s->nparams * sizeof *fmts);
        types = malloc((size_t)s->nparams * sizeof *types);
    }
    if (vals == NULL || lens == NULL || fmts == NULL || types == NULL) {
        rc = eng_err_set(err, pg_fail_own(st, ENG_ENOMEM), "out of memory");
    } else {
        for (int i = 0; i < s->nparams; i++) {
            vals[i] = s->params[i].val;
            lens[i] = s->params[i].len;
            fmts[i] = s->params[i].binary;
            types[i] = s->params[i].type;
        }
        struct pg_cached *c = s->cached;
        if (c != NULL && !c->prepared) { /* a cached statement: parsed and planned once */
            snprintf(c->name, sizeof c->name, "ts_%u", ++st->next_name);
            PGresult *res = PQprepare(st->conn, c->name, s->sql, s->nparams, (const Oid *)types);
            if (PQresultStatus(res) == PGRES_COMMAND_OK)
                c->prepared = 1;
            else
                rc = pg_fail(st, res, err);
            PQclear(res);
        }
        if (rc != 0)
            ;
        else if (!(c != NULL
                       ? PQsendQueryPrepared(st->conn, c->name, s->nparams, vals, lens, fmts, 0)
                       : PQsendQueryParams(st->conn, s->sql, s->nparams, (const Oid *)types, vals,
                                           lens, fmts, 0)))
            rc = pg_fail(st, NULL, err);
        else if (!PQsetSingleRowMode(st->conn)) {
            st->active = s;
            drain(s);
            rc = eng_err_set(err, pg_fail_own(st, ENG_EIO),
                             "cannot read the PostgreSQL rows one at a time");
        }
    }
    if (vals != vals_few) {
        free(vals);
        free(lens);
        free(fmts);
        free(types);
    }
    if (rc == 0) {
        st->active = s;
        s->state = PG_RUNNING;
        s->changes = 0;
    }
    return rc;
}

static int pg_step(struct eng_store_stmt *base, struct eng_err *err)
{
    struct pg_stmt *s = (struct pg_stmt *)base;
    struct pg_store *st = s->st;
    int rc;

    clear_row(s);
    if (s->state == PG_DONE)
        return ENG_STORE_DONE;
    if (s->state == PG_FRESH && (rc = start(s, err)) != 0) {
        s->state = PG_DONE;
        return rc;
    }
    PGresult *res = next_result(s);
    if (res == NULL) { /* nothing more: the connection failed under us */
        st->active = NULL;
        s->state = PG_DONE;
        return pg_fail(st, NULL, err);
    }
    ExecStatusType t = PQresultStatus(res);
    if (t == PGRES_SINGLE_TUPLE) {
        s->row = res;
        s->ncols = PQnfields(res);
        if (s->ncols > s->blob_cols) {
            unsigned char **b = realloc(s->blob, (size_t)s->ncols * sizeof *b);
            if (b != NULL)
                s->blob = b;
            size_t *bl = b != NULL ? realloc(s->blob_len, (size_t)s->ncols * sizeof *bl) : NULL;
            if (bl != NULL)
                s->blob_len = bl;
            if (b == NULL || bl == NULL) {
                drain(s);
                s->state = PG_DONE;
                return eng_err_set(err, pg_fail_own(st, ENG_ENOMEM), "out of memory");
            }
            for (int i = s->blob_cols; i < s->ncols; i++)
                s->blob[i] = NULL;
            s->blob_cols = s->ncols;
        }
        return ENG_STORE_ROW;
    }
    rc = ENG_STORE_DONE;
    if (t == PGRES_TUPLES_OK || t == PGRES_COMMAND_OK || t == PGRES_EMPTY_QUERY) {
        int64_t ch = command_changes(res);
        s->changes = ch > 0 ? ch : 0;
        if (ch >= 0)
            st->changes = ch;
    } else {
        rc = pg_fail(st, res, err);
    }
    PQclear(res);
    drain(s);
    s->state = PG_DONE;
    if (rc == ENG_STORE_DONE && s->write_lock)
        rc = take_write_lock(st, err);
    return rc;
}

static int64_t pg_stmt_changes(struct eng_store_stmt *base)
{
    return ((struct pg_stmt *)base)->changes;
}

static int pg_column_count(struct eng_store_stmt *base)
{
    struct pg_stmt *s = (struct pg_stmt *)base;
    return s->row != NULL ? s->ncols : 0;
}

static int in_row(const struct pg_stmt *s, int col)
{
    return s->row != NULL && col >= 0 && col < s->ncols;
}

static const char *pg_column_name(struct eng_store_stmt *base, int col)
{
    struct pg_stmt *s = (struct pg_stmt *)base;
    return in_row(s, col) ? PQfname(s->row, col) : NULL;
}

/* 1 when a numeric's text is an integer that fits 64 bits. */
static int numeric_is_int(const char *v)
{
    const char *p = v + (*v == '-');
    size_t n = strspn(p, "0123456789");
    if (n == 0 || p[n] != '\0' || n > 19)
        return 0;
    errno = 0;
    (void)strtoll(v, NULL, 10);
    return errno == 0;
}

static int pg_column_type(struct eng_store_stmt *base, int col)
{
    struct pg_stmt *s = (struct pg_stmt *)base;
    if (!in_row(s, col) || PQgetisnull(s->row, 0, col))
        return ENG_STORE_NULL;
    switch (PQftype(s->row, col)) {
    case PG_BOOLOID:
    case PG_INT2OID:
    case PG_INT4OID:
    case PG_INT8OID:
    case PG_OIDOID:
        return ENG_STORE_INTEGER;
    case PG_FLOAT4OID:
    case PG_FLOAT8OID:
        return ENG_STORE_FLOAT;
    case PG_BYTEAOID:
        return ENG_STORE_BLOB;
    case PG_NUMERICOID: /* sum() and avg() of integers: what SQLite's would be */
        return numeric_is_int(PQgetvalue(s->row, 0, col)) ? ENG_STORE_INTEGER : ENG_STORE_FLOAT;
    default:
        return ENG_STORE_TEXT;
    }
}

static int64_t pg_column_int64(struct eng_store_stmt *base, int col)
{
    struct pg_stmt *s = (struct pg_stmt *)base;
    if (!in_row(s, col) || PQgetisnull(s->row, 0, col))
        return 0;
    const char *v = PQgetvalue(s->row, 0, col);
    if (PQftype(s->row, col) == PG_BOOLOID)
        return v[0] == 't';
    return strtoll(v, NULL, 10);
}

static double pg_column_double(struct eng_store_stmt *base, int col)
{
    struct pg_stmt *s = (struct pg_stmt *)base;
    if (!in_row(s, col) || PQgetisnull(s->row, 0, col))
        return 0.0;
    const char *v = PQgetvalue(s->row, 0, col);
    if (PQftype(s->row, col) == PG_BOOLOID)
        return v[0] == 't';
    return strtod(v, NULL);
}

static const void *pg_column_blob(struct eng_store_stmt *base, int col, size_t *len)
{
    struct pg_stmt *s = (struct pg_stmt *)base;
    if (len != NULL)
        *len = 0;
    if (!in_row(s, col) || PQgetisnull(s->row, 0, col))
        return NULL;
    const char *v = PQgetvalue(s->row, 0, col);
    if (PQftype(s->row, col) != PG_BYTEAOID) {
        if (len != NULL)
            *len = (size_t)PQgetlength(s->row, 0, col);
        return v;
    }
    if (s->blob[col] == NULL) { /* the text form "\x..." decoded once per row, NUL-ended */
        size_t n = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)v, &n);
        unsigned char *copy = raw != NULL ? malloc(n + 1) : NULL;
        if (copy != NULL) {
            memcpy(copy, raw, n);
            copy[n] = '\0';
        }
        PQfreemem(raw);
        if (copy == NULL)
            return NULL;
        s->blob[col] = copy;
        s->blob_len[col] = n;
    }
    if (len != NULL)
        *len = s->blob_len[col];
    return s->blob[col];
}

/* A float's text as SQLite writes a REAL ("%!.15g": 2451545.0, 0.1, 1.0e+20), made once per
 * row into the column's buffer. */
static const char *float_text(struct pg_stmt *s, int col, size_t *len)
{
    if (s->blob[col] == NULL) {
        char buf[64];
        double d = strtod(PQgetvalue(s->row, 0, col), NULL);
        int n = snprintf(buf, sizeof buf, "%.15g", d);
        if (isfinite(d) && n > 0 && strpbrk(buf, ".e") == NULL)
            snprintf(buf + n, sizeof buf - (size_t)n, ".0");
        else if (isfinite(d) && (n = (int)strcspn(buf, "e")) > 0 && buf[n] == 'e' &&
                 memchr(buf, '.', (size_t)n) == NULL) { /* 1e+20 -> 1.0e+20 */
            char tail[32];
            snprintf(tail, sizeof tail, "%s", buf + n);
            snprintf(buf + n, sizeof buf - (size_t)n, ".0%s", tail);
        }
        size_t l = strlen(buf);
        unsigned char *copy = malloc(l + 1);
        if (copy == NULL)
            return NULL;
        memcpy(copy, buf, l + 1);
        s->blob[col] = copy;
        s->blob_len[col] = l;
    }
    if (len != NULL)
        *len = s->blob_len[col];
    return (const char *)s->blob[col];
}

static const char *pg_column_text(struct eng_store_stmt *base, int col, size_t *len)
{
    struct pg_stmt *s = (struct pg_stmt *)base;
    if (len != NULL)
        *len = 0;
    if (!in_row(s, col) || PQgetisnull(s->row, 0, col))
        return NULL;
    if (PQftype(s->row, col) == PG_BYTEAOID) /* the bytes, as SQLite gives a blob's text */
        return pg_column_blob(base, col, len);
    if (PQftype(s->row, col) == PG_BOOLOID) { /* a condition's value: 1 or 0, as on SQLite */
        if (len != NULL)
            *len = 1;
        return PQgetvalue(s->row, 0, col)[0] == 't' ? "1" : "0";
    }
    if (pg_column_type(base, col) == ENG_STORE_FLOAT)
        return float_text(s, col, len);
    if (len != NULL)
        *len = (size_t)PQgetlength(s->row, 0, col);
    return PQgetvalue(s->row, 0, col);
}

#else /* no libpq: every open is refused, saying why */

static int pg_open(const char *url, const char *location, struct eng_store **out,
                   struct eng_err *err)
{
    (void)url;
    (void)location;
    *out = NULL;
    return eng_err_set(err, ENG_EINVAL,
                       "DATABASE_URL names a PostgreSQL database but this build has no "
                       "PostgreSQL support (it was built without libpq: apt install libpq-dev "
                       "and build again)");
}

#endif

#ifdef ENG_HAVE_LIBPQ
const struct store_ops eng_store_pg_ops = {
    .name = "PostgreSQL",
    .open = pg_open,
    .close = pg_close,
    .path = pg_path,
    .mode_warning = pg_mode_warning,
    .migrate = pg_migrate,
    .exec = pg_exec,
    .changes = pg_changes,
    .last_insert_rowid = pg_last_insert_rowid,
    .in_tx = pg_in_tx,
    .set_busy_timeout = pg_set_busy_timeout,
    .busy_timeout = pg_busy_timeout,
    .set_progress = pg_set_progress,
    .set_max_length = pg_set_max_length,
    .last_fail = pg_last_fail,
    .last_code = pg_last_code,
    .fail_own = op_fail_own,
    .prepare = op_prepare,
    .prepare_cached = pg_prepare_cached,
    .finalize = pg_finalize,
    .reset = pg_reset,
    .clear_bindings = pg_clear_bindings,
    .param_count = pg_param_count,
    .param_name = pg_param_name,
    .param_index = pg_param_index,
    .bind_null = pg_bind_null,
    .bind_null_typed = pg_bind_null_typed,
    .bind_int64 = pg_bind_int64,
    .bind_double = pg_bind_double,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .stmt_changes = pg_stmt_changes,
    .column_count = pg_column_count,
    .column_name = pg_column_name,
    .column_type = pg_column_type,
    .column_int64 = pg_column_int64,
    .column_double = pg_column_double,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
};
#else
/* open never succeeds, so no other operation is ever reached */
const struct store_ops eng_store_pg_ops = {.name = "PostgreSQL", .open = pg_open};
#endif
