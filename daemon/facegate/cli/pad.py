"""``facegate eval-pad`` and ``facegate pad synth``: measure liveness, make print attacks.

``add_pad_parsers`` registers both on the ``facegate`` subcommand parsers.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, FacegateError
from .common import EXIT_CONFIG, EXIT_ERROR, EXIT_OK, console

if TYPE_CHECKING:
    from ..config import FacegateConfig
    from ..measure.pad import PadReport

__all__ = ["ABLATIONS", "add_pad_parsers", "cmd_eval_pad", "cmd_pad_synth"]

ABLATIONS = ("screen", "frame")
"""Attack detectors ``eval-pad --without`` can switch off."""

EVAL_DESCRIPTION = """\
Runs the liveness judge over bona-fide clips and attack clips and reports, as ISO/IEC 30107-3
does: APCER per attack type (attacks accepted as live), BPCER (live people refused), and the
share of attempts that needed a challenge.

--bona-fide DIR holds clips of live people; --attacks DIR holds one subfolder per attack type
(print/, screen/, mask/, ...). A clip is a video file (.mp4, .avi, .mov, .mkv, .webm, .m4v)
or a folder of frames (JPEG/PNG in name order, taken at --fps).

Attempts: a clip shorter than twice --window seconds is one attempt; a longer one is cut into
consecutive --window-second attempts. Faces are followed as the daemon follows them (box
overlap service.track_iou, lost after service.track_lost_s), afresh in each attempt: in each
frame the largest face goes to the judge as its own track, with the frame's time, so two faces
in a clip are never judged as one.

Offline challenge rule (an assumption, stated in the report): a clip cannot hear a prompt, so
an attempt that reaches a challenge runs on over the clip's following frames, past its window
if need be, and passes only if they happen to hold the requested blink or head turn. The rule
is the same for live and attack clips. An attempt whose clip ends first is refused. Which
challenge is asked is random (--seed), so one run is one draw: --draws K judges every attempt
under K seeds and adds each rate pooled over the draws, with its range from draw to draw.

The liveness settings, models folder and detector come from -c CONFIG (default: the product's
default liveness settings). --model adds the anti-spoofing model for this run.
"""

EVAL_EPILOG = """\
Exit status: 0 measured; 1 a runtime problem (a model file missing or wrong, no clip could be
read); 2 a usage or configuration error (missing folder, no clips, bad option).

Example, with the shared test data (scripts/eval-pad-shared does all of this):
  facegate pad synth --face ../shared/testdata/faces --out pad/attacks/print
  mkdir -p pad/bona pad/attacks/screen
  ln -s "$PWD"/../shared/testdata/video/WDA_AlexandriaOcasioCortez_000.mp4 pad/bona/
  ln -s "$PWD"/../shared/testdata/video/liveness_pair/real.mp4 pad/bona/
  ln -s "$PWD"/../shared/testdata/video/liveness_pair/fake.mp4 pad/attacks/screen/
  facegate eval-pad --bona-fide pad/bona --attacks pad/attacks --json pad.json \\
      --model ../shared/models/face_anti_spoofing/FaceAntiSpoofing.tflite
"""

SYNTH_DESCRIPTION = """\
Makes print-attack clips from real face photos: each photo becomes a printed card (head and
shoulders, paper margin, lower contrast) held in front of a pinhole camera and moved along a
random smooth path (turns up to 28 degrees, tilts, roll, distance, sideways shifts), with
uneven light, gain drift, blur, motion blur, sensor noise and JPEG compression, at a camera
frame rate. Each clip is a folder of JPEG frames, OUT/<person>_<photo>_<k>/. The same --seed
gives the same clips.
"""


def add_pad_parsers(subparsers: Any) -> None:
    """Register ``eval-pad`` and ``pad synth`` on the ``facegate`` subcommand parsers."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "eval-pad",
        help="measure liveness: APCER per attack type, BPCER, challenge rate",
        description=EVAL_DESCRIPTION,
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--bona-fide", type=Path, required=True, metavar="DIR", help="live clips")
    p.add_argument(
        "--attacks", type=Path, required=True, metavar="DIR", help="one subfolder per attack type"
    )
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the numbers here")
    p.add_argument(
        "--details",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write every attempt's outcome (clip, first frame, status, reason)",
    )
    p.add_argument(
        "--mode",
        choices=("passive", "passive+challenge"),
        default=None,
        help="liveness mode to measure (default: the configuration's `liveness.mode`)",
    )
    p.add_argument(
        "--model", type=Path, default=None, metavar="FILE", help="anti-spoofing .tflite to add"
    )
    p.add_argument(
        "--model-sha256",
        default=None,
        metavar="HEX",
        help="pinned hash of --model (default: hash the file and show it, to copy into the "
        "configuration)",
    )
    p.add_argument(
        "--window", type=float, default=4.0, metavar="S", help="attempt length (default 4 s)"
    )
    p.add_argument(
        "--fps", type=float, default=15.0, help="frame rate of frame folders (default 15)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the challenge choice")
    p.add_argument(
        "--draws",
        type=int,
        default=1,
        metavar="K",
        help="judge every attempt under K challenge draws (seeds SEED to SEED+K-1, 1-20; "
        "default 1): the challenge asked is random, so one run is one draw; the table adds "
        "each rate pooled over the draws with its range from draw to draw (the first draw "
        "alone is timed and gives the other rows)",
    )
    p.add_argument(
        "--without",
        action="append",
        choices=ABLATIONS,
        default=[],
        metavar="SIGNAL",
        help="measure without one attack detector (repeatable): screen (the moire score is "
        "still measured but never refuses) or frame (the paper-margin/bezel detector is off); "
        "the ablation rows of the README",
    )
    p.add_argument(
        "-c", "--config", type=Path, default=None, help="take liveness and model settings here"
    )
    p.set_defaults(func=cmd_eval_pad)

    pad = subparsers.add_parser("pad", help="presentation-attack test material")
    psub = pad.add_subparsers(dest="pad_command", metavar="ACTION", required=True)
    q = psub.add_parser(
        "synth",
        help="make print-attack clips (folders of JPEG frames) from real face photos",
        description=SYNTH_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument(
        "--face",
        type=Path,
        required=True,
        nargs="+",
        metavar="IMAGE",
        help="face photo(s), or folders searched recursively for photos",
    )
    q.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the clips go")
    q.add_argument("--clips", type=int, default=3, help="clips per photo (default 3)")
    q.add_argument("--seconds", type=float, default=7.0, help="clip length (default 7 s)")
    q.add_argument("--fps", type=float, default=15.0, help="frame rate (default 15)")
    q.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    q.add_argument(
        "-c", "--config", type=Path, default=None, help="take the models folder and detector here"
    )
    q.set_defaults(func=cmd_pad_synth)


def _config(path: Path | None) -> FacegateConfig:
    from .common import config_or_builtin

    return config_or_builtin(path)


def cmd_pad_synth(args: argparse.Namespace) -> int:
    """Run ``facegate pad synth``; returns the exit status."""
    from ..measure.detect import largest_face_finder
    from ..measure.pad_synth import IMAGE_SUFFIXES, synth_print_set
    from .output import transient_progress

    err, out = console(stderr=True), console()
    if args.clips < 1 or not 0.5 <= args.seconds <= 60 or not 1 <= args.fps <= 120:
        err.print("error: --clips ≥ 1, --seconds 0.5-60 and --fps 1-120", markup=False)
        return EXIT_CONFIG
    photos: list[Path] = []
    for item in args.face:
        if item.is_dir():
            photos += sorted(
                p
                for p in item.rglob("*")
                if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
            )
        elif item.is_file():
            photos.append(item)
        else:
            err.print(f"error: --face {item}: no such file or folder", markup=False)
            return EXIT_CONFIG
    if not photos:
        err.print("error: --face: no JPEG/PNG photos found", markup=False)
        return EXIT_CONFIG
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        err.print(f"error: --out {args.out}: {exc.strerror}", markup=False)
        return EXIT_CONFIG
    try:
        find = largest_face_finder(_config(args.config))
    except ConfigError as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_CONFIG
    except FacegateError as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_ERROR
    written: list[Path] = []
    skipped: list[Path] = []
    with transient_progress(out) as progress:
        task = progress.add_task("print attacks: photos", total=len(photos))
        for i, photo in enumerate(photos):
            clips = synth_print_set(
                [photo],
                args.out,
                clips_per_photo=args.clips,
                seconds=args.seconds,
                fps=args.fps,
                seed=args.seed * 1_000_003 + i,
                find_face=find,
            )
            (written.extend(clips) if clips else skipped.append(photo))
            progress.advance(task)
    for photo in skipped:
        err.print(f"skipped {photo}: not a readable image", markup=False)
    out.print(f"wrote {len(written)} print-attack clips to {args.out}", markup=False)
    return EXIT_OK if written else EXIT_ERROR


def cmd_eval_pad(args: argparse.Namespace) -> int:
    """Run ``facegate eval-pad``; returns the exit status."""
    from ..config.liveness import PadModelConfig
    from ..measure.detect import face_finder
    from ..measure.pad import PAD_KEYS, evaluate_pad, scan_attacks, scan_clips
    from ..vision.runtime import sha256_file
    from .output import transient_progress, write_reports

    err, out = console(stderr=True), console()

    def usage(message: str) -> int:
        err.print(f"error: {message}", markup=False)
        return EXIT_CONFIG

    for option, folder in (("--bona-fide", args.bona_fide), ("--attacks", args.attacks)):
        if not folder.is_dir():
            return usage(f"{option} {folder}: not a folder")
    bona_fide = scan_clips(args.bona_fide)
    attacks = scan_attacks(args.attacks)
    if not bona_fide:
        return usage(f"--bona-fide {args.bona_fide}: no clips (video files or frame folders)")
    if not attacks:
        return usage(
            f"--attacks {args.attacks}: no attack-type subfolders with clips (e.g. print/)"
        )
    if not 1.0 <= args.window <= 60.0 or not 1.0 <= args.fps <= 120.0:
        return usage("--window must be 1-60 s and --fps 1-120")
    if not 1 <= args.draws <= 20:
        return usage("--draws must be 1-20")
    for option, target in (("--json", args.json), ("--details", args.details)):
        if target is not None and not target.parent.is_dir():
            return usage(f"{option} {target}: folder {target.parent} does not exist")
    try:
        cfg = _config(args.config)
    except ConfigError as exc:
        return usage(str(exc))
    from ..config.liveness import LivenessConfig

    # Without -c: the product's defaults (the built-in demo configuration turns liveness off).
    live = cfg.liveness if args.config is not None else LivenessConfig()
    if args.mode is not None:
        live = live.model_copy(update={"mode": args.mode})
    elif live.mode == "off":
        return usage("the configuration's liveness.mode is off; pass --mode")
    if "screen" in args.without:
        live = live.model_copy(
            update={"screen": live.screen.model_copy(update={"moire_spoof": 10.0})}
        )
    if "frame" in args.without:
        live = live.model_copy(update={"frame": live.frame.model_copy(update={"enabled": False})})
    if args.model is not None:
        if not args.model.is_file():
            return usage(f"--model {args.model}: no such file")
        digest = args.model_sha256 or sha256_file(args.model)
        if args.model_sha256 is None:
            out.print(f"model {args.model.name}: sha256 {digest}", markup=False)
        try:
            model_cfg = PadModelConfig(path=args.model.resolve(), sha256=digest.lower())
        except ValueError:
            return usage("--model-sha256 must be 64 hex digits")
        live = live.model_copy(update={"model": model_cfg})
    cfg = cfg.model_copy(update={"liveness": live})

    from ..recognition.liveness import build_judge
    from ..vision.liveness.judge import LivenessJudge

    try:
        judge = build_judge(cfg, rng=random.Random(args.seed))
        detect = face_finder(cfg)
    except FacegateError as exc:
        err.print(f"error: {exc}", markup=False)
        return EXIT_ERROR
    seeds = [args.seed + k for k in range(args.draws)]
    redraws = [
        LivenessJudge(judge.cfg, judge.facemesh, judge.model, rng=random.Random(seed))
        for seed in seeds[1:]
    ]
    total = len(bona_fide) + sum(len(v) for v in attacks.values())
    with transient_progress(out) as progress:
        task = progress.add_task("clips", total=total)
        report = evaluate_pad(
            args.bona_fide,
            args.attacks,
            judge=judge,
            detect=detect,
            window_s=args.window,
            fps=args.fps,
            progress=lambda _name: progress.advance(task),
            redraws=redraws,
            track_iou=cfg.service.track_iou,
            track_lost_s=cfg.service.track_lost_s,
        )
    report.seeds = seeds
    for clip in report.unreadable:
        err.print(f"skipped {clip}: no frames could be read", markup=False)
    summary = report.summary()
    out.print(_table(report, summary, model=live.model is not None, without=args.without))
    reports = (
        (args.json, {key: summary[key] for key in PAD_KEYS}),
        (args.details, report.details()),
    )
    status = EXIT_OK if write_reports(reports, out=out, err=err) else EXIT_ERROR
    if not report.bona_fide and not any(report.attacks.values()):
        err.print("error: no clip could be read", markup=False)
        status = EXIT_ERROR
    return status


def _table(report: PadReport, summary: dict[str, Any], *, model: bool, without: list[str]) -> Any:
    from rich.table import Table

    rates = report.rates()
    title = f"facegate eval-pad: {report.mode}{' + model' if model else ''}"
    title += "".join(f" without {w}" for w in without)
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("errors/n", justify="right")
    table.add_column("95 % interval", justify="right")
    table.add_column("note")

    def row(label: str, key: str, note: str) -> None:
        r = rates[key]
        lo, hi = r["ci95"]
        table.add_row(
            label, f"{r['rate']:.1%}", f"{r['errors']}/{r['attempts']}", f"{lo:.0%}-{hi:.0%}", note
        )

    for kind in summary["apcer"]:
        row(f"APCER {kind}", kind, "attacks accepted")
    table.add_row("APCER max", f"{summary['apcer_max']:.1%}", "", "", "worst attack type")
    row("BPCER", "bona_fide", "live attempts refused")
    row("BPCER unchallenged", "bona_fide_unchallenged", "live, no challenge needed")
    if report.draws:
        pooled = report.draw_rates()
        k = len(report.draws) + 1
        for key, label in (
            *((kind, f"APCER {kind}") for kind in summary["apcer"]),
            ("bona_fide", "BPCER"),
        ):
            r = pooled[key]
            table.add_row(
                f"{label}, {k} draws",
                f"{r['rate']:.1%}",
                f"{r['errors']}/{r['attempts']}",
                "",
                f"{min(r['per_draw'])}-{max(r['per_draw'])} a draw (same clips)",
            )
    table.add_row("challenge rate", f"{summary['challenge_rate']:.1%}", "", "", "all attempts")
    ms = report.frame_ms_percentiles()
    runs = " (the model's runs)" if model else ""
    table.add_row(
        "ms per frame",
        f"{summary['ms_per_frame']:.2f}",
        "",
        "",
        f"median; p95 {ms[1]:.1f}, max {ms[2]:.1f}{runs}",
    )
    return table
