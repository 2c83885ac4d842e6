#!/usr/bin/env bash
# bench/callgrind_orders.sh - instructions per order of the dry run, counted by callgrind
# (repeatable on a loaded machine, unlike wall clock): (the 3,000-order run - the 1,000-order
# run) / 2,000, so start-up and the first records' warm-up cancel out. Two mappings, as
# bench/record_path.sh runs them: the trivial one (bench/peer/simple_invoice.lua, copied into a
# temporary MAPPINGS_DIR) and the standard woo_order_to_qbo_invoice, on bench_corpus's orders.
# Prints one line per mapping; not part of bench/run.sh (about 5 minutes under valgrind).
#
#   bench/callgrind_orders.sh [TALLYSYNC_BIN]     (default: build/tallysync)
#
# Environment as record_path.sh: SCRIPT_MAX_INSTRUCTIONS=0 (not counted, the default).
# KEEP=1 keeps the callgrind files (their folder is printed) for callgrind_annotate.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
BIN=${1:-$ROOT/build/tallysync}
command -v valgrind >/dev/null || { echo "bench: valgrind is missing" >&2; exit 2; }
[[ -x $BIN ]] || { echo "bench: no tallysync binary at $BIN" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/callgrind-orders.XXXXXX")
[[ ${KEEP:-0} == 1 ]] || trap 'rm -rf "$W"' EXIT
export SCRIPTS_DIR=$ROOT/scripts SCHEMA_DIR=$ROOT/schema DATABASE_URL="sqlite:$W/bench.db"
export DRY_RUN_MAX_RECORDS=1000000 SCRIPT_TIMEOUT_MS=3600000 SCRIPT_MAX_INSTRUCTIONS=0
export SCRIPT_MEMORY_MB=4096
mkdir -p "$W/maps"
cp "$ROOT/bench/peer/simple_invoice.lua" "$W/maps/"
bench_corpus 3000 "$W/orders-3000.ndjson"
head -n 1000 "$W/orders-3000.ndjson" >"$W/orders-1000.ndjson"
conf="$BENCH_CACHE/config.json"

# instructions MAPPING N: the total of one dry run of N orders under callgrind
instructions() {
    local m=$1 n=$2 out="$W/$1.$2.callgrind" args
    if [[ $m == trivial ]]; then
        args=(--mapping simple_invoice --input "$W/orders-$n.ndjson")
        export MAPPINGS_DIR=$W/maps
    else
        args=(--mapping woo_order_to_qbo_invoice --input "$W/orders-$n.ndjson" --config "$conf")
        export MAPPINGS_DIR=$ROOT/mappings
    fi
    valgrind --tool=callgrind --callgrind-out-file="$out" "$BIN" dry-run "${args[@]}" \
        >"$W/$m.$n.out" 2>"$W/$m.$n.err" || { echo "bench: $m $n failed (see $W)" >&2; exit 1; }
    [[ $(wc -l <"$W/$m.$n.out") == "$n" ]] || { echo "bench: $m $n: not one line per order" >&2; exit 1; }
    sed -n 's/^summary: //p' "$out"
}

for m in trivial standard; do
    a=$(instructions "$m" 1000)
    b=$(instructions "$m" 3000)
    echo "$m: $(((b - a) / 2000)) instructions per order (1,000 orders: $a, 3,000: $b)"
done
[[ ${KEEP:-0} != 1 ]] || echo "callgrind files: $W"
