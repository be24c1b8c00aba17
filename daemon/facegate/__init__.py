"""facegate: an on-device access-gate daemon (face, PIN and card) for a Raspberry Pi."""

__version__ = "0.1.0"
