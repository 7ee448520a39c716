#!/usr/bin/env bash
# Host round benchmark (not a test): what one resources + posture round costs a lab
# host, the session and fleetdeck, beside what a user would run by hand instead.
# Prints, per round (means over ROUNDS):
#   - the round script (src/probes/host/script.rs) run on the host N times in one
#     loop, its CPU from the shell's `times` (the shell and every tool it waited
#     for): "steady" sends back the keys of apt's and fail2ban's state (what
#     fleetdeck does from the second round on), "cold" asks everything;
#   - the bytes it prints (stdout + stderr), steady and cold;
#   - the same round on a fresh `ssh` connection each time: the host's CPU counted
#     on the lab host's sshd listener (its reaped children: the connection's sshd,
#     the shell, the tools; key exchange included, which fleetdeck's one long
#     session pays once), and the client's;
#   - the engine's CPU for one `/system/df` (dockerd's own time, over ROUNDS calls);
#   - `fleetdeck status --json -l HOST` end to end (every signal, the host round one
#     of them): fleetdeck's CPU (GNU time) and the host's (listener);
#   - by hand: `df -h`, `df -i`, `free -m`, `uptime`, `cat reboot-required`,
#     `apt list --upgradable`, `sshd -T`, `fail2ban-client status` and
#     `docker system df`, each its own `ssh HOST CMD`, as a user checking a host
#     would: the host's CPU, the client's and the bytes.
# Figures go into docs/performance.md.
#   scripts/bench-host-round.sh [LAB_DIR] [HOST] [ROUNDS]
# LAB_DIR defaults to a lab of its own (3 hosts, brought up and taken down here);
# HOST to client-alpha, ROUNDS to 10. FLEETDECK=path picks the binary (default:
# target/release/fleetdeck if built, else target/debug/fleetdeck). Needs jq.
set -euo pipefail
cd "$(dirname "$0")/.."

LAB_DIR=${1:-}
HOST=${2:-client-alpha}
ROUNDS=${3:-10}
if [ -z "${FLEETDECK:-}" ]; then
  FLEETDECK=target/release/fleetdeck
  [ -x "$FLEETDECK" ] || FLEETDECK=target/debug/fleetdeck
fi
FLEETDECK=$(realpath "$FLEETDECK")
command -v jq >/dev/null || { echo "needs jq" >&2; exit 2; }
TICKS=$(getconf CLK_TCK)

OWN_LAB=
WORK=$(mktemp -d /tmp/fdbench-host.XXXXXX)
cleanup() {
  [ -n "$OWN_LAB" ] && "$FLEETDECK" lab down --dir "$LAB_DIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -z "$LAB_DIR" ]; then
  LAB_DIR=$WORK/lab
  OWN_LAB=1
  echo "==> lab up --hosts 3 --dir $LAB_DIR"
  "$FLEETDECK" lab up --hosts 3 --dir "$LAB_DIR" >/dev/null
fi

ssh_host() { ssh -F "$LAB_DIR/ssh_config" -o BatchMode=yes "$HOST" "$@"; }
engine=$(jq -r --arg h "$HOST" '.plan as $p | $p.hosts[] | select(.name == $h) | $p.engines[.engine]' "$LAB_DIR/lab.json")
SOCKET=$(jq -r .socket <<<"$engine")
DOCKERD_PID=$(cat "$(jq -r .pidfile <<<"$engine")")
LISTENER_PID=$(cat "$LAB_DIR/hosts/$HOST/sshd.pid")

# The round as fleetdeck sends it, keys set by `set --` (see script.rs `command`).
sed -n '/^pub const SCRIPT: &str = r#"/,/^"#;$/p' src/probes/host/script.rs |
  sed '1s/^pub const SCRIPT: &str = r#"//; $d' >"$WORK/round.sh"
round_with() { printf "set -- '%s' '%s'\n" "$1" "$2"; cat "$WORK/round.sh"; }

# Reaped children's CPU of a process, in ticks (fields 16 and 17 of its stat).
reaped_ticks() { awk '{print $16 + $17}' "/proc/$1/stat"; }
own_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
per_round() { echo "scale=4; $1 / $TICKS / $2" | bc; }
# `times` prints the shell's and its children's user and system time: sum them.
times_secs() { tr -s ' \n' '\n\n' | sed 's/^\([0-9]*\)m\([0-9.]*\)s$/\1 \2/' |
  awk 'NF == 2 { s += $1 * 60 + $2 } END { printf "%.4f", s }'; }
bytes_of() { wc -c <"$1" | tr -d ' '; }

cold_script=$(round_with '' '')
ssh_host "$cold_script" >"$WORK/cold.out" 2>"$WORK/cold.err"
apt_key=$(sed -n '/^@@section updates$/,/^@@exit/s/^key //p' "$WORK/cold.out")
f2b_key=$(sed -n '/^@@section fail2ban$/,/^@@exit/s/^key //p' "$WORK/cold.out")
steady_script=$(round_with "$apt_key" "$f2b_key")
ssh_host "$steady_script" >"$WORK/steady.out" 2>"$WORK/steady.err"

loop_cpu() { # SCRIPT N: the host's CPU for N runs of SCRIPT in one shell, per run.
  local quoted
  quoted=$(printf '%s' "$1" | sed "s/'/'\\\\''/g")
  local total
  total=$(ssh_host "i=0; while [ \$i -lt $2 ]; do sh -c '$quoted' >/dev/null 2>&1; i=\$((i + 1)); done; times" | times_secs)
  echo "scale=4; $total / $2" | bc
}
steady_cpu=$(loop_cpu "$steady_script" "$ROUNDS")
cold_cpu=$(loop_cpu "$cold_script" 3)

fresh_connection() { # SCRIPT: per-round host CPU (listener) and client CPU, fresh ssh each time.
  local before after
  before=$(reaped_ticks "$LISTENER_PID")
  /usr/bin/time -f '%U %S' -o "$WORK/client.time" bash -c '
    for _ in $(seq "$1"); do ssh -F "$2/ssh_config" -o BatchMode=yes "$3" "$4" >/dev/null 2>&1; done' _ \
    "$ROUNDS" "$LAB_DIR" "$HOST" "$1"
  sleep 0.5
  after=$(reaped_ticks "$LISTENER_PID")
  echo "$(per_round $((after - before)) "$ROUNDS") $(awk -v n="$ROUNDS" '{printf "%.4f", ($1 + $2) / n}' "$WORK/client.time")"
}
read -r ssh_host_cpu ssh_client_cpu <<<"$(fresh_connection "$steady_script")"

before=$(own_ticks "$DOCKERD_PID")
for _ in $(seq "$ROUNDS"); do curl -s -o /dev/null --unix-socket "$SOCKET" http://docker/system/df; done
after=$(own_ticks "$DOCKERD_PID")
df_cpu=$(per_round $((after - before)) "$ROUNDS")
df_bytes=$(curl -s --unix-socket "$SOCKET" http://docker/system/df | wc -c | tr -d ' ')

before=$(reaped_ticks "$LISTENER_PID")
/usr/bin/time -f '%U %S' -o "$WORK/status.time" bash -c '
  for _ in $(seq "$1"); do
    "$2" status --json --batch -i "$3/inventory.yml" -F "$3/ssh_config" -l "$4" >/dev/null 2>&1 || true
  done' _ "$ROUNDS" "$FLEETDECK" "$LAB_DIR" "$HOST"
sleep 0.5
after=$(reaped_ticks "$LISTENER_PID")
status_host_cpu=$(per_round $((after - before)) "$ROUNDS")
status_cpu=$(awk -v n="$ROUNDS" '{printf "%.4f", ($1 + $2) / n}' "$WORK/status.time")

BY_HAND=("df -h" "df -i" "free -m" "uptime" "cat /var/run/reboot-required 2>/dev/null || true"
  "apt list --upgradable" "sshd -T" "fail2ban-client status"
  "docker -H unix://$SOCKET system df")
before=$(reaped_ticks "$LISTENER_PID")
: >"$WORK/hand.out"
/usr/bin/time -f '%U %S' -o "$WORK/hand.time" bash -c '
  lab=$1 host=$2 n=$3 out=$4; shift 4
  for _ in $(seq "$n"); do
    for c in "$@"; do ssh -F "$lab/ssh_config" -o BatchMode=yes "$host" "$c" >>"$out" 2>&1 || true; done
  done' _ "$LAB_DIR" "$HOST" 3 "$WORK/hand.out" "${BY_HAND[@]}"
sleep 0.5
after=$(reaped_ticks "$LISTENER_PID")
hand_host_cpu=$(per_round $((after - before)) 3)
hand_client_cpu=$(awk '{printf "%.4f", ($1 + $2) / 3}' "$WORK/hand.time")
hand_bytes=$(($(bytes_of "$WORK/hand.out") / 3))

echo "host round on $HOST ($ROUNDS rounds; CPU in seconds per round)"
printf '  %-52s %s\n' \
  "round script, host CPU, steady (keys sent back)" "$steady_cpu" \
  "round script, host CPU, cold (apt and fail2ban asked)" "$cold_cpu" \
  "round output bytes, steady (stdout + stderr)" "$(($(bytes_of "$WORK/steady.out") + $(bytes_of "$WORK/steady.err")))" \
  "round output bytes, cold" "$(($(bytes_of "$WORK/cold.out") + $(bytes_of "$WORK/cold.err")))" \
  "round on a fresh ssh connection: host CPU" "$ssh_host_cpu" \
  "round on a fresh ssh connection: client CPU" "$ssh_client_cpu" \
  "Engine /system/df: dockerd CPU" "$df_cpu" \
  "Engine /system/df: answer bytes" "$df_bytes" \
  "fleetdeck status --json -l $HOST: fleetdeck CPU" "$status_cpu" \
  "fleetdeck status --json -l $HOST: host CPU" "$status_host_cpu" \
  "by hand (${#BY_HAND[@]} ssh commands): host CPU" "$hand_host_cpu" \
  "by hand: client CPU" "$hand_client_cpu" \
  "by hand: output bytes" "$hand_bytes"
