"""Server-rendered SVG charts (no script, no library): grants and denials per hour."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["by_method", "per_hour", "per_hour_svg"]


def _granted(event: Mapping[str, Any]) -> bool:
    return str(event.get("result", "")).lower().startswith("grant")


def per_hour(events: Iterable[Mapping[str, Any]], day: dt.date) -> list[tuple[int, int]]:
    """(granted, denied) for each of the 24 hours of ``day`` (local time)."""
    counts = [[0, 0] for _ in range(24)]
    for event in events:
        when = dt.datetime.fromtimestamp(float(event["ts"]))
        if when.date() != day:
            continue
        if _granted(event):
            counts[when.hour][0] += 1
        elif str(event.get("result", "")) == "denied":  # "pending" (a second factor) is neither
            counts[when.hour][1] += 1
    return [(g, d) for g, d in counts]


def by_method(events: Iterable[Mapping[str, Any]]) -> list[tuple[str, int, int]]:
    """(way in, granted, denied), most used first."""
    granted: Counter[str] = Counter()
    denied: Counter[str] = Counter()
    for event in events:
        method = str(event.get("method") or "?")
        if _granted(event):
            granted[method] += 1
        elif str(event.get("result", "")) == "denied":
            denied[method] += 1
    methods = sorted(set(granted) | set(denied), key=lambda m: -(granted[m] + denied[m]))
    return [(m, granted[m], denied[m]) for m in methods]


def per_hour_svg(counts: list[tuple[int, int]], *, title: str) -> str:
    """A bar chart, 24 hours, granted (green) stacked under denied (red); escaped text only."""
    from markupsafe import escape

    width, height, left, bottom = 600, 180, 30, 20
    top = max([g + d for g, d in counts] + [1])
    bar = (width - left) / 24
    scale = (height - bottom - 10) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<text x="2" y="12" class="axis">{top}</text>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        'class="axis-line"/>',
    ]
    for hour, (g, d) in enumerate(counts):
        x = left + hour * bar + 1
        base = height - bottom
        if g:
            h = g * scale
            parts.append(
                f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                f'class="granted"><title>{hour:02d}:00 {g} granted</title></rect>'
            )
        if d:
            h2 = d * scale
            y = base - g * scale - h2
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar - 2:.1f}" height="{h2:.1f}" '
                f'class="denied"><title>{hour:02d}:00 {d} denied</title></rect>'
            )
        if hour % 3 == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 5}" class="axis">{hour:02d}</text>')
    parts.append("</svg>")
    return "".join(parts)
