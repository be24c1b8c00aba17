#!/usr/bin/env bash
# facegate installer for Raspberry Pi OS Bookworm (Pi 4 / Pi 5).  Idempotent: run it again to
# upgrade.  Usage:
#   sudo scripts/install.sh                 install or upgrade
#   sudo scripts/install.sh --no-models     skip `facegate models install` (offline)
#   sudo scripts/install.sh --uninstall     remove program, units, rules; keep data, config, key
#   sudo scripts/install.sh --uninstall --purge [--force]
#                                           also delete data, config, master key, user, group
set -euo pipefail

PREFIX=/opt/facegate
VENV="$PREFIX/venv"
STATE_DIR=/var/lib/facegate
CONF_DIR=/etc/facegate
CREDSTORE=/etc/credstore
KEY_FILE="$CREDSTORE/facegate-master-key"
UNIT_DIR=/etc/systemd/system
UDEV_RULES=/etc/udev/rules.d/99-facegate.rules
SERVICE_USER=facegate
ADMIN_GROUP=facegate-admin
DEVICE_GROUPS=(gpio video input dialout i2c)
APT_PACKAGES=(python3-venv python3-pip python3-picamera2 python3-libcamera python3-lgpio)

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACTION=install
PURGE=0
FORCE=0
MODELS=1

say() { printf '\033[1mfacegate:\033[0m %s\n' "$*"; }
die() { printf 'facegate: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --uninstall) ACTION=uninstall ;;
            --purge) PURGE=1 ;;
            --force) FORCE=1 ;;
            --no-models) MODELS=0 ;;
            --source) shift; SRC="$(cd "${1:?--source needs a folder}" && pwd)" ;;
            -h|--help) usage; exit 0 ;;
            *) die "unknown option: $1 (see --help)" ;;
        esac
        shift
    done
    if [ "$PURGE" = 1 ] && [ "$ACTION" != uninstall ]; then
        die "--purge only goes with --uninstall"
    fi
}

require_root() {
    [ "$(id -u)" = 0 ] || die "run as root (sudo $0 $*)"
}

check_os() {
    local codename=""
    if [ -r /etc/os-release ]; then
        # shellcheck disable=SC1091
        codename="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
    fi
    if [ "$codename" != bookworm ]; then
        say "warning: made for Raspberry Pi OS Bookworm; this is '${codename:-unknown}'"
    fi
}

install_packages() {
    say "installing system packages: ${APT_PACKAGES[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${APT_PACKAGES[@]}"
}

create_accounts() {
    local g
    for g in "${DEVICE_GROUPS[@]}" "$ADMIN_GROUP"; do
        getent group "$g" >/dev/null || groupadd --system "$g"
    done
    if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
        say "creating system user $SERVICE_USER"
        useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "facegate access gate" "$SERVICE_USER"
    fi
    local joined
    joined="$(IFS=,; printf '%s' "${DEVICE_GROUPS[*]},$ADMIN_GROUP")"
    usermod --append --groups "$joined" "$SERVICE_USER"
}

install_program() {
    [ -f "$SRC/pyproject.toml" ] || die "no pyproject.toml in $SRC (use --source)"
    install -d -m 0755 "$PREFIX"
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV (with system site packages: picamera2, libcamera, lgpio from apt)"
        python3 -m venv --system-site-packages "$VENV"
    fi
    say "installing facegate from $SRC"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --upgrade "$SRC"
    ln -sfn "$VENV/bin/facegate" /usr/local/bin/facegate
    rm -rf "$PREFIX/systemd" "$PREFIX/hardware"
    cp -r "$SRC/systemd" "$SRC/hardware" "$PREFIX/"
}

create_dirs() {
    install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$STATE_DIR"
    install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF_DIR"
    install -d -m 0700 -o root -g root "$CREDSTORE"
    if [ ! -e "$CONF_DIR/facegate.yaml" ]; then
        install -m 0640 -o root -g "$SERVICE_USER" "$SRC/config/example.yaml" \
            "$CONF_DIR/facegate.yaml"
        say "wrote $CONF_DIR/facegate.yaml from the example: edit it before starting"
    fi
}

install_models() {
    if [ "$MODELS" = 0 ]; then
        say "skipping models (--no-models); later: sudo -u $SERVICE_USER facegate models install --dir $STATE_DIR/models"
        return
    fi
    say "installing the pinned model files into $STATE_DIR/models"
    runuser -u "$SERVICE_USER" -- env HOME="$STATE_DIR" \
        "$VENV/bin/facegate" models install --dir "$STATE_DIR/models" --no-progress
}

create_key() {
    if [ -e "$KEY_FILE" ]; then
        say "master key exists: $KEY_FILE (kept)"
        return
    fi
    say "creating the master key $KEY_FILE (root only; systemd hands it to the daemon)"
    "$VENV/bin/facegate" keys init --key-file "$KEY_FILE" --config "$CONF_DIR/facegate.yaml"
    chmod 0600 "$KEY_FILE"
}

install_units() {
    install -m 0644 "$SRC/systemd/facegate.service" "$UNIT_DIR/facegate.service"
    install -m 0644 "$SRC/hardware/99-facegate.rules" "$UDEV_RULES"
    if command -v udevadm >/dev/null 2>&1; then
        udevadm control --reload || true
        udevadm trigger || true
    fi
    systemctl daemon-reload
    systemctl enable facegate.service >/dev/null
}

next_steps() {
    cat <<STEPS

facegate is installed (not started).  Next:
  1. Edit $CONF_DIR/facegate.yaml: site, notice, purpose, doors (see $PREFIX/hardware/pinmap.yaml)
     and check it:           facegate config check $CONF_DIR/facegate.yaml
  2. Back up the master key $KEY_FILE offline (without it templates cannot be read).
  3. Give admins the role:   usermod -aG $ADMIN_GROUP <user>   (log in again afterwards)
  4. Start:                  systemctl start facegate && journalctl -fu facegate
  5. Print the notice sign:  facegate notice render
  6. Check the audit trail:  facegate audit verify
STEPS
}

uninstall() {
    say "removing the service, udev rules and program (data in $STATE_DIR is kept)"
    if systemctl list-unit-files facegate.service >/dev/null 2>&1; then
        systemctl disable --now facegate.service 2>/dev/null || true
    fi
    rm -f "$UNIT_DIR/facegate.service" "$UDEV_RULES" /usr/local/bin/facegate
    rm -rf "$PREFIX"
    systemctl daemon-reload 2>/dev/null || true
    if [ "$PURGE" = 0 ]; then
        say "kept: $STATE_DIR (templates, audit log), $CONF_DIR, $KEY_FILE, user $SERVICE_USER"
        return
    fi
    say "PURGE deletes every template, event and the audit log (kept >= 3 years by law:"
    say "export it first with 'facegate audit export'), the config and the master key."
    if [ "$FORCE" = 0 ]; then
        [ -t 0 ] || die "--purge without a terminal needs --force"
        local answer
        read -r -p "type 'purge' to continue: " answer
        [ "$answer" = purge ] || die "nothing purged"
    fi
    rm -rf "$STATE_DIR" "$CONF_DIR"
    rm -f "$KEY_FILE"
    if id -u "$SERVICE_USER" >/dev/null 2>&1; then
        userdel "$SERVICE_USER" || true
    fi
    local g
    for g in "$SERVICE_USER" "$ADMIN_GROUP"; do
        if getent group "$g" >/dev/null; then
            groupdel "$g" || true
        fi
    done
    say "purged"
}

main() {
    parse_args "$@"
    require_root "$@"
    if [ "$ACTION" = uninstall ]; then
        uninstall
        return
    fi
    check_os
    install_packages
    create_accounts
    install_program
    create_dirs
    install_models
    create_key
    install_units
    next_steps
}

main "$@"
