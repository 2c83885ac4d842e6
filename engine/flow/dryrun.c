/*
 * dryrun.c - run a mapping over input records without writing anything (see dryrun.h): the
 * API's POST /api/mappings/{name}/dry-run on a worker's VM, and `tallysync dry-run`
 * (cli/cli_dry_run.c). The input is split here, in C, as it is read (NDJSON line by line, a
 * top-level array element by element), each record checked with base/json_read; the driver is
 * scripts/lib/dryrun.lua, reached through eng_vm_call only: prepare, then one call per record
 * (map_text / explain_text: decode, map, encode) so each record has its own budget and nothing
 * but one record and its output is held.
 * Owns: the split's chunk and record buffers and the prepared state's reference, released
 * before it returns. Must not: touch the Lua stack; write anywhere.
 */
#include "flow/dryrun.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json_read.h"
#include "flow/worker.h"
#include "lua/vm.h"

#define SPLIT_CHUNK ((size_t)64 << 10)

/* ---------------------------------------------------------------------------------------------
 * The split: the input's records, one at a time, in linear time and bounded memory (one chunk
 * and the current record, itself capped at ENG_DRYRUN_MAX_RECORD_BYTES). */

/* Called once per record: text[0..len) (NUL-terminated), its number (1-based), the input line
 * it starts on, and why the split refused it (NULL: text is the record). Non-zero stops. */
typedef int (*split_fn)(void *u, const char *text, size_t len, long long i, long long line,
                        const char *refused);

struct split {
    FILE *f;
    const char *mem; /* memory input: the one chunk */
    size_t memlen;
    char *chunk; /* file input */
    const char *c;
    size_t clen, cpos;
    int eof, ioerr;
    unsigned long long off; /* offset of c[0] in the input */
    long long line;         /* the line of the next byte, 1-based */
    struct eng_buf rec;
    int over; /* the record outgrew ENG_DRYRUN_MAX_RECORD_BYTES: not kept */
    int format;
    long long n; /* records so far */
    split_fn fn;
    void *u;
    int stopped;
    char fatal[240]; /* why the input as a whole is not JSON */
};

static int split_fill(struct split *s)
{
    if (s->cpos < s->clen)
        return 1;
    if (s->eof)
        return 0;
    s->off += s->clen;
    s->cpos = s->clen = 0;
    if (s->f == NULL) {
        if (s->c == NULL && s->memlen > 0) {
            s->c = s->mem;
            s->clen = s->memlen;
            return 1;
        }
        s->eof = 1;
        return 0;
    }
    size_t got = fread(s->chunk, 1, SPLIT_CHUNK, s->f);
    if (got == 0) {
        s->eof = 1;
        s->ioerr = ferror(s->f) ? (errno != 0 ? errno : EIO) : 0;
        return 0;
    }
    s->c = s->chunk;
    s->clen = got;
    return 1;
}

static unsigned long long split_at(const struct split *s)
{
    return s->off + s->cpos;
}

/* JSON's whitespace (RFC 8259): what separates records and surrounds them. */
static int split_space(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static void split_keep(struct split *s, const char *p, size_t n)
{
    if (s->over || n == 0)
        return;
    if (s->rec.len + n > ENG_DRYRUN_MAX_RECORD_BYTES) {
        s->over = 1;
        return;
    }
    eng_buf_append(&s->rec, p, n);
}

static void split_start(struct split *s)
{
    eng_buf_reset(&s->rec);
    eng_buf_putc(&s->rec, '\0'); /* data is never NULL */
    s->rec.len = 0;
    s->over = 0;
}

/* Hand the record kept in s->rec (trimmed of surrounding whitespace) to the callback. */
static void split_emit(struct split *s, long long line, const char *refused)
{
    static char none[1];
    char *p = s->rec.data != NULL && !s->rec.oom ? s->rec.data : none;
    size_t len = p != none ? s->rec.len : 0;
    if (p == none && refused == NULL)
        refused = "out of memory";
    while (len > 0 && split_space((unsigned char)p[len - 1]))
        len--;
    while (len > 0 && split_space((unsigned char)*p))
        p++, len--;
    p[len] = '\0';
    char big[96];
    if (refused == NULL && s->over) {
        snprintf(big, sizeof big, "larger than %zu MiB, the most one record may be",
                 ENG_DRYRUN_MAX_RECORD_BYTES >> 20);
        refused = big;
    }
    s->n++;
    if (s->fn(s->u, p, len, s->n, line, refused) != 0)
        s->stopped = 1;
}

/* Skip whitespace; the next byte (not consumed) or -1 at the end. */
static int split_peek_nonblank(struct split *s)
{
    while (split_fill(s)) {
        unsigned char ch = (unsigned char)s->c[s->cpos];
        if (!split_space(ch))
            return ch;
        if (ch == '\n')
            s->line++;
        s->cpos++;
    }
    return -1;
}

/* Keep the rest of the current line (up to, not including, its '\n', which is consumed) in
 * s->rec. */
static void split_line(struct split *s)
{
    while (split_fill(s)) {
        const char *p = s->c + s->cpos;
        size_t avail = s->clen - s->cpos;
        const char *nl = memchr(p, '\n', avail);
        size_t n = nl != NULL ? (size_t)(nl - p) : avail;
        split_keep(s, p, n);
        s->cpos += n;
        if (nl != NULL) {
            s->cpos++;
            s->line++;
            return;
        }
    }
}

/* Is text one complete JSON value? 1 yes, 0 no, -1 no because it ended early; *r says why and
 * where (r->what, r->at). */
static int split_check(const char *text, size_t len, struct eng_json_read *r)
{
    eng_json_read_init(r, text, len, ENG_JSON_READ_MAX_DEPTH, 0);
    int t;
    do
        t = eng_json_read_next(r);
    while (t > 0);
    if (t == ENG_JSON_READ_EOF)
        return 1;
    return r->at >= len ? -1 : 0;
}

/* NDJSON, or one document on its first line: record per non-blank line. The first line is in
 * s->rec already (read by split_run). */
static void split_lines(struct split *s, long long first_line)
{
    /* one line alone is the single-document shape: look ahead (past blanks only) for a second
     * record */
    s->format = split_peek_nonblank(s) >= 0 ? ENG_DRYRUN_NDJSON : ENG_DRYRUN_SINGLE;
    split_emit(s, first_line, NULL);
    while (!s->stopped && split_peek_nonblank(s) >= 0) {
        long long line = s->line;
        split_start(s);
        split_line(s);
        split_emit(s, line, NULL);
    }
}

/* A top-level array, at its '[': one record per element, found by bracket depth outside
 * strings (linear, no stack: each element is then checked whole by json_read). */
static void split_array(struct split *s)
{
    s->format = ENG_DRYRUN_ARRAY;
    s->cpos++; /* the '[' */
    if (split_peek_nonblank(s) == ']') {
        s->cpos++;
        goto after;
    }
    for (;;) {
        split_start(s);
        long long line = -1;
        unsigned long long depth = 0; /* bytes, so it cannot overflow */
        int in_str = 0, esc = 0, end = 0;
        while (!end && split_fill(s)) {
            const char *p = s->c + s->cpos, *q = p, *stop = s->c + s->clen;
            for (; q < stop; q++) {
                unsigned char ch = (unsigned char)*q;
                if (line < 0 && !split_space(ch))
                    line = s->line;
                if (ch == '\n')
                    s->line++;
                if (in_str) {
                    if (esc)
                        esc = 0;
                    else if (ch == '\\')
                        esc = 1;
                    else if (ch == '"')
                        in_str = 0;
                } else if (ch == '"') {
                    in_str = 1;
                } else if (ch == '{' || ch == '[') {
                    depth++;
                } else if (ch == '}' || (ch == ']' && depth > 0)) {
                    depth -= depth > 0; /* a stray '}' stays in the element: json_read says */
                } else if (depth == 0 && (ch == ',' || ch == ']')) {
                    end = ch;
                    break;
                }
            }
            split_keep(s, p, (size_t)(q - p));
            s->cpos += (size_t)(q - p) + (end != 0);
        }
        if (!end) {
            if (s->ioerr)
                return;
            snprintf(s->fatal, sizeof s->fatal,
                     "malformed JSON: unexpected end of input at byte %llu (the array is not "
                     "closed)",
                     split_at(s) + 1);
            return;
        }
        int empty = !s->over && s->rec.len == 0;
        split_emit(s, line < 0 ? s->line : line,
                   empty ? (end == ']' ? "malformed JSON: no value before ']'"
                                       : "malformed JSON: no value before ','")
                         : NULL);
        if (s->stopped || end == ']')
            break;
    }
after:
    if (!s->stopped && split_peek_nonblank(s) >= 0)
        snprintf(s->fatal, sizeof s->fatal,
                 "malformed JSON: trailing characters after the array at byte %llu",
                 split_at(s) + 1);
}

/* The input's shape, from its first record, then every record. */
static void split_run(struct split *s)
{
    int ch = split_peek_nonblank(s);
    if (ch < 0) {
        if (!s->ioerr)
            snprintf(s->fatal, sizeof s->fatal, "no JSON record in the input");
        return;
    }
    if (ch == '[') {
        split_array(s);
        return;
    }
    unsigned long long start = split_at(s);
    long long line = s->line;
    split_start(s);
    split_line(s);
    struct eng_json_read r;
    if (s->over || split_check(s->rec.data, s->rec.len, &r) != -1) {
        split_lines(s, line); /* a whole value (or a malformed line) on the first line */
        return;
    }
    /* one document over several lines: the whole input is that one record */
    s->format = ENG_DRYRUN_SINGLE;
    split_keep(s, "\n", 1);
    while (split_fill(s)) {
        split_keep(s, s->c + s->cpos, s->clen - s->cpos);
        s->cpos = s->clen;
    }
    if (s->ioerr)
        return;
    if (!s->over && split_check(s->rec.data, s->rec.len, &r) != 1) {
        /* not one document, and not NDJSON either: the input is malformed as a whole */
        snprintf(s->fatal, sizeof s->fatal, "malformed JSON: %s at byte %llu", r.what,
                 start + r.at + 1);
        return;
    }
    split_emit(s, line, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * The dry run. */

struct run {
    struct eng_vm *vm;
    const struct eng_dryrun_sink *sink;
    const char *source;
    int state;
    unsigned flags;
    int *format;
    long long total; /* records in the input when counted first, else -1 */
    long long max_errors;
    long long written, failed;
    int werr;
    char fatal[200]; /* the one document of the input is not JSON */
};

/* One line per failure: keep the message (it names file:line), drop the traceback. */
static const char *dryrun_msg(struct eng_err *err)
{
    char *tb = strstr(err->msg, "\nstack traceback:");
    if (tb != NULL)
        *tb = '\0';
    for (char *p = err->msg; *p; p++)
        if (*p == '\n')
            *p = ' ';
    return err->msg;
}

static void run_error(struct run *r, long long record, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void run_error(struct run *r, long long record, const char *fmt, ...)
{
    char line[sizeof((struct eng_err *)0)->msg + 128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    r->sink->error(r->sink->u, record, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void run_write(struct run *r, const char *s, size_t n)
{
    if (r->werr == 0 && n > 0)
        r->werr = r->sink->write(r->sink->u, s, n);
}

/* The split's callback: check, map (or explain) and write one record. */
static int run_record(void *u, const char *text, size_t len, long long i, long long line,
                      const char *refused)
{
    struct run *r = u;
    int fmt = *r->format;
    char what[176] = "malformed JSON: ";
    eng_workers_beat(NULL); /* each record has its own budget: a heartbeat per record */
    struct eng_json_read jr;
    if (refused == NULL && split_check(text, len, &jr) != 1) {
        eng_json_read_error(&jr, what + 16, sizeof what - 16);
        refused = what;
    }
    int failed = 0;
    if (refused != NULL) {
        if (fmt == ENG_DRYRUN_SINGLE) { /* the input is that one document: not JSON at all */
            snprintf(r->fatal, sizeof r->fatal, "%s", refused);
            return 1;
        }
        run_error(r, i, "record %lld (%s line %lld): %s", i, r->source, line, refused);
        failed = 1;
    } else {
        int text_explain = (r->flags & ENG_DRYRUN_EXPLAIN) && !(r->flags & ENG_DRYRUN_EXPLAIN_JSON);
        int pretty = fmt != ENG_DRYRUN_NDJSON;
        struct eng_err err = {0};
        char *doc = NULL;
        size_t dlen = 0;
        int rc = (r->flags & ENG_DRYRUN_EXPLAIN)
                     ? eng_vm_call(r->vm, "lib.dryrun", "explain_text", 0, &err, "rSibb>S",
                                   r->state, text, len, i, !text_explain, pretty, &doc, &dlen)
                     : eng_vm_call(r->vm, "lib.dryrun", "map_text", 0, &err, "rSib>S", r->state,
                                   text, len, i, pretty, &doc, &dlen);
        if (rc != 0) {
            /* budget and memory errors come from the VM and do not name the record */
            if (strncmp(err.msg, "record ", 7) != 0)
                run_error(r, i, "record %lld: %s", i, dryrun_msg(&err));
            else
                run_error(r, i, "%s", dryrun_msg(&err));
            failed = 1;
        } else {
            int wrap = fmt == ENG_DRYRUN_ARRAY && !text_explain;
            if (wrap)
                run_write(r, r->written > 0 ? ",\n" : "[\n", 2);
            else if (text_explain && r->written > 0)
                run_write(r, "\n", 1);
            run_write(r, doc != NULL ? doc : "", doc != NULL ? dlen : 0);
            if (!wrap)
                run_write(r, "\n", 1);
            r->written++;
        }
        free(doc);
    }
    if (failed && ++r->failed == r->max_errors && (r->total < 0 || i < r->total)) {
        /* the answer is an error anyway: mapping the rest would only cost time */
        if (r->total >= 0)
            run_error(r, 0,
                      "stopped after %lld failing records: records %lld to %lld were not mapped",
                      r->max_errors, i + 1, r->total);
        else
            run_error(r, 0, "stopped after %lld failing records", r->max_errors);
        return 1;
    }
    return r->werr != 0;
}

static int count_record(void *u, const char *text, size_t len, long long i, long long line,
                        const char *refused)
{
    (void)u, (void)text, (void)len, (void)i, (void)line, (void)refused;
    return 0;
}

/* eng_dryrun_stream with the VM already read-only. */
static int dryrun_run(struct eng_vm *vm, const char *mapping, FILE *in, const char *input,
                      size_t inlen, const char *source, const char *config, size_t conflen,
                      const struct eng_dryrun_sink *sink, int *format, unsigned flags,
                      struct eng_dryrun_limits *lim, long long max_errors)
{
    struct run r = {.vm = vm,
                    .sink = sink,
                    .source = source,
                    .state = ENG_VM_NOREF,
                    .flags = flags,
                    .format = format,
                    .total = -1,
                    .max_errors = max_errors};
    struct split s = {.f = in, .mem = input, .memlen = inlen, .line = 1};
    eng_buf_init(&s.rec);
    *format = ENG_DRYRUN_SINGLE;
    long long max = lim != NULL ? lim->max_records : 0;
    int rc = 0;

    if (max > 0 && in == NULL) { /* count first: over the limit, nothing is mapped */
        struct split c = {.mem = input, .memlen = inlen, .line = 1, .fn = count_record};
        eng_buf_init(&c.rec);
        split_run(&c);
        eng_buf_free(&c.rec);
        r.total = c.n;
        if (c.n > max) {
            lim->too_many = 1;
            run_error(&r, 0, "%s: %lld records; a dry run maps at most %lld (DRY_RUN_MAX_RECORDS)",
                      source, c.n, max);
            return ENG_EINVAL;
        }
    }

    struct eng_err err = {0};
    if (eng_vm_call(vm, "lib.dryrun", "prepare", 0, &err, "sS>r", mapping, config,
                    config != NULL ? conflen : 0, &r.state) != 0) {
        run_error(&r, 0, "mapping %s: %s", mapping, dryrun_msg(&err));
        return ENG_ESCRIPT;
    }
    if (in != NULL && (s.chunk = malloc(SPLIT_CHUNK)) == NULL) {
        eng_vm_unref(vm, r.state);
        return ENG_ENOMEM;
    }
    s.fn = run_record;
    s.u = &r;
    /* the format is known before the first record: split_run sets it, then calls back */
    s.format = ENG_DRYRUN_SINGLE;
    r.format = &s.format;
    split_run(&s);
    *format = s.format;

    if (r.written > 0 && s.format == ENG_DRYRUN_ARRAY &&
        !((flags & ENG_DRYRUN_EXPLAIN) && !(flags & ENG_DRYRUN_EXPLAIN_JSON)))
        run_write(&r, "\n]\n", 3);
    else if (s.format == ENG_DRYRUN_ARRAY && s.fatal[0] == '\0' && !s.ioerr &&
             !((flags & ENG_DRYRUN_EXPLAIN) && !(flags & ENG_DRYRUN_EXPLAIN_JSON)))
        run_write(&r, "[]\n", 3);
    if (s.ioerr) {
        run_error(&r, 0, "%s: cannot read: %s", source, strerror(s.ioerr));
        rc = ENG_EINVAL;
    } else if (s.fatal[0] != '\0' || r.fatal[0] != '\0') {
        run_error(&r, 0, "%s: %s", source, s.fatal[0] != '\0' ? s.fatal : r.fatal);
        rc = ENG_EINVAL;
    } else if (r.failed > 0) {
        rc = ENG_ESCRIPT;
    }
    if (r.werr != 0)
        rc = ENG_EIO;
    if (s.rec.oom)
        rc = ENG_ENOMEM;
    if (lim != NULL) {
        lim->records = s.n;
        lim->failed = r.failed;
    }
    free(s.chunk);
    eng_buf_free(&s.rec);
    eng_vm_unref(vm, r.state);
    return rc;
}

int eng_dryrun_stream(struct eng_vm *vm, const char *mapping, FILE *in, const char *input,
                      size_t inlen, const char *source, const char *config, size_t conflen,
                      const struct eng_dryrun_sink *sink, int *format, unsigned flags,
                      struct eng_dryrun_limits *lim)
{
    int was = eng_vm_set_db_readonly(vm, 1);
    int rc = dryrun_run(vm, mapping, in, input, inlen, source, config, conflen, sink, format, flags,
                        lim, 0);
    eng_vm_set_db_readonly(vm, was);
    return rc;
}

struct bufs {
    struct eng_buf *out, *errors, *failed;
};

static int bufs_write(void *u, const char *s, size_t n)
{
    struct bufs *b = u;
    eng_buf_append(b->out, s, n);
    return b->out->oom ? ENG_ENOMEM : 0;
}

static void bufs_error(void *u, long long record, const char *line, size_t n)
{
    struct bufs *b = u;
    if (record > 0 && b->failed != NULL)
        eng_buf_printf(b->failed, "%s%lld", b->failed->len > 0 ? "," : "", record);
    eng_buf_append(b->errors, line, n);
    eng_buf_putc(b->errors, '\n');
}

int eng_dryrun_execute(struct eng_vm *vm, const char *mapping, const char *input, size_t inlen,
                       const char *source, const char *config, size_t conflen, struct eng_buf *out,
                       struct eng_buf *errors, struct eng_buf *failed, int *format, unsigned flags,
                       struct eng_dryrun_limits *lim)
{
    struct eng_dryrun_limits def = {0};
    if (lim == NULL)
        lim = &def;
    if (lim->max_records <= 0)
        lim->max_records = ENG_DRYRUN_DEFAULT_MAX_RECORDS;
    struct bufs b = {out, errors, failed};
    const struct eng_dryrun_sink sink = {bufs_write, bufs_error, &b};
    int was = eng_vm_set_db_readonly(vm, 1);
    int rc = dryrun_run(vm, mapping, NULL, input != NULL ? input : "", inlen, source, config,
                        conflen, &sink, format, flags, lim, ENG_DRYRUN_MAX_ERRORS);
    eng_vm_set_db_readonly(vm, was);
    if (rc == ENG_EIO || out->oom || errors->oom || (failed != NULL && failed->oom))
        rc = ENG_ENOMEM;
    return rc;
}

char *eng_dryrun_note(struct eng_vm *vm, const char *mapping, const char *config, size_t conflen)
{
    char *note = NULL;
    struct eng_err err = {0};
    int was = eng_vm_set_db_readonly(vm, 1);
    int rc = eng_vm_call(vm, "lib.mapping", "assumption_note", 0, &err, "sS>s", mapping, config,
                         config != NULL ? conflen : 0, &note);
    eng_vm_set_db_readonly(vm, was);
    return rc != 0 ? NULL : note;
}
