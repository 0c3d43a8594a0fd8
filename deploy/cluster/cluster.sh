#!/usr/bin/env bash
# A local multi-invoker cluster on this machine:
#   deploy/cluster/cluster.sh up     Kafka (KRaft) and pouchdb-server on 127.0.0.1 (deploy/dev),
#                                     the owinvoker/owcontroller images, then owcontroller and two
#                                     owinvokers as containers through ansible/lean-cluster.yml
#   deploy/cluster/cluster.sh down   the clean playbook, then the services
# The API listens on 127.0.0.1:${CLUSTER_PORT:-10001}; the guest key is printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
port=${CLUSTER_PORT:-10001}
state=${OW_DEV_STATE:-$root/.dev}

vars() {
  # shellcheck disable=SC1091
  . "$state/env"
  local db=${OW_TEST_COUCHDB#http://}
  cat >"$state/cluster-vars.json" <<JSON
{"kafka_connect_string": "$OW_TEST_KAFKA", "db_protocol": "http", "db_host": "${db%%:*}", "db_port": "${db##*:}",
 "controller": {"basePort": $port}, "whisk_api_host_port": $port, "invoker": {"port": 12001, "userMemory": "2048m"},
 "whisk_logs_dir": "$state/cluster-logs", "owinvoker_docker_root": "$(docker info -f '{{.DockerRootDir}}')"}
JSON
}

case "${1:-}" in
  up)
    deploy/dev/services.sh up >/dev/null
    deploy/dev/ansible.sh >/dev/null
    deploy/images/build.sh
    deploy/runtimes/build.sh
    vars
    . "$state/env"
    for db in whisk_local_whisks whisk_local_activations whisk_local_subjects; do
      curl -fsS -X PUT "$OW_TEST_COUCHDB/$db" >/dev/null 2>&1 || true
    done
    (cd ansible && ansible-playbook -e "@$state/cluster-vars.json" lean-cluster.yml)
    for _ in $(seq 1 60); do
      [ "$(curl -fsS "http://127.0.0.1:$port/invokers/healthy/count" 2>/dev/null || echo 0)" -ge 2 ] && break
      sleep 1
    done
    echo
    echo "cluster up: wsk property set --apihost http://127.0.0.1:$port --auth 23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
    ;;
  down)
    if [ -f "$state/cluster-vars.json" ]; then
      (cd ansible && ansible-playbook -e "@$state/cluster-vars.json" clean.yml)
    fi
    deploy/dev/services.sh down
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
