"""The demo's timeline: the gate loop's events as readable lines, and what they add up to.

The lines carry rich markup; the caller decides where they go (``facegate demo`` prints them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..clock import FakeClock
from ..service.app import AppEvent

__all__ = ["DemoResult", "Say", "Timeline", "short"]

Say = Callable[[str], None]
"""Where a line of the demo's output goes (one line of rich markup a call)."""


@dataclass(slots=True)
class DemoResult:
    """What happened, scene by scene, and whether it was what the script expects."""

    frames: int = 0  # every frame through the pipeline: the clip's, then the later scenes'
    clip_frames: int = 0  # the synthesized clip's (the header's count)
    granted: int = 0
    denied: int = 0
    relay_pulses: int = 0
    problems: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    by_method: dict[str, int] = field(default_factory=dict)
    ways_down: list[str] = field(default_factory=list)
    outside_zone: int = 0
    face_pauses: int = 0
    ways_up: list[str] = field(default_factory=list)
    timings_ms: dict[str, list[float]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def short(pseudonym: str | None) -> str:
    return "-" if pseudonym is None else pseudonym[:8] + "…"


class Timeline:
    """Formats the loop's events as timeline lines (rich markup) and hands each to ``say``;
    repeats of the same face outcome are folded. Counts what happened into ``result``."""

    def __init__(self, say: Say, clock: FakeClock, result: DemoResult) -> None:
        self.say = say
        self.clock = clock
        self.result = result
        self.names: dict[str, str] = {}
        self._last_face: str | None = None
        self.liveness_denials = 0

    def _line(self, at: float, text: str) -> None:
        self.say(f"[dim]{at:6.1f} s[/]  {text}")

    def scene(self, label: str) -> None:
        self._last_face = None
        self._line(self.clock.monotonic(), f"[bold cyan]── scene: {label}[/]")

    def __call__(self, event: AppEvent) -> None:
        if event.kind == "face" and event.observation is not None:
            obs = event.observation
            for stage, ms in obs.timings_ms.items():
                self.result.timings_ms.setdefault(stage, []).append(ms)
            size = f"{obs.detection.width:.0f} px"
            if obs.skipped == "outside_zone":
                key = "outside"
                summary = f"face {size}: outside the face zone, not processed (nothing kept)"
                self.result.outside_zone += 1
            elif obs.liveness in ("inconclusive", "challenge"):
                key = f"l:{obs.track}:{obs.liveness}"
                summary = f"face {size} (track {obs.track}): liveness check, no template yet"
            elif obs.liveness == "spoof":
                key, summary = f"l:{obs.track}:spoof", f"face {size}: failed liveness"
            elif obs.quality is None:
                key, summary = "decided", f"face {size}: decided; followed until it leaves"
            elif not obs.quality.ok:
                key, summary = f"q:{obs.quality.reason}", f"face {size}: {obs.quality.reason}"
            elif obs.match is None:
                return
            elif obs.match.matched:
                who = self.names.get(obs.match.subject or "", "enrolled")
                key = f"m:{obs.match.subject}"
                summary = (
                    f"face {size} (track {obs.track}): matches {short(obs.match.subject)} "
                    f"({who}), score {obs.match.score:.3f} ≥ {obs.match.threshold:.3f}"
                )
            else:
                key = f"n:{obs.track}"
                summary = (
                    f"face {size} (track {obs.track}): no match yet (best score "
                    f"{obs.match.score:.3f} < {obs.match.threshold:.3f})"
                )
            if key != self._last_face:
                self._line(event.at, summary)
                self._last_face = key
        elif event.kind == "decision" and event.decision is not None:
            d = event.decision
            who = self.names.get(d.subject or "", "")
            if d.granted:
                self.result.granted += 1
                self.result.by_method[d.method] = self.result.by_method.get(d.method, 0) + 1
                self._line(
                    event.at,
                    f"[bold green]GRANTED[/] door {d.door} by {d.method} ({short(d.subject)}"
                    + (f", {who})" if who else ")"),
                )
            elif d.pending:
                self._line(event.at, f"[cyan]WAITING[/] door {d.door}: second factor needed")
            else:
                self.result.denied += 1
                self.liveness_denials += d.reason == "liveness"
                self._line(
                    event.at, f"[bold red]DENIED[/]  door {d.door} by {d.method} ({d.reason})"
                )
        elif event.kind == "challenge":
            self._line(
                event.at,
                f'[cyan]CHALLENGE[/] door {event.door}: "{event.detail.get("text")}" '
                "(buzzer/LED pattern, display text; one retry at most)",
            )
        elif event.kind == "relay_on":
            self.result.relay_pulses += 1
            until = event.detail.get("until")
            length = f" for {until - event.at:.1f} s" if until is not None else ""
            self._line(event.at, f"[yellow]relay ON[/]  door {event.door}: lock released{length}")
        elif event.kind == "relay_off":
            self._line(event.at, f"[yellow]relay OFF[/] door {event.door}: locked")
        elif event.kind == "alarm":
            kind = str(event.detail.get("kind"))
            self.result.alarms.append(kind)
            self._line(event.at, f"[bold magenta]ALARM[/]   door {event.door}: {kind}")
        elif event.kind == "alarm_cleared":
            self._line(
                event.at, f"[magenta]alarm cleared[/] door {event.door}: {event.detail.get('kind')}"
            )
        elif event.kind == "face_paused":
            self.result.face_pauses += 1
            self._line(
                event.at,
                f"[dim]face paused at door {event.door}: a keypad or card is in use, no face "
                "is processed[/]",
            )
        elif event.kind == "face_requested":
            self._line(
                event.at,
                f"[cyan]face requested[/] at door {event.door}: the face key or button was "
                "pressed; faces in the zone are processed",
            )
        elif event.kind == "way_down":
            way, reason = event.detail.get("way"), event.detail.get("reason")
            self.result.ways_down.append(f"{way}: {reason}")
            self._line(
                event.at,
                f"[bold magenta]{str(way).upper()} DOWN[/] door {event.door}: {reason}; PIN, "
                "card and the exit button keep working",
            )
        elif event.kind == "way_up":
            self.result.ways_up.append(str(event.detail.get("way")))
            self._line(event.at, f"[green]{event.detail.get('way')} up[/] door {event.door}: back")
        elif event.kind == "fault":
            self._line(
                event.at,
                f"[dim]reader {event.detail.get('reader')}: {event.detail.get('reason')}[/]",
            )
