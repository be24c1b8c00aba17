"""The compound's broker: Mosquitto's configuration and ACL, and a runner for tests and the demo.

The broker is Debian's ``mosquitto``. It listens with TLS only, on the one LAN address the
operator gives (never on every interface unless asked), asks every client for a certificate of
the compound's CA and takes the certificate's common name as the user name, which the ACL uses
to keep each gate to its own topics::

    office   writes facegate/<c>/+/changes and +/received, reads +/acks and +/events
    a gate   reads its own .../changes and .../received, writes its own .../acks, .../events,
             .../ha/… and its Home Assistant discovery topics, reads its doors' unlock commands
    homeassistant (optional)  reads the doors' states and discovery, writes unlock commands
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from ..errors import ConfigError, FacegateError

__all__ = [
    "BrokerError",
    "BrokerProcess",
    "acl_text",
    "check_listen_address",
    "find_mosquitto",
    "mosquitto_conf",
    "mosquitto_include",
]

HA_USER = "homeassistant"
OFFICE_USER = "office"


class BrokerError(FacegateError):
    """The broker cannot be configured or started."""


def find_mosquitto() -> str | None:
    """The mosquitto binary (Debian puts it in /usr/sbin, often not on a user's PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def check_listen_address(address: str, *, allow_any: bool = False) -> str:
    """The LAN address to listen on; every interface (0.0.0.0, ::) only when asked."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise ConfigError(f"listen address {address!r} is not an IP address") from None
    if ip.is_unspecified and not allow_any:
        raise ConfigError(
            f"listen address {address}: the broker would listen on every interface; give the "
            "office node's LAN address (the compound's data stays in the compound, Art. 8)"
        )
    return str(ip)


def acl_text(compound: str, *, home_assistant: bool) -> str:
    base = f"facegate/{compound}"
    lines = [
        "# facegate compound ACL: written by `facegate compound init`; each device is its",
        "# certificate's common name (use_identity_as_username).",
        f"user {OFFICE_USER}",
        f"topic write {base}/+/changes",
        f"topic read {base}/+/acks",
        f"topic read {base}/+/events",
        f"topic write {base}/+/received",
        "",
    ]
    if home_assistant:
        lines += [
            f"user {HA_USER}",
            "topic read homeassistant/#",
            f"topic read {base}/+/ha/#",
            f"topic write {base}/+/ha/+/unlock",
            "",
        ]
    lines += [
        "# every other user is a gate, and only ever on its own topics",
        f"pattern read {base}/%u/changes",
        f"pattern read {base}/%u/received",
        f"pattern write {base}/%u/acks",
        f"pattern write {base}/%u/events",
        f"pattern write {base}/%u/ha/+/state",
        f"pattern write {base}/%u/ha/+/alarm/+",
        f"pattern write {base}/%u/ha/+/counter/+",
        f"pattern write {base}/%u/ha/availability",
        f"pattern read {base}/%u/ha/+/unlock",
        "pattern write homeassistant/+/%u/#",
        "",
    ]
    return "\n".join(lines)


def mosquitto_include(folder: Path, address: str, port: int) -> str:
    """The compound's listener for a system Mosquitto: ``facegate.conf``, for
    ``/etc/mosquitto/conf.d/`` (Debian's own ``mosquitto.conf`` sets the pid file,
    persistence and logging, which may appear only once). The paths are ``folder``'s: the
    broker's files (the CA certificate, the broker's key and certificate, the ACL; never the
    CA's key), where the ``mosquitto`` user can read them."""
    lines = [
        "# facegate compound broker (written by `facegate compound init`)",
        "per_listener_settings false",
        "allow_anonymous false",
        f"acl_file {folder / 'acl'}",
        "max_queued_messages 100000",
        "",
        f"listener {port} {address}",
        "protocol mqtt",
        f"cafile {folder / 'ca.crt'}",
        f"certfile {folder / 'broker.crt'}",
        f"keyfile {folder / 'broker.key'}",
        "tls_version tlsv1.2",
        "require_certificate true",
        "use_identity_as_username true",
        "",
    ]
    return "\n".join(lines)


def mosquitto_conf(folder: Path, address: str, port: int, *, persistence: bool = True) -> str:
    """A whole mosquitto.conf around :func:`mosquitto_include` (a broker run on its own: the
    tests, the demo, the scale measurement), with persistence in ``folder``."""
    lines = [
        f"persistence {'true' if persistence else 'false'}",
        f"persistence_location {folder / 'persistence'}/",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
    return mosquitto_include(folder, address, port) + "\n".join(lines) + "\n"


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


class BrokerProcess:
    """Mosquitto as a child process (tests, the demo, the scale measurement)."""

    def __init__(self, conf: Path, address: str, port: int) -> None:
        self.conf, self.address, self.port = conf, address, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        binary = find_mosquitto()
        if binary is None:
            raise BrokerError("mosquitto is not installed (apt install mosquitto)")
        (self.conf.parent / "persistence").mkdir(exist_ok=True)
        conf = self.conf
        if os.geteuid() == 0:  # as root, mosquitto would drop to its own user: stay ours
            conf = self.conf.with_name("mosquitto-run.conf")
            conf.write_text(self.conf.read_text() + "\nuser root\n")
        log = (self.conf.parent / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(f"mosquitto exited with {self.proc.returncode}")
            try:
                with socket.create_connection((self.address, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on {self.address}:{self.port}")

    def stop(self) -> None:
        """Terminate (as a service stop would); a kill after 5 s."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL: a broker that dies without a goodbye."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None
