"""``facegate speech render``: the spoken liveness challenges, synthesised ahead of time."""

from __future__ import annotations

import argparse
from typing import Any

from .common import EXIT_OK, add_config_arg, console, load

__all__ = ["add_speech_parsers"]


def cmd_speech_render(args: argparse.Namespace) -> int:
    from ..gate.speaker import prompt_seconds, render_prompts, speech_dir
    from ..recognition.liveness import spoken_seconds
    from ..store.state_owner import adopt_into_parent

    cfg = load(args.config)
    speakers = [door.id for door in cfg.doors if door.gate.speaker is not None]
    languages: list[str] = []
    for door in cfg.doors:
        if door.gate.speaker is not None:
            languages += [lang for lang in door.gate.speaker.languages if lang not in languages]
    text = cfg.liveness.challenge
    english = {"blink": text.text_blink, "turn": text.text_turn, "mouth": text.text_mouth}
    dest = speech_dir(cfg.store.state_dir)
    try:
        written = render_prompts(dest, english, languages or ["zh-CN", "en"])
    finally:  # run as root into the service user's state folder: the files are that user's
        if dest.is_dir():
            adopt_into_parent(dest)
    out = console()
    out.print(f"rendered {len(written)} spoken prompt(s) in {dest}", markup=False)
    answer = text.timeout_s
    for door in cfg.doors:
        if door.gate.speaker is None:
            continue
        full = prompt_seconds(dest, door.gate.speaker.languages)
        spoken = spoken_seconds(cfg, door.id)  # what the daemon waits for: cut at max_play_s
        line = f"door {door.id}: the longest spoken challenge lasts {spoken:.1f} s"
        if full > spoken:
            line += f" (cut there by gate.speaker.max_play_s; {full:.1f} s in full)"
        mode = cfg.liveness_mode(door.id)
        if mode == "passive+challenge":
            line += (
                f"; the person then has {answer:.1f} s to answer (liveness.challenge.timeout_s; "
                "restart or reload the daemon to use new prompts)"
            )
        else:
            line += f"; liveness here is {mode}, which asks no challenge"
        out.print(line, markup=False)
    if not speakers:
        out.print("no door has a `gate.speaker`: nothing will play them yet", markup=False)
    return EXIT_OK


def add_speech_parsers(sub: Any) -> None:
    p = sub.add_parser("speech", help="the spoken liveness challenges (for a door's speaker)")
    ssub = p.add_subparsers(dest="speech_command", metavar="ACTION", required=True)
    q = ssub.add_parser(
        "render",
        help="synthesise the challenge prompts with espeak-ng into <state_dir>/speech",
        description="Writes one WAV file per liveness challenge (blink, turn, mouth) and "
        "language (Mandarin Chinese, then the English of liveness.challenge.text_*) with "
        "espeak-ng (apt install espeak-ng) into <store.state_dir>/speech, where a door's "
        "gate.speaker plays them with aplay. Run it again after changing the texts.",
    )
    add_config_arg(q)
    q.set_defaults(func=cmd_speech_render)
