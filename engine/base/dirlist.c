/*
 * dirlist.c - sorted directory listings (see dirlist.h). Owns: nothing past a call. Must not:
 * list hidden entries.
 */
#include "base/dirlist.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

static int dirlist_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **eng_dirlist(const char *dir, const char *suffix, size_t *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return NULL;
    char **names = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t len = strlen(e->d_name);
        if (suffix != NULL) {
            size_t sl = strlen(suffix);
            if (len <= sl || strcmp(e->d_name + len - sl, suffix) != 0)
                continue;
        } else if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) {
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            char **p = realloc(names, cap * sizeof *p);
            if (p == NULL)
                break;
            names = p;
        }
        names[*n] = strdup(e->d_name);
        if (names[*n] != NULL)
            (*n)++;
    }
    closedir(d);
    if (*n > 1)
        qsort(names, *n, sizeof *names, dirlist_cmp);
    return names;
}

void eng_dirlist_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
