"""The base class every configuration section derives from.

Like Frigate's config: ``extra="forbid"`` turns a typo into an error instead of a silently
ignored key, every field carries a description and bounds, and models are frozen so a running
daemon cannot mutate the configuration it validated.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["Section"]


def _numbers_only(annotation: Any) -> bool:
    """True for ``int``/``float`` fields (optional or in a list) that have no ``bool`` branch."""
    if annotation in (int, float):
        return True
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType, list, tuple, set, frozenset):
        kinds = [a for a in args if a is not type(None) and a is not Ellipsis]
        return bool(kinds) and bool not in kinds and all(_numbers_only(a) for a in kinds)
    return False


def _is_path(annotation: Any) -> bool:
    return annotation is Path or (
        get_origin(annotation) in (Union, types.UnionType) and Path in get_args(annotation)
    )


class Section(BaseModel):
    """A YAML section: unknown keys are errors, values are immutable once validated.

    YAML's ``true`` is not a number here (pydantic would take it as 1, so ``pin: true`` would
    drive GPIO 1), and an empty string is not a path (it would mean the current folder).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _strict_scalars(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fixed = dict(data)
        for name, value in data.items():
            field = cls.model_fields.get(name) if isinstance(name, str) else None
            if field is None:
                continue
            if _numbers_only(field.annotation):
                # Hand true/false to the number validator as the text the user wrote, so the
                # error names the key and its line like any other wrong value.
                if isinstance(value, bool):
                    fixed[name] = str(value).lower()
                elif isinstance(value, (list, tuple)) and any(isinstance(v, bool) for v in value):
                    fixed[name] = [str(v).lower() if isinstance(v, bool) else v for v in value]
            if _is_path(field.annotation) and isinstance(value, str) and not value.strip():
                raise ValueError(f"{name}: an empty path is not allowed (leave the key out)")
        return fixed
