#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs prerequisites, checks
# formatting and lints, runs the unit tests, then the integration tests against a
# practice lab it starts here and always tears down, even when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

prepare_machine

echo "==> cargo fmt --check"
cargo fmt --check
echo "==> cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
echo "==> promtool: the shipped alert rules and their unit tests; amtool: the example Alertmanager configuration"
promtool check rules contrib/prometheus/fleetdeck-rules.yml
promtool test rules contrib/prometheus/fleetdeck-rules.test.yml
amtool check-config contrib/alertmanager/alertmanager.yml
RESULTS=$(mktemp /tmp/fleetdeck-results.XXXXXX)
echo "==> unit tests"
cargo test --quiet --no-fail-fast 2>&1 | tee -a "$RESULTS"

LAB_PARENT=$(mktemp -d /tmp/fleetdeck-test.XXXXXX)
LAB_DIR=$LAB_PARENT/lab
teardown() {
  local rc=$?
  echo "==> lab down"
  target/debug/fleetdeck lab down --dir "$LAB_DIR" || rc=1
  rmdir "$LAB_PARENT" 2>/dev/null || true
  # One closing line for the whole run (unit + integration), as CI reads it.
  awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$RESULTS"
  rm -f "$RESULTS"
  exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

echo "==> lab up (5 hosts) in $LAB_DIR"
target/debug/fleetdeck lab up --hosts 5 --dir "$LAB_DIR"
echo "==> release build (the console's end-to-end tests drive it in tmux)"
cargo build --release --quiet
echo "==> integration tests against the lab"
FLEETDECK_LAB_DIR=$LAB_DIR FLEETDECK_RELEASE_BIN=$PWD/target/release/fleetdeck \
  cargo test --quiet --no-fail-fast --tests -- --ignored 2>&1 | tee -a "$RESULTS"
