#!/usr/bin/env bash
# Connection benchmark (not a test): brings up a lab of N hosts (default 12) in its
# own directory, times fleetdeck connecting to every host and listing containers,
# next to `docker -H ssh://HOST ps -a` one host at a time and 16 at a time, prints
# the table, and takes the lab down again. Figures are recorded in docs/performance.md.
#   scripts/bench.sh [HOSTS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

HOSTS=${1:-12}
prepare_machine
echo "==> cargo build --release (fleetdeck + bench)"
cargo build --release --quiet
cargo bench --no-run --quiet --bench connect

LAB_PARENT=$(mktemp -d /tmp/fleetdeck-bench.XXXXXX)
LAB_DIR=$LAB_PARENT/lab
cleanup() {
  target/release/fleetdeck lab down --dir "$LAB_DIR" >/dev/null || true
  rmdir "$LAB_PARENT" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> lab up ($HOSTS hosts)"
target/release/fleetdeck lab up --hosts "$HOSTS" --dir "$LAB_DIR" >/dev/null
echo "==> benchmark"
FLEETDECK_LAB_DIR=$LAB_DIR cargo bench --quiet --bench connect
