#!/usr/bin/env bash
# The one test command (README, .ci/run): installs and starts what the tests
# need, then runs every test with the race detector. Each scripts/setup/*.sh
# is idempotent, prints what it does, and writes the environment the tests
# read to $OCCID_TEST_ENV; a setup that fails stops the run with its message.
# Set OCCID_SKIP_SETUP=name1,name2 to skip some setups (their tests then skip).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export OCCID_TEST_STATE=${OCCID_TEST_STATE:-/var/tmp/occid-test}
mkdir -p "$OCCID_TEST_STATE"
export OCCID_TEST_ENV="$OCCID_TEST_STATE/env.sh"
: > "$OCCID_TEST_ENV"

step() { printf '\n==> %s\n' "$*"; }

if ! command -v go >/dev/null 2>&1; then
  export PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null || { echo "test.sh: no Go toolchain found (looked in PATH and /usr/local/go/bin)" >&2; exit 1; }

for s in scripts/setup/*.sh; do
  [ -e "$s" ] || continue
  name=$(basename "$s" .sh)
  case ",${OCCID_SKIP_SETUP:-}," in *,"$name",*) step "setup $name: skipped (OCCID_SKIP_SETUP)"; continue;; esac
  step "setup $name"
  start=$(date +%s)
  if ! bash "$s"; then
    echo "test.sh: setup '$name' failed (scripts/setup/$name.sh); see its output above" >&2
    exit 1
  fi
  echo "setup $name: done in $(( $(date +%s) - start ))s"
done
# shellcheck disable=SC1090
set -a; . "$OCCID_TEST_ENV"; set +a

step "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi
go vet ./...

step "go test -race ./... (fuzz targets replay their committed corpus)"
go test -race -count=1 -timeout 40m ./... 2>&1 | tee "$OCCID_TEST_STATE/go-test.log"
status=${PIPESTATUS[0]}

for s in scripts/teardown/*.sh; do
  [ -e "$s" ] || continue
  step "teardown $(basename "$s" .sh)"
  bash "$s" || echo "teardown $(basename "$s") failed (ignored)"
done

passed=$(grep -c '^ok ' "$OCCID_TEST_STATE/go-test.log" || true)
failed=$(grep -cE '^(FAIL|--- FAIL)' "$OCCID_TEST_STATE/go-test.log" || true)
echo "packages: $passed passed, $failed failed"
exit "$status"
