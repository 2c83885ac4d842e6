#!/usr/bin/env bash
# tools/start.sh - set up, build and start the engine on its embedded defaults:
# SQLite at ./data/pos.db, API on 127.0.0.1:8923 (override with DATABASE_URL, API_HOST, API_PORT
# or a .env file). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DENG_SANITIZE= >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec build/tallysync serve
