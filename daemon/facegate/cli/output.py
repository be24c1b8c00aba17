"""What the measuring commands (``eval``, ``eval-pad``, ``pad synth``) share: a progress bar
that disappears when the run ends, and writing their JSON reports (saying so on the console)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

__all__ = ["transient_progress", "write_reports"]


def transient_progress(console: Console) -> Progress:
    """A ``done/total`` bar with time remaining, removed from the terminal when it ends."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def write_reports(
    reports: Iterable[tuple[Path | None, Any]], *, out: Console, err: Console
) -> bool:
    """Write each ``(target, content)`` as indented JSON (no NaN); skip ``None`` targets.

    Returns:
        ``False`` when any file could not be written (each failure is printed to ``err``).
    """
    ok = True
    for target, content in reports:
        if target is None:
            continue
        try:
            target.write_text(json.dumps(content, indent=2, allow_nan=False) + "\n")
        except OSError as exc:
            err.print(f"error: cannot write {target}: {exc.strerror}", markup=False)
            ok = False
        else:
            out.print(f"wrote {target}", markup=False)
    return ok
