#!/usr/bin/env bash
# facegate installer for Raspberry Pi OS Bookworm (Pi 4 / Pi 5) and Debian 12 (bookworm).
# Idempotent: run it again to upgrade.  Usage:
#   sudo scripts/install.sh                     install or upgrade
#   sudo scripts/install.sh --camera picamera2  with the Pi camera stack (python3-picamera2,
#                                               python3-libcamera; numpy kept below 2)
#   sudo scripts/install.sh --camera usb        without it (default: camera.type in
#                                               /etc/facegate/facegate.yaml decides)
#   sudo scripts/install.sh --no-models         skip `facegate models install` (offline)
#   sudo scripts/install.sh --web               also the web console (README "Web console"): its
#                                               user, folder, HTTPS certificate and unit
#   sudo scripts/install.sh --office            a compound's office node (README "Compound"):
#                                               Mosquitto and the facegate-compound unit
#                                               (`facegate compound serve`), a daily timer
#                                               for the retention periods; the gate's unit
#                                               is installed but not enabled (no door here)
#   sudo scripts/install.sh --uninstall         remove program, units, rules; keep data, config, key
#   sudo scripts/install.sh --uninstall --purge [--force]
#                                               also delete data, config, master key, user, group
#   scripts/install.sh --dry-run [--camera ...] print the steps for a fresh Raspberry Pi, change
#                                               nothing (README's manual steps are exactly these)
#   scripts/install.sh --check-os               only say whether this system is supported
set -euo pipefail

PREFIX=/opt/facegate
VENV="$PREFIX/venv"
STATE_DIR=/var/lib/facegate
CONF_DIR=/etc/facegate
CONFIG="${FACEGATE_INSTALL_CONFIG:-$CONF_DIR/facegate.yaml}"  # the override is for the tests
CREDSTORE=/etc/credstore
KEY_FILE="$CREDSTORE/facegate-master-key"
UNIT_DIR=/etc/systemd/system
UDEV_RULES=/etc/udev/rules.d/99-facegate.rules
SERVICE_USER=facegate
WEB_USER=facegate-web
WEB_STATE_DIR=/var/lib/facegate-web
ADMIN_GROUP=facegate-admin
DEVICE_GROUPS=(gpio video input dialout i2c audio)
# Debian 12 and Raspberry Pi OS alike: venv and pip; evdev (USB HID card readers and keypads)
# and smbus2 (the door display's I2C bus) from apt, so nothing needs a compiler; a CJK font
# for the printed sign and consent form.
APT_PACKAGES=(python3-venv python3-pip python3-evdev python3-smbus2 fonts-wqy-microhei)
# Raspberry Pi OS only: the GPIO library gpiozero's lgpio pin factory uses.
APT_PI_PACKAGES=(python3-lgpio)
# Raspberry Pi OS only, and only for `camera.type: picamera2`.
APT_CAMERA_PACKAGES=(python3-picamera2 python3-libcamera)
BUILD=/tmp/facegate-build

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACTION=install
PURGE=0
FORCE=0
MODELS=1
WEB=0
OFFICE=0
DRY_RUN=0
CAMERA=auto
SKIP_OS_CHECK=0
IS_PI=0
OS_RELEASE="${FACEGATE_OS_RELEASE:-/etc/os-release}"

say() { printf '\033[1mfacegate:\033[0m %s\n' "$*"; }
die() { printf 'facegate: error: %s\n' "$*" >&2; exit 1; }

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --uninstall) ACTION=uninstall ;;
            --purge) PURGE=1 ;;
            --force) FORCE=1 ;;
            --no-models) MODELS=0 ;;
            --web) WEB=1 ;;
            --office) OFFICE=1 ;;
            --dry-run) DRY_RUN=1 ;;
            --check-os) ACTION=check-os ;;
            --skip-os-check) SKIP_OS_CHECK=1 ;;
            --camera)
                shift
                case "${1:-}" in
                    picamera2) CAMERA=picamera2 ;;
                    usb|opencv|replay|none) CAMERA=other ;;
                    *) die "--camera takes picamera2 or usb" ;;
                esac
                ;;
            --source) shift; SRC="$(cd "${1:?--source needs a folder}" && pwd)" ;;
            -h|--help) usage; exit 0 ;;
            *) die "unknown option: $1 (see --help)" ;;
        esac
        shift
    done
    if [ "$PURGE" = 1 ] && [ "$ACTION" != uninstall ]; then
        die "--purge only goes with --uninstall"
    fi
    if [ "$DRY_RUN" = 1 ] && [ "$ACTION" != install ]; then
        die "--dry-run only shows the install steps"
    fi
}

require_root() {
    [ "$(id -u)" = 0 ] || die "run as root (sudo $0 $*)"
}

# Every change is one line of shell, the same line the README's manual steps show: executed
# here as root (`sudo` runs the command itself, `sudo -u USER` through runuser), or printed by
# --dry-run.
sudo() {
    if [ "${1:-}" = -u ]; then
        local user=$2
        shift 2
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

step() {
    if [ "$DRY_RUN" = 1 ]; then
        printf '%s\n' "$1"
        return
    fi
    say "$1"
    eval "$1" || die "this step failed (see the messages above): $1"
}

# Lines for the reader: `#` comments in --dry-run, nothing when installing.
note() {
    if [ "$DRY_RUN" = 1 ]; then
        printf '# %s\n' "$1"
    fi
}

is_raspberry_pi_os() {
    [ -e /etc/rpi-issue ] && return 0
    grep -qsi raspberrypi /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null
}

check_os() {
    if [ "$DRY_RUN" = 1 ]; then
        IS_PI=1
        return
    fi
    local id="" like="" codename="" pretty=""
    if [ -r "$OS_RELEASE" ]; then
        # shellcheck disable=SC1090
        id="$(. "$OS_RELEASE" && printf '%s' "${ID:-}")"
        # shellcheck disable=SC1090
        like="$(. "$OS_RELEASE" && printf '%s' "${ID_LIKE:-}")"
        # shellcheck disable=SC1090
        codename="$(. "$OS_RELEASE" && printf '%s' "${VERSION_CODENAME:-}")"
        # shellcheck disable=SC1090
        pretty="$(. "$OS_RELEASE" && printf '%s' "${PRETTY_NAME:-}")"
    fi
    if is_raspberry_pi_os; then
        IS_PI=1
    fi
    command -v apt-get >/dev/null ||
        die "this system has no apt-get: the installer supports Raspberry Pi OS Bookworm and Debian 12 only (README: 'Install on a Raspberry Pi' lists what it needs)"
    local debian=0
    case " $id $like " in
        *" debian "*|*" raspbian "*) debian=1 ;;
    esac
    if [ "$debian" = 1 ] && [ "$codename" = bookworm ]; then
        if [ "$IS_PI" = 1 ]; then
            say "Raspberry Pi OS (bookworm)"
        else
            say "Debian 12 (bookworm), not Raspberry Pi OS: no lgpio GPIO library and no Pi camera stack from apt"
        fi
        return
    fi
    if [ "$SKIP_OS_CHECK" = 1 ]; then
        say "warning: made for Raspberry Pi OS Bookworm and Debian 12; this is '${pretty:-unknown}' (--skip-os-check)"
        return
    fi
    die "facegate's installer supports Raspberry Pi OS Bookworm and Debian 12 (bookworm); this is '${pretty:-unknown}'. Package names and the Python version differ elsewhere: follow README 'Install on a Raspberry Pi' by hand, or try --skip-os-check"
}

# camera.type of a YAML config (block `camera:\n  type: x` or flow `camera: {type: x, ...}`).
camera_type_of() {
    awk '
        /^camera:/ {
            c = 1
            if (match($0, /type:[ ]*[A-Za-z0-9_]+/)) {
                v = substr($0, RSTART, RLENGTH); sub(/type:[ ]*/, "", v); print v; exit
            }
            next
        }
        c && /^[^ #]/ { exit }
        c && /^[ ]+type:/ {
            v = $0; sub(/^[ ]+type:[ ]*/, "", v); sub(/[ #].*/, "", v); gsub(/["\047]/, "", v)
            print v; exit
        }' "$1" 2>/dev/null || true
}

decide_camera() {
    [ "$CAMERA" = auto ] || return 0
    local source="$CONFIG" kind
    [ -r "$source" ] || source="$SRC/config/example.yaml"
    kind="$(camera_type_of "$source")"
    if [ "$kind" = picamera2 ]; then
        CAMERA=picamera2
    else
        CAMERA=other
        if [ "$DRY_RUN" = 0 ]; then
            say "camera.type is '${kind:-opencv}' in $source: no Pi camera stack (--camera picamera2 adds it)"
        fi
    fi
}

apt_available() {
    [ "$DRY_RUN" = 1 ] && return 0
    [ -n "$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}' | grep -v '(none)')" ]
}

install_packages() {
    local packages=("${APT_PACKAGES[@]}") p
    note "system packages (apt): the camera stack only for camera.type picamera2"
    step "sudo apt-get update"
    for p in "${APT_PI_PACKAGES[@]}"; do
        if [ "$IS_PI" = 1 ] && apt_available "$p"; then
            packages+=("$p")
        else
            say "skipping $p (Raspberry Pi OS only): the daemon needs --pin-factory mock or another gpiozero pin factory here"
        fi
    done
    if [ "$CAMERA" = picamera2 ]; then
        for p in "${APT_CAMERA_PACKAGES[@]}"; do
            apt_available "$p" ||
                die "camera.type picamera2 needs $p, which only Raspberry Pi OS's apt sources have; use a USB camera (camera.type opencv) on this system"
            packages+=("$p")
        done
    fi
    [ "$OFFICE" = 1 ] && packages+=(mosquitto)
    step "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${packages[*]}"
}

create_accounts() {
    note "the service user and its groups"
    step "for g in ${DEVICE_GROUPS[*]} $ADMIN_GROUP; do getent group \"\$g\" >/dev/null || sudo groupadd --system \"\$g\"; done"
    step "id -u $SERVICE_USER >/dev/null 2>&1 || sudo useradd --system --user-group --home-dir $STATE_DIR --no-create-home --shell /usr/sbin/nologin --comment 'facegate access gate' $SERVICE_USER"
    local joined
    joined="$(IFS=,; printf '%s' "${DEVICE_GROUPS[*]},$ADMIN_GROUP")"
    step "sudo usermod --append --groups $joined $SERVICE_USER"
}

create_dirs() {
    note "folders: state (the service's), configuration, the master key's credstore"
    step "sudo install -d -m 0755 $PREFIX"
    step "sudo install -d -m 0700 -o $SERVICE_USER -g $SERVICE_USER $STATE_DIR"
    step "sudo install -d -m 0750 -o root -g $SERVICE_USER $CONF_DIR"
    step "sudo install -d -m 0700 -o root -g root $CREDSTORE"
    step "sudo test -e $CONFIG || sudo install -m 0640 -o root -g $SERVICE_USER config/example.yaml $CONFIG"
}

install_program() {
    local extras=display
    [ "$CAMERA" = picamera2 ] && extras="display,picamera"
    note "the program: a venv that sees the apt packages, and the wheel built outside the checkout"
    step "sudo test -x $VENV/bin/python || sudo python3 -m venv --system-site-packages $VENV"
    step "rm -rf $BUILD && mkdir -p $BUILD/src"
    step "tar --exclude=./.git --exclude=./.venv --exclude=./build --exclude='*.egg-info' -cf - . | tar -C $BUILD/src -xf -"
    step "$VENV/bin/python -m pip wheel --quiet --no-deps --no-cache-dir -w $BUILD/dist $BUILD/src"
    step "sudo $VENV/bin/python -m pip install --quiet --no-cache-dir \"\$(ls $BUILD/dist/facegate-*.whl)[$extras]\""
    step "sudo $VENV/bin/python -m pip install --quiet --no-cache-dir --no-deps --force-reinstall $BUILD/dist/facegate-*.whl"
    step "rm -rf $BUILD"
    step "sudo ln -sfn $VENV/bin/facegate /usr/local/bin/facegate"
    step "sudo rm -rf $PREFIX/systemd $PREFIX/hardware && sudo cp -r systemd hardware $PREFIX/"
}

install_models() {
    if [ "$MODELS" = 0 ]; then
        say "skipping models (--no-models); later: sudo -u $SERVICE_USER env -C $STATE_DIR HOME=$STATE_DIR $VENV/bin/facegate models install --dir $STATE_DIR/models"
        return
    fi
    note "the pinned model files, as the service user (downloaded once; dlib's only with --with dlib)"
    step "sudo -u $SERVICE_USER env -C $STATE_DIR HOME=$STATE_DIR PIP_NO_CACHE_DIR=1 $VENV/bin/facegate models install --dir $STATE_DIR/models --no-progress"
}

create_key() {
    note "the master key, as the systemd credential every command also finds"
    step "sudo test -e $KEY_FILE || sudo $VENV/bin/facegate keys init --config $CONFIG --key-file $KEY_FILE"
}

install_units() {
    note "the unit and the udev rules"
    step "sudo install -D -m 0644 systemd/facegate.service $UNIT_DIR/facegate.service"
    step "sudo install -D -m 0644 hardware/99-facegate.rules $UDEV_RULES"
    if [ "$DRY_RUN" = 1 ] || [ -d /run/systemd/system ]; then
        step "sudo udevadm control --reload && sudo udevadm trigger"
        step "sudo systemctl daemon-reload"
        enable_gate
    elif command -v systemctl >/dev/null; then
        [ "$OFFICE" = 1 ] || say "systemd is not running here (a container or chroot): the unit is enabled for the next boot"
        enable_gate
    else
        say "systemd is not installed here: $UNIT_DIR/facegate.service is in place, not enabled"
    fi
}

# The gate daemon starts at boot, except on an office node: it drives no door (its
# facegate.yaml is the office's store and embedder); the unit is there for a Pi that is both.
enable_gate() {
    if [ "$OFFICE" = 0 ]; then
        step "sudo systemctl enable facegate.service"
        return
    fi
    note "an office node drives no door: facegate.service is installed, not enabled (a Pi that is also a gate: systemctl enable --now facegate)"
    [ "$DRY_RUN" = 0 ] || return 0
    if systemctl is-enabled --quiet facegate.service 2>/dev/null; then
        say "facegate.service is enabled here (an earlier install, or this office is also a gate): systemctl disable --now facegate, unless this Pi drives a door"
    else
        say "an office node drives no door: facegate.service is installed, not enabled"
    fi
}

install_web() {
    [ "$WEB" = 1 ] || return 0
    note "the web console: its own user (no keys, no database: the admin socket only), its folder, a self-signed certificate, the unit"
    step "id -u $WEB_USER >/dev/null 2>&1 || sudo useradd --system --user-group --home-dir $WEB_STATE_DIR --no-create-home --shell /usr/sbin/nologin --comment 'facegate web console' $WEB_USER"
    step "sudo usermod --append --groups $ADMIN_GROUP,$SERVICE_USER $WEB_USER"
    step "sudo install -d -m 0700 -o $WEB_USER -g $WEB_USER $WEB_STATE_DIR"
    step "sudo test -e $WEB_STATE_DIR/tls/cert.pem || sudo -u $WEB_USER env HOME=$WEB_STATE_DIR $VENV/bin/facegate web cert --name \"\$(hostname)\" --name localhost"
    step "sudo install -D -m 0644 systemd/facegate-web.service $UNIT_DIR/facegate-web.service"
    if [ "$DRY_RUN" = 1 ] || command -v systemctl >/dev/null; then
        step "sudo systemctl enable facegate-web.service"
    fi
}

install_office() {
    [ "$OFFICE" = 1 ] || return 0
    note "a compound's office node: the unit of \`facegate compound serve\` (it starts once \`compound init\` made $STATE_DIR/compound)"
    step "sudo install -D -m 0644 systemd/facegate-compound.service $UNIT_DIR/facegate-compound.service"
    note "no daemon applies the retention periods to the office's store: a daily timer does"
    step "sudo install -D -m 0644 systemd/facegate-retention.service $UNIT_DIR/facegate-retention.service"
    step "sudo install -D -m 0644 systemd/facegate-retention.timer $UNIT_DIR/facegate-retention.timer"
    if [ "$DRY_RUN" = 1 ] || command -v systemctl >/dev/null; then
        step "sudo systemctl enable facegate-compound.service"
        step "sudo systemctl enable facegate-retention.timer"
    fi
}

next_steps() {
    local start="  4. Start:                  systemctl start facegate && journalctl -fu facegate"
    if [ "$OFFICE" = 1 ]; then
        start="  4. An office node drives no door: facegate.service is not enabled (and need not run);
     facegate-retention.timer applies the retention periods daily: systemctl start facegate-retention.timer
     A Pi that is also a gate: systemctl enable --now facegate && journalctl -fu facegate"
    fi
    cat <<STEPS

facegate is installed (not started).  Next:
  1. Edit $CONFIG: site, notice, purpose, doors (see $PREFIX/hardware/pinmap.yaml)
     and check it:           facegate config check $CONFIG
  2. Back up the master key $KEY_FILE offline (without it templates cannot be read).
     Admin commands run with sudo find it there, as the daemon finds its systemd credential.
  3. Give admins the role:   usermod -aG $ADMIN_GROUP <user>   (log in again afterwards)
$start
  5. Print the notice sign:  facegate notice render
  6. Check the audit trail:  facegate audit verify
STEPS
    if [ "$OFFICE" = 1 ]; then
        cat <<STEPS
  Office node: facegate compound init --name NAME --listen LAN-ADDRESS --broker-dir /etc/mosquitto/facegate
     then the owners and Mosquitto's conf.d (README "Compound", step 1) and: systemctl start facegate-compound
     enrol with: sudo facegate enroll -c $CONFIG ... --scope GATE,GATE; then sudo facegate compound send p-... -c $CONFIG
STEPS
    fi
    [ "$WEB" = 1 ] || return 0
    cat <<STEPS
  7. Web console: a first account   sudo -u $WEB_USER $VENV/bin/facegate web user add NAME --role admin
     listen on the LAN address      systemctl edit facegate-web  ([Service] Environment=FACEGATE_WEB_LISTEN=192.168.1.10:8443)
     start                          systemctl start facegate-web  (https://$(hostname):8443)
STEPS
    if [ "$OFFICE" = 1 ]; then
        cat <<STEPS
     (the console reaches people only through a running daemon's admin socket; an office node
     that runs no daemon enrols at the command line, as above)
STEPS
    fi
}

uninstall() {
    say "removing the service, udev rules and program (data in $STATE_DIR is kept)"
    if command -v systemctl >/dev/null && systemctl list-unit-files facegate.service >/dev/null 2>&1; then
        systemctl disable --now facegate.service 2>/dev/null || true
    fi
    local unit
    for unit in facegate-web.service facegate-compound.service facegate-retention.timer; do
        if command -v systemctl >/dev/null && systemctl list-unit-files "$unit" >/dev/null 2>&1; then
            systemctl disable --now "$unit" 2>/dev/null || true
        fi
    done
    rm -f "$UNIT_DIR/facegate.service" "$UNIT_DIR/facegate-web.service" "$UNIT_DIR/facegate-compound.service" \
        "$UNIT_DIR/facegate-retention.service" "$UNIT_DIR/facegate-retention.timer" "$UDEV_RULES" /usr/local/bin/facegate
    rm -rf "$PREFIX"
    if command -v systemctl >/dev/null; then
        systemctl daemon-reload 2>/dev/null || true
    fi
    if [ "$PURGE" = 0 ]; then
        say "kept: $STATE_DIR (templates, audit log), $CONF_DIR, $KEY_FILE, $WEB_STATE_DIR (console accounts), users $SERVICE_USER and $WEB_USER"
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
    rm -rf "$STATE_DIR" "$CONF_DIR" "$WEB_STATE_DIR"
    rm -f "$KEY_FILE"
    local u g
    for u in "$WEB_USER" "$SERVICE_USER"; do
        if id -u "$u" >/dev/null 2>&1; then
            userdel "$u" || true
        fi
    done
    for g in "$WEB_USER" "$SERVICE_USER" "$ADMIN_GROUP"; do
        if getent group "$g" >/dev/null; then
            groupdel "$g" || true
        fi
    done
    say "purged"
}

main() {
    parse_args "$@"
    if [ "$ACTION" = check-os ]; then
        check_os
        return
    fi
    if [ "$DRY_RUN" = 0 ]; then
        require_root "$@"
    fi
    if [ "$ACTION" = uninstall ]; then
        uninstall
        return
    fi
    [ -f "$SRC/pyproject.toml" ] || die "no pyproject.toml in $SRC (use --source)"
    cd "$SRC"
    if [ "$DRY_RUN" = 0 ]; then
        BUILD="$(mktemp -d /tmp/facegate-build.XXXXXX)"
        trap 'rm -rf "$BUILD"' EXIT
    fi
    check_os
    decide_camera
    install_packages
    create_accounts
    create_dirs
    install_program
    install_models
    create_key
    install_units
    install_web
    install_office
    if [ "$DRY_RUN" = 0 ]; then
        next_steps
    fi
}

# Sourced (the tests call next_steps), it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
