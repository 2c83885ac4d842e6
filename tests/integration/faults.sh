#!/usr/bin/env bash
# tests/integration/faults.sh - the fault suite (issue 12, Suites): a full disk and a read-only
# database, each during a webhook burst and during a sync run, on the real binary.
#
# The database lives on a small ext4 filesystem of its own: a file-backed image on a loop
# device (mount -o loop), so the rest of the machine never fills up. A full disk is that
# filesystem filled with a filler file (ENOSPC for every write that needs a new block); a
# read-only database is `chattr +i` on the database file and its WAL while the engine holds
# them open (ext4 refuses writes to an immutable file even through an open descriptor, EPERM;
# chmod or a read-only remount would not: permissions are checked at open, and a remount with
# files open for writing is refused as busy; tmpfs ignores +i on open files, which is why this is
# ext4 rather than a tmpfs). Mounting needs root (as in CI): without it every check is
# skipped with one line saying so.
#
# For each fault: the webhook routes answer 503 (never 200, never 500, never a dropped
# connection) while a delivery cannot be stored; every delivery answered 200 is in
# webhook_events after the restart, exactly once, no forged one; the engine stays up, says what
# failed in its log (store errors at most 20 lines a minute, the rest counted in /metrics), and
# takes deliveries again once the fault is gone; SIGTERM stops it; the file passes PRAGMA
# integrity_check; it restarts cleanly on the same file. A run hit by the fault
# does not claim success; once the fault is gone it ends without a restart (the job end the store
# refused is recorded then, not after the job's lease); after a restart it is over and every
# order is invoiced exactly once in the QuickBooks mock (no duplicate, no lost record).
# Output: one line per check, then "N passed, M failed".
# shellcheck source=tests/integration/lib/common.sh
source "$(dirname "$0")/lib/common.sh"
source "$ENG_SOURCE_DIR/tests/integration/lib/sync_env.sh"
require_tools curl jq python3 sqlite3

CLIENT="$ENG_SOURCE_DIR/tests/mocks/webhook_client.py"
DISK="$T/disk"
WOO_HOOK="faults-woo-$RANDOM$RANDOM"
QBO_HOOK="faults-qbo-$RANDOM$RANDOM"
RUN_ORDERS=${FAULTS_RUN_ORDERS:-120}

# ---- the small filesystem ----

faults_cleanup() {
    local pid
    for pid in "${TS_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${TS_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if mountpoint -q "$DISK" 2>/dev/null; then
        chattr -i "$DISK"/pos.db* 2>/dev/null
        umount "$DISK" 2>/dev/null || umount -l "$DISK" 2>/dev/null
    fi
    ts_cleanup
}
trap faults_cleanup EXIT

# mount_disk MB: a fresh ext4 filesystem of MB megabytes at $DISK (no blocks reserved for root)
mount_disk() {
    if mountpoint -q "$DISK" 2>/dev/null; then
        chattr -i "$DISK"/pos.db* 2>/dev/null
        umount "$DISK" || return 1
    fi
    mkdir -p "$DISK"
    rm -f "$T/disk.img"
    truncate -s "${1}M" "$T/disk.img" &&
        mkfs.ext4 -q -F -m 0 "$T/disk.img" >/dev/null 2>&1 &&
        mount -o loop "$T/disk.img" "$DISK" 2>"$T/mount.err"
}
fill_disk() { # every free block taken: big ones first, then the last small ones
    dd if=/dev/zero of="$DISK/filler" bs=1M status=none 2>/dev/null
    dd if=/dev/zero of="$DISK/filler.small" bs=4k status=none 2>/dev/null
    sync -f "$DISK/filler" 2>/dev/null
    true
}
free_disk() { rm -f "$DISK/filler" "$DISK/filler.small"; }
readonly_db() { chattr +i "$DISK/pos.db" "$DISK/pos.db-wal"; }
writable_db() { chattr -i "$DISK/pos.db" "$DISK/pos.db-wal" 2>/dev/null; true; }

if ! { command -v mkfs.ext4 >/dev/null && command -v chattr >/dev/null && mount_disk 64; }; then
    echo "skipped: this suite needs root to mount a small ext4 filesystem (mount -o loop):"
    cat "$T/mount.err" 2>/dev/null
    finish
fi
export DATABASE_URL="sqlite:$DISK/pos.db"
DB="$DISK/pos.db"
# The store through the engine's API (sq: DATABASE_URL); the file's own integrity is SQLite's
# check, run by the sqlite3 command on the file (a SQLite-only line: this suite is about the
# file on its disk).
integrity() { sqlite3 -cmd ".timeout 20000" "$DB" 'PRAGMA integrity_check'; }

# ---- webhook bursts ----

OUT=""
answers() { jq -s "[.[] | select($1)] | length" "$OUT" 2>/dev/null || echo 0; }
acks_at_least() { (($(answers '.status == 200') >= $1)); }
refusals_at_least() { (($(answers '.status == 503') >= $1)); }
commit_failures() {
    curl -s "$BASE/metrics" | awk '$1 == "tallysync_webhook_commit_failures_total" {print $2}'
}
commit_failures_at_least() {
    local n
    n=$(commit_failures)
    [[ "$n" =~ ^[0-9]+$ ]] && ((n >= $1))
}

# burst_fault NAME FAULT CLEAR: a burst, FAULT once 200 deliveries are stored, then CLEAR
burst_fault() {
    local name=$1 fault=$2 clear=$3
    echo "== $name during a webhook burst"
    mount_disk 64 || { fail "$name: a fresh filesystem" "$(cat "$T/mount.err")"; return 1; }
    OUT="$T/$name.jsonl"
    : >"$OUT"
    serve_start WORKERS=2 SYNC_DISPATCHER=off WOOCOMMERCE_WEBHOOK_SECRET="$WOO_HOOK" \
        QUICKBOOKS_WEBHOOK_SECRET="$QBO_HOOK" || return 1
    python3 "$CLIENT" burst "$BASE" "$WOO_HOOK" "$QBO_HOOK" 200000 "$OUT" --forged-every 10 \
        --concurrency 8 --tag "$name" >"$T/$name.summary" 2>"$T/$name.client.err" &
    local client=$!
    bg_track "$client"
    check "$name: the burst is under way (200 deliveries stored)" wait_for 60000 acks_at_least 200
    local before fault_at
    before=$(wc -l <"$OUT")
    fault_at=$SECONDS
    $fault
    check "$name: deliveries are refused with 503 once they cannot be stored" \
        wait_for 60000 refusals_at_least 30
    check "$name: the store refuses the burst's commits (60 counted in /metrics)" \
        wait_for 60000 commit_failures_at_least 60
    kill -TERM "$client" 2>/dev/null
    wait "$client" 2>/dev/null
    local after=$(($(wc -l <"$OUT") - before))
    echo "   $(answers '.status == 200') answered 200, $(answers '.status == 503') answered 503," \
        "$after answers after the fault"
    assert_eq "$name: no answer other than 200, 401 (forged) and 503, no dropped connection" 0 \
        "$(answers '.status != 200 and .status != 401 and .status != 503')"
    assert_eq "$name: no forged delivery is accepted" 0 "$(answers '.forged and .status == 200')"
    HTTP_AUTH=0 http GET /health
    assert_eq "$name: the engine still answers /health during the fault" 200 "$CODE"
    check "$name: ... and is alive" pid_alive "$SERVE_PID"
    assert_match "$name: its log says what failed" \
        'disk is full|disk I/O error|readonly|read-only|not permitted|cannot (store|write|commit)' \
        "$(grep -iE 'error|warn' "$SERVE_LOG" | tail -n 20)"
    # Store errors are rate-limited in the log (20 a minute, then counted only): a batch that
    # cannot be committed is not one line each (without the limit: hundreds in seconds). Counted
    # once at least 60 commits had failed (above), more than the limit lets through.
    local windows=$(((SECONDS - fault_at) / 60 + 2)) store_lines
    store_lines=$(grep -cE 'webhook ingest: (a batch of [0-9]+ could not be committed|an item of a batch)' \
        "$SERVE_LOG")
    echo "   $(commit_failures) commits failed, $(grep -c 'could not be committed' "$SERVE_LOG")" \
        "'could not be committed' lines, $store_lines ingest store errors logged"
    assert_lt "$name: the log's store errors of the burst are rate-limited (at most 20 a minute)" \
        "$store_lines" $((windows * 20 + 1))
    assert_match "$name: ... and it says the rest are only counted" \
        'the rest are counted, not logged' "$(grep 'webhook ingest:' "$SERVE_LOG")"

    $clear
    local again="$T/$name.again.jsonl"
    : >"$again"
    _again_ok() {
        : >"$again"
        python3 "$CLIENT" burst "$BASE" "$WOO_HOOK" "$QBO_HOOK" 20 "$again" --forged-every 0 \
            --concurrency 2 --tag "$name-again-$RANDOM" >/dev/null 2>&1
        [[ "$(jq -s '[.[] | select(.status == 200)] | length' "$again")" == 20 ]]
    }
    check "$name: once the fault is gone, deliveries are stored again (200) without a restart" \
        wait_for 30000 _again_ok
    cat "$again" >>"$OUT"

    serve_stop 30000
    assert_eq "$name: SIGTERM stops the engine (exit 0)" 0 "$STOP_RC"
    assert_eq "$name: PRAGMA integrity_check" ok "$(integrity)"
    serve_start WORKERS=2 SYNC_DISPATCHER=off WOOCOMMERCE_WEBHOOK_SECRET="$WOO_HOOK" \
        QUICKBOOKS_WEBHOOK_SECRET="$QBO_HOOK" || return 1
    HTTP_AUTH=0 http GET /ready
    assert_eq "$name: the engine restarts cleanly on the same file (/ready 200)" 200 "$CODE"
    jq -r 'select(.status == 200) | .id' "$OUT" | sort >"$T/$name.acked"
    sq "SELECT event_id FROM webhook_events WHERE event_id LIKE '$name-%'" | sort >"$T/$name.stored"
    assert_eq "$name: every delivery answered 200 is in webhook_events" 0 \
        "$(comm -23 "$T/$name.acked" "$T/$name.stored" | wc -l)"
    assert_eq "$name: ... exactly once" "$(wc -l <"$T/$name.stored")" "$(sort -u "$T/$name.stored" | wc -l)"
    jq -r 'select(.forged) | .id' "$OUT" | sort >"$T/$name.forged"
    assert_eq "$name: no forged delivery is stored" 0 "$(comm -12 "$T/$name.forged" "$T/$name.stored" | wc -l)"
    serve_stop 30000

    # A start while the fault lasts: up and answering, or a refusal that names the cause; never
    # a hang or a crash.
    $fault
    run_bin "$T/$name.start" serve
    if [[ "$RC" == 0 ]]; then
        fail "$name: a start under the fault exits 0 or stays up?" "$ERR"
    else
        echo "   $(tail -n 1 <<<"$ERR" | cut -c1-240)"
        assert_match "$name: a start under the fault is refused, naming the cause" \
            'disk is full|disk I/O error|readonly|read-only|not permitted' "$ERR"
        assert_ne "$name: ... without a crash or a hang (exit 1, not a signal or timeout)" \
            "$((RC >= 124))" 1
    fi
    $clear
}

# ---- sync runs ----

run_records() { sq "SELECT COUNT(*) FROM sync_records WHERE run_id = '$SYNC_ID'"; }
run_started() { (($(run_records) >= 5)); }
store_error_logged() { grep -iqE 'disk is full|disk I/O error|readonly|read-only|not permitted' "$SERVE_LOG"; }

# run_fault NAME FAULT CLEAR FIRST_ORDER: a full run of RUN_ORDERS new orders, FAULT once it has
# committed records, CLEAR, restart; the run resumes and every order is invoiced exactly once.
run_fault() {
    local name=$1 fault=$2 clear=$3
    echo "== $name during a sync run"
    # a fresh filesystem, database and pair of mocks: the WAL and the free pages an earlier
    # scenario left would absorb the run's writes, and the fault would not bite
    mount_disk 64 || { fail "$name: a fresh filesystem" "$(cat "$T/mount.err")"; return 1; }
    # sync_mocks waits for the files the mocks write their ports to: not an earlier pair's
    rm -f "$T/woo.out" "$T/qbo.out"
    sync_mocks
    serve_start WORKERS=2 || return 1
    sync_credentials
    seed_orders "$4" "$RUN_ORDERS" 23 11 2026-02-01T00:00:00
    # slow the target a little so that the fault lands mid-run on any machine
    curl -s -X POST "$QBO/_mock/config" -d '{"slow_ms": 30}' >/dev/null
    start_run '{"mode": "full", "filters": {"per_page": 10}}'
    assert_eq "$name: the run starts" 202 "$CODE"
    check "$name: the run has committed records" wait_for 120000 run_started
    $fault
    check "$name: the engine logs the store failure" wait_for 60000 store_error_logged
    grep -iE 'disk is full|disk I/O error|readonly|read-only|not permitted' "$SERVE_LOG" | head -n 2 | cut -c1-300
    curl -s -X POST "$QBO/_mock/config" -d '{"slow_ms": 0}' >/dev/null
    http GET "/api/sync/status/$SYNC_ID"
    assert_eq "$name: the run's status is readable during the fault" 200 "$CODE"
    assert_jq "$name: ... and does not claim success" "$BODY" '.state != "succeeded" and .state != "partial"'
    echo "   state during the fault: $(jq -c '{state, error, counts: (.counts // .records // null)}' <<<"$BODY")"
    HTTP_AUTH=0 http GET /health
    assert_eq "$name: the engine still answers /health" 200 "$CODE"
    $clear
    # The job whose end the store refused is recorded once the store takes writes again (not
    # after its 10-minute lease, ENG_SYNC_LEASE_MS): the run goes on and ends by itself.
    _run_over_now() { _run_over; }
    check "$name: once the fault is gone, the run ends without a restart (60 s)" \
        wait_for 60000 _run_over_now
    serve_stop 30000
    assert_eq "$name: SIGTERM stops the engine (exit 0)" 0 "$STOP_RC"
    assert_eq "$name: PRAGMA integrity_check" ok "$(integrity)"
    serve_start WORKERS=2 || return 1
    HTTP_AUTH=0 http GET /ready
    assert_eq "$name: the engine restarts cleanly on the same file (/ready 200)" 200 "$CODE"
    wait_run 240000
    assert_jq "$name: the run resumes after the restart and succeeds" "$RUN" '.state == "succeeded"'
    echo "   the run after the restart: $(jq -c '{state, error}' <<<"$RUN")"
    local total invoices docs
    total=$(woo_total)
    invoices=$(qbo_state | jq '.counts.Invoice // 0')
    docs=$(qbo_state | jq '[.entities.Invoice[]?.DocNumber] | unique | length')
    assert_eq "$name: every order is invoiced exactly once in QuickBooks" "$total" "$invoices"
    assert_eq "$name: ... no DocNumber twice" "$invoices" "$docs"
    serve_stop 30000
}

burst_fault disk_full fill_disk free_disk
burst_fault read_only readonly_db writable_db
run_fault run_disk_full fill_disk free_disk 8100001
run_fault run_read_only readonly_db writable_db 8200001

finish
