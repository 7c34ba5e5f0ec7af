#!/usr/bin/env bash
# Fails on any #include that points up or sideways against the layer matrix (DESIGN.md section
# 7): each folder of src/ includes only its own layer and the layers below it. The public
# headers (shmbus/*.h) are the vocabulary every layer may use. Bindings, tools, the bridge, the
# service layer and examples see only the public headers (the bridge: and its own, below).
#
#   rank  layer            may include
#   0     base             base
#   1     log              base, log            (log/storage.cc alone also log/ring, log/segments:
#                                                 the one factory that knows the kinds)
#   2     log/ring         base, log, log/ring
#   2     log/segments     base, log, log/segments
#   3     topic            base, log, topic
#   4     bus              ... topic, bus
#   5     routing          ... bus, routing
#   6     messaging        ... routing, messaging
#   7     api              everything in src/
set -euo pipefail
cd "$(dirname "$0")/.."

rank_of() {  # the layer a path (relative to src/) belongs to
  case "$1" in
    base/*) echo 0 ;;
    log/ring/*|log/segments/*) echo 2 ;;
    log/*) echo 1 ;;
    topic/*) echo 3 ;;
    bus/*) echo 4 ;;
    routing/*) echo 5 ;;
    messaging/*) echo 6 ;;
    api/*) echo 7 ;;
    *) echo -1 ;;
  esac
}
folder_of() { dirname "$1"; }

status=0
fail() { echo "check_layers: $1" >&2; status=1; }

while IFS= read -r file; do
  from=${file#src/}
  from_rank=$(rank_of "$from")
  [ "$from_rank" -ge 0 ] || { fail "$file: not in a known layer (add it to tools/check_layers.sh)"; continue; }
  while IFS= read -r included; do
    case "$included" in shmbus/*) continue ;; esac
    to_rank=$(rank_of "$included")
    if [ "$to_rank" -lt 0 ]; then fail "$file includes \"$included\": not a src/ layer"; continue; fi
    if [ "$to_rank" -gt "$from_rank" ]; then
      if [ "$from" = "log/storage.cc" ] && [ "$to_rank" -eq 2 ]; then continue; fi
      fail "$file includes \"$included\": layer $(folder_of "$included") is above $(folder_of "$from")"
    elif [ "$to_rank" -eq "$from_rank" ] && [ "$(folder_of "$included")" != "$(folder_of "$from")" ]; then
      fail "$file includes \"$included\": sideways, between $(folder_of "$from") and $(folder_of "$included")"
    fi
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done < <(git ls-files 'src/*.h' 'src/*.cc')

# The bridge (bridge/, one namespace per folder: shmbus::bridge, shmbus::bridge::amqp) sees the
# public API and itself; only bridge/amqp/ knows AMQP (rabbitmq-c's headers), and only
# bridge/link_factory.cc of the rest reaches into bridge/amqp/ (through its factory.h). The CLI
# may include bridge/ headers, never bridge/amqp/.
while IFS= read -r file; do
  case "$file" in bridge/amqp/*) want="shmbus::bridge::amqp" ;; *) want="shmbus::bridge" ;; esac
  while IFS= read -r ns; do
    [ "$ns" = "$want" ] || fail "$file: namespace $ns, expected $want"
  done < <(sed -n 's/^namespace \(shmbus[a-z:_]*\) {.*/\1/p' "$file")
  while IFS= read -r included; do
    case "$included" in
      shmbus/*) ;;
      bridge/amqp/*)
        case "$file" in bridge/amqp/*|bridge/link_factory.cc) ;;
          *) fail "$file includes \"$included\": only bridge/amqp/ and bridge/link_factory.cc may (the rest knows no AMQP)" ;;
        esac ;;
      bridge/*) ;;
      *) fail "$file includes \"$included\": the bridge includes only include/shmbus and bridge/ headers" ;;
    esac
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
  case "$file" in bridge/amqp/*) ;;
    *) if grep -nE '^#include <(rabbitmq-c/|amqp)' "$file"; then fail "$file: rabbitmq-c outside bridge/amqp/"; fi ;;
  esac
done < <(git ls-files 'bridge/*.h' 'bridge/*.cc')
while IFS= read -r file; do
  if grep -nE '^#include <(rabbitmq-c/|amqp)' "$file"; then fail "$file: rabbitmq-c outside bridge/amqp/ (and its tests)"; fi
done < <(git ls-files 'src/*.h' 'src/*.cc' 'tools/*.h' 'tools/*.cc' 'include/*.h' 'bindings/*.h' 'bindings/*.cc' 'service/*.h' 'service/*.cc' 'saga/*.h' 'saga/*.cc')

# Outside src/: only the public API (and files of their own folder).
while IFS= read -r file; do
  while IFS= read -r included; do
    case "$included" in shmbus/*) continue ;; esac
    # The CLI's `bridge` command runs the bridge through its own headers (not its AMQP adapter).
    case "$file:$included" in tools/cli/*:bridge/amqp/*) ;; tools/cli/*:bridge/*) continue ;; esac
    [ -e "$(dirname "$file")/$included" ] && continue
    # The benchmark suite behind `shmbus bench` is itself built on the public API only.
    [ "${file#tools/}" != "$file" ] && [ -e "bench/suite/$included" ] && continue
    fail "$file includes \"$included\": only include/shmbus headers are allowed here"
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done < <(git ls-files 'bindings/*.h' 'bindings/*.cc' 'tools/*.h' 'tools/*.cc' \
                      'service/*.h' 'service/*.cc' 'outbox/*.h' 'outbox/*.cc' 'examples/*.h' 'examples/*.cc')

# The service layer (service/, include/shmbus/service/) sits above the public API: nothing below
# it may include it (src/ and the core public headers), and it has one namespace,
# shmbus::service (shmbus::service::detail for what its own files share).
while IFS= read -r file; do
  if grep -nE '^#include "shmbus/service/' "$file"; then
    fail "$file includes the service layer, which is built on top of it"
  fi
done < <(git ls-files 'src/*.h' 'src/*.cc' 'include/shmbus/*.h' | grep -vE '^include/shmbus/(service|outbox|saga)/')
while IFS= read -r file; do
  while IFS= read -r ns; do
    # Nested ones (detail, kinds) open inside shmbus::service, which each file opens first.
    [ "$ns" = "shmbus::service" ] || [ "$ns" = "shmbus::service::detail" ] || [ "$ns" = "detail" ] ||
      [ "$ns" = "kinds" ] || fail "$file: namespace $ns, expected shmbus::service"
  done < <(sed -n 's/^namespace \([A-Za-z0-9_:]*\) {.*/\1/p' "$file")
done < <(git ls-files 'service/*.h' 'service/*.cc' 'include/shmbus/service/*.h')

# The outbox layer (outbox/, include/shmbus/outbox/: the outbox and the inbox) sits above the
# service layer and below the saga layer: nothing below it includes it, it has one namespace, shmbus::outbox (::detail for
# what its files share), and only its PostgreSQL files know libpqxx.
while IFS= read -r file; do
  if grep -nE '^#include "shmbus/outbox/' "$file"; then
    fail "$file includes the outbox layer, which is built on top of it"
  fi
done < <(git ls-files 'src/*.h' 'src/*.cc' 'include/shmbus/*.h' 'service/*.h' 'service/*.cc' | grep -vE '^include/shmbus/(outbox|saga)/')
while IFS= read -r file; do
  while IFS= read -r ns; do
    [ "$ns" = "shmbus::outbox" ] || [ "$ns" = "shmbus::outbox::detail" ] || [ "$ns" = "detail" ] ||
      fail "$file: namespace $ns, expected shmbus::outbox"
  done < <(sed -n 's/^namespace \([A-Za-z0-9_:]*\) {.*/\1/p' "$file")
  case "$file" in outbox/postgres*|include/shmbus/outbox/postgres.h) ;;
    *) if grep -nE '^#include <pqxx' "$file"; then fail "$file: libpqxx outside the PostgreSQL store"; fi ;;
  esac
done < <(git ls-files 'outbox/*.h' 'outbox/*.cc' 'include/shmbus/outbox/*.h')

# Sagas (saga/, include/shmbus/saga/) sit above the outbox layer (their stores are outbox
# databases, their messages go through its outbox and inbox): they include the public API, the
# service and outbox layers' public headers (include/shmbus/outbox/, never outbox/'s own files)
# and their own; nothing below includes them; libpqxx only in the PostgreSQL store; one
# namespace, shmbus::saga (shmbus::saga::detail for what its own files share).
while IFS= read -r file; do
  if grep -nE '^#include "shmbus/saga/' "$file"; then
    fail "$file includes the saga layer, which is built on top of it"
  fi
done < <(git ls-files 'src/*.h' 'src/*.cc' 'include/shmbus/*.h' 'service/*.h' 'service/*.cc' 'bridge/*.h' 'bridge/*.cc' \
           'outbox/*.h' 'outbox/*.cc' 'include/shmbus/outbox/*.h' |
           grep -v '^include/shmbus/saga/')
while IFS= read -r file; do
  while IFS= read -r included; do
    case "$included" in shmbus/*) continue ;; esac
    [ -e "$(dirname "$file")/$included" ] || fail "$file includes \"$included\": sagas include only include/shmbus headers and saga/ ones"
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
  while IFS= read -r ns; do
    [ "$ns" = "shmbus::saga" ] || [ "$ns" = "shmbus::saga::detail" ] || [ "$ns" = "detail" ] ||
      fail "$file: namespace $ns, expected shmbus::saga"
  done < <(sed -n 's/^namespace \([A-Za-z0-9_:]*\) {.*/\1/p' "$file")
  case "$file" in saga/postgres*|include/shmbus/saga/postgres_store.h) ;;
    *) if grep -nE '^#include <pqxx' "$file"; then fail "$file: libpqxx outside the saga's PostgreSQL store"; fi ;;
  esac
done < <(git ls-files 'saga/*.h' 'saga/*.cc' 'include/shmbus/saga/*.h')

# Public headers: no src/ includes, no atomics or platform headers.
while IFS= read -r file; do
  if grep -nE '^#include "(base|log|topic|bus|routing|messaging|api)/|^#include <(atomic|sys/|unistd|linux/)' "$file"; then
    fail "$file: public headers include only the standard library and other public headers"
  fi
done < <(git ls-files 'include/shmbus/*.h')

# One namespace per folder: a src/ file's namespace names its folder (api/ is the public one),
# or is a public one (a namespace a header of include/shmbus declares, implemented below api/).
public_namespaces=$(git ls-files 'include/shmbus/*.h' | xargs sed -n 's/^namespace \(shmbus[a-z:_]*\) {.*/\1/p' | sort -u)
while IFS= read -r file; do
  from=${file#src/}
  folder=$(folder_of "$from")
  case "$folder" in api) want="shmbus" ;; *) want="shmbus::${folder//\//::}" ;; esac
  while IFS= read -r ns; do
    [ "$ns" = "$want" ] || [ "$ns" = "shmbus::detail" ] || [ "$ns" = "shmbus" ] ||
      grep -qx "$ns" <<< "$public_namespaces" || fail "$file: namespace $ns, expected $want"
  done < <(sed -n 's/^namespace \(shmbus[a-z:_]*\) {.*/\1/p' "$file")
done < <(git ls-files 'src/*.h' 'src/*.cc')

[ $status -eq 0 ] && echo "check_layers: every include points down the layers"
exit $status
