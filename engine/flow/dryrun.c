/*
 * dryrun.c - run a mapping over input records without writing anything (see dryrun.h): the
 * API's POST /api/mappings/{name}/dry-run on a worker's VM, and `tallysync dry-run`
 * (cli/cli_dry_run.c), on one thread or on several (eng_dryrun_parallel). The input is split
 * here, in C, as it is read (NDJSON line by line, a top-level array element by element); the
 * driver is scripts/lib/dryrun.lua, reached through eng_vm_call only: prepare, then one call per
 * record (map_text / explain_text: decode, map, encode) so each record has its own budget and
 * nothing but the records in flight and their outputs is held. A record is read once: by the
 * decoder, whose reader (base/json_read) is the check's; only a record that fails to decode is
 * read again, for the check's error line.
 * Owns: the split's chunk and record buffers, the prepared state's reference, and on several
 * threads the ring of records in flight and the workers (each owns its VM), all released
 * before it returns. Must not: touch the Lua stack; write anywhere; call the sink from any
 * thread but the caller's.
 */
#include "flow/dryrun.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
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
 * One record: checked, mapped, written. The three steps stand apart so that the CLI's dry run on
 * several threads (below) maps on its workers and checks and writes on the thread that splits;
 * one thread (eng_dryrun_stream) runs them one after the other. */

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

/* What mapping one record gave: its output (malloc'd), or its one error line. */
struct result {
    int failed;
    char *doc;
    size_t dlen;
    size_t n; /* failed: the length of line */
    char line[sizeof((struct eng_err *)0)->msg + 128];
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

static void result_error(struct result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void result_error(struct result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(res->line, sizeof res->line, fmt, ap);
    va_end(ap);
    res->failed = 1;
    if (n < 0)
        res->line[0] = '\0', n = 0;
    res->n = (size_t)n < sizeof res->line ? (size_t)n : sizeof res->line - 1;
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

/* Before record i is mapped, on the thread that splits: the split's verdict (refused), and for
 * the single-document shape the whole check (that document is the input: not JSON, the run
 * fails as a whole). Other records are not checked here: the decoder reads them with the same
 * reader (map_one). Returns 0 to map the record, else 1: res has its error line, or r->fatal is
 * set (the run stops). */
static int check_one(struct run *r, int fmt, const char *text, size_t len, long long i,
                     long long line, const char *refused, struct result *res)
{
    char what[176] = "malformed JSON: ";
    struct eng_json_read jr;
    if (refused == NULL && fmt == ENG_DRYRUN_SINGLE && split_check(text, len, &jr) != 1) {
        eng_json_read_error(&jr, what + 16, sizeof what - 16);
        refused = what;
    }
    if (refused == NULL)
        return 0;
    if (fmt == ENG_DRYRUN_SINGLE) /* the input is that one document: not JSON at all */
        snprintf(r->fatal, sizeof r->fatal, "%s", refused);
    else
        result_error(res, "record %lld (%s line %lld): %s", i, r->source, line, refused);
    return 1;
}

/* Map (or explain) record number i, text[0..len) from line `line` of source, on vm with the
 * prepared state; any thread, its own VM. The text was not checked: lib.dryrun's decode reads
 * it with base/json_read, the reader the check would use (same depth limit, same rules), so it
 * fails on every text the check refuses, and on those only the failing text is checked again,
 * for the check's own error line ("record i (SOURCE line N): malformed JSON: <what> at byte B");
 * each record is read once. */
static void map_one(struct eng_vm *vm, int state, unsigned flags, int fmt, const char *source,
                    const char *text, size_t len, long long i, long long line, struct result *res)
{
    int text_explain = (flags & ENG_DRYRUN_EXPLAIN) && !(flags & ENG_DRYRUN_EXPLAIN_JSON);
    int pretty = fmt != ENG_DRYRUN_NDJSON;
    struct eng_err err = {0};
    char *doc = NULL;
    size_t dlen = 0;
    int rc = (flags & ENG_DRYRUN_EXPLAIN)
                 ? eng_vm_call(vm, "lib.dryrun", "explain_text", 0, &err, "rSibb>S", state, text,
                               len, i, !text_explain, pretty, &doc, &dlen)
                 : eng_vm_call(vm, "lib.dryrun", "map_text", 0, &err, "rSib>S", state, text, len, i,
                               pretty, &doc, &dlen);
    if (rc == 0) {
        res->doc = doc;
        res->dlen = dlen;
        return;
    }
    char undecoded[64];
    int un = snprintf(undecoded, sizeof undecoded, "record %lld: malformed JSON: ", i);
    struct eng_json_read jr;
    if (un > 0 && strncmp(err.msg, undecoded, (size_t)un) == 0 &&
        split_check(text, len, &jr) != 1) {
        char what[160];
        eng_json_read_error(&jr, what, sizeof what);
        result_error(res, "record %lld (%s line %lld): malformed JSON: %s", i, source, line, what);
    } else if (strncmp(err.msg, "record ", 7) != 0) {
        /* budget and memory errors come from the VM and do not name the record */
        result_error(res, "record %lld: %s", i, dryrun_msg(&err));
    } else {
        result_error(res, "%s", dryrun_msg(&err));
    }
}

/* Write record i's result (its output, or its error line) and let go of it. Non-zero stops the
 * run. */
static int put_one(struct run *r, int fmt, long long i, struct result *res)
{
    if (res->failed) {
        r->sink->error(r->sink->u, i, res->line, res->n);
    } else {
        int text_explain = (r->flags & ENG_DRYRUN_EXPLAIN) && !(r->flags & ENG_DRYRUN_EXPLAIN_JSON);
        int wrap = fmt == ENG_DRYRUN_ARRAY && !text_explain;
        if (wrap)
            run_write(r, r->written > 0 ? ",\n" : "[\n", 2);
        else if (text_explain && r->written > 0)
            run_write(r, "\n", 1);
        run_write(r, res->doc != NULL ? res->doc : "", res->doc != NULL ? res->dlen : 0);
        if (!wrap)
            run_write(r, "\n", 1);
        r->written++;
    }
    free(res->doc);
    res->doc = NULL;
    if (res->failed && ++r->failed == r->max_errors && (r->total < 0 || i < r->total)) {
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

/* The split's callback on one thread: check, map (or explain) and write one record. */
static int run_record(void *u, const char *text, size_t len, long long i, long long line,
                      const char *refused)
{
    struct run *r = u;
    int fmt = *r->format;
    struct result res;
    res.failed = 0;
    res.doc = NULL;
    eng_workers_beat(NULL); /* each record has its own budget: a heartbeat per record */
    if (check_one(r, fmt, text, len, i, line, refused, &res)) {
        if (r->fatal[0] != '\0')
            return 1;
    } else {
        map_one(r->vm, r->state, r->flags, fmt, r->source, text, len, i, line, &res);
    }
    return put_one(r, fmt, i, &res);
}

static int count_record(void *u, const char *text, size_t len, long long i, long long line,
                        const char *refused)
{
    (void)u, (void)text, (void)len, (void)i, (void)line, (void)refused;
    return 0;
}

/* After the split: the array's end, the input's own error, the status. */
static int run_end(struct run *r, const struct split *s, unsigned flags,
                   struct eng_dryrun_limits *lim)
{
    int rc = 0;
    int text_explain = (flags & ENG_DRYRUN_EXPLAIN) && !(flags & ENG_DRYRUN_EXPLAIN_JSON);
    if (r->written > 0 && s->format == ENG_DRYRUN_ARRAY && !text_explain)
        run_write(r, "\n]\n", 3);
    else if (s->format == ENG_DRYRUN_ARRAY && s->fatal[0] == '\0' && !s->ioerr && !text_explain)
        run_write(r, "[]\n", 3);
    if (s->ioerr) {
        run_error(r, 0, "%s: cannot read: %s", r->source, strerror(s->ioerr));
        rc = ENG_EINVAL;
    } else if (s->fatal[0] != '\0' || r->fatal[0] != '\0') {
        run_error(r, 0, "%s: %s", r->source, s->fatal[0] != '\0' ? s->fatal : r->fatal);
        rc = ENG_EINVAL;
    } else if (r->failed > 0) {
        rc = ENG_ESCRIPT;
    }
    if (r->werr != 0)
        rc = ENG_EIO;
    if (s->rec.oom)
        rc = ENG_ENOMEM;
    if (lim != NULL) {
        lim->records = s->n;
        lim->failed = r->failed;
    }
    return rc;
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
    int rc = run_end(&r, &s, flags, lim);
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

/* ---------------------------------------------------------------------------------------------
 * The CLI's dry run on several threads (eng_dryrun_parallel). The calling thread splits the
 * input, checks each record (check_one) and writes the results in input order (put_one); up to
 * `jobs` workers, each with its own VM made and prepared on its own thread (their starts
 * overlap), map the records (map_one). Between them a ring of PAR_SLOTS_PER_JOB slots per job,
 * each holding one record, then its result, until it is written, and at most PAR_MAX_BYTES of
 * record text (one record alone may be larger: it is let in when the ring is empty). When the
 * ring is full the splitter waits for the writer: memory is bounded whatever the input's size,
 * and a slow record holds the writer (the records after it wait, mapped, in their slots), not
 * memory. Worker k > 0 starts once more than PAR_LAZY * k records were read, so a small input
 * makes no VM it cannot use. */

#define PAR_SLOTS_PER_JOB 16
#define PAR_MAX_BYTES     (2 * ENG_DRYRUN_MAX_RECORD_BYTES)
#define PAR_KEEP_BYTES    ((size_t)1 << 20) /* a slot's larger text buffer is freed after use */
#define PAR_LAZY          32

struct pslot {
    struct eng_buf text;
    long long i, line;
    int fmt;
    int done; /* res is made (a refused record: by the splitter) */
    struct result res;
};

struct par;
struct pworker {
    struct par *p;
    int k;
};

struct par {
    pthread_mutex_t mu;
    pthread_cond_t work; /* workers wait: a record to map, the end of the input, the end */
    pthread_cond_t done; /* the splitter waits: a result made, worker 0 ready */
    struct pslot *slots;
    unsigned long long nslots;
    unsigned long long head, next, tail; /* the slot to fill next, to map next, to write next */
    unsigned long long ndone;            /* slots between tail and head whose result is made */
    unsigned long long wake_ndone;       /* the waiting splitter wants this many made... */
    int waiting;                         /* ...and the tail's: only then is it woken */
    size_t bytes;                        /* record text in the ring */
    int closing;                         /* no more records: a worker with nothing to map leaves */
    int stop;                            /* the run stopped: map nothing more */
    int finished;                        /* everything is written: worker 0 makes the note */
    int ready;                           /* worker 0: 0 starting, 1 prepared, -1 failed */
    int vm_failed;                       /* ready -1: its VM could not be made (else: prepare) */
    int oom;
    struct eng_err err;
    int want_note;
    char *note;
    /* set before the first worker starts */
    const struct eng_vm_opts *opts;
    const char *mapping, *config, *source;
    size_t conflen;
    unsigned flags;
    struct run *r;
    /* the splitter's own */
    int jobs, started;
    pthread_t th[ENG_DRYRUN_MAX_JOBS];
    struct pworker w[ENG_DRYRUN_MAX_JOBS];
};

static void *par_worker(void *arg)
{
    struct pworker *w = arg;
    struct par *p = w->p;
    struct eng_err err = {0};
    int state = ENG_VM_NOREF;
    struct eng_vm *vm = eng_vm_new(p->opts, &err);
    int ok = vm != NULL;
    if (ok) {
        eng_vm_set_db_readonly(vm, 1);
        ok = eng_vm_call(vm, "lib.dryrun", "prepare", 0, &err, "sS>r", p->mapping, p->config,
                         p->config != NULL ? p->conflen : 0, &state) == 0;
    }
    pthread_mutex_lock(&p->mu);
    if (w->k == 0) {
        p->ready = ok ? 1 : -1;
        if (!ok) {
            p->err = err;
            p->vm_failed = vm == NULL;
        }
        pthread_cond_signal(&p->done);
    }
    /* a later worker that cannot start leaves the records to the others */
    while (ok) {
        while (p->next == p->head && !p->closing && !p->stop)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop || p->next == p->head)
            break;
        struct pslot *sl = &p->slots[p->next++ % p->nslots];
        pthread_mutex_unlock(&p->mu);
        map_one(vm, state, p->flags, sl->fmt, p->source, sl->text.data, sl->text.len, sl->i,
                sl->line, &sl->res);
        pthread_mutex_lock(&p->mu);
        sl->done = 1;
        p->ndone++;
        if (p->waiting && p->ndone >= p->wake_ndone && p->slots[p->tail % p->nslots].done)
            pthread_cond_signal(&p->done);
    }
    if (w->k == 0) {
        while (!p->finished)
            pthread_cond_wait(&p->work, &p->mu);
        if (ok && p->want_note) {
            pthread_mutex_unlock(&p->mu);
            char *note = eng_dryrun_note(vm, p->mapping, p->config, p->conflen);
            pthread_mutex_lock(&p->mu);
            p->note = note;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (vm != NULL)
        eng_vm_unref(vm, state);
    eng_vm_free(vm);
    return NULL;
}

/* Start worker number p->started: 0 or pthread_create's error. */
static int par_start(struct par *p)
{
    int k = p->started;
    p->w[k] = (struct pworker){p, k};
    int rc = pthread_create(&p->th[k], NULL, par_worker, &p->w[k]);
    if (rc == 0)
        p->started++;
    return rc;
}

/* With p->mu held: write the results at the ring's tail that are made, in order (letting go of
 * the lock while writing). Non-zero: the run stops. */
static int par_write(struct par *p)
{
    while (p->tail < p->head && p->slots[p->tail % p->nslots].done) {
        struct pslot *sl = &p->slots[p->tail % p->nslots];
        pthread_mutex_unlock(&p->mu);
        int stop = put_one(p->r, sl->fmt, sl->i, &sl->res);
        p->bytes -= sl->text.len;
        if (sl->text.cap > PAR_KEEP_BYTES)
            eng_buf_free(&sl->text);
        else
            eng_buf_reset(&sl->text);
        pthread_mutex_lock(&p->mu);
        sl->done = 0;
        p->ndone--;
        p->tail++;
        if (stop)
            return 1;
    }
    return 0;
}

/* With p->mu held and a result outstanding (tail < head): wait until the tail's result is made
 * and, with it, half a ring of results (or all there are), so the splitter is woken once per
 * batch, not once per record (a wake-up per record cost a fifth more CPU on two cores). */
static void par_wait(struct par *p)
{
    unsigned long long inflight = p->head - p->tail, half = p->nslots / 2;
    p->wake_ndone = inflight < half ? inflight : half;
    p->waiting = 1;
    while (!(p->ndone >= p->wake_ndone && p->slots[p->tail % p->nslots].done))
        pthread_cond_wait(&p->done, &p->mu);
    p->waiting = 0;
}

/* The split's callback: wait for room in the ring (writing what is made meanwhile), then put
 * the record in, refused already or for a worker to map. */
static int par_record(void *u, const char *text, size_t len, long long i, long long line,
                      const char *refused)
{
    struct par *p = u;
    struct run *r = p->r;
    int fmt = *r->format;
    while (p->started < p->jobs && i > (long long)PAR_LAZY * p->started)
        if (par_start(p) != 0)
            p->jobs = p->started; /* no more threads: the ones there are map everything */
    pthread_mutex_lock(&p->mu);
    int stop = 0;
    for (;;) {
        if ((stop = par_write(p)) != 0)
            break;
        if (p->head - p->tail < p->nslots &&
            (p->head == p->tail || p->bytes + len <= PAR_MAX_BYTES))
            break;
        par_wait(p);
    }
    if (stop) {
        p->stop = 1;
        pthread_mutex_unlock(&p->mu);
        return 1;
    }
    /* the slot at head is no thread's but this one's until head moves past it */
    struct pslot *sl = &p->slots[p->head % p->nslots];
    pthread_mutex_unlock(&p->mu);
    sl->i = i;
    sl->line = line;
    sl->fmt = fmt;
    sl->res.failed = 0;
    sl->res.doc = NULL;
    int done = check_one(r, fmt, text, len, i, line, refused, &sl->res);
    if (r->fatal[0] != '\0')
        return 1;
    if (!done) {
        eng_buf_append(&sl->text, text, len);
        if (sl->text.data == NULL)
            eng_buf_putc(&sl->text, '\0'), sl->text.len = 0;
        if (sl->text.oom) {
            eng_buf_free(&sl->text);
            pthread_mutex_lock(&p->mu);
            p->oom = p->stop = 1;
            pthread_mutex_unlock(&p->mu);
            return 1;
        }
    }
    pthread_mutex_lock(&p->mu);
    sl->done = done;
    p->ndone += done != 0;
    p->bytes += sl->text.len;
    p->head++;
    if (!done)
        pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int eng_dryrun_jobs_default(void)
{
    cpu_set_t set;
    int n = 1;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    if (n < 1)
        n = 1;
    return n > ENG_DRYRUN_DEFAULT_MAX_JOBS ? ENG_DRYRUN_DEFAULT_MAX_JOBS : n;
}

int eng_dryrun_parallel(const struct eng_vm_opts *opts, int jobs, const char *mapping, FILE *in,
                        const char *input, size_t inlen, const char *source, const char *config,
                        size_t conflen, const struct eng_dryrun_sink *sink, int *format,
                        unsigned flags, struct eng_dryrun_limits *lim, char **note)
{
    if (note != NULL)
        *note = NULL;
    *format = ENG_DRYRUN_SINGLE;
    if (jobs < 1)
        jobs = 1;
    if (jobs > ENG_DRYRUN_MAX_JOBS)
        jobs = ENG_DRYRUN_MAX_JOBS;
    struct run r = {.sink = sink,
                    .source = source,
                    .state = ENG_VM_NOREF,
                    .flags = flags,
                    .format = format,
                    .total = -1};
    struct split s = {.f = in, .mem = input, .memlen = inlen, .line = 1};
    eng_buf_init(&s.rec);
    struct par *p = calloc(1, sizeof *p);
    if (p == NULL)
        return ENG_ENOMEM;
    p->nslots = (unsigned long long)PAR_SLOTS_PER_JOB * (unsigned long long)jobs;
    p->slots = calloc(p->nslots, sizeof *p->slots);
    if (p->slots == NULL || (in != NULL && (s.chunk = malloc(SPLIT_CHUNK)) == NULL)) {
        free(p->slots);
        free(p);
        return ENG_ENOMEM;
    }
    for (unsigned long long k = 0; k < p->nslots; k++)
        eng_buf_init(&p->slots[k].text);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->opts = opts;
    p->mapping = mapping;
    p->config = config;
    p->conflen = conflen;
    p->source = source;
    p->flags = flags;
    p->r = &r;
    p->jobs = jobs;

    int rc = 0;
    int terr = par_start(p);
    if (terr != 0) {
        run_error(&r, 0, "cannot start a thread: %s", strerror(terr));
        rc = ENG_ENOMEM;
        goto out;
    }
    /* nothing is read before worker 0 has its mapping ready: a mapping that does not load is
     * the one error, as on one thread */
    pthread_mutex_lock(&p->mu);
    while (p->ready == 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    if (p->ready < 0) {
        if (p->vm_failed)
            run_error(&r, 0, "%s", p->err.msg);
        else
            run_error(&r, 0, "mapping %s: %s", mapping, dryrun_msg(&p->err));
        rc = ENG_ESCRIPT;
        goto out;
    }

    s.fn = par_record;
    s.u = p;
    s.format = ENG_DRYRUN_SINGLE;
    r.format = &s.format;
    split_run(&s);
    *format = s.format;
    pthread_mutex_lock(&p->mu);
    p->closing = 1;
    pthread_cond_broadcast(&p->work);
    while (!p->stop && p->tail < p->head) {
        if (par_write(p) != 0)
            p->stop = 1;
        else if (p->tail < p->head)
            par_wait(p);
    }
    if (p->stop)
        pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    rc = run_end(&r, &s, flags, lim);
    if (p->oom)
        rc = ENG_ENOMEM;

out:
    pthread_mutex_lock(&p->mu);
    p->closing = p->finished = 1;
    p->want_note = note != NULL && p->ready > 0 && s.n - r.failed > 0;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int k = 0; k < p->started; k++)
        pthread_join(p->th[k], NULL);
    if (note != NULL)
        *note = p->note;
    for (unsigned long long k = 0; k < p->nslots; k++) {
        free(p->slots[k].res.doc);
        eng_buf_free(&p->slots[k].text);
    }
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p);
    free(s.chunk);
    eng_buf_free(&s.rec);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * The API's dry run: one thread (a server worker's VM), the bounds, the results in buffers. */

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
