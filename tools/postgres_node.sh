#!/usr/bin/env bash
# A private PostgreSQL cluster for tests, without systemd (Debian's postgresql package).
#
#   tools/postgres_node.sh start DIR   # initdb in DIR/data, starts the server on a free port,
#                                      # waits for it, writes DIR/env (PORT, SHMBUS_POSTGRES_URL)
#   tools/postgres_node.sh stop DIR    # stops exactly that server (its postmaster pid)
#
# The server listens on 127.0.0.1 only (and a socket in DIR), with trust authentication for
# the `postgres` role; its data, socket and log are in DIR, so it neither sees nor disturbs a
# system cluster. fsync is off: the tests kill clients and relays (process crashes), for which
# the server's own durability plays no part; do not keep data in it. A start on a DIR whose
# server was stopped starts it again (same port and data). rm -rf DIR for a fresh one.
# Uses the newest /usr/lib/postgresql/*/bin (initdb, pg_ctl). Needs root (the server then runs
# as the `postgres` user) or the `postgres` user itself. Every wait is bounded.
# Tunables: POSTGRES_NODE_TIMEOUT (s, default 60).
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
timeout_s=${POSTGRES_NODE_TIMEOUT:-60}

die() { echo "postgres_node.sh: $*" >&2; exit 1; }

bindir=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)
[ -n "$bindir" ] && [ -x "$bindir/pg_ctl" ] || die "no /usr/lib/postgresql/*/bin/pg_ctl: install postgresql (tools/deps.sh)"

as_postgres() {  # runs a command as the postgres user (from root) or as ourselves (postgres)
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@" < /dev/null; else "$@" < /dev/null; fi
}

port_in_use() {
  if command -v ss > /dev/null; then
    [ -n "$(ss -Htan exclude time-wait "( sport = :$1 )" 2> /dev/null)" ]
  else
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null
  fi
}

pick_port() {  # below the ephemeral range, so no outgoing connection takes it meanwhile
  local low p _
  read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2> /dev/null || low=32768
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (low - 10000)))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  return 1
}

start() {
  id postgres > /dev/null 2>&1 || die "no 'postgres' user: is Debian's postgresql installed?"
  [ "$(id -u)" -eq 0 ] || [ "$(id -un)" = postgres ] || die "run as root or as the postgres user"
  [ ! -e "$dir/env" ] || die "$dir/env exists: a server from $dir may still run (stop it first)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
  as_postgres test -w "$dir" || die "the postgres user cannot write $dir (use a DIR under /tmp)"

  local port
  if [ -f "$dir/env.stopped" ]; then
    port=$(sed -n 's/^PORT=//p' "$dir/env.stopped")
    port_in_use "$port" && die "port $port of the stopped server is taken now: cannot restart it there"
  else
    as_postgres "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync > "$dir/initdb.log" 2>&1 ||
      { tail -n 20 "$dir/initdb.log" >&2; die "initdb failed"; }
    port=$(pick_port) || die "found no free port"
  fi
  if ! as_postgres "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t "$timeout_s" \
       -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start > "$dir/pg_ctl.out" 2>&1; then
    tail -n 20 "$dir/server.log" >&2 || true
    die "the server did not start within ${timeout_s}s"
  fi
  local pid
  pid=$(head -n 1 "$dir/data/postmaster.pid")
  {
    echo "PORT=$port"
    echo "PGHOST=127.0.0.1"
    echo "POSTMASTER_PID=$pid"
    echo "DATA=$dir/data"
    echo "SHMBUS_POSTGRES_URL=postgresql://postgres@127.0.0.1:$port/postgres"
  } > "$dir/env"
  echo "postgresql $(basename "$(dirname "$bindir")") up on 127.0.0.1:$port (pid $pid, env: $dir/env)"
}

stop() {
  [ -f "$dir/env" ] || die "no $dir/env: no server was started from $dir"
  local POSTMASTER_PID="" DATA=""
  # shellcheck disable=SC1091
  . "$dir/env"
  if ! as_postgres "$bindir/pg_ctl" -D "$DATA" -m fast -w -t "$timeout_s" stop > "$dir/stop.out" 2>&1; then
    echo "postgres_node.sh: pg_ctl stop failed or timed out; ending postmaster $POSTMASTER_PID" >&2
    # Only if that pid is still this cluster's postmaster (a pid may be reused).
    if [ -n "$POSTMASTER_PID" ] && tr '\0' ' ' < "/proc/$POSTMASTER_PID/cmdline" 2> /dev/null | grep -qF -- "$DATA"; then
      kill -KILL "$POSTMASTER_PID" 2> /dev/null || true
    fi
  fi
  mv "$dir/env" "$dir/env.stopped"
  echo "postgresql on port $PORT stopped"
}

case "$cmd" in
  start) start ;;
  stop) dir=$(cd "$dir" 2> /dev/null && pwd) || die "no directory $2"; stop ;;
  *) usage ;;
esac
