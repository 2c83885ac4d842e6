/*
 * log.h - structured logging: one line per event on stderr, a JSON object (LOG_FORMAT=json) or a
 * line for people (LOG_FORMAT=text: "time LEVEL msg key=value ..."); LOG_FORMAT=auto (the
 * default) is text when stderr is a terminal and JSON otherwise.
 * Every line has time (UTC, ms), level and msg, then tenant and run when known, then fields.
 * A field whose key looks secret (eng_log_key_is_secret) is written as "[REDACTED]", always:
 * callers cannot opt out. Lines are written whole under a mutex, so threads never interleave.
 */
#ifndef ENG_LOG_H
#define ENG_LOG_H

#include <stddef.h>
#include <stdio.h>

#include "base/buf.h"

enum eng_log_level { ENG_LOG_DEBUG = 0, ENG_LOG_INFO, ENG_LOG_WARN, ENG_LOG_ERROR };

void eng_log_set_level(enum eng_log_level level);
enum eng_log_level eng_log_get_level(void);
/* "debug"|"info"|"warn"|"error" -> level; returns -1 for anything else. */
int eng_log_level_parse(const char *name);
const char *eng_log_level_name(enum eng_log_level level);

enum eng_log_format { ENG_LOG_FORMAT_AUTO = 0, ENG_LOG_FORMAT_JSON, ENG_LOG_FORMAT_TEXT };

/* "auto"|"json"|"text" -> format; -1 for anything else. */
int eng_log_format_parse(const char *name);
void eng_log_set_format(enum eng_log_format format);
/* 1 when lines are written as text now (auto resolved against stderr). */
int eng_log_is_text(void);

/* A status line (a progress bar) kept at the bottom of a terminal: written to out as
 * "\r<line>\033[K" without a newline; every log line first clears it and then redraws it
 * below, so the two never mix. NULL clears it and forgets it. Thread-safe. */
void eng_log_status(FILE *out, const char *line);

/* 1 when values under this key must never be written (secret, password, token, key, ...). */
int eng_log_key_is_secret(const char *key, size_t len);

/* Log msg with NULL-terminated key/value string pairs (values are JSON-escaped, secrets
 * redacted). tenant and run may be NULL. */
void eng_log_kv(enum eng_log_level level, const char *tenant, const char *run, const char *msg,
                const char *const *kv);
/* Log msg with fields already encoded as JSON object members ("\"a\":1,\"b\":\"x\"" without
 * braces; may be NULL). The caller must have redacted them (lmod_log does). */
void eng_log_raw(enum eng_log_level level, const char *tenant, const char *run, const char *msg,
                 const char *fields);
/* printf-style convenience without fields. */
void eng_logf(enum eng_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Start a line in b: {"time":...,"level":...,"msg":...[,"tenant":..][,"run":..] (no closing). */
void eng_log_begin(struct eng_buf *b, enum eng_log_level level, const char *tenant, const char *run,
                   const char *msg);

#endif
