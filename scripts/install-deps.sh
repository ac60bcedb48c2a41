#!/usr/bin/env bash
# Installs every Debian package capdb needs to build, test and benchmark; with the argument
# `fuzz`, also clang and libFuzzer's runtime for `make fuzz`; with `package`, also dpkg-dev for
# `make package`.
# Idempotent: when everything is present it prints nothing and exits at once
# (no apt-get update). Works as root or through sudo.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  liblmdb-dev lmdb-utils
  capnproto libcapnp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev libfmt-dev
  libsqlite3-dev sqlite3
  libreadline-dev
)
case "${1:-}" in
  fuzz) packages+=(clang libclang-rt-14-dev) ;;
  package) packages+=(dpkg-dev) ;;  # dpkg-shlibdeps, for CPack's Debian package
esac

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}) and neither root nor sudo" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
