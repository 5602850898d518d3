#!/usr/bin/env bash
# Installs PostgreSQL from Debian packages if it is absent, starts a private
# cluster for the tests (no systemd: pg_ctl with a data dir under
# $OCCID_TEST_STATE), creates a role and a database for them, waits until the
# server accepts connections, and appends
#   export OCCID_TEST_POSTGRES=postgres://...@127.0.0.1:PORT/DB?sslmode=disable
# to "$OCCID_TEST_ENV". Idempotent: a cluster that is already running is
# reused. The pgstore tests create a fresh schema per run, so runs on one
# cluster never collide.
#
# Environment: OCCID_TEST_STATE (default /var/tmp/occid-test), OCCID_TEST_ENV
# (default $OCCID_TEST_STATE/env.sh), OCCID_PG_PORT (default 55432).
set -euo pipefail

state=${OCCID_TEST_STATE:-/var/tmp/occid-test}
envfile=${OCCID_TEST_ENV:-$state/env.sh}
port=${OCCID_PG_PORT:-55432}
role=occid_test
password=occid_test
db=occid_test
pgroot="$state/postgres"
data="$pgroot/data"
sock="$pgroot/run"
log="$pgroot/server.log"

say() { printf 'postgres.sh: %s\n' "$*"; }
die() { printf 'postgres.sh: FAILED: %s\n' "$*" >&2; exit 1; }

# retry N CMD...: runs CMD up to N times, 5 s apart.
retry() {
  local n=$1 i; shift
  for ((i = 1; i <= n; i++)); do
    if "$@"; then return 0; fi
    say "attempt $i/$n of '$*' failed"
    [ "$i" -lt "$n" ] && sleep 5
  done
  return 1
}

bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/postgres" ] && [ -x "$d/initdb" ]; then echo "$d"; fi
}

bin=$(bindir)
if [ -z "$bin" ]; then
  say "PostgreSQL not found; installing it from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  retry 3 apt-get update || die "apt-get update failed"
  retry 3 apt-get install -y --no-install-recommends postgresql postgresql-contrib ||
    die "apt-get install postgresql failed"
  bin=$(bindir)
  [ -n "$bin" ] || die "PostgreSQL installed but no /usr/lib/postgresql/*/bin/postgres found"
fi
say "using $bin"

id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres ||
  die "cannot create the postgres system user"

# The server runs as postgres (it refuses root); it needs to reach $pgroot.
mkdir -p "$state" "$pgroot" "$sock"
chmod 755 "$state" 2>/dev/null || true
chown postgres:postgres "$pgroot" "$sock"
chmod 700 "$pgroot"

as_pg() { (cd / && runuser -u postgres -- "$@"); }

if [ ! -s "$data/PG_VERSION" ]; then
  say "initialising a cluster in $data"
  rm -rf "$data"
  pwfile=$(mktemp)
  printf '%s\n' "$password" >"$pwfile"
  chown postgres "$pwfile"
  as_pg "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 >"$pgroot/initdb.log" 2>&1 ||
    { rm -f "$pwfile"; cat "$pgroot/initdb.log" >&2; die "initdb failed"; }
  rm -f "$pwfile"
fi

ready() { "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2; }

if ready; then
  say "a server already accepts connections on 127.0.0.1:$port; reusing it"
else
  # A postmaster.pid left by a killed server whose PID now names another
  # process would stop the server from starting: drop it.
  if [ -f "$data/postmaster.pid" ]; then
    pid=$(head -n 1 "$data/postmaster.pid" || true)
    if [ -z "$pid" ] || ! grep -qs postgres "/proc/$pid/comm"; then
      say "removing stale $data/postmaster.pid"
      rm -f "$data/postmaster.pid"
    fi
  fi
  say "starting the server on 127.0.0.1:$port (log: $log)"
  touch "$log" && chown postgres "$log"
  start() {
    as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
      -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on -c max_connections=200" \
      start
  }
  retry 3 start || { tail -n 40 "$log" >&2 || true; die "pg_ctl start failed"; }
fi

for ((i = 0; i < 60; i++)); do
  ready && break
  sleep 1
done
ready || { tail -n 40 "$log" >&2 || true; die "server does not accept connections on 127.0.0.1:$port after 60 s"; }

psql_su() { as_pg "$bin/psql" -h "$sock" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }

if [ "$(psql_su -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != 1 ]; then
  say "creating role $role"
  psql_su -c "CREATE ROLE $role LOGIN PASSWORD '$password'" || die "cannot create role $role"
fi
if [ "$(psql_su -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
  say "creating database $db"
  psql_su -c "CREATE DATABASE $db OWNER $role" || die "cannot create database $db"
fi

dsn="postgres://$role:$password@127.0.0.1:$port/$db?sslmode=disable"
PGPASSWORD=$password "$bin/psql" "$dsn" -qAt -c 'SELECT 1' >/dev/null ||
  die "cannot connect as $role with $dsn"

mkdir -p "$(dirname "$envfile")"
echo "export OCCID_TEST_POSTGRES='$dsn'" >>"$envfile"
say "ready: OCCID_TEST_POSTGRES=$dsn (appended to $envfile)"
