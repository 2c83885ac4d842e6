# shellcheck shell=bash disable=SC2034  # sourced: the globals it sets are read by the benches
# bench/lib.sh - shell helpers every benchmark sources: the result file's fixed fields, one
# timed run, and the figures in the shape bench/report.py reads (bench/README of the contract):
#
#   {"bench": NAME, "machine": "<nproc> cpu, <model name>, <kernel>", "date": ISO-8601 UTC,
#    "commit": short hash (+"-dirty"), "figures": [{"figure", "value" (median of the runs),
#    "unit", "goal", "met", "runs", "spread": "min-max", "detail"}]}
#
#   source "$ROOT/bench/lib.sh"
#   bench_init NAME                 figures of this bench start empty (a temp file)
#   bench_run OUT ERR CMD...        runs CMD (stdout to OUT, stderr to ERR) under /usr/bin/time;
#                                   sets BENCH_RC, BENCH_WALL_MS (date's ns clock), BENCH_CPU_S
#                                   (user + sys), BENCH_RSS_KB (peak RSS)
#   bench_figure FIGURE UNIT GOAL CHECK "RUN RUN ..." [DETAIL_JSON]
#                                   adds one figure: value = median of the runs, spread min-max;
#                                   CHECK is "" (no goal: met null) or a comparison of the value
#                                   (">= 2", "<= 32"); a run given as "null" (it failed) makes the
#                                   value null and met false
#   bench_write                     writes $BENCH_RESULTS_DIR/NAME.json (default bench/results)
#   bench_machine, bench_date, bench_commit   the fixed fields, for scripts that write their own
#   bench_args NAME "$@"            takes --quick (sets QUICK=1) and nothing else (usage, exit 2)
#   bench_bin TOOL...               sets BIN (TALLYSYNC_BIN, else build-bench/ or build/
#                                   tallysync) and exits 2 naming TOOL or the binary if missing
#
# Where results go: BENCH_RESULTS_DIR (default ROOT/bench/results; bench/run.sh --quick points it
# at a scratch folder so a smoke run leaves the checkout's figures alone). Timing never goes in a
# test: the suite's smoke test only checks that every bench runs and the report renders.
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_ROOT/bench/results}

bench_machine() {
    local model
    model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n1)
    printf '%s cpu, %s, %s\n' "$(nproc)" "${model:-unknown cpu}" "$(uname -r)"
}

bench_date() { date -u +%Y-%m-%dT%H:%M:%SZ; }

bench_commit() {
    local h
    h=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null) || { echo unknown; return; }
    # dirty: the tree measured differs from the commit; the benches' own output does not count
    if [[ -n $(git -C "$BENCH_ROOT" status --porcelain --untracked-files=no -- . ':!bench/results' \
        ':!README.md' 2>/dev/null) ]]; then
        h+=-dirty
    fi
    printf '%s\n' "$h"
}

bench_args() {
    local name=$1 a
    shift
    QUICK=0
    for a in "$@"; do
        case $a in
        --quick) QUICK=1 ;;
        *) echo "usage: bench/$name [--quick]" >&2; exit 2 ;;
        esac
    done
}

bench_bin() {
    local b t
    BIN=${TALLYSYNC_BIN:-}
    [[ -n $BIN ]] || for b in "$BENCH_ROOT/build-bench/tallysync" "$BENCH_ROOT/build/tallysync"; do
        [[ -x $b ]] && BIN=$b && break
    done
    for t in "$@"; do
        command -v "$t" >/dev/null || { echo "bench: $t is missing (tools/setup.sh --bench)" >&2; exit 2; }
    done
    [[ -x $BIN ]] || { echo "bench: no tallysync binary (set TALLYSYNC_BIN or run bench/run.sh)" >&2; exit 2; }
}

bench_init() {
    BENCH_NAME=$1
    BENCH_FIGS=$(mktemp "${TMPDIR:-/tmp}/bench-figs.XXXXXX")
}

bench_run() {
    local out=$1 err=$2 t0 t1 tf
    shift 2
    tf=$(mktemp "${TMPDIR:-/tmp}/bench-time.XXXXXX")
    t0=$(date +%s%N)
    BENCH_RC=0
    /usr/bin/time -f '%U %S %M' -o "$tf" "$@" >"$out" 2>"$err" || BENCH_RC=$?
    t1=$(date +%s%N)
    BENCH_WALL_MS=$(((t1 - t0) / 1000000))
    local u s m
    read -r u s m < <(grep -E '^[0-9.]+ [0-9.]+ [0-9]+$' "$tf" | tail -n1)
    rm -f "$tf"
    BENCH_CPU_S=$(awk -v u="${u:-0}" -v s="${s:-0}" 'BEGIN { printf "%.2f", u + s }')
    BENCH_RSS_KB=${m:-0}
}

bench_figure() {
    python3 - "$@" >>"$BENCH_FIGS" <<'EOF'
import json, sys
figure, unit, goal, check, runs = sys.argv[1:6]
detail = json.loads(sys.argv[6]) if len(sys.argv) > 6 and sys.argv[6] else {}
vals = [None if r == "null" else float(r) for r in runs.split()]
ok = [v for v in vals if v is not None]
value = spread = None
if vals and len(ok) == len(vals):
    s = sorted(ok)
    n = len(s)
    value = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    value = round(value, 3)
    spread = "%g-%g" % (round(s[0], 3), round(s[-1], 3))
met = None
if check:
    op, lim = check.split()
    lim = float(lim)
    met = False if value is None else (value >= lim if op == ">=" else value <= lim)
print(json.dumps({"figure": figure, "value": value, "unit": unit, "goal": goal or None,
                  "met": met, "runs": [None if v is None else round(v, 3) for v in vals],
                  "spread": spread, "detail": detail}, ensure_ascii=False))
EOF
}

bench_write() {
    mkdir -p "$BENCH_RESULTS_DIR"
    python3 - "$BENCH_NAME" "$(bench_machine)" "$(bench_date)" "$(bench_commit)" "$BENCH_FIGS" \
        "$BENCH_RESULTS_DIR/$BENCH_NAME.json" <<'EOF'
import json, sys
name, machine, date, commit, figs, dest = sys.argv[1:7]
with open(figs, encoding="utf-8") as f:
    figures = [json.loads(line) for line in f if line.strip()]
doc = {"bench": name, "machine": machine, "date": date, "commit": commit, "figures": figures}
with open(dest + ".tmp", "w", encoding="utf-8") as f:
    json.dump(doc, f, ensure_ascii=False, indent=1)
    f.write("\n")
import os
os.replace(dest + ".tmp", dest)
EOF
    rm -f "$BENCH_FIGS"
    echo "bench: wrote $BENCH_RESULTS_DIR/$BENCH_NAME.json" >&2
}

# bench_corpus N DEST: N realistic WooCommerce orders as NDJSON in DEST, the first N of the
# fixed-seed corpus of tests/tools/gen_order_corpus.py (the same orders, same bytes, as its JSON
# array); its transformer_config beside the cache as config.json. Generated once into
# BENCH_CACHE (default ROOT/build-bench/corpus), whose largest file serves every smaller N.
BENCH_CACHE=${BENCH_CACHE:-$BENCH_ROOT/build-bench/corpus}
BENCH_SEED=20260301
bench_corpus() {
    local n=$1 dest=$2 f m best=""
    mkdir -p "$BENCH_CACHE"
    for f in "$BENCH_CACHE"/orders-"$BENCH_SEED"-*.ndjson; do
        [[ -f $f ]] || continue
        m=${f##*-}
        m=${m%.ndjson}
        if ((m >= n)) && { [[ -z $best ]] || ((m < ${best##*-})); }; then best=$f-$m; fi
    done
    if [[ -z $best ]]; then
        echo "bench: generating $n orders (fixed seed $BENCH_SEED) into $BENCH_CACHE" >&2
        python3 - "$BENCH_ROOT/tests/tools" "$n" "$BENCH_SEED" \
            "$BENCH_CACHE/orders-$BENCH_SEED-$n.ndjson" "$BENCH_CACHE/config.json" <<'PY'
import json, random, sys
sys.path.insert(0, sys.argv[1])
import gen_order_corpus as g
n, seed, dest, conf = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rng = random.Random(seed)  # the generator's own loop: order i of N is order i of any larger N
with open(dest + ".tmp", "w", encoding="utf-8") as f:
    for i in range(n):
        f.write(json.dumps(g.make_order(rng, i), ensure_ascii=False, separators=(",", ":")))
        f.write("\n")
with open(conf, "w") as f:
    json.dump(g.CONFIG, f)
import os
os.replace(dest + ".tmp", dest)
PY
        best=$BENCH_CACHE/orders-$BENCH_SEED-$n.ndjson-$n
    fi
    head -n "$n" "${best%-*}" >"$dest"
}
