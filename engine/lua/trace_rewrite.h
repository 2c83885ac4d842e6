/*
 * trace_rewrite.h - the source rewrite behind `dry-run --explain`'s lineage: Lua text in, the
 * same program out with every table constructor and every field assignment reported to two
 * hooks (see trace_rewrite.c). Pure text: no Lua state, no I/O.
 */
#ifndef ENG_TRACE_REWRITE_H
#define ENG_TRACE_REWRITE_H

#include <stddef.h>

#define ENG_TRACE_HOOK_CTOR  "__lineage_c" /* __lineage_c(t, line, key1, line1, ...) -> t */
#define ENG_TRACE_HOOK_STORE "__lineage_s" /* __lineage_s(t, line) -> t or a recording proxy */

/* Rewrite src (len bytes). Returns 0 with a malloc'd, NUL-terminated text the caller frees in
 * *out (*outlen bytes, line numbers unchanged); -1 when src is not Lua this lexer can follow
 * (an unclosed string or comment, unbalanced brackets): *line then says where. -2: no memory. */
int eng_trace_rewrite(const char *src, size_t len, char **out, size_t *outlen, int *line);

#endif
