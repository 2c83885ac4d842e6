#!/usr/bin/env bash
# sync_schedule.sh - schedules: create (interval or cron, errors naming the field), list, the
# engine starting a due run by itself (never before its time), delete.
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/sync_env.sh"
require_tools jq curl python3

sync_mappings
sync_mocks
serve_start WORKERS=2 || finish
sync_credentials
seed_orders 5000 5 3 3 2026-01-01T00:00:00

post() { http POST /api/sync/schedules -H 'Content-Type: application/json' --data-binary "$1"; }
post '{"entity": "orders", "intervalSeconds": 60, "cron": "* * * * *"}'
assert_jq "interval and cron together: 422" "$BODY" '.error.code == "invalid_field" and .error.details.field == "intervalSeconds"'
post '{"entity": "orders", "cron": "61 * * * *"}'
assert_jq "a bad cron: 422 naming its minute field" "$BODY" '.error.details.field == "cron" and (.error.message | test("minute"))'
post '{"entity": "orders", "intervalSeconds": 0}'
assert_eq "interval 0: 422" 422 "$CODE"
post '{"entity": "orders"}'
assert_jq "neither: 422" "$BODY" '.error.details.field == "intervalSeconds"'
post '{"entity": "widgets", "intervalSeconds": 5}'
assert_jq "an entity without a flow: 422 naming entity" "$BODY" '.error.details.field == "entity"'
post '{"entity": "orders", "cron": "@daily"}'
assert_eq "a cron schedule: 201" 201 "$CODE"
assert_jq "... due at the next midnight UTC" "$BODY" '.cron == "@daily" and (.nextRunAt | test("T00:00:00"))'
DAILY=$(jq -r .id <<<"$BODY")

post '{"entity": "orders", "mode": "full", "intervalSeconds": 2}'
assert_eq "an interval schedule: 201" 201 "$CODE"
SCHED=$(jq -r .id <<<"$BODY")
DUE=$(jq -r .nextRunAt <<<"$BODY")
assert_jq "... enabled, full, with its next run time" "$BODY" '.enabled == true and .mode == "full" and .intervalSeconds == 2 and .flow == "woo_order_to_qbo_invoice"'
http GET /api/sync/schedules
assert_jq "the list holds both" "$BODY" '.items | length == 2'

scheduled_run() {
    http GET /api/sync/status
    jq -e ".items[] | select(.origin == \"schedule\" and .scheduleId == $SCHED)" <<<"$BODY" >/dev/null
}
wait_for 60000 scheduled_run
RUN=$(jq -c "[.items[] | select(.scheduleId == $SCHED)] | last" <<<"$BODY")
assert_jq "the engine started the scheduled run by itself" "$RUN" \
    ".origin == \"schedule\" and .mode == \"full\" and .requestedBy == \"schedule:$SCHED\""
assert_jq "... not before it was due ($DUE)" "$RUN" ".createdAt >= \"$DUE\""
SYNC_ID=$(jq -r .syncId <<<"$RUN")
wait_run 60000
assert_eq "... and it succeeds" succeeded "$RUN_STATE"
http GET /api/sync/schedules
assert_jq "the schedule records its last run and moves to the next time" "$BODY" \
    "[.items[] | select(.id == $SCHED)][0] | .lastRunId != null and .nextRunAt > \"$DUE\""

http DELETE "/api/sync/schedules/$SCHED"
assert_eq "DELETE: 204" 204 "$CODE"
http DELETE "/api/sync/schedules/$SCHED"
assert_eq "... again: 404" 404 "$CODE"
http DELETE "/api/sync/schedules/$DAILY" -H 'X-Tenant-ID: other'
assert_eq "another tenant cannot delete it: 404" 404 "$CODE"
http GET /api/sync/schedules
assert_jq "one schedule left" "$BODY" '.items | length == 1'

serve_stop
assert_eq "serve stops cleanly" 0 "$STOP_RC"
finish
