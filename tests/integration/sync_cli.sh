#!/usr/bin/env bash
# sync_cli.sh - `tallysync sync`: usage errors (exit 2), a run refused up front without
# credentials, a run executed in the command's own process with plain progress lines and one
# line per change when stdout is not a terminal, a summary, a dry run with its differences, a
# failed record named with its reason, LOG_FORMAT, and on a terminal (a pty) a progress bar
# that log lines never land inside.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3

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

run_bin "$T/nocred" sync orders --mode full --tenant nocreds
assert_eq "a tenant without credentials: exit 1" 1 "$RC"
assert_contains "... naming the source's missing connection" "$ERR" "woocommerce (source): no credentials stored"
assert_contains "... and the target's" "$ERR" "quickbooks (target): no credentials stored"
assert_eq "... and no run was queued" 0 "$(sq "SELECT count(*) FROM sync_runs WHERE tenant_id = 'nocreds'")"
LOG_FORMAT=yaml run_bin "$T/badfmt" sync orders --mode full --dry-run
assert_eq "LOG_FORMAT=yaml: exit 1" 1 "$RC"
assert_contains "... saying what it accepts" "$ERR" "LOG_FORMAT must be auto"

run_bin "$T/dry" sync orders --mode full --dry-run
assert_eq "a dry run: exit 0" 0 "$RC"
assert_eq "... QuickBooks has no invoice" 0 "$(qbo_state | jq '.entities.Invoice | length')"
FIX=$(woo_total)
assert_eq "... one line per would-be change (not a terminal)" "$FIX" "$(grep -c '^would create orders [0-9]* -> quickbooks Invoice$' "$T/dry.out")"
assert_match "... its log line is JSON (not a terminal, LOG_FORMAT unset)" '^\{"time":' "$(grep 'sync run finished' "$T/dry.err")"

LOG_FORMAT=text run_bin "$T/full" sync orders --mode full
assert_eq "a full run: exit 0" 0 "$RC"
assert_match "plain progress lines (not a terminal)" 'progress [0-9]+% ' "$OUT"
assert_not_contains "... no carriage returns" "$OUT" $'\r'
assert_eq "... one line per change, naming the invoice made" "$FIX" \
    "$(grep -cE '^create orders [0-9]+ -> quickbooks Invoice [0-9]+$' "$T/full.out")"
assert_match "LOG_FORMAT=text: log lines for people" \
    '^20[0-9-]+T[0-9:.]+Z (INFO|WARN)  sync run finished .*state=succeeded' "$(grep 'sync run finished' "$T/full.err")"
assert_match "a summary line" "sync sync_[0-9a-f]+ succeeded: read $FIX, created $FIX, updated 0" "$OUT"
assert_eq "QuickBooks holds the invoices" "$FIX" "$(qbo_state | jq '.entities.Invoice | length')"
run_bin "$T/again" sync orders --mode incremental --tenant default
assert_eq "an incremental run right after: exit 0" 0 "$RC"
assert_match "... reads only the overlap window, writes nothing" "succeeded: read 1, created 0, updated 0, unchanged 1" "$OUT"

echo "== a dry run shows each field difference"
seed_orders 5000 1 4 3 2026-01-01T00:00:00 "9 Diff Street"
run_bin "$T/dry2" sync orders --mode full --dry-run
assert_match "the would-update names the invoice" '^would update orders 5000 -> quickbooks Invoice [0-9]+$' "$OUT"
assert_match "... with the difference under it" '^    BillAddr: \{.*"Line1":"969 Market".*\} -> \{.*"Line1":"9 Diff Street".*\}$' "$OUT"

echo "== a failed record is named with its reason"
python3 - "$FIXTURES_DIR/woocommerce/order.json" >"$T/bad.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
o.update(id=6100, number="6100", total="999.00", date_modified_gmt="2026-02-02T00:00:00")
print(json.dumps({"entity": "orders", "records": [o]}))
PY
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' --data-binary @"$T/bad.json" >/dev/null
run_bin "$T/bad" sync orders --mode full
assert_eq "a partial run: exit 1" 1 "$RC"
assert_match "... a line when it fails" '^failed orders 6100: mappings/woo_order_to_qbo_invoice\.lua' "$OUT"
assert_match "... and after the summary, each failed record with its reason" \
    '^  orders 6100 failed: mappings/woo_order_to_qbo_invoice\.lua(:[0-9]+)?: order 6100: does not reconcile' \
    "$(sed -n '/^1 failed record:$/,$p' "$T/bad.out")"

echo "== on a terminal: a progress bar, log lines above it, never inside"
python3 - "$FIXTURES_DIR/woocommerce/order.json" >"$T/fixed.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
o.update(id=6100, number="6100", date_modified_gmt="2026-02-03T00:00:00")
print(json.dumps({"entity": "orders", "records": [o]}))
PY
curl -s -X POST "$WOO/_mock/seed" -H 'Content-Type: application/json' --data-binary @"$T/fixed.json" >/dev/null
seed_orders 5000 12 4 3 2026-03-01T00:00:00 "10 Terminal Road"
timeout -k 5 60 python3 -c 'import pty, sys; sys.exit(pty.spawn(sys.argv[1:]) >> 8)' \
    "$TALLYSYNC_BIN" sync orders --mode full >"$T/tty.out" 2>&1
assert_eq "exit 0" 0 "$?"
TTY=$(cat "$T/tty.out")
assert_contains "a progress bar" "$TTY" $'\r['
assert_match "log lines are text on a terminal" ' (INFO|WARN)  sync run finished ' "$TTY"
# every log line starts where a cleared bar was: "\r\033[K" then the time, never after bar text
check "no log line lands inside the bar" python3 - "$T/tty.out" <<'PY'
import re, sys
t = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
bad = [m.start() for m in re.finditer(r"20\d\d-\d\d-\d\dT[0-9:.]+Z (INFO|WARN|ERROR|DEBUG)", t)
       if not t[:m.start()].endswith("\r\x1b[K")]
sys.exit(1 if bad or not re.search(r"(INFO|WARN)  sync run finished", t) else 0)
PY
assert_match "the changes follow the bar" 'update orders 5000 -> quickbooks Invoice [0-9]+' "$TTY"
finish
