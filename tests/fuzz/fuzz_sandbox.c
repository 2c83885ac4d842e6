/*
 * fuzz_sandbox.c - libFuzzer target: the script sandbox (lua/vm.c, vm_call.c and every engine.*
 * module a script can reach) running random Lua source under a small budget, as a mapping or a
 * connector would run on a worker. The promise under test (SECURITY.md): whatever the source,
 * the call ends with a result or an ENG_E* error within its budget and memory cap: no crash, no
 * sanitizer report, no hang (libFuzzer's -timeout turns a call that dodges the budget into a
 * reported "timeout" with its input).
 * Input: Lua source text. It runs twice in one VM (two tasks on one warm worker VM), each in its
 * own environment, with a budget of 100 ms / 1M instructions and a 16 MiB memory cap. A fresh
 * VM per input, so an input reproduces alone.
 * Isolation of the harness: no database (engine.db, queue and idmap refuse), and every
 * outbound request of engine.http goes to a proxy at 127.0.0.1:9 (closed), so a generated URL
 * never sends a packet anywhere else.
 * Dictionary: tests/fuzz/fuzz_sandbox.dict (Lua tokens, library and engine names).
 * Corpus: tests/fuzz/corpus/sandbox/ (tests/lua specs' idioms, the known escapes of issue 12).
 */
#include "fuzz.h"

#include <stdlib.h>

#include "base/log.h"
#include "lua/vm.h"
#include "lua/vm_int.h"

static void setup(void)
{
    static const char *const proxies[] = {"http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY",
                                          "all_proxy"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        setenv(proxies[i], "http://127.0.0.1:9", 1);
    unsetenv("NO_PROXY");
    unsetenv("no_proxy");
    eng_log_set_level(ENG_LOG_ERROR);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready)
        setup(), ready = 1;
    struct eng_vm_opts o = {
        .scripts_dir = ENG_SOURCE_DIR "/scripts",
        .mappings_dir = ENG_SOURCE_DIR "/mappings",
        .mem_limit = 16u << 20,
        .budget_ms = 100,
        .budget_instr = 1000000,
    };
    struct eng_err err = {0};
    struct eng_vm *vm = eng_vm_new(&o, &err);
    check(vm != NULL);
    for (int task = 0; task < 2; task++) {
        if (eng_vm_load(vm, "=fuzz", (const char *)data, size, &err) != 0)
            break;
        int rc = eng_vm_pcall(vm, 0, 0, &err);
        check(rc == 0 || rc == ENG_ESCRIPT || rc == ENG_EBUDGET || rc == ENG_ENOMEM);
    }
    eng_vm_free(vm);
    return 0;
}
