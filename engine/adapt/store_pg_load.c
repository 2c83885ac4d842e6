/*
 * store_pg_load.c - libpq, loaded on first use, as httpc_load.c loads libcurl. The engine is not
 * linked against libpq: these are the libpq functions store_pg.c calls, with libpq's own
 * prototypes (libpq-fe.h), each resolving its target in libpq.so.5 once per process (dlopen).
 * A process on SQLite (the default: every `serve` so far) never maps libpq and the twenty-odd
 * libraries it needs (OpenSSL, Kerberos, LDAP and, through it, GnuTLS): issue 14's idle
 * footprint stays as it was.
 * Owns: the library handle (never closed) and the resolved pointers.
 * Must not: be called for anything but what store_pg.c needs; a libpq that cannot be loaded is
 * an error of the open (eng_store_pg_load says why), never an abort.
 */
#include "adapt/store_backend.h"

#ifdef ENG_HAVE_LIBPQ

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#ifndef ENG_LIBPQ_SONAME
#define ENG_LIBPQ_SONAME "libpq.so.5"
#endif

/* X(return type, name, (parameters), (arguments), answer when libpq is not loaded) */
#define PQ_FUNCTIONS(X)                                                                            \
    X(PGconn *, PQconnectdbParams,                                                                 \
      (const char *const *keywords, const char *const *values, int expand_dbname),                 \
      (keywords, values, expand_dbname), NULL)                                                     \
    X(PQconninfoOption *, PQconninfoParse, (const char *conninfo, char **errmsg),                  \
      (conninfo, errmsg), NULL)                                                                    \
    X(ConnStatusType, PQstatus, (const PGconn *conn), (conn), CONNECTION_BAD)                      \
    X(PGTransactionStatusType, PQtransactionStatus, (const PGconn *conn), (conn), PQTRANS_UNKNOWN) \
    X(char *, PQerrorMessage, (const PGconn *conn), (conn), pq.why)                                \
    X(PQnoticeProcessor, PQsetNoticeProcessor, (PGconn * conn, PQnoticeProcessor proc, void *arg), \
      (conn, proc, arg), NULL)                                                                     \
    X(PGresult *, PQexec, (PGconn * conn, const char *query), (conn, query), NULL)                 \
    X(int, PQsendQuery, (PGconn * conn, const char *query), (conn, query), 0)                      \
    X(int, PQsendQueryParams,                                                                      \
      (PGconn * conn, const char *command, int nParams, const Oid *paramTypes,                     \
       const char *const *paramValues, const int *paramLengths, const int *paramFormats,           \
       int resultFormat),                                                                          \
      (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat), \
      0)                                                                                           \
    X(PGresult *, PQexecParams,                                                                    \
      (PGconn * conn, const char *command, int nParams, const Oid *paramTypes,                     \
       const char *const *paramValues, const int *paramLengths, const int *paramFormats,           \
       int resultFormat),                                                                          \
      (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat), \
      NULL)                                                                                        \
    X(PGresult *, PQprepare,                                                                       \
      (PGconn * conn, const char *stmtName, const char *query, int nParams,                        \
       const Oid *paramTypes),                                                                     \
      (conn, stmtName, query, nParams, paramTypes), NULL)                                          \
    X(int, PQsendQueryPrepared,                                                                    \
      (PGconn * conn, const char *stmtName, int nParams, const char *const *paramValues,           \
       const int *paramLengths, const int *paramFormats, int resultFormat),                        \
      (conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat), 0)         \
    X(int, PQsetSingleRowMode, (PGconn * conn), (conn), 0)                                         \
    X(PGresult *, PQgetResult, (PGconn * conn), (conn), NULL)                                      \
    X(ExecStatusType, PQresultStatus, (const PGresult *res), (res), PGRES_FATAL_ERROR)             \
    X(char *, PQresultErrorMessage, (const PGresult *res), (res), pq.why)                          \
    X(char *, PQresultErrorField, (const PGresult *res, int fieldcode), (res, fieldcode), NULL)    \
    X(int, PQnfields, (const PGresult *res), (res), 0)                                             \
    X(int, PQntuples, (const PGresult *res), (res), 0)                                             \
    X(char *, PQfname, (const PGresult *res, int field_num), (res, field_num), NULL)               \
    X(Oid, PQftype, (const PGresult *res, int field_num), (res, field_num), 0)                     \
    X(char *, PQcmdStatus, (PGresult * res), (res), pq.empty)                                      \
    X(char *, PQcmdTuples, (PGresult * res), (res), pq.empty)                                      \
    X(char *, PQgetvalue, (const PGresult *res, int tup_num, int field_num),                       \
      (res, tup_num, field_num), pq.empty)                                                         \
    X(int, PQgetlength, (const PGresult *res, int tup_num, int field_num),                         \
      (res, tup_num, field_num), 0)                                                                \
    X(int, PQgetisnull, (const PGresult *res, int tup_num, int field_num),                         \
      (res, tup_num, field_num), 1)                                                                \
    X(unsigned char *, PQunescapeBytea, (const unsigned char *strtext, size_t *retbuflen),         \
      (strtext, retbuflen), NULL)

/* X(name, (parameters), (arguments)) for the ones that answer nothing */
#define PQ_VOID_FUNCTIONS(X)                                                                       \
    X(PQfinish, (PGconn * conn), (conn))                                                           \
    X(PQconninfoFree, (PQconninfoOption * connOptions), (connOptions))                             \
    X(PQclear, (PGresult * res), (res))                                                            \
    X(PQfreemem, (void *ptr), (ptr))

/* a type and a parameter list cannot be parenthesized: */
/* NOLINTNEXTLINE(bugprone-macro-parentheses) */
#define PQ_FIELD(ret, name, params, args, fail) ret(*name) params;
/* NOLINTNEXTLINE(bugprone-macro-parentheses) */
#define PQ_VOID_FIELD(name, params, args) void(*name) params;

/* The pointers, each of libpq's exact type. */
static struct {
    void *lib;
    char why[256]; /* dlopen's or dlsym's error when lib is NULL */
    char empty[1];
    PQ_FUNCTIONS(PQ_FIELD)
    PQ_VOID_FUNCTIONS(PQ_VOID_FIELD)
} pq;

static pthread_once_t pq_once = PTHREAD_ONCE_INIT;

/* dlsym into a typed pointer (POSIX guarantees the data/function pointer round trip). */
#define PQ_SYM(name)                                                                               \
    do {                                                                                           \
        void *p_ = dlsym(lib, #name);                                                              \
        if (p_ == NULL) {                                                                          \
            snprintf(pq.why, sizeof pq.why, "%s has no %s", ENG_LIBPQ_SONAME, #name);              \
            return;                                                                                \
        }                                                                                          \
        memcpy(&pq.name, &p_, sizeof p_);                                                          \
    } while (0);
#define PQ_SYM_OF(ret, name, params, args, fail) PQ_SYM(name)
#define PQ_VOID_SYM_OF(name, params, args)       PQ_SYM(name)

static void pq_load(void)
{
    void *lib = dlopen(ENG_LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        const char *e = dlerror();
        snprintf(pq.why, sizeof pq.why, "cannot load %s: %s", ENG_LIBPQ_SONAME,
                 e != NULL ? e : "unknown error");
        return;
    }
    PQ_FUNCTIONS(PQ_SYM_OF)
    PQ_VOID_FUNCTIONS(PQ_VOID_SYM_OF)
    pq.lib = lib; /* every symbol is there: the library is usable (and stays loaded) */
}

int eng_store_pg_load(struct eng_err *err)
{
    pthread_once(&pq_once, pq_load);
    if (pq.lib != NULL)
        return 0;
    return eng_err_set(err, ENG_EIO,
                       "DATABASE_URL names a PostgreSQL database but libpq cannot be used: %s "
                       "(apt install libpq5)",
                       pq.why);
}

#define PQ_DEFINE(ret, name, params, args, fail)                                                   \
    ret name params                                                                                \
    {                                                                                              \
        return eng_store_pg_load(NULL) == 0 ? pq.name args : (fail);                               \
    }
#define PQ_VOID_DEFINE(name, params, args)                                                         \
    void name params                                                                               \
    {                                                                                              \
        if (eng_store_pg_load(NULL) == 0)                                                          \
            pq.name args;                                                                          \
    }

PQ_FUNCTIONS(PQ_DEFINE)
PQ_VOID_FUNCTIONS(PQ_VOID_DEFINE)

#endif
