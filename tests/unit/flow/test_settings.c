/*
 * test_settings.c - flow/settings.c: a transformer_config is checked by lib.mapping through
 * eng_vm_call; accepted values come back with the text to store and the effective settings,
 * refused ones with the message and the field, and nothing is left on the VM's stack.
 */
#include "check.h"
#include "flow/settings.h"
#include "lua/vm_int.h"

#include <string.h>

static struct eng_vm *vm_new(void)
{
    struct eng_vm_opts o = {0};
    o.scripts_dir = "scripts";
    o.mappings_dir = "mappings";
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&o, &err);
    if (vm == NULL)
        fprintf(stderr, "eng_vm_new: %s\n", err.msg);
    return vm;
}

static void test_accepted(void)
{
    struct eng_vm *vm = vm_new();
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    struct eng_settings_checked c;
    CHECK_INT(eng_settings_check(vm, "{}", 2, &c, &err), 0);
    CHECK_STR(c.stored, "{}");
    CHECK(c.stored_len == 2);
    /* the defaults show in effective */
    CHECK(c.effective != NULL && c.effective[0] == '{' && c.effective_len > 2);
    eng_settings_checked_free(&c);
    CHECK(c.stored == NULL && c.effective == NULL);
    CHECK_INT(lua_gettop(eng_vm_state(vm)), 0);
    eng_vm_free(vm);
}

static void test_refused(void)
{
    struct eng_vm *vm = vm_new();
    REQUIRE(vm != NULL);
    struct eng_err err = {0};
    struct eng_settings_checked c;
    const char *bad = "{\"no_such_setting\":1}";
    CHECK_INT(eng_settings_check(vm, bad, strlen(bad), &c, &err), ENG_EINVAL);
    CHECK(c.stored == NULL && c.effective == NULL);
    CHECK(strstr(c.message, "no_such_setting") != NULL);
    CHECK_STR(c.field, "no_such_setting");
    eng_settings_checked_free(&c);
    /* not JSON at all: refused, no field */
    CHECK_INT(eng_settings_check(vm, "{", 1, &c, &err), ENG_EINVAL);
    CHECK(strncmp(c.message, "transformer_config: ", 20) == 0);
    CHECK_STR(c.field, "");
    eng_settings_checked_free(&c);
    CHECK_INT(lua_gettop(eng_vm_state(vm)), 0);
    eng_vm_free(vm);
}

CHECK_MAIN(CHECK_CASE(test_accepted), CHECK_CASE(test_refused))
