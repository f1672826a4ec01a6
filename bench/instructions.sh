#!/usr/bin/env bash
# Instructions the server worker executes per check-in, counted by callgrind: the same figure on
# every run (within about 1 %), whatever else the machine is doing, where req/s here moves by 30 %.
# Use it to compare two versions of the code; bench/README.md ("third pass") has the figures.
#
#   bench/instructions.sh [MEMBERS]        (default 1,000; about a minute and a half)
#
# Needs valgrind, wrk, and PostgreSQL + Redis on 127.0.0.1 (as `make bench`). It makes a scratch
# database gongxin_instructions, runs `gongxin serve` (one worker) under callgrind with counting
# off, turns counting on for a burst of MEMBERS check-ins (bench/checkin_burst.lua, as the
# checkin-burst row sends them) and off again once every response is in, and divides the worker's
# count by MEMBERS. The server runs about 50 times slower under callgrind, so batches are larger
# than at full speed: compare figures from this script with each other, not with req/s.
set -euo pipefail

MEMBERS=${1:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}  # PYTHON=...: another checkout's code with this venv
export PYTHONPATH="$ROOT"
PORT=${INSTRUCTIONS_PORT:-8471}
# Several people may count at once on one machine: each with a database and a Redis db of their own.
DB=${BENCH_PG_DATABASE:-${INSTRUCTIONS_DB:-gongxin_instructions}}
REDIS_DB=${BENCH_REDIS_DB:-7}
WORK=$(mktemp -d /tmp/gongxin-instructions.XXXXXX)
# Only the server this script started: `kill 0` (SERVER unset, a failure before it started) would
# signal the caller's whole process group, and a pattern naming only the tool would match another
# person's run; this run's callgrind processes are the ones writing into its own $WORK.
trap 'if [ -n "${SERVER:-}" ]; then kill -INT "$SERVER" 2>/dev/null || true; sleep 2; fi
  for pid in $(pgrep -f "$WORK/gongxin-instructions" || true); do kill -9 "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"' EXIT

export APP_ENV=development WORKERS=1 HOST=127.0.0.1 PORT="$PORT" PUBLIC_BASE_URL="http://127.0.0.1:$PORT" \
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$DB" REDIS_URL="redis://127.0.0.1:6379/$REDIS_DB" SERVE_NOTIFICATIONS=false \
  WECHAT_EMULATOR=true WECHAT_API_BASE="http://127.0.0.1:$((PORT + 1))" LOG_LEVEL=WARNING ACCESS_LOG=false \
  SECRET_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(48))')" \
  DATA_ENCRYPTION_KEY="$("$PY" -c 'import secrets; print(secrets.token_urlsafe(48))')"

psql -q -h 127.0.0.1 -U postgres -d test -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
"$PY" -m backend.cli migrate >/dev/null
"$PY" -m backend.cli demo-data >/dev/null

cd "$WORK"
valgrind --tool=callgrind --instr-atstart=no --trace-children=yes \
  --callgrind-out-file="$WORK/gongxin-instructions.%p" "$PY" -m backend.cli serve >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 1; done

cd "$ROOT"
"$PY" bench/checkin_data.py prepare --count "$MEMBERS" --tokens "$WORK/tokens.txt" >"$WORK/prepare.json"
ACTIVITY=$("$PY" -c "import json, sys; print(json.load(open(sys.argv[1]))['activity_id'])" "$WORK/prepare.json")
CODE=$("$PY" bench/checkin_data.py code --activity "$ACTIVITY" | "$PY" -c "import json, sys; print(json.load(sys.stdin)['code'])")
BODY="{\"code\": \"$CODE\", \"latitude\": 22.5431, \"longitude\": 114.0579, \"accuracy\": 5}"

callgrind_control -i on >/dev/null
wrk -t2 -c64 -d600s -s bench/checkin_burst.lua "http://127.0.0.1:$PORT/api/v1/activities/$ACTIVITY/checkins" \
  -- "$WORK/tokens.txt" "$BODY" "$WORK/done." 2 >"$WORK/wrk.txt" &
WRK=$!
while [ ! -f "$WORK/done.0" ] || [ ! -f "$WORK/done.1" ]; do sleep 0.5; done
callgrind_control -i off >/dev/null
kill -INT "$WRK" 2>/dev/null || true
read -r CREATED_0 _ OTHER_0 <"$WORK/done.0"
read -r CREATED_1 _ OTHER_1 <"$WORK/done.1"
callgrind_control -d >/dev/null
sleep 2

# The worker is the process that counted the most while counting was on.
BEST=0
for f in "$WORK"/gongxin-instructions.*; do
  n=$({ grep -E "^totals:" "$f" || true; } | head -1 | awk '{print $2}' || true)
  if [ -n "$n" ] && [ "$n" -gt "$BEST" ]; then BEST=$n; fi
done
echo "responses: 201=$((CREATED_0 + CREATED_1)) other=$((OTHER_0 + OTHER_1))"
echo "$((BEST / MEMBERS)) instructions per check-in (server worker, $MEMBERS members)"
