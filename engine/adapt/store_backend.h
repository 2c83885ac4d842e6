/*
 * store_backend.h - what adapt/store.c dispatches store.h's API to: one table of operations per
 * database back end (store_sqlite.c: SQLite; store_pg.c: PostgreSQL over libpq). Internal to the
 * store adapter: only engine/adapt/store*.c include it.
 * Owns: nothing. Each back end owns its connections and statements: its own struct starts with
 * the struct eng_store / struct eng_store_stmt below, which store.c reads and never frees.
 */
#ifndef ENG_STORE_BACKEND_H
#define ENG_STORE_BACKEND_H

#include "adapt/store.h"

struct store_ops;

/* The first member of every back end's connection: store.c finds the operations here. */
struct eng_store {
    const struct store_ops *ops;
};

/* The first member of every back end's statement: the connection it was prepared on and its
 * operations (a statement may be finalized after its connection closed: store.h). */
struct eng_store_stmt {
    struct eng_store *st;
    const struct store_ops *ops;
};

/* One back end. Every operation has store.h's contract for the function of the same name;
 * the ones store.h leaves to the caller's discretion say here what a back end without the
 * facility does. */
struct store_ops {
    const char *name; /* "SQLite", "PostgreSQL": for messages */
    /* url is the DATABASE_URL as given; location is eng_store_parse_url's answer for it. */
    int (*open)(const char *url, const char *location, struct eng_store **out, struct eng_err *err);
    void (*close)(struct eng_store *st);
    const char *(*path)(const struct eng_store *st);
    int (*mode_warning)(const struct eng_store *st, char *msg, size_t size);
    int (*migrate)(struct eng_store *st, const char *schema_dir, int *applied, struct eng_err *err);
    int (*exec)(struct eng_store *st, const char *sql, struct eng_err *err);
    int64_t (*changes)(struct eng_store *st);
    int64_t (*last_insert_rowid)(struct eng_store *st);
    int (*in_tx)(struct eng_store *st);
    void (*set_busy_timeout)(struct eng_store *st, int ms);
    int (*busy_timeout)(const struct eng_store *st);
    void (*set_progress)(struct eng_store *st, int n_steps, int (*fn)(void *), void *ud);
    void (*set_max_length)(struct eng_store *st, long long bytes);
    int (*last_fail)(const struct eng_store *st);
    int (*last_code)(const struct eng_store *st);
    /* Record a failure of store.c's own (not the database's) on st; returns code. */
    int (*fail_own)(struct eng_store *st, int code);

    int (*prepare)(struct eng_store *st, const char *sql, long len, int flags,
                   struct eng_store_stmt **out, struct eng_err *err);
    /* Trusted, NUL-terminated sql for eng_store_run / _row: from the back end's cache of
     * prepared statements when it keeps one (else as prepare). Finalized with finalize. */
    int (*prepare_cached)(struct eng_store *st, const char *sql, struct eng_store_stmt **out,
                          struct eng_err *err);
    void (*finalize)(struct eng_store_stmt *s);
    void (*reset)(struct eng_store_stmt *s);
    void (*clear_bindings)(struct eng_store_stmt *s);
    int (*param_count)(struct eng_store_stmt *s);
    const char *(*param_name)(struct eng_store_stmt *s, int idx);
    int (*param_index)(struct eng_store_stmt *s, const char *name);
    int (*bind_null)(struct eng_store_stmt *s, int idx);
    /* A NULL of the type a format letter says (ENG_STORE_TEXT: 's' and eng_store_bind_str;
     * ENG_STORE_INTEGER: 'I'), for a back end whose parameters have types (PostgreSQL cannot
     * infer one for "?1 IS NULL OR col = ?1"; 'n' stays untyped). NULL: bind_null. */
    int (*bind_null_typed)(struct eng_store_stmt *s, int idx, int type);
    int (*bind_int64)(struct eng_store_stmt *s, int idx, int64_t v);
    int (*bind_double)(struct eng_store_stmt *s, int idx, double v);
    int (*bind_text)(struct eng_store_stmt *s, int idx, const char *v, size_t len);
    int (*bind_blob)(struct eng_store_stmt *s, int idx, const void *v, size_t len);
    int (*step)(struct eng_store_stmt *s, struct eng_err *err);
    /* Rows the statement, stepped to its end, changed: 0 for one that writes nothing. */
    int64_t (*stmt_changes)(struct eng_store_stmt *s);
    int (*column_count)(struct eng_store_stmt *s);
    const char *(*column_name)(struct eng_store_stmt *s, int col);
    int (*column_type)(struct eng_store_stmt *s, int col);
    int64_t (*column_int64)(struct eng_store_stmt *s, int col);
    double (*column_double)(struct eng_store_stmt *s, int col);
    const char *(*column_text)(struct eng_store_stmt *s, int col, size_t *len);
    const void *(*column_blob)(struct eng_store_stmt *s, int col, size_t *len);
};

extern const struct store_ops eng_store_sqlite_ops; /* store_sqlite.c */
extern const struct store_ops eng_store_pg_ops;     /* store_pg.c (an error-only stub without
                                                     * libpq: ENG_HAVE_LIBPQ) */

/* Load libpq (store_pg_load.c: dlopen of libpq.so.5 on the first PostgreSQL open, so that a
 * process on SQLite never maps it): 0, or ENG_EIO with err saying why it cannot be used. */
int eng_store_pg_load(struct eng_err *err);

/* store_pg.c's translation of the engine's SQL, one linear pass over sql[n] into out[outsize]
 * (8n + 64 is enough): ?N -> $N and ? -> $(largest so far + 1) outside string literals, quoted
 * identifiers and comments. With ENG_PG_DIALECT, in the same pass, SQLite's dialect (the common
 * subset, ARCHITECTURE.md) becomes PostgreSQL's: the calls of its rename table (strftime,
 * julianday, json_extract, json_type, json_valid, json_set, json_each, json -> the ts_* twins
 * of schema/pg/compat.sql, hex, zeroblob, group_concat too; json_object, json_group_array ->
 * PostgreSQL's json_build_object, json_agg, made compact; ifnull -> coalesce, instr -> strpos),
 * the types (INTEGER -> BIGINT, INTEGER PRIMARY KEY [AUTOINCREMENT] -> an identity column, REAL
 * -> DOUBLE PRECISION, BLOB -> BYTEA), x'..' blob literals -> '\x..'::bytea, a subquery in FROM
 * without a name gets one (AS ts_subN), SQLite's IS / IS NOT between two values -> IS [NOT]
 * DISTINCT FROM, and BEGIN
 * IMMEDIATE / EXCLUSIVE -> BEGIN plus the write lock (ENG_PG_WRITE_LOCK_SQL: written after it
 * with ENG_PG_MULTI, else res->write_lock for the caller to take). ENG_PG_MULTI: several
 * statements (exec) are translated whole, else res->tail = where a second one starts (NULL when
 * none does). res->empty = 1 when there is no statement. 0, or ENG_EINVAL (a number outside
 * 1..32766, a dollar-quote tag longer than 63 bytes, json_object / json_group_array calls or
 * subqueries in FROM nested more than 32 deep, out too small). The scalar max(a, b) / min(a, b)
 * keep their names: compat.sql defines two-argument functions beside the aggregates. */
enum { ENG_PG_DIALECT = 1, ENG_PG_MULTI = 2 };
struct eng_pg_xlate {
    int nparams;      /* the largest parameter number */
    const char *tail; /* where a second statement starts, or NULL */
    int empty;        /* no statement at all */
    int write_lock;   /* a BEGIN that must take the write lock once it ran */
};
int eng_store_pg_translate(const char *sql, size_t n, char *out, size_t outsize, int flags,
                           struct eng_pg_xlate *res);
/* SQLite's BEGIN IMMEDIATE holds the database's one write lock at once: on PostgreSQL a
 * transaction-scoped advisory lock per schema (the engine's tables), so BEGIN IMMEDIATE
 * transactions run one at a time as on SQLite, waiting up to the busy timeout (lock_timeout:
 * then ENG_EBUSY). */
#define ENG_PG_WRITE_LOCK_SQL "SELECT pg_advisory_xact_lock(7, hashtext(current_schema()))"

/* ---- migration files (store.c; the same for both back ends) ---- */
struct eng_store_migration {
    long version;
    char *file; /* "0001_core.sql" */
};
/* The sorted, checked list of dir's NNNN_name.sql files: numbered 1, 2, 3... without gap or
 * duplicate, else ENG_EINVAL naming the file. Freed with eng_store_migrations_free. */
int eng_store_migrations_list(const char *dir, struct eng_store_migration **out, size_t *count,
                              struct eng_err *err);
void eng_store_migrations_free(struct eng_store_migration *m, size_t n);
/* The whole file at path, NUL-terminated (a NUL inside is ENG_EINVAL); the caller frees. */
int eng_store_read_file(const char *path, char **data, size_t *len, struct eng_err *err);
/* An applied migration's record (name, checksum) against the file m in dir, whose checksum is
 * sum: 0, or ENG_EINVAL naming what changed. */
int eng_store_migration_check(const char *dir, const struct eng_store_migration *m,
                              const char *name, const char *rec_sum, const char *sum,
                              struct eng_err *err);

/* "SQLite 3.40.1" (static text) */
const char *eng_store_sqlite_version(void);

#endif
