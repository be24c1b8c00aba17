"""The README's liveness table from ``eval-pad --details`` documents (``scripts/eval-pad-shared``).

Kept apart from :mod:`facegate.measure.pad` (the measurement) because it only formats: it reads
the details dictionaries and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["EVIDENCE_REASONS", "readme_table"]


EVIDENCE_REASONS = ("screen", "frame", "flat", "model")
"""Refusal reasons that are positive attack evidence (the others: no live evidence)."""


def _by_evidence(results: Sequence[dict[str, Any]]) -> str:
    attacks = [r for r in results if r["type"] != "bona_fide"]
    counts = {
        reason: sum(1 for r in attacks if r["status"] == "spoof" and r["reason"] == reason)
        for reason in EVIDENCE_REASONS
    }
    named = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
    return f"{sum(counts.values())}/{len(attacks)}" + (f" ({named})" if named else "")


def _draws(details: dict[str, Any]) -> list[str]:
    """The two over-draws cells: pooled BPCER with its range a draw, and attacks accepted."""
    draws = details.get("draws", {})
    if len(draws.get("seeds", ())) < 2:
        return ["-", "-"]
    rates = draws["rates"]
    live = rates["bona_fide"]
    per = live["per_draw"]
    attacks = [r for k, r in rates.items() if not k.startswith("bona_fide")]
    accepted = f"{sum(r['errors'] for r in attacks)}/{sum(r['attempts'] for r in attacks)}"
    return [
        f"{live['rate']:.0%} ({live['errors']}/{live['attempts']}; {min(per)}-{max(per)} of "
        f"{live['attempts'] // len(per)} a draw, {len(per)} draws)",
        accepted,
    ]


def readme_table(runs: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """A Markdown table of ``eval-pad --details`` documents, one row per ``(label, details)``.

    Each cell is the rate, the counts and the 95 % Wilson interval; the columns are the attack
    types of the first run, then BPCER, BPCER without a challenge, BPCER and the attacks
    accepted pooled over the challenge draws (``-`` for a run of one draw), the challenge rate, the
    median (p95) ms per frame, and how many attacks were refused on positive attack evidence
    (by :data:`EVIDENCE_REASONS`, e.g. ``screen 18, frame 3``) rather than for want of live
    evidence: the measured contribution of each attack detector.
    """
    if not runs:
        return ""
    kinds = [k for k in runs[0][1]["rates"] if not k.startswith("bona_fide")]

    def cell(rate: dict[str, Any]) -> str:
        lo, hi = rate["ci95"]
        return f"{rate['rate']:.0%} ({rate['errors']}/{rate['attempts']}; {lo:.0%}-{hi:.0%})"

    head = ["mode", *(f"APCER {k}" for k in kinds)]
    head += ["BPCER", "BPCER unchallenged", "BPCER over challenge draws"]
    head += ["attacks accepted over draws", "challenge rate", "ms/frame median (p95)"]
    head += ["CPU ms/frame median"]
    head += ["attacks refused on evidence"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for label, d in runs:
        rates = d["rates"]
        row = [label, *(cell(rates[k]) if k in rates else "-" for k in kinds)]
        row += [cell(rates["bona_fide"]), cell(rates["bona_fide_unchallenged"]), *_draws(d)]
        row += [
            f"{d['challenge_rate']:.0%}",
            f"{d['ms_per_frame']:.1f} ({d['ms_per_frame_p95']:.1f})",
            f"{d['cpu_ms_per_frame']:.1f}" if "cpu_ms_per_frame" in d else "-",
            _by_evidence(d["results"]),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"
