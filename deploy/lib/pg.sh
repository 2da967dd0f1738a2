# shellcheck shell=bash
# pg.sh — a throwaway PostgreSQL 15 cluster for `make run` and the test suite.
# Source it from bash, then:
#
#   pg_start DIR   create (the first time) and start a cluster for DIR; create
#                  the database `threemin`; export DATABASE_URL (owner tm_owner)
#   pg_stop DIR    stop it (fast shutdown: open sessions are disconnected)
#   pg_destroy DIR stop it and delete its files
#
# The cluster listens only on a unix socket (listen_addresses = ''), never on
# TCP, and authenticates with `trust`: whoever can reach the socket is in.
# That is why the socket directory is private (mode 0700, owner = the server's
# user) and why this is for development and tests only.
#
# Where the files live. initdb and postgres refuse to run as root, so as root
# the server runs as `nobody`, which must be able to reach its data directory.
# That fails for a checkout under /root (mode 0700), and a unix socket path is
# limited to 107 bytes, which a deep checkout can exceed. So the cluster lives
# in DIR itself (DIR/data, DIR/sock, DIR/postgres.log) only when the server's
# user can traverse DIR and DIR/sock is short; otherwise it lives in
# /tmp/3min-pg-<hash of DIR's absolute path>, and DIR/location names that
# directory so a person can find it. The hash makes the choice deterministic:
# pg_stop and a second pg_start find the same cluster. /tmp is shared, so the
# directory is created with mkdir (never reused if someone else owns it or it
# is a symlink). A cluster in /tmp does not survive a reboot; callers that
# seed data must check that their data is still there (deploy/run.sh does).

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# Runs a command as the cluster's user: `nobody` when we are root.
_pg_as() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u nobody -- "$@"
  else
    "$@"
  fi
}

# Prints the absolute directory that holds data/, sock/ and postgres.log.
_pg_base() {
  local dir=$1 abs hash base
  mkdir -p "$dir" || return 1
  abs=$(cd "$dir" && pwd -P) || return 1
  # 18 = length of "/sock/.s.PGSQL.5432"; 107 = sun_path - 1.
  if [ $(( ${#abs} + 18 )) -le 107 ] && _pg_as test -x "$abs" && _pg_as test -r "$abs"; then
    printf '%s\n' "$abs"
    return 0
  fi
  hash=$(printf '%s' "$abs" | sha256sum | cut -c1-12)
  base=/tmp/3min-pg-$hash
  if [ ! -e "$base" ]; then
    mkdir -m 0755 "$base" || return 1
  fi
  if [ -L "$base" ] || [ ! -d "$base" ] || [ ! -O "$base" ]; then
    echo "pg: $base exists and is not ours; remove it or choose another directory" >&2
    return 1
  fi
  printf '%s\n' "$base" >"$abs/location"
  printf '%s\n' "$base"
}

pg_start() {
  local dir=${1:?usage: pg_start DIR} base data sock
  base=$(_pg_base "$dir") || return 1
  data=$base/data
  sock=$base/sock

  if [ ! -s "$data/PG_VERSION" ]; then
    # An earlier initdb that died halfway leaves a data directory initdb
    # refuses; without PG_VERSION nothing in it is worth keeping.
    rm -rf "$data"
    mkdir -m 0700 "$data" || return 1
    if [ "$(id -u)" = 0 ]; then chown nobody: "$data" || return 1; fi
    local locale=C.UTF-8
    locale -a 2>/dev/null | grep -qix 'c.utf-\?8' || locale=C
    _pg_as "$PG_BIN/initdb" -D "$data" --auth=trust --username=tm_owner -E UTF8 \
      --locale="$locale" >"$base/initdb.log" 2>&1 || {
      echo "pg: initdb failed, see $base/initdb.log" >&2
      return 1
    }
    # Settings live in the cluster's own file so that every start (and a
    # manual pg_ctl) gets them. synchronous_commit=off trades the last few
    # commits on a crash for speed, which is right for a throwaway cluster.
    cat >>"$data/postgresql.conf" <<EOF

# 3min throwaway cluster (deploy/lib/pg.sh)
listen_addresses = ''
unix_socket_directories = '$sock'
unix_socket_permissions = 0700
synchronous_commit = off
max_connections = 200
EOF
  fi
  [ -d "$sock" ] || mkdir -m 0700 "$sock" || return 1
  # pg_ctl opens its log as the server's user, so the file must be theirs.
  touch "$base/postgres.log" || return 1
  if [ "$(id -u)" = 0 ]; then chown nobody: "$sock" "$base/postgres.log" || return 1; fi

  if ! _pg_as "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    _pg_as "$PG_BIN/pg_ctl" -D "$data" -l "$base/postgres.log" -w -t 60 start >/dev/null || {
      echo "pg: the server did not start, see $base/postgres.log" >&2
      return 1
    }
  fi
  # pg_ctl returns when the server accepts connections; make the database if
  # this is the first start.
  if [ "$("$PG_BIN/psql" -h "$sock" -U tm_owner -d postgres -XtAc \
        "SELECT 1 FROM pg_database WHERE datname = 'threemin'")" != 1 ]; then
    "$PG_BIN/createdb" -h "$sock" -U tm_owner threemin || return 1
  fi
  export DATABASE_URL="postgresql:///threemin?host=$sock&user=tm_owner"
}

pg_stop() {
  local dir=${1:?usage: pg_stop DIR} base
  base=$(_pg_base "$dir") || return 1
  [ -s "$base/data/PG_VERSION" ] || return 0
  if _pg_as "$PG_BIN/pg_ctl" -D "$base/data" status >/dev/null 2>&1; then
    _pg_as "$PG_BIN/pg_ctl" -D "$base/data" -m fast -w -t 60 stop >/dev/null
  fi
}

# Stops the cluster and deletes its files, wherever _pg_base put them (a test
# removing only DIR would leave a /tmp/3min-pg-* directory behind).
pg_destroy() {
  local dir=${1:?usage: pg_destroy DIR} base
  base=$(_pg_base "$dir") || return 1
  pg_stop "$dir" || true
  rm -rf "$base/data" "$base/sock" "$base/postgres.log" "$base/initdb.log" "$dir/location"
  [ "$base" = "$(cd "$dir" && pwd -P)" ] || rmdir "$base" 2>/dev/null || true
}
