/*
 * settings.h - the flow side of the tenant settings routes: a transformer_config is checked by
 * lib.mapping.settings_check (the same check every mapping run makes), on a worker.
 * Must not: include a Lua header (it calls scripts through eng_vm_call only).
 */
#ifndef ENG_SETTINGS_H
#define ENG_SETTINGS_H

#include <stddef.h>

#include "base/err.h"

struct eng_vm;

/* The outcome of eng_settings_check. */
struct eng_settings_checked {
    char *stored; /* accepted: the text to store (malloc'd), else NULL */
    size_t stored_len;
    char *effective; /* accepted: the settings with their defaults as JSON text (malloc'd) */
    size_t effective_len;
    char message[512]; /* refused: why, naming the field */
    char field[96];    /* refused: the field, "" when the value as a whole is wrong */
};

/* Check text[0..len) as a transformer_config. 0 when accepted (stored, effective set),
 * ENG_EINVAL when refused (message, field set), or the script's failure (ENG_ESCRIPT,
 * ENG_EBUDGET, ENG_ENOMEM) with err filled. Free with eng_settings_checked_free. */
int eng_settings_check(struct eng_vm *vm, const char *text, size_t len,
                       struct eng_settings_checked *out, struct eng_err *err);
void eng_settings_checked_free(struct eng_settings_checked *c);

#endif
