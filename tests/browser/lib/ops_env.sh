# shellcheck shell=bash
# tests/browser/lib/ops_env.sh - what the Failures, Connections and Settings browser tests share
# (sourced after browser_env.sh).
# Must not: touch anything outside $T.

# tenant_token TENANT: a tenant-scoped API token (tallysync token create), printed.
tenant_token() {
    run_bin "$T/tok-$1" token create --tenant "$1" --name browser
    printf '%s' "$OUT" | head -n 1
}
