#!/usr/bin/env bash
# sync_cli.sh - `tallysync sync`: usage errors (exit 2), a run executed in the command's own
# process with plain progress lines when stdout is not a terminal and a summary, a dry run.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3 sqlite3

sync_mappings
sync_mocks
serve_start WORKERS=2 || finish
sync_credentials
serve_stop # the command runs the sync itself
seed_orders 5000 12 4 3 2026-01-01T00:00:00

run_bin "$T/u1" sync orders
assert_eq "no --mode: exit 2" 2 "$RC"
assert_contains "... saying what is missing" "$ERR" "--mode"
run_bin "$T/u2" sync orders --mode sometimes
assert_eq "a bad mode: exit 2" 2 "$RC"
run_bin "$T/u3" sync widgets --mode full
assert_eq "an entity without a flow: exit 2" 2 "$RC"
assert_contains "... naming it" "$ERR" "widgets"

run_bin "$T/dry" sync orders --mode full --dry-run
assert_eq "a dry run: exit 0" 0 "$RC"
assert_eq "... QuickBooks has no invoice" 0 "$(qbo_state | jq '.entities.Invoice | length')"

run_bin "$T/full" sync orders --mode full
assert_eq "a full run: exit 0" 0 "$RC"
assert_match "plain progress lines (not a terminal)" 'progress [0-9]+% ' "$OUT"
assert_not_contains "... no carriage returns" "$OUT" $'\r'
FIX=$(woo_total)
assert_match "a summary line" "sync sync_[0-9a-f]+ succeeded: read $FIX, created $FIX, updated 0" "$OUT"
assert_eq "QuickBooks holds the invoices" "$FIX" "$(qbo_state | jq '.entities.Invoice | length')"
run_bin "$T/again" sync orders --mode incremental --tenant default
assert_eq "an incremental run right after: exit 0" 0 "$RC"
assert_match "... reads only the overlap window, writes nothing" "succeeded: read 1, created 0, updated 0, unchanged 1" "$OUT"
finish
