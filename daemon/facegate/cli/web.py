"""``facegate-web`` (the web console) and ``facegate web user|cert`` (its accounts, its
certificate). The console itself lives in ``facegate.web``; this module only parses and prints."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .common import EXIT_OK, console, load

__all__ = ["add_web_parsers", "web_main"]

STATE = Path("/var/lib/facegate-web")
DEFAULT_ACCOUNTS = STATE / "accounts.json"
DEFAULT_CERT = STATE / "tls" / "cert.pem"
DEFAULT_KEY = STATE / "tls" / "key.pem"
DEFAULT_SOCKET = Path("/run/facegate/admin.sock")


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise argparse.ArgumentTypeError("give ADDRESS:PORT, e.g. 192.168.1.10:8443")
    return host.strip("[]"), int(port)


def cmd_serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from ..web import WebSettings, create_app

    for path, what in ((args.cert, "certificate"), (args.key, "key")):
        if not path.is_file():
            raise ConfigError(
                f"no TLS {what} at {path}: make one with `facegate web cert` or give --cert/--key"
            )
    socket = args.socket
    if socket is None:  # the configuration's admin.socket, else the daemon's default
        socket = load(args.config).admin.socket if args.config else DEFAULT_SOCKET
    settings = WebSettings(
        socket=socket, accounts=args.accounts, config=args.config, lang=args.lang
    )
    app = create_app(settings)
    if not app.state.console.accounts.all():
        console(stderr=True).print(
            "note: no console accounts yet; add one with `facegate web user add NAME --role admin`",
            markup=False,
        )
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO)
    host, port = args.listen
    uvicorn.run(
        app,
        host=host,
        port=port,
        ssl_certfile=str(args.cert),
        ssl_keyfile=str(args.key),
        http="h11",
        loop="asyncio",
        lifespan="off",
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=5,
        limit_concurrency=64,
        log_level="warning",
    )
    return EXIT_OK


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the two passwords differ; nothing was changed")
    return first


def _accounts(args: argparse.Namespace) -> Any:
    from ..web.accounts import AccountError, Accounts

    try:
        return Accounts(args.accounts)
    except AccountError as exc:
        raise ConfigError(str(exc)) from None


def cmd_user(args: argparse.Namespace) -> int:
    from ..web.accounts import AccountError, new_totp_secret

    accounts = _accounts(args)
    out = console()
    try:
        if args.user_command == "add":
            acc = accounts.add(args.name, args.role, _password(args))
            out.print(f"added {acc.name} ({acc.role}); audit records name it {acc.pseudonym}")
        elif args.user_command == "passwd":
            accounts.set_password(args.name, _password(args))
            out.print(f"new password set for {args.name}")
        elif args.user_command == "role":
            accounts.set_role(args.name, args.role)
            out.print(f"{args.name} is now {args.role}")
        elif args.user_command == "remove":
            accounts.remove(args.name)
            out.print(f"removed {args.name}")
        elif args.user_command == "totp":
            if args.off:
                accounts.set_totp(args.name, None)
                out.print(f"TOTP off for {args.name}")
            else:
                import pyotp

                secret = new_totp_secret()
                accounts.set_totp(args.name, secret)
                uri = pyotp.TOTP(secret).provisioning_uri(name=args.name, issuer_name="facegate")
                out.print(f"TOTP on for {args.name}; add it to an authenticator app:", markup=False)
                out.print(uri, markup=False)
        else:  # list
            for acc in accounts.all():
                totp = "totp" if acc.has_totp else "-"
                out.print(f"{acc.name:<20} {acc.role:<9} {totp:<5} {acc.pseudonym}", markup=False)
    except AccountError as exc:
        raise ConfigError(str(exc)) from None
    out.print("restart facegate-web for a removed user or a new role to end open sessions")
    return EXIT_OK


def cmd_cert(args: argparse.Namespace) -> int:
    from ..web.tls import make_self_signed

    try:
        cert, key = make_self_signed(args.cert, args.key, args.name)
    except FileExistsError as exc:
        raise ConfigError(str(exc)) from None
    console().print(f"wrote {cert} and {key} (self-signed for {', '.join(args.name)})")
    return EXIT_OK


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--accounts", type=Path, default=DEFAULT_ACCOUNTS, help=f"default {DEFAULT_ACCOUNTS}"
    )


def add_web_parsers(sub: Any) -> None:
    """``facegate web serve|user|cert``."""
    p = sub.add_parser("web", help="the web console (facegate-web): serve, accounts, certificate")
    wsub = p.add_subparsers(dest="web_command", metavar="ACTION", required=True)
    q = wsub.add_parser("serve", help="run the console (HTTPS only); what facegate-web runs")
    q.add_argument("--listen", type=_listen, default=("127.0.0.1", 8443), help="ADDRESS:PORT")
    q.add_argument("--cert", type=Path, default=DEFAULT_CERT, help=f"default {DEFAULT_CERT}")
    q.add_argument("--key", type=Path, default=DEFAULT_KEY, help=f"default {DEFAULT_KEY}")
    q.add_argument(
        "--socket",
        type=Path,
        default=None,
        help=f"the daemon's admin socket (default: admin.socket of -c, else {DEFAULT_SOCKET})",
    )
    q.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help="facegate configuration (read only: notice sign, face models for enrolment)",
    )
    q.add_argument("--lang", choices=["zh-CN", "en"], default="zh-CN", help="default zh-CN")
    _common(q)
    q.set_defaults(func=cmd_serve)

    q = wsub.add_parser("user", help="console accounts (Argon2id passwords, optional TOTP)")
    usub = q.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    for name, text in (
        ("add", "add a user"),
        ("passwd", "set a user's password"),
        ("role", "change a user's role"),
        ("remove", "remove a user"),
        ("totp", "turn TOTP on (prints the otpauth URI) or --off"),
        ("list", "list users: name, role, TOTP, pseudonym"),
    ):
        r = usub.add_parser(name, help=text)
        _common(r)
        if name != "list":
            r.add_argument("name")
        if name in ("add", "role"):
            r.add_argument("--role", choices=["auditor", "operator", "admin"], required=True)
        if name in ("add", "passwd"):
            r.add_argument("--password-stdin", action="store_true", help="read it from stdin")
        if name == "totp":
            r.add_argument("--off", action="store_true")
        r.set_defaults(func=cmd_user)

    q = wsub.add_parser("cert", help="make a self-signed HTTPS certificate for the console")
    q.add_argument("--cert", type=Path, default=DEFAULT_CERT, help=f"default {DEFAULT_CERT}")
    q.add_argument(
        "--key", type=Path, default=DEFAULT_KEY, help=f"default {DEFAULT_KEY} (mode 0600)"
    )
    q.add_argument(
        "--name",
        action="append",
        required=True,
        help="host name or IP the browsers use (repeat: the Pi's name and its LAN address)",
    )
    q.set_defaults(func=cmd_cert)


def web_main(argv: Sequence[str] | None = None) -> int:
    """The ``facegate-web`` entry point: ``facegate web serve`` with the same options."""
    from . import main

    args = list(sys.argv[1:] if argv is None else argv)
    debug = ["--debug"] if "--debug" in args else []
    return main([*debug, "web", "serve", *[a for a in args if a != "--debug"]])
