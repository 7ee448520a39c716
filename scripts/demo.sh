#!/usr/bin/env bash
# From a fresh machine to the practice fleet: installs prerequisites, builds the
# release binary, brings the lab up and shows it. Rerunning is safe (lab up is
# idempotent); remove it with: target/release/fleetdeck lab down
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

prepare_machine

echo "==> cargo build --release"
cargo build --release --quiet
FLEETDECK=target/release/fleetdeck
LAB_DIR=${FLEETDECK_LAB_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/fleetdeck/lab}

echo "==> lab up in $LAB_DIR"
"$FLEETDECK" lab up --dir "$LAB_DIR"
cat <<MSG

The lab is running ($LAB_DIR). Remove it with:
  $FLEETDECK lab down --dir $LAB_DIR
MSG
if [ -t 0 ] && [ -t 1 ]; then
  echo "==> the console on the lab (q quits, ? shows the keys)"
  sleep 1
  exec "$FLEETDECK" -i "$LAB_DIR/inventory.yml"
else
  # No terminal to draw on: the same fleet as one snapshot.
  "$FLEETDECK" status -i "$LAB_DIR/inventory.yml" || true
  echo "Run this script from a terminal for the console: $FLEETDECK -i $LAB_DIR/inventory.yml"
fi
