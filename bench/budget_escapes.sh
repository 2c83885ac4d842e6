#!/usr/bin/env bash
# bench/budget_escapes.sh - elapsed times of issue 12's budget escapes (finding 2, finding 1's
# patterns) before and after the fix, and the cost of the budget-honouring library on linear
# work over 1 MB. Prints markdown (bench/results/budget_escapes.md is one run of it).
#   BUILD=build              the build to measure (test_vm_budget, tallysync)
#   BEFORE_BUILD=DIR         optional: a build of the commit before the fix, with
#                            tests/unit/lua/test_vm_budget.c copied in (its cases hang there:
#                            each is stopped after LIMIT_S seconds)
#   LIMIT_S=20
# Each case of test_vm_budget runs alone (a fresh VM with a 300 ms budget, then one normal call).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BEFORE_BUILD=${BEFORE_BUILD:-}
LIMIT_S=${LIMIT_S:-20}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ms_of() { # BIN CASE: print "ms rc" of one case, stopped after LIMIT_S
    local s e rc
    s=$(date +%s%N)
    timeout -k 2 "$LIMIT_S" "$1" "$2" >"$TMP/out" 2>&1
    rc=$?
    e=$(date +%s%N)
    echo "$(((e - s) / 1000000)) $rc"
}

cases=$(grep -o 'CHECK_CASE(test_[a-z_0-9]*)' tests/unit/lua/test_vm_budget.c | sed 's/CHECK_CASE(\(.*\))/\1/')
echo "## Escapes: one case of tests/unit/lua/test_vm_budget.c each (budget 300 ms)"
echo
if [[ -n "$BEFORE_BUILD" ]]; then
    echo "| case | before: ms (result) | after: ms (result) |"
    echo "| --- | --- | --- |"
else
    echo "| case | after: ms (result) |"
    echo "| --- | --- |"
fi
for c in $cases; do
    read -r ams arc < <(ms_of "$BUILD/test_vm_budget" "$c")
    at="$ams ($([[ $arc == 0 ]] && echo pass || echo "FAIL rc $arc"))"
    if [[ -n "$BEFORE_BUILD" ]]; then
        read -r bms brc < <(ms_of "$BEFORE_BUILD/test_vm_budget" "$c")
        case $brc in
        0) bt="$bms (pass)" ;;
        124 | 137) bt="> $((LIMIT_S * 1000)) (hung, killed)" ;;
        *) bt="$bms (fail)" ;;
        esac
        echo "| \`$c\` | $bt | $at |"
    else
        echo "| \`$c\` | $at |"
    fi
done

echo
echo "## Linear work on 1 MB (bench/patterns_1mb.lua, best of 5, ms)"
echo
stock=""
if command -v gcc >/dev/null && pkg-config --exists lua5.4; then
    cat >"$TMP/harness.c" <<'C'
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    if (argc < 2 || luaL_dofile(L, argv[1]) != LUA_OK) {
        fprintf(stderr, "%s\n", argc < 2 ? "usage: harness FILE" : lua_tostring(L, -1));
        return 1;
    }
    lua_close(L);
    return 0;
}
C
    # shellcheck disable=SC2046
    gcc -O2 "$TMP/harness.c" -o "$TMP/harness" $(pkg-config --cflags --libs lua5.4) &&
        "$TMP/harness" bench/patterns_1mb.lua >"$TMP/stock.tsv" && stock=1
fi
SCRIPT_TIMEOUT_MS=600000 SCRIPT_MAX_INSTRUCTIONS=0 DATABASE_URL="sqlite:$TMP/b.db" \
    "$BUILD/tallysync" run bench/patterns_1mb.lua >"$TMP/engine.tsv"
if [[ -n "$stock" ]]; then
    echo "| work | stock Lua 5.4 library | sandbox (budget-honouring) |"
    echo "| --- | --- | --- |"
    paste "$TMP/stock.tsv" "$TMP/engine.tsv" | awk -F'\t' '{ printf "| `%s` | %s | %s |\n", $1, $2, $4 }'
else
    echo "| work | sandbox (budget-honouring) |"
    echo "| --- | --- |"
    awk -F'\t' '{ printf "| `%s` | %s |\n", $1, $2 }' "$TMP/engine.tsv"
fi
