"""The base class every configuration section derives from.

Like Frigate's config: ``extra="forbid"`` turns a typo into an error instead of a silently
ignored key, every field carries a description and bounds, and models are frozen so a running
daemon cannot mutate the configuration it validated.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Section"]


class Section(BaseModel):
    """A YAML section: unknown keys are errors, values are immutable once validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)
