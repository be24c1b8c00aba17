"""Compliance with the 2025 face-recognition Measures: checklist, notice, PIA and filing.

- ``checks``: the start-up checklist, a pure function of config and live facts.
- ``facts``: the live state it judges, and the adapter that reads it from this device.
- ``notice_text`` / ``notice_render``: the notice sign, its version hash and its renderings.
- ``documents`` / ``md_pdf``: the impact assessment and filing drafts, as Markdown and PDF.
- ``startup``: what ``facegate run`` calls before it opens anything.
"""

from .checks import CheckResult, Status, exit_code, run_checks, summary
from .config_io import compliance_sections, load_compliance_config, load_compliance_config_text
from .facts import ComplianceFacts, DoorFact, gather_facts
from .fonts import CJKFont, FontNotFoundError, find_cjk_font
from .notice_text import NoticeBundle, audio_text, build_notice, short_text
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
    "compliance_sections",
    "enforce_startup_checklist",
    "exit_code",
    "find_cjk_font",
    "gather_facts",
    "load_compliance_config",
    "load_compliance_config_text",
    "run_checks",
    "short_text",
    "summary",
]
