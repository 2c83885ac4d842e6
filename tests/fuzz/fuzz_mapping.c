/*
 * fuzz_mapping.c - libFuzzer target: the mapping rule loader and runner (scripts/lib/mapping.lua
 * and lib/mapping_rules.lua: rule syntax, paths, transforms, transformer_config) through a real
 * sandboxed VM, as a worker runs a mapping's declarative `rules` over shop data.
 * Input: the text of a Lua table constructor, the `rules` of a mapping (`{ { to = "DocNumber",
 * from = "number", "trim" }, ... }`), optionally followed by a line "%%" and transformer_config
 * JSON. The rules are validated (compiled), then applied and explained over the WooCommerce
 * fixture records (tests/fixtures/woocommerce: orders, a customer, a product) by
 * tests/fuzz/fuzz_mapping.lua. Budget 200 ms / 2M instructions, 16 MiB, a fresh VM per input.
 * Checks: every call ends (a result or an ENG_E* error): no crash, sanitizer report or hang.
 * Corpus: tests/fuzz/corpus/mapping/ (the rules of tests/lua/mapping_rules_spec.lua).
 */
#include "fuzz.h"

#include <stdio.h>
#include <string.h>

#include <lua.h>

#include "base/buf.h"
#include "base/log.h"
#include "lua/vm.h"
#include "lua/vm_int.h"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    check(f != NULL);
    struct eng_buf b;
    eng_buf_init(&b);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        eng_buf_append(&b, chunk, n);
    fclose(f);
    check(!b.oom);
    *len = b.len;
    return b.data;
}

static char *driver, *records;
static size_t driver_len, records_len;

static void setup(void)
{
    eng_log_set_level(ENG_LOG_ERROR);
    driver = slurp(ENG_SOURCE_DIR "/tests/fuzz/fuzz_mapping.lua", &driver_len);
    static const char *const fixtures[] = {"order.json",
                                           "order-ios-coupon-fee-tax.json",
                                           "order-currency-aed-non-ascii.json",
                                           "order-prices-include-tax.json",
                                           "customer.json",
                                           "product.json"};
    struct eng_buf b;
    eng_buf_init(&b);
    eng_buf_putc(&b, '[');
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/tests/fixtures/woocommerce/%s", ENG_SOURCE_DIR,
                 fixtures[i]);
        size_t n;
        char *text = slurp(path, &n);
        if (i > 0)
            eng_buf_putc(&b, ',');
        eng_buf_append(&b, text, n);
        free(text);
    }
    eng_buf_putc(&b, ']');
    check(!b.oom);
    records = b.data, records_len = b.len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (driver == NULL)
        setup();
    const char *in = (const char *)data;
    const char *sep = NULL;
    for (size_t i = 0; i + 4 <= size && sep == NULL; i++)
        if (memcmp(in + i, "\n%%\n", 4) == 0)
            sep = in + i;
    size_t rules_len = sep != NULL ? (size_t)(sep - in) : size;
    struct eng_buf src;
    eng_buf_init(&src);
    eng_buf_puts(&src, "return ");
    eng_buf_append(&src, in, rules_len);
    check(!src.oom);

    struct eng_vm_opts o = {
        .scripts_dir = ENG_SOURCE_DIR "/scripts",
        .mappings_dir = ENG_SOURCE_DIR "/mappings",
        .mem_limit = 16u << 20,
        .budget_ms = 200,
        .budget_instr = 2000000,
    };
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&o, &err);
    check(vm != NULL);
    lua_State *L = eng_vm_state(vm);
    /* the driver function, then the rules value above it, then the records and config */
    if (eng_vm_load(vm, "=fuzz_mapping.lua", driver, driver_len, &err) == 0 &&
        eng_vm_pcall(vm, 0, 1, &err) == 0) {
        check(lua_isfunction(L, -1));
        int rc = eng_vm_load(vm, "=rules", src.data, src.len, &err);
        if (rc == 0)
            rc = eng_vm_pcall(vm, 0, 1, &err);
        if (rc == 0)
            rc = eng_vm_push_string(vm, records, records_len, &err);
        if (rc == 0) {
            if (sep != NULL)
                rc = eng_vm_push_string(vm, sep + 4, size - rules_len - 4, &err);
            else
                lua_pushnil(L);
        }
        if (rc == 0) {
            rc = eng_vm_pcall(vm, 3, 0, &err);
            check(rc == 0 || rc == ENG_ESCRIPT || rc == ENG_EBUDGET || rc == ENG_ENOMEM);
        }
        lua_settop(L, 0);
    } else {
        abort(); /* the driver itself must load */
    }
    eng_vm_free(vm);
    eng_buf_free(&src);
    return 0;
}
