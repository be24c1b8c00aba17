"""``facegate enroll`` through the running daemon's admin socket: templates computed here from
photos (``enroll``), or the face taken by the daemon from its own gate camera
(``enroll.camera``, operator role). Either way the daemon checks the form again, writes the
store, audits and is active at once; nothing is written here, and with the camera no image
leaves the daemon (only the pseudonym comes back)."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from ..errors import ConfigError
from .common import EXIT_ERROR, EXIT_REFUSED, console

__all__ = ["ask_secret", "camera_wait_s", "enroll_camera_via_daemon", "enroll_via_daemon"]

# ``enroll.camera`` takes 5-120 s (and the daemon's ``enrollment.timeout_s``, 5-600 s).
CAMERA_WAIT_MIN_S, CAMERA_WAIT_MAX_S = 5.0, 120.0
# After the wait the daemon still embeds the frames and writes the store: the socket waits
# this much longer before calling the daemon silent.
REPLY_MARGIN_S = 60.0


def ask_secret(prompt: str, *, twice: bool) -> str:
    import getpass

    if not sys.stdin.isatty():
        raise ConfigError(f"{prompt} must be typed at a terminal (never on the command line)")
    first = getpass.getpass(f"{prompt}: ")
    if twice and getpass.getpass("again: ") != first:
        raise ConfigError("the two entries differ; nothing was stored")
    return first


def _request(
    args: argparse.Namespace, cfg: Any, fields: dict[str, Any], expires: float | None
) -> tuple[dict[str, Any], str | None]:
    """The socket's ``enroll`` arguments from the person's fields, the PIN and card typed
    here (raw: the daemon hashes them with its device keys); and a generated PIN to show."""
    from ..policy.credentials import generate_pin
    from ..service.enrol_request import generated_pin_length

    pin: str | None = None
    shown = None
    if args.generate_pin:
        # The daemon refuses a PIN someone already has; a clash is very unlikely.
        shown = pin = generate_pin(generated_pin_length(cfg)).reveal().decode()
    elif args.pin:
        pin = ask_secret("PIN (digits)", twice=True)
    card = ask_secret("card (FACILITY:NUMBER, or its digits)", twice=False) if args.card else None
    request: dict[str, Any] = {
        **fields,
        "pin": pin,
        "card": card,
        "expires_at": expires,
        "allow_duplicate": bool(args.allow_duplicate),
    }
    return request, shown


def _report(reply: dict[str, Any], shown: str | None, source: str) -> int:
    out = console()
    out.print(
        f"enrolled {reply['person']} through the running daemon{source}: {reply['templates']} "
        f"template(s), {reply['credentials']} credential(s); it is active now"
    )
    for advice in reply.get("advice", ()):
        out.print(f"note: {advice}", markup=False)
    if shown is not None:
        out.print(f"generated PIN (tell the person; it is not shown again): {shown}")
    return 0


def enroll_via_daemon(
    client: Any,
    args: argparse.Namespace,
    cfg: Any,
    fields: dict[str, Any],
    templates: Any,
    space: str | None,
    expires: float | None,
) -> int:
    """Send the templates (none: PIN/card only) to the running daemon, which checks the
    enrolment again, writes it and reloads at once."""
    import base64

    request, shown = _request(args, cfg, fields, expires)
    if templates is not None:
        request["templates"] = [
            base64.b64encode(row.astype("<f4").tobytes()).decode("ascii") for row in templates
        ]
        request["space"] = space
    reply = client.call("enroll", **{k: v for k, v in request.items() if v not in (None, [])})
    return _report(reply, shown, "")


def camera_wait_s(cfg: Any) -> float:
    """How long the daemon waits for the face: ``enrollment.timeout_s``, within the
    5-120 s that ``enroll.camera`` accepts."""
    limit = float(cfg.enrollment.timeout_s)
    return min(max(limit, CAMERA_WAIT_MIN_S), CAMERA_WAIT_MAX_S, limit)


def enroll_camera_via_daemon(
    client: Any,
    args: argparse.Namespace,
    cfg: Any,
    fields: dict[str, Any],
    expires: float | None,
) -> int:
    """Ask the running daemon to take the face from its gate camera (``enroll.camera``) and
    wait for it, showing the time left; each refusal is one line on stderr (exit 3)."""
    from ..admin import AdminError

    request, shown = _request(args, cfg, fields, expires)  # typed before anyone waits
    wait = camera_wait_s(cfg)
    request["timeout_s"] = wait
    client.timeout_s = wait + REPLY_MARGIN_S
    out, err = console(), console(stderr=True)
    frames = cfg.enrollment.frames
    out.print(
        f"look at the gate camera: the daemon takes {frames} good, live frame(s) of the one "
        f"face in view (follow the gate's liveness prompts); waiting up to {wait:g} s",
        markup=False,
    )
    result: dict[str, Any] = {}

    def call() -> None:
        try:
            result["reply"] = client.call(
                "enroll.camera", **{k: v for k, v in request.items() if v is not None}
            )
        except Exception as exc:  # re-raised below, on the main thread
            result["error"] = exc

    worker = threading.Thread(target=call, name="enroll-camera", daemon=True)
    started = time.monotonic()
    worker.start()
    try:
        with out.status("look at the camera…") as status:
            while worker.is_alive():
                left = max(0.0, wait - (time.monotonic() - started))
                status.update(
                    f"look at the camera… ({left:.0f} s left)"
                    if left
                    else "waiting for the daemon's answer…"
                )
                worker.join(0.5)
    except KeyboardInterrupt:
        client.close()
        err.print(
            "interrupted: the daemon stops looking at the camera as it sees the request go "
            "(within a second); a capture that had just finished may still have enrolled: "
            "check `facegate person list`",
            markup=False,
        )
        raise
    finally:
        client.close()
    error = result.get("error")
    if isinstance(error, AdminError):
        return _refusal(err, error)
    if error is not None:
        raise error
    return _report(result["reply"], shown, " from the gate camera")


def _refusal(err: Any, exc: Any) -> int:
    """One line for the daemon's answer: a refusal (exit 3) or the daemon gone (exit 1)."""
    message = str(exc).removeprefix(f"{exc.code}: ")
    if exc.code in ("unreachable", "disconnected"):
        err.print(
            f"error: {message}; check `facegate person list` before trying again", markup=False
        )
        return EXIT_ERROR
    if exc.code == "unknown_command":
        message = (
            "the running daemon has no enroll.camera (an older version): stop it for a "
            "camera enrolment, or enrol from photos (--photo)"
        )
    elif exc.code == "forbidden":
        message = (
            f"{message} (an admin maps your uid or group to the operator role in the "
            "configuration's admin: section); nothing was stored"
        )
    err.print(f"refused: {message}", markup=False)
    return EXIT_REFUSED
