#!/usr/bin/env bash
# scripts/setup/openstack.sh: brings up the all-in-one OpenStack test bed
# (../shared/testbed/openstack-aio.sh) in $OCCID_TEST_STATE/openstack with the
# tinyos guest as the Glance image "tinyos", and appends
#   export OCCID_TEST_OPENSTACK_RC=<dir>/openrc
# to "$OCCID_TEST_ENV". Idempotent: a healthy all-in-one that is already up is
# reused; a broken or stopped one is stopped, wiped and brought up again (up
# to 3 tries). Runs alone too: it starts libvirtd and builds tinyos itself
# when scripts/setup/libvirt.sh has not. Stop it with scripts/teardown/openstack.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shared=$(cd "$root/../shared" 2>/dev/null && pwd) || { echo "openstack setup: no ../shared beside the repo ($root/../shared)" >&2; exit 1; }
tb=$shared/testbed
state=${OCCID_TEST_STATE:-/var/tmp/occid-test}
dir=$state/openstack
envfile=${OCCID_TEST_ENV:-$state/env.sh}
mkdir -p "$state"
say() { printf 'openstack setup: %s\n' "$*"; }
die() { printf 'openstack setup: FAILED: %s\n' "$*" >&2; exit 1; }

command -v jq >/dev/null && command -v curl >/dev/null || {
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y jq curl >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y jq curl >/dev/null; } || die "could not install jq and curl"
}

# 1. libvirtd (idempotent; libvirt.sh normally started it already).
if ! { [ -S /run/libvirt/libvirt-sock ] && virsh -c qemu:///system version >/dev/null 2>&1; }; then
  say "libvirtd is not running; starting it with $tb/libvirtd-up.sh"
  ok=
  for i in 1 2 3; do
    if sh "$tb/libvirtd-up.sh"; then ok=1; break; fi
    say "libvirtd-up.sh failed (try $i of 3); retrying in 5 s"; sleep 5
  done
  [ -n "$ok" ] || die "could not start libvirtd with $tb/libvirtd-up.sh"
fi

# 2. The tinyos image: the one libvirt.sh built if it said so, else our own.
image=
if [ -f "$envfile" ]; then
  image=$(sed -n 's/^export OCCID_TEST_TINYOS=//p' "$envfile" | tail -n 1 | tr -d "'\"")
fi
if [ -z "$image" ] || [ ! -f "$image" ]; then
  image=$state/openstack-image/tinyos.qcow2
  if [ ! -s "$image" ]; then
    say "building the tinyos guest into $(dirname "$image")"
    ok=
    for i in 1 2 3; do
      if sh "$tb/make-tinyos.sh" "$(dirname "$image")"; then ok=1; break; fi
      say "make-tinyos.sh failed (try $i of 3); retrying in 5 s"; sleep 5
    done
    [ -n "$ok" ] && [ -s "$image" ] || die "could not build the tinyos guest with $tb/make-tinyos.sh"
  fi
fi

# healthy reports whether the all-in-one in $dir answers: Keystone issues a
# token, Nova has a hypervisor that is up and the m1.tiny flavor, and Glance
# has the active "tinyos" image. (curl, not the slow openstack CLI.)
healthy() {
  [ -f "$dir/openrc" ] || return 1
  (
    set +u
    # shellcheck disable=SC1091
    . "$dir/openrc"
    auth=$(jq -n --arg u "$OS_USERNAME" --arg p "$OS_PASSWORD" --arg pr "$OS_PROJECT_NAME" \
      --arg ud "${OS_USER_DOMAIN_NAME:-Default}" --arg pd "${OS_PROJECT_DOMAIN_NAME:-Default}" \
      '{auth: {identity: {methods: ["password"], password: {user: {name: $u, password: $p, domain: {name: $ud}}}},
        scope: {project: {name: $pr, domain: {name: $pd}}}}}')
    hdrs=$(mktemp); trap 'rm -f "$hdrs"' EXIT
    body=$(curl -fs -m 20 -D "$hdrs" -H 'Content-Type: application/json' -d "$auth" "$OS_AUTH_URL/auth/tokens") || exit 1
    tok=$(awk 'tolower($1)=="x-subject-token:" {print $2}' "$hdrs" | tr -d '\r')
    ep() { jq -r --arg t "$1" '.token.catalog[] | select(.type==$t) | .endpoints[] | select(.interface=="public") | .url' <<<"$body" | head -n 1; }
    nova=$(ep compute); glance=$(ep image)
    [ -n "$tok" ] && [ -n "$nova" ] && [ -n "$glance" ] || exit 1
    get() { curl -fs -m 20 -H "X-Auth-Token: $tok" "$@"; }
    get "$nova/os-hypervisors/detail" | jq -e '[.hypervisors[] | select(.state=="up")] | length > 0' >/dev/null &&
      get "$nova/flavors/detail" | jq -e '[.flavors[] | select(.name=="m1.tiny")] | length > 0' >/dev/null &&
      get "${glance%/}/v2/images?name=tinyos" | jq -e '[.images[] | select(.status=="active")] | length > 0' >/dev/null
  )
}

# wipe stops whatever an earlier `up` in $dir started and removes its state,
# including libvirt domains whose disks live under $dir (a fresh Nova database
# would otherwise reuse their instance-0000000N names).
wipe() {
  bash "$tb/openstack-aio.sh" down "$dir" >/dev/null 2>&1 || true
  if command -v virsh >/dev/null; then
    for dom in $(virsh -c qemu:///system list --all --name 2>/dev/null | grep '^instance-' || true); do
      if virsh -c qemu:///system domblklist "$dom" 2>/dev/null | grep -q "$dir/"; then
        virsh -c qemu:///system destroy "$dom" >/dev/null 2>&1 || true
        virsh -c qemu:///system undefine "$dom" --nvram >/dev/null 2>&1 || virsh -c qemu:///system undefine "$dom" >/dev/null 2>&1 || true
      fi
    done
  fi
  rm -rf "$dir"
}

start=$(date +%s)
if healthy; then
  say "reusing the all-in-one already up in $dir"
else
  ok=
  for i in 1 2 3; do
    if [ -e "$dir" ]; then say "stopping and wiping the earlier all-in-one in $dir"; wipe; fi
    for p in 3306 5000 5672 8774 8778 9292 9696; do
      if (echo >/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
        die "port $p on 127.0.0.1 is taken by a process this script did not start; stop it (or the OpenStack that owns it) and rerun"
      fi
    done
    say "bringing up the all-in-one in $dir (try $i of 3; ~2 min of package install the first time, then ~90 s)"
    mkdir -p "$dir"
    if bash "$tb/openstack-aio.sh" up "$dir" "$image" >"$state/openstack-up.log" 2>&1 && healthy; then
      ok=1; break
    fi
    say "try $i failed; the last lines of $state/openstack-up.log:"
    tail -n 15 "$state/openstack-up.log" | sed 's/^/    /' >&2
    sleep 3
  done
  [ -n "$ok" ] || { wipe; die "the all-in-one did not come up after 3 tries; see $state/openstack-up.log"; }
  say "up in $(( $(date +%s) - start ))s"
fi

echo "export OCCID_TEST_OPENSTACK_RC=$dir/openrc" >>"$envfile"
say "wrote OCCID_TEST_OPENSTACK_RC=$dir/openrc to $envfile"
