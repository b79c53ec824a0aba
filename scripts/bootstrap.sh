#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine, then the workspace.
#
#   bash scripts/bootstrap.sh          the main job (`pnpm demo`): Node.js and the workspace only,
#                                      no Debian package is installed
#   bash scripts/bootstrap.sh --test   also the Debian packages the system tests use (QEMU,
#                                      Chromium, tshark, gcc, ...; only when missing, only as root)
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
for arg in "$@"; do
  case $arg in
    --test) with_tests=1 ;;
    -h | --help)
      sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "bootstrap: unknown argument: $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

if ((with_tests)); then
  # Debian packages for the tests only: name of package -> a command or file that proves it is installed.
  declare -A TEST_DEPS=(
    [iproute2]=/usr/sbin/ip
    # tests/interop: QEMU boots a Debian kernel; gcc/libc6-dev build tipc-binder statically,
    # binutils' readelf and kmod's modinfo pick libraries and modules; tshark decodes captures.
    [qemu-system-x86]=qemu-system-x86_64
    [gcc]=gcc
    [libc6-dev]=/usr/lib/x86_64-linux-gnu/libc.a
    [binutils]=readelf
    [kmod]=/usr/sbin/modinfo
    [tshark]=tshark
    # tests/daemon: dumpcap counts the datagrams a tipcd sends inside its network namespace;
    # packages/codec: editcap turns a pcap into pcapng.
    [wireshark-common]=dumpcap
    # tests/simulator: tipcsim's HTML report rendered in headless Chromium (playwright-core drives it).
    [chromium]=/usr/bin/chromium
  )
  missing=()
  for pkg in "${!TEST_DEPS[@]}"; do
    probe=${TEST_DEPS[$pkg]}
    if [[ $probe == /* ]]; then [[ -e $probe ]] || missing+=("$pkg"); else command -v "$probe" >/dev/null || missing+=("$pkg"); fi
  done
  if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
      echo "bootstrap: installing Debian packages for the tests: ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
      echo "bootstrap: missing Debian packages for the tests (install them as root): ${missing[*]}" >&2
    fi
  fi
fi

npx --yes pnpm@12.4.2 install --frozen-lockfile
