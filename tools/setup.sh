#!/usr/bin/env bash
# tools/setup.sh - install what tallysync needs from Debian's packages, and nothing else.
# Idempotent and quiet when everything is already there; needs root (or sudo) only to install.
#   tools/setup.sh          build and run dependencies, then the web console's bundle (tools/build_web.sh:
#                           npm ci from web/package-lock.json, esbuild into web/dist/)
#   tools/setup.sh --test   also what the test suite uses (curl, jq, python3, openssl, valgrind, clang,
#                           chromium for the console's browser tests, postgresql: the server
#                           tools/pg_server.sh starts for the PostgreSQL store's tests)
#   tools/setup.sh --bench  also what bench/run.sh uses: the load generator and the yardstick of
#                           ingest (wrk, nginx), the record path's Node.js peer (nodejs), GNU time
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config liblua5.4-dev libcurl4-openssl-dev
            libsqlite3-dev libpq-dev libmbedtls-dev libmicrohttpd-dev libmimalloc2.0 ca-certificates
            nodejs)
# sqlite3: only the tests' lines that check SQLite's file itself (journal mode, integrity_check, a
# WAL checkpoint from another process); the rest read the store through tests/tools/store_sql.c
test_pkgs=(curl jq python3 python3-cryptography openssl valgrind sqlite3 procps clang chromium
           fonts-dejavu-core postgresql)
bench_pkgs=(wrk nginx-light nodejs time)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${test_pkgs[@]}")
fi
if [[ "${1:-}" == "--bench" ]]; then
  want+=("${test_pkgs[@]}" "${bench_pkgs[@]}")
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# Debian ships npm as its own package; NodeSource's nodejs carries it (and conflicts with it).
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi
if [[ ${#missing[@]} -eq 0 ]]; then
  exec "$(dirname "$0")/build_web.sh"
fi

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's postgresql makes and starts a "main" cluster (port 5432) when it is first installed;
# the tests start their own server (tools/pg_server.sh), so a cluster this install started is
# stopped again (its files stay: `pg_ctlcluster VERSION main start` starts it).
if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v pg_lsclusters >/dev/null; then
  pg_lsclusters -h 2>/dev/null | while read -r version name _ status _; do
    if [[ $name == main && $status == online* ]]; then
      echo "setup: stopping the cluster $version/main the postgresql package started" >&2
      $sudo pg_ctlcluster "$version" main stop || true
    fi
  done
fi

exec "$(dirname "$0")/build_web.sh"
