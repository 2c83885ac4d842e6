#!/usr/bin/env bash
# tools/start.sh - set up, build and start the engine on its embedded defaults:
# SQLite at ./data/pos.db, API on 127.0.0.1:8923 (override with DATABASE_URL, API_HOST, API_PORT
# or a .env file). On the first start it writes a fresh INTEGRATION_ENCRYPTION_KEY and API_TOKEN
# into ./.env (mode 600) and prints the token once. Ctrl-C stops it.
# `tools/start.sh --demo` starts the sandbox instead: mock WooCommerce, QuickBooks and Supabase
# servers and the engine on ./data/demo with a tenant wired to them (tools/demo.sh says how).
# Either way the first line once the engine is up is the console's address.
# In the foreground the engine's info lines are left out (warnings and errors are shown) after
# the console's address (with where the token is) and a line saying how to stop it; set LOG_LEVEL (in the
# environment or .env) to see every line.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

usage() {
  cat <<EOF
usage: tools/start.sh [--demo]

  (no argument)  install what is missing, build, and start the engine: SQLite at ./data/pos.db,
                 API on 127.0.0.1:8923 (DATABASE_URL, API_HOST, API_PORT or ./.env change them)
  --demo         start the sandbox instead: mock WooCommerce, QuickBooks and Supabase servers and
                 an engine on ./data/demo wired to them (fresh each start)
  --help         show this

Ctrl-C stops it.
EOF
}
demo=0
case "$#:${1:-}" in
  0:) ;;
  1:--demo) demo=1 ;;
  1:--help | 1:-h) usage; exit 0 ;;
  *)
    hint=""
    [[ ${1:-} == --d* || ${1:-} == -d* ]] && hint=" (did you mean --demo?)"
    echo "start: unknown argument '$*'$hint" >&2
    usage >&2
    exit 2 ;;
esac

if ((demo)); then tools/setup.sh --test; else tools/setup.sh; fi

# The build, briefly: one line that counts up on a terminal, the compiler's output only when it
# fails (kept in build/build.log either way).
echo "start: building tallysync in build/ (the first build takes about 20 s)" >&2
mkdir -p build
log=build/build.log
tty=0
[[ -t 2 ]] && tty=1
progress() {
  local line pct
  while IFS= read -r line; do
    printf '%s\n' "$line" >>"$log"
    if ((tty)) && [[ $line =~ ^\[\ *([0-9]+)%\] ]]; then
      pct=${BASH_REMATCH[1]}
      printf '\rstart: building... %3d%%' "$pct" >&2
    fi
  done
  if ((tty)); then printf '\r\033[K' >&2; fi
}
: >"$log"
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENG_SANITIZE= 2>&1 &&
  cmake --build build -j"$(nproc)" 2>&1; } | progress; then
  tail -n 40 "$log" >&2
  echo "start: the build failed (the whole output is in $root/$log)" >&2
  exit 1
fi

umask 077
touch .env
if [[ -z "${INTEGRATION_ENCRYPTION_KEY:-}" ]] && ! grep -q '^INTEGRATION_ENCRYPTION_KEY=' .env; then
  echo "INTEGRATION_ENCRYPTION_KEY=$(build/tallysync keygen)" >>.env
  echo "start: wrote a new INTEGRATION_ENCRYPTION_KEY to $root/.env: back it up; without it the stored credentials are lost" >&2
fi
token_where="API_TOKEN in $root/.env"
if [[ -n "${API_TOKEN:-}" ]]; then
  token_where="API_TOKEN of your environment"
elif ! grep -q '^API_TOKEN=' .env; then
  token=$(build/tallysync keygen | tr '+/' '-_' | tr -d '=')
  echo "API_TOKEN=$token" >>.env
  echo "start: administrator token (also in $root/.env): $token" >&2
fi
((demo)) && exec tools/demo.sh

# The engine's log, for a person: the "listening" line becomes one sentence; info lines are left
# out unless LOG_LEVEL was chosen. Survives Ctrl-C so the engine's last words still show.
chosen() { [[ -n "${!1:-}" ]] || grep -qE "^ *(export +)?$1=" .env; }
verbose=0
if chosen LOG_LEVEL || chosen LOG_FORMAT; then verbose=1; fi
show_log() {
  trap '' INT TERM
  local line host port
  while IFS= read -r line; do
    if [[ $line == '{'*'"msg":"listening"'* ]]; then
      host=$(sed -E 's/.*"host":"([^"]*)".*/\1/' <<<"$line")
      port=$(sed -E 's/.*"port":"?([0-9]+).*/\1/' <<<"$line")
      # an address a browser can open: the wildcard listeners by their loopback
      case $host in 0.0.0.0) host=127.0.0.1 ;; ::) host=::1 ;; esac
      [[ $host == *:* ]] && host="[$host]"
      ((verbose)) && printf '%s\n' "$line"
      echo "start: console http://$host:$port/ (log in with the administrator token: $token_where)"
      echo "start: tallysync is serving http://$host:$port; Ctrl-C stops it"
    elif [[ $line == '{'*'"msg":"stopping"'* ]] && ((!verbose)); then
      echo "start: stopping"
    elif ((verbose)) || [[ $line != '{'*'"level":"info"'* && $line != '{'*'"level":"debug"'* ]]; then
      printf '%s\n' "$line"
    fi
  done
}
chosen LOG_FORMAT || export LOG_FORMAT=json # the filter reads JSON lines
exec build/tallysync serve 2> >(show_log >&2)
