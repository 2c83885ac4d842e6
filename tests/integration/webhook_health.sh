#!/usr/bin/env bash
# tests/integration/webhook_health.sh - the WooCommerce webhook health check end to end: the
# real binary, a real SQLite file and tests/mocks/woocommerce_mock.py as the store (its webhooks
# resource, with a control that disables a webhook as WooCommerce does after failed deliveries).
# Covers: disabled, paused and missing topics in the check route and in
# GET /api/integrations/woocommerce/status (warnings webhook_disabled / webhook_missing), other
# tenants' and foreign webhooks left out, 130 webhooks over two pages; register without a
# webhook_secret (422 naming it), then register re-activating and creating them in the mock with
# the stored secret, one sweep job in sync_queue (since = the earliest newest event of the
# topics' resources), a second register merging into it; a store that fails (check recorded as
# failed, register 502); the timer checking by itself (WEBHOOK_CHECK_INTERVAL_S=1); register
# without WEBHOOK_PUBLIC_URL (422 naming it); no secret in any answer or log line.
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
require_tools curl jq python3

rnd() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24; }
WOO_KEY="ck_$(rnd)"
WOO_SECRET="cs_$(rnd)"
WH_SECRET="whs_$(rnd)"
PUBLIC="https://sync.example.com"
OURS="$PUBLIC/api/webhooks/woocommerce?tenant=default"
ANSWERS="$T/answers.txt"
keep() { printf '%s\n' "$BODY" >>"$ANSWERS"; } # every answer is searched for secrets at the end

# The store: its plain listener, where the connector signs with OAuth 1.0a (an http store URL).
env MOCK_WOO_KEY="$WOO_KEY" MOCK_WOO_SECRET="$WOO_SECRET" MOCK_FIXTURES="$FIXTURES_DIR/woocommerce" \
    python3 "$ENG_SOURCE_DIR/tests/mocks/woocommerce_mock.py" >"$T/mock.out" 2>"$T/mock.err" &
bg_track $!
if ! wait_for 10000 test -s "$T/mock.out"; then
    fail "the WooCommerce mock starts" "$(cat "$T/mock.err")"
    finish
fi
read -r STORE_PORT _ <"$T/mock.out"
M="http://127.0.0.1:$STORE_PORT"
mock() { # METHOD PATH [JSON]
    curl -s --max-time 10 -X "$1" "$M/_mock/$2" -H 'Content-Type: application/json' ${3:+--data-binary "$3"}
}
hook_id() { # TOPIC URL: the id of the mock's webhook with that topic and delivery_url
    mock GET webhooks | jq -r --arg t "$1" --arg u "$2" '[.[] | select(.topic == $t and .delivery_url == $u)][0].id'
}

# The store's webhooks: 123 foreign ones (so the engine must read two pages), then the engine's in
# every state: order.updated disabled, product.created paused, order.created active,
# customer.created made by hand without ?tenant= (ours too), customer.updated of another tenant
# and product.updated to another host (not ours), order.deleted none.
foreign=$(jq -nc '[range(123) | {topic: "coupon.updated", delivery_url: "https://crm.example.com/hook/\(.)", secret: "foreign-\(.)"}]')
mock POST webhooks "$(jq -nc --argjson f "$foreign" --arg o "$OURS" --arg p "$PUBLIC" '{webhooks: ($f + [
    {topic: "order.updated", delivery_url: $o, secret: "old-secret-1"},
    {topic: "product.created", delivery_url: $o, status: "paused", secret: "old-secret-2"},
    {topic: "order.created", delivery_url: $o, secret: "old-secret-3"},
    {topic: "customer.created", delivery_url: ($p + "/api/webhooks/woocommerce"), secret: "old-secret-4"},
    {topic: "customer.updated", delivery_url: ($p + "/api/webhooks/woocommerce?tenant=other"), secret: "keep-5"},
    {topic: "product.updated", delivery_url: "https://elsewhere.example.com/api/webhooks/woocommerce?tenant=default", secret: "keep-6"}])}')" >/dev/null
DISABLED_ID=$(hook_id order.updated "$OURS")
mock POST "webhooks/$DISABLED_ID/status" '{"status": "disabled"}' >/dev/null
assert_jq "the store has 129 webhooks, ours for order.updated disabled after failures" "$(mock GET webhooks)" \
    "length == 129 and ([.[] | select(.id == $DISABLED_ID)][0] | .status == \"disabled\" and .failure_count == 6)"

serve_start SYNC_DISPATCHER=off WEBHOOK_PUBLIC_URL="$PUBLIC/" WEBHOOK_CHECK_INTERVAL_S=0 || finish

echo "== before any check"
http GET /api/integrations/woocommerce/status
keep
assert_jq "no credentials: webhooks is the never-checked object" "$BODY" \
    '.configured == false and .webhooks.checkedAt == null and .webhooks.ok == null and .webhooks.topics == []'
http POST /api/integrations/woocommerce/webhooks/check
keep
assert_eq "check without credentials: 404" 404 "$CODE"

creds() { # [WEBHOOK_SECRET]
    jq -nc --arg u "$M" --arg k "$WOO_KEY" --arg s "$WOO_SECRET" --arg h "${1:-}" \
        '{store_url: $u, consumer_key: $k, consumer_secret: $s} + (if $h == "" then {} else {webhook_secret: $h} end)'
}
http POST /api/integrations/woocommerce/credentials -H 'Content-Type: application/json' --data-binary "$(creds)"
keep
assert_eq "credentials without a webhook_secret stored" 201 "$CODE"

echo "== the check: disabled, paused and missing topics"
http POST /api/integrations/woocommerce/webhooks/check
keep
assert_eq "check: 200" 200 "$CODE"
CHECK=$BODY
topic_status() { printf '%s' "$CHECK" | jq -r --arg t "$1" '.topics[] | select(.topic == $t) | .status'; }
assert_eq "order.updated: disabled" disabled "$(topic_status order.updated)"
assert_eq "product.created: paused" paused "$(topic_status product.created)"
assert_eq "order.created: active" active "$(topic_status order.created)"
assert_eq "customer.created (made by hand, no ?tenant=): active" active "$(topic_status customer.created)"
assert_eq "customer.updated (another tenant's): missing" missing "$(topic_status customer.updated)"
assert_eq "product.updated (another host): missing" missing "$(topic_status product.updated)"
assert_eq "order.deleted: missing" missing "$(topic_status order.deleted)"
assert_jq "ok false, our delivery URL, a time" "$CHECK" \
    ".ok == false and .deliveryUrl == \"$OURS\" and (.checkedAt | test(\"^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T\"))"
assert_jq "warnings: webhook_disabled for order.updated and product.created" "$CHECK" \
    '[.warnings[] | select(.code == "webhook_disabled") | .topic] | sort == ["order.updated", "product.created"]'
assert_jq "warnings: webhook_missing for the three missing topics" "$CHECK" \
    '[.warnings[] | select(.code == "webhook_missing") | .topic] | sort == ["customer.updated", "order.deleted", "product.updated"]'
assert_jq "the disabled topic names its webhook id" "$CHECK" \
    ".topics[] | select(.topic == \"order.updated\") | .ids == [$DISABLED_ID]"
http GET /api/integrations/woocommerce/status
keep
assert_jq "status shows the same check as webhooks" "$BODY" \
    ".configured == true and .webhooks == $CHECK"
REQS=$(mock GET state | jq '[.requests[] | select(.path == "/wp-json/wc/v3/webhooks" and .method == "GET")] | length')
assert_eq "the check read both pages of the store's webhooks" 2 "$REQS"

echo "== register"
STATE0=$(mock GET webhooks | jq -c '[.[] | {id, status, secret, delivery_url}]')
http POST /api/integrations/woocommerce/webhooks/register
keep
assert_eq "register without a stored webhook_secret: 422" 422 "$CODE"
assert_jq "... naming the field" "$BODY" '.error.details.field == "webhook_secret"'
assert_eq "... and changes nothing in the store" "$STATE0" \
    "$(mock GET webhooks | jq -c '[.[] | {id, status, secret, delivery_url}]')"
assert_eq "... and queues nothing" 0 "$(sq "SELECT COUNT(*) FROM sync_queue")"

http POST /api/integrations/woocommerce/credentials -H 'Content-Type: application/json' \
    --data-binary "$(creds "$WH_SECRET")"
keep
assert_eq "credentials with a webhook_secret replace them" 200 "$CODE"
# Events the engine received before the webhooks broke: orders until 2026-03-05, customers until
# 2026-02-01, no product event. The sweep must reach back to the customers' last one.
sq "INSERT INTO webhook_events (source, format, tenant_id, account_id, event_id, topic, resource, resource_id, status, signature_valid, received_at)
     VALUES ('woocommerce', 'woocommerce', 'default', '$M', 'd1', 'order.updated', 'order', '727', 'queued', 1, '2026-03-05T10:00:00.000Z'),
            ('woocommerce', 'woocommerce', 'default', '$M', 'd2', 'customer.updated', 'customer', '25', 'queued', 1, '2026-02-01T08:30:00.000Z'),
            ('woocommerce', 'woocommerce', 'other', '$M', 'd3', 'customer.updated', 'customer', '26', 'queued', 1, '2025-01-01T00:00:00.000Z')"
BEFORE_IDS=$(mock GET webhooks | jq -c '[.[].id] | sort')
http POST /api/integrations/woocommerce/webhooks/register
keep
assert_eq "register: 200" 200 "$CODE"
REG=$BODY
assert_jq "ok, and each topic created or updated with what it was" "$REG" \
    '.ok == true and ([.registered[] | {topic, action, was}] | sort_by(.topic)) == [
      {topic: "customer.created", action: "updated", was: "active"},
      {topic: "customer.updated", action: "created", was: "missing"},
      {topic: "order.created", action: "updated", was: "active"},
      {topic: "order.deleted", action: "created", was: "missing"},
      {topic: "order.updated", action: "updated", was: "disabled"},
      {topic: "product.created", action: "updated", was: "paused"},
      {topic: "product.updated", action: "created", was: "missing"}]'
HOOKS=$(mock GET webhooks)
assert_jq "the store now has one active webhook of ours per topic, signing with the stored secret" "$HOOKS" \
    "[.[] | select(.delivery_url == \"$OURS\")] | (length == 7) and all(.status == \"active\" and .secret == \"$WH_SECRET\" and .failure_count == 0)
     and ([.[].topic] | sort == [\"customer.created\", \"customer.updated\", \"order.created\", \"order.deleted\", \"order.updated\", \"product.created\", \"product.updated\"])"
assert_jq "the disabled one was re-activated in place (same id)" "$HOOKS" \
    "[.[] | select(.id == $DISABLED_ID)][0] | .status == \"active\" and .secret == \"$WH_SECRET\""
assert_jq "the hand-made one now delivers to the canonical URL" "$HOOKS" \
    "[.[] | select(.delivery_url == \"$PUBLIC/api/webhooks/woocommerce\")] | length == 0"
assert_jq "others' webhooks are untouched" "$HOOKS" \
    '([.[] | select(.delivery_url | endswith("tenant=other"))][0].secret == "keep-5")
     and ([.[] | select(.delivery_url | startswith("https://elsewhere."))][0].secret == "keep-6")
     and ([.[] | select(.topic == "coupon.updated" and .secret != ("foreign-" + (.delivery_url | split("/") | last)))] | length == 0)'
AFTER_IDS=$(mock GET webhooks | jq -c '[.[].id] | sort')
assert_eq "three webhooks were created, none deleted" 3 \
    "$(jq -n --argjson a "$AFTER_IDS" --argjson b "$BEFORE_IDS" '($a - $b | length) * (if ($b - $a | length) == 0 then 1 else 0 end)')"
assert_jq "the answer carries the fresh check: all active" "$REG" \
    '.webhooks.ok == true and .webhooks.warnings == [] and all(.webhooks.topics[]; .status == "active")'
assert_eq "exactly one sweep job queued" 1 "$(sq "SELECT COUNT(*) FROM sync_queue WHERE tenant_id = 'default' AND kind = 'sweep'")"
assert_eq "... and no other job" 1 "$(sq "SELECT COUNT(*) FROM sync_queue")"
SWEEP=$(sq "SELECT payload FROM sync_queue WHERE kind = 'sweep'")
assert_jq "... payload {source, reason reregistered, since = the customers' last event}" "$SWEEP" \
    '.source == "woocommerce" and .reason == "reregistered" and .since == "2026-02-01T08:30:00.000Z"'
assert_eq "... pending, priority 5, dedupe key sweep:woocommerce" "pending|5|sweep:woocommerce" \
    "$(sq "SELECT status, priority, dedupe_key FROM sync_queue WHERE kind = 'sweep'")"
assert_jq "the answer names the queued sweep" "$REG" \
    ".sweep.queued == true and .sweep.id == $(sq "SELECT id FROM sync_queue WHERE kind = 'sweep'") and .sweep.since == \"2026-02-01T08:30:00.000Z\""
http GET /api/integrations/woocommerce/status
keep
assert_jq "status: webhooks ok, no warning" "$BODY" '.webhooks.ok == true and .webhooks.warnings == []'

http POST /api/integrations/woocommerce/webhooks/register
keep
assert_jq "a second register updates all seven, creates none" "$BODY" \
    '.ok == true and ([.registered[] | select(.action == "updated")] | length == 7)'
assert_eq "... and merges into the pending sweep (still one)" 1 "$(sq "SELECT COUNT(*) FROM sync_queue WHERE kind = 'sweep'")"
assert_eq "... whose since stays the earliest" "2026-02-01T08:30:00.000Z" \
    "$(sq "SELECT json_extract(payload, '$.since') FROM sync_queue WHERE kind = 'sweep'")"

echo "== WooCommerce disables one again; a store that fails"
mock POST "webhooks/$(hook_id product.updated "$OURS")/status" '{"status": "disabled"}' >/dev/null
http POST /api/integrations/woocommerce/webhooks/check
keep
assert_jq "the check sees it: webhook_disabled for product.updated only" "$BODY" \
    '.ok == false and ([.warnings[] | {code, topic}] == [{code: "webhook_disabled", topic: "product.updated"}])'
mock POST fault '{"kind": "500", "count": 50}' >/dev/null
http POST /api/integrations/woocommerce/webhooks/check
keep
assert_eq "a failing store: the check still answers 200" 200 "$CODE"
assert_jq "... recorded as failed (webhook_check_failed, HTTP 500 named)" "$BODY" \
    '.ok == false and .warnings[0].code == "webhook_check_failed" and (.message | contains("HTTP 500"))'
http POST /api/integrations/woocommerce/webhooks/register
keep
assert_eq "register against a failing store: 502" 502 "$CODE"
assert_jq "... saying the webhooks could not be listed" "$BODY" \
    '.error.code == "upstream" and (.error.message | contains("cannot list"))'
mock POST fault '{"kind": "500", "count": 0}' >/dev/null
http GET /api/integrations/woocommerce/status
keep
assert_jq "status shows the failed check" "$BODY" '.webhooks.warnings[0].code == "webhook_check_failed"'
LAST_CHECK=$(printf '%s' "$BODY" | jq -r '.webhooks.checkedAt')
serve_stop
# Without WEBHOOK_PUBLIC_URL the engine's webhooks are those delivering to its path for this
# tenant: the one on elsewhere.example.com counts too (product.updated is active through it), so
# the timer must find order.updated, disabled again here, and nothing else.
mock POST "webhooks/$(hook_id order.updated "$OURS")/status" '{"status": "disabled"}' >/dev/null
assert_eq "the engine stops cleanly" 0 "$STOP_RC"

echo "== the schedule: WEBHOOK_CHECK_INTERVAL_S=1, and no WEBHOOK_PUBLIC_URL"
serve_start SYNC_DISPATCHER=off WEBHOOK_CHECK_INTERVAL_S=1 || finish
checked_since() { # a check newer than LAST_CHECK is recorded, and the disabled topic is seen
    local v
    v=$(sq "SELECT value FROM settings WHERE tenant_id = 'default' AND key = 'woocommerce_webhooks'")
    printf '%s' "$v" | jq -e --arg t "$LAST_CHECK" '.checkedAt > $t and .ok == false and
        ([.warnings[] | {code, topic}] == [{code: "webhook_disabled", topic: "order.updated"}])' >/dev/null 2>&1
}
if wait_for 60000 checked_since; then
    pass "the timer checked by itself (within ${WAITED_MS} ms) and found the disabled webhook"
else
    fail "the timer checks by itself within 60 s" \
        "$(sq "SELECT value FROM settings WHERE key = 'woocommerce_webhooks'")"
fi
http GET /api/integrations/woocommerce/status
keep
assert_jq "without WEBHOOK_PUBLIC_URL the engine's webhooks are recognised by path and tenant" "$BODY" \
    '.webhooks.deliveryUrl == null and (.webhooks.message | contains("WEBHOOK_PUBLIC_URL"))
     and ([.webhooks.topics[] | select(.status == "active")] | length == 6)
     and (.webhooks.topics[] | select(.topic == "product.updated") | .ids | length == 2)'
http POST /api/integrations/woocommerce/webhooks/register
keep
assert_eq "register without WEBHOOK_PUBLIC_URL: 422" 422 "$CODE"
assert_jq "... naming WEBHOOK_PUBLIC_URL" "$BODY" '.error.details.field == "WEBHOOK_PUBLIC_URL"'
serve_stop
assert_eq "the engine with the timer stops cleanly" 0 "$STOP_RC"

echo "== configuration"
env WEBHOOK_PUBLIC_URL=http://sync.example.com timeout -k 5 30 "$TALLYSYNC_BIN" serve >"$T/bad.out" 2>"$T/bad.err"
assert_ne "WEBHOOK_PUBLIC_URL over plain http to a public host is refused" 0 "$?"
assert_contains "... naming the setting and https" "$(cat "$T/bad.err")" "WEBHOOK_PUBLIC_URL must use https://"
env WEBHOOK_CHECK_INTERVAL_S=soon timeout -k 5 30 "$TALLYSYNC_BIN" serve >"$T/bad.out" 2>"$T/bad.err"
assert_contains "a bad WEBHOOK_CHECK_INTERVAL_S is refused by name" "$(cat "$T/bad.err")" "WEBHOOK_CHECK_INTERVAL_S"

echo "== secrets"
leak=""
for s in "$WH_SECRET" "$WOO_KEY" "$WOO_SECRET"; do
    for f in "$ANSWERS" "$T"/serve.*.err "$T"/serve.*.out; do
        grep -qF -- "$s" "$f" && leak="$leak $(basename "$f")"
    done
done
assert_eq "no secret in any answer or log line" "" "$leak"
assert_eq "... nor in the settings or the queue" "0|0" \
    "$(sq "SELECT (SELECT COUNT(*) FROM settings WHERE instr(value, '$WH_SECRET') > 0),
                   (SELECT COUNT(*) FROM sync_queue WHERE instr(payload, '$WH_SECRET') > 0)")"

finish
