#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine: system packages used by the
# interop and network-namespace tests (only when missing, only as root), then the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: name of package -> a command or file that proves it is installed.
declare -A SYSTEM_DEPS=(
  [iproute2]=/usr/sbin/ip
  # tests/interop: QEMU boots a Debian kernel; gcc/libc6-dev build tipc-binder statically,
  # binutils' readelf and kmod's modinfo pick libraries and modules; tshark decodes captures.
  [qemu-system-x86]=qemu-system-x86_64
  [gcc]=gcc
  [libc6-dev]=/usr/lib/x86_64-linux-gnu/libc.a
  [binutils]=readelf
  [kmod]=/usr/sbin/modinfo
  [tshark]=tshark
  # tests/daemon: dumpcap counts the datagrams a tipcd sends inside its network namespace.
  [wireshark-common]=dumpcap
  # tests/simulator: tipcsim's HTML report rendered in headless Chromium (playwright-core drives it).
  [chromium]=/usr/bin/chromium
)

missing=()
for pkg in "${!SYSTEM_DEPS[@]}"; do
  probe=${SYSTEM_DEPS[$pkg]}
  if [[ $probe == /* ]]; then [[ -e $probe ]] || missing+=("$pkg"); else command -v "$probe" >/dev/null || missing+=("$pkg"); fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: missing Debian packages (install them as root): ${missing[*]}" >&2
  fi
fi

npx --yes pnpm@12.4.2 install --frozen-lockfile
