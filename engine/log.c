/*
 * log.c - JSON-lines logger on stderr. Owns a mutex and the level; never logs a value whose
 * key looks secret. Must not call into Lua.
 */
#include "log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static enum eng_log_level log_level = ENG_LOG_INFO;

void eng_log_set_level(enum eng_log_level level)
{
    log_level = level;
}

enum eng_log_level eng_log_get_level(void)
{
    return log_level;
}

int eng_log_level_parse(const char *name)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (name != NULL && strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *eng_log_level_name(enum eng_log_level level)
{
    switch (level) {
    case ENG_LOG_DEBUG:
        return "debug";
    case ENG_LOG_INFO:
        return "info";
    case ENG_LOG_WARN:
        return "warn";
    default:
        return "error";
    }
}

static int contains_ci(const char *s, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (strncasecmp(s + i, needle, m) == 0)
            return 1;
    return 0;
}

int eng_log_key_is_secret(const char *key, size_t len)
{
    /* Substrings that name a secret, and "...key" suffixes (consumer_key, apikey,
     * service_role_key, encryption_key). Erring on the side of redaction is the point. */
    static const char *const words[] = {"secret",        "password",  "passwd",     "token",
                                        "authorization", "signature", "credential", "cookie",
                                        "private",       "api_key",   "apikey"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (contains_ci(key, len, words[i]))
            return 1;
    /* "...key" as its own word: key, consumer_key, service-role-key, encryptionKey; not
     * monkey or turkey. */
    if (len < 3 || strncasecmp(key + len - 3, "key", 3) != 0)
        return 0;
    if (len == 3 || key[len - 3] == 'K')
        return 1;
    char before = key[len - 4];
    return before == '_' || before == '-' || before == '.' || before == ' ';
}

void eng_log_begin(struct eng_buf *b, enum eng_log_level level, const char *tenant, const char *run,
                   const char *msg)
{
    struct timespec ts;
    struct tm tm;
    char when[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    eng_buf_printf(b, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":", when,
                   ts.tv_nsec / 1000000, eng_log_level_name(level));
    eng_buf_json_str(b, msg ? msg : "", msg ? strlen(msg) : 0);
    if (tenant != NULL) {
        eng_buf_puts(b, ",\"tenant\":");
        eng_buf_json_str(b, tenant, strlen(tenant));
    }
    if (run != NULL) {
        eng_buf_puts(b, ",\"run\":");
        eng_buf_json_str(b, run, strlen(run));
    }
}

static void log_emit(struct eng_buf *b)
{
    eng_buf_puts(b, "}\n");
    if (!b->oom) {
        pthread_mutex_lock(&log_mu);
        fwrite(b->data, 1, b->len, stderr);
        fflush(stderr);
        pthread_mutex_unlock(&log_mu);
    }
    eng_buf_free(b);
}

void eng_log_kv(enum eng_log_level level, const char *tenant, const char *run, const char *msg,
                const char *const *kv)
{
    if (level < log_level)
        return;
    struct eng_buf b;
    eng_buf_init(&b);
    eng_log_begin(&b, level, tenant, run, msg);
    for (size_t i = 0; kv != NULL && kv[i] != NULL && kv[i + 1] != NULL; i += 2) {
        size_t klen = strlen(kv[i]);
        eng_buf_putc(&b, ',');
        eng_buf_json_str(&b, kv[i], klen);
        eng_buf_putc(&b, ':');
        if (eng_log_key_is_secret(kv[i], klen))
            eng_buf_puts(&b, "\"[REDACTED]\"");
        else
            eng_buf_json_str(&b, kv[i + 1], strlen(kv[i + 1]));
    }
    log_emit(&b);
}

void eng_log_raw(enum eng_log_level level, const char *tenant, const char *run, const char *msg,
                 const char *fields)
{
    if (level < log_level)
        return;
    struct eng_buf b;
    eng_buf_init(&b);
    eng_log_begin(&b, level, tenant, run, msg);
    if (fields != NULL && fields[0] != '\0') {
        eng_buf_putc(&b, ',');
        eng_buf_puts(&b, fields);
    }
    log_emit(&b);
}

void eng_logf(enum eng_log_level level, const char *fmt, ...)
{
    if (level < log_level)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    eng_log_kv(level, NULL, NULL, msg, NULL);
}
