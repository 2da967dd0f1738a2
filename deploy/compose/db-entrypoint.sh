#!/bin/sh
# db-entrypoint — starts PostgreSQL in the db container; on the first start
# (an empty PGDATA) creates the cluster first:
#   POSTGRES_USER      the owner role, a superuser (tm_owner)
#   POSTGRES_DB        the database it owns (threemin)
#   POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE   its password (required; the
#                      variable wins over the file when both are set)
# Other hosts must log in with a password (scram-sha-256); the socket inside
# the container trusts local users, for pg_isready and maintenance.
# A cluster that exists is used as it is: the variables only matter once.
set -eu

PGDATA=${PGDATA:-/var/lib/postgresql/data/pgdata}
export PGDATA
say() { echo "db-entrypoint: $*" >&2; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-tm_owner}
  db=${POSTGRES_DB:-threemin}
  pwfile=
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then          # set directly: wins over the file
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  elif [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    [ -r "$POSTGRES_PASSWORD_FILE" ] || { say "cannot read POSTGRES_PASSWORD_FILE $POSTGRES_PASSWORD_FILE"; exit 64; }
    pwfile=$POSTGRES_PASSWORD_FILE
  else
    say "set POSTGRES_PASSWORD_FILE or POSTGRES_PASSWORD: the first start sets the owner's password"
    exit 64
  fi
  [ -s "$pwfile" ] || { say "the owner's password is empty"; exit 64; }
  mkdir -p "$PGDATA"
  chmod 700 "$PGDATA"
  say "creating the cluster in $PGDATA (owner $user, database $db)"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  if [ "$pwfile" != "${POSTGRES_PASSWORD_FILE:-}" ]; then rm -f "$pwfile"; fi
  cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '*'
password_encryption = scram-sha-256
max_connections = 200
CONF
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  # The database, created over a private socket before anyone can connect
  # (and before the health check, which looks at the usual socket, passes).
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/tmp" -w start >/dev/null
  createdb -h /tmp -U "$user" -O "$user" "$db"
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  say "cluster ready"
fi

if [ "${1:-}" = postgres ]; then
  shift
  exec postgres -D "$PGDATA" "$@"
fi
exec "$@"
