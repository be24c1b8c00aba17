"""Setting a compound up: the office's folder, a gate's request to join, the office's grant.

1. ``init_office`` (office node): the compound CA, the broker's certificate for its LAN
   address, the office's own client certificate and signing key, ``mosquitto.conf`` and
   ``acl``; with Home Assistant, its client certificate and key (``homeassistant/``, the
   ACL's ``homeassistant`` user). The CA key never leaves this folder.
2. ``join_request`` (each gate): a TLS key made on the gate (kept in its compound folder,
   mode 0600), a certificate request, and the gate's X25519 and Ed25519 public keys (their
   private halves stay wrapped in the gate's store). Only public material is in the request.
3. ``admit`` (office): checks the request, signs the certificate, records the gate's public
   keys, and returns the grant: the certificate, the CA certificate, the office's public key.
4. ``install_grant`` (gate): writes them into the gate's compound folder.
"""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey, VerifyKey

from .apply import GateKeys
from .broker import (
    HA_USER,
    acl_text,
    check_listen_address,
    mosquitto_conf,
    mosquitto_include,
)
from .pki import (
    CompoundPkiError,
    Issued,
    check_device_id,
    fingerprint,
    new_ca,
    new_request,
    new_server_cert,
    sign_request,
)
from .registry import Registry

__all__ = ["admit", "init_office", "install_grant", "join_request", "office_settings"]

OFFICE = "office"


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".partial")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def init_office(
    folder: Path,
    compound: str,
    address: str,
    port: int = 8883,
    *,
    home_assistant: bool = False,
    allow_any_address: bool = False,
    broker_dir: Path | None = None,
) -> dict[str, Any]:
    """Create the office's compound folder; refuses one that already holds a CA.

    ``broker_dir``: where the broker's files go (default ``folder/broker``); on an office
    node, a folder the ``mosquitto`` user can reach (``/etc/mosquitto/facegate``), since
    Mosquitto drops root before it reads them and the office's folder is the service's."""
    check_device_id(compound)
    address = check_listen_address(address, allow_any=allow_any_address)
    if (folder / "ca.key").exists():
        raise CompoundPkiError(f"{folder} already holds a compound CA; refusing to replace it")
    ca = new_ca(compound)
    server = new_server_cert(ca, compound, address)
    office = new_request(OFFICE, compound)
    signing = SigningKey.generate()
    settings = {
        "compound": compound,
        "address": address,
        "port": port,
        "home_assistant": home_assistant,
        "broker_dir": str(broker_dir or folder / "broker"),
        "office_key": _b64(bytes(signing.verify_key)),
    }
    broker = broker_dir or folder / "broker"  # what mosquitto reads (its user must reach it)
    if (broker / "broker.key").exists():
        raise CompoundPkiError(f"{broker} already holds a broker key; refusing to replace it")
    _write(folder / "ca.key", ca.key_pem, private=True)
    _write(folder / "ca.crt", ca.cert_pem)
    _write(broker / "ca.crt", ca.cert_pem)
    _write(broker / "broker.key", server.key_pem, private=True)
    _write(broker / "broker.crt", server.cert_pem)
    _write(folder / "office.key", office.key_pem, private=True)
    _write(folder / "office.crt", sign_request(ca, office.cert_pem, OFFICE))
    _write(folder / "office-sign.key", bytes(signing).hex().encode(), private=True)
    _write(broker / "acl", acl_text(compound, home_assistant=home_assistant).encode())
    _write(broker / "mosquitto.conf", mosquitto_conf(broker, address, port).encode())
    _write(broker / "facegate.conf", mosquitto_include(broker, address, port).encode())
    if home_assistant:  # Home Assistant's MQTT client: its own certificate, the ACL's user
        ha = new_request(HA_USER, compound)
        _write(folder / HA_USER / "client.key", ha.key_pem, private=True)
        _write(folder / HA_USER / "client.crt", sign_request(ca, ha.cert_pem, HA_USER))
        _write(folder / HA_USER / "ca.crt", ca.cert_pem)
    _write(folder / "compound.json", json.dumps(settings, indent=2).encode())
    Registry(folder / "registry.db").close()
    return settings


def office_settings(folder: Path) -> dict[str, Any]:
    try:
        settings: dict[str, Any] = json.loads((folder / "compound.json").read_text())
    except FileNotFoundError:
        raise CompoundPkiError(
            f"{folder} is not an office's compound folder (run `facegate compound init`)"
        ) from None
    return settings


def office_signing_key(folder: Path) -> SigningKey:
    return SigningKey(bytes.fromhex((folder / "office-sign.key").read_text().strip()))


def join_request(folder: Path, device: str, compound: str, keys: GateKeys) -> dict[str, Any]:
    """On the gate: make its TLS key (kept here) and the request to hand to the office."""
    check_device_id(device)
    check_device_id(compound)
    if device in (OFFICE, HA_USER):
        raise CompoundPkiError(f"{device!r} is a reserved id; give the gate another")
    issued = new_request(device, compound)
    _write(folder / "device.key", issued.key_pem, private=True)
    return {
        "type": "facegate-compound-join",
        "device": device,
        "compound": compound,
        "csr": issued.cert_pem.decode("ascii"),
        "box_key": _b64(bytes(keys.box.public_key)),
        "sign_key": _b64(bytes(keys.signing.verify_key)),
    }


def admit(folder: Path, request: dict[str, Any]) -> dict[str, Any]:
    """On the office: sign a gate's request and record its public keys; the grant to return."""
    settings = office_settings(folder)
    try:
        device = check_device_id(str(request["device"]))
        if request.get("type") != "facegate-compound-join":
            raise CompoundPkiError("not a facegate compound join request")
        if request["compound"] != settings["compound"]:
            raise CompoundPkiError(
                f"the request is for compound {request['compound']!r}, this is "
                f"{settings['compound']!r}"
            )
        box_key, sign_key = str(request["box_key"]), str(request["sign_key"])
        if len(base64.b64decode(box_key, validate=True)) != 32:
            raise CompoundPkiError("the request's X25519 key is not 32 bytes")
        VerifyKey(base64.b64decode(sign_key, validate=True))
        csr = str(request["csr"]).encode("ascii")
    except CompoundPkiError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise CompoundPkiError(f"a malformed join request ({type(exc).__name__})") from None
    if device in (OFFICE, HA_USER):
        raise CompoundPkiError(f"{device!r} is a reserved id (the office, Home Assistant)")
    ca = Issued((folder / "ca.key").read_bytes(), (folder / "ca.crt").read_bytes())
    cert = sign_request(ca, csr, device)
    registry = Registry(folder / "registry.db")
    try:
        registry.add_gate(device, box_key, sign_key, fingerprint(cert), time.time())
    finally:
        registry.close()
    return {
        "type": "facegate-compound-grant",
        "device": device,
        "compound": settings["compound"],
        "cert": cert.decode("ascii"),
        "ca": ca.cert_pem.decode("ascii"),
        "office_key": settings["office_key"],
        "broker": {"address": settings["address"], "port": settings["port"]},
    }


def install_grant(folder: Path, grant: dict[str, Any], device: str) -> None:
    """On the gate: the office's grant into the gate's compound folder."""
    try:
        if grant.get("type") != "facegate-compound-grant" or grant["device"] != device:
            raise CompoundPkiError(f"this grant is not for device {device!r}")
        office = {"office_key": grant["office_key"], "compound": grant["compound"]}
        cert, ca = grant["cert"].encode("ascii"), grant["ca"].encode("ascii")
    except (KeyError, TypeError, AttributeError) as exc:
        raise CompoundPkiError(f"a malformed grant ({type(exc).__name__})") from None
    if not (folder / "device.key").exists():
        raise CompoundPkiError(f"no device key in {folder}: run `facegate compound join` first")
    _write(folder / "device.crt", cert)
    _write(folder / "ca.crt", ca)
    _write(folder / "office.json", json.dumps(office, indent=2).encode())
