#!/usr/bin/env bash
# Builds the owinvoker and owcontroller images locally: FROM scratch plus one static Go
# binary each (no registry, no base image). Tags: owinvoker/owinvoker:${TAG:-latest} and
# owinvoker/owcontroller:${TAG:-latest}. Idempotent: an image whose owinvoker.build-hash
# label matches the binary is left alone.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tag=${TAG:-latest}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for name in owinvoker owcontroller; do
  mkdir -p "$work/$name"
  (cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$work/$name/$name" "./cmd/$name")
  # The runtimes manifest travels with both (RUNTIMES_MANIFEST may override it).
  cp "$root/deploy/runtimes.json" "$work/$name/runtimes.json"
  hash=$(cat "$work/$name/$name" "$work/$name/runtimes.json" | sha256sum | cut -c1-16)
  image=owinvoker/$name:$tag
  if [ "$(docker image inspect -f '{{index .Config.Labels "owinvoker.build-hash"}}' "$image" 2>/dev/null || true)" = "$hash" ]; then
    echo "build.sh: $image is up to date (owinvoker.build-hash=$hash)"
    continue
  fi
  cat >"$work/$name/Dockerfile" <<DOCKERFILE
FROM scratch
COPY $name /$name
COPY runtimes.json /runtimes.json
LABEL owinvoker.build-hash=$hash org.opencontainers.image.title=$name org.opencontainers.image.licenses=Apache-2.0
ENTRYPOINT ["/$name"]
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build -q -t "$image" "$work/$name" >/dev/null
  echo "build.sh: built $image ($(docker image inspect -f '{{.Size}}' "$image") bytes)"
done
