"""Rights that work (PIPL Art. 44-50) and consent renewal (Art. 14), for the CLI and the socket.

The same functions serve ``facegate person find|export|update|reconsent|reconsent-due`` and
``facegate request record|list|answer`` writing the store themselves (daemon stopped) and
the daemon's admin commands (:func:`rights_handlers`), so the two ways cannot drift apart.
Roles on the socket: finding, exporting and correcting a person need ``admin`` (they read or
change an identity); renewing consent and recording or answering a request need ``operator``;
the request log and who must consent again (pseudonyms, kinds and deadlines, no identity) are
read by an ``auditor`` too.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from ..admin import AdminCommandError, Handler, PeerCred, Role
from ..errors import FacegateError
from ..store import ConsentInput
from ..store.people_index import find_people
from ..store.requests import CHANNELS, KINDS, OUTCOMES, list_requests, record_request
from ..store.requests import answer_request as store_answer
from ..store.rights import (
    Correction,
    consents_to_renew,
    correct_person,
    person_record,
    renew_consent,
    sign_json,
)
from .admin_args import Text100, Text200, Timestamp, _Args
from .enrol_request import (
    OPERATOR_ID,
    EnrolmentInputError,
    check_consent_method,
    check_consent_ref,
    check_operator,
    posted_notice_version,
)

if TYPE_CHECKING:
    from ..config import FacegateConfig
    from ..store import Store
    from .control import Control

__all__ = [
    "export_document",
    "export_lines",
    "request_due",
    "rights_handlers",
]

Lang = Literal["zh-CN", "en"]
PSEUDONYM = r"^p-[0-9a-f]{16}$"
OPERATOR = OPERATOR_ID.pattern


def request_due(cfg: FacegateConfig, received_at: float) -> float:
    """The end of the ``rights.response_working_days``-th working day (Mon-Fri) after the day
    a request was received, in the site's time zone (public holidays are not skipped, so the
    deadline is never later than the legal one)."""
    tz = cfg.calendar.tz
    day = dt.datetime.fromtimestamp(received_at, tz).date()
    left = cfg.rights.response_working_days
    while left:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    end = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=tz)
    return end.timestamp()


def _day(ts: float | None, cfg: FacegateConfig) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, cfg.calendar.tz).strftime("%Y-%m-%d %H:%M")


_LABELS: dict[str, tuple[str, str]] = {
    "title": ("个人信息副本（查阅、复制）", "Copy of your personal information (access, copy)"),
    "person": ("假名编号", "Person (pseudonym)"),
    "created": ("登记时间", "Enrolled"),
    "valid": ("通行有效期至", "Access valid until"),
    "name": ("姓名", "Name"),
    "unit": ("房号", "Unit"),
    "phone": ("电话", "Phone"),
    "birth_year": ("出生年份", "Birth year"),
    "minor": ("未满十四周岁", "Under 14"),
    "face": ("人脸特征模板", "Face templates"),
    "expires": ("删除日期", "deleted on"),
    "credentials": ("其他通行方式", "Other ways in"),
    "consent": ("同意记录", "Consent"),
    "withdrawn": ("已结束", "ended"),
    "events": ("最近通行记录", "Recent entries"),
    "none": ("无", "none"),
    "generated": ("生成时间", "Generated"),
    "signed": (
        "本文件由设备审计密钥签名，可用 verify.pub 核验。",
        "Signed with the device's audit key; check it with verify.pub.",
    ),
}


def _t(key: str, lang: Lang) -> str:
    zh, en = _LABELS[key]
    return zh if lang == "zh-CN" else en


def export_lines(record: dict[str, Any], lang: Lang, cfg: FacegateConfig) -> list[str]:
    """The export as readable lines in ``lang`` (times in the site's time zone)."""
    ident = record["identity"]
    out = [
        _t("title", lang),
        f"  {_t('person', lang)}: {record['person']}",
        f"  {_t('created', lang)}: {_day(record['created_at'], cfg)}",
        f"  {_t('valid', lang)}: {_day(record['valid_until'], cfg)}",
    ]
    for key in ("name", "unit", "phone", "birth_year"):
        value = ident.get(key)
        out.append(f"  {_t(key, lang)}: {value if value is not None else '-'}")
    if record["minor"]:
        out.append(f"  {_t('minor', lang)}")
    face = record["face"]
    out.append(
        f"  {_t('face', lang)}: {face['templates']}"
        + (f" ({_t('expires', lang)} {_day(face['expires_at'], cfg)})" if face["templates"] else "")
    )
    kinds = ", ".join(c["kind"].upper() for c in record["credentials"]) or _t("none", lang)
    out.append(f"  {_t('credentials', lang)}: {kinds}")
    for c in record["consents"]:
        ended = (
            f", {_t('withdrawn', lang)} {_day(c['withdrawn_at'], cfg)}" if c["withdrawn_at"] else ""
        )
        out.append(
            f"  {_t('consent', lang)} {c['consent']}: {_day(c['given_at'], cfg)}, {c['method']}, "
            f"{c['reference'] or '-'}, notice {c['notice_version'][:16]}, {c['taken_by']}{ended}"
        )
    out.append(f"  {_t('events', lang)}: {len(record['events']) or _t('none', lang)}")
    for e in record["events"][-10:]:
        out.append(f"    {_day(e['ts'], cfg)}  {e['door']}  {e['method']}  {e['result']}")
    out.append(_t("signed", lang))
    return out


def export_document(
    store: Store, cfg: FacegateConfig, pseudonym: str, lang: Lang
) -> dict[str, Any]:
    """The signed export: ``{"document", "signature", "public_key", "lines"}``.

    ``document`` is canonical JSON of the person's record, the language and the time;
    the signature covers exactly that text.

    Raises:
        StoreError: no such person.
    """
    record = person_record(store, pseudonym)
    payload = {
        "kind": "facegate personal-information export",
        "lang": lang,
        "generated_at": store.clock.time(),
        "record": record,
    }
    text, signature, public_key = sign_json(store, payload)
    with store.transaction() as db:
        store.record(db, "person_exported", pseudonym, None, {"lang": lang})
    return {
        "document": text,
        "signature": signature,
        "public_key": public_key,
        "lines": export_lines(record, lang, cfg),
    }


def renewal_input(cfg: FacegateConfig, fields: dict[str, Any]) -> ConsentInput:
    """The new consent under the current notice, checked as at enrolment.

    Raises:
        EnrolmentInputError: a field missing or not allowed.
    """
    wanted = ("notice_version", "consent_method", "taken_by", "consent_ref")
    missing = [k for k in wanted if not fields.get(k)]
    if missing:
        raise EnrolmentInputError(f"renewing consent needs {', '.join(missing)}")
    return ConsentInput(
        check_consent_method(fields["consent_method"], "--consent-method"),
        posted_notice_version(cfg, fields["notice_version"]),
        check_operator(fields["taken_by"]),
        fields.get("scope") or ",".join(d.id for d in cfg.doors),
        check_consent_ref(fields["consent_ref"]),
    )


# -- the admin socket ------------------------------------------------------------------------


class FindArgs(_Args):
    name: Text200 | None = None
    unit: Text100 | None = None


class ExportArgs(_Args):
    person: str = Field(pattern=PSEUDONYM)
    lang: Lang = "zh-CN"


class UpdateArgs(_Args):
    person: str = Field(pattern=PSEUDONYM)
    name: Text200 | None = None
    unit: Text100 | None = None
    phone: Text100 | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    valid_until: Timestamp | None = None


class ReconsentArgs(_Args):
    person: str = Field(pattern=PSEUDONYM)
    notice_version: Text100
    consent_method: Text100
    taken_by: str = Field(pattern=OPERATOR)
    consent_ref: Text100
    scope: Text200 | None = None


class RequestRecordArgs(_Args):
    kind: Literal[KINDS]  # type: ignore[valid-type]
    channel: Literal[CHANNELS]  # type: ignore[valid-type]
    recorded_by: str = Field(pattern=OPERATOR)
    person: str | None = Field(default=None, pattern=PSEUDONYM)
    received_at: Timestamp | None = None


class RequestListArgs(_Args):
    open_only: bool = False


class RequestAnswerArgs(_Args):
    request: str = Field(pattern=r"^r-[0-9a-f]{12}$")
    answered_by: str = Field(pattern=OPERATOR)
    outcome: Literal[OUTCOMES]  # type: ignore[valid-type]


def check_correction(cfg: FacegateConfig, fix: Correction, now: float) -> None:
    """A corrected birth year or validity within the same bounds as at enrolment.

    Raises:
        EnrolmentInputError: out of bounds.
    """
    from .enrol_request import EnrolmentForm, _check_dates

    _check_dates(
        EnrolmentForm(face=False, birth_year=fix.birth_year, valid_until=fix.valid_until),
        cfg,
        now,
    )


def request_rows(store: Store, cfg: FacegateConfig, *, open_only: bool) -> list[dict[str, Any]]:
    now = store.clock.time()
    return [
        {
            "request": r.request_id,
            "kind": r.kind,
            "person": r.pseudonym,
            "channel": r.channel,
            "received_at": r.received_at,
            "due_at": r.due_at,
            "recorded_by": r.recorded_by,
            "answered_at": r.answered_at,
            "answered_by": r.answered_by,
            "outcome": r.outcome,
            "overdue": r.overdue(now),
        }
        for r in list_requests(store, open_only=open_only)
    ]


def rights_handlers(app: Control) -> dict[str, Handler]:
    """``person.find|export|update|reconsent|reconsent_due`` and ``request.*``."""
    on_loop = app.on_loop

    def store() -> Store:
        assert app.store is not None
        return app.store

    def guarded(func: Any) -> Any:
        def run(args: Any, peer: PeerCred) -> dict[str, Any]:
            try:
                result: dict[str, Any] = func(args, peer)
            except (FacegateError, ValueError) as exc:  # nothing was written
                raise AdminCommandError("bad_request", str(exc)) from None
            return result

        run.__name__ = func.__name__
        return run

    @guarded
    def find(args: FindArgs, _peer: PeerCred) -> dict[str, Any]:
        found = find_people(store(), name=args.name, unit=args.unit)
        return {
            "people": [
                {"person": p, "name": i.name if i else None, "unit": i.unit if i else None}
                for p, i in found
            ]
        }

    @guarded
    def export(args: ExportArgs, _peer: PeerCred) -> dict[str, Any]:
        return export_document(store(), app.cfg, args.person, args.lang)

    @guarded
    def update(args: UpdateArgs, _peer: PeerCred) -> dict[str, Any]:
        fix = Correction(args.name, args.unit, args.phone, args.birth_year, args.valid_until)
        check_correction(app.cfg, fix, app.clock.time())
        changed = correct_person(store(), args.person, fix, minor_age=app.cfg.enrollment.minor_age)
        app.people_changed("correction", args.person)
        return {"person": args.person, "changed": changed}

    @guarded
    def reconsent(args: ReconsentArgs, _peer: PeerCred) -> dict[str, Any]:
        consent = renewal_input(app.cfg, args.model_dump())
        consent_id = renew_consent(store(), args.person, consent)
        app.people_changed("consent", args.person)
        return {"person": args.person, "consent": consent_id}

    @guarded
    def reconsent_due(_args: Any, _peer: PeerCred) -> dict[str, Any]:
        return renewals_due(store(), app.cfg)

    @guarded
    def request_record(args: RequestRecordArgs, _peer: PeerCred) -> dict[str, Any]:
        received = args.received_at if args.received_at is not None else app.clock.time()
        due = request_due(app.cfg, received)
        rid = record_request(
            store(),
            kind=args.kind,
            pseudonym=args.person,
            channel=args.channel,
            received_at=received,
            due_at=due,
            recorded_by=args.recorded_by,
        )
        return {"request": rid, "received_at": received, "due_at": due}

    @guarded
    def request_list(args: RequestListArgs, _peer: PeerCred) -> dict[str, Any]:
        return {"requests": request_rows(store(), app.cfg, open_only=args.open_only)}

    @guarded
    def request_answer(args: RequestAnswerArgs, _peer: PeerCred) -> dict[str, Any]:
        at = store_answer(store(), args.request, answered_by=args.answered_by, outcome=args.outcome)
        return {"request": args.request, "answered_at": at}

    return {
        "person.find": Handler(Role.ADMIN, on_loop(find), FindArgs, "find a person by name/unit"),
        "person.export": Handler(
            Role.ADMIN, on_loop(export), ExportArgs, "signed copy of a person's data"
        ),
        "person.update": Handler(
            Role.ADMIN, on_loop(update), UpdateArgs, "correct name, unit, phone, validity"
        ),
        "person.reconsent": Handler(
            Role.OPERATOR, on_loop(reconsent), ReconsentArgs, "consent under the current notice"
        ),
        "person.reconsent_due": Handler(
            Role.AUDITOR, on_loop(reconsent_due), None, "who must consent again, by when"
        ),
        "request.record": Handler(
            Role.OPERATOR, on_loop(request_record), RequestRecordArgs, "log a rights request"
        ),
        "request.list": Handler(
            Role.AUDITOR, on_loop(request_list), RequestListArgs, "rights requests and deadlines"
        ),
        "request.answer": Handler(
            Role.OPERATOR, on_loop(request_answer), RequestAnswerArgs, "mark a request answered"
        ),
    }


def renewals_due(store: Store, cfg: FacegateConfig) -> dict[str, Any]:
    """Who consented under an older notice and the day their face expires without renewal."""
    from .state import reconsent_rule

    rule = reconsent_rule(cfg)
    if rule is None:
        return {"current": None, "deadline": None, "people": []}
    return {
        "current": rule.current_version,
        "deadline": rule.deadline,
        "people": [
            {
                "person": r.pseudonym,
                "consent": r.consent_id,
                "notice_version": r.notice_version,
                "given_at": r.given_at,
            }
            for r in consents_to_renew(store, rule.current_version)
        ],
    }
