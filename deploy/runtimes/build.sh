#!/usr/bin/env bash
# Build the runtime images of deploy/runtimes.json locally, without a registry:
#   openwhisk/dockerskeleton:nightly       FROM scratch + our static proxy (blackbox, native)
#   openwhisk/action-nodejs-v20:nightly    the host's node 20 + its libraries + proxy + launcher
#   openwhisk/action-python-v3.11:nightly  Debian's python3.11 + stdlib + proxy + launcher
# Each image carries the label owinvoker.build-hash, a hash of everything it is made from;
# an image whose label matches is not rebuilt, so a second run takes about a second.
#   deploy/runtimes/build.sh [--force] [skeleton|nodejs|python ...]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
label=owinvoker.build-hash
tag=${OW_RUNTIME_TAG:-nightly}
prefix=${OW_RUNTIME_PREFIX:-openwhisk}
node_bin=${OW_NODE_BIN:-/usr/bin/node}
python_bin=${OW_PYTHON_BIN:-/usr/bin/python3.11}

force=0
want=()
for a in "$@"; do
  case $a in
    --force) force=1 ;;
    skeleton|nodejs|python) want+=("$a") ;;
    *) echo "build.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
[ ${#want[@]} -gt 0 ] || want=(skeleton nodejs python)

log() { echo "build.sh: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

image_of() {
  case $1 in
    skeleton) echo "$prefix/dockerskeleton:$tag" ;;
    nodejs) echo "$prefix/action-nodejs-v20:$tag" ;;
    python) echo "$prefix/action-python-v3.11:$tag" ;;
  esac
}

# Debian's python3-minimal has the interpreter; json and the rest of the stdlib the launcher
# uses come with libpython3.X-stdlib.
ensure_python() {
  local ver; ver=$(basename "$python_bin" | sed 's/^python//')
  [ -x "$python_bin" ] && [ -f "/usr/lib/python$ver/json/__init__.py" ] && return 0
  log "installing Debian's python3-minimal and libpython$ver-stdlib for $python_bin"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq python3-minimal "libpython$ver-stdlib" >/dev/null
}

# Hash of the proxy's sources and of the files each image is made from. Interpreters are
# identified by path, size, mtime and version rather than read whole.
hash_files() { (cd "$root" && sha256sum "$@") | sha256sum | cut -c1-16; }
identify() { stat -L -c '%n %s %Y' "$1"; "$1" --version 2>&1 | head -1; }
proxy_hash() {
  (cd "$root" && ls sandbox/runtime/proxy/*.go cmd/owproxy/*.go go.mod go.sum | grep -v _test.go |
    xargs sha256sum; go version) | sha256sum | cut -c1-16
}
hash_of() {
  local p
  p=$(proxy_hash)
  case $1 in
    skeleton) { echo "$p"; hash_files deploy/runtimes/build.sh deploy/runtimes/skeleton/Dockerfile; } ;;
    nodejs) { echo "$p"; hash_files deploy/runtimes/build.sh deploy/runtimes/nodejs/compile deploy/runtimes/nodejs/launcher.js; identify "$node_bin"; } ;;
    python) { echo "$p"; hash_files deploy/runtimes/build.sh deploy/runtimes/python/compile deploy/runtimes/python/launcher.py; identify "$python_bin"; } ;;
  esac | sha256sum | cut -c1-16
}

current_hash() { docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$1" 2>/dev/null || true; }

work=$(mktemp -d /tmp/owruntimes.XXXXXX)
trap 'rm -rf "$work"' EXIT

proxy=""
build_proxy() {
  [ -n "$proxy" ] && return 0
  local t0; t0=$(now)
  proxy=$work/proxy
  (cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$proxy" ./cmd/owproxy)
  log "proxy built in $(since "$t0") s"
}

# copy_with_libs DEST FILE...: copy each file and every shared library ldd lists for it, at
# the same paths (symbolic links resolved).
copy_with_libs() {
  local dest=$1; shift
  local f lib
  for f in "$@"; do
    mkdir -p "$dest$(dirname "$f")"
    [ -e "$dest$f" ] || cp -L "$f" "$dest$f"
    ldd "$f" 2>/dev/null | awk '/=>/ { print $3 } /^\t\// { print $1 }' | while read -r lib; do
      [ -n "$lib" ] && [ -e "$lib" ] || continue
      [ -e "$dest$lib" ] && continue
      mkdir -p "$dest$(dirname "$lib")"
      cp -L "$lib" "$dest$lib"
    done
  done
}

# skeleton of a root file system shared by the interpreter images.
base_rootfs() {
  local fs=$1
  mkdir -p "$fs"/{bin,action,tmp,etc,usr/lib/owruntime}
  chmod 1777 "$fs/tmp"
  cp "$proxy" "$fs/bin/proxy"
  echo "root:x:0:0:root:/root:/sbin/nologin" >"$fs/etc/passwd"
  echo "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin" >>"$fs/etc/passwd"
}

import_rootfs() {
  local fs=$1 image=$2 hash=$3 extra_env=${4:-}
  tar -C "$fs" --numeric-owner --owner=0 --group=0 -c . | docker import \
    -c 'WORKDIR /action' \
    -c "ENV OW_COMPILER=/usr/lib/owruntime/compile OW_WAIT_FOR_ACK=1 PATH=/usr/local/bin:/usr/bin:/bin${extra_env:+ $extra_env}" \
    -c 'EXPOSE 8080' \
    -c "LABEL $label=$hash" \
    -c 'ENTRYPOINT ["/bin/proxy"]' \
    - "$image" >/dev/null
}

build_skeleton() {
  local image=$1 hash=$2 ctx=$work/skeleton
  mkdir -p "$ctx"
  cp "$proxy" "$ctx/proxy"
  cp "$here/skeleton/Dockerfile" "$ctx/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q --label "$label=$hash" -t "$image" "$ctx" >/dev/null 2>"$work/build.err" ||
    { cat "$work/build.err" >&2; return 1; }
}

build_nodejs() {
  local image=$1 hash=$2 fs=$work/nodejs
  base_rootfs "$fs"
  copy_with_libs "$fs" "$node_bin"
  if [ "$node_bin" != /usr/bin/node ]; then mkdir -p "$fs/usr/bin" && mv "$fs$node_bin" "$fs/usr/bin/node"; fi
  if command -v strip >/dev/null; then strip "$fs/usr/bin/node" 2>/dev/null || true; fi
  cp "$here/nodejs/launcher.js" "$fs/usr/lib/owruntime/launcher.js"
  install -m 0755 "$here/nodejs/compile" "$fs/usr/lib/owruntime/compile"
  # The Node launcher answers concurrent activations (__OW_ALLOW_CONCURRENT=true).
  import_rootfs "$fs" "$image" "$hash" OW_CONCURRENT_LAUNCHER=1
}

build_python() {
  local image=$1 hash=$2 fs=$work/python
  local ver; ver=$(basename "$python_bin" | sed 's/^python//')
  local stdlib=/usr/lib/python$ver
  base_rootfs "$fs"
  copy_with_libs "$fs" "$python_bin"
  ln -sf "python$ver" "$fs/usr/bin/python3"
  mkdir -p "$fs$stdlib"
  # The stdlib with Debian's byte code (mtimes kept, so it stays valid), without tests,
  # GUI, packaging tools or installed packages.
  tar -C "$stdlib" \
    --exclude=./test --exclude=./tkinter --exclude=./idlelib --exclude=./ensurepip \
    --exclude=./lib2to3 --exclude=./turtledemo --exclude=./site-packages \
    --exclude=./dist-packages --exclude=./config-* -c . | tar -C "$fs$stdlib" -x
  local so
  for so in "$stdlib"/lib-dynload/*.so; do copy_with_libs "$fs" "$so"; done
  cp "$here/python/launcher.py" "$fs/usr/lib/owruntime/launcher.py"
  install -m 0755 "$here/python/compile" "$fs/usr/lib/owruntime/compile"
  import_rootfs "$fs" "$image" "$hash"
}

for kind in "${want[@]}"; do
  [ "$kind" = python ] && ensure_python
  image=$(image_of "$kind")
  hash=$(hash_of "$kind")
  if [ $force = 0 ] && [ "$(current_hash "$image")" = "$hash" ]; then
    log "$image is up to date ($label=$hash)"
    continue
  fi
  build_proxy
  t0=$(now)
  "build_$kind" "$image" "$hash"
  size=$(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.1f MB", $1 / 1e6 }')
  log "$image built in $(since "$t0") s ($size, $label=$hash)"
done
