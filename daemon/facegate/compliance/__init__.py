"""Compliance with the 2025 face-recognition Measures: checklist, notice, PIA and filing.

- ``checks``: the start-up checklist, a pure function of config and live facts.
- ``facts``: the live state it judges, and the adapter that reads it from this device.
- ``notice_text`` / ``notice_render``: the notice sign, its version hash and its renderings.
- ``documents`` / ``md_pdf``: the impact assessment and filing drafts, as Markdown and PDF.
- ``startup``: what ``facegate run`` calls before it opens anything.
"""

from .checks import CheckResult, Status, exit_code, run_checks, summary
from .facts import ComplianceFacts, DoorFact, gather_facts
from .fonts import CJKFont, FontNotFoundError, find_cjk_font
from .notice_speech import audio_text, short_text
from .notice_text import NoticeBundle, build_notice
from .startup import ComplianceRefused, enforce_startup_checklist

__all__ = [
    "CJKFont",
    "CheckResult",
    "ComplianceFacts",
    "ComplianceRefused",
    "DoorFact",
    "FontNotFoundError",
    "NoticeBundle",
    "Status",
    "audio_text",
    "build_notice",
    "enforce_startup_checklist",
    "exit_code",
    "find_cjk_font",
    "gather_facts",
    "run_checks",
    "short_text",
    "summary",
]
