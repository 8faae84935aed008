#!/usr/bin/env bash
# Installs the Debian packages moat needs to build, test and benchmark, and
# only those that are missing (a no-op when everything is there).
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config make
  libsimdjson-dev libboost1.81-dev libxxhash-dev libzstd-dev zlib1g-dev libcli11-dev
  libutf8proc-dev libhyperscan-dev libtomlplusplus-dev
  libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  python3 zstd gzip time
  wrk nginx
  libssl-dev python3-jsonschema
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
apt=(apt-get)
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    apt=(sudo apt-get)
  else
    echo "install-deps: missing packages (${missing[*]}) and not root; install them or run as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${apt[@]}" update -qq
"${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"
