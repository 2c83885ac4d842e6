/*
 * store.h - the engine's own store: DATABASE_URL parsing, connections, migrations and a small
 * statement API, so that no other file includes sqlite3.h or libpq-fe.h (STYLE 1). The back end
 * is chosen by the URL at open: SQLite (store_sqlite.c, the embedded default) or PostgreSQL
 * (store_pg.c, over libpq: migrations and the statement API, no script SQL yet, and the engine's
 * commands still refuse it - see eng_store_url_is_pg). The engine's SQL is written once, in
 * SQLite's dialect restricted to the common subset ARCHITECTURE.md lists; store_pg.c makes it
 * PostgreSQL's. Where this header says "SQLite", a PostgreSQL connection behaves as store_pg.c's
 * header comment says.
 * Owns: every sqlite3 / sqlite3_stmt and PGconn / PGresult handle. Must not: be shared between
 * threads - one struct eng_store per thread (a connection and its statements are used by one
 * thread at a time); call back into Lua (the progress callback is plain C).
 */
#ifndef ENG_STORE_H
#define ENG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct eng_store;      /* one connection; never shared across threads */
struct eng_store_stmt; /* one prepared statement of that connection */

#define ENG_STORE_BUSY_TIMEOUT_MS 5000 /* default busy timeout of every connection */

/* ---- DATABASE_URL ---- */

/* Turn DATABASE_URL into what its back end opens: for SQLite a file path ("sqlite:./data/pos.db",
 * "sqlite://rel/path.db", "sqlite:///abs/path.db", "sqlite::memory:" (":memory:") or a bare
 * path; a "?query" suffix, sqlx's "?mode=rwc", is dropped); a "postgres://" / "postgresql://"
 * URL is copied as it is (libpq reads it at open). Any other scheme -> ENG_EINVAL. Writes into
 * path[size]. */
int eng_store_parse_url(const char *url, char *path, size_t size, struct eng_err *err);
/* 1 when url names a PostgreSQL database (postgres:// or postgresql://), else 0. The commands
 * refuse such a URL until the PostgreSQL store is complete (issue 15). */
int eng_store_url_is_pg(const char *url);

/* ---- connections ---- */

/* DATABASE_URL's default. Its folder (./data) is the only one the engine creates: a configured
 * path whose folder is missing is a typo to report, not a tree to make. */
#define ENG_STORE_DEFAULT_URL "sqlite:./data/pos.db"

/* Open the database named by a path or a DATABASE_URL (parsed with eng_store_parse_url). A
 * missing file is created mode 0600 whatever the umask (SQLite gives its -wal and -shm the
 * same mode): it holds customers' addresses and sealed credentials. A missing folder is
 * ENG_ENOTFOUND naming it, except ENG_STORE_DEFAULT_URL's, made 0700. Every connection gets: WAL
 * journal mode, synchronous=NORMAL, foreign_keys=ON, a 5 s busy timeout, extended result codes,
 * defensive mode, no double-quoted string literals, and no extension loading (also the default of
 * Debian's SQLite: load_extension() is off unless a C caller enables it, which this file never
 * does). On success *out is owned by the caller (eng_store_close); on failure *out is NULL and err
 * says why. */
int eng_store_open(const char *path_or_url, struct eng_store **out, struct eng_err *err);
/* Close st. NULL is fine. Statements still open keep the connection alive until they are
 * finalized (sqlite3_close_v2, made for garbage-collected hosts) but must not be stepped. */
void eng_store_close(struct eng_store *st);
/* This thread's own connection to path_or_url, opened on first use and kept until the thread
 * ends (then closed by a thread-exit destructor). For long-lived threads that each need one
 * connection: the HTTP server's pool and the workers. Owned by the thread: never close it,
 * never hand it to another thread. NULL with err filled when it cannot be opened. */
struct eng_store *eng_store_thread(const char *path_or_url, struct eng_err *err);

/* The file path the connection was opened on (owned by st); PostgreSQL: the URL without its
 * password ("postgres://user@host:port/db"). */
const char *eng_store_path(const struct eng_store *st);
/* When st's file, or its -wal or -shm, can be read or written by its group or by others:
 * writes a sentence naming the file, its mode and the fix into msg and answers 1; else 0. */
int eng_store_mode_warning(const struct eng_store *st, char *msg, size_t size);
/* The SQLite library the process runs on, e.g. "SQLite 3.40.1" (static text). */
const char *eng_store_lib_version(void);

/* Apply schema_dir/NNNN_name.sql files in numeric order, each in its own BEGIN IMMEDIATE
 * transaction together with its row in schema_migrations(version, name, checksum, applied_at).
 * Already applied files are checked, not re-run: a changed checksum or name is an error naming
 * the file. Numbers must run 1, 2, 3... with no gap or duplicate; a .sql file whose name does not
 * match, or a database newer than the directory, is an error. Two processes migrating at once
 * serialize on the write lock. *applied (may be NULL) = files applied by this call. */
int eng_store_migrate(struct eng_store *st, const char *schema_dir, int *applied,
                      struct eng_err *err);
/* The checksum migrate records for a file's bytes: SHA-256 as 64 lowercase hex digits (through
 * engine/adapt/crypto.h), NUL-terminated into out[size >= 65]. */
int eng_store_checksum(const void *data, size_t len, char *out, size_t size, struct eng_err *err);

/* Run trusted, constant SQL (may hold several statements), e.g. "BEGIN IMMEDIATE", "COMMIT",
 * "ROLLBACK", a test fixture. Never pass text built from input: use the statement API. */
int eng_store_exec(struct eng_store *st, const char *sql, struct eng_err *err);

/* Rows changed by the last INSERT/UPDATE/DELETE, and the rowid of the last INSERT. */
int64_t eng_store_changes(struct eng_store *st);
int64_t eng_store_last_insert_rowid(struct eng_store *st);
/* 1 when a transaction is open on st. */
int eng_store_in_tx(struct eng_store *st);

/* Busy timeout in milliseconds (0 = fail at once with ENG_EBUSY). */
void eng_store_set_busy_timeout(struct eng_store *st, int ms);
/* The connection's busy timeout in ms (ENG_STORE_BUSY_TIMEOUT_MS unless set). */
int eng_store_busy_timeout(const struct eng_store *st);
/* Call fn(ud) about every n_steps VM steps while a statement runs; a non-zero return aborts
 * that statement with ENG_EBUDGET ("interrupted"). fn must not touch a lua_State or st.
 * fn == NULL removes it. */
void eng_store_set_progress(struct eng_store *st, int n_steps, int (*fn)(void *), void *ud);
/* The longest string or blob one value on st may grow to (SQLite's LENGTH limit; longer is an
 * error, "string or blob too big"). Scripts' connection: their memory cap, because SQLite builds
 * such a value outside the Lua allocator. bytes <= 0 leaves SQLite's default. */
void eng_store_set_max_length(struct eng_store *st, long long bytes);

/* ---- statements ---- */

enum eng_store_flags {
    ENG_STORE_TRUSTED = 0, /* engine C code: anything SQLite accepts */
    /* Script SQL (engine.db): ATTACH, DETACH, PRAGMA, VACUUM, transaction control (BEGIN,
     * COMMIT, ROLLBACK, SAVEPOINT, RELEASE), schema changes other than TEMP tables and indexes,
     * every SQL function not on store.c's allow-list (load_extension(), fts3_tokenizer(),
     * printf() ... are not on it), and every table not on its allow-list are refused with
     * ENG_EINVAL at prepare time. The tables: TEMP ones and the POS's orders / order_items
     * (read and write), settings and sync_runs (id, tenant_id, state, cancel_requested) read
     * only; api_tokens, integration_credentials, oauth_states, the queue, the sync and webhook
     * tables and every other table are neither read nor written. */
    ENG_STORE_SCRIPT = 1,
    /* With ENG_STORE_SCRIPT: no write at all (INSERT, UPDATE, DELETE, even of TEMP tables, and
     * no TEMP table or index created or dropped): a dry run. */
    ENG_STORE_READONLY = 2,
    /* With ENG_STORE_SCRIPT: every table may be read and written (the DDL / PRAGMA / ATTACH
     * fence and the function allow-list stay): `tallysync run`, the operator's own scripts. */
    ENG_STORE_ALL_TABLES = 4,
};

/* Compile exactly one statement of sql[len] (len < 0: NUL-terminated). Text after the first
 * statement other than whitespace, ';' and comments -> ENG_EINVAL "only one statement per
 * call"; empty SQL -> ENG_EINVAL. *out is owned by the caller (eng_store_finalize). */
int eng_store_prepare(struct eng_store *st, const char *sql, long len, int flags,
                      struct eng_store_stmt **out, struct eng_err *err);
/* Finalize; NULL is fine. */
void eng_store_finalize(struct eng_store_stmt *s);
/* Back to the first step, keeping bindings (eng_store_clear_bindings drops them). */
void eng_store_reset(struct eng_store_stmt *s);
void eng_store_clear_bindings(struct eng_store_stmt *s);

/* Parameters are numbered from 1. Named ones keep their prefix (":id", "@id", "$id"); a plain
 * "?" has no name (NULL). index_of takes the full name with prefix and returns 0 when absent. */
int eng_store_param_count(struct eng_store_stmt *s);
const char *eng_store_param_name(struct eng_store_stmt *s, int idx);
int eng_store_param_index(struct eng_store_stmt *s, const char *name);

/* Bind (SQLite copies text and blobs). 0, or ENG_EINVAL (bad index) / ENG_ENOMEM. */
int eng_store_bind_null(struct eng_store_stmt *s, int idx);
int eng_store_bind_int64(struct eng_store_stmt *s, int idx, int64_t v);
int eng_store_bind_double(struct eng_store_stmt *s, int idx, double v);
int eng_store_bind_text(struct eng_store_stmt *s, int idx, const char *v, size_t len);
/* The store's clock, in the one text form every timestamp column holds
 * ("2026-12-07T03:04:05.678Z"): the only place SQL says what "now" is. Common-subset SQL (on
 * PostgreSQL strftime is schema/pg/compat.sql's ts_strftime, by store_pg.c's rename table). */
#define ENG_STORE_NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
/* now plus the integer number of seconds the SQL expression `secs` gives (negative: earlier) */
#define ENG_STORE_NOW_PLUS_S(secs) "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', (" secs ") || ' seconds')"
/* now plus the SQL expression `ms` milliseconds (an integer) */
#define ENG_STORE_NOW_PLUS_MS(ms)                                                                  \
    "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ((" ms ") / 1000.0) || ' seconds')"
/* The forms the data layer writes through, each valid SQL on both back ends:
 *   ENG_STORE_UPSERT("a, b")          after INSERT ... VALUES (...): on a conflict on (a, b),
 *                                     update with the SET list that follows (excluded.col = new)
 *   ENG_STORE_RETURNING("col, ...")   at the end of an INSERT/UPDATE: the changed rows' columns
 *   ENG_STORE_IS_JSON_OBJECT("expr")  1 when the text expr is a JSON object, else 0
 *   ENG_STORE_GREATEST("a", "b")      the larger of two values (the scalar max: compat.sql
 *                                     defines its PostgreSQL twin)
 *   ENG_STORE_BEGIN_WRITE             opens a transaction that holds the write lock at once
 *                                     (store_pg.c: BEGIN and ENG_PG_WRITE_LOCK_SQL) */
#define ENG_STORE_UPSERT(target)  " ON CONFLICT (" target ") DO UPDATE SET"
#define ENG_STORE_RETURNING(cols) " RETURNING " cols
#define ENG_STORE_IS_JSON_OBJECT(x)                                                                \
    "CASE WHEN json_valid(" x ") THEN CASE WHEN json_type(" x ") = 'object' THEN 1 ELSE 0 END "    \
    "ELSE 0 END"
#define ENG_STORE_GREATEST(a, b) "max(" a ", " b ")"
#define ENG_STORE_BEGIN_WRITE    "BEGIN IMMEDIATE"
/* A NUL-terminated string, or SQL NULL when v is NULL ("" stays ""). */
int eng_store_bind_str(struct eng_store_stmt *s, int idx, const char *v);
int eng_store_bind_blob(struct eng_store_stmt *s, int idx, const void *v, size_t len);

#define ENG_STORE_DONE 0 /* eng_store_step: no more rows */
#define ENG_STORE_ROW  1 /* eng_store_step: a row is ready for the column getters */

/* Run to the next row. ENG_STORE_ROW, ENG_STORE_DONE, or a negative code with err filled with
 * SQLite's message: ENG_EBUSY (locked), ENG_EEXIST (constraint violation), ENG_EBUDGET
 * (interrupted by the progress callback), ENG_ENOMEM, ENG_EIO (anything else).
 * eng_store_last_fail tells which, eng_store_last_code gives SQLite's extended code. */
int eng_store_step(struct eng_store_stmt *s, struct eng_err *err);

enum eng_store_fail {
    ENG_STORE_FAIL_NONE = 0,
    ENG_STORE_FAIL_ERROR,      /* any other error */
    ENG_STORE_FAIL_BUSY,       /* SQLITE_BUSY / SQLITE_LOCKED */
    ENG_STORE_FAIL_CONSTRAINT, /* SQLITE_CONSTRAINT_* (UNIQUE, CHECK, NOT NULL, FOREIGN KEY...) */
    ENG_STORE_FAIL_INTERRUPT,  /* stopped by the progress callback */
    ENG_STORE_FAIL_NOMEM,
};
/* ---- one statement in one call ----
 * The prepare / bind / step / finalize that every table owner writes. sql is trusted and holds
 * one statement; fmt has one letter per parameter, in order from ?1, and the arguments follow err:
 *   s  const char *             a NUL-terminated string, or SQL NULL when NULL
 *   t  const char *, size_t     text of that many bytes
 *   b  const void *, size_t     a blob
 *   i  int64_t                  an integer: cast (an int or a long long is not an int64_t here)
 *   I  const int64_t *          an integer, or SQL NULL when NULL
 *   d  double
 *   n  (no argument)            SQL NULL
 * fmt must give every parameter the statement has (its highest ?N): a shorter or longer fmt, or
 * another letter, is ENG_EINVAL before anything runs. */

/* Run a statement to its end (RETURNING rows are stepped over) and finalize it. The number of
 * rows it changed (>= 0; 0 for a SELECT), or a negative code with err filled. */
int eng_store_run(struct eng_store *st, const char *sql, struct eng_err *err, const char *fmt, ...);
/* Prepare, bind and step once. ENG_STORE_ROW: *out is at the first row (read its columns, step
 * on for more, eng_store_finalize it); ENG_STORE_DONE: no row, *out is NULL; < 0: err filled,
 * *out NULL. A RETURNING statement has made all its changes by the first row. */
int eng_store_row(struct eng_store *st, const char *sql, struct eng_store_stmt **out,
                  struct eng_err *err, const char *fmt, ...);
/* eng_store_row with a statement the caller keeps for its next call with the same sql on st
 * (a hot path that must not parse SQL each time): *slot NULL is prepared here, else reset and
 * bound again. The result is eng_store_row's, but *slot stays the caller's whatever it is: it
 * resets it when done with the rows (a kept statement must hold no read transaction between
 * calls) and finalizes it before closing st. */
int eng_store_row_kept(struct eng_store *st, const char *sql, struct eng_store_stmt **slot,
                       struct eng_err *err, const char *fmt, ...);

/* Class and extended SQLite result code of the last failure on st (prepare, step or exec). */
int eng_store_last_fail(const struct eng_store *st);
int eng_store_last_code(const struct eng_store *st);

enum eng_store_type { /* same values as SQLite's fundamental types */
                      ENG_STORE_INTEGER = 1,
                      ENG_STORE_FLOAT = 2,
                      ENG_STORE_TEXT = 3,
                      ENG_STORE_BLOB = 4,
                      ENG_STORE_NULL = 5,
};

/* Columns of the current row, numbered from 0. Pointers stay valid until the next step, reset
 * or finalize of s, and are owned by s. text is NUL-terminated; *len (may be NULL) gets its
 * byte length. */
int eng_store_column_count(struct eng_store_stmt *s);
const char *eng_store_column_name(struct eng_store_stmt *s, int col);
int eng_store_column_type(struct eng_store_stmt *s, int col);
int64_t eng_store_column_int64(struct eng_store_stmt *s, int col);
double eng_store_column_double(struct eng_store_stmt *s, int col);
const char *eng_store_column_text(struct eng_store_stmt *s, int col, size_t *len);
/* Copy a text column into buf[size], NUL-terminated: 1 when it is not NULL and fits, else 0 with
 * buf untouched. */
int eng_store_column_copy(struct eng_store_stmt *s, int col, char *buf, size_t size);
/* A malloc'd copy of a text column (caller frees); NULL for SQL NULL or out of memory. */
char *eng_store_column_strdup(struct eng_store_stmt *s, int col);
const void *eng_store_column_blob(struct eng_store_stmt *s, int col, size_t *len);

#endif
