#!/usr/bin/env bash
# bench/run.sh - every benchmark in one command, then the table (bench/report.py).
#
#   bench/run.sh [--quick] [--only NAME,...]
#
# Installs nothing: it names what is missing and says to run `tools/setup.sh --bench` (wrk and
# nginx-light, the yardstick of ingest; nodejs, the record path's peer; python3, jq).
# Builds the Release binary in build-bench/ (cmake -DCMAKE_BUILD_TYPE=Release; set TALLYSYNC_BIN
# to measure a binary already built instead, with the tests' store_sql beside it), then runs, in
# this order:
#   record_path  bench/record_path.sh    engine vs the Node peer, trivial and standard mapping
#   refused      bench/refused.sh        refused records vs accepted ones
#   footprint    bench/footprint.sh      start of serve to /ready, idle RSS
#   ingest       bench/webhooks_bench.sh durable webhook ingest vs nginx answering 200
#   backfill     bench/backfill_bench.sh the QuickBooks backfill against the limits
# Each takes --quick and writes BENCH_RESULTS_DIR/NAME.json (bench/lib.sh's shape); a script not
# in this checkout, or one that does not take --quick yet, is skipped and said so. Then
# bench/report.py renders every result into BENCH_RESULTS_DIR/README.md and prints the table
# (a full run into bench/results also puts it into README.md, section Benchmarks).
# BENCH_RESULTS_DIR defaults to bench/results (the figures the README shows); with --quick (one
# run at small N: a smoke check that every bench works, used by the suite) it defaults to a
# scratch folder, so a smoke run leaves the checkout's figures alone. Exit status 1 when a bench
# failed or wrote no result, 2 when something it needs is missing.
# A full run takes 20-30 minutes on the 2-core machine; figures taken while other work runs are
# noise in wall clock: run it on an otherwise idle machine and say so when it was not.
set -euo pipefail
{ # the whole script is read before it runs: editing it during a run cannot change the run
ROOT=$(cd "$(dirname "$0")/.." && pwd)

QUICK=0 ONLY=""
usage() { sed -n '4p' "$0" | sed 's/^# *//' >&2; exit 2; }
while (($#)); do
    case $1 in
    --quick) QUICK=1 ;;
    --only) [[ $# -ge 2 ]] || usage; ONLY=$2; shift ;;
    --only=*) ONLY=${1#--only=} ;;
    -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
    esac
    shift
done

NAMES=(record_path refused footprint ingest backfill)
declare -A SCRIPT=([record_path]=record_path.sh [refused]=refused.sh [footprint]=footprint.sh
    [ingest]=webhooks_bench.sh [backfill]=backfill_bench.sh)
declare -A NEEDS=([record_path]="node python3" [refused]="python3" [footprint]="python3"
    [ingest]="wrk nginx python3 jq" [backfill]="python3")
declare -A PKG=([node]=nodejs [nginx]=nginx-light [wrk]=wrk [python3]=python3 [jq]=jq)
SELECTED=()
if [[ -n $ONLY ]]; then
    IFS=, read -ra want <<<"$ONLY"
    for n in "${want[@]}"; do
        [[ -n ${SCRIPT[$n]:-} ]] || { echo "bench: no benchmark named $n (${NAMES[*]})" >&2; exit 2; }
        SELECTED+=("$n")
    done
else
    SELECTED=("${NAMES[@]}")
fi

missing=()
for n in "${SELECTED[@]}"; do
    for t in ${NEEDS[$n]}; do
        command -v "$t" >/dev/null 2>&1 || [[ " ${missing[*]} " == *" ${PKG[$t]} "* ]] ||
            missing+=("${PKG[$t]}")
    done
done
for t in cmake git; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
[[ -x /usr/bin/time ]] || missing+=(time)
if ((${#missing[@]})); then
    echo "bench: missing ${missing[*]}: run tools/setup.sh --bench (this script installs nothing)" >&2
    exit 2
fi

if [[ -z ${TALLYSYNC_BIN:-} ]]; then
    echo "bench: building the Release binary in build-bench/" >&2
    cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
    # store_sql: the benches read the store through it (tests/integration/lib/store.sh)
    nice cmake --build "$ROOT/build-bench" -j2 --target tallysync store_sql >/dev/null
    TALLYSYNC_BIN=$ROOT/build-bench/tallysync
fi
[[ -x $TALLYSYNC_BIN ]] || { echo "bench: $TALLYSYNC_BIN is not an executable" >&2; exit 2; }
export TALLYSYNC_BIN
if [[ -z ${BENCH_RESULTS_DIR:-} ]]; then
    if ((QUICK)); then
        BENCH_RESULTS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/bench-quick.XXXXXX")
    else
        BENCH_RESULTS_DIR=$ROOT/bench/results
    fi
fi
mkdir -p "$BENCH_RESULTS_DIR"
export BENCH_RESULTS_DIR
echo "bench: binary $TALLYSYNC_BIN; results in $BENCH_RESULTS_DIR" >&2

args=()
((QUICK)) && args+=(--quick)
rc=0 summary=()
for n in "${SELECTED[@]}"; do
    s=$ROOT/bench/${SCRIPT[$n]}
    if [[ ! -f $s ]]; then
        summary+=("$n: skipped, bench/${SCRIPT[$n]} is not in this checkout")
        continue
    fi
    if ! grep -q -- '--quick' "$s"; then
        summary+=("$n: skipped, bench/${SCRIPT[$n]} does not take --quick yet (not in the shape of bench/lib.sh)")
        continue
    fi
    out=$BENCH_RESULTS_DIR/$n.json
    before=$(stat -c %Y "$out" 2>/dev/null || echo 0)
    echo "bench: == $n (bench/${SCRIPT[$n]} ${args[*]})" >&2
    t0=$(date +%s)
    brc=0
    bash "$s" "${args[@]}" || brc=$?
    secs=$(($(date +%s) - t0))
    after=$(stat -c %Y "$out" 2>/dev/null || echo 0)
    if ((brc != 0)); then
        summary+=("$n: FAILED (exit $brc, ${secs} s)")
        rc=1
    elif [[ ! -f $out ]] || ((after < t0 && after == before)); then
        summary+=("$n: FAILED (exit 0 but no new $out)")
        rc=1
    else
        summary+=("$n: ok (${secs} s)")
    fi
done

echo >&2
printf 'bench: %s\n' "${summary[@]}" >&2
echo >&2
report=(python3 "$ROOT/bench/report.py" --results "$BENCH_RESULTS_DIR")
# the figures the README shows: a full run into the checkout's bench/results updates its table
if ((!QUICK)) && [[ $BENCH_RESULTS_DIR -ef $ROOT/bench/results ]]; then report+=(--readme "$ROOT/README.md"); fi
if ! "${report[@]}"; then
    echo "bench: the report did not render" >&2
    rc=1
fi
echo "bench: table in $BENCH_RESULTS_DIR/README.md" >&2
exit "$rc"
}
