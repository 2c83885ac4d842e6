/*
 * dirlist.h - a directory's entries, sorted by name: the mappings' data tests
 * (MAPPINGS_DIR/tests/NAME/ *.json) read by the script registry and by `tallysync test`.
 * Owns: nothing past a call; the list it returns belongs to the caller. Must not: follow
 * hidden entries (names starting with '.': editors' swap files).
 */
#ifndef ENG_DIRLIST_H
#define ENG_DIRLIST_H

#include <stddef.h>

/* Sorted names in dir ending in suffix (NULL: subdirectories), hidden ones skipped; *n = count.
 * NULL when dir cannot be read. Free with eng_dirlist_free. */
char **eng_dirlist(const char *dir, const char *suffix, size_t *n);
void eng_dirlist_free(char **names, size_t n);

#endif
