#!/usr/bin/env bash
# Installs the Debian packages Capillary builds and tests with. Idempotent and quiet when all is
# there; called by `make run` and `make test` so a fresh Debian 12 machine needs nothing else.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libboost-dev libsimdjson-dev libfmt-dev libabsl-dev libxxhash-dev libcli11-dev
  librocksdb-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3 curl
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bootstrap: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
