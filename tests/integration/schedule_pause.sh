#!/usr/bin/env bash
# tests/integration/schedule_pause.sh - POST /api/sync/schedules/{id}/pause and /resume: the
# answer (the schedule, enabled false / true), a resumed schedule's next run counted from now, a
# paused schedule never started by the engine while an enabled one due later is (no timing: the
# scheduler takes the earliest due schedule first, so had the paused one been taken it would
# have run before), another tenant's id and malformed ids (404), auth (401).
# Output: one line per check, then "N passed, M failed".
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3

sync_mocks
serve_start WORKERS=2 || finish
sync_credentials
seed_orders 5000 2 2 2 2026-01-01T00:00:00
run_bin "$T/tok" token create --tenant shop-b
TOKEN_B=$(printf '%s' "$OUT" | head -n 1)

post() { http POST /api/sync/schedules -H 'Content-Type: application/json' --data-binary "$1"; }
# the one to pause: an hour away, then made due long ago once paused
post '{"entity": "orders", "intervalSeconds": 3600}'
assert_eq "a schedule: 201" 201 "$CODE"
P=$(jq -r .id <<<"$BODY")

echo "== pause"
http POST "/api/sync/schedules/$P/pause"
assert_eq "pause: 200" 200 "$CODE"
assert_jq "... the schedule, enabled false" "$BODY" ".id == $P and .enabled == false and .intervalSeconds == 3600"
http POST "/api/sync/schedules/$P/pause"
assert_jq "pausing again: 200, still paused" "$BODY" '.enabled == false'
http GET /api/sync/schedules
assert_jq "the list shows it paused" "$BODY" "[.items[] | select(.id == $P)][0].enabled == false"

echo "== a paused schedule is not started, an enabled one due later is"
sq "UPDATE schedules SET next_run_at = '2000-01-01T00:00:00.000Z' WHERE id = $P"
post '{"entity": "orders", "intervalSeconds": 3600}'
E=$(jq -r .id <<<"$BODY")
sq "UPDATE schedules SET next_run_at = '2001-01-01T00:00:00.000Z' WHERE id = $E"
ran() { # ID: the engine started a run for schedule ID
    http GET /api/sync/status
    jq -e ".items[] | select(.origin == \"schedule\" and .scheduleId == $1)" <<<"$BODY" >/dev/null
}
check "the enabled schedule (due after the paused one) is started" wait_for 60000 ran "$E"
if ran "$P"; then fail "the paused schedule was started"; else pass "the paused schedule, due first, was not started"; fi
assert_eq "... and its next run is left as it was" "2000-01-01T00:00:00.000Z" "$(sq "SELECT next_run_at FROM schedules WHERE id = $P")"

echo "== resume"
before=$(date -u +%Y-%m-%dT%H:%M:%S)
http POST "/api/sync/schedules/$P/resume"
assert_eq "resume: 200" 200 "$CODE"
assert_jq "... enabled, its next run an interval from now (not the missed one)" "$BODY" \
    ".id == $P and .enabled == true and .nextRunAt > \"$before\""
next_s=$(date -u -d "$(jq -r .nextRunAt <<<"$BODY")" +%s)
left=$((next_s - $(date -u +%s)))
check "... about 3600 s away ($left s)" test "$left" -ge 3500 -a "$left" -le 3601
http POST /api/sync/schedules -H 'Content-Type: application/json' --data-binary '{"entity": "orders", "cron": "@daily", "enabled": false}'
C=$(jq -r .id <<<"$BODY")
http POST "/api/sync/schedules/$C/resume"
assert_jq "a cron schedule created paused resumes at its next cron time" "$BODY" '.enabled == true and (.nextRunAt | test("T00:00:00"))'

echo "== refusals and tenants"
HTTP_AUTH=0 http POST "/api/sync/schedules/$P/pause"
assert_eq "without a token: 401" 401 "$CODE"
HTTP_AUTH=0 http POST "/api/sync/schedules/$P/pause" -H "Authorization: Bearer $TOKEN_B"
assert_eq "another tenant's token: 404 (not its schedule)" 404 "$CODE"
assert_jq "... in the envelope" "$BODY" '.error.code == "not_found"'
http POST "/api/sync/schedules/$P/resume" -H 'X-Tenant-ID: shop-b'
assert_eq "the admin acting for another tenant: 404" 404 "$CODE"
assert_eq "... and the schedule is untouched" 1 "$(sq "SELECT enabled FROM schedules WHERE id = $P")"
http POST /api/sync/schedules/999999/pause
assert_eq "an id no schedule has: 404" 404 "$CODE"
http POST /api/sync/schedules/abc/pause
assert_eq "a malformed id: 404" 404 "$CODE"
http POST /api/sync/schedules/0/resume
assert_eq "id 0: 404" 404 "$CODE"
http GET "/api/sync/schedules/$P/pause"
assert_eq "GET: 405" 405 "$CODE"
serve_stop
finish
