/*
 * replay_main.c - the plain-build driver of a fuzz target: feeds every file of the directories
 * (or files) named on the command line to the target's LLVMFuzzerTestOneInput, once each, in
 * name order. ctest runs it over tests/fuzz/corpus/<target>/ in the plain and ASan builds, so a
 * crash the fuzzer once found (its input kept in the corpus) stays fixed without clang.
 * Exit 0 when every input returned; a crash is the test's failure. No input at all is a
 * failure too (a corpus that vanished would otherwise pass silently). An input that runs longer
 * than REPLAY_TIMEOUT_S (default 60) seconds fails at once, naming it (a hang: a budget dodged).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static const char *current; /* the input running, for the alarm */

static void on_alarm(int sig)
{
    (void)sig;
    static const char a[] = "replay: a hang: still running after REPLAY_TIMEOUT_S: ";
    (void)!write(2, a, sizeof a - 1);
    (void)!write(2, current, strlen(current));
    (void)!write(2, "\n", 1);
    _exit(1);
}

static unsigned timeout_s(void)
{
    const char *v = getenv("REPLAY_TIMEOUT_S");
    long t = v != NULL ? strtol(v, NULL, 10) : 0;
    return t > 0 ? (unsigned)t : 60;
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (nb == NULL)
                free(buf);
            buf = nb;
        }
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "replay: out of memory reading %s\n", path);
        return -1;
    }
    /* the exact bytes, in a buffer of their own size (ASan sees any read past the end) */
    uint8_t *exact = malloc(n > 0 ? n : 1);
    if (exact == NULL) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, n);
    free(buf);
    current = path;
    alarm(timeout_s());
    LLVMFuzzerTestOneInput(exact, n);
    alarm(0);
    free(exact);
    return 0;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    int files = 0, bad = 0;
    signal(SIGALRM, on_alarm);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= run_file(argv[i]) != 0;
            files++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        size_t n = 0, cap = 0;
        char **list = NULL;
        while (d != NULL && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            if (n == cap) {
                char **nl = realloc(list, (cap = cap ? cap * 2 : 64) * sizeof *list);
                if (nl == NULL)
                    return 1;
                list = nl;
            }
            size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
            list[n] = malloc(len);
            if (list[n] == NULL)
                return 1;
            snprintf(list[n++], len, "%s/%s", argv[i], e->d_name);
        }
        if (d != NULL)
            closedir(d);
        qsort(list, n, sizeof *list, cmp);
        for (size_t k = 0; k < n; k++) {
            bad |= run_file(list[k]) != 0;
            files++;
            free(list[k]);
        }
        free(list);
    }
    printf("replay: %d inputs\n", files);
    return bad || files == 0 ? 1 : 0;
}
