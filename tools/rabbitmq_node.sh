#!/usr/bin/env bash
# A private RabbitMQ node for tests, without systemd (Debian's rabbitmq-server package).
#
#   tools/rabbitmq_node.sh start DIR   # starts a node whose every file is in DIR, waits for it,
#                                      # writes DIR/env (NODE, PORT, AMQP_URL, AMQPS_URL, ...) to source
#   tools/rabbitmq_node.sh stop DIR    # stops exactly that node (and the epmd its start launched)
#
# A start on a DIR whose node was stopped starts that node again (same name, port and data):
# a broker restart for fault tests. rm -rf DIR for a fresh one.
#
# The node listens on 127.0.0.1 only, on a port found free at start; its name, data, logs,
# config and plugins are its own, so it neither sees nor disturbs a system node (the Debian
# postinst tries to start one through invoke-rc.d; in a container policy-rc.d usually denies it).
# Besides plain AMQP it opens a TLS listener (AMQPS_URL, TLS_PORT) with a private CA made here
# by openssl (DIR/tls: ca.pem, a server certificate for localhost / 127.0.0.1, and a client
# certificate the node accepts; TLS_CA, TLS_CLIENT_CERT, TLS_CLIENT_KEY in DIR/env).
# Every wait is bounded; nothing reads stdin. Needs root (Debian's wrapper then runs the node
# as the `rabbitmq` user) or the `rabbitmq` user itself.
# Tunables: RABBITMQ_NODE_START_TIMEOUT (s, default 120), RABBITMQ_NODE_STOP_TIMEOUT (s, default 60).
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
start_timeout=${RABBITMQ_NODE_START_TIMEOUT:-120}
stop_timeout=${RABBITMQ_NODE_STOP_TIMEOUT:-60}

die() { echo "rabbitmq_node.sh: $*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# rabbitmqctl that can never wait for input nor hang past $1 seconds.
ctl() { local t=$1; shift; timeout -k 5 "$t" rabbitmqctl "$@" < /dev/null; }

epmd_pids() { pgrep -x epmd 2>/dev/null | sort -n || true; }

port_in_use() {  # a socket bound to the TCP port (TIME_WAIT leftovers do not stop a listener)
  if command -v ss > /dev/null; then
    [ -n "$(ss -Htan exclude time-wait "( sport = :$1 )" 2>/dev/null)" ]
  else
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null
  fi
}

# A free AMQP port P with P + 20000 free for Erlang distribution, both below the kernel's
# ephemeral range so no outgoing connection is handed one of them between this check and the bind.
pick_ports() {
  local low p _
  read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (low - 20000 - 10000)))
    if ! port_in_use "$p" && ! port_in_use $((p + 20000)); then
      echo "$p"; return 0
    fi
  done
  return 1
}

# Another free port below the ephemeral range, for the TLS listener: not P, not P + 20000.
pick_tls_port() {
  local low p _
  read -r low _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
  for _ in $(seq 1 200); do
    p=$((10000 + RANDOM % (low - 10000)))
    if [ "$p" -ne "$1" ] && [ "$p" -ne $(($1 + 20000)) ] && ! port_in_use "$p"; then
      echo "$p"; return 0
    fi
  done
  return 1
}

# A private CA, a server certificate it signed (CN localhost; SAN DNS:localhost, IP:127.0.0.1)
# and a client certificate it signed (CN shmbus-test-client), made once per DIR: a restarted
# node keeps them, so clients keep trusting it. EC P-256 keys: quick to make, Erlang and
# OpenSSL both take them.
make_certs() {
  local t="$dir/tls"
  [ -f "$t/server.pem" ] && [ -f "$t/client.pem" ] && return 0
  command -v openssl > /dev/null || die "openssl is not installed (apt-get install openssl): the TLS listener needs it"
  rm -rf "$t"; mkdir -p "$t"
  local key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  {
    openssl req -x509 "${key[@]}" -keyout "$t/ca.key" -out "$t/ca.pem" -days 3650 \
      -subj "/CN=shmbus test CA $(basename "$dir")" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req "${key[@]}" -keyout "$t/server.key" -out "$t/server.csr" -subj "/CN=localhost"
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "extendedKeyUsage=serverAuth" \
      "basicConstraints=CA:FALSE" > "$t/server.ext"
    openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
      -out "$t/server.pem" -days 3650 -extfile "$t/server.ext"
    openssl req "${key[@]}" -keyout "$t/client.key" -out "$t/client.csr" -subj "/CN=shmbus-test-client"
    printf '%s\n' "extendedKeyUsage=clientAuth" "basicConstraints=CA:FALSE" > "$t/client.ext"
    openssl x509 -req -in "$t/client.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
      -out "$t/client.pem" -days 3650 -extfile "$t/client.ext"
  } > "$t/openssl.out" 2>&1 || { cat "$t/openssl.out" >&2; die "openssl could not make the test certificates in $t"; }
  rm -f "$t"/*.csr "$t"/*.ext
  chmod 600 "$t"/*.key
  [ "$(id -u)" -eq 0 ] && chown -R rabbitmq:rabbitmq "$t"
  return 0
}

log_tail() {
  local f
  for f in "$dir"/server.out "$dir"/log/*.log; do
    [ -f "$f" ] || continue
    echo "---- last lines of $f" >&2
    tail -n 40 "$f" >&2
  done
}

start() {
  command -v rabbitmq-server > /dev/null || die "rabbitmq-server is not installed (tools/deps.sh installs it)"
  id rabbitmq > /dev/null 2>&1 || die "no 'rabbitmq' user: is Debian's rabbitmq-server installed?"
  [ "$(id -u)" -eq 0 ] || [ "$(id -un)" = rabbitmq ] || die "run as root or as the rabbitmq user"
  [ ! -e "$dir/env" ] || die "$dir/env exists: a node from $dir may still run (stop it first)"

  case "$dir" in *[[:space:]]*) die "DIR must not contain white space (RabbitMQ's scripts split it)";; esac
  mkdir -p "$dir/mnesia" "$dir/log"
  dir=$(cd "$dir" && pwd)
  [ "$(id -u)" -eq 0 ] && chown -R rabbitmq:rabbitmq "$dir"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u rabbitmq -- test -w "$dir/mnesia"; then
    die "the rabbitmq user cannot write $dir (a parent directory is closed to it: use a DIR under /tmp)"
  fi

  local port node tls_port
  if [ -f "$dir/env.stopped" ]; then
    # The same node again (a broker restart): same name, so the same data directory (durable
    # queues and their messages survive), and the same port, so clients reconnect to it.
    node=$(sed -n 's/^NODE=//p' "$dir/env.stopped")
    port=$(sed -n 's/^PORT=//p' "$dir/env.stopped")
    tls_port=$(sed -n 's/^TLS_PORT=//p' "$dir/env.stopped")
    [ -n "$tls_port" ] || tls_port=$(pick_tls_port "$port") || die "found no free port for the TLS listener"
    if port_in_use "$port" || port_in_use $((port + 20000)) || port_in_use "$tls_port"; then
      die "port $port, $((port + 20000)) or $tls_port of node $node is taken now: cannot restart it on the same ports"
    fi
  else
    port=$(pick_ports) || die "found no free port pair (P, P+20000) below the ephemeral range"
    tls_port=$(pick_tls_port "$port") || die "found no free port for the TLS listener"
    node="shmbus-test-$$-$RANDOM@localhost"
  fi
  make_certs

  # Only the node's own files: an empty rabbitmq-env.conf and rabbitmq.conf of its own, so
  # /etc/rabbitmq (NODENAME=, NODE_PORT=, listeners) cannot redirect it onto the system node.
  : > "$dir/rabbitmq-env.conf"
  # TLS: the peer is verified when it shows a certificate (it must be our CA's), not required to.
  printf '%s\n' "listeners.tcp.default = 127.0.0.1:$port" "loopback_users.guest = true" \
    "listeners.ssl.default = 127.0.0.1:$tls_port" \
    "ssl_options.cacertfile = $dir/tls/ca.pem" \
    "ssl_options.certfile = $dir/tls/server.pem" \
    "ssl_options.keyfile = $dir/tls/server.key" \
    "ssl_options.verify = verify_peer" \
    "ssl_options.fail_if_no_peer_cert = false" \
    > "$dir/rabbitmq.conf"
  echo '[].' > "$dir/enabled_plugins"
  [ "$(id -u)" -eq 0 ] && chown rabbitmq:rabbitmq "$dir"/rabbitmq-env.conf "$dir"/rabbitmq.conf "$dir"/enabled_plugins

  export RABBITMQ_NODENAME="$node"
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  # Loopback only for Erlang distribution too, and for an epmd this start launches.
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT="$port"
  export RABBITMQ_DIST_PORT=$((port + 20000))
  export RABBITMQ_MNESIA_BASE="$dir/mnesia"
  export RABBITMQ_LOG_BASE="$dir/log"
  export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
  export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
  export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
  export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
  export RABBITMQ_PID_FILE="$dir/node.pid"

  local epmd_before t0 server_pid
  epmd_before=$(epmd_pids)
  t0=$(now)
  # Debian's /usr/sbin/rabbitmq-server su's to `rabbitmq` (keeping the environment) and execs erl.
  rabbitmq-server > "$dir/server.out" 2>&1 < /dev/null &
  server_pid=$!
  {
    echo "NODE=$node"
    echo "PORT=$port"
    echo "DIST_PORT=$((port + 20000))"
    echo "AMQP_URL=amqp://guest:guest@127.0.0.1:$port/"
    echo "SHMBUS_AMQP_URL=amqp://guest:guest@127.0.0.1:$port/"
    echo "TLS_PORT=$tls_port"
    echo "AMQPS_URL=amqps://guest:guest@localhost:$tls_port/"
    echo "TLS_CA=$dir/tls/ca.pem"
    echo "TLS_CLIENT_CERT=$dir/tls/client.pem"
    echo "TLS_CLIENT_KEY=$dir/tls/client.key"
    echo "SERVER_PID=$server_pid"
    echo "PID_FILE=$dir/node.pid"
    echo "LOG_DIR=$dir/log"
  } > "$dir/env.partial"

  local deadline rc out
  deadline=$(( $(date +%s) + start_timeout ))
  while :; do
    # await_startup answers 69 (unavailable) at once while the node is not reachable yet and
    # waits by itself once it is (bounded here, so a stuck boot still ends).
    rc=0; out=$(ctl 30 -n "$node" await_startup --timeout 25 2>&1) || rc=$?
    out=${out%%$'\n'*}
    [ $rc -eq 0 ] && break
    if ! kill -0 "$server_pid" 2> /dev/null; then
      echo "rabbitmq_node.sh: the node exited during startup (last await_startup: rc $rc)" >&2
      log_tail; rm -f "$dir/env.partial"; exit 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "rabbitmq_node.sh: node $node not up after ${start_timeout}s (last await_startup: rc $rc: $out)" >&2
      log_tail
      # Do not leave it behind: the caller gets no env file, so it could not stop it.
      mv "$dir/env.partial" "$dir/env"; stop || true
      exit 1
    fi
    sleep 0.5
  done

  # The epmd this start launched (none if one was running already, e.g. systemd's epmd.socket).
  local epmd_new="" p
  for p in $(epmd_pids); do
    grep -qx "$p" <<< "$epmd_before" || epmd_new="$p"
  done
  echo "EPMD_PID=$epmd_new" >> "$dir/env.partial"
  mv "$dir/env.partial" "$dir/env"
  echo "rabbitmq node $node up on 127.0.0.1:$port (TLS $tls_port) in $(elapsed "$t0") s (env: $dir/env)"
}

is_node_process() {  # pid: a live process started for $NODE (our start exported RABBITMQ_NODENAME)
  [ -n "$1" ] && [ -r "/proc/$1/environ" ] &&
    tr '\0' '\n' < "/proc/$1/environ" 2> /dev/null | grep -qxF -- "RABBITMQ_NODENAME=$NODE"
}

descendants() {  # pid: it and every process below it
  local p
  echo "$1"
  for p in $(ps -o pid= --ppid "$1" 2> /dev/null); do descendants "$p"; done
}

wait_gone() {  # pid timeout_s: 0 once the process has gone
  local pid=$1 until=$(( $(date +%s) + $2 ))
  while kill -0 "$pid" 2> /dev/null; do
    [ "$(date +%s)" -lt "$until" ] || return 1
    sleep 0.2
  done
}

stop() {
  [ -f "$dir/env" ] || die "no $dir/env: no node was started from $dir"
  local NODE="" SERVER_PID="" PID_FILE="" EPMD_PID="" beam="" t0
  # shellcheck disable=SC1091
  . "$dir/env"
  t0=$(now)
  [ -f "$PID_FILE" ] && beam=$(cat "$PID_FILE" 2> /dev/null || true)
  # Only pids that are still this node's (a pid of a node that died long ago may be reused).
  is_node_process "$beam" || beam=""
  is_node_process "$SERVER_PID" || SERVER_PID=""
  # The wrapper chain sh -> su -> sh -> erl (beam): if the node does not stop by itself, each of
  # them is ended by its pid (a TERM to the outer sh alone would orphan the beam).
  local tree=""
  [ -n "$SERVER_PID" ] && tree=$(descendants "$SERVER_PID" | tr '\n' ' ')

  # `stop PID_FILE` returns once the node's OS process has ended.
  if ! ctl "$stop_timeout" -n "$NODE" stop "$PID_FILE" > "$dir/stop.out" 2>&1; then
    echo "rabbitmq_node.sh: rabbitmqctl stop failed or timed out; terminating the node's processes" >&2
    tail -n 5 "$dir/stop.out" >&2 || true
  fi
  local p
  for p in $beam $tree; do
    [ -n "$p" ] || continue
    if ! wait_gone "$p" 10; then
      kill -TERM "$p" 2> /dev/null || true
      wait_gone "$p" 10 || { kill -KILL "$p" 2> /dev/null || true; wait_gone "$p" 5 || true; }
    fi
  done

  # End the epmd our start launched, unless another node still uses it.
  if [ -n "$EPMD_PID" ] && kill -0 "$EPMD_PID" 2> /dev/null && [ "$(cat /proc/"$EPMD_PID"/comm 2>/dev/null)" = epmd ]; then
    local others
    others=$(timeout 5 epmd -names 2> /dev/null < /dev/null | grep '^name ' | grep -v "^name ${NODE%@*} " || true)
    if [ -n "$others" ]; then
      echo "rabbitmq_node.sh: leaving epmd $EPMD_PID running: other nodes use it: $others" >&2
    else
      kill -TERM "$EPMD_PID" 2> /dev/null || true
      wait_gone "$EPMD_PID" 5 || { kill -KILL "$EPMD_PID" 2> /dev/null || true; wait_gone "$EPMD_PID" 5 || true; }
    fi
  fi
  mv "$dir/env" "$dir/env.stopped"
  echo "rabbitmq node $NODE stopped in $(elapsed "$t0") s"
}

case "$cmd" in
  start) start ;;
  stop) dir=$(cd "$dir" 2> /dev/null && pwd) || die "no directory $2"; stop ;;
  *) usage ;;
esac
