#!/usr/bin/env bash
# Deploy, rollback and drill timings (not a test): brings up a 5-host lab in its own
# directory and times, on client-gamma, with the lab's default stacks:
#   1. `deploy --app web -e web_version=1.1` (a new version: stop, start, gate, switch);
#   2. the same again (nothing to do: lock, re-plan, release);
#   3. `-e web_version=1.2-broken` (its health check fails; rolled back by itself);
#   4. a healthy release whose HTTP probe fails (`web_probe_path=/nope`, gate
#      timeout 10 s), rolled back by itself;
#   5. a restore drill of `web`: its RTO (`rto_seconds` of `drill --json`) and the
#      whole drill.
# then takes the lab down. Figures are recorded in docs/performance.md.
#   scripts/bench-deploy.sh
#   FLEETDECK=target/debug/fleetdeck scripts/bench-deploy.sh   # that binary, no build
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

prepare_machine
if [ -z "${FLEETDECK:-}" ]; then
  echo "==> cargo build --release"
  cargo build --release --quiet
  FLEETDECK=target/release/fleetdeck
fi
FLEETDECK=$(realpath "$FLEETDECK")

LAB_PARENT=$(mktemp -d /tmp/fleetdeck-bench.XXXXXX)
LAB_DIR=$LAB_PARENT/lab
cleanup() {
  "$FLEETDECK" lab down --dir "$LAB_DIR" >/dev/null 2>&1 || true
  rm -rf "$LAB_PARENT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "==> lab up (5 hosts)"
"$FLEETDECK" lab up --hosts 5 --dir "$LAB_DIR" >/dev/null
INV=$LAB_DIR/inventory.yml
# Audit lines and logs stay in the bench's directory.
export XDG_STATE_HOME=$LAB_PARENT/state

now() { date +%s.%N; }
# timed LABEL EXPECTED-EXIT COMMAND...: runs it, checks its exit code, prints the time.
timed() {
  local label=$1 expected=$2 start end rc=0
  shift 2
  start=$(now)
  "$@" >"$LAB_PARENT/out" 2>"$LAB_PARENT/err" || rc=$?
  end=$(now)
  if [ "$rc" != "$expected" ]; then
    echo "$label: exit $rc, expected $expected" >&2
    cat "$LAB_PARENT/err" >&2
    exit 1
  fi
  printf '%-58s %8.1f s\n' "$label" "$(echo "$end - $start" | bc)"
}

deploy() { "$FLEETDECK" deploy -i "$INV" --app web -l client-gamma --yes "$@"; }
timed "deploy --app web, new version (1.1), one host" 0 deploy -e web_version=1.1
timed "the same again (nothing to do)" 0 deploy -e web_version=1.1
timed "1.2-broken: health check fails, rolled back" 1 deploy -e web_version=1.2-broken
timed "HTTP probe fails (gate timeout 10 s), rolled back" 1 \
  deploy -e web_version=1.0 -e web_probe_path=/nope -e web_gate_timeout=10
timed "restore drill of web (whole drill)" 0 \
  "$FLEETDECK" drill -i "$INV" --host client-gamma --app web --yes --json
rto=$(grep -o '"rto_seconds": *[0-9.]*' "$LAB_PARENT/out" | head -1 | grep -o '[0-9.]*$')
printf '%-58s %8.1f s\n' "restore drill of web: RTO (rto_seconds)" "${rto:?no rto_seconds in the drill report}"
