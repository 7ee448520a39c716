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
# The fleet console arrives with the fleet probes; until then, the lab's own view.
"$FLEETDECK" lab status --dir "$LAB_DIR" || true
cat <<MSG

The lab is running. Look around with OpenSSH:
  ssh -F $LAB_DIR/ssh_config client-alpha docker ps -a
  ssh -F $LAB_DIR/ssh_config client-beta 'nft list ruleset'   # via the bastion
Remove it with:
  $FLEETDECK lab down --dir $LAB_DIR
MSG
