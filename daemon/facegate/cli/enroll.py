"""``facegate enroll``: a person's face (photos or camera) with their separate consent, and/or
a PIN or card. Through the running daemon when it answers, else into the store directly."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .common import (
    EXIT_REFUSED,
    add_config_arg,
    audit_direct,
    console,
    daemon_client,
    load,
    open_configured_store,
)
from .enroll_daemon import ask_secret as _ask_secret

if TYPE_CHECKING:
    from ..service.enrol_request import EnrolmentForm, EnrolmentRequest

__all__ = ["add_enroll_parser"]


def _date(value: str) -> float:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2027-06-30") from None
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC).timestamp()


def _fields(args: argparse.Namespace) -> dict[str, Any]:
    """The person's fields, named as the admin socket's ``enroll`` takes them."""
    return {
        "name": args.name,
        "unit": args.unit,
        "phone": args.phone,
        "birth_year": args.birth_year,
        "minor": args.minor,
        "consent_method": args.consent_method,
        "notice_version": args.notice_version,
        "taken_by": args.taken_by,
        "scope": args.scope,
        "guardian_name": args.guardian_name,
        "guardian_relation": args.guardian_relation,
        "guardian_method": args.guardian_consent_method,
        "expires_at": args.expires,
        "valid_until": args.valid_until,
        "adult": args.adult,
        "consent_ref": args.consent_ref,
    }


def _form(args: argparse.Namespace, *, face: bool) -> EnrolmentForm:
    from ..service.enrol_request import EnrolmentForm

    wants = bool(args.pin or args.generate_pin or args.card)
    return EnrolmentForm.of(_fields(args), face=face, credentials=wants)


def _credentials(
    args: argparse.Namespace, store: Any, cfg: Any
) -> tuple[tuple[Any, ...], str | None]:
    """Hash the PIN and card given interactively; returns them and a generated PIN to show."""
    from ..policy.credentials import Pin
    from ..service.enrol_request import card_input, pin_input, taken_pin_tags, unique_pin
    from ..store.credential_keys import credential_keys

    keys = credential_keys(store)
    taken = taken_pin_tags(store)
    creds: list[Any] = []
    shown: str | None = None
    if args.pin or args.generate_pin:
        if args.generate_pin:
            pin = unique_pin(cfg, keys, taken)
            shown = pin.reveal().decode()
        else:
            pin = Pin(_ask_secret("PIN (digits)", twice=True))
        creds.append(pin_input(keys, taken, pin, args.valid_until))
    if args.card:
        card = _ask_secret("card (FACILITY:NUMBER, or its digits)", twice=False)
        creds.append(card_input(keys, card, args.valid_until))
    return tuple(creds), shown


def cmd_enroll(args: argparse.Namespace) -> int:
    from ..clock import SystemClock
    from ..recognition import FacePipeline
    from ..recognition.enrollment import (
        capture_templates,
        find_enrolled,
        shred,
        templates_from_photos,
    )
    from ..service.enrol_request import EnrolmentRefused, assemble_enrolment

    _check_photo_paths(args.photo)  # before loading anything: a typo fails at once
    cfg = load(args.config)
    out = console()
    clock = SystemClock()
    face_wanted = bool(args.photo) or args.camera
    if args.replace is not None:
        _check_replace(args, cfg, face_wanted)
    try:
        request = assemble_enrolment(_form(args, face=face_wanted), cfg, clock.time())
    except EnrolmentRefused as exc:
        out.print(f"refused: {exc}")
        return EXIT_REFUSED
    if not face_wanted:
        return _enroll_without_face(args, cfg, request)

    client = daemon_client(cfg)
    if client is not None and args.camera:  # the daemon holds the camera: it takes the face
        from .enroll_daemon import enroll_camera_via_daemon

        return enroll_camera_via_daemon(client, args, cfg, _fields(args), request.expires_at)
    pipeline = FacePipeline(cfg)
    if args.camera:
        from ..capture import make_camera

        camera = make_camera(cfg.camera)
        camera.open()
        try:
            with out.status("look at the camera…") as status:

                def guide(message: str, frames: int) -> None:
                    status.update(f"{message}  ({frames}/{cfg.enrollment.frames} frames)")

                templates = capture_templates(
                    pipeline, camera, cfg.enrollment, clock=clock, on_status=guide
                )
        finally:
            camera.close()
        out.print(f"captured {len(templates)} good frames (held in memory only)")
    else:
        found, outcomes = templates_from_photos(pipeline, args.photo)
        for outcome in outcomes:
            mark = "[green]used[/]" if outcome.ok else f"[red]skipped[/] ({outcome.reason})"
            out.print(f"  {outcome.path}: {mark}")
        if found is None:
            out.print("error: no usable face in the photos given; nothing was stored")
            return 1
        templates = found

    expires = request.expires_at
    assert expires is not None  # a face always has one
    if client is not None:
        from .enroll_daemon import enroll_via_daemon

        return enroll_via_daemon(
            client, args, cfg, _fields(args), templates, pipeline.space, expires
        )
    until = dt.datetime.fromtimestamp(expires, dt.UTC).date().isoformat()
    with open_configured_store(cfg) as store:
        if not args.allow_duplicate:
            same = find_enrolled(pipeline, store.iter_templates(pipeline.space), templates)
            if same is not None and same[0] != args.replace:
                err = console(stderr=True)
                err.print(duplicate_message(same), markup=False)
                return EXIT_REFUSED
        if args.replace is not None:
            _replace(args, cfg, store, request, templates, pipeline.space, until)
            shown_pin = None
        else:
            credentials, shown_pin = _credentials(args, store, cfg)
            enrolled = request.enroll(
                store, credentials=credentials, templates=templates, space=pipeline.space
            )
            audit_direct(cfg, store, "consent", enrolled.pseudonym)  # as the daemon would
            out.print(
                f"enrolled {enrolled.pseudonym}: consent {enrolled.consent_id}, "
                f"{enrolled.templates} template(s) sealed, face kept until {until}"
                + (" (guardian consent recorded)" if request.guardian else "")
            )
    if shown_pin is not None:
        out.print(f"generated PIN (tell the person; it is not shown again): {shown_pin}")
    for advice in request.advice:
        out.print(f"note: {advice}", markup=False)
    if args.photo:
        if args.shred_photos:
            for path in args.photo:
                if path.exists():
                    shred(path)
            out.print(
                "the photo files were overwritten and deleted (on SD cards and SSDs the "
                "storage may still hold old copies of their blocks)"
            )
        else:
            out.print(
                "facegate did not copy the photos; the files are still where you left them "
                "(use --shred-photos to overwrite and delete them)"
            )
    out.print(_LOADED_AT_START)
    return 0


def _check_replace(args: argparse.Namespace, cfg: Any, face_wanted: bool) -> None:
    """``--replace``: new photos for a person already enrolled, before any model loads."""
    if not face_wanted:
        raise ConfigError("--replace needs the new face: --photo or --camera")
    extra = [
        flag
        for flag, given in (
            ("--name", args.name),
            ("--unit", args.unit),
            ("--phone", args.phone),
            ("--pin", args.pin or args.generate_pin),
            ("--card", args.card),
            ("--valid-until", args.valid_until),
        )
        if given
    ]
    if extra:
        raise ConfigError(
            f"--replace changes only the face and its consent, not {', '.join(extra)} "
            "(`facegate person correct` corrects the rest)"
        )
    if daemon_client(cfg) is not None:
        raise ConfigError("--replace writes the store itself: stop the daemon first")


def _replace(
    args: argparse.Namespace,
    cfg: Any,
    store: Any,
    request: Any,
    templates: Any,
    space: str,
    until: str,
) -> None:
    from ..store.face_update import replace_face

    deleted, stored = replace_face(
        store,
        args.replace,
        consent=request.consent,
        templates=templates,
        space=space,
        expires_at=request.expires_at,
        minor=request.minor,
        guardian=request.guardian,
    )
    audit_direct(cfg, store, "consent", args.replace)
    console().print(
        f"{args.replace}: face replaced ({deleted} old template(s) deleted, {stored} sealed "
        f"under the new consent), kept until {until}; on a compound's office node, "
        f"`facegate compound send {args.replace}` replaces it at the gates",
        markup=False,
    )


# This path writes the store only when no daemon answers on the admin socket (with one
# running, enrolments go through it and are active at once), so nothing needs a restart.
_LOADED_AT_START = "the daemon is not running; it loads the new person when it starts"


def _check_photo_paths(photos: list[Path]) -> None:
    """Every photo exists, is a regular file and is readable, before any model is loaded.

    Raises:
        ConfigError: the first photo that is not (exit 2, with its path).
    """
    import os
    import stat

    for path in photos:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such photo") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the photo ({exc.strerror})") from None
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{path}: not a regular file (a photo must be an image file)")
        if not os.access(path, os.R_OK):
            raise ConfigError(f"{path}: permission denied (cannot read the photo)")


def duplicate_message(match: tuple[str, float]) -> str:
    return (
        f"refused: this face matches {match[0]}, already enrolled (score {match[1]:.3f}); "
        f"nothing was stored. Check `facegate person list`; enrol anyway with "
        f"--allow-duplicate (for example twins)"
    )


def _enroll_without_face(args: argparse.Namespace, cfg: Any, request: EnrolmentRequest) -> int:
    """PIN and/or card only: no face, so no biometric consent is needed (Art. 10)."""
    client = daemon_client(cfg)
    if client is not None:
        from .enroll_daemon import enroll_via_daemon

        return enroll_via_daemon(client, args, cfg, _fields(args), None, None, None)
    out = console()
    with open_configured_store(cfg) as store:
        credentials, shown_pin = _credentials(args, store, cfg)
        enrolled = request.enroll(store, credentials=credentials)
        audit_direct(cfg, store, "enrolment", enrolled.pseudonym)  # as the daemon would
    kinds = " and ".join(sorted({c.kind.upper() for c in credentials}))
    out.print(f"enrolled {enrolled.pseudonym} with {kinds} only (no face, nothing biometric)")
    if shown_pin is not None:
        out.print(f"generated PIN (tell the person; it is not shown again): {shown_pin}")
    if args.valid_until is not None:
        day = dt.datetime.fromtimestamp(args.valid_until, dt.UTC).date().isoformat()
        out.print(f"access ends on {day}")
    out.print(_LOADED_AT_START)
    return 0


def add_enroll_parser(sub: Any) -> None:
    p = sub.add_parser(
        "enroll",
        help="enrol a person's face (photos or camera) with their separate consent",
        description="Creates a pseudonymous person, records their separate consent (a "
        "guardian's for anyone who may be under 14), and stores sealed templates of several "
        "good images. Camera frames live in memory only; photo files are read, never copied. "
        "Name, unit and phone are optional and stored encrypted, apart from the templates. "
        "While the daemon runs, the enrolment goes through its admin socket (it checks the "
        "form again, writes the store and is active at once); with it stopped, this command "
        "writes the store itself and the daemon loads the person when it starts.",
    )
    add_config_arg(p)
    group = p.add_argument_group("face source (one of: --photo or --camera)")
    src = group.add_mutually_exclusive_group()
    src.add_argument(
        "--photo",
        type=Path,
        action="append",
        default=[],
        help="a photo of the person (repeat for several)",
    )
    src.add_argument(
        "--camera",
        action="store_true",
        help="take enrollment.frames good frames from the camera. Daemon stopped: this "
        "command opens the configured camera and guides the person here. Daemon running: it "
        "holds the camera, so it takes the frames itself (admin socket enroll.camera, operator "
        "role): one face alone in view, passing the door's liveness check (its prompts at the "
        "gate), within enrollment.timeout_s (at most 120 s); no image leaves the daemon",
    )
    who = p.add_argument_group("identity (optional, encrypted)")
    who.add_argument("--name", help="display name")
    who.add_argument("--unit", help="unit / apartment")
    who.add_argument("--phone", help="phone number")
    age = p.add_argument_group("age (asked explicitly for a face: one of these)")
    age.add_argument("--birth-year", type=int, help="birth year (decides guardian consent)")
    age.add_argument("--adult", action="store_true", help="the person attests they are 14 or older")
    age.add_argument(
        "--minor", action="store_true", help="the person is under 14 (a guardian consents)"
    )
    con = p.add_argument_group("consent (required for a face)")
    con.add_argument(
        "--consent-method",
        help="paper-form, e-signature or tablet-signature (print the form with "
        "`facegate person consent-form`)",
    )
    con.add_argument(
        "--notice-version",
        help="the notice posted now: `facegate notice hash` (full hash or the sign's short form)",
    )
    con.add_argument("--taken-by", help="id of the operator who took the consent")
    con.add_argument(
        "--consent-ref", help="number of the signed consent form, or the e-signature's id"
    )
    con.add_argument(
        "--scope",
        help="doors covered (default: all doors); on a compound's office node, the gates "
        "the person is sent to (gate-a,gate-b)",
    )
    gua = p.add_argument_group("guardian consent (required under 14)")
    gua.add_argument("--guardian-name", help="guardian's name (stored encrypted)")
    gua.add_argument("--guardian-relation", help="e.g. mother, father, legal guardian")
    gua.add_argument(
        "--guardian-consent-method", help="paper-form, e-signature or tablet-signature"
    )
    cred = p.add_argument_group("PIN and card (equal ways in; enough on their own)")
    cred.add_argument(
        "--pin", action="store_true", help="ask for a PIN (twice, hidden); store its Argon2id hash"
    )
    cred.add_argument(
        "--generate-pin", action="store_true", help="make a unique random PIN and show it once"
    )
    cred.add_argument(
        "--card", action="store_true", help="ask for the card (hidden); store its keyed hash"
    )
    p.add_argument(
        "--expires",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="delete the face on this date (default and longest: retention.template_days; "
        "never after --valid-until)",
    )
    p.add_argument(
        "--valid-until",
        type=_date,
        default=None,
        metavar="YYYY-MM-DD",
        help="the person's access ends on this date (visitors, tenants)",
    )
    p.add_argument(
        "--replace",
        metavar="ID",
        help="new photos of a person already enrolled (pseudonym ID): their templates and "
        "consent record are replaced in one transaction (daemon stopped; an office node's "
        "`compound send ID` then replaces them at the gates)",
    )
    p.add_argument(
        "--allow-duplicate",
        action="store_true",
        help="enrol even if the face matches someone already enrolled (twins); the check runs "
        "here with the daemon stopped, and in the daemon while it runs",
    )
    p.add_argument(
        "--shred-photos",
        action="store_true",
        help="overwrite and delete the photo files after enrolment",
    )
    p.set_defaults(func=cmd_enroll)
