#!/usr/bin/env bash
# bench/webhooks_bench.sh - load test of the webhook receivers on loopback, with the same
# machine's nginx answering 200 as the yardstick. Not part of the test suite (timing lives here).
#
#   bench/webhooks_bench.sh [SECONDS] [CONNECTIONS]     (defaults 10 s, 32 connections)
#
# Needs wrk and nginx (Debian: `tools/setup.sh --bench`), python3, sqlite3, jq, and a built
# tallysync (TALLYSYNC_BIN, default build/tallysync, else build-dev/tallysync).
# Sends N pre-signed deliveries (bench/webhooks_gen.py: 3/4 WooCommerce orders, 1/4 QuickBooks
# CloudEvents, every 10th forged) with wrk (bench/webhooks.lua), one connection per wrk thread so
# that every answer is known by delivery id, then checks, at once and while the engine still
# runs (a 200 is sent only after the commit, so its row must be visible): every delivery
# answered 200 is in webhook_events exactly once, no forged one is, every answer was 200 or 401
# (no 5xx, no socket error); then stops the engine with SIGTERM (exit 0) and checks again. The
# engine runs twice, with WEBHOOK_SYNC=full (default) and normal. Writes the figures to
# bench/results/webhooks.json (WH_RESULTS; one line per target: requests/s, p50/p99/max latency,
# statuses, the check, group-commit counters) and prints them. wrk, nginx and the engine share
# the machine's cores.
# The check before issue 12 (finding 10) counted "sent" from wrk's request() calls: wrk calls it
# once on thread 0 before any send, so the first delivery of thread 0 was reported missing
# whenever that thread did not wrap around its slice (a slow run); see bench/webhooks.lua.
set -euo pipefail
export LC_ALL=C # sort, comm and join agree on one byte order
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-10}
CONNS=${2:-32}
THREADS=$CONNS # one connection per thread: a thread's answers come in the order of its sends
N=${WH_N:-20000}
BIN=${TALLYSYNC_BIN:-}
RESULTS_FILE=${WH_RESULTS:-$ROOT/bench/results/webhooks.json}
[[ -n "$BIN" ]] || for b in "$ROOT/build/tallysync" "$ROOT/build-dev/tallysync"; do
    [[ -x "$b" ]] && BIN=$b && break
done
YARDSTICK=${WH_YARDSTICK:-1} # 0: no nginx run (the suite runs the check alone)
TOOLS="wrk python3 sqlite3 jq"
[[ $YARDSTICK == 0 ]] || TOOLS+=" nginx"
for t in $TOOLS; do
    command -v "$t" >/dev/null || { echo "bench: $t is missing (tools/setup.sh --bench)" >&2; exit 2; }
done
[[ -x "$BIN" ]] || { echo "bench: no tallysync binary (set TALLYSYNC_BIN)" >&2; exit 2; }

T=$(mktemp -d "${TMPDIR:-/tmp}/tallysync-bench.XXXXXX")
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

WOO="bench-woo-$RANDOM$RANDOM"
QBO="bench-qbo-$RANDOM$RANDOM"
TAG="b$(date +%s)"
# ---- the engine, once per durability mode ----
RESULTS=()
OK=true
run_engine() { # MODE (full|normal) TAG
    local mode=$1 tag=$2 port
    python3 "$ROOT/bench/webhooks_gen.py" "$T/reqs.tsv" "$N" "$WOO" "$QBO" 10 "$tag"
    rm -f "$T/pos.db" "$T/pos.db-wal" "$T/pos.db-shm"
    port=$(free_port)
    (cd "$T" && exec env DATABASE_URL="sqlite:$T/pos.db" API_PORT="$port" API_TOKEN="bench-admin-token-0123456789" \
        INTEGRATION_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" WEBHOOK_SYNC="$mode" \
        WOOCOMMERCE_WEBHOOK_SECRET="$WOO" QUICKBOOKS_WEBHOOK_SECRET="$QBO" LOG_LEVEL=warn \
        SCRIPTS_DIR="$ROOT/scripts" MAPPINGS_DIR="$ROOT/mappings" SCHEMA_DIR="$ROOT/schema" \
        "$BIN" serve 2>"$T/serve.err") &
    local pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
    WH_FILE="$T/reqs.tsv" WH_THREADS=$THREADS WH_ANSWERS="$T/answers.tsv" wrk -t"$THREADS" \
        -c"$CONNS" -d"${SECS}s" --timeout 10s -s "$ROOT/bench/webhooks.lua" \
        "http://127.0.0.1:$port" >"$T/engine.out"
    local engine metrics
    engine=$(grep '^{"requests"' "$T/engine.out")
    metrics=$(curl -s "http://127.0.0.1:$port/metrics" | grep -E '^tallysync_webhook_(commits|commit_items|overloaded)')

    # correctness of what was answered, known per delivery: read at once, the engine running
    awk -F'\t' '{ print $2 "\t" $3 }' "$T/reqs.tsv" | sort -u >"$T/forged.map" # id forged
    sort -u "$T/answers.tsv" | sort -t$'\t' -k1,1 >"$T/answers.sorted"
    join -t$'\t' "$T/answers.sorted" "$T/forged.map" >"$T/answered.tsv" # id status forged
    awk -F'\t' '$2 == 200 && $3 == 0 { print $1 }' "$T/answered.tsv" | sort -u >"$T/valid.ids"
    awk -F'\t' '$3 == 1 { print $1 }' "$T/reqs.tsv" | sort -u >"$T/forged.ids"
    stored() { sqlite3 -cmd '.timeout 10000' "$T/pos.db" "SELECT event_id FROM webhook_events WHERE event_id LIKE '$tag-%'" | sort; }
    stored >"$T/stored.ids"
    local missing missing_after forged_stored forged_ok valid_refused dups bad sockerr ok stop_rc
    missing=$(comm -23 "$T/valid.ids" "$T/stored.ids" | wc -l)
    comm -23 "$T/valid.ids" "$T/stored.ids" | head -n 5 | sed 's/^/bench: answered 200, not stored: /' >&2
    forged_stored=$(comm -12 "$T/forged.ids" <(sort -u "$T/stored.ids") | wc -l)
    forged_ok=$(awk -F'\t' '$3 == 1 && $2 != 401' "$T/answered.tsv" | wc -l)
    valid_refused=$(awk -F'\t' '$3 == 0 && $2 != 200' "$T/answered.tsv" | wc -l)
    dups=$(($(wc -l <"$T/stored.ids") - $(sort -u "$T/stored.ids" | wc -l)))
    bad=$(jq '[.statuses | to_entries[] | select(.key != "200" and .key != "401") | .value] | add // 0' <<<"$engine")
    sockerr=$(jq '.errors | .connect + .read + .write + .timeout' <<<"$engine")
    # then a clean stop (the writer commits what is queued) and the same check on the file
    kill -TERM "$pid"
    stop_rc=0
    wait "$pid" 2>/dev/null || stop_rc=$?
    missing_after=$(comm -23 "$T/valid.ids" <(stored) | wc -l)
    ok=$([[ $missing == 0 && $missing_after == 0 && $forged_stored == 0 && $forged_ok == 0 &&
        $valid_refused == 0 && $dups == 0 && $bad == 0 && $sockerr == 0 && $stop_rc == 0 ]] &&
        echo true || echo false)
    [[ $ok == true ]] || OK=false
    RESULTS+=("$(jq -c --arg when "$WHEN" --arg host "$HOST" --argjson conns "$CONNS" --argjson secs "$SECS" \
        --argjson checked "$(wc -l <"$T/valid.ids")" --argjson missing "$missing" \
        --argjson missing_after "$missing_after" --argjson forged_ok "$forged_ok" \
        --argjson valid_refused "$valid_refused" --argjson stop_rc "$stop_rc" \
        --argjson forged_stored "$forged_stored" --argjson dups "$dups" --argjson ok "$ok" \
        --arg metrics "$metrics" --arg mode "$mode" \
        '{target: ("tallysync webhooks, WEBHOOK_SYNC=" + $mode), when: $when, host: $host,
          connections: $conns, seconds: $secs, rps: .rps, p50_ms: (.p50_us / 1000), p99_ms: (.p99_us / 1000),
          max_ms: (.max_us / 1000), statuses: .statuses, errors: .errors,
          check: {ok: $ok, valid_checked: $checked, valid_missing: $missing,
                  valid_missing_after_stop: $missing_after, valid_refused: $valid_refused,
                  forged_stored: $forged_stored, forged_not_refused: $forged_ok,
                  duplicate_rows: $dups, stop_exit: $stop_rc}, engine_metrics: $metrics}' <<<"$engine")")
}
WHEN=$(date -u +%Y-%m-%dT%H:%M:%SZ)
HOST="$(nproc) cpu, $(uname -r)"
run_engine full "$TAG-full"
run_engine normal "$TAG-normal"

# ---- nginx returning 200, same client, same requests ----
NGINX=""
if [[ $YARDSTICK != 0 ]]; then
    NPORT=$(free_port)
    mkdir -p "$T/nginx"
    cat >"$T/nginx/nginx.conf" <<NGX
daemon off;
worker_processes 2;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $T/nginx/body;
    proxy_temp_path $T/nginx/proxy;
    fastcgi_temp_path $T/nginx/fastcgi;
    uwsgi_temp_path $T/nginx/uwsgi;
    scgi_temp_path $T/nginx/scgi;
    server {
        listen 127.0.0.1:$NPORT;
        location / { return 200 '{"ok":true}'; }
    }
}
NGX
    nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" &
    PIDS+=($!)
    for _ in $(seq 100); do curl -sf -XPOST "http://127.0.0.1:$NPORT/" >/dev/null && break; sleep 0.1; done
    WH_FILE="$T/reqs.tsv" WH_THREADS=$THREADS wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --timeout 10s \
        -s "$ROOT/bench/webhooks.lua" "http://127.0.0.1:$NPORT" >"$T/nginx.out"
    NGINX=$(grep '^{"requests"' "$T/nginx.out")
fi

# ---- results ----
mkdir -p "$(dirname "$RESULTS_FILE")"
{
    printf '%s\n' "${RESULTS[@]}"
    [[ -z $NGINX ]] || jq -c --arg when "$WHEN" --arg host "$HOST" --argjson conns "$CONNS" --argjson secs "$SECS" \
        '{target: "nginx return 200 (yardstick)", when: $when, host: $host, connections: $conns,
          seconds: $secs, rps: .rps, p50_ms: (.p50_us / 1000), p99_ms: (.p99_us / 1000),
          max_ms: (.max_us / 1000), statuses: .statuses, errors: .errors}' <<<"$NGINX"
} >"$RESULTS_FILE"
cat "$RESULTS_FILE"
[[ $OK == true ]] || { echo "bench: correctness check FAILED" >&2; exit 1; }
