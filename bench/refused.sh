#!/usr/bin/env bash
# bench/refused.sh - what a record the mapping refuses costs, against one it accepts. Not part of
# the test suite (timing lives here).
#
#   bench/refused.sh [--quick]
#
# Orders from the fixed-seed corpus (bench_corpus); a refused one is the same order with its
# total raised by 10 major units (1,000 for JPY), so the standard woo_order_to_qbo_invoice
# refuses it: "does not reconcile ... refusing to emit a document that differs from the order".
# Dry runs of 500, 1,000 and 2,000 refused orders and of 2,000 accepted ones (the same orders
# untouched), five runs each, alternated. Time per record = wall clock / the records the run
# handled (documents out + stderr lines naming a record): the dry run before issue 14 stops
# after 100 failing records, so there the cost is of those 100 (detail says how many were
# handled and whether it stopped). The wall clock of a one-order run just before each run (start-up,
# loading the mapping) is taken off first. Figures (bench/results/refused.json): time per record of
# each (ms, median of 5), refused over accepted at 2,000 (goal <= 1.25x: as fast as accepted),
# per refused record at 2,000 over at 500 (goal <= 1.25x: linear). --quick: one run of 20, 40
# and 80 refused and 80 accepted.
#
# Needs python3 and a tallysync binary (TALLYSYNC_BIN, default build-bench/tallysync, else
# build/tallysync).
set -euo pipefail
{ # the whole script is read before it runs: editing it during a run cannot change the run
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

bench_args refused.sh "$@"
if ((QUICK)); then REFUSED=(20 40 80) ACCEPTED=80 RUNS=1; else REFUSED=(500 1000 2000) ACCEPTED=2000 RUNS=5; fi
bench_bin python3

W=$(mktemp -d "${TMPDIR:-/tmp}/refused.XXXXXX")
trap 'rm -rf "$W"' EXIT
export SCRIPTS_DIR=${SCRIPTS_DIR:-$ROOT/scripts} SCHEMA_DIR=${SCHEMA_DIR:-$ROOT/schema}
export MAPPINGS_DIR=${MAPPINGS_DIR:-$ROOT/mappings}
export DRY_RUN_MAX_RECORDS=1000000 DATABASE_URL="sqlite:$W/bench.db"
# the script budget at its maxima: the dry run before issue 14 decodes the whole input in one
# call, which outlasts the default 2 s on a loaded machine at 10,000 orders; a per-record budget
# costs the same whatever its size (a bench measures speed, not the budget)
# SCRIPT_MAX_INSTRUCTIONS=0: not counted, as by default (a count makes Lua stop at every instruction)
export SCRIPT_TIMEOUT_MS=3600000 SCRIPT_MAX_INSTRUCTIONS=0 SCRIPT_MEMORY_MB=4096
bench_init refused

max=$ACCEPTED
for n in "${REFUSED[@]}"; do ((n > max)) && max=$n; done
bench_corpus "$max" "$W/orders.ndjson"
conf="$BENCH_CACHE/config.json"
head -n "$ACCEPTED" "$W/orders.ndjson" >"$W/accepted.ndjson"
head -n 1 "$W/orders.ndjson" >"$W/start.ndjson"
python3 - "$W/orders.ndjson" "$W/refused-all.ndjson" <<'EOF'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f, open(sys.argv[2], "w", encoding="utf-8") as g:
    for line in f:
        o = json.loads(line)
        t = o["total"]
        if "." in t:
            ip, fp = t.split(".")
            o["total"] = "%d.%s" % (int(ip) + 10, fp)
        else:
            o["total"] = str(int(t) + 1000)
        g.write(json.dumps(o, ensure_ascii=False, separators=(",", ":")) + "\n")
EOF
for n in "${REFUSED[@]}"; do head -n "$n" "$W/refused-all.ndjson" >"$W/refused-$n.ndjson"; done

# one run of IN (N orders, all accepted or all refused); prints "per_record_ms handled
# refused_lines stopped wall_ms cpu_s"; the per-record time leaves out START_MS, the wall clock
# of a one-order run just before (start-up, loading; at least 1 ms is left: a --quick run is
# within that run's noise). per_record_ms is null when the run was not
# what it should be (accepted: exit 0, N documents; refused: no document, every handled record
# named on stderr, all N or the run says it stopped), the first error line in $W/why.
START_MS=0
one() {
    local in=$1 n=$2 kind=$3
    bench_run "$W/out" "$W/err" "$BIN" dry-run --mapping woo_order_to_qbo_invoice --input "$in" \
        --config "$conf"
    local out bad stopped
    out=$(wc -l <"$W/out")
    bad=$(grep -c 'record [0-9]' "$W/err" || true)
    stopped=$(grep -qi 'stopped after' "$W/err" && echo true || echo false)
    local handled=$((out + bad)) ok=0
    if [[ $kind == accepted ]]; then
        [[ $BENCH_RC == 0 && $out == "$n" && $bad == 0 ]] && ok=1
    else
        [[ $out == 0 && $bad -ge 1 && ($bad == "$n" || $stopped == true) ]] && ok=1
    fi
    if ((!ok)); then
        printf '%s run: exit %s, %s documents, %s records named: %s\n' "$kind" "$BENCH_RC" "$out" \
            "$bad" "$(grep -v 'note:' "$W/err" | head -n1 | cut -c1-300)" >"$W/why"
        echo "null $handled $bad $stopped $BENCH_WALL_MS $BENCH_CPU_S"
        return
    fi
    awk -v ms="$BENCH_WALL_MS" -v h="$handled" -v b="$bad" -v s="$stopped" -v c="$BENCH_CPU_S" \
        -v st="$START_MS" 'BEGIN { d = ms - st; if (d < 1) d = 1; printf "%.4f %d %d %s %d %s\n", d / h, h, b, s, ms, c }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
thousands() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }

STARTS=""
declare -A WHY PER HANDLED BAD STOPPED WALL CPU
for ((r = 1; r <= RUNS; r++)); do
    for k in accepted "${REFUSED[@]}"; do
        START_MS=0
        read -r _ _ _ _ START_MS _ < <(one "$W/start.ndjson" 1 accepted)
        STARTS+="$START_MS "
        echo "bench: refused records, $k, run $r of $RUNS" >&2
        if [[ $k == accepted ]]; then in=$W/accepted.ndjson; else in=$W/refused-$k.ndjson; fi
        if [[ $k == accepted ]]; then kind=accepted n=$ACCEPTED; else kind=refused n=$k; fi
        rm -f "$W/why"
        read -r p h b s ms c < <(one "$in" "$n" "$kind")
        [[ -s $W/why && -z ${WHY[$k]:-} ]] && WHY[$k]=$(cat "$W/why")
        PER[$k]+="$p " HANDLED[$k]=$h BAD[$k]=$b STOPPED[$k]=$s WALL[$k]+="$ms " CPU[$k]+="$c "
    done
done

detail() {
    local k=$1 n=$2
    # shellcheck disable=SC2086
    printf '{"records": %d, "handled": %d, "refused_lines": %d, "stopped_early": %s, "wall_ms_median": %s, "cpu_s_median": %s, "start_ms_median": %s, "error": %s}' \
        "$n" "${HANDLED[$k]}" "${BAD[$k]}" "${STOPPED[$k]}" "$(median ${WALL[$k]})" "$(median ${CPU[$k]})" "$start_med" \
        "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1] or None))' "${WHY[$k]:-}")"
}
# shellcheck disable=SC2086
start_med=$(median $STARTS)
bench_figure "accepted records, $(thousands "$ACCEPTED") orders: time per record" ms "" "" \
    "${PER[accepted]}" "$(detail accepted "$ACCEPTED")"
for n in "${REFUSED[@]}"; do
    bench_figure "refused records (totals off), $(thousands "$n") orders: time per record" ms \
        "as fast as accepted, linear" "" "${PER[$n]}" "$(detail "$n" "$n")"
done
ratios() { # run by run: PER[$1] / PER[$2]
    paste -d' ' <(tr ' ' '\n' <<<"${PER[$1]}" | sed '/^$/d') <(tr ' ' '\n' <<<"${PER[$2]}" | sed '/^$/d') |
        awk '{ if ($1 == "null" || $2 == "null" || $2 == 0) printf "null "; else printf "%.3f ", $1 / $2 }'
}
hi=${REFUSED[-1]} lo=${REFUSED[0]}
bench_figure "refused over accepted, per record, $(thousands "$hi") vs $(thousands "$ACCEPTED") orders" x \
    "<= 1.25x (as fast as accepted)" "<= 1.25" "$(ratios "$hi" accepted)"
bench_figure "refused records: per record at $(thousands "$hi") over at $(thousands "$lo")" x \
    "<= 1.25x (linear)" "<= 1.25" "$(ratios "$hi" "$lo")"
bench_write
exit
}
