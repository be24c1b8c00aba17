"""Load the configuration with its ``notice:`` and ``filing:`` sections, wired in or not.

Once ``FacegateConfig`` has ``notice`` and ``filing`` fields this is ``load_config`` plus two
attribute reads. Until then the two sections are cut out of the text (their lines blanked, so
every other problem keeps its line number), validated on their own, and returned beside the
configuration. Either way problems come back as ``ConfigError`` lines ``key.path (line N):
message``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError

from ..config.filing import FilingConfig
from ..config.notice import NoticeConfig
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import FacegateConfig

__all__ = ["compliance_sections", "load_compliance_config", "load_compliance_config_text"]

_SECTIONS: dict[str, type[BaseModel]] = {"notice": NoticeConfig, "filing": FilingConfig}


def compliance_sections(cfg: FacegateConfig) -> tuple[NoticeConfig | None, FilingConfig]:
    """``(cfg.notice, cfg.filing)`` when wired into the root configuration, else defaults."""
    notice = getattr(cfg, "notice", None)
    filing = getattr(cfg, "filing", None) or FilingConfig()
    return notice, filing


def load_compliance_config(
    path: Path,
) -> tuple[FacegateConfig, NoticeConfig | None, FilingConfig]:
    """Read a configuration file; see :func:`load_compliance_config_text`.

    Raises:
        ConfigError: missing, unreadable or invalid (one line per problem).
    """
    from ..config import load_config

    if _wired():
        cfg = load_config(path)
        notice, filing = compliance_sections(cfg)
        return cfg, notice, filing
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    return load_compliance_config_text(text, source=str(path), base_dir=Path(path).parent)


def load_compliance_config_text(
    text: str, *, source: str = "<config>", base_dir: Path | None = None
) -> tuple[FacegateConfig, NoticeConfig | None, FilingConfig]:
    """Validate configuration text and return it with its notice and filing sections.

    Raises:
        ConfigError: invalid (one line per problem, with line numbers).
    """
    from ..config import load_config_text
    from ..config.loader import format_problems

    if _wired():
        cfg = load_config_text(text, source=source, base_dir=base_dir)
        notice, filing = compliance_sections(cfg)
        return cfg, notice, filing
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        root = None  # load_config_text reports it with its line
    lines = text.split("\n")
    found: dict[str, tuple[Any, yaml.Node]] = {}
    if isinstance(root, yaml.MappingNode):
        data = yaml.safe_load(text)
        for key_node, value_node in root.value:
            name = getattr(key_node, "value", None)
            if name in _SECTIONS and isinstance(data, dict):
                found[name] = (data.get(name), value_node)
                start, end = key_node.start_mark.line, value_node.end_mark.line
                if value_node.end_mark.column == 0:
                    end -= 1  # a block ends at the start of the next line
                for i in range(start, min(end, len(lines) - 1) + 1):
                    lines[i] = ""
    cfg = load_config_text("\n".join(lines), source=source, base_dir=base_dir)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, model in _SECTIONS.items():
        if name not in found:
            continue
        raw, node = found[name]
        try:
            values[name] = model.model_validate(raw if raw is not None else {})
        except ValidationError as exc:
            problems += [f"{name}.{p}" for p in format_problems(exc, node)]
    if problems:
        raise ConfigError(f"{source}: {len(problems)} problem(s) in the configuration", problems)
    return cfg, values.get("notice"), values.get("filing") or FilingConfig()


def _wired() -> bool:
    from ..config import FacegateConfig

    return "notice" in FacegateConfig.model_fields
