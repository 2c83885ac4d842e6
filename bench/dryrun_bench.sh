#!/usr/bin/env bash
# bench/dryrun_bench.sh - the cost of a dry run of many orders (one worker task per record: the
# per-task environment and the put-back of shared state after each task are on this path). Not
# part of the test suite (timing lives here).
#
#   bench/dryrun_bench.sh [COUNT] [LABEL]     (defaults 20000 orders, label "tallysync")
#
# Needs python3 and a built tallysync (TALLYSYNC_BIN, default build/tallysync); SCRIPTS_DIR and
# MAPPINGS_DIR default to this tree's (set them with TALLYSYNC_BIN to measure another checkout).
# Generates COUNT orders (tests/tools/gen_order_corpus.py, fixed seed), runs
# `tallysync dry-run --mapping woo_order_to_qbo_invoice` over them, and appends one line to
# bench/results/dryrun.json: seconds of CPU (user, sys) and wall clock, peak RSS, the output's
# sha256 (two builds that map alike give the same one). CPU seconds are the figure to compare on a
# shared machine; wall clock moves with everyone else's load.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
COUNT=${1:-20000}
LABEL=${2:-tallysync}
BIN=${TALLYSYNC_BIN:-$ROOT/build/tallysync}
[[ -x "$BIN" ]] || { echo "bench: no tallysync binary (set TALLYSYNC_BIN)" >&2; exit 2; }
export SCRIPTS_DIR=${SCRIPTS_DIR:-$ROOT/scripts} MAPPINGS_DIR=${MAPPINGS_DIR:-$ROOT/mappings}
export SCHEMA_DIR=${SCHEMA_DIR:-$ROOT/schema}
W=$(mktemp -d "${TMPDIR:-/tmp}/dryrun-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
export DATABASE_URL="sqlite:$W/bench.db"

python3 "$ROOT/tests/tools/gen_order_corpus.py" --count "$COUNT" --out "$W/orders.json" \
    --config "$W/config.json"
/usr/bin/time -f '%U %S %e %M' -o "$W/time" "$BIN" dry-run --mapping woo_order_to_qbo_invoice \
    --input "$W/orders.json" --config "$W/config.json" >"$W/out" 2>"$W/err"
read -r user sys real rss <"$W/time"
sha=$(sha256sum <"$W/out" | cut -c1-16)
line=$(printf '{"target":"%s","when":"%s","host":"%s cpu, %s","orders":%d,"user_s":%s,"sys_s":%s,"real_s":%s,"max_rss_kb":%s,"out_sha256_16":"%s"}' \
    "$LABEL" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(nproc)" "$(uname -r)" "$COUNT" "$user" "$sys" \
    "$real" "$rss" "$sha")
mkdir -p "$ROOT/bench/results"
printf '%s\n' "$line" >>"$ROOT/bench/results/dryrun.json"
printf '%s\n' "$line"
