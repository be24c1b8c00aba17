"""``facegate compound …``: set up a compound of gates and an office; send, withdraw, show.

Office node: ``init`` (the CA, the broker's files), ``admit`` (a gate's join request → its
grant), ``send`` (a person enrolled on the office → the gates their consent names; withdrawn,
with receipts, from gates it no longer names), ``withdraw`` (→ signed receipts from every
gate), ``status``, ``serve`` (the office's long-running connection: events, answers,
catch-up). Gate: ``join`` (the request; keys made here, only public ones in it), ``install``
(the grant).
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path
from typing import Any

from ..errors import ConfigError, FacegateError
from .common import EXIT_OK, add_config_arg, console, daemon_client, load, open_configured_store

__all__ = ["add_compound_parsers"]

DEFAULT_DIR = Path("/var/lib/facegate/compound")


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except ValueError:
        raise ConfigError(f"{path}: not a {what} (not JSON)") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: not a {what}")
    return value


def _write_json(path: Path, value: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror})") from None


def _gate_section(args: argparse.Namespace) -> tuple[Any, Path]:
    cfg = load(args.config)
    if cfg.compound is None:
        raise ConfigError(f"{args.config}: no `compound:` section (name, device, broker)")
    return cfg, cfg.compound.dir or cfg.store.state_dir / "compound"


def cmd_init(args: argparse.Namespace) -> int:
    from ..compound.setup import init_office

    settings = init_office(
        args.dir,
        args.name,
        args.listen,
        args.port,
        home_assistant=args.home_assistant,
        allow_any_address=args.any_address,
        broker_dir=args.broker_dir,
    )
    broker = Path(settings["broker_dir"])
    out = console()
    out.print(f"compound {settings['compound']}: CA and office keys in {args.dir}")
    out.print(
        f"broker files in {broker} (TLS on {settings['address']}:{settings['port']},"
        " client certificates required, ACL per device)",
        markup=False,
    )
    if args.home_assistant:
        out.print(
            f"Home Assistant's client certificate, key and CA in {args.dir / 'homeassistant'} "
            "(give them to its MQTT integration; only this identity may send unlock commands)",
            markup=False,
        )
    out.print(
        f"next: chown -R mosquitto: {broker}; ln -s {broker / 'facegate.conf'} "
        "/etc/mosquitto/conf.d/; systemctl restart mosquitto; then on each gate "
        "`facegate compound join`",
        markup=False,
    )
    return EXIT_OK


def cmd_join(args: argparse.Namespace) -> int:
    from ..compound.apply import GateKeys
    from ..compound.setup import join_request

    cfg, folder = _gate_section(args)
    if daemon_client(cfg) is not None:
        raise FacegateError("stop the daemon first: joining makes keys in its store")
    with open_configured_store(cfg) as store:
        request = join_request(
            folder, cfg.compound.device, cfg.compound.name, GateKeys.from_store(store)
        )
    _write_json(args.out, request)
    console().print(
        f"join request of {request['device']} written to {args.out} (public keys only); "
        "hand it to the office: `facegate compound admit`",
        markup=False,
    )
    return EXIT_OK


def cmd_admit(args: argparse.Namespace) -> int:
    from ..compound.pki import fingerprint
    from ..compound.setup import admit

    grant = admit(args.dir, _read_json(args.request, "join request"))
    _write_json(args.out, grant)
    console().print(
        f"{grant['device']} admitted (certificate {fingerprint(grant['cert'].encode())[:16]}…); "
        f"grant written to {args.out}: on the gate, `facegate compound install {args.out.name}`",
        markup=False,
    )
    return EXIT_OK


def cmd_install(args: argparse.Namespace) -> int:
    from ..compound.setup import install_grant

    cfg, folder = _gate_section(args)
    install_grant(folder, _read_json(args.grant, "grant"), cfg.compound.device)
    console().print(
        f"grant installed in {folder}; restart the daemon (or send SIGHUP) to connect",
        markup=False,
    )
    return EXIT_OK


def _office(args: argparse.Namespace) -> Any:
    from ..compound.office import Office

    office = Office(args.dir, one_off=True)
    if not office.start(args.connect_s):
        office.stop()
        raise FacegateError("the compound broker did not accept the office (is it running?)")
    return office


def cmd_send(args: argparse.Namespace) -> int:
    from ..compound.office_store import bundle_from_store

    cfg = load(args.config)
    with open_configured_store(cfg) as store:
        bundle, gates = bundle_from_store(store, args.id)
    office = _office(args)
    try:
        sent = office.send(args.id, bundle)
        changes = {**sent.enrolled, **sent.dropped}
        office.wait(
            lambda: all(office.registry.answered(g, s) for g, s in changes.items()), args.wait
        )
        answers = {g: office.registry.answer(g, s) for g, s in sent.enrolled.items()}
        dropped = office.drop_status(args.id) if sent.dropped else None
    finally:
        office.stop()
    done = [g for g, a in answers.items() if a is not None and a[0] in ("applied", "duplicate")]
    out = console()
    out.print(
        f"{args.id} sent to {len(sent.enrolled)} gates ({', '.join(gates)}); applied at "
        f"{len(done)} of {len(sent.enrolled)} so far (the others apply it when they next "
        "connect)",
        markup=False,
    )
    for gate, answer in answers.items():
        if answer is not None and answer[0] == "refused":
            reason = json.loads(answer[1])["body"].get("reason", "")
            out.print(f"  {gate}: refused ({reason})", markup=False)
    if dropped is not None:
        out.print(
            f"{args.id}: no longer in the consent's scope at {', '.join(dropped.gates)}; "
            "withdrawn there",
            markup=False,
        )
        _show_receipts(dropped, args.receipts, args.id)
    return EXIT_OK


def cmd_withdraw(args: argparse.Namespace) -> int:
    office = _office(args)
    try:
        sent = office.withdraw(args.id, delete=args.delete)
        if not sent:
            raise FacegateError(f"{args.id} was never sent to a gate of this compound")
        office.wait(
            lambda: len(office.deletion_status(args.id, delete=args.delete).deleted) == len(sent),
            args.wait,
        )
        status = office.deletion_status(args.id, delete=args.delete)
    finally:
        office.stop()
    _show_receipts(status, args.receipts, args.id)
    return EXIT_OK


def _show_receipts(status: Any, folder: Path | None, pseudonym: str) -> None:
    out = console()
    out.print(f"{pseudonym}: {status.line()}", markup=False)
    for gate in status.gates:
        mark = "receipt (signed)" if gate in status.receipts else "waiting"
        out.print(f"  {gate}: {mark}", markup=False)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for gate, receipt in status.receipts.items():
            _write_json(folder / f"{pseudonym}-{gate}.json", receipt)
        out.print(
            f"receipts in {folder} (each verifies with `facegate receipt verify F --pub` and "
            "that gate's verify.pub)",
            markup=False,
        )


def _show_person(registry: Any, pseudonym: str, delete: bool) -> None:
    """Where the person was sent; their withdrawal (or deletion) everywhere, if sent; the
    gates their consent no longer names, with the receipts of those withdrawals."""
    from ..compound.office import deletion_status, drop_status

    latest = registry.latest(pseudonym)
    if not latest:
        raise FacegateError(f"{pseudonym} was never sent to a gate of this compound")
    sent = {g: seq for g, (seq, kind, _d) in latest.items() if kind == "enrol"}
    if sent:
        states = []
        for gate, seq in sent.items():
            answer = registry.answer(gate, seq)
            states.append(f"{gate} ({'waiting' if answer is None else answer[0]})")
        console().print(f"{pseudonym}: sent to {', '.join(states)}", markup=False)
    if delete or any(k != "enrol" and not d for _s, k, d in latest.values()):
        _show_receipts(deletion_status(registry, pseudonym, delete=delete), None, pseudonym)
    dropped = drop_status(registry, pseudonym)
    if dropped.gates and not delete:
        _show_receipts(dropped, None, pseudonym)


def cmd_status(args: argparse.Namespace) -> int:
    from ..compound.registry import Registry
    from ..compound.setup import office_settings

    settings = office_settings(args.dir)
    registry = Registry(args.dir / "registry.db")
    try:
        if args.id:
            _show_person(registry, args.id, args.delete)
            return EXIT_OK
        out = console()
        out.print(
            f"compound {settings['compound']} (broker {settings['address']}:{settings['port']})"
        )
        for gate, seq, unanswered, events in registry.overview():
            out.print(
                f"  {gate}: applied up to change {seq}, {unanswered} unanswered, {events} events",
                markup=False,
            )
    finally:
        registry.close()
    return EXIT_OK


def _event_days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days") from None
    if not 1 <= days <= 180:
        raise argparse.ArgumentTypeError("between 1 and 180 days (retention.event_days's bounds)")
    return days


def cmd_serve(args: argparse.Namespace) -> int:
    """The office's own connection, as a service: answers, events, a gate's catch-up."""
    from ..compound.office import Office

    office = Office(args.dir, event_days=args.event_days)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_a: stop.set())
    office.start(0)  # connects (and reconnects) in the background
    console().print(
        f"office serving compound {office.compound}: connecting to its broker in the "
        "background; Ctrl-C or SIGTERM stops",
        markup=False,
    )
    try:
        stop.wait()
    finally:
        office.stop()
    return EXIT_OK


def add_compound_parsers(sub: Any) -> None:
    p = sub.add_parser("compound", help="many gates and one office over the compound's broker")
    csub = p.add_subparsers(dest="compound_command", metavar="ACTION", required=True)

    def office_dir(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--dir",
            type=Path,
            default=DEFAULT_DIR,
            help="the office's compound folder (default: %(default)s)",
        )

    def connect(q: argparse.ArgumentParser) -> None:
        q.add_argument(
            "--wait", type=float, default=10.0, help="seconds to wait for the gates' answers"
        )
        q.add_argument("--connect-s", type=float, default=10.0, help=argparse.SUPPRESS)

    q = csub.add_parser("init", help="office: make the compound CA, keys and broker configuration")
    office_dir(q)
    q.add_argument("--name", required=True, help="the compound's name (letters, digits, '-')")
    q.add_argument("--listen", required=True, help="the office node's LAN address for the broker")
    q.add_argument("--port", type=int, default=8883, help="the broker's TLS port (default 8883)")
    q.add_argument(
        "--broker-dir",
        type=Path,
        help="where the broker's files go (default: DIR/broker); on an office node "
        "/etc/mosquitto/facegate, which the mosquitto user can reach",
    )
    q.add_argument(
        "--home-assistant",
        action="store_true",
        help="allow a `homeassistant` client and issue its certificate",
    )
    q.add_argument(
        "--any-address", action="store_true", help="listen on 0.0.0.0 / :: (not advised)"
    )
    q.set_defaults(func=cmd_init)

    q = csub.add_parser("join", help="gate: make its keys and the request for the office")
    add_config_arg(q)
    q.add_argument("--out", type=Path, required=True, help="the request file to write")
    q.set_defaults(func=cmd_join)

    q = csub.add_parser("admit", help="office: sign a gate's request; write its grant")
    office_dir(q)
    q.add_argument("request", type=Path, help="the gate's join request")
    q.add_argument("--out", type=Path, required=True, help="the grant file to write")
    q.set_defaults(func=cmd_admit)

    q = csub.add_parser("install", help="gate: install the office's grant")
    add_config_arg(q)
    q.add_argument("grant", type=Path, help="the grant from `compound admit`")
    q.set_defaults(func=cmd_install)

    q = csub.add_parser("send", help="office: send a person to the gates their consent names")
    add_config_arg(q)
    office_dir(q)
    connect(q)
    q.add_argument("id", help="the person's pseudonym on the office node")
    q.add_argument(
        "--receipts",
        type=Path,
        help="write here the signed receipts of the gates the consent no longer names",
    )
    q.set_defaults(func=cmd_send)

    q = csub.add_parser("withdraw", help="office: withdraw (or delete) a person at every gate")
    office_dir(q)
    connect(q)
    q.add_argument("id", help="the person's pseudonym")
    q.add_argument("--delete", action="store_true", help="delete everything, not only the face")
    q.add_argument("--receipts", type=Path, help="write each gate's signed receipt here")
    q.set_defaults(func=cmd_withdraw)

    q = csub.add_parser("status", help="office: the gates, or a person's deletion receipts")
    office_dir(q)
    q.add_argument("id", nargs="?", help="a pseudonym: deleted at N of M gates")
    q.add_argument("--delete", action="store_true", help="with ID: the deletion, not withdrawal")
    q.set_defaults(func=cmd_status)

    q = csub.add_parser("serve", help="office: stay connected (answers, events, catch-up)")
    office_dir(q)
    q.add_argument(
        "--event-days",
        type=_event_days,
        default=90,
        help="delete the gates' events after this many days, as the gates' "
        "retention.event_days (1-180, default %(default)s)",
    )
    q.set_defaults(func=cmd_serve)
