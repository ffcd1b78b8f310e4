#!/bin/sh
# Install the Debian packages hiddenq needs, when they are missing.
#   scripts/setup.sh build   what `make` needs
#   scripts/setup.sh test    what `make check` and `make bench` need as well
# As root it runs apt-get; otherwise it prints the exact line to run and stops.
set -eu

profile=${1:-build}

build_pkgs="gcc make pkg-config libc6-dev libjansson-dev libmnl-dev libhwloc-dev libnuma-dev clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libxml2-dev libinih-dev libmicrohttpd-dev libcrypt-dev libsqlite3-dev libzstd-dev libncurses-dev"
test_pkgs="libclang-rt-14-dev libcmocka-dev python3 python3-pytest sysstat fio rt-tests sysbench libvirt-clients
  qemu-system-x86 qemu-utils linux-image-cloud-amd64 busybox-static cpio iproute2 kmod util-linux procps
  linux-perf libbpf-tools bpftrace prometheus prometheus-alertmanager python3-yaml atop prometheus-node-exporter wrk curl openssl systemd chromium tmux"

case "$profile" in
build) want="$build_pkgs" ;;
test) want="$build_pkgs $test_pkgs" ;;
*) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "hiddenq setup: missing packages:$missing" >&2
	echo "hiddenq setup: this is not a Debian-like system; install their equivalents by hand." >&2
	exit 1
fi

if [ "$(id -u)" != 0 ]; then
	echo "hiddenq setup: missing Debian packages:$missing" >&2
	echo "hiddenq setup: run as root:  apt-get update && apt-get install -y$missing" >&2
	exit 1
fi

echo "hiddenq setup: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
