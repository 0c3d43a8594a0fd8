#!/usr/bin/env bash
# Bring up (or down) every service the tests need, on 127.0.0.1:
#   deploy/dev/services.sh up     Docker engine, Kafka (KRaft), pouchdb-server; writes .dev/env
#   deploy/dev/services.sh down   stops what `up` started (dockerd only if `up` started it)
#   deploy/dev/services.sh env    prints the environment the Go tests read (OW_TEST_*)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

up() {
  if ! "$here/docker.sh" status; then
    "$here/docker.sh" start
    touch "$state/started-dockerd"
  fi
  local kafka couch
  kafka=$("$here/kafka.sh" start)
  couch=$("$here/pouchdb.sh" start)
  {
    echo "export OW_TEST_KAFKA=$kafka"
    echo "export OW_TEST_COUCHDB=$couch"
    echo "export OW_TEST_DOCKER=1"
  } >"$state/env"
  cat "$state/env"
}

down() {
  "$here/kafka.sh" stop || true
  "$here/pouchdb.sh" stop || true
  if [ -f "$state/started-dockerd" ]; then
    rm -f "$state/started-dockerd"
    "$here/docker.sh" stop || true
  fi
  rm -f "$state/env"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  env) [ -f "$state/env" ] && cat "$state/env" ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
