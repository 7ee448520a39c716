#!/usr/bin/env bash
# Lab, status and watch benchmark (not a test). For each lab size (default 3 and 50)
# it brings up a lab in its own directory and prints, in one row:
#   - `lab up` (first run) and `lab up` again (nothing to do): wall time;
#   - the idle lab: its own CPU use over IDLE_LAB s after SETTLE s (every process
#     whose command line names the lab's directory or run dir — engines, containerd,
#     shims, sshd, servers — with the children they reaped: health checks, restarts)
#     and the machine's 1-minute load average at the end of that window (other work
#     on the machine counts in it), then how many containers are not in the state
#     the lab planned for them (`lab status`: a healthy container starved into
#     `unhealthy` counts);
#   - `fleetdeck status --json` (best of 3): wall time, fleetdeck's own CPU time
#     (user + system, from GNU time) and how many hosts answered;
#   - an idle `fleetdeck watch --json` over IDLE s (after a WARMUP s warm-up that
#     covers the first measurement of every host): CPU use and peak memory;
#   - `lab down`: wall time.
# Figures are recorded in docs/performance.md.
#   scripts/bench-status.sh [SIZE ...]
#   FLEETDECK=target/debug/fleetdeck scripts/bench-status.sh 50   # use that binary,
#                                                                # no release build
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(3 50)
WARMUP=${WARMUP:-30}
IDLE=${IDLE:-60}
SETTLE=${SETTLE:-60}
IDLE_LAB=${IDLE_LAB:-60}
prepare_machine
if [ -z "${FLEETDECK:-}" ]; then
  echo "==> cargo build --release"
  cargo build --release --quiet
  FLEETDECK=target/release/fleetdeck
fi
FLEETDECK=$(realpath "$FLEETDECK")
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
now() { date +%s.%N; }
secs() { printf '%.1f s' "$(echo "$2 - $1" | bc)"; }

# CPU ticks (own + reaped children) of the lab's processes and their descendants.
lab_ticks() {
  local marks=("$LAB_DIR" "/run/fdlab-$1")
  local -A ppid_of=() ticks_of=() lab=()
  local stat rest fields pid cmd m
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    stat=$(cat "$p/stat" 2>/dev/null) || continue
    rest=${stat##*) }
    read -r -a fields <<<"$rest"
    ppid_of[$pid]=${fields[1]}
    ticks_of[$pid]=$((fields[11] + fields[12] + fields[13] + fields[14]))
    cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
    for m in "${marks[@]}"; do
      [[ $cmd == *"$m"* ]] && lab[$pid]=1
    done
  done
  local total=0 q
  for pid in "${!ticks_of[@]}"; do
    q=$pid
    while [ -n "$q" ] && [ "$q" != 0 ] && [ "$q" != 1 ]; do
      if [ -n "${lab[$q]:-}" ]; then
        total=$((total + ticks_of[$pid]))
        break
      fi
      q=${ppid_of[$q]:-}
    done
  done
  echo "$total"
}

printf '%-5s | %-8s | %-8s | %-18s | %-7s | %-8s | %-11s | %-10s | %-8s | %-18s | %-9s | %-8s\n' \
  hosts "lab up" "up again" "idle lab CPU" "load 1m" "off plan" "status wall" "status CPU" \
  answered "idle watch CPU" "watch RSS" "lab down"
for size in "${SIZES[@]}"; do
  "$FLEETDECK" lab down --dir "$LAB_DIR" >/dev/null 2>&1 || true
  t0=$(now)
  "$FLEETDECK" lab up --hosts "$size" --dir "$LAB_DIR" >"$LAB_PARENT/up.log" 2>&1 \
    || { cat "$LAB_PARENT/up.log" >&2; exit 1; }
  t1=$(now)
  "$FLEETDECK" lab up --dir "$LAB_DIR" >/dev/null 2>&1
  t2=$(now)
  up=$(secs "$t0" "$t1")
  again=$(secs "$t1" "$t2")
  id=$(grep -o '"id": *"[0-9a-f]*"' "$LAB_DIR/lab.json" | head -1 | grep -o '[0-9a-f]\{6\}')

  sleep "$SETTLE"
  l0=$(lab_ticks "$id")
  sleep "$IDLE_LAB"
  l1=$(lab_ticks "$id")
  load=$(cut -d' ' -f1 /proc/loadavg)
  lab_pct=$(printf '%.1f' "$(echo "scale=2; ($l1 - $l0) * 100 / $TICKS / $IDLE_LAB" | bc)")
  off_plan=$("$FLEETDECK" lab status --json --dir "$LAB_DIR" 2>/dev/null | awk -F'"' '
    /"state":/ { s = $4 }
    /"expected":/ { if (s != $4 && !(s == "running" && $4 == "restarting")) n++ }
    END { print n + 0 }')

  best=
  best_cpu=
  best_answered=
  for _ in 1 2 3; do
    start=$(now)
    # GNU time writes the child's user and system CPU to a file of its own.
    /usr/bin/time -o "$LAB_PARENT/cpu" -f '%U %S' \
      "$FLEETDECK" status --json -i "$LAB_DIR/inventory.yml" >"$LAB_PARENT/status.json" \
      2>/dev/null || true
    end=$(now)
    # (its last line: a first one says so when the command exited non-zero)
    cpu=$(awk 'END {print $1 + $2}' "$LAB_PARENT/cpu")
    wall=$(echo "$end - $start" | bc)
    answered=$(grep -o '"reachable": *true' "$LAB_PARENT/status.json" | wc -l)
    if [ -z "$best" ] || [ "$(echo "$wall < $best" | bc)" = 1 ]; then
      best=$wall best_cpu=$cpu best_answered=$answered
    fi
  done

  "$FLEETDECK" watch --json -i "$LAB_DIR/inventory.yml" >/dev/null 2>&1 &
  WATCH_PID=$!
  sleep "$WARMUP"
  w0=$(cpu_ticks "$WATCH_PID")
  sleep "$IDLE"
  w1=$(cpu_ticks "$WATCH_PID")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$WATCH_PID/status")
  kill "$WATCH_PID"; wait "$WATCH_PID" 2>/dev/null || true
  WATCH_PID=
  watch_pct=$(printf '%.2f' "$(echo "scale=3; ($w1 - $w0) * 100 / $TICKS / $IDLE" | bc)")

  t3=$(now)
  "$FLEETDECK" lab down --dir "$LAB_DIR" >/dev/null 2>&1
  t4=$(now)

  printf '%-5s | %-8s | %-8s | %-18s | %-7s | %-8s | %-11s | %-10s | %-8s | %-18s | %-9s | %-8s\n' \
    "$size" "$up" "$again" "$lab_pct % of a core" "$load" "$off_plan" "$(printf '%.2f s' "$best")" \
    "$(printf '%.2f s' "${best_cpu:-0}")" "$best_answered/$size" \
    "$watch_pct % of a core" "$((hwm / 1024)) MiB" "$(secs "$t3" "$t4")"
done
