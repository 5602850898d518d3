#!/usr/bin/env bash
# The one test command (README, .ci/run). It installs and starts what the
# tests need, then runs every test with the race detector, in two stages so
# that the heavy test beds do not compete for the machine's two cores:
#   1. setups scripts/setup/*.sh except the late ones (PostgreSQL, libvirtd +
#      the tiny guest), then `go test -race ./...` (the OpenStack package runs
#      its fake-API tests only);
#   2. the late setups (the all-in-one OpenStack), then the OpenStack
#      package's tests against it, then scripts/teardown/*.sh.
# Every setup is idempotent, prints what it does and appends the environment
# the tests read to $OCCID_TEST_ENV; a setup that fails stops the run with
# its message. OCCID_SKIP_SETUP=name1,name2 skips setups (their tests then
# skip with a message saying what is missing).
set -uo pipefail
cd "$(dirname "$0")/.."
export OCCID_TEST_STATE=${OCCID_TEST_STATE:-/var/tmp/occid-test}
mkdir -p "$OCCID_TEST_STATE"
export OCCID_TEST_ENV="$OCCID_TEST_STATE/env.sh"
: > "$OCCID_TEST_ENV"
late_setups="openstack"
log="$OCCID_TEST_STATE/go-test.log"
: > "$log"

step() { printf '\n==> %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
die() { echo "test.sh: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null || die "no Go toolchain found (looked in PATH and /usr/local/go/bin)"

is_late() { case " $late_setups " in *" $1 "*) return 0;; esac; return 1; }

run_setup() {
  local s=$1 name
  name=$(basename "$s" .sh)
  case ",${OCCID_SKIP_SETUP:-}," in *,"$name",*) step "setup $name: skipped (OCCID_SKIP_SETUP)"; return 0;; esac
  step "setup $name"
  local start=$(date +%s)
  bash "$s" || die "setup '$name' failed (scripts/setup/$name.sh); its output above says why"
  echo "setup $name: done in $(( $(date +%s) - start ))s"
}

load_env() { set -a; . "$OCCID_TEST_ENV"; set +a; }

for s in scripts/setup/*.sh; do
  is_late "$(basename "$s" .sh)" || run_setup "$s"
done
load_env

step "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.git/*'))
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"
go vet ./... || die "go vet failed"

step "stage 1: go test -race ./... (fuzz targets replay their committed corpora)"
env -u OCCID_TEST_OPENSTACK_RC go test -race -count=1 -timeout 45m ./... 2>&1 | tee -a "$log"
status=${PIPESTATUS[0]}

for s in scripts/setup/*.sh; do
  name=$(basename "$s" .sh)
  is_late "$name" || continue
  run_setup "$s"
done
load_env
if [ -n "${OCCID_TEST_OPENSTACK_RC:-}" ]; then
  step "stage 2: the OpenStack backend against the all-in-one"
  go test -race -count=1 -timeout 30m ./backend/openstackbackend/... 2>&1 | tee -a "$log"
  s2=${PIPESTATUS[0]}
  [ "$s2" -eq 0 ] || status=$s2
fi

for s in scripts/teardown/*.sh; do
  [ -e "$s" ] || continue
  step "teardown $(basename "$s" .sh)"
  bash "$s" || echo "teardown $(basename "$s" .sh) failed (ignored)"
done

passed=$(grep -c '^ok ' "$log" || true)
failed=$(grep -cE '^(FAIL|--- FAIL)' "$log" || true)
step "done"
echo "test packages: $passed passed, $failed failed"
exit "$status"
