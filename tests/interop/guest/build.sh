#!/usr/bin/env bash
# Builds the interop guest: a Debian bookworm kernel with TIPC plus a busybox initramfs holding
# iproute2's `tipc`, tipc-binder (static C) and ./init. Everything comes from Debian packages
# (apt-get download + dpkg -x); nothing is installed on the host.
#
# Output: prints the directory holding vmlinuz, initrd.gz and versions.txt as its last line.
# The build is cached in $TIPCJS_INTEROP_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/tipcjs-interop):
#   debs/          downloaded .deb files (kept; ~75 MB)
#   guest-<key>/   one finished guest per input key; <key> hashes this directory's build inputs
#                  (build.sh, init, tipc-binder.c, tipc-dgram.c) and the exact package versions
# A second call with the same inputs only resolves versions and prints the cached directory.
#
# Needs: apt-get, apt-cache, dpkg, gcc + libc6-dev (static), kmod (modinfo), gzip, flock.
# Env: TIPCJS_INTEROP_KERNEL=linux-image-6.1.0-NN-amd64 pins the kernel package (default: what
#      linux-image-amd64 depends on).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${TIPCJS_INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tipcjs-interop}
mkdir -p "$CACHE/debs"
log() { echo "guest-build: $*" >&2; }

# One build at a time (parallel test runs, several checkouts).
exec 9>"$CACHE/.lock"
flock 9

# 1. Resolve the exact package versions (the candidates apt would install); one apt-cache call
#    each, as every call reads the package lists (about 1 s on a busy machine).
declare -A VER=()
PKGS=()
resolve() {
	local kpkg p v
	kpkg=${TIPCJS_INTEROP_KERNEL:-$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')}
	PKGS=("$kpkg" busybox-static iproute2 libmnl0 libcap2 libc6)
	VER=()
	while read -r p v; do VER[$p]=$v; done < <(
		apt-cache policy "${PKGS[@]}" 2>/dev/null | awk '/^[^ ].*:$/ {sub(/:(amd64)?:?$/, ""); p=$0} /Candidate:/ {print p, $2}'
	)
	KPKG=$kpkg
}
resolve
if [[ -z $KPKG || -z ${VER[busybox-static]:-} || ${VER[busybox-static]} == "(none)" ]]; then
	log "apt lists do not know the packages; running apt-get update"
	apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed"
	resolve
fi
for p in "${PKGS[@]}"; do
	v=${VER[$p]:-}
	if [[ -z $p || -z $v || $v == "(none)" ]]; then
		# Offline or unknown package: fall back to the newest finished guest, if any.
		last=$(ls -td "$CACHE"/guest-*/ 2>/dev/null | head -1 || true)
		if [[ -n $last && -f $last/initrd.gz ]]; then
			log "cannot resolve package '${p:-linux-image}'; using the cached guest $last"
			echo "${last%/}"
			exit 0
		fi
		log "cannot resolve package '${p:-linux-image}' (run apt-get update?)"
		exit 1
	fi
done

KEY=$(
	{
		cat "$HERE/build.sh" "$HERE/init" "$HERE/tipc-binder.c" "$HERE/tipc-dgram.c"
		for p in "${PKGS[@]}"; do echo "$p=${VER[$p]}"; done
		gcc -dumpfullversion 2>/dev/null || true
		cat "$HERE/tipc-conn.c" # connections (issue 17)
	} | sha256sum | cut -c1-16
)
OUT=$CACHE/guest-$KEY
if [[ -f $OUT/initrd.gz && -f $OUT/vmlinuz ]]; then
	echo "$OUT"
	exit 0
fi
log "building $OUT"

# 2. Download what is missing (file names escape the epoch colon as %3a).
cd "$CACHE/debs"
declare -A DEB=()
for p in "${PKGS[@]}"; do
	v=${VER[$p]}
	f=$(ls "${p}_${v//:/%3a}"_*.deb 2>/dev/null | head -1 || true)
	if [[ -z $f ]]; then
		log "downloading $p=$v"
		apt-get download -q "$p=$v" >/dev/null 2>&1 || { log "apt-get download $p=$v failed"; exit 1; }
		f=$(ls "${p}_${v//:/%3a}"_*.deb | head -1)
	fi
	DEB[$p]=$CACHE/debs/$f
done

# 3. Unpack into a scratch directory next to the output (same filesystem, renamed at the end).
WORK=$(mktemp -d "$CACHE/.build-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
X=$WORK/x
R=$WORK/root
for p in "${PKGS[@]}"; do dpkg -x "${DEB[$p]}" "$X"; done
KVER=${KPKG#linux-image-}
mkdir -p "$WORK/out"
cp "$X/boot/vmlinuz-$KVER" "$WORK/out/vmlinuz"

# 4. Root file system: busybox and its applets.
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,lib/modules,lib64,lib/x86_64-linux-gnu}
cp "$X/bin/busybox" "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do
	[[ -e $R/bin/$a ]] || ln -s busybox "$R/bin/$a"
done

# 5. Kernel modules: virtio-net, TIPC and everything they depend on, in load order
#    (dependencies from each module's own modinfo; decompressed if shipped compressed).
MODDIR=$X/lib/modules/$KVER
# a module's file may spell its name with - where the name has _ (ghash-generic.ko)
modfile() {
	local h=${1//_/-}
	find "$MODDIR/kernel" \( -name "$1.ko" -o -name "$1.ko.xz" -o -name "$1.ko.zst" -o -name "$1.ko.gz" \
		-o -name "$h.ko" -o -name "$h.ko.xz" -o -name "$h.ko.zst" -o -name "$h.ko.gz" \) | head -1
}
declare -A SEEN=()
ORDER=()
add_module() {
	local m=${1//-/_} f d
	[[ -n ${SEEN[$m]:-} ]] && return 0
	SEEN[$m]=1
	f=$(modfile "$m")
	if [[ -z $f ]]; then
		grep -q "/$m.ko" "$MODDIR/modules.builtin" 2>/dev/null && return 0
		log "module $m not found"
		exit 1
	fi
	case $f in
	*.xz) xz -dc "$f" >"$R/lib/modules/$m.ko" ;;
	*.zst) zstd -dc "$f" >"$R/lib/modules/$m.ko" ;;
	*.gz) gzip -dc "$f" >"$R/lib/modules/$m.ko" ;;
	*) cp "$f" "$R/lib/modules/$m.ko" ;;
	esac
	for d in $(modinfo -F depends "$R/lib/modules/$m.ko" | tr ',' ' '); do add_module "$d"; done
	ORDER+=("$m")
}
# gcm, ctr and ghash: what TIPC encryption's "gcm(aes)" needs (tipc node set key; AES itself is
# built in); sha512 and drbg: the default RNG its session keys come from (rekeying: -ENOENT
# without them). The kernel would modprobe them, the guest has no modprobe tree: load at boot.
# Not jitterentropy_rng: its start-up self test times the CPU and fails under QEMU's TCG on some
# hosts (CI's boot printed "@@FAIL insmod jitterentropy_rng"); without it the DRBG seeds from the
# kernel's RNG alone ("DRBG: Continuing without Jitter RNG"), which is all the tests need.
for m in virtio_pci virtio_net tipc gcm ctr ghash_generic sha512_generic drbg; do add_module "$m"; done
printf '%s\n' "${ORDER[@]}" >"$R/lib/modules/load-order"

# 6. iproute2's tipc with its shared libraries and the loader, all from the unpacked packages.
cp "$X/sbin/tipc" "$R/usr/sbin/tipc"
# the packages' symlinks may be absolute: resolve them inside the unpacked tree, not on the host
in_tree() { local f=$1 t; while [[ -L $f ]]; do t=$(readlink "$f"); [[ $t == /* ]] && f=$X$t || f=$(dirname "$f")/$t; done; echo "$f"; }
copy_lib() {
	local name=$1 src
	[[ -e $R/lib/x86_64-linux-gnu/$name ]] && return 0
	src=$(find "$X/lib/x86_64-linux-gnu" "$X/usr/lib/x86_64-linux-gnu" -maxdepth 1 -name "$name" 2>/dev/null | head -1)
	[[ -n $src ]] || { log "library $name not found in the packages"; exit 1; }
	cp "$(in_tree "$src")" "$R/lib/x86_64-linux-gnu/$name"
	for n in $(readelf -d "$src" | awk '/NEEDED/ {gsub(/[][]/, "", $5); print $5}'); do copy_lib "$n"; done
}
for n in $(readelf -d "$R/usr/sbin/tipc" | awk '/NEEDED/ {gsub(/[][]/, "", $5); print $5}'); do copy_lib "$n"; done
cp "$(in_tree "$X/lib64/ld-linux-x86-64.so.2")" "$R/lib64/ld-linux-x86-64.so.2"
if [[ $(id -u) == 0 ]]; then
	out=$(chroot "$R" /usr/sbin/tipc --help 2>&1 || true)
	grep -qE 'Usage|TIPC nl family' <<<"$out" || { log "tipc does not start inside the guest root: $out"; exit 1; }
fi

# 7. tipc-binder, tipc-dgram and init.
gcc -static -O2 -Wall -o "$R/bin/tipc-binder" "$HERE/tipc-binder.c"
gcc -static -O2 -Wall -o "$R/bin/tipc-dgram" "$HERE/tipc-dgram.c"
install -m 755 "$HERE/init" "$R/init"

# 7b. tipc-conn: SOCK_STREAM / SOCK_SEQPACKET client and server (connections, issue 17).
gcc -static -O2 -Wall -o "$R/bin/tipc-conn" "$HERE/tipc-conn.c"

# 8. initramfs (busybox cpio: no host cpio needed).
(cd "$R" && find . | "$R/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -6) >"$WORK/out/initrd.gz"
{
	for p in "${PKGS[@]}"; do echo "$p $(dpkg-deb -f "${DEB[$p]}" Version)"; done
	echo "gcc $(gcc -dumpfullversion)"
	echo "modules ${ORDER[*]}"
} >"$WORK/out/versions.txt"

rm -rf "$OUT"
mv "$WORK/out" "$OUT"
# keep only the newest few guests
ls -td "$CACHE"/guest-*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
log "built $OUT ($(du -sh "$OUT" | cut -f1))"
echo "$OUT"
