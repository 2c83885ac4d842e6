# shellcheck shell=bash
# tests/browser/lib/ops_env.sh - what the Failures, Connections and Settings browser tests share
# (sourced after browser_env.sh).
# Must not: touch anything outside $T.

# schema_dir_usable: while two branches of issue 13 each add a migration numbered 0009 (the
# migrator refuses two files with one number), run against a scratch copy of SCHEMA_DIR in which
# each later duplicate is renumbered after the last file. A no-op once the numbers are unique.
schema_dir_usable() {
    local dups
    dups=$(find "$SCHEMA_DIR" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]_*.sql' -printf '%f\n' | cut -c1-4 | sort | uniq -d)
    [[ -z "$dups" ]] && return 0
    echo "     (schema: migrations share a number ($dups): the test runs a renumbered copy)"
    mkdir -p "$T/schema"
    local f n last seen=" "
    last=$(find "$SCHEMA_DIR" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]_*.sql' -printf '%f\n' | sort | tail -n 1 | cut -c1-4)
    last=$((10#$last))
    while IFS= read -r f; do
        n=${f:0:4}
        if [[ "$seen" == *" $n "* ]]; then
            last=$((last + 1))
            cp "$SCHEMA_DIR/$f" "$T/schema/$(printf '%04d' "$last")${f:4}"
        else
            cp "$SCHEMA_DIR/$f" "$T/schema/$f"
        fi
        seen="$seen$n "
    done < <(find "$SCHEMA_DIR" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]_*.sql' -printf '%f\n' | sort)
    SCHEMA_DIR="$T/schema"
    export SCHEMA_DIR
}

# tenant_token TENANT: a tenant-scoped API token (tallysync token create), printed.
tenant_token() {
    run_bin "$T/tok-$1" token create --tenant "$1" --name browser
    printf '%s' "$OUT" | head -n 1
}
