#!/usr/bin/env bash
# Installs Ansible from Debian's packages (ansible: ansible-core plus the community.docker
# collection; ansible-lint; python3-docker: the Docker SDK that collection drives), when missing.
# Idempotent; serialised by a lock. Prints the ansible-playbook path.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
exec 9>"$state/ansible.lock"
flock 9
if ! command -v ansible-playbook >/dev/null 2>&1 || ! python3 -c 'import docker' >/dev/null 2>&1 || ! command -v ansible-lint >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq ansible ansible-lint python3-docker >/dev/null
fi
command -v ansible-playbook
