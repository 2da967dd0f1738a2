#!/usr/bin/env bash
# run.sh — `make test-compose`: the platform's compose stack really running
# in containers, tested end to end.
#
#   1. A container engine: deploy/compose/engine-setup.sh (as root on Debian:
#      podman serving the Docker API, docker-compose 1.29, the local base
#      image, cached in BASE_CACHE), or the one DOCKER_HOST already reaches.
#   2. Fresh secrets in a temporary SECRETS_DIR (deploy/compose/secrets.sh),
#      and one (DB_WORKER_PASSWORD) from the environment instead.
#   3. docker-compose config (v1) and the Compose Specification's schema
#      (v2: tests/compose/check-spec.mjs); docker-compose build, then
#      up -d --scale worker=3 with the profiles of COMPOSE_TEST_PROFILES
#      (default tls,monitoring), on free ports of 127.0.0.1, under a project
#      name of its own.
#   4. Waits until the edge is ready, three workers hold database sessions,
#      the proxy answers and Prometheus scrapes every target that serves
#      metrics.
#   5. node --test tests/compose/*.test.mjs: the official MCP SDK client
#      through the edge (and through the TLS proxy).
#   6. Continuous MCP load (tests/compose/load.mjs) while the workers are
#      scaled to 5 (each new worker must serve requests) and back to 2: no
#      request may fail, and PostgreSQL must hold exactly one record per
#      acknowledged write.
#   7. Backup of the v1 stack as the README says (pg_dump, the archive
#      volume), with an account, key and endpoint made for it.
#   8. Compose v2 (deploy/compose/compose-v2.sh finds or fetches it): the v1
#      stack goes down, v2 checks the file with its own parser (config) and
#      brings the same images up under a project of its own with 3 workers;
#      the backup is restored into it (pg_restore, archive files) and
#      checked (same rows, the old key works), the SDK tests of step 5 run
#      against it, and it scales to 4 workers and back to 2. Where no v2 can
#      be had, that part is skipped with a banner and the restore runs with
#      v1 on a fresh database.
#   9. down -v (also on failure or Ctrl-C, by the EXIT trap), then timings.
#
# Exit status 0: passed; 77: skipped because no engine can be set up here
# (printed in a banner with the reason); anything else: failed.
# Environment: BASE_CACHE (/var/cache/3min-ci/debian-bookworm.tar.gz when
# that directory can be made), BASE_IMAGE, COMPOSE_TEST_PROFILES,
# LOAD_LOOPS (4), KEEP_STACK=1 (leave the stack up after a failure).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

T0=$SECONDS
TIMES=()
say() { printf '%s compose-test: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
timed() {   # timed LABEL COMMAND...: runs COMMAND and records how long it took
  local label=$1 t=$SECONDS rc=0
  shift
  "$@" || rc=$?
  TIMES+=("$(printf '  %-44s %5d s' "$label" $((SECONDS - t)))")
  return $rc
}
print_times() {
  printf '\ncompose test timings:\n' >&2
  printf '%s\n' "${TIMES[@]}" >&2
  printf '  %-44s %5d s\n' "total" $((SECONDS - T0)) >&2
}
skip() {
  cat >&2 <<BANNER

################################################################################
#                                                                              #
#   make test-compose: SKIPPED                                                 #
#                                                                              #
################################################################################
   reason: $*
   The compose stack was NOT tested on this machine.
################################################################################

BANNER
  exit 77
}

# ---- 1. the engine -----------------------------------------------------------
export DOCKER_HOST=${DOCKER_HOST:-unix:///run/podman/podman.sock}
# Build through the engine's API, the same way on every machine (not through
# a docker CLI that may or may not be installed).
export COMPOSE_DOCKER_CLI_BUILD=0
if [ -z "${BASE_CACHE:-}" ] && mkdir -p /var/cache/3min-ci 2>/dev/null && [ -w /var/cache/3min-ci ]; then
  export BASE_CACHE=/var/cache/3min-ci/debian-bookworm.tar.gz
fi

engine_answers() {
  command -v docker-compose >/dev/null || return 1
  case $DOCKER_HOST in
    unix://*) curl -sf --max-time 5 --unix-socket "${DOCKER_HOST#unix://}" http://localhost/_ping >/dev/null 2>&1 ;;
    *) docker-compose version >/dev/null 2>&1 ;;
  esac
}

ENGINE_STARTED=0   # 1: this run started the engine's API service, and stops it at the end
setup_engine() {
  engine_answers || ENGINE_STARTED=1
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ "$DOCKER_HOST" = unix:///run/podman/podman.sock ]; then
    local log
    log=$(mktemp /tmp/3min-engine.XXXXXX.log)
    if ! deploy/compose/engine-setup.sh up >"$log" 2>&1; then
      tail -30 "$log" >&2
      skip "deploy/compose/engine-setup.sh failed (log above, full log in $log)"
    fi
    rm -f "$log"
    # The kernel must be able to run a container at all.
    if ! podman run --rm --network none "${BASE_IMAGE:-localhost/debian:bookworm}" true >/dev/null 2>&1; then
      skip "podman cannot run a container here: $(podman run --rm --network none "${BASE_IMAGE:-localhost/debian:bookworm}" true 2>&1 | tail -1)"
    fi
  elif ! engine_answers; then
    ENGINE_STARTED=0
    skip "no container engine answers at $DOCKER_HOST, and one can only be set up as root on Debian (apt-get)"
  fi
  engine_answers || skip "the container engine at $DOCKER_HOST does not answer after setup"
}
timed "engine setup" setup_engine

for tool in node jq curl openssl; do
  command -v $tool >/dev/null || { say "$tool is missing (make deps installs it)"; exit 1; }
done
[ -d tests/node_modules/@modelcontextprotocol/sdk ] || (cd tests && npm ci --no-audit --no-fund)

# ---- 2. this run's project, ports and secrets ----------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RUN_ID=$(date +%s)$$
export COMPOSE_PROJECT=tm3test${RUN_ID}
export COMPOSE_PROFILES=${COMPOSE_TEST_PROFILES-tls,monitoring}
export EDGE_PORT=$(free_port) TLS_PORT=$(free_port) PROMETHEUS_PORT=$(free_port)
export PUBLIC_URL=http://127.0.0.1:$EDGE_PORT
export MCP_RATE_LIMIT=100000      # the load below is one key; the rate limit has its own tests
WORK=$(mktemp -d /tmp/3min-compose.XXXXXX)
export SECRETS_DIR=$WORK/secrets TLS_CERT_DIR=$WORK/tls
mkdir -p "$TLS_CERT_DIR"
export COMPOSE_EDGE_URL=$PUBLIC_URL COMPOSE_ROOT=$ROOT COMPOSE_RUN_ID=$RUN_ID
export COMPOSE_BIN=docker-compose   # the Compose the tests of step 5 call too (tests/compose/stack.mjs)
COMPOSE=("$COMPOSE_BIN" -p "$COMPOSE_PROJECT")
has_profile() { [[ ",$COMPOSE_PROFILES," == *",$1,"* ]]; }

LOAD_PID=
stack_up=0
cleanup() {
  local rc=$?
  trap '' INT TERM
  if [ -n "$LOAD_PID" ] && kill -0 "$LOAD_PID" 2>/dev/null; then kill -TERM "$LOAD_PID" 2>/dev/null || true; wait "$LOAD_PID" 2>/dev/null || true; fi
  if [ "$stack_up" = 1 ]; then
    if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
      say "failed (status $rc); the last log lines of each service:"
      "${COMPOSE[@]}" ps >&2 || true
      "${COMPOSE[@]}" logs --no-color --tail=40 >&2 || true
    fi
    if [ "$rc" != 0 ] && [ "${KEEP_STACK:-0}" = 1 ]; then
      say "KEEP_STACK=1: project $COMPOSE_PROJECT left running (SECRETS_DIR=$SECRETS_DIR); docker-compose -p $COMPOSE_PROJECT down -v when done"
    else
      timed "down -v" "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || say "down -v failed"
      rm -rf "$WORK"
    fi
  else
    rm -rf "$WORK"
  fi
  # Each rebuild leaves the previous images untagged: remove those of the
  # runtime stages, and of the build stage all but the newest (the next
  # build's cache). Images still in use stay (rmi refuses them).
  if command -v podman >/dev/null && [ "$DOCKER_HOST" = unix:///run/podman/podman.sock ]; then
    { podman images -q --filter dangling=true --filter label=org.3minapi.stage=runtime
      podman images -q --filter dangling=true --filter label=org.3minapi.stage=build | tail -n +2
    } 2>/dev/null | xargs -r -n1 podman rmi >/dev/null 2>&1 || true
  fi
  # Stop the API service this run started, unless other containers (another
  # run's stack) still need it.
  if [ "$ENGINE_STARTED" = 1 ] && [ "$DOCKER_HOST" = unix:///run/podman/podman.sock ] &&
     [ -z "$(podman ps -aq 2>/dev/null)" ]; then
    deploy/compose/engine-setup.sh down || true
  fi
  print_times
  if [ "$rc" = 0 ]; then say "PASSED"; elif [ "$rc" != 77 ]; then say "FAILED"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'trap "" INT TERM; exit 130' INT   # later signals must not cut the cleanup short
trap 'trap "" INT TERM; exit 143' TERM

deploy/compose/secrets.sh >/dev/null
# Both ways of passing a secret: the worker role's password from the
# environment (it wins over its file), every other one from its file.
DB_WORKER_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
export DB_WORKER_PASSWORD

# The compose file for both Compose versions: what docker-compose 1.29 makes
# of it, and the Compose Specification's schema (the format of v2).
check_compose_file() {
  "${COMPOSE[@]}" config -q || return 1
  python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(open("docker-compose.yml")), sys.stdout)' |
    node tests/compose/check-spec.mjs || return 1
}
timed "compose file checks (v1 config, v2 schema)" check_compose_file
say "project $COMPOSE_PROJECT, profiles '${COMPOSE_PROFILES}', edge on $PUBLIC_URL"

# ---- 3. build and up -------------------------------------------------------------
# Build every image first: up would try to pull one that is missing.
timed "build images" "${COMPOSE[@]}" build -q
stack_up=1
timed "up -d --scale worker=3" "${COMPOSE[@]}" up -d --scale worker=3

# ---- 4. ready --------------------------------------------------------------------
db_sql() { "${COMPOSE[@]}" exec -T db psql -X -q -A -t -v ON_ERROR_STOP=1 -U tm_owner -d threemin -c "$1"; }
workers_in_db() { db_sql "SELECT count(DISTINCT client_addr) FROM pg_stat_activity WHERE usename = 'tm_worker'"; }
wait_for() {   # wait_for SECONDS WHAT COMMAND...: until COMMAND succeeds
  local limit=$1 what=$2 t=$SECONDS
  shift 2
  until "$@"; do
    if ((SECONDS - t >= limit)); then say "timed out after ${limit} s waiting for $what"; return 1; fi
    sleep 1
  done
}
edge_ready() { curl -sf --max-time 3 "$PUBLIC_URL/readyz" >/dev/null; }
workers_are() { [ "$(workers_in_db 2>/dev/null)" = "$1" ]; }
tls_ready() { curl -sfk --max-time 3 "https://127.0.0.1:$TLS_PORT/healthz" >/dev/null; }
prometheus_ready() { curl -sf --max-time 3 "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" >/dev/null; }
running_workers() { "${COMPOSE[@]}" ps -q worker | wc -l; }

ready() {
  wait_for 180 "the edge's /readyz" edge_ready || return 1
  wait_for 120 "3 workers connected to PostgreSQL" workers_are 3 || return 1
  [ "$(running_workers)" = 3 ] || { say "expected 3 worker containers, have $(running_workers)"; return 1; }
  if has_profile tls; then wait_for 60 "the TLS proxy" tls_ready || return 1; fi
  if has_profile monitoring; then wait_for 60 "Prometheus" prometheus_ready || return 1; fi
}
timed "ready (edge, 3 workers)" ready

# The proxy's self-signed certificate (a new one at each start of the
# proxy), so the clients verify TLS for real.
trust_proxy_cert() {
  has_profile tls || return 0
  "${COMPOSE[@]}" exec -T proxy cat /etc/nginx/tls/cert.pem >"$WORK/proxy-cert.pem" || return 1
  export NODE_EXTRA_CA_CERTS=$WORK/proxy-cert.pem COMPOSE_TLS_URL=https://127.0.0.1:$TLS_PORT
  curl -sf --cacert "$WORK/proxy-cert.pem" "$COMPOSE_TLS_URL/healthz" >/dev/null ||
    { say "the TLS proxy does not answer with its certificate"; return 1; }
}
trust_proxy_cert
prometheus_targets() { curl -sf --max-time 3 "http://127.0.0.1:$PROMETHEUS_PORT/api/v1/targets"; }
prometheus_scrapes_edge() {
  prometheus_targets | jq -e '.data.activeTargets | map(.scrapeUrl) | any(test("//edge:[0-9]+/"))' >/dev/null
}
target_up() {
  prometheus_targets | jq -e --arg u "$1" '.data.activeTargets | any(.scrapeUrl == $u and .health == "up")' >/dev/null
}
# Each target that its service really serves must be scraped successfully
# (the metrics endpoints come with the binaries; a target not served yet is
# reported, not required).
check_targets() {
  local url svc rest
  for url in $(prometheus_targets | jq -r '.data.activeTargets[].scrapeUrl'); do
    svc=${url#http://}
    svc=${svc%%:*}
    rest=${url#http://"$svc"}
    if "${COMPOSE[@]}" exec -T "$svc" curl -sf --max-time 3 -o /dev/null "http://127.0.0.1$rest" 2>/dev/null; then
      wait_for 60 "Prometheus to scrape $url" target_up "$url" || return 1
    else
      say "$url is not served by $svc: not checked"
    fi
  done
}
if has_profile monitoring; then
  wait_for 60 "Prometheus to have the edge as a scrape target" prometheus_scrapes_edge
  check_targets
  say "Prometheus targets: $(prometheus_targets | jq -c '[.data.activeTargets[] | {job: .labels.job, url: .scrapeUrl, health}]')"
fi

# ---- 5. end-to-end MCP tests ---------------------------------------------------------
timed "MCP tests (SDK client)" node --test --test-concurrency=1 tests/compose/*.test.mjs

# ---- 6. scale under load ---------------------------------------------------------------
STATUS=$WORK/load.json
load_ok() { jq -r '.ok // 0' "$STATUS" 2>/dev/null || echo 0; }
load_alive() { kill -0 "$LOAD_PID" 2>/dev/null || { say "the load generator stopped early"; cat "$STATUS" >&2 2>/dev/null; return 1; }; }
load_reached() { load_alive && [ "$(load_ok)" -ge "$1" ]; }
load_grows() {   # load_grows N: N more successful calls from now on
  local want=$(( $(load_ok) + $1 ))
  wait_for 120 "$1 more successful calls" load_reached "$want"
}
busy_workers_since() {   # distinct workers with a query since the database time $1
  db_sql "SELECT count(DISTINCT client_addr) FROM pg_stat_activity WHERE usename = 'tm_worker' AND state_change > '$1'"
}
all_busy() { [ "$(busy_workers_since "$1")" = "$2" ]; }

scale_under_load() {
  node tests/compose/load.mjs "$STATUS" >"$WORK/load.out" 2>&1 &
  LOAD_PID=$!
  wait_for 120 "the load to start" load_reached 20 || return 1

  local since
  since=$(db_sql "SELECT now()") || return 1
  timed "scale to 5 workers" "${COMPOSE[@]}" up -d --no-deps --scale worker=5 worker || return 1
  wait_for 120 "5 workers connected to PostgreSQL" workers_are 5 || return 1
  [ "$(running_workers)" = 5 ] || { say "expected 5 worker containers, have $(running_workers)"; return 1; }
  load_grows 40 || return 1
  # every worker, old and new, takes requests
  wait_for 60 "all 5 workers serving requests" all_busy "$since" 5 || return 1

  timed "scale to 2 workers" "${COMPOSE[@]}" up -d --no-deps --scale worker=2 worker || return 1
  wait_for 60 "2 workers connected to PostgreSQL" workers_are 2 || return 1
  [ "$(running_workers)" = 2 ] || { say "expected 2 worker containers, have $(running_workers)"; return 1; }
  load_grows 200 || return 1

  kill -TERM "$LOAD_PID"
  local rc=0
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=
  cat "$WORK/load.out" >&2
  jq -e '.done == true and .failed == 0' "$STATUS" >/dev/null || rc=1
  say "load: $(jq -c '{ok, failed, posts, records}' "$STATUS")"
  if [ "$rc" != 0 ]; then say "requests failed while scaling: $(jq -c .errors "$STATUS")"; return 1; fi
}
timed "scale 3 -> 5 -> 2 under load" scale_under_load

# ---- backup of the v1 stack (README, "Backups") ------------------------------------
# An account with a key and an endpoint of its own, then the documented
# backup: pg_dump of the database in custom format from the db container. The
# v2 part below restores it into its fresh database and checks everything is
# back. Without a v2 part the restore runs into this stack after down -v.
BACKUP=$WORK/threemin.dump
fingerprint() {   # the rows that must survive a backup and a restore
  db_sql "SELECT (SELECT count(*) FROM accounts) || ' accounts, ' || (SELECT count(*) FROM endpoints) || ' endpoints, '
    || (SELECT count(*) FROM records) || ' records, ' || (SELECT count(*) FROM call_logs) || ' call logs, '
    || (SELECT count(*) FROM api_keys) || ' api keys, ' || (SELECT count(*) FROM mcp_api_keys) || ' MCP keys'"
}
mcp_call() {   # mcp_call KEY JSON-RPC-BODY: the answer's body
  curl -sf --max-time 10 "$PUBLIC_URL/api/mcp" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-06-18' -d "$2"
}
backup() {
  local email="backup-$RUN_ID@example.com"
  printf '%s\n' "$(head -c 18 /dev/urandom | base64)" |
    "${COMPOSE[@]}" run --rm --no-deps -T migrate /usr/local/bin/3min account create --email "$email" --password - \
      >/dev/null || return 1
  BACKUP_KEY=$("${COMPOSE[@]}" run --rm --no-deps -T migrate /usr/local/bin/3min mcp-key create --email "$email" |
    grep -o 'tm_mcp_[A-Za-z0-9_-]*' | head -1)
  [ -n "$BACKUP_KEY" ] || { say "backup: no MCP key"; return 1; }
  mcp_call "$BACKUP_KEY" '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"endpoints_create","arguments":{"name":"Backup check","fields":[{"name":"email","type":"string"}]}}}' |
    jq -e '.result.isError == false' >/dev/null || { say "backup: endpoints_create failed"; return 1; }
  BACKUP_FINGERPRINT=$(fingerprint) || return 1
  "${COMPOSE[@]}" exec -T db pg_dump -U tm_owner -d threemin -Fc >"$BACKUP" || return 1
  # The archive volume, with a file of this run in it.
  "${COMPOSE[@]}" exec -T jobs sh -c "echo $RUN_ID > /var/lib/3min/archives/backup-marker" || return 1
  "${COMPOSE[@]}" exec -T edge tar -C /var/lib/3min/archives -czf - . >"$WORK/archives.tar.gz" || return 1
  say "backup: $(stat -c %s "$BACKUP") bytes of database, $(stat -c %s "$WORK/archives.tar.gz") of archives; $BACKUP_FINGERPRINT"
}
timed "backup (pg_dump)" backup

# The documented restore into a running stack: stop what uses the database,
# replace it by an empty one, pg_restore, start again; then the rows are those
# of the backup and the key made before it works.
restore_database() {
  "${COMPOSE[@]}" exec -T db dropdb -U tm_owner --force threemin || { say "dropdb failed"; return 1; }
  "${COMPOSE[@]}" exec -T db createdb -U tm_owner threemin || { say "createdb failed"; return 1; }
  "${COMPOSE[@]}" exec -T db pg_restore -U tm_owner -d threemin --single-transaction --exit-on-error <"$BACKUP" ||
    { say "pg_restore failed"; return 1; }
}
restore_and_check() {
  timed "  stop edge worker jobs" "${COMPOSE[@]}" stop edge worker jobs >/dev/null 2>&1 || return 1
  timed "  dropdb, createdb, pg_restore" restore_database || return 1
  # jobs is stopped: the archive files go back through a one-off container of it.
  timed "  archive files (tar)" "${COMPOSE[@]}" run --rm --no-deps -T jobs tar -C /var/lib/3min/archives -xzf - \
    <"$WORK/archives.tar.gz" || { say "restoring the archive files failed"; return 1; }
  timed "  up -d" "${COMPOSE[@]}" up -d --no-build --scale worker=3 >/dev/null 2>&1 || return 1
  timed "  ready" ready || return 1
  local now
  now=$(fingerprint) || return 1
  [ "$now" = "$BACKUP_FINGERPRINT" ] || { say "restored: $now; backed up: $BACKUP_FINGERPRINT"; return 1; }
  mcp_call "$BACKUP_KEY" '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"endpoints_list","arguments":{}}}' |
    jq -e '.result.structuredContent.items | map(.name) == ["Backup check"]' >/dev/null ||
    { say "restored: the key made before the backup does not list its endpoint"; return 1; }
  [ "$("${COMPOSE[@]}" exec -T edge cat /var/lib/3min/archives/backup-marker)" = "$RUN_ID" ] ||
    { say "restored: the archive files are not back"; return 1; }
  say "restore: $now; the key made before the backup works; the archive files are back"
}

# ---- 7. the same stack with Compose v2 ---------------------------------------------
# Everything above ran with docker-compose 1.29. Compose v2 reads the same file
# with its own parser and its own conventions (container names project-service-N,
# profiles, --scale on up): it brings up the images built above (no build,
# nothing pulled) under a project of its own, on the same ports.
v2_banner() {
  cat >&2 <<BANNER

################################################################################
#   make test-compose: the Compose v2 part was SKIPPED                         #
################################################################################
   reason: $*
   The stack ran with docker-compose 1.29 only.
################################################################################

BANNER
}
compose_v2() {
  local v2
  if ! v2=$(deploy/compose/compose-v2.sh); then
    v2_banner "no Compose v2 could be found or fetched (deploy/compose/compose-v2.sh, output above)"
    # The restore is tested all the same, with v1 on a fresh database.
    timed "down -v (v1)" "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || return 1
    stack_up=0
    timed "up -d (v1, fresh database)" "${COMPOSE[@]}" up -d --scale worker=3 >/dev/null 2>&1 || return 1
    stack_up=1
    timed "ready" ready || return 1
    timed "restore the backup (pg_restore)" restore_and_check || return 1
    return 0
  fi
  say "Compose v2: $("$v2" version --short) ($v2)"
  timed "down -v (v1)" "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || { say "down -v failed"; return 1; }
  stack_up=0
  COMPOSE_BIN=$v2
  COMPOSE_PROJECT=${COMPOSE_PROJECT}v2
  COMPOSE=("$COMPOSE_BIN" -p "$COMPOSE_PROJECT")
  timed "v2: config" "${COMPOSE[@]}" config -q || return 1
  stack_up=1
  timed "v2: up -d --scale worker=3" "${COMPOSE[@]}" up -d --no-build --pull never --scale worker=3 || return 1
  timed "v2: ready (edge, 3 workers)" ready || return 1
  timed "v2: restore the v1 backup (pg_restore)" restore_and_check || return 1
  trust_proxy_cert || return 1
  # v2's own container names, so this is v2's stack and not a leftover of v1's
  "${COMPOSE[@]}" ps --format '{{.Name}}' | grep -qx "${COMPOSE_PROJECT}-worker-3" ||
    { say "v2: no container ${COMPOSE_PROJECT}-worker-3"; "${COMPOSE[@]}" ps >&2; return 1; }
  timed "v2: MCP tests (SDK client)" node --test --test-concurrency=1 tests/compose/*.test.mjs || return 1
  timed "v2: scale to 4 workers" "${COMPOSE[@]}" up -d --no-build --pull never --no-deps --scale worker=4 worker ||
    return 1
  wait_for 120 "v2: 4 workers connected to PostgreSQL" workers_are 4 || return 1
  timed "v2: scale to 2 workers" "${COMPOSE[@]}" up -d --no-build --pull never --no-deps --scale worker=2 worker ||
    return 1
  wait_for 60 "v2: 2 workers connected to PostgreSQL" workers_are 2 || return 1
  [ "$(running_workers)" = 2 ] || { say "v2: expected 2 worker containers, have $(running_workers)"; return 1; }
  curl -sf --max-time 5 "$PUBLIC_URL/readyz" >/dev/null || { say "v2: the edge is not ready after scaling"; return 1; }
}
compose_v2
