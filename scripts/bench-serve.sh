#!/usr/bin/env bash
# Exporter benchmark (not a test): what `fleetdeck serve` costs per host, and what a
# scrape of it costs, beside what a user would run instead. For each lab size
# (default 5 and 50) it brings up a lab in its own directory, starts `serve` on a free
# loopback port, waits until every host has been contacted and measured (every host's
# `fleetdeck_host_up` present and its host round in), then prints one row:
#   - series in one scrape and its size in bytes;
#   - scrape duration: the median and the worst of SCRAPES scrapes (curl's total time,
#     loopback, one connection each, as Prometheus opens them);
#   - serve's CPU over IDLE s while scraped every SCRAPE_EVERY s (Prometheus's
#     default interval is 15 s), as % of one core, and per host;
#   - serve's resident memory after that window (VmRSS) and its peak (VmHWM), and
#     per host.
# Then the same scrape figures for Debian's prometheus-node-exporter on this machine
# (one host's worth of metrics, the per-host agent a Prometheus user would run
# instead), for scale.
# Figures are recorded in docs/scaling.md.
#   scripts/bench-serve.sh [SIZE ...]
#   FLEETDECK=target/debug/fleetdeck scripts/bench-serve.sh 5   # that binary, no build
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(5 50)
IDLE=${IDLE:-120}
SCRAPES=${SCRAPES:-50}
SCRAPE_EVERY=${SCRAPE_EVERY:-15}
prepare_machine
command -v curl >/dev/null || { echo "needs curl" >&2; exit 2; }
if [ -z "${FLEETDECK:-}" ]; then
  echo "==> cargo build --release"
  cargo build --release --quiet
  FLEETDECK=target/release/fleetdeck
fi
FLEETDECK=$(realpath "$FLEETDECK")
TICKS=$(getconf CLK_TCK)

WORK=$(mktemp -d /tmp/fleetdeck-bench-serve.XXXXXX)
LAB_DIR=$WORK/lab
SERVE_PID=
NODE_PID=
cleanup() {
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null || true
  [ -n "$NODE_PID" ] && kill "$NODE_PID" 2>/dev/null || true
  "$FLEETDECK" lab down --dir "$LAB_DIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# SCRAPES scrapes of URL: "median worst" total time in ms, then series and bytes of
# the last one.
scrape_figures() {
  local url=$1 times=() t
  for _ in $(seq "$SCRAPES"); do
    t=$(curl -s -o "$WORK/scrape" -w '%{time_total}' "$url")
    times+=("$t")
  done
  local sorted
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  local median worst
  median=$(sed -n "$(((SCRAPES + 1) / 2))p" <<<"$sorted")
  worst=$(tail -1 <<<"$sorted")
  printf '%.1f %.1f %d %d\n' "$(echo "$median * 1000" | bc)" "$(echo "$worst * 1000" | bc)" \
    "$(grep -cv '^#' "$WORK/scrape")" "$(wc -c <"$WORK/scrape")"
}
# Waits until the exporter has seen every host answer and measured its host round.
wait_measured() {
  local url=$1 size=$2 deadline=$((SECONDS + 600)) up rounds
  while [ $SECONDS -lt $deadline ]; do
    curl -s -o "$WORK/scrape" "$url" || true
    up=$(grep -c '^fleetdeck_host_up{' "$WORK/scrape" || true)
    rounds=$(grep -c '^fleetdeck_signal_measured_timestamp_seconds{.*signal="resources"' \
      "$WORK/scrape" || true)
    [ "$up" -ge "$size" ] && [ "$rounds" -ge "$size" ] && return 0
    sleep 1
  done
  echo "serve did not measure all $size hosts within 600 s ($up up, $rounds rounds)" >&2
  return 1
}

printf '%-5s | %-7s | %-9s | %-20s | %-22s | %-22s | %-20s\n' \
  hosts series "bytes" "scrape median/worst" "serve CPU (per host)" "serve RSS (per host)" "serve peak RSS"
for size in "${SIZES[@]}"; do
  "$FLEETDECK" lab down --dir "$LAB_DIR" >/dev/null 2>&1 || true
  "$FLEETDECK" lab up --hosts "$size" --dir "$LAB_DIR" >"$WORK/up.log" 2>&1 \
    || { cat "$WORK/up.log" >&2; exit 1; }
  port=$(free_port)
  url=http://127.0.0.1:$port/metrics
  "$FLEETDECK" serve --listen "127.0.0.1:$port" -i "$LAB_DIR/inventory.yml" \
    >"$WORK/serve.log" 2>&1 &
  SERVE_PID=$!
  wait_measured "$url" "$size"
  read -r median worst series bytes < <(scrape_figures "$url")
  c0=$(cpu_ticks "$SERVE_PID")
  end=$((SECONDS + IDLE))
  while [ $SECONDS -lt $end ]; do
    curl -s -o /dev/null "$url"
    sleep "$SCRAPE_EVERY"
  done
  c1=$(cpu_ticks "$SERVE_PID")
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$SERVE_PID/status")
  hwm=$(awk '/VmHWM/ {print $2}' "/proc/$SERVE_PID/status")
  kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
  SERVE_PID=
  pct=$(echo "scale=4; ($c1 - $c0) * 100 / $TICKS / $IDLE" | bc)
  printf '%-5s | %-7s | %-9s | %-20s | %-22s | %-22s | %-20s\n' \
    "$size" "$series" "$bytes" "${median} / ${worst} ms" \
    "$(printf '%.2f %% (%.3f %%)' "$pct" "$(echo "scale=5; $pct / $size" | bc)")" \
    "$(printf '%d MiB (%.2f MiB)' $((rss / 1024)) "$(echo "scale=3; $rss / 1024 / $size" | bc)")" \
    "$((hwm / 1024)) MiB"
  "$FLEETDECK" lab down --dir "$LAB_DIR" >/dev/null 2>&1
done

# For scale: the per-host agent a Prometheus user would otherwise run on each host.
if ! command -v prometheus-node-exporter >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    prometheus-node-exporter >/dev/null 2>&1 || true
  systemctl disable --now prometheus-node-exporter >/dev/null 2>&1 || true
fi
if command -v prometheus-node-exporter >/dev/null; then
  port=$(free_port)
  prometheus-node-exporter --web.listen-address="127.0.0.1:$port" >/dev/null 2>&1 &
  NODE_PID=$!
  url=http://127.0.0.1:$port/metrics
  for _ in $(seq 100); do curl -s -o /dev/null "$url" && break; sleep 0.1; done
  read -r median worst series bytes < <(scrape_figures "$url")
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$NODE_PID/status")
  printf '%-5s | %-7s | %-9s | %-20s | %-22s | %-22s | %-20s\n' \
    "node_exporter, 1 host" "$series" "$bytes" "${median} / ${worst} ms" "-" \
    "$((rss / 1024)) MiB" "-"
  kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true
  NODE_PID=
fi
