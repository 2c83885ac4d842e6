/*
 * log.c - the logger on stderr: JSON lines, or text lines for a terminal (rendered from the
 * same JSON, so both carry the same redacted fields). Owns a mutex, the level, the format and
 * the terminal's status line; never logs a value whose key looks secret. Must not call into Lua.
 */
#include "base/log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static enum eng_log_level log_level = ENG_LOG_INFO;
static enum eng_log_format log_format = ENG_LOG_FORMAT_AUTO;
/* the terminal's status line (under log_mu) */
static FILE *status_out;
static char status_line[512];

int eng_log_format_parse(const char *name)
{
    static const char *const names[] = {"auto", "json", "text"};
    for (int i = 0; i < 3; i++)
        if (name != NULL && strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

void eng_log_set_format(enum eng_log_format format)
{
    log_format = format;
}

int eng_log_is_text(void)
{
    if (log_format == ENG_LOG_FORMAT_AUTO)
        return isatty(STDERR_FILENO);
    return log_format == ENG_LOG_FORMAT_TEXT;
}

void eng_log_status(FILE *out, const char *line)
{
    pthread_mutex_lock(&log_mu);
    if (line == NULL) {
        if (status_out != NULL) {
            fputs("\r\033[K", status_out);
            fflush(status_out);
        }
        status_out = NULL;
    } else {
        status_out = out;
        snprintf(status_line, sizeof status_line, "%s", line);
        fprintf(out, "\r%s\033[K", status_line);
        fflush(out);
    }
    pthread_mutex_unlock(&log_mu);
}

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

/* ---- text lines: "2026-12-07T00:11:49.977Z WARN  msg key=value key="two words"" ---- */

/* The JSON string at *p (after its quote): decoded bytes appended to out (\uXXXX kept as
 * written); *p moves past the closing quote. */
static void text_string(const char **p, struct eng_buf *out)
{
    const char *s = *p;
    while (*s != '\0' && *s != '"') {
        if (*s == '\\' && s[1] != '\0') {
            char e = s[1];
            if (e == 'u') { /* kept as written: \u0007 stays visible */
                size_t n = strnlen(s, 6);
                eng_buf_append(out, s, n);
                s += n;
                continue;
            }
            if (e == 'n' || e == 't' || e == 'r')
                e = ' ';
            eng_buf_putc(out, e);
            s += 2;
            continue;
        }
        eng_buf_putc(out, *s++);
    }
    *p = *s == '"' ? s + 1 : s;
}

/* A JSON value at *p copied as written (objects, arrays, numbers, literals); *p moves past. */
static void text_raw(const char **p, struct eng_buf *out)
{
    const char *s = *p, *b = s;
    int depth = 0, in_str = 0;
    for (; *s != '\0'; s++) {
        if (in_str) {
            if (*s == '\\' && s[1] != '\0')
                s++;
            else if (*s == '"')
                in_str = 0;
            continue;
        }
        if (*s == '"')
            in_str = 1;
        else if (*s == '{' || *s == '[')
            depth++;
        else if (*s == '}' || *s == ']') {
            if (depth == 0)
                break;
            depth--;
        } else if (*s == ',' && depth == 0)
            break;
    }
    eng_buf_append(out, b, (size_t)(s - b));
    *p = s;
}

/* Render one JSON line built by this file (a flat object of members) as text. */
static void text_line(const char *json, struct eng_buf *out)
{
    struct eng_buf v;
    eng_buf_init(&v);
    const char *p = json + 1; /* past '{' */
    while (*p == '"') {
        const char *k = ++p;
        while (*p != '\0' && *p != '"')
            p += *p == '\\' && p[1] != '\0' ? 2 : 1;
        size_t klen = (size_t)(p - k);
        if (*p == '"')
            p++;
        if (*p == ':')
            p++;
        eng_buf_reset(&v);
        int str = *p == '"';
        if (str) {
            p++;
            text_string(&p, &v);
        } else {
            text_raw(&p, &v);
        }
        if (v.len == 0) {
            if (klen > 0 && str) /* an empty string value */
                eng_buf_printf(out, " %.*s=\"\"", (int)klen, k);
        } else if (klen == 4 && strncmp(k, "time", 4) == 0) {
            eng_buf_append(out, v.data, v.len);
        } else if (klen == 5 && strncmp(k, "level", 5) == 0) {
            char lv[8];
            size_t i = 0;
            for (; i < v.len && i < 5; i++)
                lv[i] = (char)toupper((unsigned char)v.data[i]);
            lv[i] = '\0';
            eng_buf_printf(out, " %-5s", lv);
        } else if (klen == 3 && strncmp(k, "msg", 3) == 0) {
            eng_buf_putc(out, ' ');
            eng_buf_append(out, v.data, v.len);
        } else {
            eng_buf_putc(out, ' ');
            eng_buf_append(out, k, klen);
            eng_buf_putc(out, '=');
            int quote = str && (v.len == 0 || strpbrk(v.data, " =\"") != NULL); /* NUL-ended */
            if (quote)
                eng_buf_putc(out, '"');
            eng_buf_append(out, v.data, v.len);
            if (quote)
                eng_buf_putc(out, '"');
        }
        if (*p == ',')
            p++;
    }
    eng_buf_putc(out, '\n');
    eng_buf_free(&v);
}

static void log_emit(struct eng_buf *b)
{
    eng_buf_puts(b, "}\n");
    struct eng_buf t;
    eng_buf_init(&t);
    const struct eng_buf *line = b;
    if (!b->oom && eng_log_is_text()) {
        text_line(b->data, &t);
        if (!t.oom)
            line = &t;
    }
    if (!line->oom) {
        pthread_mutex_lock(&log_mu);
        if (status_out != NULL) { /* the log line goes above the status line */
            fputs("\r\033[K", status_out);
            fflush(status_out);
        }
        fwrite(line->data, 1, line->len, stderr);
        fflush(stderr);
        if (status_out != NULL) {
            fprintf(status_out, "\r%s\033[K", status_line);
            fflush(status_out);
        }
        pthread_mutex_unlock(&log_mu);
    }
    eng_buf_free(&t);
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
