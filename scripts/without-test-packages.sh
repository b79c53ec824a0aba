#!/usr/bin/env bash
# Runs a command as on a Debian machine without the test-only packages, and checks that it
# neither uses nor installs any of them. By default the command is the README's first one,
# `bash scripts/bootstrap.sh && npx --yes pnpm@12.4.2 demo`, in a fresh clone of HEAD.
#
#   bash scripts/without-test-packages.sh [--cold] [--here] [--keep] [-- command ...]
#
#   --cold   a cold start: an empty pnpm store and metadata cache (XDG_DATA_HOME, XDG_CACHE_HOME)
#            and an empty npm cache (npm_config_cache, so npx fetches pnpm itself again), all
#            new temp dirs
#   --here   run in this checkout instead of a fresh clone of HEAD
#   --keep   keep the temp dir (clone, overlay, logs) and print its path
#
# How: in a private mount namespace (unshare -m), /usr is an overlay over the real /usr in which
# every file of the test-only packages is deleted: those bootstrap.sh --test installs
# (qemu-system-x86, chromium, tshark, wireshark-common, gcc, libc6-dev, binutils, kmod, iproute2)
# and everything apt would remove with them (`apt-get -s purge --auto-remove`: compilers, QEMU's
# and Wireshark's libraries, -dev packages...). apt-get, apt, apt-cache and dpkg are replaced by
# a tripwire that logs its arguments and fails, so any attempt to install is caught. Nothing
# outside the namespace changes. Needs root (mount namespace, overlayfs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

cold=0 here=0 keep=0
cmd=()
while (($#)); do
  case $1 in
    --cold) cold=1 ;;
    --here) here=1 ;;
    --keep) keep=1 ;;
    --) shift; cmd=("$@"); break ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "without-test-packages: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
((${#cmd[@]})) || cmd=(bash -c 'bash scripts/bootstrap.sh && npx --yes pnpm@12.4.2 demo')
[[ $(id -u) -eq 0 ]] || { echo "without-test-packages: needs root (mount namespace, overlayfs)" >&2; exit 2; }

TEST_PACKAGES=(qemu-system-x86 chromium tshark wireshark-common gcc libc6-dev binutils kmod iproute2)
# Commands that must be absent inside (one per package whose files are removed).
ABSENT=(qemu-system-x86_64 chromium tshark dumpcap editcap gcc cc readelf modinfo ip)

work=$(mktemp -d /tmp/tipcjs-bare-XXXXXX)
cleanup() {
  if ((keep)); then echo "without-test-packages: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p "$work/upper" "$work/ovwork"

# The packages to remove: the test-only ones and what only they need, as apt would remove them.
installed=()
for p in "${TEST_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 && installed+=("$p"); done
: >"$work/packages"
if ((${#installed[@]})); then
  apt-get -s -o Debug::NoLocking=1 purge --auto-remove "${installed[@]}" 2>/dev/null |
    awk '/^Purg /{print $2}' >"$work/packages"
fi
# Their files (not directories), under /usr or its merged-usr aliases.
while read -r p; do dpkg -L "$p" 2>/dev/null || true; done <"$work/packages" |
  grep -E '^/(usr|bin|sbin|lib|lib64)/' | sort -u >"$work/files.all"
while read -r f; do [[ -L $f || -f $f ]] && printf '%s\n' "$f"; done <"$work/files.all" >"$work/files"

cat >"$work/tripwire" <<EOF
#!/bin/sh
echo "\$(basename "\$0") \$*" >>"$work/tripwire.log"
echo "tripwire: \$(basename "\$0") \$* was called: installing packages is not allowed here" >&2
exit 100
EOF
chmod +x "$work/tripwire"
: >"$work/tripwire.log"

if ((here)); then
  dir=$root
else
  git clone -q --no-hardlinks "$root" "$work/repo"
  dir=$work/repo
fi

envs=()
if ((cold)); then
  # pnpm 12 keeps its store under $XDG_DATA_HOME/pnpm/store and its metadata cache under
  # $XDG_CACHE_HOME/pnpm (it does not read npm_config_store_dir); npx keeps pnpm itself in the npm cache.
  mkdir -p "$work/data" "$work/cache" "$work/npm-cache"
  envs=(XDG_DATA_HOME="$work/data" XDG_CACHE_HOME="$work/cache" npm_config_cache="$work/npm-cache")
fi

echo "without-test-packages: $(wc -l <"$work/packages") Debian packages hidden ($(wc -l <"$work/files") files, e.g. ${installed[*]:-none installed}); apt-get/apt/apt-cache/dpkg are tripwires"
store="the usual pnpm store and npm cache"
((cold)) && store="an empty pnpm store and npm cache"
echo "without-test-packages: running in $dir with $store: ${cmd[*]}"
t0=$(date +%s.%N)

status=0
WORK=$work DIR=$dir ABSENT="${ABSENT[*]}" unshare -m --propagation private bash -c '
  set -euo pipefail
  mount -t overlay overlay -o "lowerdir=/usr,upperdir=$WORK/upper,workdir=$WORK/ovwork" /usr
  xargs -d "\n" -a "$WORK/files" rm -f
  for t in apt-get apt apt-cache dpkg; do cp "$WORK/tripwire" "/usr/bin/$t"; done
  hash -r
  present=()
  for c in $ABSENT; do command -v "$c" >/dev/null && present+=("$c"); done
  if ((${#present[@]})); then echo "without-test-packages: still present: ${present[*]}" >&2; exit 99; fi
  echo "without-test-packages: absent here: $ABSENT"
  cd "$DIR"
  exec env "$@"
' _ "${envs[@]}" "${cmd[@]}" || status=$?

elapsed=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
printf 'without-test-packages: the command took %.1f s\n' "$elapsed"
if [[ -s $work/tripwire.log ]]; then
  echo "without-test-packages: FAILED: an install was attempted:" >&2
  sed 's/^/  /' "$work/tripwire.log" >&2
  exit 1
fi
echo "without-test-packages: no apt-get, apt or dpkg call (exit status of the command: $status)"
exit "$status"
