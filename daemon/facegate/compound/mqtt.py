"""One MQTT connection to the compound's broker: TLS with the device's certificate, a
persistent session (QoS 1 messages for an offline device wait at the broker), reconnection in
the background (paho's own network thread)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

__all__ = ["Endpoint", "make_client"]


@dataclass(slots=True, frozen=True)
class Endpoint:
    """Where the broker is and what this device shows it."""

    device: str
    host: str
    port: int
    ca: Path
    cert: Path
    key: Path
    keepalive_s: int = 30
    client_id: str | None = None  # default: the device id
    clean: bool = False  # a one-off command's connection: no session kept at the broker


def make_client(endpoint: Endpoint) -> mqtt.Client:
    """A client for ``endpoint`` (not yet connected): the device id is its client id, so the
    broker keeps its session (``clean_session`` off) across restarts."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=endpoint.client_id or endpoint.device,
        clean_session=endpoint.clean,
        protocol=mqtt.MQTTv311,
        reconnect_on_failure=True,
    )
    client.tls_set(
        ca_certs=str(endpoint.ca),
        certfile=str(endpoint.cert),
        keyfile=str(endpoint.key),
        cert_reqs=ssl.CERT_REQUIRED,
        tls_version=ssl.PROTOCOL_TLS_CLIENT,
    )
    client.reconnect_delay_set(min_delay=1, max_delay=30)
    client.max_inflight_messages_set(100)
    client.max_queued_messages_set(0)
    return client
