#!/usr/bin/env bash
# run.sh — several hosts on one machine: PostgreSQL, two edges, three
# workers and a client, each in its own network namespace with its own
# private address on one bridge (in a hub namespace of its own), so traffic
# only flows between them and nothing is on loopback. It shows:
#
#   1. workers dial both edges over TCP (EDGE_URLS) and calls through either
#      edge are served by all three workers;
#   2. a worker killed (SIGKILL) during calls loses none and applies none
#      twice; the two others serve everything after;
#   3. an API key revoked in the database stops working at both edges within
#      API_KEY_CACHE_MS (set to 1 s here), whichever edge a call hits.
#
# Usage: tests/netns/run.sh [BIN_DIR]    (needs root and `ip netns`)
# Exit status: 0 passed, 77 skipped (said loudly on stderr), else failed.
# Everything it starts is stopped by PID and every namespace deleted on exit.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN_DIR=$(cd "${1:-$ROOT/bin}" && pwd) || exit 2
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
LOG_DIR=${TEST_LOG_DIR:-}

say() { printf 'netns: %s\n' "$*" >&2; }
skip() { say "SKIPPED: $*"; exit 77; }
fail() { say "FAILED: $*"; FAILED=1; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root for ip netns"
command -v ip >/dev/null || skip "no ip command (iproute2)"
for b in edge worker 3min; do [ -x "$BIN_DIR/$b" ] || { say "$BIN_DIR/$b is missing"; exit 2; }; done

ID=$$
P=tm$ID
NET=10.213.$((ID % 200 + 20))           # private; exists only inside these namespaces
WORK=$(mktemp -d /tmp/3min-netns.XXXXXX)
chmod 755 "$WORK"
namespaces=()
pids=()
FAILED=0

cleanup() {
  local p ns
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 50); do
    local alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  if [ -d "$WORK/pg/data" ]; then
    ip netns exec "$P-db" runuser -u nobody -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop >/dev/null 2>&1
  fi
  for ns in "${namespaces[@]}"; do
    # Anything still running in our namespaces was started by this script.
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  if [ -n "$LOG_DIR" ]; then
    for f in "$WORK"/*.log; do [ -f "$f" ] && cp "$f" "$LOG_DIR/netns-$(basename "$f")"; done
  fi
  if [ "$FAILED" = 1 ]; then
    for f in "$WORK"/*.log; do
      [ -f "$f" ] && { echo "--- $(basename "$f") (last lines) ---"; grep -v DEBUG "$f" | tail -15; } >&2
    done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'trap "" INT TERM; exit 130' INT   # later signals must not cut the cleanup short
trap 'trap "" INT TERM; exit 143' TERM

# --- the network -------------------------------------------------------------
ip netns add "$P-hub" 2>/dev/null || skip "ip netns add failed (no permission or no netns support)"
namespaces+=("$P-hub")
ip -n "$P-hub" link add br0 type bridge
ip -n "$P-hub" link set br0 up

# host NAME LAST-OCTET: a namespace with eth0 at $NET.<octet>/24 on the bridge.
host() {
  local name=$1 octet=$2 ns=$P-$1
  ip netns add "$ns" || fail "ip netns add $ns"
  namespaces+=("$ns")
  ip -n "$ns" link set lo up
  ip -n "$P-hub" link add "v$name" type veth peer name eth0 netns "$ns" || fail "veth for $name"
  ip -n "$P-hub" link set "v$name" master br0 up
  ip -n "$ns" addr add "$NET.$octet/24" dev eth0
  ip -n "$ns" link set eth0 up
}
host db 2
host edge1 3
host edge2 4
host w1 11
host w2 12
host w3 13
host client 50
say "namespaces $P-* on $NET.0/24"

# No host can reach anything but its neighbours: no default route anywhere.
ip -n "$P-w1" route | grep -q default && fail "a namespace has a default route"

# --- PostgreSQL in its own host --------------------------------------------------
mkdir -p "$WORK/pg"
chown nobody: "$WORK/pg"
locale=C.UTF-8
locale -a 2>/dev/null | grep -qix 'c.utf-\?8' || locale=C
runuser -u nobody -- "$PG_BIN/initdb" -D "$WORK/pg/data" --auth=trust --username=tm_owner -E UTF8 \
  --locale="$locale" >"$WORK/initdb.log" 2>&1 || fail "initdb"
cat >>"$WORK/pg/data/postgresql.conf" <<EOF
listen_addresses = '$NET.2'
unix_socket_directories = '$WORK/pg'
synchronous_commit = off
max_connections = 100
EOF
# trust on a network that exists only inside these namespaces (test only).
echo "host all all $NET.0/24 trust" >>"$WORK/pg/data/pg_hba.conf"
ip netns exec "$P-db" runuser -u nobody -- "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/postgres.log" -w start \
  >/dev/null || fail "PostgreSQL did not start"
DBURL="postgresql://tm_owner@$NET.2:5432/threemin"
ip netns exec "$P-edge1" "$PG_BIN/createdb" -h "$NET.2" -U tm_owner threemin || fail "createdb over the network"

in_ns() { local ns=$1; shift; ip netns exec "$P-$ns" env DATABASE_URL="$DBURL" "$@"; }
in_ns edge1 "$BIN_DIR/3min" migrate >"$WORK/migrate.log" 2>&1 || fail "migrate"
EMAIL=netns-$ID@example.com
in_ns edge1 "$BIN_DIR/3min" account create --email "$EMAIL" --password 'correct horse battery' >/dev/null 2>>"$WORK/3min.log" ||
  fail "account create"
KEY=$(in_ns edge1 "$BIN_DIR/3min" mcp-key create --email "$EMAIL" --name netns 2>>"$WORK/3min.log") || fail "mcp-key create"

psql_db() { ip netns exec "$P-db" "$PG_BIN/psql" "$DBURL" -XtAq -c "$1"; }

# --- two edges, three workers ------------------------------------------------------
EDGE_URLS="tcp://$NET.3:5555,tcp://$NET.4:5555"
for e in 1 2; do
  addr=$NET.$((2 + e))
  mkdir -p "$WORK/edge$e"
  ip netns exec "$P-edge$e" env STATE_DIR="$WORK/edge$e" EDGE_LISTEN="$addr:8080" WORKER_LISTEN="tcp://$addr:5555" \
    SIGNING_KEY_FILE="$WORK/signing-key.pem" EDGE_COUNT=2 API_KEY_CACHE_MS=1000 MCP_RATE_LIMIT=0 ACCESS_LOG=0 \
    ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
    "$BIN_DIR/edge" 2>"$WORK/edge$e.log" &
  pids+=($!)
  # The second edge uses the key file the first one wrote (one key for all edges).
  for _ in $(seq 100); do [ -s "$WORK/signing-key.pem" ] && break; sleep 0.1; done
done
declare -A wpid
for w in 1 2 3; do
  mkdir -p "$WORK/w$w"
  ip netns exec "$P-w$w" env STATE_DIR="$WORK/w$w" EDGE_URLS="$EDGE_URLS" DATABASE_URL="$DBURL" LOG_LEVEL=debug \
    ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
    "$BIN_DIR/worker" 2>"$WORK/w$w.log" &
  wpid[$w]=$!
  pids+=($!)
done

# Both edges ready, each connected to all three workers.
for e in 1 2; do
  ok=0
  for _ in $(seq 300); do
    code=$(ip netns exec "$P-client" curl -s -o /dev/null -w '%{http_code}' "http://$NET.$((2 + e)):8080/readyz" || true)
    n=$(grep -c "worker pid [0-9]* connected" "$WORK/edge$e.log" || true)
    if [ "$code" = 200 ] && [ "$n" -ge 3 ]; then ok=1; break; fi
    sleep 0.1
  done
  [ $ok = 1 ] || fail "edge $e did not see three workers (readyz $code, $n workers)"
done
say "PostgreSQL, 2 edges and 3 workers up in 7 namespaces"

URLS="http://$NET.3:8080,http://$NET.4:8080"
client() { ip netns exec "$P-client" node "$ROOT/tests/netns/client.mjs" "$@"; }
served() { grep -c "tool endpoints_create: ok" "$WORK/w$1.log" || true; }
check_batch() {   # JSON COUNT
  node -e '
    const r = JSON.parse(process.argv[1]); const n = Number(process.argv[2]);
    if (r.ok !== n || r.failed.length) { console.error(`${r.ok}/${n} ok; failed: ${r.failed.slice(0, 5).join("; ")}`); process.exit(1); }
  ' "$1" "$2"
}

# --- 1. calls through both edges, served by all three workers --------------------
out=$(client "$URLS" "$KEY" 240 16 "netns-a-$ID") || fail "client"
check_batch "$out" 240 || fail "batch through both edges"
a1=$(served 1) a2=$(served 2) a3=$(served 3)
say "240 calls through two edges; served by the workers: $a1, $a2, $a3"
[ "$a1" -gt 0 ] && [ "$a2" -gt 0 ] && [ "$a3" -gt 0 ] || fail "not every worker served calls ($a1, $a2, $a3)"
[ $((a1 + a2 + a3)) -ge 240 ] || fail "the workers logged fewer calls than answered"

# --- 2. one worker killed during calls ------------------------------------------------
client "$URLS" "$KEY" 240 16 "netns-b-$ID" >"$WORK/batch-b.json" &
cpid=$!
pids+=($cpid)
sleep 0.4
kill -KILL "${wpid[1]}"
wait "${wpid[1]}" 2>/dev/null
wait "$cpid" || fail "client (batch b)"
check_batch "$(cat "$WORK/batch-b.json")" 240 || fail "batch with a worker killed"
b2=$(served 2) b3=$(served 3)
out=$(client "$URLS" "$KEY" 60 8 "netns-c-$ID") || fail "client"
check_batch "$out" 60 || fail "batch after the kill"
c2=$(served 2) c3=$(served 3)
say "worker 1 killed; after it the two others served $((c2 - b2)) and $((c3 - b3)) of 60"
[ $((c2 - b2 + c3 - b3)) -ge 60 ] || fail "the remaining workers did not serve the last batch"

rows=$(psql_db "SELECT count(*) || ' ' || count(DISTINCT name) FROM endpoints WHERE name LIKE 'netns-_-$ID %' AND deleted_at IS NULL")
[ "$rows" = "540 540" ] || fail "stored endpoints (count, distinct): $rows, want 540 540"

# --- 3. a revoked key stops at both edges -------------------------------------------------
kid=$(in_ns edge1 "$BIN_DIR/3min" mcp-key list --email "$EMAIL" 2>>"$WORK/3min.log" | awk 'NR > 1 && NF { print $1; exit }')
[ -n "$kid" ] || fail "no key id"
in_ns edge1 "$BIN_DIR/3min" mcp-key revoke "$kid" >/dev/null 2>>"$WORK/3min.log" || fail "revoke"
sleep 1.5
for e in 1 2; do
  code=$(ip netns exec "$P-client" curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H "Authorization: Bearer $KEY" \
    --data '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"endpoints_list","arguments":{}}}' \
    "http://$NET.$((2 + e)):8080/api/mcp")
  [ "$code" = 401 ] || fail "edge $e still accepts the revoked key ($code)"
done
say "the revoked key is refused at both edges"

if grep -l -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$WORK"/*.log >/dev/null 2>&1; then
  fail "a sanitizer report in the process logs"
fi
say "passed"
