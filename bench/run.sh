#!/usr/bin/env bash
# run.sh — what `make bench` runs once bin/ and the two baselines are built.
#
# It starts the system it measures and measures it on loopback, every figure
# in the same run so that they are comparable:
#
#   1. A throwaway PostgreSQL cluster (deploy/lib/pg.sh) in a temporary
#      directory; DATABASE_URL from the environment is ignored (unset), so
#      the benchmark never touches a real database.
#   2. bin/3min migrate, one account, one MCP key (all scopes).
#   3. One bin/edge and $WORKERS bin/worker processes, then $ENDPOINTS
#      endpoints created through MCP (tools/call endpoints_create, 3-6 fields
#      each, every other one deployed after a sandbox call through the
#      gateway), so the data is what a real account holds.
#   4. Baselines: the HTTP ceiling (bench_http_ceiling, a bare evhttp server
#      answering a fixed JSON body) driven by the same wrk script as the edge;
#      the database ceiling (bench_pg_ceiling: endpoints_list's SQL issued
#      directly with libpq on 4 connections).
#   5. wrk at $CLIENTS and at 64 concurrent connections against MCP
#      tools/list and tools/call endpoints_list, each after a short warm-up.
#      Any non-2xx answer or socket error fails the run.
#   6. VmRSS/VmHWM of the edge and of each worker, sampled from /proc during
#      the 64-client runs.
#   7. The gateway: POST /api/v1/data/{slug} with the sandbox key at $CLIENTS
#      connections (GATEWAY_RATE_LIMIT=0), beside the gateway's database
#      ceiling (bench_pg_ceiling -f: the worker's statements for one POST, as
#      one transaction); the records written are counted after the run.
#   8. logs_search: $LOGS_ROWS call-log rows of $LOGS_ACCOUNTS accounts
#      generated with SQL (bench/logs_data.sql), then tools/call logs_search
#      with one of those accounts' MCP key at $LOGS_CLIENTS connections (a
#      query term; status failed). SKIP when tools/list does not list it.
#   9. The report on stdout and in bench/out/latest.txt (raw wrk output in
#      bench/out/ too), each line beside the targets of the foundation issue.
#
# Environment: DURATION (10s), WARMUP (2s), CLIENTS (32), WORKERS (2),
# ENDPOINTS (60), WRK_THREADS (2), BIN_DIR (bin), PROFILE (0; 1 records a
# whole-machine `perf record -a -g` of the endpoints_list and gateway POST
# runs at CLIENTS into bench/out/perf-<line>.data), LOGS_ROWS (1000000; 0
# skips the logs_search line), LOGS_ACCOUNTS (1000), LOGS_CLIENTS (8), LINES
# ("mcp gateway logs": the groups of lines to measure; e.g. LINES=gateway),
# GW_DURABLE (1; 0 skips the durable gateway lines, its DB ceiling and the POST
# with synchronous_commit = on, which carry the gateway targets).
# WORKER_THREADS and the like
# pass through to the workers. Exit status 0 means the run completed (a missed
# target is reported, not an error); 1 means it could not measure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=deploy/lib/pg.sh
source "$ROOT/deploy/lib/pg.sh"

log() { printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "$*"; exit 1; }

BIN_DIR=${BIN_DIR:-$ROOT/bin}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CLIENTS=${CLIENTS:-32}
WORKERS=${WORKERS:-2}
ENDPOINTS=${ENDPOINTS:-60}
WRK_THREADS=${WRK_THREADS:-2}
LOGS_ROWS=${LOGS_ROWS:-1000000}
LOGS_ACCOUNTS=${LOGS_ACCOUNTS:-1000}
LOGS_CLIENTS=${LOGS_CLIENTS:-8}
LINES=${LINES:-mcp gateway logs}   # which groups of lines to measure
RUN_MCP=0 RUN_GATEWAY=0 RUN_LOGS=0
for l in $LINES; do
  case $l in
    mcp) RUN_MCP=1 ;; gateway) RUN_GATEWAY=1 ;; logs) RUN_LOGS=1 ;;
    *) echo "LINES: unknown group '$l' (mcp, gateway, logs)" >&2; exit 1 ;;
  esac
done
OUT_DIR=$ROOT/bench/out
PG_THREADS=4   # the issue's database ceiling is stated for 4 connections

[[ $CLIENTS =~ ^[1-9][0-9]*$ ]] || die "CLIENTS must be a positive number"
[[ $WORKERS =~ ^[1-9][0-9]?$ ]] || die "WORKERS must be a number from 1 to 99"
[[ $ENDPOINTS =~ ^[1-9][0-9]*$ ]] || die "ENDPOINTS must be a positive number"
[[ $DURATION =~ ^[1-9][0-9]*s$ ]] || die "DURATION must be whole seconds, e.g. 10s"
[[ $WARMUP =~ ^[0-9]+s$ ]] || die "WARMUP must be whole seconds, e.g. 2s"
[[ $LOGS_ROWS =~ ^[0-9]+$ ]] || die "LOGS_ROWS must be a number (0 skips the logs_search line)"
[[ $LOGS_ACCOUNTS =~ ^[1-9][0-9]*$ ]] || die "LOGS_ACCOUNTS must be a positive number"
[[ $LOGS_CLIENTS =~ ^[1-9][0-9]*$ ]] || die "LOGS_CLIENTS must be a positive number"
for b in 3min edge worker bench_http_ceiling bench_pg_ceiling; do
  [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b is missing; run make bench (it builds them)"
done
for t in wrk curl jq cc sha256sum; do
  command -v "$t" >/dev/null || die "$t is not installed (make deps installs wrk; jq and cc are needed too)"
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
# Connections the kernel dropped because a listen queue was full (all
# listeners of this network namespace): each costs its client a 1 s SYN
# retransmit, which shows as a second-long answer in wrk's tail.
listen_drops() { awk '/^TcpExt:/ { if (!h) { split($0, n); h = 1 } else { split($0, v); for (i in n) if (n[i] == "ListenDrops") print v[i] } }' /proc/net/netstat; }
DROPS_BEFORE=$(listen_drops)
unset DATABASE_URL
TMP=$(mktemp -d /tmp/3min-bench.XXXXXX)
chmod 755 "$TMP"   # the cluster's user (nobody, when we are root) must reach pg/
mkdir -p "$OUT_DIR" "$TMP/state"
pids=()          # every process we start, stopped by PID at exit
started_pg=0

# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  local rc=$? p
  trap '' INT TERM
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$started_pg" = 1 ]; then pg_destroy "$TMP/pg" >/dev/null 2>&1 || log "PostgreSQL did not stop cleanly"; fi
  if [ "$rc" != 0 ] && [ -d "$TMP" ]; then
    # Keep the process logs of a failed run where a person can read them.
    mkdir -p "$OUT_DIR/failed"
    cp "$TMP"/*.log "$OUT_DIR/failed/" 2>/dev/null || true
    log "process logs of the failed run: $OUT_DIR/failed/"
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'trap "" INT TERM; exit 130' INT   # later signals must not cut the cleanup short
trap 'trap "" INT TERM; exit 143' TERM

# A loopback TCP port nobody listens on now.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$(( 20000 + RANDOM % 30000 ))
    ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return 0; }
  done
  die "no free port found"
}

wait_http() {   # URL SECONDS: until it answers 200
  local url=$1 limit=$2
  for _ in $(seq $(( limit * 10 ))); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null)" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}

# ---- the database, the account, the key --------------------------------

log "starting PostgreSQL"
started_pg=1
pg_start "$TMP/pg" >/dev/null || die "PostgreSQL did not start"
"$BIN_DIR/3min" migrate >/dev/null || die "migration failed"
SOCK=$(sed -n 's/.*host=\([^&]*\).*/\1/p' <<<"$DATABASE_URL")
psql_owner() { "$PG_BIN/psql" "$DATABASE_URL" -XtAq "$@"; }
# The cluster's log (deploy/lib/pg.sh: in $TMP/pg, or where $TMP/pg/location
# says) shows what PostgreSQL did behind a line's tail: checkpoints
# (log_checkpoints is on by default in PostgreSQL 15) and autovacuum runs.
PG_LOG=$TMP/pg/postgres.log
# WAL written and how often a backend found the WAL buffers full and had to
# write them itself (pg_stat_wal; the backends report it within a second).
pg_wal_stats() { psql_owner -c "SELECT wal_bytes, wal_buffers_full FROM pg_stat_wal" | tr '|' ' '; }
[ -s "$TMP/pg/location" ] && PG_LOG=$(cat "$TMP/pg/location")/postgres.log
psql_owner -c "ALTER SYSTEM SET log_checkpoints = on" -c "ALTER SYSTEM SET log_autovacuum_min_duration = 0" \
  -c "ALTER SYSTEM SET log_timezone = 'UTC'" \
  -c "SELECT pg_reload_conf()" >/dev/null || die "could not set the cluster's log settings"
EMAIL=bench-$$@bench.example.com
ACCOUNT_ID=$(printf 'bench-password-%s\n' "$$" | "$BIN_DIR/3min" account create --email "$EMAIL" --password -) ||
  die "creating the account failed"
KEY=$("$BIN_DIR/3min" mcp-key create --email "$EMAIL" --name bench 2>/dev/null) || die "creating the MCP key failed"
[[ $ACCOUNT_ID =~ ^[0-9a-f-]{36}$ ]] || die "3min account create printed '$ACCOUNT_ID', not an id"
# The gateway lines make tens of thousands of calls: enterprise counts them
# as overage instead of refusing them with 402 like the free plan's quota.
"$BIN_DIR/3min" account plan --email "$EMAIL" --plan enterprise >/dev/null || die "setting the account's plan failed"

# ---- the system ------------------------------------------------------------

PORT=$(free_port)
EDGE=127.0.0.1:$PORT
MCP_URL=http://$EDGE/api/mcp
export STATE_DIR=$TMP/state EDGE_LISTEN=$EDGE MCP_RATE_LIMIT=0 GATEWAY_RATE_LIMIT=0 ACCESS_LOG=0 LOG_LEVEL=warn
"$BIN_DIR/edge" >"$TMP/edge.log" 2>&1 &
EDGE_PID=$!
pids+=("$EDGE_PID")
WORKER_PIDS=()
for i in $(seq "$WORKERS"); do
  "$BIN_DIR/worker" >"$TMP/worker$i.log" 2>&1 &
  WORKER_PIDS+=($!)
  pids+=($!)
done
wait_http "http://$EDGE/readyz" 30 || die "the edge did not become ready (see $TMP/edge.log)"
log "edge (pid $EDGE_PID) on $EDGE with $WORKERS workers (${WORKER_PIDS[*]})"

# One MCP request with curl (with KEY, or the key given second); prints the
# body, fails on a non-200 status.
mcp() {
  local body=$1 key=${2:-$KEY} out code
  out=$(curl -sS -w '\n%{http_code}' -X POST "$MCP_URL" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-06-18' \
    -H "Authorization: Bearer $key" --data-binary "$body") || return 1
  code=${out##*$'\n'}
  [ "$code" = 200 ] || { printf 'HTTP %s: %s\n' "$code" "${out%$'\n'*}" >&2; return 1; }
  printf '%s\n' "${out%$'\n'*}"
}

# A tools/call result that is a real result, not an error.
tool_ok() {
  jq -e '.result != null and (.result.isError | not) and .result.structuredContent != null' >/dev/null
}

LIST_BODY='{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
CALL_BODY='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"endpoints_list","arguments":{}}}'

if [ "$RUN_MCP" = 1 ]; then
log "creating $ENDPOINTS endpoints through MCP"
FIELD_SETS=(
  '[{"name":"email","type":"string","required":true,"searchable":true,"validation":{"format":"email"}},{"name":"name","type":"string","required":true,"validation":{"min_length":1,"max_length":100}},{"name":"subscribed","type":"boolean"}]'
  '[{"name":"sku","type":"string","required":true,"searchable":true,"validation":{"pattern":"^[A-Z0-9-]{3,20}$"}},{"name":"title","type":"string","required":true},{"name":"price","type":"number","required":true,"validation":{"minimum":0}},{"name":"tags","type":"array"},{"name":"in_stock","type":"boolean"}]'
  '[{"name":"message","type":"string","required":true,"validation":{"max_length":2000}},{"name":"rating","type":"number","validation":{"minimum":1,"maximum":5}},{"name":"page","type":"string","validation":{"format":"url"}},{"name":"meta","type":"object"}]'
  '[{"name":"title","type":"string","required":true,"searchable":true},{"name":"status","type":"string","validation":{"enum":["open","in_progress","done"]}},{"name":"due","type":"string","validation":{"format":"date-time"}},{"name":"assignee","type":"string"},{"name":"estimate","type":"number","validation":{"minimum":0}},{"name":"labels","type":"array"}]'
)
KINDS=(Subscribers Products Feedback Tasks)
# A body each field set accepts: a deploy needs one sandbox call first.
SAMPLE_BODIES=(
  '{"email":"ada@example.com","name":"Ada"}'
  '{"sku":"ABC-123","title":"Lamp","price":12.5}'
  '{"message":"Great service"}'
  '{"title":"Write the report"}'
)
declare -A SLUGS
# One gateway POST with the endpoint's sandbox key (from bin/3min).
sandbox_call() {   # ENDPOINT_NUMBER KIND
  local slug=${SLUGS[$1]} key code
  key=$("$BIN_DIR/3min" endpoint keys --email "$EMAIL" --endpoint "$slug" | sed -n 's/^sandbox_key //p')
  code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://$EDGE/api/v1/data/$slug" \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $key" --data-binary "${SAMPLE_BODIES[$2]}")
  [ "$code" = 202 ]
}
for i in $(seq "$ENDPOINTS"); do
  k=$(( i % ${#KINDS[@]} ))
  args=$(jq -cn --arg n "${KINDS[$k]} $i" --arg d "Bench data set $i: ${KINDS[$k],,} collected by the bench account" \
    --argjson f "${FIELD_SETS[$k]}" '{name:$n, description:$d, fields:$f}')
  created=$(mcp "$(jq -cn --argjson a "$args" '{jsonrpc:"2.0",id:1,method:"tools/call",params:{name:"endpoints_create",arguments:$a}}')") ||
    die "endpoints_create #$i failed"
  printf '%s' "$created" | tool_ok || die "endpoints_create #$i failed: $created"
  SLUGS[$i]=$(jq -r '.result.structuredContent.endpoint.slug' <<<"$created")
  if (( i % 2 == 0 )); then
    sandbox_call "$i" "$k" || die "the sandbox call to endpoint #$i failed"
    mcp "$(jq -cn --arg e "${KINDS[$k]} $i" '{jsonrpc:"2.0",id:1,method:"tools/call",params:{name:"endpoints_deploy",arguments:{endpoint:$e,note:"first release"}}}')" |
      tool_ok || die "endpoints_deploy #$i failed"
  fi
done

# The newest endpoint (first on the page) deployed and then edited: its
# sandbox differs from production, so the page holds all three states
# (never deployed, deployed and unchanged, changed since the deploy).
k=$(( ENDPOINTS % ${#KINDS[@]} ))
NEWEST="${KINDS[$k]} $ENDPOINTS"
if (( ENDPOINTS % 2 == 1 )); then
  sandbox_call "$ENDPOINTS" "$k" || die "the sandbox call to $NEWEST failed"
  mcp "$(jq -cn --arg e "$NEWEST" '{jsonrpc:"2.0",id:1,method:"tools/call",params:{name:"endpoints_deploy",arguments:{endpoint:$e}}}')" |
    tool_ok || die "endpoints_deploy of $NEWEST failed"
fi
mcp "$(jq -cn --arg e "$NEWEST" --argjson f "${FIELD_SETS[$k]}" '{jsonrpc:"2.0",id:1,method:"tools/call",params:{name:"endpoints_update",arguments:{endpoint:$e,fields:($f + [{name:"notes",type:"string"}])}}}')" |
  tool_ok || die "endpoints_update of $NEWEST failed"


# Spot checks: the bodies wrk sends give real results.
ntools=$(mcp "$LIST_BODY" | jq -e '.result.tools | length') || die "tools/list did not answer with tools"
[ "$ntools" -ge 5 ] || die "tools/list listed only $ntools tools"
page=$(mcp "$CALL_BODY") || die "endpoints_list failed"
printf '%s' "$page" | tool_ok || die "endpoints_list answered with an error: $page"
nitems=$(printf '%s' "$page" | jq '.result.structuredContent.items | length')
expect=$(( ENDPOINTS < 20 ? ENDPOINTS : 20 ))
[ "$nitems" = "$expect" ] || die "endpoints_list returned $nitems items, expected $expect"
# has_undeployed_changes: true for the edited and the never-deployed ones, false for the rest.
printf '%s' "$page" | jq -e --arg n "$NEWEST" '.result.structuredContent.items | all(
    if .name == $n then .has_undeployed_changes and .deployed
    else .has_undeployed_changes == (.deployed | not) end)' >/dev/null ||
  die "endpoints_list reports has_undeployed_changes wrongly: $page"
log "spot check: tools/list lists $ntools tools, endpoints_list returns $nitems endpoints per page"
fi   # RUN_MCP

# Settle the fresh cluster before measuring: the catalogs of every database of
# a new cluster and the tables just filled are otherwise analyzed by
# autovacuum in the middle of the first measured lines (seen as "11
# analyze(s) of pg_type ..." in the report), which a long-running installation
# does not do. The report still lists every autovacuum run during a line.
"$PG_BIN/vacuumdb" --all --analyze --quiet --maintenance-db="$DATABASE_URL" >/dev/null 2>&1 ||
  log "vacuumdb --all --analyze before the runs failed; continuing"

# ---- wrk ---------------------------------------------------------------------

# A wrk script that POSTs BODY with the MCP headers (and KEY, or the key
# given third) and prints one RESULT line.
wrk_script() {   # FILE BODY [KEY]
  cat >"$1" <<EOF
wrk.method = "POST"
wrk.body = [==[$2]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
wrk.headers["Authorization"] = "Bearer ${3:-$KEY}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d sockerr=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
EOF
}
wrk_script "$TMP/list.lua" "$LIST_BODY"
wrk_script "$TMP/call.lua" "$CALL_BODY"

declare -A RPS P50 P99 REQS OTHER CPU T0 T1 WAL
# CPU time (user + system, clock ticks) of PostgreSQL (the postmaster and
# its backends), the workers and the edge, as "pg workers edge": the CPU each
# spends per request is a figure that the machine's other load disturbs much
# less than requests per second.
PG_PID_FILE=$(_pg_base "$TMP/pg")/data/postmaster.pid
cpu_ticks() {
  local pm pg w e
  pm=$(head -1 "$PG_PID_FILE" 2>/dev/null) || pm=
  sum() { local t=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$(( t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0) )); done; echo "$t"; }
  pg=$(sum $pm $( [ -n "$pm" ] && pgrep -P "$pm"))
  w=$(sum "${WORKER_PIDS[@]}")
  e=$(sum "$EDGE_PID")
  echo "$pg $w $e"
}
# measure NAME SCRIPT URL CONNECTIONS: warm-up, then the measured run. The
# command in MEASURE_HOOK (if set) runs between the two.
measure() {
  local name=$1 script=$2 url=$3 c=$4 t out line
  t=$(( c < WRK_THREADS ? c : WRK_THREADS ))
  if [ "$WARMUP" != 0s ]; then
    wrk -t"$t" -c"$c" -d"$WARMUP" -s "$script" "$url" >/dev/null 2>&1 || die "wrk warm-up of $name failed"
  fi
  ${MEASURE_HOOK:-}
  # --timeout 10s: a slow answer is a latency to report, not a socket error
  # (wrk's default 2 s would drop the tail from the percentiles).
  local cpu0 cpu1 wal0
  wal0=$(pg_wal_stats)
  cpu0=$(cpu_ticks)
  T0[$name/$c]=$(date +%s)
  out=$(wrk -t"$t" -c"$c" -d"$DURATION" --timeout 10s --latency -s "$script" "$url" 2>&1) || die "wrk of $name failed: $out"
  cpu1=$(cpu_ticks)
  T1[$name/$c]=$(date +%s)
  WAL[$name/$c]=$(awk -v a="$wal0" -v b="$(pg_wal_stats)" 'BEGIN { split(a, x, " "); split(b, y, " ")
    printf "%.0f MB of WAL, WAL buffers full %d times", (y[1] - x[1]) / 1048576, y[2] - x[2] }')
  printf '== %s, %s connections\n%s\n\n' "$name" "$c" "$out" >>"$OUT_DIR/wrk-latest.txt"
  line=$(grep '^RESULT ' <<<"$out") || die "wrk printed no result for $name: $out"
  local non2xx sockerr
  non2xx=$(sed -n 's/.* non2xx=\([0-9]*\).*/\1/p' <<<"$line")
  sockerr=$(sed -n 's/.* sockerr=\([0-9]*\).*/\1/p' <<<"$line")
  [ "$non2xx" = 0 ] || die "$name at $c connections: $non2xx non-2xx answers"
  [ "$sockerr" = 0 ] || die "$name at $c connections: $sockerr socket errors or timeouts"
  RPS[$name/$c]=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$line")
  P50[$name/$c]=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  P99[$name/$c]=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  REQS[$name/$c]=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
  OTHER[$name/$c]=$(sed -n 's/.* other=\([0-9]*\).*/\1/p' <<<"$line")
  # µs of CPU per request: PostgreSQL, workers, edge.
  CPU[$name/$c]=$(awk -v a="$cpu0" -v b="$cpu1" -v n="${REQS[$name/$c]}" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(a, x, " "); split(b, y, " "); f = (n > 0) ? 1e6 / hz / n : 0
    printf "%.0f %.0f %.0f", (y[1] - x[1]) * f, (y[2] - x[2]) * f, (y[3] - x[3]) * f }')
  log "$(printf '%-14s %3d conns: %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms' "$name" "$c" \
    "${RPS[$name/$c]}" "${P50[$name/$c]}" "${P99[$name/$c]}")"
}

# Samples VmRSS and VmHWM (kB) of the edge and the workers every 200 ms into
# FILE as "pid rss hwm" lines, until killed.
sample_memory() {
  local file=$1 p
  while :; do
    for p in "$EDGE_PID" "${WORKER_PIDS[@]}"; do
      awk -v p="$p" '/^VmRSS:/ {r=$2} /^VmHWM:/ {h=$2} END {if (r) print p, r, h}' "/proc/$p/status" 2>/dev/null
    done >>"$file"
    sleep 0.2
  done
}

CONNS=("$CLIENTS")
[ "$CLIENTS" = 64 ] || CONNS+=(64)
: >"$OUT_DIR/wrk-latest.txt"

if [ "$RUN_MCP" = 1 ]; then
# The HTTP ceiling, with the same wrk script (it ignores the body and headers),
# answering with the bytes of the edge's own tools/list answer: both sides
# then write the same payload, and the ratio measures the edge's work.
CPORT=$(free_port)
mcp "$LIST_BODY" >"$TMP/tools-list.json" || die "tools/list did not answer"
"$BIN_DIR/bench_http_ceiling" 127.0.0.1 "$CPORT" "$TMP/tools-list.json" >"$TMP/ceiling.log" 2>&1 &
CEIL_PID=$!
pids+=("$CEIL_PID")
wait_http "http://127.0.0.1:$CPORT/" 10 || die "bench_http_ceiling did not start"
for c in "${CONNS[@]}"; do measure http-ceiling "$TMP/list.lua" "http://127.0.0.1:$CPORT/" "$c"; done
kill -TERM "$CEIL_PID" 2>/dev/null || true

# The database ceiling: the one statement endpoints_list runs (SQL_LIST in
# services/worker/tool_endpoints.c), taken from the source by the C
# preprocessor and compiler so it cannot drift from the worker's, for the
# first page with no filters: the account id stays $1; status 'all', no query,
# no cursor (NULL) and the limit (20 + 1) become literals, because
# bench_pg_ceiling passes parameters as text and cannot pass NULL. It runs as
# tm_worker with app.account_id set for the session, so row-level security
# applies exactly as in the worker. What it leaves out is what the worker adds
# around the statement: BEGIN, set_config('app.account_id', ...) and COMMIT
# (three more round trips), turning the rows into JSON, nng and the edge.
extract_list_sql() {
  local pre
  pre=$(cc -E -P -I"$ROOT" -D_GNU_SOURCE "$ROOT/services/worker/tool_endpoints.c" $(pkg-config --cflags libpq jansson 2>/dev/null)) ||
    return 1
  {
    printf '#include <stdio.h>\nstatic const char S[] = '
    awk '/static const char SQL_LIST\[\] =/ {on=1; sub(/.*SQL_LIST\[\] =/, "")} on {print} on && /;[[:space:]]*$/ {exit}' <<<"$pre"
    printf 'int main(void) { fputs(S, stdout); return 0; }\n'
  } >"$TMP/sql_list.c"
  cc -o "$TMP/sql_list" "$TMP/sql_list.c" && "$TMP/sql_list"
}
LIST_SQL=$(extract_list_sql) || die "cannot extract SQL_LIST from services/worker/tool_endpoints.c"
grep -q 'FROM endpoints' <<<"$LIST_SQL" && grep -q 'endpoint_configs' <<<"$LIST_SQL" || die "the extracted SQL_LIST does not look like the list query: $LIST_SQL"
PG_SQL=$(sed -e "s/\$2::text/'all'::text/g" -e 's/\$3::text/NULL::text/g' -e 's/\$4::bigint/NULL::bigint/g' \
  -e 's/\$5::uuid/NULL::uuid/g' -e 's/\$6::int/21/g' <<<"$LIST_SQL")
if grep -q '\$[2-9]' <<<"$PG_SQL"; then die "SQL_LIST has parameters this script does not know: $PG_SQL"; fi
printf '%s\n' "$PG_SQL" >"$OUT_DIR/pg-ceiling.sql"
CONNINFO="dbname=threemin host=$SOCK user=tm_worker options='-c app.account_id=$ACCOUNT_ID'"
rows=$("$PG_BIN/psql" "$CONNINFO" -XtAc "SELECT count(*) FROM ($(sed 's/\$1/'"'$ACCOUNT_ID'"'/g' <<<"$PG_SQL")) q") ||
  die "the database ceiling's query does not run"
[ "$rows" = $(( ENDPOINTS < 21 ? ENDPOINTS : 21 )) ] || die "the database ceiling's query returns $rows rows"
log "database ceiling: $PG_THREADS connections, $DURATION"
pgout=$("$BIN_DIR/bench_pg_ceiling" "$CONNINFO" "$PG_THREADS" "${WARMUP%s}" "$PG_SQL" "$ACCOUNT_ID" 2>&1) ||
  die "bench_pg_ceiling (warm-up) failed: $pgout"
pgout=$("$BIN_DIR/bench_pg_ceiling" "$CONNINFO" "$PG_THREADS" "${DURATION%s}" "$PG_SQL" "$ACCOUNT_ID" 2>&1) ||
  die "bench_pg_ceiling failed: $pgout"
printf '== pg-ceiling, %s connections\n%s\n\n' "$PG_THREADS" "$pgout" >>"$OUT_DIR/wrk-latest.txt"
RPS[pg-ceiling]=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$pgout")
P50[pg-ceiling]=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$pgout")
P99[pg-ceiling]=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$pgout")
log "$(printf '%-14s %3d conns: %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms' pg-ceiling "$PG_THREADS" \
  "${RPS[pg-ceiling]}" "${P50[pg-ceiling]}" "${P99[pg-ceiling]}")"

# The system, with memory sampled during the 64-connection runs.
: >"$TMP/mem.txt"
for c in "${CONNS[@]}"; do
  sampler=
  if [ "$c" = 64 ]; then sample_memory "$TMP/mem.txt" & sampler=$!; pids+=("$sampler"); fi
  measure tools/list "$TMP/list.lua" "$MCP_URL" "$c"
  prof=
  if [ "${PROFILE:-0}" = 1 ] && [ "$c" = "$CLIENTS" ] && command -v perf >/dev/null; then
    # Whole-machine profile of the measured endpoints_list run (after its warm-up).
    ( sleep "${WARMUP%s}"; exec perf record -a -g -q -o "$OUT_DIR/perf-endpoints_list.data" -- sleep "${DURATION%s}" ) \
      >/dev/null 2>&1 &
    prof=$!
  fi
  measure endpoints_list "$TMP/call.lua" "$MCP_URL" "$c"
  if [ -n "$prof" ]; then wait "$prof" || log "perf record failed"; fi
  if [ -n "$sampler" ]; then kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true; fi
done
for p in "$EDGE_PID" "${WORKER_PIDS[@]}"; do
  kill -0 "$p" 2>/dev/null || die "process $p died during the run (see the logs)"
done
# Still real results after the load.
mcp "$CALL_BODY" | tool_ok || die "endpoints_list fails after the load"
fi   # RUN_MCP

# ---- the gateway -------------------------------------------------------------
if [ "$RUN_GATEWAY" = 1 ]; then

# An endpoint with a few fields (one searchable, with validation rules), its
# sandbox key from bin/3min, and a body that passes validation.
GW_FIELDS='[{"name":"email","type":"string","required":true,"searchable":true,"validation":{"format":"email"}},{"name":"name","type":"string","required":true,"validation":{"min_length":1,"max_length":100}},{"name":"subscribed","type":"boolean"},{"name":"message","type":"string","validation":{"max_length":2000}}]'
GW_BODY='{"email":"ada@example.com","name":"Ada Lovelace","subscribed":true,"message":"Hello! Please call me back about my order."}'
created=$(mcp "$(jq -cn --argjson f "$GW_FIELDS" '{jsonrpc:"2.0",id:1,method:"tools/call",params:{name:"endpoints_create",arguments:{name:"Gateway bench",description:"Contact form written to by the gateway benchmark",fields:$f}}}')") ||
  die "endpoints_create of the gateway endpoint failed"
GW_SLUG=$(jq -er '.result.structuredContent.endpoint.slug' <<<"$created") || die "endpoints_create returned no slug: $created"
GW_ENDPOINT=$(jq -er '.result.structuredContent.endpoint.id' <<<"$created") || die "endpoints_create returned no id: $created"
GW_KEY=$("$BIN_DIR/3min" endpoint keys --email "$EMAIL" --endpoint "$GW_SLUG" | sed -n 's/^sandbox_key //p') ||
  die "3min endpoint keys failed"
[[ $GW_KEY =~ ^tm_test_ ]] || die "3min endpoint keys printed no sandbox key"
GW_URL=http://$EDGE/api/v1/data/$GW_SLUG
gw_counts() {   # records and call logs of the gateway endpoint
  psql_owner -F' ' -c "SELECT (SELECT count(*) FROM records WHERE endpoint_id = '$GW_ENDPOINT'),
    (SELECT count(*) FROM call_logs WHERE endpoint_id = '$GW_ENDPOINT')"
}

# Spot check: 202 with a record id, and the record reads back.
out=$(curl -sS -w '\n%{http_code}' -X POST "$GW_URL" -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $GW_KEY" --data-binary "$GW_BODY") || die "the gateway POST failed"
[ "${out##*$'\n'}" = 202 ] || die "the gateway POST answered ${out##*$'\n'}: ${out%$'\n'*}"
rid=$(jq -er '.id' <<<"${out%$'\n'*}") || die "the gateway POST returned no id: $out"
curl -sSf "$GW_URL/$rid" -H "Authorization: Bearer $GW_KEY" | jq -e --arg r "$rid" '.id == $r and .payload.name == "Ada Lovelace"' >/dev/null ||
  die "the record $rid does not read back through the gateway"
log "spot check: gateway POST to /api/v1/data/$GW_SLUG answers 202 and $rid reads back"

# The gateway's database ceiling: the statements the worker runs for one
# POST (services/worker/gateway.c), taken from the source like the list SQL,
# with the parameters the worker would pass, as one transaction per request:
# SQL_TARGET (gateway_target: the key, app.account_id, the fields and
# webhook, the plan and the period's usage) and SQL_FINISH (gateway_finish:
# the idempotency record with the answer, the record, the call log, and last
# the usage / sandbox-count / daily-stats upserts).
GW_SQL_NAMES=(SQL_TARGET SQL_FINISH)
extract_gateway_sql() {
  local pre n
  pre=$(cc -E -P -I"$ROOT" -D_GNU_SOURCE "$ROOT/services/worker/gateway.c" $(pkg-config --cflags libpq jansson libsodium 2>/dev/null)) ||
    return 1
  {
    printf '#include <stdio.h>\n'
    for n in "${GW_SQL_NAMES[@]}"; do
      awk -v n="$n" '$0 ~ "static const char " n "\\[\\] =" {on=1} on {print} on && /;[[:space:]]*$/ {exit}' <<<"$pre"
    done
    printf 'int main(void) {\n'
    for n in "${GW_SQL_NAMES[@]}"; do printf '  puts(%s);\n' "$n"; done
    printf '  return 0;\n}\n'
  } >"$TMP/sql_gateway.c"
  cc -o "$TMP/sql_gateway" "$TMP/sql_gateway.c" && "$TMP/sql_gateway"
}
mapfile -t GW_SQL < <(extract_gateway_sql) || true
[ "${#GW_SQL[@]}" = "${#GW_SQL_NAMES[@]}" ] || die "cannot extract the gateway's SQL from services/worker/gateway.c"
GW_KEY_HASH=$(printf '%s' "$GW_KEY" | sha256sum | cut -d' ' -f1)
GW_API_KEY_ID=$(psql_owner -c "SELECT id FROM api_keys WHERE endpoint_id = '$GW_ENDPOINT' AND environment = 'sandbox' AND kind = 'owner'")
GW_RESP='{"id":"rec_{seq}","status":"queued","environment":"sandbox"}'
GW_SEARCH_LOG="rec_{seq} $(jq -r '[.[] | strings] | join(" ")' <<<"$GW_BODY")"
# One block per statement: the SQL, then its parameters in the worker's order (\N = NULL).
read -r GW_PLAN_LIMIT GW_PLAN_HARD < <(psql_owner -F' ' -c "SELECT p.monthly_limit, p.hard_limit FROM plans p
  JOIN subscriptions s ON s.plan_code = p.code WHERE s.account_id = '$ACCOUNT_ID'")
[ "$GW_PLAN_HARD" = f ] || die "the bench account is not on a plan without a hard limit"
{
  printf '%s\n%s\n\n' "${GW_SQL[0]}" "\\x$GW_KEY_HASH"
  # gateway_finish's parameters in the worker's order (enum fin_param): the
  # request id and the stored answer; the record; the call log (its id a
  # fresh uuid: 32 hex digits); no webhook; success, counted, a write, the
  # plan's hard flag and limit (for overage).
  printf '%s\n' "${GW_SQL[1]}" '\x{seq}' "{\"status\":202,\"headers\":{},\"body\":$GW_RESP,\"log_id\":\"{seq}\"}" \
    'rec_{seq}' "$GW_BODY" "ada@example.com" "$GW_API_KEY_ID" \
    '{seq}' "$ACCOUNT_ID" "$GW_ENDPOINT" sandbox POST create 'rec_{seq}' owner "$GW_API_KEY_ID" '\N' \
    202 success '\N' '\N' 1 "$GW_BODY" "${#GW_BODY}" false "$GW_RESP" "$(( ${#GW_RESP} + 27 ))" false 127.0.0.1 '\N' \
    "$GW_SEARCH_LOG" '\N' '\N' '\N' '\N' '\N' 1 true 1 false "$GW_PLAN_LIMIT"
} >"$OUT_DIR/pg-gateway-ceiling.sql"
# Each statement gets exactly the parameters it takes, or the baseline would
# not be the worker's work: stop with a clear word when gateway.c changes.
awk -v RS= '{ n = 0; s = $0; sub(/\n.*/, "", s)
    while (match(s, /\$[0-9]+/)) { v = substr(s, RSTART + 1, RLENGTH - 1) + 0; if (v > n) n = v; s = substr(s, RSTART + RLENGTH) }
    if (NF > 0 && split($0, l, "\n") - 1 != n) { printf "statement %d takes %d parameters, the script gives %d\n", NR, n, split($0, l, "\n") - 1; bad = 1 } }
    END { exit bad }' "$OUT_DIR/pg-gateway-ceiling.sql" >&2 ||
  die "the gateway's SQL in services/worker/gateway.c changed; update the parameters in bench/run.sh (${GW_SQL_NAMES[*]})"
GW_PG_THREADS=$(( WORKERS * ${WORKER_THREADS:-4} ))   # the workers' connections
GW_CONNINFO="dbname=threemin host=$SOCK user=tm_worker"
log "gateway database ceiling: $GW_PG_THREADS connections, $DURATION"
before=$(gw_counts | cut -d' ' -f1)
pgout=$("$BIN_DIR/bench_pg_ceiling" -f "$OUT_DIR/pg-gateway-ceiling.sql" "$GW_CONNINFO" "$GW_PG_THREADS" 1 2>&1) ||
  die "bench_pg_ceiling -f (check) failed: $pgout"
after=$(gw_counts | cut -d' ' -f1)
n=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$pgout")
[ "$(( after - before ))" = "$n" ] || die "the gateway ceiling wrote $(( after - before )) records in $n transactions"
if [ "$WARMUP" != 0s ]; then
  pgout=$("$BIN_DIR/bench_pg_ceiling" -f "$OUT_DIR/pg-gateway-ceiling.sql" "$GW_CONNINFO" "$GW_PG_THREADS" "${WARMUP%s}" 2>&1) ||
    die "bench_pg_ceiling -f (warm-up) failed: $pgout"
fi
pgout=$("$BIN_DIR/bench_pg_ceiling" -f "$OUT_DIR/pg-gateway-ceiling.sql" "$GW_CONNINFO" "$GW_PG_THREADS" "${DURATION%s}" 2>&1) ||
  die "bench_pg_ceiling -f failed: $pgout"
printf '== pg-gateway-ceiling, %s connections\n%s\n\n' "$GW_PG_THREADS" "$pgout" >>"$OUT_DIR/wrk-latest.txt"
RPS[pg-gateway]=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$pgout")
P50[pg-gateway]=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$pgout")
P99[pg-gateway]=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$pgout")
log "$(printf '%-14s %3d conns: %9.0f req/s  p50 %7.3f ms  p99 %7.3f ms' pg-gateway "$GW_PG_THREADS" \
  "${RPS[pg-gateway]}" "${P50[pg-gateway]}" "${P99[pg-gateway]}")"

# The gateway POST under wrk; the script also counts every answer that is not a 202.
cat >"$TMP/gateway.lua" <<EOF
wrk.method = "POST"
wrk.body = [==[$GW_BODY]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $GW_KEY"
local threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) other = 0 end
response = function(status, headers, body) if status ~= 202 then other = other + 1 end end
done = function(summary, latency, requests)
  local e, o = summary.errors, 0
  for _, t in ipairs(threads) do o = o + t:get("other") end
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f requests=%d non2xx=%d sockerr=%d other=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout, o))
end
EOF
gw_before() { sleep 1; read -r GW_REC0 GW_LOG0 < <(gw_counts); }   # after the warm-up's last commits
prof=
if [ "${PROFILE:-0}" = 1 ] && command -v perf >/dev/null; then
  ( sleep "${WARMUP%s}"; exec perf record -a -g -q -o "$OUT_DIR/perf-gateway.data" -- sleep "${DURATION%s}" ) \
    >/dev/null 2>&1 &
  prof=$!
fi
MEASURE_HOOK=gw_before measure gateway "$TMP/gateway.lua" "$GW_URL" "$CLIENTS"
if [ -n "$prof" ]; then wait "$prof" || log "perf record failed"; fi
[ "${OTHER[gateway/$CLIENTS]}" = 0 ] || die "the gateway answered ${OTHER[gateway/$CLIENTS]} times with a status other than 202"
sleep 1   # requests cut off by wrk's end may still commit
read -r GW_REC1 GW_LOG1 < <(gw_counts)
GW_WRITTEN=$(( GW_REC1 - GW_REC0 ))
GW_LOGGED=$(( GW_LOG1 - GW_LOG0 ))
n=${REQS[gateway/$CLIENTS]}
(( GW_WRITTEN >= n && GW_WRITTEN <= n + CLIENTS )) ||
  die "wrk counted $n answers (all 202) but $GW_WRITTEN records were written"
[ "$GW_LOGGED" = "$GW_WRITTEN" ] || die "$GW_WRITTEN records were written but $GW_LOGGED calls logged"
log "gateway: wrk saw $n answers, all 202; $GW_WRITTEN records written and $GW_LOGGED calls logged"

# The same line with durable commits. The throwaway cluster runs with
# synchronous_commit = off (deploy/lib/pg.sh); a production database must
# not (the 202 promises the record is stored), and there every commit waits
# for its WAL flush while the endpoint's counter rows stay locked. Measured
# with the setting on for the whole cluster, then back to the cluster's own.
if [ "${GW_DURABLE:-1}" = 1 ]; then
  psql_owner -c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" >/dev/null ||
    die "could not turn synchronous_commit on"
  sleep 0.5
  # The same-run baseline for it: the gateway's transaction from libpq with
  # durable commits.
  pgout=$("$BIN_DIR/bench_pg_ceiling" -f "$OUT_DIR/pg-gateway-ceiling.sql" "$GW_CONNINFO" "$GW_PG_THREADS" "${DURATION%s}" 2>&1) ||
    die "bench_pg_ceiling -f (synchronous_commit = on) failed: $pgout"
  printf '== pg-gateway-ceiling, synchronous_commit=on, %s connections\n%s\n\n' "$GW_PG_THREADS" "$pgout" >>"$OUT_DIR/wrk-latest.txt"
  RPS[pg-gateway-durable]=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$pgout")
  P50[pg-gateway-durable]=$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$pgout")
  P99[pg-gateway-durable]=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$pgout")
  measure gateway-durable "$TMP/gateway.lua" "$GW_URL" "$CLIENTS"
  psql_owner -c "ALTER SYSTEM RESET synchronous_commit" -c "SELECT pg_reload_conf()" >/dev/null ||
    die "could not reset synchronous_commit"
  [ "${OTHER[gateway-durable/$CLIENTS]}" = 0 ] ||
    die "the gateway answered ${OTHER[gateway-durable/$CLIENTS]} times with a status other than 202"
fi

fi   # RUN_GATEWAY

# ---- logs_search over generated call logs -----------------------------------

LOGS_STATE=skip
LOGS_NOTE="LOGS_ROWS=0"
[ "$RUN_LOGS" = 1 ] || { LOGS_ROWS=0; LOGS_NOTE="not in LINES"; }
if [ "$LOGS_ROWS" -gt 0 ]; then
  if mcp "$LIST_BODY" | jq -e '.result.tools | any(.name == "logs_search")' >/dev/null; then
    log "generating $LOGS_ROWS call logs of $LOGS_ACCOUNTS accounts (bench/logs_data.sql)"
    t0=$(date +%s)
    psql_owner -v rows="$LOGS_ROWS" -v accounts="$LOGS_ACCOUNTS" -f "$ROOT/bench/logs_data.sql" >/dev/null ||
      die "generating the call logs failed"
    LOGS_GEN_S=$(( $(date +%s) - t0 ))
    LOGS_ACCT=$(( LOGS_ACCOUNTS < 7 ? LOGS_ACCOUNTS : 7 ))
    LOGS_EMAIL=logs-$LOGS_ACCT@bench.example.com
    LOGS_KEY=$("$BIN_DIR/3min" mcp-key create --email "$LOGS_EMAIL" --name bench 2>/dev/null) ||
      die "creating the MCP key of $LOGS_EMAIL failed"
    LOGS_IN_WINDOW=$(psql_owner -c "SELECT count(*) FROM call_logs WHERE account_id =
      (SELECT id FROM accounts WHERE email = '$LOGS_EMAIL') AND created_at > now() - interval '7 days'")
    log "generated in ${LOGS_GEN_S}s; $LOGS_EMAIL has $LOGS_IN_WINDOW calls in the last 7 days"
    LQ_BODY='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"logs_search","arguments":{"query":"refund"}}}'
    LF_BODY='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"logs_search","arguments":{"status":"failed"}}}'
    for b in "$LQ_BODY" "$LF_BODY"; do
      page=$(mcp "$b" "$LOGS_KEY") || die "logs_search failed"
      printf '%s' "$page" | tool_ok || die "logs_search answered with an error: $page"
      printf '%s' "$page" | jq -e '.result.structuredContent.items | length > 0' >/dev/null ||
        die "logs_search found nothing in the generated logs: $page"
    done
    wrk_script "$TMP/logs_query.lua" "$LQ_BODY" "$LOGS_KEY"
    wrk_script "$TMP/logs_failed.lua" "$LF_BODY" "$LOGS_KEY"
    measure logs_search/q "$TMP/logs_query.lua" "$MCP_URL" "$LOGS_CLIENTS"
    measure logs_search/failed "$TMP/logs_failed.lua" "$MCP_URL" "$LOGS_CLIENTS"
    LOGS_STATE=run
  else
    LOGS_NOTE="logs_search not available"
  fi
fi
[ "$LOGS_STATE" = run ] || log "logs_search: SKIP ($LOGS_NOTE)"

for p in "$EDGE_PID" "${WORKER_PIDS[@]}"; do
  kill -0 "$p" 2>/dev/null || die "process $p died during the run (see the logs)"
done

# ---- the report --------------------------------------------------------------

ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
# Checkpoints and autovacuum runs of the cluster that overlapped [T0, T1]
# (epoch seconds), from its log: "N checkpoints (longest X s), M autovacuum
# runs (tables...)". A checkpoint spans "checkpoint starting" to "checkpoint
# complete"; an autovacuum run is logged at its end with its elapsed time.
pg_during() {
  [ -r "$PG_LOG" ] || { echo "no cluster log"; return; }
  TZ=UTC awk -v t0="$1" -v t1="$2" '
    function ts(l) { return mktime(substr(l, 1, 4) " " substr(l, 6, 2) " " substr(l, 9, 2) " " substr(l, 12, 2) " " \
                                   substr(l, 15, 2) " " substr(l, 18, 2)) }
    /^[0-9][0-9][0-9][0-9]-/ { t = ts($0); av = "" }
    /LOG:  checkpoint starting/ { cs = t }
    /LOG:  checkpoint complete/ { if (cs != "" && cs <= t1 && t >= t0) { n++; if (t - cs > lc) lc = t - cs }; cs = "" }
    /LOG:  automatic (vacuum|analyze) of table/ { av = $0; sub(/.*of table "/, "", av); sub(/".*/, "", av); ae = t
      kind = /automatic vacuum/ ? "vacuum" : "analyze"
      if (match($0, /elapsed: [0-9.]+ s/)) { el = substr($0, RSTART + 9, RLENGTH - 11); check() } }
    /elapsed: [0-9.]+ s/ && !/^[0-9][0-9][0-9][0-9]-/ && av != "" { match($0, /elapsed: [0-9.]+ s/)
      el = substr($0, RSTART + 9, RLENGTH - 11); check() }
    function check() { if (ae - el <= t1 && ae >= t0) { sub(/^[^.]*\.[^.]*\./, "", av)
        if (kind == "vacuum") { nv++; if (!(av in sv)) { sv[av] = 1; lv = lv (lv ? " " : "") av } }
        else { na++; if (!(av in sa)) { sa[av] = 1; la = la (la ? " " : "") av } } }; av = "" }
    END { if (cs != "" && cs <= t1) { n++; lc = "(still running)" }
          printf "%d checkpoint(s)%s; autovacuum: %d vacuum(s)%s, %d analyze(s)%s\n", n, n ? " (longest " lc " s)" : "",
                 nv, nv ? " of " lv : "", na, na ? " of " la : "" }' "$PG_LOG"
}
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
mark() { if "$@"; then echo PASS; else echo MISS; fi; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f%%", (b > 0) ? 100 * a / b : 0 }'; }

REPORT=$TMP/report.txt
{
  printf '3Min API benchmark, %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'machine: %s CPUs, %s, %s MB RAM; load generator on the same machine\n' "$(nproc)" \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" \
    "$(awk '/^MemTotal:/ {printf "%d", $2 / 1024}' /proc/meminfo)"
  printf 'load average before the run: %s, after: %s (other work on the machine skews every figure)\n' "$LOAD_BEFORE" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf 'listen queue drops (TcpExtListenDrops, whole machine) during the run: %s\n' "$(( $(listen_drops) - DROPS_BEFORE ))"
  printf 'run: %s per line after %s warm-up; wrk %s threads; %s workers x %s threads; %s endpoints (list page: 20)\n\n' \
    "$DURATION" "$WARMUP" "$WRK_THREADS" "$WORKERS" "${WORKER_THREADS:-4}" "$ENDPOINTS"

  printf '%-34s %5s %9s %8s %8s %7s  %s\n' line conns 'req/s' 'p50 ms' 'p99 ms' ratio target
  if [ "$RUN_MCP" = 1 ]; then
  for c in "${CONNS[@]}"; do
    printf '%-34s %5s %9.0f %8.3f %8.3f %7s  %s\n' 'HTTP ceiling (bare evhttp)' "$c" \
      "${RPS[http-ceiling/$c]}" "${P50[http-ceiling/$c]}" "${P99[http-ceiling/$c]}" - baseline
  done
  printf '%-34s %5s %9.0f %8.3f %8.3f %7s  %s\n' 'DB ceiling (libpq, list SQL)' "$PG_THREADS" \
    "${RPS[pg-ceiling]}" "${P50[pg-ceiling]}" "${P99[pg-ceiling]}" - baseline
  for c in "${CONNS[@]}"; do
    r=$(pct "${RPS[tools/list/$c]}" "${RPS[http-ceiling/$c]}")
    t="ratio >= 50% of HTTP ceiling: $(mark ge "${r%\%}" 50)"
    [ "$c" = 32 ] && t="$t; p99 < 10 ms: $(mark lt "${P99[tools/list/$c]}" 10)"
    printf '%-34s %5s %9.0f %8.3f %8.3f %7s  %s\n' 'MCP tools/list' "$c" \
      "${RPS[tools/list/$c]}" "${P50[tools/list/$c]}" "${P99[tools/list/$c]}" "$r" "$t"
    r=$(pct "${RPS[endpoints_list/$c]}" "${RPS[pg-ceiling]}")
    t="ratio >= 40% of DB ceiling: $(mark ge "${r%\%}" 40)"
    [ "$c" = 32 ] && t="$t; p99 < 10 ms: $(mark lt "${P99[endpoints_list/$c]}" 10)"
    printf '%-34s %5s %9.0f %8.3f %8.3f %7s  %s\n' 'MCP tools/call endpoints_list' "$c" \
      "${RPS[endpoints_list/$c]}" "${P50[endpoints_list/$c]}" "${P99[endpoints_list/$c]}" "$r" "$t"
  done
  fi

  if [ "$RUN_GATEWAY" = 1 ]; then
  printf '%-34s %5s %9.0f %8.3f %8.3f %7s  %s\n' 'DB ceiling (libpq, gateway POST tx)' "$GW_PG_THREADS" \
    "${RPS[pg-gateway]}" "${P50[pg-gateway]}" "${P99[pg-gateway]}" - baseline
  c=$CLIENTS
  r=$(pct "${RPS[gateway/$c]}" "${RPS[pg-gateway]}")
  t="req/s >= 1500: $(mark ge "${RPS[gateway/$c]}" 1500)"
  [ "$c" = 32 ] && t="$t; p99 < 50 ms: $(mark lt "${P99[gateway/$c]}" 50)"
  # The targets are for durable commits (a 202 promises the record is
  # stored); without them this line is the cost of the work alone.
  [ -n "${RPS[gateway-durable/$c]:-}" ] && t="(commits not flushed: for comparison; targets on the next line)"
  printf '%-34s %5s %9.0f %8.3f %8.3f %7s  %s\n' 'Gateway POST /api/v1/data/{slug}' "$c" \
    "${RPS[gateway/$c]}" "${P50[gateway/$c]}" "${P99[gateway/$c]}" "$r" "$t"
  if [ -n "${RPS[gateway-durable/$c]:-}" ]; then
    printf '%-34s %5s %9.0f %8.3f %8.3f %7s  %s\n' 'DB ceiling, synchronous_commit=on' "$GW_PG_THREADS" \
      "${RPS[pg-gateway-durable]}" "${P50[pg-gateway-durable]}" "${P99[pg-gateway-durable]}" - baseline
    printf '%-34s %5s %9.0f %8.3f %8.3f %7s  %s\n' 'Gateway POST, synchronous_commit=on' "$c" \
      "${RPS[gateway-durable/$c]}" "${P50[gateway-durable/$c]}" "${P99[gateway-durable/$c]}" \
      "$(pct "${RPS[gateway-durable/$c]}" "${RPS[pg-gateway-durable]}")" \
      "req/s >= 1500: $(mark ge "${RPS[gateway-durable/$c]}" 1500); p99 < 50 ms: $(mark lt "${P99[gateway-durable/$c]}" 50)"
  fi
  fi
  if [ "$LOGS_STATE" = run ]; then
    for q in q failed; do
      label='MCP logs_search "refund"'
      [ "$q" = failed ] && label='MCP logs_search status failed'
      printf '%-34s %5s %9.0f %8.3f %8.3f %7s  %s\n' "$label" "$LOGS_CLIENTS" "${RPS[logs_search/$q/$LOGS_CLIENTS]}" \
        "${P50[logs_search/$q/$LOGS_CLIENTS]}" "${P99[logs_search/$q/$LOGS_CLIENTS]}" - \
        "p99 < 50 ms: $(mark lt "${P99[logs_search/$q/$LOGS_CLIENTS]}" 50)"
    done
  else
    printf '%-34s %5s %9s %8s %8s %7s  %s\n' 'MCP logs_search' "$LOGS_CLIENTS" - - - - "SKIP ($LOGS_NOTE)"
  fi
  [ "$RUN_GATEWAY" = 1 ] && printf '\ngateway POST: wrk saw %s answers, all 202; %s records written and %s calls logged during the run\n' \
    "${REQS[gateway/$CLIENTS]}" "$GW_WRITTEN" "$GW_LOGGED"
  if [ "$LOGS_STATE" = run ]; then
    printf 'logs_search: %s generated call logs of %s accounts (%s s to generate); the key'"'"'s account has %s calls in the default 7-day window\n' \
      "$LOGS_ROWS" "$LOGS_ACCOUNTS" "$LOGS_GEN_S" "$LOGS_IN_WINDOW"
  fi
  printf '\nPostgreSQL during the measured runs (from the cluster log)\n'
  for k in tools/list/$CLIENTS endpoints_list/$CLIENTS gateway/$CLIENTS gateway-durable/$CLIENTS logs_search/q/$LOGS_CLIENTS logs_search/failed/$LOGS_CLIENTS; do
    [ -n "${T0[$k]:-}" ] || continue
    printf '%-34s %5s  %s; %s\n' "${k%/*}" "${k##*/}" "$(pg_during "${T0[$k]}" "${T1[$k]}")" "${WAL[$k]}"
  done
  printf '\nCPU per request, µs (user + system time of the processes during the measured run / requests)\n'
  printf '%-34s %5s %10s %8s %6s %7s\n' line conns PostgreSQL workers edge total
  for k in tools/list/$CLIENTS endpoints_list/$CLIENTS gateway/$CLIENTS gateway-durable/$CLIENTS logs_search/q/$LOGS_CLIENTS logs_search/failed/$LOGS_CLIENTS; do
    [ -n "${CPU[$k]:-}" ] || continue
    read -r a b e <<<"${CPU[$k]}"
    printf '%-34s %5s %10s %8s %6s %7s\n' "${k%/*}" "${k##*/}" "$a" "$b" "$e" "$(( a + b + e ))"
  done
  if [ "$RUN_MCP" = 1 ]; then
  printf '\nresident memory during the 64-connection runs (max VmRSS sampled every 200 ms; VmHWM = peak since start)\n'
  printf '%-34s %8s %12s %12s  %s\n' process pid 'VmRSS MB' 'VmHWM MB' 'target'
  for p in "$EDGE_PID" "${WORKER_PIDS[@]}"; do
    name=edge
    [ "$p" = "$EDGE_PID" ] || name=worker
    read -r rss hwm < <(awk -v p="$p" '$1 == p { if ($2 > r) r = $2; if ($3 > h) h = $3 } END { printf "%.1f %.1f\n", r / 1024, h / 1024 }' "$TMP/mem.txt")
    printf '%-34s %8s %12s %12s  %s\n' "$name" "$p" "$rss" "$hwm" "VmHWM < 32 MB: $(mark lt "$hwm" 32)"
  done
  fi
} >"$REPORT"
cp "$REPORT" "$OUT_DIR/latest.txt"
echo
cat "$REPORT"
echo
log "report in bench/out/latest.txt, wrk output in bench/out/wrk-latest.txt"
