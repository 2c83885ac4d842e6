#!/usr/bin/env bash
# tests/integration/store_pg_refused.sh - issue 15, first slice: the store API speaks PostgreSQL
# (tests/unit/adapt/test_store_pg.c) but the engine does not yet (migrations, dialect, queue and
# script SQL are later slices), so every command that opens DATABASE_URL refuses a postgres://
# or postgresql:// URL at start with an honest sentence, exits 1, writes nothing, and never
# echoes the URL's password. Needs no server: nothing is connected to.
# Output: one line per check, then "N passed, M failed".

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools

pw="pw-never-shown-4711"
for url in "postgres://tally:$pw@127.0.0.1:1/tallysync" \
    "postgresql://tally:$pw@127.0.0.1:1/tallysync?sslmode=require"; do
    scheme=${url%%:*}
    echo "== DATABASE_URL=$scheme://..."
    for cmd in serve migrate "run $T/none.lua" "sync orders --mode full" "operator list" \
        "token list" "rotate-key --new-key-env NEW_KEY" test \
        "dry-run --mapping woo_to_qb --input $T/none.json"; do
        name=${cmd%% *}
        read -r -a args <<<"$cmd"
        NEW_KEY=$(printf "%064d" 0) DATABASE_URL=$url API_PORT=0 run_bin "$T/$scheme-$name" "${args[@]}"
        assert_eq "$name refuses it (exit 1)" 1 "$RC"
        assert_contains "... saying the PostgreSQL store is not complete in this build" "$ERR" \
            "the PostgreSQL store is not complete in this build"
        assert_not_contains "... never showing the password" "$ERR$OUT" "$pw"
    done
done
assert_eq "nothing was created in the working folder (no ./data)" "" "$(ls -A "$T" | grep -v -e '\.out$' -e '\.err$' || true)"
finish
