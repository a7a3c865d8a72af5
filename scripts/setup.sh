#!/usr/bin/env bash
# Installs the Debian packages vigil needs to build and test, and only the ones that are missing.
# Quiet when everything is already present. Run as root (no sudo) on Debian 12.
set -euo pipefail

packages=(
  g++
  cmake
  ninja-build
  libboost1.81-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  clang-format
)

is_installed() {
  local status
  status="$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)"
  [[ "${status}" == "installed" ]]
}

missing=()
for pkg in "${packages[@]}"; do
  if ! is_installed "${pkg}"; then
    missing+=("${pkg}")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "setup.sh: missing packages: ${missing[*]}; run as root to install them" >&2
  exit 1
fi

echo "setup.sh: installing missing packages: ${missing[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
