"""facegate: an on-device access-gate daemon (face, PIN and card) for a Raspberry Pi.

Nothing leaves the device. Dependencies that phone home unless told not to are told here,
before any of them is imported, in every command: onnxruntime's telemetry (DNS lookups of a
Microsoft events host and a device id under ``~/.cache/Microsoft``) and the usage pings some
libraries send. ``tests/test_no_egress.py`` runs the demo under ``strace`` and fails on any
IPv4/IPv6 socket.
"""

import os as _os

for _name, _value in (
    ("ORT_DISABLE_TELEMETRY", "1"),  # onnxruntime
    ("DO_NOT_TRACK", "1"),  # the common opt-out honoured by many libraries
    ("HF_HUB_OFFLINE", "1"),  # no model hub lookups, ever
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
):
    _os.environ[_name] = _value

__version__ = "0.1.0"
