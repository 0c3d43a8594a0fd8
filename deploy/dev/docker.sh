#!/usr/bin/env bash
# Start (or check) a Docker engine for development and tests. Idempotent.
#   deploy/dev/docker.sh start   install Debian's docker.io if missing, start dockerd, wait
#   deploy/dev/docker.sh stop    stop the dockerd this script started (by its pid file)
#   deploy/dev/docker.sh status  exit 0 when the engine answers
set -euo pipefail
state=/var/tmp/owinvoker-dev  # machine-wide: there is one dockerd per host
mkdir -p "$state"
pidfile=$state/dockerd.pid
log=$state/dockerd.log

answers() { timeout 10 docker info >/dev/null 2>&1; }

install_docker() {
  command -v dockerd >/dev/null 2>&1 && return 0
  echo "docker.sh: installing Debian's docker.io" >&2
  if [ "$(id -u)" != 0 ]; then echo "docker.sh: dockerd is missing and we are not root" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
}

start() {
  if answers; then return 0; fi
  install_docker
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "docker.sh: dockerd (pid $(cat "$pidfile")) is starting" >&2
  else
    echo "docker.sh: starting dockerd (log $log)" >&2
    # containerd ships with docker.io; dockerd starts its own if none runs.
    nohup dockerd --host=unix:///var/run/docker.sock --log-driver=json-file >"$log" 2>&1 </dev/null &
    echo $! >"$pidfile"
  fi
  for _ in $(seq 1 120); do
    if answers; then return 0; fi
    sleep 0.5
  done
  echo "docker.sh: dockerd did not answer in 60 s; last log lines:" >&2
  tail -20 "$log" >&2
  exit 1
}

stop() {
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  rm -f "$pidfile"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
