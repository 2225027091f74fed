#!/usr/bin/env bash
# Installs the Debian packages ctnn needs to build and test, when they are missing.
# Extra package names given as arguments are installed too (e.g. python3-matplotlib).
set -euo pipefail
packages=(cmake g++ make libeigen3-dev libopenblas-dev doctest-dev libbenchmark-dev libcli11-dev libstb-dev "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "ctnn: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
