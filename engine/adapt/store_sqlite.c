/*
 * store_sqlite.c - the SQLite back end of store.h (store_backend.h's eng_store_sqlite_ops):
 * connections, the migration runner and the statement API, with the statement cache, the
 * commit-woken wait for the write lock and the authorizer that fences script SQL. The only file
 * that includes sqlite3.h; store.c parses DATABASE_URL and dispatches here.
 * Owns: sqlite3 / sqlite3_stmt handles and the authorizer that fences script SQL.
 * Must not: share a connection between threads, call into Lua, or put bound values (which may be
 * secrets) into error messages - messages carry SQLite's text and file names only.
 */
#include "adapt/store.h"
#include "adapt/store_backend.h"

#include "adapt/crypto.h"
#include "base/clock.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#define MIGRATE_BUSY_TIMEOUT_MS 60000 /* a second migrator waits for the first one this long */

/* A trusted statement kept prepared for the next eng_store_prepare (run, row) of the same text on
 * this connection: parsing and planning the same SQL again per call was a quarter of the job
 * workers' CPU under webhook load (issue 14). busy while handed out; the least recently used
 * idle one makes room. */
#define STORE_CACHE 16
struct store_cached {
    sqlite3_stmt *stmt;
    char *sql;
    size_t len;
    unsigned hash;
    unsigned long long used_at;
    int busy;
    struct sq_stmt *handle; /* handed out while busy (&handle_mem) */
};

struct sq_store {
    struct eng_store base; /* first: store.c's view */
    sqlite3 *db;
    struct store_cached cache[STORE_CACHE];
    unsigned long long cache_tick;
    int busy_ms;                 /* how long a locked database is waited for (store_busy) */
    long long busy_since_ms;     /* when the current wait began */
    unsigned long long busy_gen; /* store_commits.gen when this connection last looked */
    char *path;
    int prep_flags;     /* ENG_STORE_SCRIPT while a script statement is being compiled */
    const char *denied; /* what the authorizer refused during that compile (static text or
                         * denied_buf) */
    char denied_buf[160];
    int last_fail; /* enum eng_store_fail of the last failure */
    int last_code; /* SQLite extended result code of the last failure */
};

struct sq_stmt {
    struct eng_store_stmt base; /* first: store.c's view */
    sqlite3_stmt *stmt;
    struct sq_store *st;
    struct store_cached *cached; /* NULL: finalized for real */
};

static void sq_close(struct sq_store *st);
static int sq_exec(struct sq_store *st, const char *sql, struct eng_err *err);

/* The file's folder must exist (ENG_ENOTFOUND naming it), except the default's, made here.
 * A missing file is created 0600 (fchmod: the umask cannot widen or narrow it); an existing
 * one is left as it is (sq_mode_warning reports a loose one). */
static int prepare_file(const char *url, const char *path, struct eng_err *err)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash == NULL ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= sizeof dir)
        return eng_err_set(err, ENG_EINVAL, "database path is too long");
    memcpy(dir, slash == NULL ? "." : path, n);
    dir[n] = '\0';
    if (strcmp(url, ENG_STORE_DEFAULT_URL) == 0 && mkdir(dir, 0700) != 0 && errno != EEXIST)
        return eng_err_set(err, ENG_EIO, "cannot create the database folder %s: %s", dir,
                           strerror(errno));
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return eng_err_set(err, ENG_ENOTFOUND,
                           "cannot open the database %s: the folder %s does not exist (create "
                           "it, or correct DATABASE_URL)",
                           path, dir);
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return errno == EEXIST ? 0
                               : eng_err_set(err, ENG_EIO, "cannot create the database %s: %s",
                                             path, strerror(errno));
    int rc = fchmod(fd, 0600) != 0
                 ? eng_err_set(err, ENG_EIO, "cannot make %s private: %s", path, strerror(errno))
                 : 0;
    close(fd);
    return rc;
}

static int sq_mode_warning(const struct sq_store *st, char *msg, size_t size)
{
    static const char *const suffix[] = {"", "-wal", "-shm"};
    if (strcmp(st->path, ":memory:") == 0)
        return 0;
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        char p[PATH_MAX + 8];
        struct stat sb;
        snprintf(p, sizeof p, "%s%s", st->path, suffix[i]);
        if (stat(p, &sb) != 0 || (sb.st_mode & 077) == 0)
            continue;
        char real[PATH_MAX];
        const char *base = realpath(st->path, real) != NULL ? real : st->path;
        snprintf(msg, size,
                 "the database file %s%s is readable or writable by others (mode %04o) although "
                 "it holds customers' addresses and sealed credentials: chmod 600 %s*",
                 base, suffix[i], (unsigned)(sb.st_mode & 07777), base);
        return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* errors                                                                                      */

/* Record a SQLite failure on st and turn it into an ENG_E* code with SQLite's message. */
static int store_fail(struct sq_store *st, int rc, const char *msg, struct eng_err *err)
{
    int code;

    st->last_code = rc;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        st->last_fail = ENG_STORE_FAIL_BUSY;
        code = ENG_EBUSY;
        break;
    case SQLITE_CONSTRAINT:
        st->last_fail = ENG_STORE_FAIL_CONSTRAINT;
        code = ENG_EEXIST;
        break;
    case SQLITE_INTERRUPT:
        st->last_fail = ENG_STORE_FAIL_INTERRUPT;
        return eng_err_set(err, ENG_EBUDGET,
                           "the database statement was interrupted: its time budget ran out");
    case SQLITE_NOMEM:
        st->last_fail = ENG_STORE_FAIL_NOMEM;
        code = ENG_ENOMEM;
        break;
    case SQLITE_RANGE:
    case SQLITE_MISUSE:
    case SQLITE_TOOBIG:
        st->last_fail = ENG_STORE_FAIL_ERROR;
        code = ENG_EINVAL;
        break;
    default:
        st->last_fail = ENG_STORE_FAIL_ERROR;
        code = ENG_EIO;
        break;
    }
    if (msg == NULL)
        msg = sqlite3_errmsg(st->db);
    return eng_err_set(err, code, "%s", msg);
}

/* A fresh failure of our own (not from SQLite). */
static int store_fail_own(struct sq_store *st, int code)
{
    st->last_fail = ENG_STORE_FAIL_ERROR;
    st->last_code = SQLITE_ERROR;
    return code;
}

static int sq_last_fail(const struct sq_store *st)
{
    return st->last_fail;
}

static int sq_last_code(const struct sq_store *st)
{
    return st->last_code;
}

/* ------------------------------------------------------------------------------------------ */
/* connections                                                                                 */

/* The SQL functions script SQL may call (engine.db). Everything else is refused at prepare time:
 * load_extension(), fts3_tokenizer() (its one-argument form hands out a library pointer),
 * sqlite_*() (build facts), and what builds a value far larger than its input in one step
 * outside the script's memory cap (printf() / format() widths, replace(), zeroblob(),
 * randomblob()). Sorted for bsearch; compared case-insensitively. */
static const char *const script_functions[] = {
    "->",
    "->>",
    "abs",
    "avg",
    "ceil",
    "ceiling",
    "changes",
    "char",
    "coalesce",
    "concat",
    "concat_ws",
    "count",
    "cume_dist",
    "date",
    "datetime",
    "dense_rank",
    "first_value",
    "floor",
    "glob",
    "group_concat",
    "hex",
    "ifnull",
    "iif",
    "instr",
    "json",
    "json_array",
    "json_array_length",
    "json_extract",
    "json_group_array",
    "json_group_object",
    "json_insert",
    "json_object",
    "json_patch",
    "json_quote",
    "json_remove",
    "json_replace",
    "json_set",
    "json_type",
    "json_valid",
    "julianday",
    "lag",
    "last_insert_rowid",
    "last_value",
    "lead",
    "length",
    "like",
    "likelihood",
    "likely",
    "lower",
    "ltrim",
    "max",
    "min",
    "mod",
    "nth_value",
    "ntile",
    "nullif",
    "octet_length",
    "percent_rank",
    "quote",
    "rank",
    "round",
    "row_number",
    "rtrim",
    "sign",
    "strftime",
    "string_agg",
    "substr",
    "substring",
    "sum",
    "time",
    "total",
    "trim",
    "trunc",
    "typeof",
    "unhex",
    "unicode",
    "unixepoch",
    "unlikely",
    "upper",
};

/* The engine tables script SQL may touch (TEMP tables are the script's own and always may be).
 * The POS's orders are the pos connector's source and a script's to keep; settings and
 * sync_runs are read by scripts/lib (transformer_config, sync_conflict_policy; a run's
 * cancel_requested). Everything else (api_tokens, integration_credentials, oauth_states, the
 * queue, the sync, id_map and webhook tables, operator_settings, sqlite_*, and the
 * table-valued json_each / json_tree, whose first use writes the schema) is the engine's.
 * Sorted for bsearch. */
struct script_table {
    const char *name;
    int write;                  /* INSERT, UPDATE, DELETE allowed */
    const char *const *columns; /* NULL: every column; else the readable ones, NULL-terminated */
};
static const char *const sync_runs_columns[] = {"cancel_requested", "id", "state", "tenant_id",
                                                NULL};
static const struct script_table script_tables[] = {
    {"order_items", 1, NULL},
    {"orders", 1, NULL},
    {"settings", 0, NULL},
    {"sync_runs", 0, sync_runs_columns},
};

static int cmp_name(const void *key, const void *elem)
{
    return strcasecmp(key, *(const char *const *)elem);
}

static int script_function_ok(const char *name)
{
    return name != NULL &&
           bsearch(name, script_functions, sizeof script_functions / sizeof script_functions[0],
                   sizeof script_functions[0], cmp_name) != NULL;
}

static const struct script_table *script_table_of(const char *name)
{
    if (name == NULL)
        return NULL;
    return bsearch(name, script_tables, sizeof script_tables / sizeof script_tables[0],
                   sizeof script_tables[0], cmp_name);
}

/* May script SQL on db read column col ("" for none, as in count(*)) of table in dbname?
 * SQLite gives no dbname for a common table expression (WITH: the statement's own rows) and for
 * a read of no column (count(*)) of any table: then a name the main schema holds is judged as
 * that table (a TEMP table shadowing an engine table's name is refused too). */
static int script_read_ok(sqlite3 *db, int flags, const char *table, const char *col,
                          const char *dbname)
{
    const struct script_table *t;

    if (flags & ENG_STORE_ALL_TABLES)
        return 1;
    if (dbname == NULL &&
        (table == NULL || sqlite3_table_column_metadata(db, "main", table, NULL, NULL, NULL, NULL,
                                                        NULL, NULL) != SQLITE_OK))
        return 1;
    if (dbname != NULL && strcasecmp(dbname, "temp") == 0)
        return 1;
    t = script_table_of(table);
    if (t == NULL)
        return 0;
    if (t->columns == NULL || col == NULL || col[0] == '\0')
        return 1;
    for (const char *const *c = t->columns; *c != NULL; c++)
        if (strcasecmp(*c, col) == 0)
            return 1;
    return 0;
}

/* May script SQL insert into, update or delete from table in dbname? */
static int script_write_ok(int flags, const char *table, const char *dbname)
{
    const struct script_table *t;

    if (flags & ENG_STORE_READONLY)
        return 0;
    if (flags & ENG_STORE_ALL_TABLES)
        return 1;
    if (dbname != NULL && strcasecmp(dbname, "temp") == 0)
        return 1;
    t = script_table_of(table);
    return t != NULL && t->write;
}

/* The fence around script SQL (ENG_STORE_SCRIPT; store.h lists what it refuses). Runs while a
 * statement compiles, for the statement and for every trigger, view and CHECK it brings in;
 * engine C code (prep_flags == 0) is never refused. Anything not named here is refused: a new
 * kind of statement SQLite grows is closed until it is thought about. */
static int store_authorize(void *ud, int action, const char *a, const char *b, const char *dbname,
                           const char *trigger)
{
    struct sq_store *st = ud;
    const char *what = NULL;
    int flags = st->prep_flags;

    (void)trigger;
    if (!(flags & ENG_STORE_SCRIPT))
        return SQLITE_OK;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_RECURSIVE:
        break;
    case SQLITE_READ:
        if (!script_read_ok(st->db, flags, a, b, dbname))
            what = "reading table";
        break;
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
        if (!script_write_ok(flags, a, dbname))
            what = (flags & ENG_STORE_READONLY) ? "writing (a dry run writes nothing): table"
                                                : "writing table";
        break;
    case SQLITE_FUNCTION:
        if (!script_function_ok(b))
            what = "an SQL function off the allow-list";
        break;
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_TEMP_INDEX:
        if (flags & ENG_STORE_READONLY)
            what = "writing (a dry run writes nothing)";
        break;
    case SQLITE_ATTACH:
        what = "ATTACH";
        break;
    case SQLITE_DETACH:
        what = "DETACH";
        break;
    case SQLITE_PRAGMA:
        what = "PRAGMA";
        break;
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        what = "transaction control (use db.tx)";
        break;
    default: /* schema changes outside TEMP tables, TEMP views and triggers, REINDEX, ANALYZE */
        what = "a schema change (schema/*.sql migrations own the schema)";
        break;
    }
    if (what == NULL)
        return SQLITE_OK;
    if (st->denied == NULL) {
        /* name the table or function (the script's own text, bounded) */
        if (action == SQLITE_FUNCTION && b != NULL) {
            snprintf(st->denied_buf, sizeof st->denied_buf, "%.64s()", b);
            st->denied = st->denied_buf;
        } else if ((action == SQLITE_READ || action == SQLITE_INSERT || action == SQLITE_UPDATE ||
                    action == SQLITE_DELETE) &&
                   a != NULL) {
            snprintf(st->denied_buf, sizeof st->denied_buf, "%s %.64s", what, a);
            st->denied = st->denied_buf;
        } else {
            st->denied = what;
        }
    }
    return SQLITE_DENY;
}

/* Run a PRAGMA that answers one text row and copy that answer into out. */
static int pragma_text(struct sq_store *st, const char *sql, char *out, size_t size,
                       struct eng_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

    out[0] = '\0';
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        snprintf(out, size, "%s", t != NULL ? (const char *)t : "");
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
        int code = store_fail(st, rc, NULL, err);
        sqlite3_finalize(s);
        return code;
    }
    sqlite3_finalize(s);
    return 0;
}

/* Switch to WAL. On a fresh file two openers both hold SHARED and both want EXCLUSIVE; SQLite
 * answers one of them BUSY at once instead of calling the busy handler (it would deadlock), so
 * retry here for as long as the busy timeout would have waited. */
static int set_wal(struct sq_store *st, char *mode, size_t size, struct eng_err *err)
{
    enum { STEP_MS = 10 };
    int rc = 0;

    for (int waited = 0; waited <= ENG_STORE_BUSY_TIMEOUT_MS; waited += STEP_MS) {
        rc = pragma_text(st, "PRAGMA journal_mode=WAL", mode, size, err);
        if (rc != ENG_EBUSY)
            break;
        sqlite3_sleep(STEP_MS);
    }
    return rc;
}

/* ---- waiting for the write lock ---- */

/* Every commit of a connection of this process, counted and announced (store_wal_hook): a
 * connection that found the database locked waits here for the next one instead of sleeping
 * SQLite's fixed steps of 1, 2, 5, 10... ms. Those sleeps were what capped webhook ingest:
 * the job workers' short write transactions held the lock for ~0.1 ms, and the ingest writer
 * that met one slept a millisecond or more (issue 14; ingest doubled without them). A lock
 * held by another process (the CLI) is not announced: its waiters look again every
 * STORE_BUSY_POLL_MS. */
#define STORE_BUSY_POLL_MS       1
#define STORE_WAL_AUTOCHECKPOINT 1000 /* frames; SQLite's default, which our hook replaces */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC */
    unsigned long long gen;
} store_commits = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* SQLite's busy handler: 1 to try again, 0 to give up (SQLITE_BUSY) after st->busy_ms. */
static int store_busy(void *ud, int count)
{
    struct sq_store *st = ud;
    long long now = eng_now_ms();
    pthread_mutex_lock(&store_commits.mu);
    if (count == 0) { /* try again at once: the holder may have committed meanwhile */
        st->busy_since_ms = now;
        st->busy_gen = store_commits.gen;
        pthread_mutex_unlock(&store_commits.mu);
        return st->busy_ms > 0;
    }
    long long left = st->busy_since_ms + st->busy_ms - now;
    if (left > 0 && store_commits.gen == st->busy_gen) {
        long long wait_ms = left < STORE_BUSY_POLL_MS ? left : STORE_BUSY_POLL_MS;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += (long)(wait_ms * 1000000);
        until.tv_sec += until.tv_nsec / 1000000000;
        until.tv_nsec %= 1000000000;
        while (store_commits.gen == st->busy_gen &&
               pthread_cond_timedwait(&store_commits.cv, &store_commits.mu, &until) == 0) {
        }
    }
    st->busy_gen = store_commits.gen;
    pthread_mutex_unlock(&store_commits.mu);
    return left > 0;
}

/* SQLite calls this after each commit of the connection, with its write lock released: wake
 * the waiters, then what the default hook did (a passive checkpoint past
 * STORE_WAL_AUTOCHECKPOINT frames). */
static int store_wal_hook(void *ud, sqlite3 *db, const char *name, int frames)
{
    (void)ud;
    pthread_mutex_lock(&store_commits.mu);
    store_commits.gen++;
    pthread_cond_broadcast(&store_commits.cv);
    pthread_mutex_unlock(&store_commits.mu);
    if (frames >= STORE_WAL_AUTOCHECKPOINT)
        (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
}

static void store_set_busy(struct sq_store *st, int ms)
{
    st->busy_ms = ms < 0 ? 0 : ms;
    sqlite3_busy_handler(st->db, store_busy, st);
}

static int sq_busy_timeout(const struct sq_store *st)
{
    return st->busy_ms;
}

/* Process-wide SQLite settings, before its first use. No memory statistics: with them on, every
 * allocation of every connection takes one global mutex (a profile of webhook ingest: the
 * HTTP threads and the ingest writer waited on each other there), and nothing reads them. */
static pthread_once_t store_config_once = PTHREAD_ONCE_INIT;

static void store_config(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); /* SQLITE_MISUSE if already in use */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&store_commits.cv, &ca);
    pthread_condattr_destroy(&ca);
}

static int sq_open(const char *path_or_url, const char *path, struct sq_store **out,
                   struct eng_err *err)
{
    char mode[32];
    struct sq_store *st;
    int rc, memory;

    *out = NULL;
    memory = strcmp(path, ":memory:") == 0;
    if (!memory && (rc = prepare_file(path_or_url, path, err)) != 0)
        return rc;
    st = calloc(1, sizeof *st);
    if (st != NULL)
        st->base.ops = &eng_store_sqlite_ops;
    if (st == NULL || (st->path = strdup(path)) == NULL) {
        free(st);
        return eng_err_set(err, ENG_ENOMEM, "out of memory opening the database");
    }
    pthread_once(&store_config_once, store_config);
    rc = sqlite3_open_v2(path, &st->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX |
                             SQLITE_OPEN_EXRESCODE,
                         NULL);
    if (rc != SQLITE_OK) {
        rc = eng_err_set(err, rc == SQLITE_NOMEM ? ENG_ENOMEM : ENG_EIO,
                         "cannot open the database %s: %s", path,
                         st->db != NULL ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        sq_close(st);
        return rc;
    }
    sqlite3_extended_result_codes(st->db, 1);
    store_set_busy(st, ENG_STORE_BUSY_TIMEOUT_MS);
    sqlite3_wal_hook(st->db, store_wal_hook, NULL);
    /* Hardening that costs nothing: no writable_schema games, "x" is an identifier and never a
     * string, and no extensions. The schema stays trusted (SQLite's default): we write it
     * ourselves, and Debian's 3.40 does not mark json_valid() innocuous, which CHECKs use. */
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_DQS_DML, 0, NULL);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_DQS_DDL, 0, NULL);
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
    sqlite3_set_authorizer(st->db, store_authorize, st);

    rc = set_wal(st, mode, sizeof mode, err);
    if (rc == 0 && strcasecmp(mode, memory ? "memory" : "wal") != 0)
        rc = eng_err_set(err, ENG_EIO,
                         "cannot put the database %s in WAL mode (journal mode stays \"%s\"); "
                         "is it on a network file system?",
                         path, mode);
    if (rc == 0)
        rc = sq_exec(st, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", err);
    if (rc != 0) {
        char msg[sizeof err->msg];
        if (err != NULL) {
            snprintf(msg, sizeof msg, "%s", err->msg);
            eng_err_set(err, rc, "cannot set up the database %s: %s", path, msg);
        }
        sq_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

static void sq_close(struct sq_store *st)
{
    if (st == NULL)
        return;
    for (int i = 0; i < STORE_CACHE; i++) {
        struct store_cached *c = &st->cache[i];
        if (c->busy) { /* still out: its finalize, after the close, is a real one */
            c->handle->cached = NULL;
        } else {
            sqlite3_finalize(c->stmt); /* NULL is a no-op */
            free(c->handle);
        }
        free(c->sql);
    }
    sqlite3_close_v2(st->db); /* NULL is a no-op */
    free(st->path);
    free(st);
}

static const char *sq_path(const struct sq_store *st)
{
    return st->path;
}

static int sq_exec(struct sq_store *st, const char *sql, struct eng_err *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);

    if (rc != SQLITE_OK) {
        rc = store_fail(st, sqlite3_extended_errcode(st->db), msg, err);
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

static int64_t sq_changes(struct sq_store *st)
{
    return sqlite3_changes64(st->db);
}

static int64_t sq_last_insert_rowid(struct sq_store *st)
{
    return sqlite3_last_insert_rowid(st->db);
}

static int sq_in_tx(struct sq_store *st)
{
    return !sqlite3_get_autocommit(st->db);
}

static void sq_set_busy_timeout(struct sq_store *st, int ms)
{
    store_set_busy(st, ms);
}

static void sq_set_progress(struct sq_store *st, int n_steps, int (*fn)(void *), void *ud)
{
    sqlite3_progress_handler(st->db, fn != NULL && n_steps > 0 ? n_steps : 0, fn, ud);
}

static void sq_set_max_length(struct sq_store *st, long long bytes)
{
    if (bytes > 0)
        sqlite3_limit(st->db, SQLITE_LIMIT_LENGTH, bytes < INT_MAX ? (int)bytes : INT_MAX);
}

/* ------------------------------------------------------------------------------------------ */
/* statements                                                                                  */

/* Skip blanks and SQL comments from p to end; returns where the next token starts. Also skips
 * ';' when semis is set. An unterminated block comment runs to the end, as in SQLite. */
static const char *skip_blank(const char *p, const char *end, int semis)
{
    while (p < end) {
        if (isspace((unsigned char)*p) || (semis && *p == ';')) {
            p++;
        } else if (*p == '-' && p + 1 < end && p[1] == '-') {
            while (p < end && *p != '\n')
                p++;
        } else if (*p == '/' && p + 1 < end && p[1] == '*') {
            p += 2;
            while (p + 1 < end && !(p[0] == '*' && p[1] == '/'))
                p++;
            p = p + 1 < end ? p + 2 : end;
        } else {
            break;
        }
    }
    return p;
}

/* Does the statement at p start with the keyword kw (case-insensitive, whole word)? */
static int starts_with_keyword(const char *p, const char *end, const char *kw)
{
    size_t n = strlen(kw);

    p = skip_blank(p, end, 1);
    if ((size_t)(end - p) < n || strncasecmp(p, kw, n) != 0)
        return 0;
    return p + n == end || !(isalnum((unsigned char)p[n]) || p[n] == '_');
}

static int sq_prepare(struct sq_store *st, const char *sql, long len, int flags,
                      struct sq_stmt **out, struct eng_err *err)
{
    sqlite3_stmt *stmt = NULL;
    const char *tail = NULL, *end;
    struct sq_stmt *s;
    size_t n = len < 0 ? strlen(sql) : (size_t)len;
    int rc;

    *out = NULL;
    if (n > INT_MAX)
        return eng_err_set(err, store_fail_own(st, ENG_EINVAL), "SQL text is too long");
    end = sql + n;
    /* VACUUM reaches no authorizer callback (and VACUUM INTO writes any file): refuse by name. */
    if ((flags & ENG_STORE_SCRIPT) && starts_with_keyword(sql, end, "VACUUM"))
        return eng_err_set(err, store_fail_own(st, ENG_EINVAL),
                           "VACUUM is not allowed in script SQL");
    st->prep_flags = flags;
    st->denied = NULL;
    rc = sqlite3_prepare_v3(st->db, sql, (int)n, 0, &stmt, &tail);
    st->prep_flags = 0;
    if (rc != SQLITE_OK) {
        if (st->denied != NULL)
            return eng_err_set(err, store_fail_own(st, ENG_EINVAL),
                               "%s is not allowed in script SQL", st->denied);
        return store_fail(st, rc, NULL, err);
    }
    if (stmt == NULL)
        return eng_err_set(err, store_fail_own(st, ENG_EINVAL),
                           "empty SQL: expected one statement");
    if (tail != NULL && skip_blank(tail, end, 1) != end) {
        sqlite3_finalize(stmt);
        return eng_err_set(err, store_fail_own(st, ENG_EINVAL), "only one statement per call");
    }
    s = malloc(sizeof *s);
    if (s == NULL) {
        sqlite3_finalize(stmt);
        return eng_err_set(err, store_fail_own(st, ENG_ENOMEM), "out of memory");
    }
    s->stmt = stmt;
    s->st = st;
    s->base.st = &st->base;
    s->base.ops = st->base.ops;
    s->cached = NULL;
    *out = s;
    return 0;
}

static void sq_finalize(struct sq_stmt *s)
{
    if (s == NULL)
        return;
    if (s->cached != NULL) { /* back to the cache, holding no transaction and no bound value */
        sqlite3_reset(s->stmt);
        sqlite3_clear_bindings(s->stmt);
        s->cached->busy = 0;
        return;
    }
    sqlite3_finalize(s->stmt);
    free(s);
}

/* Trusted sql from the connection's cache, or prepared (and kept there when a slot is free or
 * idle). 0 with *out for sq_finalize, or < 0. */
static int prepare_cached(struct sq_store *st, const char *sql, size_t n, struct sq_stmt **out,
                          struct eng_err *err)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)sql[i]) * 16777619u;
    struct store_cached *victim = NULL;
    for (int i = 0; i < STORE_CACHE; i++) {
        struct store_cached *c = &st->cache[i];
        if (c->busy)
            continue;
        if (c->stmt != NULL && c->hash == h && c->len == n && memcmp(c->sql, sql, n) == 0) {
            c->busy = 1;
            c->used_at = ++st->cache_tick;
            *out = c->handle;
            return 0;
        }
        if (victim == NULL ||
            (victim->stmt != NULL && (c->stmt == NULL || c->used_at < victim->used_at)))
            victim = c;
    }
    int rc = sq_prepare(st, sql, (long)n, ENG_STORE_TRUSTED, out, err);
    if (rc != 0 || victim == NULL)
        return rc;
    char *copy = malloc(n + 1);
    if (copy == NULL)
        return 0; /* served uncached */
    memcpy(copy, sql, n);
    copy[n] = '\0';
    sqlite3_finalize(victim->stmt);
    free(victim->sql);
    free(victim->handle);
    victim->stmt = (*out)->stmt;
    victim->sql = copy;
    victim->len = n;
    victim->hash = h;
    victim->used_at = ++st->cache_tick;
    victim->busy = 1;
    victim->handle = *out; /* the handle stays with the slot from now on */
    (*out)->cached = victim;
    return 0;
}

static void sq_reset(struct sq_stmt *s)
{
    sqlite3_reset(s->stmt);
}

static void sq_clear_bindings(struct sq_stmt *s)
{
    sqlite3_clear_bindings(s->stmt);
}

static int sq_param_count(struct sq_stmt *s)
{
    return sqlite3_bind_parameter_count(s->stmt);
}

static const char *sq_param_name(struct sq_stmt *s, int idx)
{
    return sqlite3_bind_parameter_name(s->stmt, idx);
}

static int sq_param_index(struct sq_stmt *s, const char *name)
{
    return sqlite3_bind_parameter_index(s->stmt, name);
}

static int bind_rc(int rc)
{
    switch (rc) {
    case SQLITE_OK:
        return 0;
    case SQLITE_NOMEM:
        return ENG_ENOMEM;
    default:
        return ENG_EINVAL; /* SQLITE_RANGE, SQLITE_TOOBIG, SQLITE_MISUSE */
    }
}

static int sq_bind_null(struct sq_stmt *s, int idx)
{
    return bind_rc(sqlite3_bind_null(s->stmt, idx));
}

static int sq_bind_int64(struct sq_stmt *s, int idx, int64_t v)
{
    return bind_rc(sqlite3_bind_int64(s->stmt, idx, v));
}

static int sq_bind_double(struct sq_stmt *s, int idx, double v)
{
    return bind_rc(sqlite3_bind_double(s->stmt, idx, v));
}

static int sq_bind_text(struct sq_stmt *s, int idx, const char *v, size_t len)
{
    /* A NULL pointer would bind SQL NULL: an empty string stays an empty string. */
    return bind_rc(sqlite3_bind_text64(s->stmt, idx, v != NULL ? v : "", v != NULL ? len : 0,
                                       SQLITE_TRANSIENT, SQLITE_UTF8));
}

static int sq_bind_blob(struct sq_stmt *s, int idx, const void *v, size_t len)
{
    if (v == NULL || len == 0)
        return bind_rc(sqlite3_bind_zeroblob(s->stmt, idx, 0));
    return bind_rc(sqlite3_bind_blob64(s->stmt, idx, v, len, SQLITE_TRANSIENT));
}

static int sq_step(struct sq_stmt *s, struct eng_err *err)
{
    int rc = sqlite3_step(s->stmt);

    if (rc == SQLITE_ROW)
        return ENG_STORE_ROW;
    if (rc == SQLITE_DONE)
        return ENG_STORE_DONE;
    return store_fail(s->st, rc, NULL, err);
}

static int sq_column_count(struct sq_stmt *s)
{
    return sqlite3_column_count(s->stmt);
}

static const char *sq_column_name(struct sq_stmt *s, int col)
{
    return sqlite3_column_name(s->stmt, col);
}

static int sq_column_type(struct sq_stmt *s, int col)
{
    return sqlite3_column_type(s->stmt, col);
}

static int64_t sq_column_int64(struct sq_stmt *s, int col)
{
    return sqlite3_column_int64(s->stmt, col);
}

static double sq_column_double(struct sq_stmt *s, int col)
{
    return sqlite3_column_double(s->stmt, col);
}

static const char *sq_column_text(struct sq_stmt *s, int col, size_t *len)
{
    const unsigned char *t = sqlite3_column_text(s->stmt, col); /* before _bytes: see docs */

    if (len != NULL)
        *len = (size_t)sqlite3_column_bytes(s->stmt, col);
    return (const char *)t;
}

static const void *sq_column_blob(struct sq_stmt *s, int col, size_t *len)
{
    const void *b = sqlite3_column_blob(s->stmt, col);

    if (len != NULL)
        *len = (size_t)sqlite3_column_bytes(s->stmt, col);
    return b;
}

/* ------------------------------------------------------------------------------------------ */
/* migrations                                                                                  */

/* A migration statement failed: fill err from the connection's last error, finalize s. */
static int stmt_fail(struct sq_store *st, sqlite3_stmt *s, struct eng_err *err)
{
    int rc = store_fail(st, sqlite3_extended_errcode(st->db), NULL, err);
    sqlite3_finalize(s);
    return rc;
}

/* The recorded (name, checksum) of version v; 1 found, 0 absent, < 0 error. */
static int applied_row(struct sq_store *st, long v, char *name, size_t nsize, char *sum,
                       size_t ssize, struct eng_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(
        st->db, "SELECT name, checksum FROM schema_migrations WHERE version = ?", -1, &s, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 1, v);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const unsigned char *a = sqlite3_column_text(s, 0), *b = sqlite3_column_text(s, 1);
        snprintf(name, nsize, "%s", a != NULL ? (const char *)a : "");
        snprintf(sum, ssize, "%s", b != NULL ? (const char *)b : "");
        sqlite3_finalize(s);
        return 1;
    }
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(s);
        return 0;
    }
    return stmt_fail(st, s, err);
}

static int record_migration(struct sq_store *st, long v, const char *name, const char *sum,
                            struct eng_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(
        st->db, "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)", -1, &s,
        NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(s, 1, v);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(s, 3, sum, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc != SQLITE_DONE) {
        return stmt_fail(st, s, err);
    }
    sqlite3_finalize(s);
    return 0;
}

/* Apply (or check) one migration file. *done = 1 when this call applied it. */
static int migrate_one(struct sq_store *st, const char *dir, const struct eng_store_migration *m,
                       int *done, struct eng_err *err)
{
    char path[PATH_MAX], name[256], rec_sum[80], sum[80];
    char *sql = NULL;
    size_t len = 0;
    int rc, found;

    *done = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, m->file) >= sizeof path)
        return eng_err_set(err, ENG_EINVAL, "schema path too long: %s/%s", dir, m->file);
    rc = eng_store_read_file(path, &sql, &len, err);
    if (rc != 0)
        return rc;
    rc = eng_store_checksum(sql, len, sum, sizeof sum, err);
    if (rc != 0) {
        free(sql);
        return rc;
    }

    /* Cheap path first, without the write lock: already applied? */
    found = applied_row(st, m->version, name, sizeof name, rec_sum, sizeof rec_sum, err);
    if (found > 0) {
        free(sql);
        return eng_store_migration_check(dir, m, name, rec_sum, sum, err);
    }
    if (found < 0) {
        free(sql);
        return found;
    }
    /* Take the write lock, then look again: another process may have won the race. */
    rc = sq_exec(st, ENG_STORE_BEGIN_WRITE, err);
    if (rc != 0) {
        free(sql);
        return rc;
    }
    found = applied_row(st, m->version, name, sizeof name, rec_sum, sizeof rec_sum, err);
    if (found > 0) {
        rc = eng_store_migration_check(dir, m, name, rec_sum, sum, err);
    } else if (found == 0) {
        rc = sq_exec(st, sql, err);
        if (rc != 0) {
            char msg[sizeof err->msg];
            if (err != NULL) {
                snprintf(msg, sizeof msg, "%s", err->msg);
                eng_err_set(err, rc, "schema migration %s failed: %s", path, msg);
            }
        } else if (!sq_in_tx(st)) {
            /* The file ended our transaction itself: what it did cannot be undone here. */
            free(sql);
            return eng_err_set(err, store_fail_own(st, ENG_EINVAL),
                               "schema migration %s must not contain BEGIN, COMMIT or ROLLBACK "
                               "(each file already runs in its own transaction)",
                               path);
        } else {
            rc = record_migration(st, m->version, m->file, sum, err);
            if (rc == 0)
                *done = 1;
        }
    } else {
        rc = found;
    }
    free(sql);
    if (rc == 0)
        rc = sq_exec(st, "COMMIT", err);
    if (rc != 0) {
        *done = 0;
        if (sq_in_tx(st))
            (void)sq_exec(st, "ROLLBACK", NULL);
    }
    return rc;
}

static int max_applied(struct sq_store *st, long *v, struct eng_err *err)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT coalesce(max(version), 0) FROM schema_migrations",
                                -1, &s, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        return stmt_fail(st, s, err);
    }
    *v = (long)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return 0;
}

static int sq_migrate(struct sq_store *st, const char *schema_dir, int *applied,
                      struct eng_err *err)
{
    struct eng_store_migration *m = NULL;
    size_t n = 0;
    long top = 0;
    int rc, count = 0;

    if (applied != NULL)
        *applied = 0;
    if (sq_in_tx(st))
        return eng_err_set(err, store_fail_own(st, ENG_EINVAL),
                           "cannot migrate inside an open transaction");
    rc = eng_store_migrations_list(schema_dir, &m, &n, err);
    if (rc != 0)
        return rc;
    store_set_busy(st, MIGRATE_BUSY_TIMEOUT_MS);
    rc = sq_exec(st,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version INTEGER PRIMARY KEY,"
                 " name TEXT NOT NULL,"
                 " checksum TEXT NOT NULL,"
                 " applied_at TEXT NOT NULL"
                 "  DEFAULT (" ENG_STORE_NOW "))",
                 err);
    if (rc == 0)
        rc = max_applied(st, &top, err);
    if (rc == 0 && top > (long)n)
        rc = eng_err_set(err, ENG_EINVAL,
                         "the database %s is at schema version %ld but %s has only %zu "
                         "migrations: is this an older tallysync than the one that last "
                         "migrated it?",
                         st->path, top, schema_dir, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int done = 0;
        rc = migrate_one(st, schema_dir, &m[i], &done, err);
        count += done;
    }
    store_set_busy(st, ENG_STORE_BUSY_TIMEOUT_MS);
    eng_store_migrations_free(m, n);
    if (applied != NULL)
        *applied = count;
    return rc;
}

static char store_version_text[48];

static void store_version_init(void)
{
    snprintf(store_version_text, sizeof store_version_text, "SQLite %s", sqlite3_libversion());
}

const char *eng_store_sqlite_version(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, store_version_init);
    return store_version_text;
}

/* ------------------------------------------------------------------------------------------ */
/* the operations store.c dispatches to (store_backend.h)                                      */

/* Every struct eng_store / eng_store_stmt of these operations is the first member of ours. */
#define SQ(p)  ((struct sq_store *)(p))
#define SQC(p) ((const struct sq_store *)(p))
#define SS(p)  ((struct sq_stmt *)(p))

static int op_open(const char *url, const char *location, struct eng_store **out,
                   struct eng_err *err)
{
    struct sq_store *st = NULL;
    int rc = sq_open(url, location, &st, err);
    *out = st != NULL ? &st->base : NULL;
    return rc;
}

static void op_close(struct eng_store *st)
{
    sq_close(SQ(st));
}

static const char *op_path(const struct eng_store *st)
{
    return sq_path(SQC(st));
}

static int op_mode_warning(const struct eng_store *st, char *msg, size_t size)
{
    return sq_mode_warning(SQC(st), msg, size);
}

static int op_migrate(struct eng_store *st, const char *dir, int *applied, struct eng_err *err)
{
    return sq_migrate(SQ(st), dir, applied, err);
}

static int op_exec(struct eng_store *st, const char *sql, struct eng_err *err)
{
    return sq_exec(SQ(st), sql, err);
}

static int64_t op_changes(struct eng_store *st)
{
    return sq_changes(SQ(st));
}

static int64_t op_last_insert_rowid(struct eng_store *st)
{
    return sq_last_insert_rowid(SQ(st));
}

static int op_in_tx(struct eng_store *st)
{
    return sq_in_tx(SQ(st));
}

static void op_set_busy_timeout(struct eng_store *st, int ms)
{
    sq_set_busy_timeout(SQ(st), ms);
}

static int op_busy_timeout(const struct eng_store *st)
{
    return sq_busy_timeout(SQC(st));
}

static void op_set_progress(struct eng_store *st, int n_steps, int (*fn)(void *), void *ud)
{
    sq_set_progress(SQ(st), n_steps, fn, ud);
}

static void op_set_max_length(struct eng_store *st, long long bytes)
{
    sq_set_max_length(SQ(st), bytes);
}

static int op_last_fail(const struct eng_store *st)
{
    return sq_last_fail(SQC(st));
}

static int op_last_code(const struct eng_store *st)
{
    return sq_last_code(SQC(st));
}

static int op_fail_own(struct eng_store *st, int code)
{
    return store_fail_own(SQ(st), code);
}

static int op_prepare(struct eng_store *st, const char *sql, long len, int flags,
                      struct eng_store_stmt **out, struct eng_err *err)
{
    struct sq_stmt *s = NULL;
    /* a trusted statement comes from the connection's cache when its text was prepared before
     * and is not out; a script's is compiled under the authorizer every time */
    int rc = flags == ENG_STORE_TRUSTED
                 ? prepare_cached(SQ(st), sql, len < 0 ? strlen(sql) : (size_t)len, &s, err)
                 : sq_prepare(SQ(st), sql, len, flags, &s, err);
    *out = s != NULL ? &s->base : NULL;
    return rc;
}

static int op_prepare_cached(struct eng_store *st, const char *sql, struct eng_store_stmt **out,
                             struct eng_err *err)
{
    struct sq_stmt *s = NULL;
    int rc = prepare_cached(SQ(st), sql, strlen(sql), &s, err);
    *out = s != NULL ? &s->base : NULL;
    return rc;
}

static void op_finalize(struct eng_store_stmt *s)
{
    sq_finalize(SS(s));
}

static void op_reset(struct eng_store_stmt *s)
{
    sq_reset(SS(s));
}

static void op_clear_bindings(struct eng_store_stmt *s)
{
    sq_clear_bindings(SS(s));
}

static int op_param_count(struct eng_store_stmt *s)
{
    return sq_param_count(SS(s));
}

static const char *op_param_name(struct eng_store_stmt *s, int idx)
{
    return sq_param_name(SS(s), idx);
}

static int op_param_index(struct eng_store_stmt *s, const char *name)
{
    return sq_param_index(SS(s), name);
}

static int op_bind_null(struct eng_store_stmt *s, int idx)
{
    return sq_bind_null(SS(s), idx);
}

static int op_bind_int64(struct eng_store_stmt *s, int idx, int64_t v)
{
    return sq_bind_int64(SS(s), idx, v);
}

static int op_bind_double(struct eng_store_stmt *s, int idx, double v)
{
    return sq_bind_double(SS(s), idx, v);
}

static int op_bind_text(struct eng_store_stmt *s, int idx, const char *v, size_t len)
{
    return sq_bind_text(SS(s), idx, v, len);
}

static int op_bind_blob(struct eng_store_stmt *s, int idx, const void *v, size_t len)
{
    return sq_bind_blob(SS(s), idx, v, len);
}

static int op_step(struct eng_store_stmt *s, struct eng_err *err)
{
    return sq_step(SS(s), err);
}

static int64_t op_stmt_changes(struct eng_store_stmt *s)
{
    return sqlite3_stmt_readonly(SS(s)->stmt) ? 0 : sqlite3_changes(SS(s)->st->db);
}

static int op_column_count(struct eng_store_stmt *s)
{
    return sq_column_count(SS(s));
}

static const char *op_column_name(struct eng_store_stmt *s, int col)
{
    return sq_column_name(SS(s), col);
}

static int op_column_type(struct eng_store_stmt *s, int col)
{
    return sq_column_type(SS(s), col);
}

static int64_t op_column_int64(struct eng_store_stmt *s, int col)
{
    return sq_column_int64(SS(s), col);
}

static double op_column_double(struct eng_store_stmt *s, int col)
{
    return sq_column_double(SS(s), col);
}

static const char *op_column_text(struct eng_store_stmt *s, int col, size_t *len)
{
    return sq_column_text(SS(s), col, len);
}

static const void *op_column_blob(struct eng_store_stmt *s, int col, size_t *len)
{
    return sq_column_blob(SS(s), col, len);
}

const struct store_ops eng_store_sqlite_ops = {
    .name = "SQLite",
    .open = op_open,
    .close = op_close,
    .path = op_path,
    .mode_warning = op_mode_warning,
    .migrate = op_migrate,
    .exec = op_exec,
    .changes = op_changes,
    .last_insert_rowid = op_last_insert_rowid,
    .in_tx = op_in_tx,
    .set_busy_timeout = op_set_busy_timeout,
    .busy_timeout = op_busy_timeout,
    .set_progress = op_set_progress,
    .set_max_length = op_set_max_length,
    .last_fail = op_last_fail,
    .last_code = op_last_code,
    .fail_own = op_fail_own,
    .prepare = op_prepare,
    .prepare_cached = op_prepare_cached,
    .finalize = op_finalize,
    .reset = op_reset,
    .clear_bindings = op_clear_bindings,
    .param_count = op_param_count,
    .param_name = op_param_name,
    .param_index = op_param_index,
    .bind_null = op_bind_null,
    .bind_int64 = op_bind_int64,
    .bind_double = op_bind_double,
    .bind_text = op_bind_text,
    .bind_blob = op_bind_blob,
    .step = op_step,
    .stmt_changes = op_stmt_changes,
    .column_count = op_column_count,
    .column_name = op_column_name,
    .column_type = op_column_type,
    .column_int64 = op_column_int64,
    .column_double = op_column_double,
    .column_text = op_column_text,
    .column_blob = op_column_blob,
};
