#!/bin/sh
# Install the Debian packages hv needs to build, test and run.
# Idempotent: asks dpkg what is missing and runs apt-get (and apt-get
# update) only when something is. A fresh minbase Debian has only the
# Essential packages: everything else the tests, the benches and the lab
# (scripts/lab) call is named here, and `make check-fresh` proves it.
set -eu

PKGS="build-essential pkg-config libssl-dev libncurses-dev libreadline-dev libconfig-dev
libsqlite3-dev libcjson-dev libmnl-dev qemu-utils qemu-system-x86 seabios tmux
perl clang libclang-rt-14-dev sqlite3 zlib1g-dev acpica-tools
busybox-static cpio syslinux syslinux-common mtools xz-utils
iproute2 iputils-ping procps python3 bc mmdebstrap fdisk e2fsprogs netcat-openbsd
xorriso ovmf ipxe-qemu dnsmasq-base grub-pc-bin grub-efi-amd64-bin grub2-common"

missing=""
for p in $PKGS; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
