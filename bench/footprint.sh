#!/usr/bin/env bash
# bench/footprint.sh - start to ready and idle memory of `tallysync serve` (issue 14). Not part
# of the test suite (timing lives here).
#
#   bench/footprint.sh [--quick]        (default: 5 runs; --quick: 1 run, a smoke check)
#
# Each run starts `serve` with the default configuration (only the required
# INTEGRATION_ENCRYPTION_KEY set, and API_PORT on a free port so that it cannot meet another
# engine) in an empty directory, so DATABASE_URL's default is a new, empty database and the
# source tree's scripts and mappings are loaded. It measures
#   - start to ready: from just before exec to the first 200 of GET /ready (polled every 2 ms:
#     /ready is 503 or refused until the scripts are validated and the server listens);
#   - idle RSS: VmRSS (/proc/PID/status) after ready + 2 s of idle (and its anonymous and file
#     parts, the threads);
# then stops it with SIGTERM, and starts it again on the database it left (the common restart:
# nothing to migrate) for a second start-to-ready figure. The figures are the median of the runs and their spread, written
# to bench/results/footprint.json (FOOT_RESULTS, or BENCH_RESULTS_DIR/footprint.json when that is
# set, as bench/run.sh --quick and ctest do; --quick writes only to those, and always prints).
# The machine is shared: a run's wall-clock figure is only as quiet as the machine was; the CPU
# seconds to ready are recorded beside it.
# Needs python3 and a built tallysync (TALLYSYNC_BIN, default build/tallysync, else
# build-dev/tallysync).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=5
QUICK=0
for a in "$@"; do
    case "$a" in
    --quick) QUICK=1 RUNS=1 ;;
    -h | --help)
        sed -n '2,22p' "$0"
        exit 0
        ;;
    *)
        echo "bench/footprint.sh: unknown argument '$a'" >&2
        exit 2
        ;;
    esac
done
BIN=${TALLYSYNC_BIN:-}
[[ -n "$BIN" ]] || for b in "$ROOT/build/tallysync" "$ROOT/build-dev/tallysync"; do
    [[ -x "$b" ]] && BIN=$b && break
done
[[ -x "$BIN" ]] || { echo "bench: no tallysync binary (set TALLYSYNC_BIN)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench: python3 is missing" >&2; exit 2; }
RESULTS_FILE=${FOOT_RESULTS:-}
[[ -n "$RESULTS_FILE" || -z ${BENCH_RESULTS_DIR:-} ]] || RESULTS_FILE=$BENCH_RESULTS_DIR/footprint.json
[[ -n "$RESULTS_FILE" || $QUICK == 1 ]] || RESULTS_FILE=$ROOT/bench/results/footprint.json

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
COMMIT=$(bench_commit) # -dirty: the code differs, not the result files a bench run writes
MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
MACHINE="$(nproc) cpu, ${MODEL:-unknown cpu}, $(uname -sr)"

BIN=$BIN RUNS=$RUNS COMMIT=$COMMIT MACHINE=$MACHINE RESULTS_FILE=$RESULTS_FILE python3 - <<'EOF'
import base64, json, os, re, shutil, socket, statistics, subprocess, tempfile, time

BIN, RUNS = os.environ["BIN"], int(os.environ["RUNS"])
TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ready(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            return b" 200 " in s.recv(64).split(b"\r\n", 1)[0]
    except OSError:
        return False


def status(pid):
    text = open("/proc/%d/status" % pid).read()
    kb = lambda k: int(re.search(r"^%s:\s+(\d+) kB" % k, text, re.M).group(1))
    return {"VmRSS_kB": kb("VmRSS"), "RssAnon_kB": kb("RssAnon"), "RssFile_kB": kb("RssFile"),
            "threads": int(re.search(r"^Threads:\s+(\d+)", text, re.M).group(1))}


def cpu_ms(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000 / TCK


def start(d, env, port, idle):
    """Start serve in d; (ms to ready, CPU ms to ready, status after idle s or None)."""
    err = open(os.path.join(d, "serve.err"), "w")
    t0 = time.monotonic()
    p = subprocess.Popen([BIN, "serve"], cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        while not ready(port):
            if p.poll() is not None:
                raise SystemExit("bench: serve exited (%s): %s" % (p.returncode,
                                 open(os.path.join(d, "serve.err")).read()[-2000:]))
            if time.monotonic() - t0 > 60:
                raise SystemExit("bench: serve not ready within 60 s")
            time.sleep(0.002)
        ms = (time.monotonic() - t0) * 1000
        cpu = cpu_ms(p.pid)
        st = None
        if idle:
            time.sleep(idle)
            st = status(p.pid)
    finally:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        err.close()
    return ms, cpu, st


def one():
    """A start on a new database (the figure), then a restart on the database it left."""
    d = tempfile.mkdtemp(prefix="tallysync-foot.")
    port = free_port()
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "TMPDIR") if k in os.environ}
    env["INTEGRATION_ENCRYPTION_KEY"] = base64.b64encode(os.urandom(32)).decode()
    env["API_PORT"] = str(port)
    try:
        ms, cpu, st = start(d, env, port, 2)
        again_ms, again_cpu, _ = start(d, env, port, 0)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return ms, cpu, st, again_ms, again_cpu


runs = [one() for _ in range(RUNS)]
ms = [round(r[0], 1) for r in runs]
cpu = [round(r[1]) for r in runs]
rss = [round(r[2]["VmRSS_kB"] / 1024, 2) for r in runs]
again = [round(r[3], 1) for r in runs]
again_cpu = [round(r[4]) for r in runs]
med = lambda v: round(statistics.median(v), 2)
spread = lambda v: "%s-%s" % (min(v), max(v))
idle = runs[len(runs) // 2][2]
res = {
    "bench": "footprint",
    "machine": os.environ["MACHINE"],
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": os.environ["COMMIT"],
    "figures": [
        {"figure": "start of `serve` to the first 200 of /ready (empty database, default "
                   "configuration)",
         "value": med(ms), "unit": "ms", "goal": "<= 50 ms", "met": med(ms) <= 50,
         "runs": ms, "spread": spread(ms),
         "detail": {"cpu_ms_to_ready": cpu, "cpu_ms_median": med(cpu)}},
        {"figure": "restart: start of `serve` to the first 200 of /ready on the database the "
                   "first start left (nothing to migrate)",
         "value": med(again), "unit": "ms", "goal": "<= 50 ms", "met": med(again) <= 50,
         "runs": again, "spread": spread(again),
         "detail": {"cpu_ms_to_ready": again_cpu, "cpu_ms_median": med(again_cpu)}},
        {"figure": "idle RSS of `serve` (VmRSS, ready + 2 s idle)",
         "value": med(rss), "unit": "MB", "goal": "<= 8 MB", "met": med(rss) <= 8,
         "runs": rss, "spread": spread(rss),
         "detail": {"median_run": idle, "threads": [r[2]["threads"] for r in runs]}},
    ],
}
text = json.dumps(res, indent=2)
print(text)
if os.environ["RESULTS_FILE"]:
    with open(os.environ["RESULTS_FILE"], "w") as f:
        f.write(text + "\n")
EOF
