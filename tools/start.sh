#!/usr/bin/env bash
# tools/start.sh - set up, build and start the engine on its embedded defaults:
# SQLite at ./data/pos.db, API on 127.0.0.1:8923 (override with DATABASE_URL, API_HOST, API_PORT
# or a .env file). On the first start it writes a fresh INTEGRATION_ENCRYPTION_KEY and API_TOKEN
# into ./.env (mode 600) and prints the token once. Ctrl-C stops it.
# `tools/start.sh --demo` starts the sandbox instead: mock WooCommerce and QuickBooks servers and
# the engine on ./data/demo with a tenant wired to them (tools/demo.sh says how to use it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == "--demo" ]]; then tools/setup.sh --test; else tools/setup.sh; fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENG_SANITIZE= >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

umask 077
touch .env
if [[ -z "${INTEGRATION_ENCRYPTION_KEY:-}" ]] && ! grep -q '^INTEGRATION_ENCRYPTION_KEY=' .env; then
  echo "INTEGRATION_ENCRYPTION_KEY=$(build/tallysync keygen)" >>.env
  echo "start: wrote a new INTEGRATION_ENCRYPTION_KEY to .env: back it up; without it the stored credentials are lost" >&2
fi
if [[ -z "${API_TOKEN:-}" ]] && ! grep -q '^API_TOKEN=' .env; then
  token=$(build/tallysync keygen | tr '+/' '-_' | tr -d '=')
  echo "API_TOKEN=$token" >>.env
  echo "start: administrator token (also in .env): $token" >&2
fi
[[ "${1:-}" == "--demo" ]] && exec tools/demo.sh
exec build/tallysync serve
