#!/usr/bin/env bash
# tests/integration/webhooks.sh - the webhook receivers end to end: the real binary over real
# HTTP with a real SQLite file. Every signature is computed by Python's hmac
# (tests/mocks/webhook_client.py), never by the engine: WooCommerce deliveries (the fixture
# order with its published signature, the ping, tenants found by store URL and ?tenant=,
# another tenant's secret, tampered bodies), QuickBooks classic (Intuit's real 2019 delivery
# as a replayed old event) and CloudEvents on both routes, unrouted realms, duplicates, malformed
# bodies with a good signature, 413, the events list and replay, and a concurrent burst with
# forged deliveries mixed in (no timing: the bench/ measures that).
# The SIGKILL test is tests/integration/webhooks_kill.sh.
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
require_tools curl jq python3

CLIENT="$ENG_SOURCE_DIR/tests/mocks/webhook_client.py"
FIX="$FIXTURES_DIR"
WOO_DEFAULT_SECRET="tallysync-fixture-secret" # the secret of the fixture's published signature
QBO_VERIFIER="00faeec4-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
A_SECRET="whs-a-$RANDOM$RANDOM"
B_SECRET="whs-b-$RANDOM$RANDOM"
REALM_A="9130357766001"
REALM_FREE="9130357766999"

sign() { printf '%s' "$2" | python3 "$CLIENT" sign "$1"; }
rows() { sq "SELECT COUNT(*) FROM webhook_events"; }
metric() { # NAME_WITH_LABELS: its value in /metrics
    curl -s "$BASE/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}
now_iso() { date -u +%Y-%m-%dT%H:%M:%S.%NZ; }
ago_iso() { date -u -d "@$(($(date +%s) - $1))" +%Y-%m-%dT%H:%M:%S.000Z; }

# woo BODY SECRET [SOURCE] [DELIVERY] [TOPIC] [QUERY] [extra curl args]: a signed delivery
woo() {
    local body=$1 secret=$2 source=${3:-https://unknown.example.com/} delivery=${4:-d-$RANDOM$RANDOM}
    local topic=${5:-order.updated} query=${6:-}
    shift $(($# < 6 ? $# : 6))
    http POST "/api/webhooks/woocommerce$query" -H 'Content-Type: application/json' \
        -H "X-WC-Webhook-Source: $source" -H "X-WC-Webhook-Topic: $topic" \
        -H "X-WC-Webhook-Resource: ${topic%%.*}" -H "X-WC-Webhook-Event: ${topic#*.}" \
        -H 'X-WC-Webhook-ID: 142' -H "X-WC-Webhook-Delivery-ID: $delivery" \
        -H "X-WC-Webhook-Signature: $(sign "$secret" "$body")" --data-binary "$body" "$@"
}
# qbo PATH BODY SECRET [CONTENT_TYPE]: a signed QuickBooks notification
qbo() {
    http POST "$1" -H "Content-Type: ${4:-application/json}" \
        -H "intuit-signature: $(sign "$3" "$2")" --data-binary "$2"
}
cloudevent() { # ID REALM ENTITY_ID [TIME] [TYPE]
    jq -nc --arg id "$1" --arg realm "$2" --arg eid "$3" --arg t "${4:-$(now_iso)}" \
        --arg type "${5:-qbo.invoice.updated.v1}" \
        '{specversion: "1.0", id: $id, source: "intuit.test", type: $type,
          datacontenttype: "application/json", time: $t, intuitentityid: $eid,
          intuitaccountid: $realm, data: {}}'
}

serve_start SYNC_DISPATCHER=off WOOCOMMERCE_WEBHOOK_SECRET="$WOO_DEFAULT_SECRET" QUICKBOOKS_WEBHOOK_SECRET="$QBO_VERIFIER" \
    MAX_BODY_BYTES=65536 || finish

echo "== tenants: two WooCommerce stores with their own webhook secrets, one QuickBooks realm"
store_creds() { # TENANT PLATFORM JSON
    http POST "/api/integrations/$2/credentials" -H "X-Tenant-ID: $1" \
        -H 'Content-Type: application/json' --data-binary "$3"
    assert_eq "$2 credentials of $1 stored" 201 "$CODE"
    [[ "$CODE" == 201 ]] || echo "$BODY"
}
store_creds shop-a woocommerce "$(jq -nc --arg h "$A_SECRET" '{store_url: "https://shop-a.example.com",
    consumer_key: "ck_aaaaaaaa", consumer_secret: "cs_aaaaaaaa", webhook_secret: $h}')"
store_creds shop-b woocommerce "$(jq -nc --arg h "$B_SECRET" '{store_url: "https://shop-b.example.com/",
    consumer_key: "ck_bbbbbbbb", consumer_secret: "cs_bbbbbbbb", webhook_secret: $h}')"
store_creds shop-a quickbooks "$(jq -nc --arg r "$REALM_A" '{client_id: "cid", client_secret: "cs_qqqqqqqq",
    realm_id: $r}')"
# A typed realm routes nothing until the tenant proves it (OAuth callback or a passed connection
# test: realm_ownership.sh covers both); this test seeds the proof.
prove() { # TENANT REALM
    sq "INSERT INTO realm_owners (platform, realm_id, tenant_id, verified_by) VALUES
         ('quickbooks', '$2', '$1', 'connection_test')"
}
prove shop-a "$REALM_A"

echo "== WooCommerce: the ping"
HTTP_AUTH=0 http POST /api/webhooks/woocommerce -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary 'webhook_id=142'
assert_eq "ping (form body, no signature, no X-WC-Webhook-* header): 200" 200 "$CODE"
assert_eq "... stores nothing" 0 "$(rows)"
assert_eq "... and is counted" 1 "$(metric tallysync_webhook_pings_total)"
HTTP_AUTH=0 http POST /api/webhooks/woocommerce -H 'X-WC-Webhook-Topic: order.updated' \
    --data-binary 'webhook_id=142'
assert_eq "a ping-shaped body with an X-WC-Webhook-* header but no signature: 401" 401 "$CODE"
HTTP_AUTH=0 http POST /api/webhooks/woocommerce -H 'Content-Type: application/json' \
    --data-binary '{"id":1}'
assert_eq "an unsigned JSON delivery: 401" 401 "$CODE"

echo "== WooCommerce: the fixture order with its published signature (default tenant)"
FIXBODY="$FIX/woocommerce/webhook-order-updated.derived.body.json"
FIXSIG=$(jq -r '.vectors[1].x_wc_webhook_signature' "$FIX/woocommerce/webhook-signature-vectors.json")
assert_eq "the fixture's signature is what Python computes" "$FIXSIG" \
    "$(python3 "$CLIENT" sign "$WOO_DEFAULT_SECRET" <"$FIXBODY")"
HTTP_AUTH=0 http POST /api/webhooks/woocommerce -H 'Content-Type: application/json' \
    -H 'X-WC-Webhook-Source: https://example.com/' -H 'X-WC-Webhook-Topic: order.updated' \
    -H 'X-WC-Webhook-Resource: order' -H 'X-WC-Webhook-Event: updated' \
    -H 'X-WC-Webhook-ID: 142' -H 'X-WC-Webhook-Delivery-ID: fixture-1' \
    -H "X-WC-Webhook-Signature: $FIXSIG" --data-binary "@$FIXBODY"
assert_eq "fixture delivery: 200" 200 "$CODE"
assert_jq "... one event stored, one job" "$BODY" '.stored == 1 and .jobs == 1 and .duplicates == 0'
sq "SELECT hex(body) FROM webhook_events WHERE event_id = 'fixture-1'" |
    python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read()))' >"$T/stored.bin"
assert_eq "... the raw bytes are stored as received" "$(sha256sum <"$FIXBODY" | cut -d' ' -f1)" \
    "$(sha256sum <"$T/stored.bin" | cut -d' ' -f1)"
assert_eq "... row: default tenant, queued, store URL as the account, headers kept" \
    "default|queued|https://example.com|order.updated|order|727|order.updated" \
    "$(sq "SELECT tenant_id, status, account_id, topic, resource, resource_id,
            json_extract(headers, '\$.X-WC-Webhook-Topic') FROM webhook_events WHERE event_id = 'fixture-1'")"
assert_eq "... job: kind record, entity orders, priority above bulk runs, the documented payload" \
    'default|record|orders|10|woocommerce:orders:727|{"source":"woocommerce","entity":"orders","id":"727","event":"updated","webhookEventId":1}' \
    "$(sq "SELECT tenant_id, kind, entity, priority, dedupe_key, payload FROM sync_queue")"

echo "== WooCommerce: refused deliveries store nothing and are counted"
R0=$(rows)
REF0=$(metric 'tallysync_webhook_refused_total{source="woocommerce"}')
ORDER='{"id":4242,"status":"processing"}'
woo "$ORDER" "wrong-$A_SECRET" https://shop-a.example.com/ refused-wrong-secret
assert_eq "wrong secret: 401" 401 "$CODE"
line=$(grep -F '"msg":"webhook refused"' "$SERVE_LOG" | grep -F 'refused-wrong-secret' | head -n 1)
assert_ne "... the refusal is logged" "" "$line"
assert_jq "... logged with route, delivery id, source and reason" "$line" \
    '.level == "warn" and .route == "/api/webhooks/woocommerce" and .delivery == "refused-wrong-secret"
     and .source == "https://shop-a.example.com/" and (.reason | test("signature")) and (.peer | length > 0)'
assert_not_contains "... never the secret" "$line" "$A_SECRET"
assert_not_contains "... nor the body" "$line" "4242"
assert_not_contains "... nor the signature" "$line" "$(sign "wrong-$A_SECRET" "$ORDER")"
assert_jq "... with no detail of why" "$BODY" '.error.code == "unauthorized" and .error.details == null'
WOO_401_BODY=$BODY
woo "$ORDER" "$B_SECRET" https://shop-a.example.com/
assert_eq "another tenant's secret (shop-b's, for shop-a's store): 401" 401 "$CODE"
assert_eq "... the same answer as a wrong secret" "$WOO_401_BODY" "$BODY"
woo "$ORDER" "$A_SECRET" https://shop-a.example.com/ d-x order.updated '?tenant=shop-b'
assert_eq "shop-a's secret with ?tenant=shop-b: still shop-a's store, 200 for shop-a" 200 "$CODE"
woo "$ORDER" "$A_SECRET" https://nowhere.example.com/ d-y order.updated '?tenant=shop-b'
assert_eq "shop-a's secret, unknown store, ?tenant=shop-b: 401" 401 "$CODE"
woo "$ORDER" "$A_SECRET" https://nowhere.example.com/
assert_eq "a tenant's secret from an unknown store (default secret does not match): 401" 401 "$CODE"
SIG=$(sign "$A_SECRET" "$ORDER")
TAMPERED='{"id":4243,"status":"processing"}'
HTTP_AUTH=0 http POST /api/webhooks/woocommerce -H 'Content-Type: application/json' \
    -H 'X-WC-Webhook-Source: https://shop-a.example.com/' -H 'X-WC-Webhook-Topic: order.updated' \
    -H "X-WC-Webhook-Signature: $SIG" --data-binary "$TAMPERED"
assert_eq "tampered body (signature of another body): 401" 401 "$CODE"
HTTP_AUTH=0 http POST /api/webhooks/woocommerce -H 'Content-Type: application/json' \
    -H 'X-WC-Webhook-Source: https://shop-a.example.com/' -H 'X-WC-Webhook-Topic: order.updated' \
    -H "X-WC-Webhook-Signature: not base64 at all" --data-binary "$ORDER"
assert_eq "garbage signature: 401" 401 "$CODE"
assert_eq "refused deliveries stored nothing (only the one accepted for shop-a)" "$((R0 + 1))" "$(rows)"
assert_eq "... and each was counted" "$((REF0 + 6))" \
    "$(metric 'tallysync_webhook_refused_total{source="woocommerce"}')"

echo "== WooCommerce: tenants found by store URL and ?tenant="
woo '{"id":51}' "$A_SECRET" 'HTTPS://Shop-A.example.com//' wa-1
assert_eq "shop-a's store URL (other case, trailing slashes) and secret: 200" 200 "$CODE"
assert_eq "... routed to shop-a" "shop-a" "$(sq "SELECT tenant_id FROM webhook_events WHERE event_id = 'wa-1'")"
woo '{"id":52}' "$B_SECRET" https://staging.shop-b.example.com/ wb-1 order.created '?tenant=shop-b'
assert_eq "an unstored store URL with ?tenant=shop-b and shop-b's secret: 200" 200 "$CODE"
assert_eq "... routed to shop-b" "shop-b|orders|created" \
    "$(sq "SELECT q.tenant_id, q.entity, json_extract(q.payload, '\$.event') FROM sync_queue q
            JOIN webhook_events e ON e.id = q.webhook_event_id WHERE e.event_id = 'wb-1'")"

echo "== WooCommerce: a changed webhook secret counts from the next delivery"
# Which rows are candidates is remembered (issue 14) until this engine writes a credential, so a
# change through the engine counts from the very next delivery.
B2_SECRET="rotated-$B_SECRET"
reseal_b() { # SECRET
    http POST /api/integrations/woocommerce/credentials -H "X-Tenant-ID: shop-b" \
        -H 'Content-Type: application/json' --data-binary "$(jq -nc --arg h "$1" \
        '{store_url: "https://shop-b.example.com/", consumer_key: "ck_bbbbbbbb",
          consumer_secret: "cs_bbbbbbbb", webhook_secret: $h}')"
}
woo '{"id":9053}' "$B_SECRET" https://shop-b.example.com/ wb-r1
assert_eq "shop-b's secret before the change: 200" 200 "$CODE"
reseal_b "$B2_SECRET"
assert_match "... the credentials replaced" '^20[01]$' "$CODE"
woo '{"id":9053}' "$B_SECRET" https://shop-b.example.com/ wb-r2
assert_eq "the replaced secret at once: 401" 401 "$CODE"
woo '{"id":9053}' "$B2_SECRET" https://shop-b.example.com/ wb-r3
assert_eq "the new secret at once: 200" 200 "$CODE"
reseal_b "$B_SECRET"
woo '{"id":9053}' "$B_SECRET" https://shop-b.example.com/ wb-r4
assert_eq "changed back: the first secret again 200" 200 "$CODE"

echo "== WooCommerce: a change made by another process counts within a second"
# Another process (the CLI, another engine on the same database) does not tell this one: what
# is remembered is read again at most a second later (flow/webhook_tenant.c WH_FOUND_TTL_MS).
woo '{"id":9054}' "$B_SECRET" https://shop-b.example.com/ wb-p1
assert_eq "shop-b's secret before: 200" 200 "$CODE"
sq "DELETE FROM integration_credentials WHERE tenant_id = 'shop-b' AND platform = 'woocommerce'"
gone_b() { woo '{"id":9054}' "$B_SECRET" https://shop-b.example.com/ "wb-p$RANDOM$RANDOM"; [[ $CODE == 401 ]]; }
wait_for 5000 gone_b && ok=1 || ok=0
assert_eq "credentials deleted by another process: the secret refused soon after" 1 "$ok"
reseal_b "$B_SECRET"
woo '{"id":9054}' "$B_SECRET" https://shop-b.example.com/ wb-p2
assert_eq "stored again through the engine: 200 at once" 200 "$CODE"

echo "== WooCommerce: duplicates and the same record twice"
woo '{"id":53}' "$A_SECRET" https://shop-a.example.com/ dup-1
assert_jq "first delivery: stored with a job" "$BODY" '.stored == 1 and .jobs == 1'
woo '{"id":53}' "$A_SECRET" https://shop-a.example.com/ dup-1
assert_eq "the same delivery id again: 200" 200 "$CODE"
assert_jq "... acknowledged as a duplicate, not queued again" "$BODY" '.stored == 0 and .duplicates == 1 and .jobs == 0'
assert_eq "... one row" 1 "$(sq "SELECT COUNT(*) FROM webhook_events WHERE event_id = 'dup-1'")"
woo '{"id":53}' "$A_SECRET" https://shop-a.example.com/ dup-2
assert_jq "another delivery for the same order: stored, no second pending job" "$BODY" '.stored == 1 and .jobs == 0'
assert_eq "... one pending job for shop-a order 53" 1 \
    "$(sq "SELECT COUNT(*) FROM sync_queue WHERE tenant_id = 'shop-a' AND dedupe_key = 'woocommerce:orders:53'")"
woo '{"id":53}' "$B_SECRET" https://shop-b.example.com/ dup-1
assert_jq "the same delivery id from another store is another delivery" "$BODY" '.stored == 1 and .jobs == 1'

echo "== WooCommerce: verified but malformed, or nothing to sync"
woo 'not json' "$A_SECRET" https://shop-a.example.com/ bad-1
assert_eq "a signed body that is not JSON: 400" 400 "$CODE"
assert_jq "... saying what is wrong" "$BODY" '.error.code == "malformed_payload" and (.error.message | contains("not valid JSON"))'
assert_eq "... stored as rejected for audit" "rejected|shop-a" \
    "$(sq "SELECT status, tenant_id FROM webhook_events WHERE event_id = 'bad-1'")"
line=$(grep -F '"msg":"webhook rejected"' "$SERVE_LOG" | grep -F '"delivery":"bad-1"' | head -n 1)
assert_ne "... and logged" "" "$line"
assert_jq "... with the reason, never the body" "$line" '(.reason | contains("not valid JSON")) and .route == "/api/webhooks/woocommerce"'
woo '{"status":"x"}' "$A_SECRET" https://shop-a.example.com/ bad-2
assert_eq "a signed order without an id: 400" 400 "$CODE"
assert_jq "... naming the id" "$BODY" '.error.message | contains("\"id\"")'
woo '{"id":9}' "$A_SECRET" https://shop-a.example.com/ coupon-1 coupon.created
assert_eq "a coupon (no sync flow): 200" 200 "$CODE"
assert_jq "... ignored, no job" "$BODY" '.ignored == 1 and .jobs == 0'

echo "== QuickBooks: Intuit's real 2019 delivery, replayed today"
VEC="$FIX/quickbooks/webhook-signature-vectors.json"
OLD_TOKEN=$(jq -r '.vectors[0].verifier_token' "$VEC")
OLD_BODY=$(jq -r '.vectors[0].body' "$VEC")
OLD_SIG=$(jq -r '.vectors[0].intuit_signature' "$VEC")
assert_eq "the vector's signature is what Python computes" "$OLD_SIG" "$(sign "$OLD_TOKEN" "$OLD_BODY")"
HTTP_AUTH=0 http POST /api/webhooks/quickbooks -H 'Content-Type: application/json' \
    -H "intuit-signature: $OLD_SIG" --data-binary "$OLD_BODY"
assert_eq "signed with another app's verifier token: 401" 401 "$CODE"
# The same bytes signed with this engine's verifier token: a replay of a 2019 event.
qbo /api/webhooks/quickbooks "$OLD_BODY" "$QBO_VERIFIER"
assert_eq "a validly signed 2019 notification: 200 (Intuit must not hold later events back)" 200 "$CODE"
assert_jq "... refused as stale: stored as rejected, no job" "$BODY" '.stale == 1 and .rejected == 1 and .jobs == 0'
line=$(grep -F '"msg":"webhook rejected"' "$SERVE_LOG" | grep -F 'WEBHOOK_REPLAY_WINDOW_SECONDS' | head -n 1)
assert_ne "... and logged as rejected (stale)" "" "$line"
STALE_ID=$(sq "SELECT id FROM webhook_events WHERE source = 'quickbooks' AND status = 'rejected' AND error LIKE 'stale%'")
assert_match "... kept with its time and the reason" '^[0-9]+$' "$STALE_ID"

echo "== QuickBooks: classic format, fresh"
CLASSIC=$(jq -nc --arg r "$REALM_A" --arg t "$(now_iso)" '{eventNotifications: [{realmId: $r,
    dataChangeEvent: {entities: [{name: "Customer", id: "1", operation: "Create", lastUpdated: $t},
                                 {name: "Invoice", id: "130", operation: "Update", lastUpdated: $t}]}}]}')
qbo /api/webhooks/quickbooks "$CLASSIC" "$QBO_VERIFIER"
assert_eq "classic notification for shop-a's realm: 200" 200 "$CODE"
assert_jq "... one event, a job per entity" "$BODY" '.stored == 1 and .jobs == 2 and .unrouted == 0'
assert_eq "... the jobs carry entity, id, operation and realm" \
    "shop-a|Customer|1|Create|$REALM_A
shop-a|Invoice|130|Update|$REALM_A" \
    "$(sq "SELECT tenant_id, entity, json_extract(payload, '\$.id'), json_extract(payload, '\$.operation'),
            json_extract(payload, '\$.realmId') FROM sync_queue WHERE json_extract(payload, '\$.source') = 'quickbooks'
            ORDER BY entity")"
qbo /api/webhooks/quickbooks/cloudevents "$CLASSIC" "$QBO_VERIFIER"
assert_jq "the same classic body again (on the CloudEvents route): a duplicate" "$BODY" '.duplicates == 1 and .stored == 0'

echo "== QuickBooks: CloudEvents on both routes"
CE=$(jq -nc --argjson a "$(cloudevent ce-1 "$REALM_A" 130)" --argjson b "$(cloudevent ce-2 "$REALM_FREE" 7)" \
    --argjson c "$(cloudevent ce-3 "$REALM_A" 8 "$(ago_iso 172800)" qbo.customer.created.v1)" '[$a, $b, $c]')
qbo /api/webhooks/quickbooks/cloudevents "$CE" "$QBO_VERIFIER" application/cloudevents+json
assert_eq "a CloudEvents array as application/cloudevents+json: 200" 200 "$CODE"
assert_jq "... one routed (already pending: no second job), one unrouted realm, one stale" "$BODY" \
    '.received == 3 and .stored == 3 and .jobs == 0 and .unrouted == 1 and .stale == 1'
assert_eq "... statuses per event id" "ce-1|queued|shop-a
ce-2|unrouted|
ce-3|rejected|shop-a" "$(sq "SELECT event_id, status, tenant_id FROM webhook_events WHERE event_id LIKE 'ce-%' ORDER BY event_id")"
CE4=$(jq -nc --argjson a "$(cloudevent ce-4 "$REALM_A" 131 "" qbo.payment.created.v1)" '[$a | del(.time)]')
qbo /api/webhooks/quickbooks "$CE4" "$QBO_VERIFIER" application/cloudevents+json
assert_jq "CloudEvents on the classic route: a Payment Create job" "$BODY" '.stored == 1 and .jobs == 1'
assert_eq "... as the documented payload" \
    "{\"source\":\"quickbooks\",\"entity\":\"Payment\",\"id\":\"131\",\"operation\":\"Create\",\"realmId\":\"$REALM_A\",\"webhookEventId\":$(sq "SELECT id FROM webhook_events WHERE event_id = 'ce-4'")}" \
    "$(sq "SELECT payload FROM sync_queue WHERE entity = 'Payment'")"
qbo /api/webhooks/quickbooks "$CE4" "$QBO_VERIFIER"
assert_jq "the same event id again: acknowledged, not queued twice" "$BODY" '.duplicates == 1 and .jobs == 0'
R0=$(rows)
REF0=$(metric 'tallysync_webhook_refused_total{source="quickbooks"}')
qbo /api/webhooks/quickbooks "$CE4" "wrong-$QBO_VERIFIER"
assert_eq "wrong verifier token: 401" 401 "$CODE"
line=$(grep -F '"msg":"webhook refused"' "$SERVE_LOG" | grep -F '"route":"/api/webhooks/quickbooks"' | tail -n 1)
assert_ne "... the refusal is logged" "" "$line"
assert_jq "... logged with route, source and reason" "$line" \
    '.source == "quickbooks" and (.reason | test("does not match QUICKBOOKS_WEBHOOK_SECRET"))'
assert_not_contains "... never the verifier token" "$line" "$QBO_VERIFIER"
HTTP_AUTH=0 http POST /api/webhooks/quickbooks/cloudevents -H 'Content-Type: application/json' --data-binary "$CE4"
assert_eq "no intuit-signature: 401" 401 "$CODE"
HTTP_AUTH=0 http POST /api/webhooks/quickbooks -H 'Content-Type: application/json' \
    -H "intuit-signature: $(sign "$QBO_VERIFIER" "$CE4")" --data-binary "${CE4/131/132}"
assert_eq "tampered after signing: 401" 401 "$CODE"
assert_eq "refused notifications stored nothing" "$R0" "$(rows)"
assert_eq "... and were counted" "$((REF0 + 3))" "$(metric 'tallysync_webhook_refused_total{source="quickbooks"}')"
qbo /api/webhooks/quickbooks '{"foo":[1,2]}' "$QBO_VERIFIER"
assert_eq "a signed body in neither format: 400" 400 "$CODE"
assert_jq "... saying so" "$BODY" '.error.code == "malformed_payload" and (.error.message | contains("eventNotifications"))'
assert_eq "... stored as rejected (no tenant: no realm)" 1 \
    "$(sq "SELECT COUNT(*) FROM webhook_events WHERE source = 'quickbooks' AND status = 'rejected' AND tenant_id IS NULL AND format IS NULL")"

echo "== body limit"
BIG=$(head -c 70000 /dev/zero | tr '\0' 'a')
R0=$(rows)
qbo /api/webhooks/quickbooks "[\"$BIG\"]" "$QBO_VERIFIER"
assert_eq "a body over MAX_BODY_BYTES: 413" 413 "$CODE"
assert_eq "... nothing stored" "$R0" "$(rows)"

echo "== events list"
http GET '/api/webhooks/events?limit=2' -H 'X-Tenant-ID: shop-a'
assert_eq "list: 200" 200 "$CODE"
assert_jq "... a page of 2 with a next cursor, newest first" "$BODY" \
    '(.events | length) == 2 and .next != null and .events[0].id > .events[1].id'
NEXT=$(jq -r .next <<<"$BODY")
http GET "/api/webhooks/events?limit=500&before=$NEXT" -H 'X-Tenant-ID: shop-a'
assert_jq "... the next page continues below the cursor and ends" "$BODY" \
    "(.events | all(.id < $NEXT)) and .next == null"
http GET '/api/webhooks/events?status=rejected&source=woocommerce' -H 'X-Tenant-ID: shop-a'
assert_jq "filter by status and source: shop-a's two malformed deliveries" "$BODY" \
    '(.events | length) == 2 and (.events | all(.status == "rejected" and .tenant == "shop-a" and .source == "woocommerce"))'
assert_jq "... each with source, delivery id, topic, tenant, status, received time" "$BODY" \
    '.events[0] | has("eventId") and has("topic") and has("receivedAt") and (.eventId | startswith("bad-"))'
http GET '/api/webhooks/events?status=unrouted'
assert_jq "the administrator sees unrouted events (no tenant)" "$BODY" \
    '(.events | length) == 1 and .events[0].eventId == "ce-2" and .events[0].tenant == null'
http GET '/api/webhooks/events?status=bogus'
assert_eq "an unknown status: 400" 400 "$CODE"
TOK_B=$("$TALLYSYNC_BIN" token create --tenant shop-b 2>/dev/null | tail -n 1)
HTTP_AUTH=0 http GET /api/webhooks/events -H "Authorization: Bearer $TOK_B"
assert_jq "a tenant token sees only its tenant's events" "$BODY" \
    '(.events | length) >= 2 and (.events | all(.tenant == "shop-b"))'
HTTP_AUTH=0 http GET /api/webhooks/events
assert_eq "no token: 401" 401 "$CODE"

echo "== replay"
http POST "/api/webhooks/events/$STALE_ID/replay"
assert_eq "replay of the stale 2019 event without a tenant owning its realm: 409" 409 "$CODE"
assert_jq "... naming the realm" "$BODY" '.error.message | contains("4620816365020074550")'
CE2_ID=$(sq "SELECT id FROM webhook_events WHERE event_id = 'ce-2'")
store_creds shop-b quickbooks "$(jq -nc --arg r "$REALM_FREE" '{client_id: "cid", client_secret: "cs_qqqqqqqq", realm_id: $r}')"
prove shop-b "$REALM_FREE"
http POST "/api/webhooks/events/$CE2_ID/replay" -H 'X-Tenant-ID: shop-b'
assert_eq "replay of the unrouted event once its realm is connected and proven: 200" 200 "$CODE"
assert_jq "... queues its job and counts the replay" "$BODY" ".id == $CE2_ID and .jobs == 1 and .replayCount == 1"
assert_eq "... the event now belongs to shop-b, queued" "shop-b|queued|1" \
    "$(sq "SELECT tenant_id, status, replay_count FROM webhook_events WHERE id = $CE2_ID")"
http POST "/api/webhooks/events/$CE2_ID/replay" -H 'X-Tenant-ID: shop-b'
assert_jq "replaying again: counted, but the record is already pending" "$BODY" '.jobs == 0 and .replayCount == 2'
CE3_ID=$(sq "SELECT id FROM webhook_events WHERE event_id = 'ce-3'")
http POST "/api/webhooks/events/$CE3_ID/replay" -H 'X-Tenant-ID: shop-a'
assert_jq "an operator may replay a stale event: its job is queued" "$BODY" '.jobs == 1 and .replayCount == 1'
http POST "/api/webhooks/events/$CE3_ID/replay" -H 'X-Tenant-ID: shop-b'
assert_eq "another tenant's event: 404" 404 "$CODE"
BAD_ID=$(sq "SELECT id FROM webhook_events WHERE event_id = 'bad-1'")
http POST "/api/webhooks/events/$BAD_ID/replay" -H 'X-Tenant-ID: shop-a'
assert_eq "a malformed event has nothing to replay: 409" 409 "$CODE"
http POST /api/webhooks/events/999999/replay
assert_eq "no such event: 404" 404 "$CODE"

echo "== burst: concurrent signed deliveries with forged ones mixed in"
python3 "$CLIENT" burst "$BASE" "$WOO_DEFAULT_SECRET" "$QBO_VERIFIER" 400 "$T/burst.jsonl" \
    --forged-every 7 --concurrency 16 --tag burst >"$T/burst.summary"
assert_eq "every delivery got an answer" 400 "$(wc -l <"$T/burst.jsonl")"
assert_eq "no 5xx and no failed connection" 0 "$(jq -s '[.[] | select(.status >= 500 or .status == 0)] | length' "$T/burst.jsonl")"
assert_eq "every forged one refused (401)" 0 "$(jq -s '[.[] | select(.forged and .status != 401)] | length' "$T/burst.jsonl")"
assert_eq "every valid one accepted (200)" 0 "$(jq -s '[.[] | select((.forged | not) and .status != 200)] | length' "$T/burst.jsonl")"
jq -r 'select(.forged | not) | .id' "$T/burst.jsonl" | sort >"$T/valid.ids"
sq "SELECT event_id FROM webhook_events WHERE event_id LIKE 'burst-%'" | sort >"$T/stored.ids"
assert_eq "every valid delivery is stored exactly once, no forged one" "$(cat "$T/valid.ids")" "$(cat "$T/stored.ids")"
assert_eq "... (no duplicate row)" "$(wc -l <"$T/valid.ids")" "$(sort -u "$T/stored.ids" | wc -l)"

serve_stop
assert_eq "serve stops cleanly (exit 0)" 0 "$STOP_RC"

echo "== after downtime: a catch-up sweep per tenant and platform that was receiving webhooks"
assert_eq "no sweep while the engine ran" 0 "$(sq "SELECT COUNT(*) FROM sync_queue WHERE kind = 'sweep'")"
serve_start SYNC_DISPATCHER=off WOOCOMMERCE_WEBHOOK_SECRET="$WOO_DEFAULT_SECRET" QUICKBOOKS_WEBHOOK_SECRET="$QBO_VERIFIER" || finish
assert_eq "the restarted engine queued one sweep per (tenant, platform) with webhooks, since the newest" \
    "shop-a|quickbooks|startup|1
shop-a|woocommerce|startup|1
shop-b|quickbooks|startup|1
shop-b|woocommerce|startup|1" \
    "$(sq "SELECT q.tenant_id, json_extract(q.payload, '\$.source'), json_extract(q.payload, '\$.reason'),
            json_extract(q.payload, '\$.since') = (SELECT max(received_at) FROM webhook_events e
              WHERE e.tenant_id = q.tenant_id AND e.source = json_extract(q.payload, '\$.source'))
            FROM sync_queue q WHERE kind = 'sweep' ORDER BY 1, 2")"
serve_stop
serve_start SYNC_DISPATCHER=off WOOCOMMERCE_WEBHOOK_SECRET="$WOO_DEFAULT_SECRET" QUICKBOOKS_WEBHOOK_SECRET="$QBO_VERIFIER" || finish
assert_eq "... and not again while they are pending" 4 "$(sq "SELECT COUNT(*) FROM sync_queue WHERE kind = 'sweep'")"
serve_stop
assert_eq "serve stops cleanly again" 0 "$STOP_RC"
finish
