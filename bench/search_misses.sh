#!/bin/bash
# Uncached searches only, on a warm server: p50/p99 per run (bench/README.md, "Figures on a quieter machine").
# Usage: bench/search_misses.sh DATABASE_URL [RUNS]   (a database seeded by bench/seed.py; Redis db 13 is flushed)
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL="$1" REDIS_URL=redis://127.0.0.1:6379/13 PORT=18777 APP_ENV=development \
    LOG_LEVEL=WARNING ACCESS_LOG=false LOG_FORMAT=json
SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
DATA_ENCRYPTION_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
export SECRET_KEY DATA_ENCRYPTION_KEY
setsid .venv/bin/gongxin serve > /tmp/search_misses.server.log 2>&1 &
server=$!
trap 'kill -INT -- -$server 2>/dev/null || true' EXIT
for _ in $(seq 120); do curl -sf localhost:$PORT/readyz > /dev/null && break; sleep 0.5; done
for _ in $(seq "${2:-4}"); do
    wrk -t2 -c10 -d3s -s bench/search_rotating.lua "http://127.0.0.1:$PORT" > /dev/null  # warm, other searches
    redis-cli -n 13 flushdb > /dev/null  # every search_index.lua request a miss from here
    echo "load $(cut -d' ' -f1 /proc/loadavg) | $(wrk -t2 -c10 -d2s --latency -s bench/search_index.lua \
        "http://127.0.0.1:$PORT" | grep -E '^ +(50|99)%|Requests/sec|requests in' | tr -s ' ' | tr '\n' ' ')"
done
