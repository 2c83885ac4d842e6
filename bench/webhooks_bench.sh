#!/usr/bin/env bash
# bench/webhooks_bench.sh - durable webhook ingest on loopback against the same machine's nginx
# answering 200 (the yardstick), alternated run by run in the same minutes. Not part of the test
# suite (timing lives here); the suite runs its correctness check (--quick, no yardstick).
#
#   bench/webhooks_bench.sh [--quick] [SECONDS] [CONNECTIONS]   (defaults 10 s, 32 connections)
#
# Five runs (WH_RUNS) of: the engine with WEBHOOK_SYNC=full (default; WH_MODES="full normal"
# adds normal) in each of two shapes (WH_NODES), then nginx; each figure is the median of its
# runs, the ratio the median of the runs' engine/nginx ratios. --quick: one run of 2 s over 4,000
# deliveries, a smoke check. The shapes:
#   ingest   an ingest node, SYNC_DISPATCHER=off: deliveries stored and their record jobs queued,
#            run by other engines on the same database or after the burst (the goal's shape)
#   workers  the default configuration: this engine's dispatcher and workers take the jobs while
#            the bench runs. Every job here fails at once (no credentials are stored), so the
#            workers never wait for a vendor as real ones do: they spend both cores' spare time
#            on the queue, the worst case for ingest on this machine.
# Writes bench/results/ingest.json (or WH_RESULTS, or BENCH_RESULTS_DIR/ingest.json when that
# is set, as bench/run.sh --quick and ctest do; the shape of every bench/results/*.json: bench,
# machine, date, commit, figures[] with value, unit, goal, met, runs, spread, detail) and prints
# it; exits 1 if any run's correctness check failed.
#
# Needs wrk and nginx (Debian: `tools/setup.sh --bench`), python3, jq, and a built tallysync
# (TALLYSYNC_BIN, default build/tallysync, else build-dev/tallysync) with the tests' store_sql
# beside it (STORE_SQL_BIN: the stored rows are read through the engine's store API).
# Sends N pre-signed deliveries (bench/webhooks_gen.py: 3/4 WooCommerce orders, 1/4 QuickBooks
# CloudEvents, every 10th forged) with wrk (bench/webhooks.lua), one connection per wrk thread so
# that every answer is known by delivery id, then checks, at once and while the engine still
# runs (a 200 is sent only after the commit, so its row must be visible): every delivery
# answered 200 is in webhook_events exactly once, no forged one is, every answer was 200 or 401
# (no 5xx, no socket error); then stops the engine with SIGTERM (exit 0) and checks again. The
# engine runs as configured by default: the dispatcher and its workers take the record jobs the
# deliveries queue while the bench runs. wrk, nginx and the engine share the machine's cores.
# The check before issue 12 (finding 10) counted "sent" from wrk's request() calls: wrk calls it
# once on thread 0 before any send, so the first delivery of thread 0 was reported missing
# whenever that thread did not wrap around its slice (a slow run); see bench/webhooks.lua.
set -euo pipefail
export LC_ALL=C # sort, comm and join agree on one byte order
ROOT=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0
[[ ${1:-} == --quick ]] && QUICK=1 && shift
SECS=${1:-$([[ $QUICK == 1 ]] && echo 2 || echo 10)}
CONNS=${2:-32}
THREADS=$CONNS # one connection per thread: a thread's answers come in the order of its sends
N=${WH_N:-$([[ $QUICK == 1 ]] && echo 4000 || echo 20000)}
RUNS=${WH_RUNS:-$([[ $QUICK == 1 ]] && echo 1 || echo 5)}
MODES=${WH_MODES:-full}
NODES=${WH_NODES:-$([[ $QUICK == 1 ]] && echo workers || echo "ingest workers")}
BIN=${TALLYSYNC_BIN:-}
RESULTS_FILE=${WH_RESULTS:-${BENCH_RESULTS_DIR:-$ROOT/bench/results}/ingest.json}
[[ -n "$BIN" ]] || for b in "$ROOT/build/tallysync" "$ROOT/build-dev/tallysync"; do
    [[ -x "$b" ]] && BIN=$b && break
done
YARDSTICK=${WH_YARDSTICK:-1} # 0: no nginx run (the suite runs the check alone)
TOOLS="wrk python3 jq curl"
[[ $YARDSTICK == 0 ]] || TOOLS+=" nginx"
for t in $TOOLS; do
    command -v "$t" >/dev/null || { echo "bench: $t is missing (tools/setup.sh --bench)" >&2; exit 2; }
done
[[ -x "$BIN" ]] || { echo "bench: no tallysync binary (set TALLYSYNC_BIN)" >&2; exit 2; }
STORE_SQL_BIN=${STORE_SQL_BIN:-$(dirname "$BIN")/store_sql}
[[ -x "$STORE_SQL_BIN" ]] || { echo "bench: no store_sql beside $BIN (set STORE_SQL_BIN)" >&2; exit 2; }
# shellcheck source=tests/integration/lib/store.sh
source "$ROOT/tests/integration/lib/store.sh" # sq_at

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
OK=true
: >"$T/runs.jsonl" # one line per run: {kind, mode, run, rps, p50_ms, p99_ms, ..., check}

# ---- one run of the engine: MODE (full|normal) TAG RUN NODE (ingest|workers) ----
run_engine() {
    local mode=$1 tag=$2 run=$3 node=$4 port
    python3 "$ROOT/bench/webhooks_gen.py" "$T/reqs.tsv" "$N" "$WOO" "$QBO" 10 "$tag"
    rm -f "$T/pos.db" "$T/pos.db-wal" "$T/pos.db-shm" "$T/answers.tsv"
    port=$(free_port)
    (cd "$T" && exec env DATABASE_URL="sqlite:$T/pos.db" API_PORT="$port" API_TOKEN="bench-admin-token-0123456789" \
        INTEGRATION_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)" WEBHOOK_SYNC="$mode" \
        SYNC_DISPATCHER="$([[ $node == ingest ]] && echo off || echo on)" \
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
    metrics=$(curl -s "http://127.0.0.1:$port/metrics" | grep -E '^tallysync_webhook_(commits|commit_items|overloaded)' || true)

    # correctness of what was answered, known per delivery: read at once, the engine running
    awk -F'\t' '{ print $2 "\t" $3 }' "$T/reqs.tsv" | sort -u >"$T/forged.map" # id forged
    sort -u "$T/answers.tsv" | sort -t$'\t' -k1,1 >"$T/answers.sorted"
    join -t$'\t' "$T/answers.sorted" "$T/forged.map" >"$T/answered.tsv" # id status forged
    awk -F'\t' '$2 == 200 && $3 == 0 { print $1 }' "$T/answered.tsv" | sort -u >"$T/valid.ids"
    awk -F'\t' '$3 == 1 { print $1 }' "$T/reqs.tsv" | sort -u >"$T/forged.ids"
    stored() { sq_at "sqlite:$T/pos.db" "SELECT event_id FROM webhook_events WHERE event_id LIKE '$tag-%'" | sort; }
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
    jq -c --argjson run "$run" --arg mode "$mode" --arg node "$node" \
        --argjson checked "$(wc -l <"$T/valid.ids")" --argjson missing "$missing" \
        --argjson missing_after "$missing_after" --argjson forged_ok "$forged_ok" \
        --argjson valid_refused "$valid_refused" --argjson stop_rc "$stop_rc" \
        --argjson forged_stored "$forged_stored" --argjson dups "$dups" --argjson ok "$ok" \
        --arg metrics "$metrics" \
        '{kind: "engine", mode: $mode, node: $node, run: $run, rps: .rps, p50_ms: (.p50_us / 1000),
          p99_ms: (.p99_us / 1000), max_ms: (.max_us / 1000), statuses: .statuses, errors: .errors,
          check: {ok: $ok, valid_checked: $checked, valid_missing: $missing,
                  valid_missing_after_stop: $missing_after, valid_refused: $valid_refused,
                  forged_stored: $forged_stored, forged_not_refused: $forged_ok,
                  duplicate_rows: $dups, stop_exit: $stop_rc}, engine_metrics: $metrics}' \
        <<<"$engine" >>"$T/runs.jsonl"
}

# ---- one run of nginx returning 200, same client, same requests: RUN ----
run_nginx() {
    local run=$1 nport npid
    nport=$(free_port)
    rm -rf "$T/nginx"
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
        listen 127.0.0.1:$nport;
        location / { return 200 '{"ok":true}'; }
    }
}
NGX
    nginx -c "$T/nginx/nginx.conf" -p "$T/nginx" &
    npid=$!
    PIDS+=("$npid")
    for _ in $(seq 100); do curl -sf -XPOST "http://127.0.0.1:$nport/" >/dev/null && break; sleep 0.1; done
    WH_FILE="$T/reqs.tsv" WH_THREADS=$THREADS wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --timeout 10s \
        -s "$ROOT/bench/webhooks.lua" "http://127.0.0.1:$nport" >"$T/nginx.out"
    kill -TERM "$npid" 2>/dev/null || true
    wait "$npid" 2>/dev/null || true
    grep '^{"requests"' "$T/nginx.out" | jq -c --argjson run "$run" \
        '{kind: "nginx", run: $run, rps: .rps, p50_ms: (.p50_us / 1000), p99_ms: (.p99_us / 1000),
          max_ms: (.max_us / 1000), statuses: .statuses, errors: .errors}' >>"$T/runs.jsonl"
}

DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MODEL=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n 1)
MACHINE="$(nproc) cpu, ${MODEL:-unknown cpu}, $(uname -r)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
COMMIT=$(bench_commit) # -dirty: the code differs, not the result files a bench run writes
# engine and nginx alternate, run by run, so that each ratio compares the same minute's load
for run in $(seq "$RUNS"); do
    for mode in $MODES; do
        for node in $NODES; do
            run_engine "$mode" "$TAG-$mode-$node-$run" "$run" "$node"
        done
    done
    [[ $YARDSTICK == 0 ]] || run_nginx "$run"
done

# ---- results: medians of the runs ----
mkdir -p "$(dirname "$RESULTS_FILE")"
jq -s --arg date "$DATE" --arg machine "$MACHINE" --arg commit "$COMMIT" \
    --argjson conns "$CONNS" --argjson secs "$SECS" --argjson n "$N" '
  def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
              else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r1: . * 10 | round / 10;
  def r3: . * 1000 | round / 1000;
  def spread: if length == 0 then null else "\(min)-\(max)" end;
  . as $all
  | [$all[] | select(.kind == "nginx")] as $ng
  | ($ng | map(.rps)) as $ngrps
  | ([$all[] | select(.kind == "engine") | {mode, node}] | unique) as $shapes
  | def shape($k): if $k.node == "ingest" then ", an ingest node (SYNC_DISPATCHER=off)"
                   else ", with this engine'"'"'s workers on the queue" end;
  {bench: "ingest", machine: $machine, date: $date, commit: $commit,
     figures: ([$shapes[] as $k | $k.mode as $m | shape($k) as $sh
       | ($m == "full" and $k.node == "ingest") as $goal
       | [$all[] | select(.kind == "engine" and .mode == $m and .node == $k.node)] as $er
       | ($er | map(.rps)) as $rps
       | ($er | map(.p99_ms)) as $p99
       | [$er[] as $e | $ng[] | select(.run == $e.run) | $e.rps / .rps * 100 | r1] as $ratios
       | {figure: "durable ingest, WEBHOOK_SYNC=\($m)\($sh)", value: ($rps | median | r1), unit: "req/s",
          goal: null, met: null, runs: $rps, spread: ($rps | spread),
          detail: {connections: $conns, seconds: $secs, deliveries: $n,
                   p50_ms: ($er | map(.p50_ms) | median), max_ms: ($er | map(.max_ms) | max),
                   statuses: ($er | map(.statuses)), engine_metrics: ($er | map(.engine_metrics)),
                   checks: ($er | map(.check))}},
         (if ($ratios | length) > 0 then
           {figure: "durable ingest vs nginx answering 200, WEBHOOK_SYNC=\($m)\($sh)",
            value: ($ratios | median), unit: "%", goal: (if $goal then ">= 30 %" else null end),
            met: (if $goal then (($ratios | median) >= 30) else null end), runs: $ratios,
            spread: ($ratios | spread),
            detail: {ratio_of_medians: ((($rps | median) / ($ngrps | median) * 100) | r1),
                     note: "each run: the engine, then nginx, in the same minute"}}
          else empty end),
         {figure: "p99 latency, durable ingest, WEBHOOK_SYNC=\($m)\($sh)", value: ($p99 | median | r3),
          unit: "ms", goal: (if $m == "full" then "<= 50 ms" else null end),
          met: (if $m == "full" then (($p99 | median) <= 50) else null end),
          runs: $p99, spread: ($p99 | spread), detail: {}}]
       + (if ($ng | length) > 0 then
           [{figure: "nginx answering 200 (yardstick)", value: ($ngrps | median | r1),
             unit: "req/s", goal: null, met: null, runs: $ngrps, spread: ($ngrps | spread),
             detail: {p99_ms: ($ng | map(.p99_ms) | median), config: "worker_processes 2, return 200"}}]
          else [] end))}' "$T/runs.jsonl" >"$RESULTS_FILE.tmp"
mv "$RESULTS_FILE.tmp" "$RESULTS_FILE"
cat "$RESULTS_FILE"
[[ $OK == true ]] || { echo "bench: correctness check FAILED" >&2; exit 1; }
