#!/usr/bin/env bash
# Status and watch benchmark (not a test): for each lab size (default 3 and 50) it
# brings up a lab in its own directory, prints the wall time of `fleetdeck status`
# (best of 3) and fleetdeck's own CPU time for it, then the CPU use and peak memory of
# an idle `fleetdeck watch --json` over 60 s (after a 30 s warm-up that covers the
# first measurement of every host), and takes the lab down. Figures are recorded in
# docs/performance.md.
#   scripts/bench-status.sh [SIZE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(3 50)
WARMUP=${WARMUP:-30}
IDLE=${IDLE:-60}
prepare_machine
echo "==> cargo build --release"
cargo build --release --quiet
FLEETDECK=$PWD/target/release/fleetdeck
TICKS=$(getconf CLK_TCK)

LAB_PARENT=$(mktemp -d /tmp/fleetdeck-bench.XXXXXX)
LAB_DIR=$LAB_PARENT/lab
WATCH_PID=
cleanup() {
  [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null || true
  "$FLEETDECK" lab down --dir "$LAB_DIR" >/dev/null 2>&1 || true
  rm -rf "$LAB_PARENT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

printf '%-6s %-14s %-18s %-22s %-14s\n' hosts "status wall" "status own CPU" "idle watch CPU" "watch peak RSS"
for size in "${SIZES[@]}"; do
  "$FLEETDECK" lab down --dir "$LAB_DIR" >/dev/null 2>&1 || true
  "$FLEETDECK" lab up --hosts "$size" --dir "$LAB_DIR" >/dev/null 2>&1
  best=
  best_cpu=
  for _ in 1 2 3; do
    start=$(date +%s.%N)
    # GNU time writes the child's user and system CPU to a file of its own.
    /usr/bin/time -o "$LAB_PARENT/cpu" -f '%U %S' \
      "$FLEETDECK" status --json -i "$LAB_DIR/inventory.yml" >/dev/null 2>&1 || true
    cpu=$(awk '{print $1 + $2}' "$LAB_PARENT/cpu")
    end=$(date +%s.%N)
    wall=$(echo "$end - $start" | bc)
    if [ -z "$best" ] || [ "$(echo "$wall < $best" | bc)" = 1 ]; then best=$wall; best_cpu=$cpu; fi
  done
  "$FLEETDECK" watch --json -i "$LAB_DIR/inventory.yml" >/dev/null 2>&1 &
  WATCH_PID=$!
  sleep "$WARMUP"
  t0=$(cpu_ticks "$WATCH_PID")
  sleep "$IDLE"
  t1=$(cpu_ticks "$WATCH_PID")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$WATCH_PID/status")
  kill "$WATCH_PID"; wait "$WATCH_PID" 2>/dev/null || true
  WATCH_PID=
  cpu_pct=$(echo "scale=2; ($t1 - $t0) * 100 / $TICKS / $IDLE" | bc)
  printf '%-6s %-14s %-18s %-22s %-14s\n' "$size" "$(printf '%.2f s' "$best")" "$(printf '%.2f s' "${best_cpu:-0}")" "$cpu_pct % of one core" "$((hwm / 1024)) MiB"
done
