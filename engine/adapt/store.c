/*
 * store.c - the store's front: DATABASE_URL parsing, the choice of back end at open, and store.h's
 * API dispatched to that back end's operations (store_backend.h): SQLite (store_sqlite.c) or
 * PostgreSQL (store_pg.c). Also what is the same over both: one connection per thread, the
 * one-call statement helpers (eng_store_run / _row / _row_kept), migration checksums.
 * Owns: the per-thread connections (struct store_tls) and nothing else: every connection and
 * statement belongs to the back end that opened it.
 * Must not: include a database library's header (the back ends do), or put a URL's password or a
 * bound value into a message.
 */
#include "adapt/store.h"

#include "adapt/crypto.h"
#include "adapt/store_backend.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------------------------ */
/* DATABASE_URL                                                                                */

/* Length of a URL scheme at the start of s ("sqlite" in "sqlite:..."), or 0 when s does not
 * start with one. One-letter schemes are not schemes (a drive letter, say). */
static size_t url_scheme_len(const char *s)
{
    size_t n = 0;

    if (!isalpha((unsigned char)s[0]))
        return 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.')
        n++;
    return s[n] == ':' && n > 1 ? n : 0;
}

/* 1 when url's scheme is postgres: or postgresql: */
static int url_is_pg(const char *url)
{
    size_t scheme = url != NULL ? url_scheme_len(url) : 0;
    return (scheme == 8 && strncasecmp(url, "postgres", 8) == 0) ||
           (scheme == 10 && strncasecmp(url, "postgresql", 10) == 0);
}

int eng_store_url_is_pg(const char *url)
{
    return url_is_pg(url);
}

int eng_store_parse_url(const char *url, char *path, size_t size, struct eng_err *err)
{
    const char *p;
    size_t n, scheme;

    if (url == NULL || url[0] == '\0')
        return eng_err_set(err, ENG_EINVAL,
                           "DATABASE_URL is empty; expected a SQLite location such as "
                           "sqlite:./data/pos.db or a postgres:// URL");
    scheme = url_scheme_len(url);
    if (scheme == 0 || url_is_pg(url)) {
        p = url; /* a bare path, taken as it is; a PostgreSQL URL is libpq's to read */
        n = strlen(p);
    } else if (scheme == 6 && strncasecmp(url, "sqlite", 6) == 0) {
        p = url + 7;
        if (p[0] == '/' && p[1] == '/')
            p += 2;           /* sqlite://rel/x.db, sqlite:///abs/x.db */
        n = strcspn(p, "?#"); /* sqlx's "?mode=rwc" and friends */
    } else {
        return eng_err_set(err, ENG_EINVAL,
                           "DATABASE_URL has the unsupported scheme \"%.*s:\"; expected "
                           "sqlite:PATH, a bare file path or postgres://...",
                           (int)(scheme > 32 ? 32 : scheme), url);
    }
    if (n == 0)
        return eng_err_set(err, ENG_EINVAL,
                           "DATABASE_URL names no file; expected e.g. sqlite:./data/pos.db");
    if (n >= size)
        return eng_err_set(err, ENG_EINVAL, "DATABASE_URL is too long (%zu bytes)", n);
    memcpy(path, p, n);
    path[n] = '\0';
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* connections                                                                                 */

int eng_store_open(const char *path_or_url, struct eng_store **out, struct eng_err *err)
{
    char location[PATH_MAX];
    *out = NULL;
    int rc = eng_store_parse_url(path_or_url, location, sizeof location, err);
    if (rc != 0)
        return rc;
    const struct store_ops *ops =
        url_is_pg(path_or_url) ? &eng_store_pg_ops : &eng_store_sqlite_ops;
    return ops->open(path_or_url, location, out, err);
}

void eng_store_close(struct eng_store *st)
{
    if (st != NULL)
        st->ops->close(st);
}

/* ---- one connection per thread ---- */

struct store_tls {
    char *url;
    struct eng_store *st;
};

static pthread_key_t store_tls_key;
static pthread_once_t store_tls_once = PTHREAD_ONCE_INIT;

static void store_tls_free(void *p)
{
    struct store_tls *t = p;
    eng_store_close(t->st);
    free(t->url);
    free(t);
}

static void store_tls_init(void)
{
    pthread_key_create(&store_tls_key, store_tls_free);
}

struct eng_store *eng_store_thread(const char *path_or_url, struct eng_err *err)
{
    pthread_once(&store_tls_once, store_tls_init);
    struct store_tls *t = pthread_getspecific(store_tls_key);
    if (t != NULL && strcmp(t->url, path_or_url) == 0)
        return t->st;
    struct eng_store *st = NULL;
    if (eng_store_open(path_or_url, &st, err) != 0)
        return NULL;
    struct store_tls *fresh = calloc(1, sizeof *fresh);
    char *url = strdup(path_or_url);
    if (fresh == NULL || url == NULL) {
        free(fresh);
        free(url);
        eng_store_close(st);
        eng_err_set(err, ENG_ENOMEM, "out of memory opening the store");
        return NULL;
    }
    fresh->url = url;
    fresh->st = st;
    if (t != NULL)
        store_tls_free(t);
    pthread_setspecific(store_tls_key, fresh);
    return st;
}

const char *eng_store_path(const struct eng_store *st)
{
    return st->ops->path(st);
}

int eng_store_mode_warning(const struct eng_store *st, char *msg, size_t size)
{
    return st->ops->mode_warning(st, msg, size);
}

const char *eng_store_lib_version(void)
{
    return eng_store_sqlite_version();
}

int eng_store_migrate(struct eng_store *st, const char *schema_dir, int *applied,
                      struct eng_err *err)
{
    return st->ops->migrate(st, schema_dir, applied, err);
}

/* ---- migration files (both back ends) ---- */

void eng_store_migrations_free(struct eng_store_migration *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(m[i].file);
    free(m);
}

static int migration_cmp(const void *a, const void *b)
{
    const struct eng_store_migration *x = a, *y = b;

    if (x->version != y->version)
        return x->version < y->version ? -1 : 1;
    return strcmp(x->file, y->file);
}

/* "0007_webhooks.sql" -> 7; -1 when the name does not have the NNNN_name.sql shape. */
static long migration_version(const char *name)
{
    const char *p = name;
    long v = 0;
    size_t n = strlen(name);

    if (n < 6 || strcmp(name + n - 4, ".sql") != 0 || !isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p)) {
        if (v > 99999999)
            return -1;
        v = v * 10 + (*p++ - '0');
    }
    if (*p++ != '_' || p >= name + n - 4)
        return -1;
    for (; p < name + n - 4; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return -1;
    return v;
}

/* The sorted, checked list of migration files in dir. */
int eng_store_migrations_list(const char *dir, struct eng_store_migration **out, size_t *count,
                              struct eng_err *err)
{
    DIR *d = opendir(dir);
    struct eng_store_migration *m = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = 0;

    *out = NULL;
    *count = 0;
    if (d == NULL)
        return eng_err_set(err, errno == ENOENT ? ENG_ENOTFOUND : ENG_EIO,
                           "cannot read the schema directory %s: %s", dir, strerror(errno));
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        long v;
        if (e->d_name[0] == '.' || len < 4 || strcmp(e->d_name + len - 4, ".sql") != 0)
            continue;
        v = migration_version(e->d_name);
        if (v < 0) {
            rc = eng_err_set(err, ENG_EINVAL,
                             "schema file %s/%s is not named NNNN_name.sql (digits, '_', then "
                             "letters, digits, '_' or '-')",
                             dir, e->d_name);
            break;
        }
        if (n == cap) {
            struct eng_store_migration *grown;
            cap = cap ? cap * 2 : 16;
            grown = realloc(m, cap * sizeof *m);
            if (grown == NULL) {
                rc = eng_err_set(err, ENG_ENOMEM, "out of memory listing %s", dir);
                break;
            }
            m = grown;
        }
        m[n].version = v;
        m[n].file = strdup(e->d_name);
        if (m[n].file == NULL) {
            rc = eng_err_set(err, ENG_ENOMEM, "out of memory listing %s", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 0)
        qsort(m, n, sizeof *m, migration_cmp);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i > 0 && m[i].version == m[i - 1].version)
            rc = eng_err_set(err, ENG_EINVAL, "schema files %s and %s in %s have the same number",
                             m[i - 1].file, m[i].file, dir);
        else if (m[i].version != (long)i + 1)
            rc = eng_err_set(err, ENG_EINVAL,
                             "schema file %s in %s breaks the sequence: expected number %zu "
                             "(migrations are numbered 1, 2, 3... without gaps)",
                             m[i].file, dir, i + 1);
    }
    if (rc != 0) {
        eng_store_migrations_free(m, n);
        return rc;
    }
    *out = m;
    *count = n;
    return 0;
}

int eng_store_read_file(const char *path, char **data, size_t *len, struct eng_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    *data = NULL;
    if (f == NULL)
        return eng_err_set(err, ENG_EIO, "cannot read %s: %s", path, strerror(errno));
    for (;;) {
        size_t got;
        if (cap - n < 4096) {
            char *grown = realloc(buf, cap = cap * 2 + 8192);
            if (grown == NULL) {
                free(buf);
                fclose(f);
                return eng_err_set(err, ENG_ENOMEM, "out of memory reading %s", path);
            }
            buf = grown;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return eng_err_set(err, ENG_EIO, "cannot read %s", path);
    }
    fclose(f);
    buf[n] = '\0';
    if (strlen(buf) != n) {
        free(buf);
        return eng_err_set(err, ENG_EINVAL, "%s contains a NUL byte", path);
    }
    *data = buf;
    *len = n;
    return 0;
}

/* Compare an applied migration's record with the file on disk. */
int eng_store_migration_check(const char *dir, const struct eng_store_migration *m,
                              const char *name, const char *rec_sum, const char *sum,
                              struct eng_err *err)
{
    if (strcmp(name, m->file) != 0)
        return eng_err_set(err, ENG_EINVAL,
                           "schema migration %ld was applied as %s but the file in %s is now %s; "
                           "applied migrations must not be renamed",
                           m->version, name, dir, m->file);
    if (strcmp(rec_sum, sum) != 0)
        return eng_err_set(err, ENG_EINVAL,
                           "schema migration %s/%s was changed after it was applied (recorded "
                           "checksum %s, file now %s); add a new migration instead of editing "
                           "an applied one",
                           dir, m->file, rec_sum, sum);
    return 0;
}

int eng_store_checksum(const void *data, size_t len, char *out, size_t size, struct eng_err *err)
{
    unsigned char digest[ENG_CRYPTO_SHA256_LEN];
    int rc;

    if (size < 2 * ENG_CRYPTO_SHA256_LEN + 1)
        return eng_err_set(err, ENG_EINVAL, "checksum buffer too small");
    rc = eng_crypto_sha256(data, len, digest, err);
    if (rc == 0)
        rc = eng_crypto_hex_encode(digest, sizeof digest, out, size, err);
    return rc;
}

int eng_store_exec(struct eng_store *st, const char *sql, struct eng_err *err)
{
    return st->ops->exec(st, sql, err);
}

int64_t eng_store_changes(struct eng_store *st)
{
    return st->ops->changes(st);
}

int64_t eng_store_last_insert_rowid(struct eng_store *st)
{
    return st->ops->last_insert_rowid(st);
}

int eng_store_in_tx(struct eng_store *st)
{
    return st->ops->in_tx(st);
}

void eng_store_set_busy_timeout(struct eng_store *st, int ms)
{
    st->ops->set_busy_timeout(st, ms);
}

int eng_store_busy_timeout(const struct eng_store *st)
{
    return st->ops->busy_timeout(st);
}

void eng_store_set_progress(struct eng_store *st, int n_steps, int (*fn)(void *), void *ud)
{
    st->ops->set_progress(st, n_steps, fn, ud);
}

void eng_store_set_max_length(struct eng_store *st, long long bytes)
{
    st->ops->set_max_length(st, bytes);
}

int eng_store_last_fail(const struct eng_store *st)
{
    return st->ops->last_fail(st);
}

int eng_store_last_code(const struct eng_store *st)
{
    return st->ops->last_code(st);
}

static int store_fail_own(struct eng_store *st, int code)
{
    return st->ops->fail_own(st, code);
}

/* ------------------------------------------------------------------------------------------ */
/* statements                                                                                  */

int eng_store_prepare(struct eng_store *st, const char *sql, long len, int flags,
                      struct eng_store_stmt **out, struct eng_err *err)
{
    return st->ops->prepare(st, sql, len, flags, out, err);
}

void eng_store_finalize(struct eng_store_stmt *s)
{
    if (s != NULL)
        s->ops->finalize(s);
}

void eng_store_reset(struct eng_store_stmt *s)
{
    s->ops->reset(s);
}

void eng_store_clear_bindings(struct eng_store_stmt *s)
{
    s->ops->clear_bindings(s);
}

int eng_store_param_count(struct eng_store_stmt *s)
{
    return s->ops->param_count(s);
}

const char *eng_store_param_name(struct eng_store_stmt *s, int idx)
{
    return s->ops->param_name(s, idx);
}

int eng_store_param_index(struct eng_store_stmt *s, const char *name)
{
    return s->ops->param_index(s, name);
}

int eng_store_bind_null(struct eng_store_stmt *s, int idx)
{
    return s->ops->bind_null(s, idx);
}

int eng_store_bind_int64(struct eng_store_stmt *s, int idx, int64_t v)
{
    return s->ops->bind_int64(s, idx, v);
}

int eng_store_bind_double(struct eng_store_stmt *s, int idx, double v)
{
    return s->ops->bind_double(s, idx, v);
}

int eng_store_bind_text(struct eng_store_stmt *s, int idx, const char *v, size_t len)
{
    return s->ops->bind_text(s, idx, v, len);
}

/* A NULL standing for a value of this type (store_backend.h, bind_null_typed). */
static int bind_null_as(struct eng_store_stmt *s, int idx, int type)
{
    return s->ops->bind_null_typed != NULL ? s->ops->bind_null_typed(s, idx, type)
                                           : eng_store_bind_null(s, idx);
}

int eng_store_bind_str(struct eng_store_stmt *s, int idx, const char *v)
{
    return v != NULL ? eng_store_bind_text(s, idx, v, strlen(v))
                     : bind_null_as(s, idx, ENG_STORE_TEXT);
}

int eng_store_bind_blob(struct eng_store_stmt *s, int idx, const void *v, size_t len)
{
    return s->ops->bind_blob(s, idx, v, len);
}

int eng_store_step(struct eng_store_stmt *s, struct eng_err *err)
{
    return s->ops->step(s, err);
}

/* Bind fmt's letters from ap to ?1.. of s (store.h: "one statement in one call"). */
static int bind_fmt(struct eng_store_stmt *s, const char *fmt, va_list ap, struct eng_err *err)
{
    size_t n = strlen(fmt);
    int want = eng_store_param_count(s);
    if (n != (size_t)want)
        return eng_err_set(err, store_fail_own(s->st, ENG_EINVAL),
                           "the statement has %d parameters, the format binds %zu", want, n);
    for (int i = 1; i <= want; i++) {
        int rc;
        const char *p;
        const void *v;
        size_t len;
        switch (fmt[i - 1]) {
        case 's':
            rc = eng_store_bind_str(s, i, va_arg(ap, const char *));
            break;
        case 't':
            p = va_arg(ap, const char *);
            len = va_arg(ap, size_t);
            rc = eng_store_bind_text(s, i, p, len);
            break;
        case 'b':
            v = va_arg(ap, const void *);
            len = va_arg(ap, size_t);
            rc = eng_store_bind_blob(s, i, v, len);
            break;
        case 'i':
            rc = eng_store_bind_int64(s, i, va_arg(ap, int64_t));
            break;
        case 'I':
            v = va_arg(ap, const int64_t *);
            rc = v != NULL ? eng_store_bind_int64(s, i, *(const int64_t *)v)
                           : bind_null_as(s, i, ENG_STORE_INTEGER);
            break;
        case 'd':
            rc = eng_store_bind_double(s, i, va_arg(ap, double));
            break;
        case 'n':
            rc = eng_store_bind_null(s, i);
            break;
        default:
            return eng_err_set(err, store_fail_own(s->st, ENG_EINVAL),
                               "bad parameter letter '%c' in a statement format", fmt[i - 1]);
        }
        if (rc != 0)
            return eng_err_set(err, store_fail_own(s->st, rc), "cannot bind parameter %d: %s", i,
                               eng_err_name(rc));
    }
    return 0;
}

/* Prepare trusted sql and bind fmt from ap. 0 with *out to finalize, or < 0 with *out NULL. */
static int prepare_fmt(struct eng_store *st, const char *sql, struct eng_store_stmt **out,
                       struct eng_err *err, const char *fmt, va_list ap)
{
    int rc = st->ops->prepare_cached(st, sql, out, err);
    if (rc == 0 && (rc = bind_fmt(*out, fmt, ap, err)) != 0) {
        eng_store_finalize(*out);
        *out = NULL;
    }
    return rc;
}

int eng_store_run(struct eng_store *st, const char *sql, struct eng_err *err, const char *fmt, ...)
{
    struct eng_store_stmt *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    int rc = prepare_fmt(st, sql, &s, err, fmt, ap);
    va_end(ap);
    if (rc != 0)
        return rc;
    while ((rc = eng_store_step(s, err)) == ENG_STORE_ROW) {
    }
    int changes = (int)st->ops->stmt_changes(s);
    eng_store_finalize(s);
    return rc < 0 ? rc : changes;
}

int eng_store_row(struct eng_store *st, const char *sql, struct eng_store_stmt **out,
                  struct eng_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = prepare_fmt(st, sql, out, err, fmt, ap);
    va_end(ap);
    if (rc == 0)
        rc = eng_store_step(*out, err);
    if (rc != ENG_STORE_ROW) {
        eng_store_finalize(*out);
        *out = NULL;
    }
    return rc;
}

int eng_store_row_kept(struct eng_store *st, const char *sql, struct eng_store_stmt **slot,
                       struct eng_err *err, const char *fmt, ...)
{
    int rc = 0;
    if (*slot == NULL) {
        rc = eng_store_prepare(st, sql, -1, ENG_STORE_TRUSTED, slot, err);
    } else {
        eng_store_reset(*slot);
        eng_store_clear_bindings(*slot);
    }
    if (rc == 0) {
        va_list ap;
        va_start(ap, fmt);
        rc = bind_fmt(*slot, fmt, ap, err);
        va_end(ap);
    }
    if (rc == 0)
        rc = eng_store_step(*slot, err);
    return rc;
}

int eng_store_column_count(struct eng_store_stmt *s)
{
    return s->ops->column_count(s);
}

const char *eng_store_column_name(struct eng_store_stmt *s, int col)
{
    return s->ops->column_name(s, col);
}

int eng_store_column_type(struct eng_store_stmt *s, int col)
{
    return s->ops->column_type(s, col);
}

int64_t eng_store_column_int64(struct eng_store_stmt *s, int col)
{
    return s->ops->column_int64(s, col);
}

double eng_store_column_double(struct eng_store_stmt *s, int col)
{
    return s->ops->column_double(s, col);
}

const char *eng_store_column_text(struct eng_store_stmt *s, int col, size_t *len)
{
    return s->ops->column_text(s, col, len);
}

int eng_store_column_copy(struct eng_store_stmt *s, int col, char *buf, size_t size)
{
    size_t n = 0;
    const char *v = eng_store_column_text(s, col, &n);
    if (v == NULL || n >= size)
        return 0;
    memcpy(buf, v, n + 1);
    return 1;
}

char *eng_store_column_strdup(struct eng_store_stmt *s, int col)
{
    size_t n;
    const char *v = eng_store_column_text(s, col, &n);
    if (v == NULL || eng_store_column_type(s, col) == ENG_STORE_NULL)
        return NULL;
    char *p = malloc(n + 1);
    if (p != NULL)
        memcpy(p, v, n + 1);
    return p;
}

const void *eng_store_column_blob(struct eng_store_stmt *s, int col, size_t *len)
{
    return s->ops->column_blob(s, col, len);
}
