#!/usr/bin/env bash
# tests/tools/check_layers_test.sh - the test of tools/check_layers.py (ctest: unit.check_layers).
# Builds small engine/ trees in a scratch folder: a clean one (every layer including what its rule
# allows, with decoys in comments and strings) must pass; each broken one (one violation per
# rule) must fail with exit 1 and name file:line, the include and the rule. Output: one line per
# check, then "N passed, M failed"; exit 1 when M > 0.
# Must not: touch anything outside its scratch folder.
set -u
ROOT=${ENG_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CHECK="$ROOT/tools/check_layers.py"
T=$(mktemp -d "${TMPDIR:-/tmp}/check_layers.XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() { failed=$((failed + 1)); echo "FAIL $1"; }

put() { # FILE (relative to the tree) then the lines of the file
    local f=$1
    shift
    mkdir -p "$(dirname "$TREE/$f")"
    printf '%s\n' "$@" >"$TREE/$f"
}

clean_tree() { # a tree that keeps every rule
    rm -rf "$TREE"
    put base/err.h '#pragma once' '#include <stddef.h>'
    put base/err.c '/* err.c - test. #include <lua.h> in a comment is no include' \
        '#include "base/err.h"' '#include <stdio.h>' '#include <pthread.h>' \
        'static const char *accept = "*/*"; /* a string that looks like a comment */' \
        '// #include "adapt/store.h"'
    put adapt/crypto.h '#include "base/err.h"'
    put adapt/crypto.c '#include "adapt/crypto.h"' '#include <mbedtls/gcm.h>' '#include "base/buf.h"'
    put adapt/httpc.c '#include "adapt/httpc.h"' '#include <curl/curl.h>'
    put adapt/httpd.c '#include "adapt/httpd.h"' '#include <microhttpd.h>'
    put adapt/store.c '#include "adapt/store.h"' '#include <sqlite3.h>'
    put data/queue.c '#include "data/queue.h"' '#include "adapt/store.h"' '#include "base/err.h"'
    put webhook/webhook.c '#include "webhook/webhook.h"' '#include "adapt/crypto.h"'
    put lua/vm.h '#include <lua.h>' '#include "data/queue.h"'
    put lua/lmod_x.c '#include <lauxlib.h>' '#include <lualib.h>' '#include "lua/vm.h"' \
        '#include "adapt/httpc.h"'
    put flow/sync.c '#include "flow/sync.h"' '#include "lua/vm.h"' '#include "webhook/webhook.h"' \
        '#include "data/queue.h"' '#include "adapt/httpc.h"'
    put api/api.c '#include "api/api.h"' '#include "flow/sync.h"' '#include "adapt/httpd.h"' \
        '#include "adapt/store.h"' '#include "adapt/crypto.h"' '#include "data/queue.h"'
    put cli/main.c '#include "cli/cli.h"' '#include "lua/scripts.h"' '#include "api/api.h"' \
        '#include "flow/sync.h"'
}

run_check() { # -> $out, $rc
    out=$(python3 "$CHECK" "$TREE" 2>&1)
    rc=$?
}

TREE="$T/engine"
clean_tree
run_check
if [[ $rc -eq 0 ]]; then ok "a clean tree passes"; else bad "a clean tree passes (rc=$rc): $out"; fi

# violation FILE LINE... ; then the expected "file:line: #include X" and a word of the reason
violation() { # NAME EXPECT_LOCATION EXPECT_REASON FILE LINES...
    local name=$1 where=$2 why=$3
    shift 3
    clean_tree
    put "$@"
    run_check
    if [[ $rc -eq 1 ]] && grep -qF -- "$where" <<<"$out" &&
        grep "^$where" <<<"$out" | grep -qF -- "$why" && grep "^$where" <<<"$out" | grep -qF "[rule "; then
        ok "$name"
    else
        bad "$name (rc=$rc, want 1 with '$where' and '$why'): $out"
    fi
}

violation "flow/ including lua.h fails, naming file:line and the rule" \
    "engine/flow/sync.c:3: #include <lua.h>" "Lua headers belong to engine/lua/ only" \
    flow/sync.c '#include "flow/sync.h"' '#include "lua/vm.h"' '#include <lua.h>'
violation "api/ including lua/vm.h fails" \
    'engine/api/api.c:2: #include "lua/vm.h"' "api/ may include only lua/scripts.h of lua/" \
    api/api.c '#include "api/api.h"' '#include "lua/vm.h"'
violation "flow/ including lua/ beyond vm.h and scripts.h fails" \
    'engine/flow/sync.c:1: #include "lua/json.h"' "only lua/scripts.h, lua/vm.h of lua/" \
    flow/sync.c '#include "lua/json.h"'
violation "cli/ including lauxlib.h fails" \
    "engine/cli/main.c:1: #include <lauxlib.h>" "Lua headers" \
    cli/main.c '#include <lauxlib.h>'
violation "base/ including adapt/ fails" \
    'engine/base/err.c:2: #include "adapt/store.h"' "base/ may not include anything of adapt/" \
    base/err.c '#include "base/err.h"' '#include "adapt/store.h"'
violation "data/ including sqlite3.h fails" \
    "engine/data/queue.c:1: #include <sqlite3.h>" "belong to engine/adapt/store.c only" \
    data/queue.c '#include <sqlite3.h>'
violation "an adapter including another library fails" \
    "engine/adapt/httpc.c:2: #include <sqlite3.h>" "SQLite" \
    adapt/httpc.c '#include "adapt/httpc.h"' '#include <sqlite3.h>'
violation "an adapter including another adapter fails" \
    'engine/adapt/store.c:2: #include "adapt/httpc.h"' "only their own adapt/ header" \
    adapt/store.c '#include "adapt/store.h"' '#include "adapt/httpc.h"'
violation "webhook/ including adapt/ beyond crypto.h fails" \
    'engine/webhook/webhook.c:1: #include "adapt/store.h"' "only adapt/crypto.h" \
    webhook/webhook.c '#include "adapt/store.h"'
violation "lua/ including flow/ fails" \
    'engine/lua/vm.c:1: #include "flow/sync.h"' "lua/ may not include anything of flow/" \
    lua/vm.c '#include "flow/sync.h"'
violation "api/ including adapt/httpc.h fails" \
    'engine/api/api.c:1: #include "adapt/httpc.h"' "api/ may include only" \
    api/api.c '#include "adapt/httpc.h"'
violation "an include without its folder fails" \
    'engine/flow/sync.c:1: #include "sync.h"' "names its layer folder" \
    flow/sync.c '#include "sync.h"'
violation "a file outside a layer folder fails" \
    "engine/stray.c:1: outside a layer folder" "every engine file lives in one of" \
    stray.c '#include <stdio.h>'
violation "a spaced '# include' is still seen" \
    "engine/flow/sync.c:1: #include <lua.h>" "Lua headers" \
    flow/sync.c '  #  include <lua.h>'

violation "flow/ using the Lua API through vm.h fails, once per file with the count" \
    "engine/flow/sync.c:3: uses lua_State (and 2 more)" "call scripts through eng_vm_call" \
    flow/sync.c '#include "lua/vm.h"' '/* lua_State in a comment is fine */' \
    'static void f(lua_State *L) { lua_pushnil(L); }' 'int g(struct eng_vm *v) { return eng_vm_state(v) != 0; }' \
    'static const char *s = "lua_call in a string is fine";'
violation "api/ calling luaL_ fails" \
    "engine/api/api.c:2: uses luaL_checkstack" "belong to engine/lua/ only" \
    api/api.c '#include "api/api.h"' 'void f(void) { luaL_checkstack(0, 1, 0); }'

# several violations: every one is listed, and the count says how many
clean_tree
put flow/sync.c '#include <lua.h>' '#include <lauxlib.h>'
put api/api.c '#include "lua/vm.h"'
run_check
n=$(grep -c ': #include ' <<<"$out")
if [[ $rc -eq 1 && $n -eq 3 && "$out" == *"3 include(s) or use(s) break"* ]]; then
    ok "three violations: three lines and the count"
else
    bad "three violations: three lines and the count (rc=$rc, lines=$n): $out"
fi

python3 "$CHECK" "$T/nowhere" >/dev/null 2>&1
rc=$?
if [[ $rc -eq 2 ]]; then ok "a missing folder is a usage error (2)"; else bad "missing folder rc=$rc"; fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
