#!/usr/bin/env bash
# scripts/teardown/openstack.sh: stops the all-in-one OpenStack that
# scripts/setup/openstack.sh brought up in $OCCID_TEST_STATE/openstack (the
# processes it recorded; its data stays for the next setup, which reuses or
# wipes it). Libvirt domains left by the tests are the tests' leak; this
# stops only what the all-in-one started.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
shared=$(cd "$root/../shared" 2>/dev/null && pwd) || { echo "openstack teardown: no ../shared beside the repo" >&2; exit 1; }
dir=${OCCID_TEST_STATE:-/var/tmp/occid-test}/openstack
if [ ! -d "$dir/run" ]; then
  echo "openstack teardown: nothing to stop in $dir"
  exit 0
fi
start=$(date +%s)
bash "$shared/testbed/openstack-aio.sh" down "$dir"
echo "openstack teardown: stopped the all-in-one in $dir in $(( $(date +%s) - start ))s"
