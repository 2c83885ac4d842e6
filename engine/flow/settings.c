/*
 * settings.c - eng_settings_check (settings.h): lib.mapping.settings_check(text) through
 * eng_vm_call; its answer (stored, effective | nil, message, field) becomes a C struct.
 * Owns: the copies it hands out. Must not: include a Lua header.
 */
#include "flow/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lua/vm.h"

int eng_settings_check(struct eng_vm *vm, const char *text, size_t len,
                       struct eng_settings_checked *out, struct eng_err *err)
{
    memset(out, 0, sizeof *out);
    char *r2 = NULL, *field = NULL;
    size_t r2len = 0;
    int rc = eng_vm_call(vm, "lib.mapping", "settings_check", 0, err, "S>SSs", text, len,
                         &out->stored, &out->stored_len, &r2, &r2len, &field);
    if (rc != 0)
        return rc;
    if (out->stored != NULL) {
        out->effective = r2;
        out->effective_len = r2 != NULL ? r2len : 0;
        free(field);
        return 0;
    }
    snprintf(out->message, sizeof out->message, "%s",
             r2 != NULL ? r2 : "invalid transformer_config");
    snprintf(out->field, sizeof out->field, "%s", field != NULL ? field : "");
    free(r2);
    free(field);
    return ENG_EINVAL;
}

void eng_settings_checked_free(struct eng_settings_checked *c)
{
    free(c->stored);
    free(c->effective);
    c->stored = c->effective = NULL;
}
