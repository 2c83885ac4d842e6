#!/usr/bin/env bash
# bench/record_path.sh - the record path: `tallysync dry-run` against the fixed Node.js peer
# (bench/peer/node-peer.js: JSON.parse, map, JSON.stringify, one line per order) on the same
# NDJSON orders in the same run. Not part of the test suite (timing lives here).
#
#   bench/record_path.sh [--quick]
#
# Two mappings: the trivial one (bench/peer/simple_invoice.lua, the peer's own mapping, copied
# into a temporary MAPPINGS_DIR: the engine's overhead) and the standard woo_order_to_qbo_invoice
# (exact money, reconciliation, lineage: the full product), each at 1,000, 10,000 and 100,000
# orders (bench_corpus: tests/tools/gen_order_corpus.py, fixed seed, generated once into
# build-bench/corpus). Five runs at each N, engine and Node alternated (trivial, Node,
# standard), every output counted (one line per order, else the run counts as failed).
# Figures (bench/results/record_path.json, bench/lib.sh's shape): orders/s from wall clock
# (median of 5, spread) with the per-record time in microseconds and the CPU seconds in detail;
# engine/Node as the median of the five same-run ratios (goals: trivial >= 2x, standard >= 1x;
# the same ratio by CPU seconds, steadier under load, in detail);
# time per record at 100,000 over at 1,000 (flat: <= 1.25x); peak RSS of the standard dry run
# at each N (goal <= 32 MB at 100,000, flat in N).
# The engine runs with its default --jobs (the CPUs it may use, at most 8: threads that each map
# records on their own VM; RECORD_PATH_JOBS=N sets --jobs N), and Node's peer is single-threaded
# JavaScript: so beside each wall-clock ratio a figure gives the same ratio by CPU seconds
# (user + sys of each whole process: Node's CPU seconds over the engine's), the work each side
# spends per order whatever the cores, and every engine figure names the jobs it ran with. --quick: one run at 200 orders (a smoke
# check). Wall clock on a shared machine moves with everyone else's load: the ratios come from
# runs seconds apart, and the CPU seconds are in detail.
#
# SCRIPT_TIMEOUT_MS and SCRIPT_MEMORY_MB are set to their maxima, SCRIPT_MAX_INSTRUCTIONS to 0
# (not counted, the default; see below). Needs node and python3, and a tallysync binary
# (TALLYSYNC_BIN, default build-bench/tallysync, built by bench/run.sh as Release, else
# build/tallysync). DRY_RUN_MAX_RECORDS is set to its
# maximum: before the streaming dry run (issue 14) the CLI refuses more than that many records
# and holds the whole input (256 MiB at most: 100,000 orders are ~420 MB, so that N fails there
# and is reported as failed, with the engine's message in detail).
set -euo pipefail
{ # the whole script is read before it runs: editing it during a run cannot change the run
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

bench_args record_path.sh "$@"
if ((QUICK)); then SIZES=(200) RUNS=1; else SIZES=(1000 10000 100000) RUNS=5; fi
bench_bin node python3

W=$(mktemp -d "${TMPDIR:-/tmp}/record-path.XXXXXX")
trap 'rm -rf "$W"' EXIT
export SCRIPTS_DIR=${SCRIPTS_DIR:-$ROOT/scripts} SCHEMA_DIR=${SCHEMA_DIR:-$ROOT/schema}
export DRY_RUN_MAX_RECORDS=1000000 DATABASE_URL="sqlite:$W/bench.db"
# the script budget at its maxima: the dry run before issue 14 decodes the whole input in one
# call, which outlasts the default 2 s on a loaded machine at 10,000 orders; a per-record budget
# costs the same whatever its size (a bench measures speed, not the budget)
# SCRIPT_MAX_INSTRUCTIONS=0: not counted, as by default (a count makes Lua stop at every instruction)
export SCRIPT_TIMEOUT_MS=3600000 SCRIPT_MAX_INSTRUCTIONS=0 SCRIPT_MEMORY_MB=4096
STD_MAPPINGS=${MAPPINGS_DIR:-$ROOT/mappings}
# the jobs the engine maps with: its own default (cli/cli_dry_run.c: the CPUs this process may run
# on, which nproc counts the same way, at most 8), or RECORD_PATH_JOBS
if [[ -n ${RECORD_PATH_JOBS:-} ]]; then
    JOBS=$RECORD_PATH_JOBS JOBS_ARG=(--jobs "$JOBS")
else
    JOBS=$(nproc) JOBS_ARG=()
    ((JOBS <= 8)) || JOBS=8
fi
mkdir -p "$W/maps"
cp "$ROOT/bench/peer/simple_invoice.lua" "$W/maps/"
bench_init record_path

# one timed run; prints "wall_ms cpu_s rss_kb" or "null <first error line>" when the run failed
# or did not give one line per order
one() {
    local n=$1
    shift
    bench_run "$W/out" "$W/err" "$@"
    local lines
    lines=$(wc -l <"$W/out")
    if [[ $BENCH_RC != 0 || $lines != "$n" ]]; then
        printf 'null exit %s, %s of %s lines out: %s\n' "$BENCH_RC" "$lines" "$n" \
            "$(grep -v '^tallysync dry-run: note:' "$W/err" | head -n1 | cut -c1-300)"
        return
    fi
    echo "$BENCH_WALL_MS $BENCH_CPU_S $BENCH_RSS_KB"
}

ops() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.1f", n * 1000 / (ms > 0 ? ms : 1) }'; }
us() { awk -v n="$1" -v ms="$2" 'BEGIN { printf "%.2f", ms * 1000 / n }'; }
cdiv() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / (b > 0 ? b : 0.01) }'; } # CPU s reads 0.00 below 10 ms
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med_or_null() { # ERROR VALUES...: null when the runs failed, else their median
    if [[ -n $1 ]]; then echo null; else shift; median "$@"; fi
}
# a JSON object from key value pairs (values are numbers or already JSON)
obj() {
    local s="" sep=""
    while (($#)); do s+="$sep\"$1\": $2"; sep=", "; shift 2; done
    printf '{%s}' "$s"
}
thousands() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }
cr_runs() { # ERROR RATIOS...: the CPU-seconds ratios as runs, one null when there are none
    if [[ -n $1 || $# -lt 2 ]]; then echo null; else shift; echo "$*"; fi
}
jstr() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1] or None))' "$1"; }

declare -A US_T US_S # read through declare -n below
# shellcheck disable=SC2034
for n in "${SIZES[@]}"; do
    in="$W/orders-$n.ndjson"
    bench_corpus "$n" "$in"
    conf="$BENCH_CACHE/config.json"
    t_ops=() s_ops=() n_ops=() t_ratio=() s_ratio=() s_rss=() t_us=() s_us=() t_cpu=() s_cpu=() n_cpu=() t_cr=() s_cr=()
    t_err="" s_err="" n_err=""
    for ((r = 1; r <= RUNS; r++)); do
        echo "bench: record path, $n orders, run $r of $RUNS" >&2
        if [[ -z $t_err ]]; then
            res=$(MAPPINGS_DIR="$W/maps" one "$n" "$BIN" dry-run --mapping simple_invoice --input "$in" \
                ${JOBS_ARG[@]+"${JOBS_ARG[@]}"})
            read -r tw tc _ <<<"$res"
            [[ $tw != null ]] || t_err=${res#null }
        fi
        res=$(one "$n" node "$ROOT/bench/peer/node-peer.js" "$in")
        read -r nw nc _ <<<"$res"
        if [[ -z $s_err ]]; then
            res=$(MAPPINGS_DIR="$STD_MAPPINGS" one "$n" "$BIN" dry-run --mapping woo_order_to_qbo_invoice \
                --input "$in" --config "$conf" ${JOBS_ARG[@]+"${JOBS_ARG[@]}"})
            read -r sw sc sr <<<"$res"
            [[ $sw != null ]] || s_err=${res#null }
        fi
        if [[ $nw == null ]]; then n_ops+=(null) n_err=${res#null }; else n_ops+=("$(ops "$n" "$nw")") n_cpu+=("$nc"); fi
        if [[ -n $t_err ]]; then t_ops+=(null) t_ratio+=(null) t_us+=(null); else
            t_ops+=("$(ops "$n" "$tw")") t_us+=("$(us "$n" "$tw")") t_cpu+=("$tc")
            if [[ $nw == null ]]; then t_ratio+=(null); else t_ratio+=("$(div "$nw" "$tw")") t_cr+=("$(cdiv "$nc" "$tc")"); fi
        fi
        if [[ -n $s_err ]]; then s_ops+=(null) s_ratio+=(null) s_us+=(null) s_rss+=(null); else
            s_ops+=("$(ops "$n" "$sw")") s_us+=("$(us "$n" "$sw")") s_cpu+=("$sc")
            s_rss+=("$(awk -v k="$sr" 'BEGIN { printf "%.1f", k / 1024 }')")
            if [[ $nw == null ]]; then s_ratio+=(null); else s_ratio+=("$(div "$nw" "$sw")") s_cr+=("$(cdiv "$nc" "$sc")"); fi
        fi
    done
    US_T[$n]="${t_us[*]}" US_S[$n]="${s_us[*]}"
    label=$(thousands "$n")
    td=$(obj per_record_us "$(med_or_null "$t_err" "${t_us[@]}")" \
        cpu_s_median "$(med_or_null "$t_err" "${t_cpu[@]}")" orders "$n" jobs "$JOBS" \
        error "$(jstr "$t_err")")
    sd=$(obj per_record_us "$(med_or_null "$s_err" "${s_us[@]}")" \
        cpu_s_median "$(med_or_null "$s_err" "${s_cpu[@]}")" orders "$n" jobs "$JOBS" \
        error "$(jstr "$s_err")")
    nd=$(obj cpu_s_median "$( ((${#n_cpu[@]})) && median "${n_cpu[@]}" || echo null)" orders "$n" \
        error "$(jstr "$n_err")")
    jl="$JOBS job$( ((JOBS == 1)) || echo s)"
    bench_figure "trivial mapping (simple_invoice), $label orders: engine, $jl" orders/s "" "" "${t_ops[*]}" "$td"
    bench_figure "Node peer (node-peer.js), $label orders" orders/s "" "" "${n_ops[*]}" "$nd"
    bench_figure "trivial mapping, $label orders: engine ($jl) / Node, wall clock (same run)" x ">= 2x Node" ">= 2" "${t_ratio[*]}" \
        "$(obj jobs "$JOBS" by_cpu_seconds_median "$( ((${#t_cr[@]})) && median "${t_cr[@]}" || echo null)" by_cpu_seconds "[$(IFS=,; echo "${t_cr[*]}")]")"
    bench_figure "trivial mapping, $label orders: engine / Node by CPU seconds (Node's over the engine's, same run)" x "" "" \
        "$(cr_runs "$t_err" "${t_cr[@]}")" "$(obj jobs "$JOBS")"
    bench_figure "standard woo_order_to_qbo_invoice, $label orders: engine, $jl" orders/s "" "" "${s_ops[*]}" "$sd"
    bench_figure "standard mapping, $label orders: engine ($jl) / Node, wall clock (same run)" x ">= 1x Node" ">= 1" "${s_ratio[*]}" \
        "$(obj jobs "$JOBS" by_cpu_seconds_median "$( ((${#s_cr[@]})) && median "${s_cr[@]}" || echo null)" by_cpu_seconds "[$(IFS=,; echo "${s_cr[*]}")]")"
    bench_figure "standard mapping, $label orders: engine / Node by CPU seconds (Node's over the engine's, same run)" x "" "" \
        "$(cr_runs "$s_err" "${s_cr[@]}")" "$(obj jobs "$JOBS")"
    if [[ $n == "${SIZES[-1]}" ]]; then
        bench_figure "peak RSS, standard dry run, $label orders" MB "<= 32 MB, flat in N" "<= 32" "${s_rss[*]}" "$sd"
    else
        bench_figure "peak RSS, standard dry run, $label orders" MB "flat in N" "" "${s_rss[*]}" "$sd"
    fi
done

# time per record at the largest N over at the smallest, run by run (flat: <= 1.25x)
if ((${#SIZES[@]} > 1)); then
    lo=${SIZES[0]} hi=${SIZES[-1]}
    for m in T S; do
        declare -n per="US_$m"
        read -ra a <<<"${per[$lo]}"
        read -ra b <<<"${per[$hi]}"
        ratios=() det=""
        for ((i = 0; i < RUNS; i++)); do
            if [[ ${a[i]} == null || ${b[i]} == null ]]; then ratios+=(null); else ratios+=("$(div "${b[i]}" "${a[i]}")"); fi
        done
        for n in "${SIZES[@]}"; do det+="${det:+, }\"per_record_us_at_$n\": [${per[$n]// /, }]"; done
        name=$([[ $m == T ]] && echo "trivial mapping" || echo "standard mapping")
        bench_figure "$name: time per record at $(thousands "$hi") over at $(thousands "$lo") orders" x \
            "<= 1.25x (flat)" "<= 1.25" "${ratios[*]}" "{$det}"
        unset -n per
    done
fi
bench_write
exit
}
