#!/usr/bin/env bash
# tests/integration/defaults.sh - every default of the engine's own settings, observed by its
# effect in runs that do NOT set the variable (issue 10: "Every default setting is exercised by
# at least one test that does not set it"). The transformer settings' defaults are
# sync_defaults.sh's; the parsed value of every default, from a clean environment, is
# unit.test_config (test_defaults_from_a_clean_environment).
#
# setting                        default                          exercised, unset, by
# API_HOST                       127.0.0.1                        here (listening line, curl 127.0.0.1); every serve_start
# API_PORT                       8923                             here (serve answers on 127.0.0.1:8923)
# DATABASE_URL                   sqlite:./data/pos.db             here (serve, run --ctx); startup.sh (0700/0600)
# SCRIPTS_DIR/MAPPINGS_DIR/      ./scripts etc., else the source  here (no ./scripts: the source tree's are
#   SCHEMA_DIR                     tree's                           published, migrations applied)
# WEB_DIR                        ./web/dist, else the source      here (./web/dist/index.html answers GET /)
#                                  tree's
# WORKERS                        2                                here (/metrics tallysync_workers 2)
# WORKER_STUCK_MS                600000                           here (/metrics tallysync_worker_stuck_threshold_seconds 600)
# SHUTDOWN_GRACE_MS              30000                            unit.test_config (stuck_worker.sh sets it low: a stop abandons a stuck worker)
# SCRIPT_MEMORY_MB               64                               here (48 MiB held, 72 MiB refused naming 64 MiB)
# SCRIPT_TIMEOUT_MS              2000                             here (an endless loop stops, naming 2000 ms)
# SCRIPT_MAX_INSTRUCTIONS        0 (not counted)                  here (a loop of 240,000,000 instructions completes)
# MAX_BODY_BYTES                 1048576                          here (1 MiB is read, 1 MiB + 1 is 413)
# DRY_RUN_MAX_RECORDS            1000                             dryrun_limits.sh (1,000 accepted, 524,000 refused naming 1000)
# IMPACT_RECORDS                 200                              console_mapping_api.sh (an impact without a limit considers 200 of 230 snapshots)
# SNAPSHOTS_KEEP                 1000                             unit.test_config (console_mapping_api.sh sets it low: pruned to the newest)
# CONNECTOR_TIMEOUT_MS           30000                            here (ctx.config.connector_timeout_ms)
# LOG_LEVEL                      info                             here (info shown, debug not)
# LOG_FORMAT                     auto                             here (JSON lines on a pipe, text on a terminal)
# API_TOKEN                      unset                            here (warned at start; tenant tokens only)
# API_ANONYMOUS_TENANT           unset                            here (no token: 401)
# INTEGRATION_ENCRYPTION_KEY(_PREVIOUS) required (unset)          serve.sh (serve refuses to start without it)
# ENGINE_HTTP_CA_FILE            unset (system CAs)               http_module.sh run 1 (a self-signed host: "tls")
# OAUTH_REDIRECT_URI             http://localhost:8923/api/integrations/quickbooks/callback   here (connect URL)
# QUICKBOOKS_AUTH_URL            https://appcenter.intuit.com/connect/oauth2                  here (connect URL)
# QUICKBOOKS_TOKEN_URL           https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer    here (ctx.config)
# QUICKBOOKS_API_BASE            per credential environment       here (sandbox-quickbooks.api.intuit.com /
#                                                                   quickbooks.api.intuit.com in ctx.config)
# WOOCOMMERCE_/QUICKBOOKS_WEBHOOK_SECRET unset                    here (signed deliveries refused: nothing to verify)
# WEBHOOK_PUBLIC_URL             unset                            webhook_health.sh (registration needs it)
# WEBHOOK_CHECK_INTERVAL_S       3600                             here (checked 61 min ago: due; 58 min ago: not)
# WEBHOOK_REPLAY_WINDOW_SECONDS  86400                            here (23 h old queued, 25 h old stale); webhooks.sh
# WEBHOOK_SYNC                   full                             unit.test_config (power loss is not observable)
# SYNC_DISPATCHER                on                               sync_e2e.sh, sync_defaults.sh (runs run)
# ALLOW_PRIVATE_TARGETS          unset (none)                     ssrf.sh (loopback targets refused)
# TRUSTED_PROXIES                unset (nobody's)                 slow_clients.sh (X-Forwarded-For ignored)
# HTTP_HEADERS_TIMEOUT_S         10                               slow_clients.sh (trickled headers closed)
# HTTP_BODY_TIMEOUT_S            60                               slow_clients.sh (set lower there; default unit.test_config)
# HTTP_CONNECTIONS_PER_ADDRESS   32                               slow_clients.sh (the 33rd API request is 429)
# SESSION_TTL_S                  43200                            console_session.sh (a login's Max-Age=43200, expiresAt 12 h on)
#
# Port 8923 is this test's only fixed port: it runs in a network namespace of its own when the
# system allows one (unshare -rn), else on the shared loopback under ctest's RESOURCE_LOCK
# port8923, failing (never skipping) when another program holds the port.
# Output: one line per check, then "N passed, M failed".

if [[ -z "${DEFAULTS_NETNS:-}" ]] && command -v unshare >/dev/null && command -v ip >/dev/null &&
    unshare -rn ip link set lo up 2>/dev/null; then
    # shellcheck disable=SC2016  # $0 is the inner shell's: the script's path
    exec unshare -rn env DEFAULTS_NETNS=1 bash -c 'ip link set lo up && exec bash "$0"' "$0"
fi

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
require_tools jq curl python3 script

# Every setting of the engine, unset (common.sh sets some for every test): each run below adds
# only what it names.
CLEAN=(-u DATABASE_URL -u SCRIPTS_DIR -u MAPPINGS_DIR -u SCHEMA_DIR -u API_ANONYMOUS_TENANT
    -u CONNECTOR_TIMEOUT_MS -u OAUTH_REDIRECT_URI -u QUICKBOOKS_AUTH_URL -u WEBHOOK_PUBLIC_URL
    -u WEBHOOK_CHECK_INTERVAL_S -u WEBHOOK_REPLAY_WINDOW_SECONDS -u WEBHOOK_SYNC -u SYNC_DISPATCHER
    -u ENGINE_HTTP_CA_FILE -u API_PORT -u API_HOST -u WORKERS -u LOG_LEVEL -u LOG_FORMAT
    -u SCRIPT_TIMEOUT_MS -u SCRIPT_MAX_INSTRUCTIONS -u SCRIPT_MEMORY_MB -u MAX_BODY_BYTES
    -u WOOCOMMERCE_WEBHOOK_SECRET -u QUICKBOOKS_WEBHOOK_SECRET -u QUICKBOOKS_TOKEN_URL
    -u QUICKBOOKS_API_BASE -u INTEGRATION_ENCRYPTION_KEY_PREVIOUS -u ALLOW_PRIVATE_TARGETS
    -u TRUSTED_PROXIES -u HTTP_HEADERS_TIMEOUT_S -u HTTP_BODY_TIMEOUT_S -u HTTP_CONNECTIONS_PER_ADDRESS
    -u WORKER_STUCK_MS -u SHUTDOWN_GRACE_MS -u DRY_RUN_MAX_RECORDS -u WEB_DIR -u SESSION_TTL_S
    -u IMPACT_RECORDS -u SNAPSHOTS_KEEP)
W="$T/fresh" # a working folder with no .env, data/, scripts/, mappings/ or schema/
mkdir -p "$W/web/dist" # ... but a built console, to see WEB_DIR's default
printf '<!doctype html><title>defaults-console</title>\n' >"$W/web/dist/index.html"
ts() { (cd "$W" && env "${CLEAN[@]}" "$@"); } # VAR=VALUE... COMMAND: in $W, clean environment

echo "== serve with every setting unset"
if [[ -z "${DEFAULTS_NETNS:-}" ]] && curl -s -o /dev/null --max-time 2 http://127.0.0.1:8923/; then
    fail "port 8923 is free for this test (another program answers on it: stop it and rerun)"
    finish
fi
(cd "$W" && exec env "${CLEAN[@]}" "$TALLYSYNC_BIN" serve >"$W/serve.out" 2>"$W/serve.err") &
SERVE_PID=$!
bg_track "$SERVE_PID"
SERVE_LOG="$W/serve.err"
wait_for 30000 _serve_up_or_dead
line=$(grep -F '"msg":"listening"' "$SERVE_LOG" | head -n 1)
assert_jq "API_HOST and API_PORT unset: listening on 127.0.0.1:8923" "$line" \
    '.host == "127.0.0.1" and .address == "127.0.0.1" and .port == "8923"'
[[ -n "$line" ]] || { fail "serve starts" "$(cat "$SERVE_LOG")"; finish; }
BASE="http://127.0.0.1:8923"
http GET /health
assert_eq "... and answers there" 200 "$CODE"
assert_jq "DATABASE_URL unset: the database is ./data/pos.db of the working folder" \
    "$(grep -F '"msg":"database"' "$SERVE_LOG" | head -n 1)" ".path == \"$W/data/pos.db\""
check "... which exists" test -s "$W/data/pos.db"
http GET /
assert_contains "WEB_DIR unset: GET / answers ./web/dist/index.html of the working folder" \
    "$CODE $BODY" "200 <!doctype html><title>defaults-console</title>"
assert_eq "SCHEMA_DIR unset (no ./schema): the source tree's migrations are applied" \
    "$(find "$ENG_SOURCE_DIR/schema" -maxdepth 1 -name '*.sql' | wc -l)" \
    "$(sq_at "$W/data/pos.db" 'SELECT COUNT(*) FROM schema_migrations' 2>&1)"
assert_contains "SCRIPTS_DIR unset (no ./scripts): the source tree's scripts are published" \
    "$(grep -F '"msg":"script published"' "$SERVE_LOG")" "scripts/connectors/quickbooks.lua"
http GET /api/scripts
assert_jq "MAPPINGS_DIR unset (no ./mappings): the source tree's mappings are published" "$BODY" \
    '[.scripts[] | tostring | select(contains("mappings/woo_order_to_qbo_invoice"))] | length == 1'
assert_match "LOG_FORMAT unset (auto), stderr not a terminal: JSON lines" '^\{"time":"' \
    "$(head -n 1 "$SERVE_LOG")"
assert_ne "LOG_LEVEL unset (info): info lines are logged" "" \
    "$(grep -F '"level":"info"' "$SERVE_LOG" | head -n 1)"
http GET /metrics
assert_match "WORKERS unset: /metrics tallysync_workers 2" '^tallysync_workers 2$' "$BODY"
assert_match "WORKER_STUCK_MS unset: /metrics tallysync_worker_stuck_threshold_seconds 600" \
    '^tallysync_worker_stuck_threshold_seconds 600\.000$' "$BODY"
HTTP_AUTH=0 http GET /api/integrations
assert_eq "API_ANONYMOUS_TENANT unset: no token is 401" 401 "$CODE"
sign() { printf '%s' "$2" | python3 "$ENG_SOURCE_DIR/tests/mocks/webhook_client.py" sign "$1"; }
EVT='{"eventNotifications": [{"realmId": "9130357766000001", "dataChangeEvent": {"entities": []}}]}'
HTTP_AUTH=0 http POST /api/webhooks/quickbooks -H 'Content-Type: application/json' \
    -H "intuit-signature: $(sign any-verifier "$EVT")" --data-binary "$EVT"
assert_eq "QUICKBOOKS_WEBHOOK_SECRET unset: a QuickBooks notification is refused (401)" 401 "$CODE"
assert_ne "... logged as not verifiable" "" "$(grep -F '"msg":"webhook refused"' "$SERVE_LOG" |
    grep -F 'QUICKBOOKS_WEBHOOK_SECRET is not set')"
ORDER='{"id": 7, "status": "processing"}'
HTTP_AUTH=0 http POST /api/webhooks/woocommerce -H 'Content-Type: application/json' \
    -H 'X-WC-Webhook-Source: https://shop.example.com/' -H 'X-WC-Webhook-Topic: order.updated' \
    -H 'X-WC-Webhook-Delivery-ID: 1' -H "X-WC-Webhook-Signature: $(sign any-secret "$ORDER")" \
    --data-binary "$ORDER"
assert_eq "WOOCOMMERCE_WEBHOOK_SECRET unset, no tenant's secret: a signed order is refused (401)" \
    401 "$CODE"

echo "== MAX_BODY_BYTES unset: 1 MiB"
body() { # N: a JSON body of exactly N bytes ({} and spaces)
    { printf '{'; head -c $(($1 - 2)) /dev/zero | tr '\0' ' '; printf '}'; } >"$T/body.json"
}
body 1048576
http POST /api/mappings/woo_order_to_qbo_invoice/dry-run -H 'Content-Type: application/json' \
    --data-binary @"$T/body.json"
assert_ne "a body of 1048576 bytes is read (not 413)" 413 "$CODE"
assert_match "... and answered" '^[245][0-9][0-9]$' "$CODE"
body 1048577
http POST /api/mappings/woo_order_to_qbo_invoice/dry-run -H 'Content-Type: application/json' \
    --data-binary @"$T/body.json"
assert_eq "a body of 1048577 bytes: 413" 413 "$CODE"

echo "== OAuth connect with QUICKBOOKS_AUTH_URL and OAUTH_REDIRECT_URI unset"
http POST /api/integrations/quickbooks/credentials -H 'Content-Type: application/json' \
    --data-binary '{"client_id": "dflt-client-id", "client_secret": "dflt-client-secret",
                    "realm_id": "9130357766000001"}'
assert_eq "QuickBooks client credentials stored (sandbox by default)" 201 "$CODE"
http POST /api/integrations/quickbooks/credentials -H 'Content-Type: application/json' \
    -H 'X-Tenant-ID: prod' --data-binary '{"client_id": "dflt-client-id",
    "client_secret": "dflt-client-secret", "realm_id": "9130357766000002",
    "environment": "production"}'
assert_eq "... and a production tenant's" 201 "$CODE"
http GET /api/integrations/quickbooks/connect
assert_eq "connect: 200" 200 "$CODE"
Q=$(python3 -c 'import json,sys,urllib.parse as u
s=u.urlsplit(sys.argv[1]); q=u.parse_qs(s.query)
print(json.dumps({"base": s.scheme+"://"+s.netloc+s.path, **{k: v[0] for k, v in q.items()}}))' \
    "$(jq -r .authorizationUrl <<<"$BODY")")
assert_jq "the consent page is Intuit's appcenter.intuit.com" "$Q" \
    '.base == "https://appcenter.intuit.com/connect/oauth2" and .client_id == "dflt-client-id"'
assert_jq "... redirecting to http://localhost:8923/api/integrations/quickbooks/callback" "$Q" \
    '.redirect_uri == "http://localhost:8923/api/integrations/quickbooks/callback"'
serve_stop
assert_eq "serve #1 stops cleanly (exit 0: no sanitizer report)" 0 "$STOP_RC"

echo "== the connector context with QUICKBOOKS_API_BASE, _TOKEN_URL, CONNECTOR_TIMEOUT_MS unset"
cat >"$W/ctx.lua" <<'LUA'
local json = require "engine.json"
local ctx = ...
print(json.encode({ environment = ctx.credentials.environment, config = ctx.config }))
LUA
while read -r tenant envname base; do
    out=$(ts timeout -k 5 60 "$TALLYSYNC_BIN" run --ctx quickbooks --tenant "$tenant" "$W/ctx.lua" 2>&1)
    assert_jq "a $envname credential: ctx.config.quickbooks_api_base is $base" "$out" \
        ".environment == \"$envname\" and .config.quickbooks_api_base == \"$base\""
done <<'EOF2'
default sandbox https://sandbox-quickbooks.api.intuit.com
prod production https://quickbooks.api.intuit.com
EOF2
assert_jq "... the token URL is Intuit's, the connector timeout 30000 ms" "$out" \
    '.config.quickbooks_token_url == "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
     and .config.connector_timeout_ms == 30000'

echo "== scripts and logs with SCRIPT_MEMORY_MB, SCRIPT_MAX_INSTRUCTIONS, SCRIPT_TIMEOUT_MS, LOG_LEVEL and LOG_FORMAT unset"
cat >"$W/mem.lua" <<'LUA'
local mb = tonumber(...)
local t, chunk = {}, string.rep("x", 1048576)
for i = 1, mb do t[i] = chunk .. i end
print("held " .. #t .. " MiB")
LUA
out=$(ts timeout -k 5 60 "$TALLYSYNC_BIN" run "$W/mem.lua" 48 2>&1)
assert_eq "a script holds 48 MiB" "held 48 MiB" "$out"
out=$(ts timeout -k 5 60 "$TALLYSYNC_BIN" run "$W/mem.lua" 72 2>&1)
assert_contains "... not 72 MiB: the 64 MiB cap" "$out" "exceeded its memory limit of 64 MiB"
printf 'local n = 0\nwhile true do n = n + 1 end\n' >"$W/spin.lua"
# instructions are not counted unless SCRIPT_MAX_INSTRUCTIONS says how many (the time budget out
# of the way: the default of 200,000,000 before issue 14 stopped this loop)
printf 'local n = 0\nfor i = 1, 120000000 do n = n + 1 end\nprint("counted to " .. n)\n' >"$W/long.lua"
out=$(ts SCRIPT_TIMEOUT_MS=3600000 timeout -k 5 300 "$TALLYSYNC_BIN" run "$W/long.lua" 2>&1)
assert_eq "SCRIPT_MAX_INSTRUCTIONS unset: a loop of 240,000,000 instructions completes" \
    "counted to 120000000" "$out"
out=$(ts SCRIPT_MAX_INSTRUCTIONS=1000000 timeout -k 5 60 "$TALLYSYNC_BIN" run "$W/spin.lua" 2>&1)
assert_contains "... and counted when set: an endless loop stops at 1000000 instructions" \
    "$out" "script exceeded its budget of 1000000 instructions"
out=$(ts timeout -k 5 60 "$TALLYSYNC_BIN" run "$W/spin.lua" 2>&1)
assert_contains "SCRIPT_TIMEOUT_MS unset: an endless loop stops at its 2000 ms budget" \
    "$out" "script exceeded its time budget of 2000 ms"
cat >"$W/log.lua" <<'LUA'
local log = require "engine.log"
log.debug("a debug line")
log.info("an info line", { k = "v" })
LUA
err=$(ts timeout -k 5 60 "$TALLYSYNC_BIN" run "$W/log.lua" 2>&1 >/dev/null)
assert_jq "on a pipe: a JSON line at info" "$err" '.level == "info" and .msg == "an info line"'
assert_not_contains "... and no debug line" "$err" "a debug line"
tty=$(cd "$W" && script -qec "env ${CLEAN[*]} $TALLYSYNC_BIN run $W/log.lua" /dev/null | tr -d '\r')
assert_match "on a terminal: text for people" '^[0-9T:.Z-]+ INFO +an info line k=v$' "$tty"

echo "== API_TOKEN unset; WEBHOOK_CHECK_INTERVAL_S unset: an hour; WEBHOOK_REPLAY_WINDOW_SECONDS unset: 24 h"
VERIFIER="dflt-verifier-$RANDOM$RANDOM"
DB="$W/data/pos.db"
sq() { sq_at "$DB" "$@"; } # this part's store: the default ./data/pos.db of $W
# Two stores last checked 58 min 20 s and 61 min 40 s ago: an hour's interval (the timer looks
# every minute, so a check is due past 59 min) checks the second at the timer's first look (5 s
# after start) and not the first. Their unreachable store (port 9) makes each check a quick,
# recorded failure.
for c in wh-fresh:3500 wh-due:3700; do
    sq "INSERT INTO settings (tenant_id, key, value) VALUES ('${c%:*}', 'woocommerce_webhooks',
        json_object('checkedAt', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-${c#*:} seconds')))"
done
CHECKED0=$(sq "SELECT group_concat(tenant_id || '=' || json_extract(value, '\$.checkedAt'), ' ')
    FROM settings WHERE key = 'woocommerce_webhooks' ORDER BY tenant_id")
(cd "$W" && exec env "${CLEAN[@]}" -u API_TOKEN API_PORT=0 SYNC_DISPATCHER=off QUICKBOOKS_WEBHOOK_SECRET="$VERIFIER" \
    "$TALLYSYNC_BIN" serve >"$W/serve2.out" 2>"$W/serve2.err") &
SERVE_PID=$!
bg_track "$SERVE_PID"
SERVE_LOG="$W/serve2.err"
wait_for 30000 _serve_up_or_dead
SERVE_PORT=$(serve_listening_port "$SERVE_LOG")
[[ -n "$SERVE_PORT" ]] || { fail "serve #2 starts" "$(cat "$SERVE_LOG")"; finish; }
BASE="http://127.0.0.1:$SERVE_PORT" # read by common.sh's http
assert_ne "API_TOKEN unset: the start-up log says only tenant tokens can use the API" "" \
    "$(grep -F 'API_TOKEN is not set: only tenant tokens' "$SERVE_LOG")"
http GET /api/integrations
assert_eq "... and no administrator token is accepted (401)" 401 "$CODE"
for tenant in wh-fresh wh-due; do # the fresh one first: stored before the due one is seen
    tok=$(ts timeout -k 5 60 "$TALLYSYNC_BIN" token create --tenant "$tenant" 2>/dev/null | head -n 1)
    HTTP_AUTH=0 http POST /api/integrations/woocommerce/credentials -H "Authorization: Bearer $tok" \
        -H 'Content-Type: application/json' --data-binary '{"store_url": "http://127.0.0.1:9",
        "consumer_key": "ck_dfltdflt", "consumer_secret": "cs_dfltdflt"}'
    assert_eq "... a tenant token stores $tenant's WooCommerce credentials" 201 "$CODE"
done
checked_at() { sq "SELECT json_extract(value, '\$.checkedAt') FROM settings WHERE tenant_id = '$1'
    AND key = 'woocommerce_webhooks'"; }
# shellcheck disable=SC2317  # called through wait_for
due_checked() { [[ " $CHECKED0 " != *" wh-due=$(checked_at wh-due) "* ]]; }
if wait_for 40000 due_checked; then
    pass "the store last checked 61 min 40 s ago is checked at the timer's first look"
else
    fail "the store last checked 61 min 40 s ago is checked within 40 s" "$CHECKED0" "$(checked_at wh-due)"
fi
assert_contains "... the one checked 58 min 20 s ago is not" "$CHECKED0" "wh-fresh=$(checked_at wh-fresh)"
ago() { date -u -d "@$(($(date +%s) - $1))" +%Y-%m-%dT%H:%M:%S.000Z; }
ce() { # ID ENTITY_ID AGE_S
    jq -nc --arg id "$1" --arg eid "$2" --arg t "$(ago "$3")" '[{specversion: "1.0", id: $id,
        source: "intuit.test", type: "qbo.invoice.updated.v1", datacontenttype: "application/json",
        time: $t, intuitentityid: $eid, intuitaccountid: "9130357766000001", data: {}}]'
}
# the default tenant's typed realm routes only once proven (realm_ownership.sh); seeded here
sq "INSERT INTO realm_owners (platform, realm_id, tenant_id, verified_by)
    VALUES ('quickbooks', '9130357766000001', 'default', 'connection_test')"
for c in young:23 old:25; do
    id=${c%:*} age=$((${c#*:} * 3600))
    b=$(ce "ev-$id" "$RANDOM" "$age")
    sig=$(printf '%s' "$b" | python3 "$ENG_SOURCE_DIR/tests/mocks/webhook_client.py" sign "$VERIFIER")
    HTTP_AUTH=0 http POST /api/webhooks/quickbooks/cloudevents \
        -H 'Content-Type: application/cloudevents+json' -H "intuit-signature: $sig" --data-binary "$b"
    assert_eq "a ${c#*:}-hour-old QuickBooks event: 200" 200 "$CODE"
    R[${c#*:}]=$BODY
done
assert_jq "... 23 hours old: queued" "${R[23]}" '.stored == 1 and .jobs == 1 and .stale == 0'
assert_jq "... 25 hours old: kept as stale, no job" "${R[25]}" '.stored == 1 and .stale == 1 and .jobs == 0'
assert_eq "... as their statuses say" "ev-old|rejected
ev-young|queued" "$(sq \
    "SELECT event_id, status FROM webhook_events WHERE event_id LIKE 'ev-%' ORDER BY event_id")"
serve_stop
assert_eq "serve #2 stops cleanly" 0 "$STOP_RC"

finish
