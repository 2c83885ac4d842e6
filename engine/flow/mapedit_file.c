/*
 * mapedit_file.c - the files of the console's mapping editor (see mapedit.h): a mapping or a
 * data test case written atomically into MAPPINGS_DIR, and the cases of a mapping read back.
 * Owns: its temporary file until it is renamed or removed. Must not: write outside the folder
 * it is given (names are checked ids: the callers refuse '/' and "..").
 */
#include "flow/mapedit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/dirlist.h"
#include "base/json_read.h"

char *eng_mapedit_read(const char *path, size_t max, size_t *len)
{
    struct eng_buf b;
    eng_buf_init(&b);
    if (eng_buf_read_file(&b, path, max, NULL) != 0) {
        eng_buf_free(&b);
        return NULL;
    }
    return eng_buf_take(&b, len);
}

int eng_mapedit_write(const char *dir, const char *file, const char *text, size_t len, int mkdir_ok,
                      int *created, struct eng_err *err)
{
    char path[4096], tmp[4096];
    struct stat st;
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path ||
        snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, file) >= (int)sizeof tmp)
        return eng_err_set(err, ENG_EINVAL, "the path is too long");
    if (mkdir_ok && mkdir(dir, 0755) != 0 && errno == ENOENT) {
        /* MAPPINGS_DIR/tests/NAME: tests/ may be missing too */
        char parent[4096];
        snprintf(parent, sizeof parent, "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash != NULL && slash != parent) {
            *slash = '\0';
            mkdir(parent, 0755);
        }
        mkdir(dir, 0755);
    }
    if (mkdir_ok && stat(dir, &st) != 0)
        return eng_err_set(err, ENG_EIO, "cannot create the folder: %s", strerror(errno));
    if (created != NULL)
        *created = stat(path, &st) != 0;
    int fd = mkstemp(tmp);
    if (fd < 0)
        return eng_err_set(err, ENG_EIO, "cannot create a temporary file: %s", strerror(errno));
    /* the mode a file written by hand usually has (mkstemp's is 0600) */
    fchmod(fd, 0644);
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    int ok = done == len && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        saved = ok ? errno : saved;
        unlink(tmp);
        return eng_err_set(err, ENG_EIO, "cannot write the file: %s", strerror(saved));
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* the rename itself survives a power loss */
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* 1 when text[0..len) is one JSON object (strict, depth <= 64). */
static int is_object(const char *text, size_t len)
{
    struct eng_json_read r;
    eng_json_read_init(&r, text, len, 64, ENG_JSON_READ_NO_NUL);
    int first = eng_json_read_next(&r), t = first;
    while (t != ENG_JSON_READ_EOF && t != ENG_JSON_READ_ERROR)
        t = eng_json_read_next(&r);
    return t == ENG_JSON_READ_EOF && first == ENG_JSON_READ_OBJECT;
}

void eng_mapedit_cases_json(const char *mappings_dir, const char *name, struct eng_buf *out)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/%s", mappings_dir, name);
    size_t n = 0;
    char **cases = eng_dirlist(dir, ".json", &n);
    eng_buf_puts(out, "{\"items\":[");
    size_t total = 0;
    for (size_t i = 0; i < n && i < ENG_MAPEDIT_MAX_CASES; i++) {
        size_t cl = strlen(cases[i]) - 5;
        if (i > 0)
            eng_buf_putc(out, ',');
        eng_buf_puts(out, "{\"case\":");
        eng_buf_json_str(out, cases[i], cl);
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, cases[i]);
        size_t len = 0;
        char *text = total < ENG_MAPEDIT_MAX_ANSWER
                         ? eng_mapedit_read(path, ENG_MAPEDIT_MAX_CASE, &len)
                         : NULL;
        if (text == NULL) {
            eng_buf_puts(out, ",\"invalid\":\"cannot read the file (over 1 MiB, or the list "
                              "is over 8 MiB)\"}");
            continue;
        }
        if (!is_object(text, len)) {
            eng_buf_puts(out, ",\"invalid\":\"the file is not one JSON object\"}");
            free(text);
            continue;
        }
        total += len;
        /* the file's members after "case": skip its '{' (and a '}' of an empty object) */
        const char *p = strchr(text, '{') + 1;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (*p == '}')
            eng_buf_putc(out, '}');
        else {
            eng_buf_putc(out, ',');
            eng_buf_append(out, p, len - (size_t)(p - text));
        }
        free(text);
    }
    eng_buf_puts(out, "]}");
    eng_dirlist_free(cases, n);
}
