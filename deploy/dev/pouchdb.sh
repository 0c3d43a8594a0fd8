#!/usr/bin/env bash
# pouchdb-server (CouchDB's HTTP API) on 127.0.0.1 for development and tests, with the
# databases OpenWhisk uses: whisks, activations, subjects (each with $OW_DB_PREFIX in front).
#   deploy/dev/pouchdb.sh start   install from npm if needed, start, create databases, wait;
#                                 prints the base URL (http://127.0.0.1:PORT) on stdout
#   deploy/dev/pouchdb.sh stop    stop the server this script started
#   deploy/dev/pouchdb.sh url     print the URL of the running server
# Idempotent. Data persists under .dev/pouchdb/data until `stop --wipe`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=$state/pouchdb
version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dependencies"]["pouchdb-server"])' "$here/pouchdb/package.json")
# Installed outside the checkout: a fresh clone on the same machine reuses it.
install=${OW_POUCHDB_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/owinvoker/pouchdb-server-$version}
pidfile=$dir/pouchdb.pid
prefix=${OW_DB_PREFIX:-}

do_install() {
  [ -x "$install/node_modules/.bin/pouchdb-server" ] && [ -f "$install/.complete" ] && return 0
  command -v npm >/dev/null || { echo "pouchdb.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
  echo "pouchdb.sh: installing pouchdb-server $version from npm into $install" >&2
  rm -rf "$install"; mkdir -p "$install"
  cp "$here/pouchdb/package.json" "$here/pouchdb/package-lock.json" "$install/"
  (cd "$install" && npm ci --no-audit --no-fund --loglevel=error >&2)
  # leveldown ships prebuilt linux-x64 binaries inside its npm package; no build step is needed.
  touch "$install/.complete"
}

create_dbs() {
  local url=$1 db code
  for db in whisks activations subjects; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$url/$prefix$db")
    case $code in 201|202|412) ;; *) echo "pouchdb.sh: create $prefix$db: HTTP $code" >&2; exit 1 ;; esac
  done
}

do_start() {
  mkdir -p "$dir/data"
  if running "$pidfile" && [ -f "$dir/url" ] && curl -fs "$(cat "$dir/url")/" >/dev/null; then
    create_dbs "$(cat "$dir/url")"; cat "$dir/url"; return 0
  fi
  stop_pid "$pidfile"
  do_install
  local port; port=$(free_port)
  echo "pouchdb.sh: starting pouchdb-server on 127.0.0.1:$port (log $dir/pouchdb.log)" >&2
  # --no-color keeps the log readable; config and log files stay inside the data dir.
  # The server must not keep this script's stdout open: callers read the URL with $(...),
  # which only returns at end of file.
  pushd "$dir/data" >/dev/null
  nohup "$install/node_modules/.bin/pouchdb-server" --host 127.0.0.1 --port "$port" \
     --dir "$dir/data" --config "$dir/data/config.json" --no-color >"$dir/pouchdb.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  popd >/dev/null
  local url=http://127.0.0.1:$port
  for _ in $(seq 1 120); do
    running "$pidfile" || { echo "pouchdb.sh: pouchdb-server exited; log:" >&2; tail -20 "$dir/pouchdb.log" >&2; exit 1; }
    if curl -fs "$url/" >/dev/null; then
      create_dbs "$url"; echo "$url" >"$dir/url"; cat "$dir/url"; return 0
    fi
    sleep 0.5
  done
  echo "pouchdb.sh: no answer in 60 s; log:" >&2; tail -20 "$dir/pouchdb.log" >&2; exit 1
}

case "${1:-start}" in
  start) with_lock pouchdb do_start ;;
  stop) stop_pid "$pidfile"; rm -f "$dir/url"; [ "${2:-}" = --wipe ] && rm -rf "$dir/data"; true ;;
  url) running "$pidfile" && cat "$dir/url" ;;
  *) echo "usage: $0 start|stop [--wipe]|url" >&2; exit 2 ;;
esac
