#!/usr/bin/env bash
# scripts/setup/libvirt.sh: installs and starts libvirtd with QEMU (through the
# shared test bed's libvirtd-up.sh), builds the tiny test guest image with
# make-tinyos.sh into $OCCID_TEST_STATE/tinyos/, and appends
#   export OCCID_TEST_LIBVIRT_URI=qemu:///system
#   export OCCID_TEST_TINYOS=<dir>/tinyos.qcow2
# to "$OCCID_TEST_ENV". Idempotent: a running libvirtd and an existing image
# are reused. Runs as root on Debian 12.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
testbed="$root/../shared/testbed"
state=${OCCID_TEST_STATE:-/var/tmp/occid-test}
envfile=${OCCID_TEST_ENV:-$state/env.sh}
uri=qemu:///system

fail() { echo "setup libvirt: $*" >&2; exit 1; }
say() { echo "setup libvirt: $*"; }

# retry N CMD...: runs CMD up to N times, waiting a little longer each time.
retry() {
  local n=$1 i=1; shift
  until "$@"; do
    if [ "$i" -ge "$n" ]; then return 1; fi
    say "'$*' failed (attempt $i of $n); retrying in $((i * 3))s"
    sleep $((i * 3)); i=$((i + 1))
  done
}

[ "$(id -u)" = 0 ] || fail "must run as root (it installs Debian packages and starts libvirtd)"
for f in libvirtd-up.sh make-tinyos.sh; do
  [ -r "$testbed/$f" ] || fail "missing $testbed/$f: the shared test bed must be checked out beside the repository (../shared)"
done
mkdir -p "$state" || fail "cannot create the state directory $state"

say "starting libvirtd (installs libvirt and QEMU from Debian packages if missing)"
if ! retry 3 sh "$testbed/libvirtd-up.sh"; then
  fail "libvirtd-up.sh failed three times; check apt-get (Debian mirror reachable?) and /var/log/libvirt/"
fi
# libvirtd-up.sh says "already running" when the socket answers; check that
# both drivers the tests use answer through it.
retry 5 virsh -q -c "$uri" version >/dev/null || fail "libvirtd does not answer on $uri after start"
retry 3 virsh -q -c test:///default list >/dev/null || fail "libvirt's test driver (test:///default) does not answer"
command -v qemu-img >/dev/null || fail "qemu-img missing after libvirtd-up.sh (package qemu-utils)"

# The libvirtd-killed test runs a private, unprivileged libvirtd (session
# mode) that it may kill without disturbing the system daemon other tests use.
if ! id occidtest >/dev/null 2>&1; then
  useradd --system --create-home --home-dir /var/lib/occidtest --shell /usr/sbin/nologin occidtest \
    || fail "cannot create the user occidtest (for the private libvirtd of the libvirtd-killed test)"
fi

img="$state/tinyos/tinyos.qcow2"
if [ -s "$img" ] && qemu-img info "$img" >/dev/null 2>&1; then
  say "tiny guest image exists: $img"
else
  say "building the tiny guest image (make-tinyos.sh, downloads a kernel package)"
  tmp="$state/tinyos.tmp.$$"
  rm -rf "$tmp"
  build() { rm -rf "$tmp" && mkdir -p "$tmp" && sh "$testbed/make-tinyos.sh" "$tmp" >/dev/null; }
  if ! retry 3 build; then
    rm -rf "$tmp"
    fail "make-tinyos.sh failed three times (it needs apt-get download of linux-image-cloud-amd64 and busybox-static)"
  fi
  [ -s "$tmp/tinyos.qcow2" ] || fail "make-tinyos.sh finished without producing $tmp/tinyos.qcow2"
  mkdir -p "$state/tinyos"
  mv -f "$tmp/tinyos.qcow2" "$img"
  rm -rf "$tmp"
  say "built $img"
fi

touch "$envfile" || fail "cannot write the test environment file $envfile"
{
  echo "export OCCID_TEST_LIBVIRT_URI=$uri"
  echo "export OCCID_TEST_TINYOS=$img"
} >>"$envfile"
say "ready: OCCID_TEST_LIBVIRT_URI=$uri OCCID_TEST_TINYOS=$img"
