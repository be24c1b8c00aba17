"""``facegate eval``: measure recognition accuracy on a folder of labelled photos.

``add_eval_parser`` registers the subcommand on the ``facegate`` parser; ``cmd_eval`` runs it.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..measure.eval_setup import EVAL_KEYS, with_embedder
from .common import EXIT_CONFIG, EXIT_ERROR, EXIT_OK, config_or_builtin, console

if TYPE_CHECKING:
    from rich.table import Table

    from ..config import FacegateConfig
    from ..measure.faces import FaceEval

__all__ = ["PROGRESS_ABOVE", "add_eval_parser", "cmd_eval", "eval_config"]

PROGRESS_ABOVE = 36  # photos; smaller folders finish before a bar would be worth drawing

DESCRIPTION = """\
Runs a folder of labelled photos through the real pipeline (detect, quality, align, embed,
match) and reports accuracy at the threshold the daemon would use.

DIR holds one subfolder per person with JPEG/PNG photos (hidden and other files are ignored;
photos over 1600 px are scaled down first). For each person with two or more photos the first
in name order is enrolled and the others are genuine probes; people with a single photo are
never enrolled and probe the gallery as strangers. Every probe is compared with every enrolled
person. Reported: failures to enrol/acquire, FNMR and FMR at the threshold, TAR at FAR 1e-3
and 1e-4, EER, rank-1 identification, FPIR (strangers matched to someone), impostor score
mean and spread (for calibrating a tflite embedder), the threshold for other FPIR targets,
and the median time per photo. Nothing is stored.
"""

EPILOG = """\
Exit status: 0 measured; 1 a runtime problem (model missing, nobody could be enrolled, plot
impossible); 2 a usage or configuration error (missing or empty DIR, unknown --embedder).
"""


def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``eval`` on the ``facegate`` subcommand parsers; returns the new parser."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "eval",
        help="measure accuracy (FNMR/FMR, DET, EER, rank-1, FPIR) on a folder of labelled photos",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--faces",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder with one subfolder of photos per person",
    )
    p.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the numbers here")
    p.add_argument(
        "--details",
        type=Path,
        default=None,
        metavar="FILE",
        help="also write everything measured: the --json keys plus stranger count, impostor "
        "mean/std (to calibrate a tflite embedder) and the threshold for other FPIR targets",
    )
    p.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="FILE.png",
        help="draw the DET curve (FNMR vs FMR) with the operating point marked",
    )
    p.add_argument(
        "--embedder",
        default=None,
        metavar="NAME",
        help="`sface` for OpenCV Zoo's SFace with the yunet detector (the default), "
        "`dlib-fast` for dlib's ResNet on onnxruntime, `dlib` for the same network on dlib "
        "itself (the reference; both need the facegate[dlib] extra), or the `name` of the "
        "`type: tflite` embedder in the -c configuration",
    )
    p.add_argument(  # issue 20
        "--enroll",
        type=int,
        default=1,
        metavar="K",
        help="enrol each person's first K photos (never their last), scored by the best one",
    )
    p.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help="take the models folder, detector, quality, embedder and matcher settings from "
        "this configuration (default: the built-in defaults: sface with yunet)",
    )
    p.set_defaults(func=cmd_eval)
    return p


def eval_config(config: Path | None, embedder: str | None) -> FacegateConfig:
    """The configuration to evaluate: ``-c`` or the built-in one, with ``--embedder`` applied.

    Raises:
        ConfigError: the file is invalid, or ``embedder`` names no embedder it can build.
    """
    # eval never opens the built-in configuration's camera, doors or store
    return with_embedder(config_or_builtin(config), embedder, source=config)


def cmd_eval(args: argparse.Namespace) -> int:
    """Run ``facegate eval``; returns the exit status."""
    from ..measure.faces import FacesFolderError, run_protocol, scan_faces

    err = console(stderr=True)

    def usage_error(message: str, problems: list[str] | None = None) -> int:
        err.print(f"error: {message}", markup=False)
        for line in problems or []:
            err.print(f"  {line}", markup=False)
        return EXIT_CONFIG

    faces: Path = args.faces
    try:
        people = scan_faces(faces)
    except FacesFolderError as exc:
        return usage_error(str(exc))
    if not any(len(p.photos) >= 2 for p in people):
        return usage_error(
            f"{faces}: no person folder has 2 or more photos, so nobody can be enrolled "
            "(the first photo is enrolled, the others are probes)"
        )
    if args.enroll < 1:  # issue 20
        return usage_error(f"--enroll {args.enroll}: enrol at least one photo per person")
    try:
        cfg = eval_config(args.config, args.embedder)
    except ConfigError as exc:
        return usage_error(str(exc), exc.problems if exc.problems != [str(exc)] else None)
    for option, target in (
        ("--json", args.json),
        ("--details", args.details),
        ("--plot", args.plot),
    ):
        if target is not None and not target.parent.is_dir():
            return usage_error(f"{option} {target}: folder {target.parent} does not exist")
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        return usage_error(f"--plot {args.plot}: the DET curve is written as PNG; use a .png name")

    from ..recognition import FacePipeline

    out = console()
    pipeline = FacePipeline(cfg)
    total = sum(len(p.photos) for p in people)
    if total > PROGRESS_ABOVE:
        from .output import transient_progress

        with transient_progress(out) as progress:
            # Photos of people whose enrolment fails are never read, so the bar may stop
            # short of the total; it is removed when the run ends.
            task = progress.add_task(f"{pipeline.embedder.name}: photos", total=total)
            result = run_protocol(
                pipeline, people, on_photo=lambda _o: progress.advance(task), enroll=args.enroll
            )
    else:
        result = run_protocol(pipeline, people, enroll=args.enroll)

    report = result.report()
    out.print(_table(result, report, faces))
    for line in _failure_lines(result):
        out.print(line, markup=False)
    if result.threshold_warning is not None:
        out.print(f"warning: {result.threshold_warning}", markup=False)

    from .output import write_reports

    reports = ((args.json, {key: report[key] for key in EVAL_KEYS}), (args.details, report))
    status = EXIT_OK if write_reports(reports, out=out, err=err) else EXIT_ERROR
    if args.plot is not None:
        from ..measure.plot import plot_det

        genuine, impostor = result.genuine_scores, result.impostor_scores
        if genuine.size == 0 or impostor.size == 0:
            err.print(
                "error: no DET curve: it needs at least one genuine and one impostor comparison",
                markup=False,
            )
            status = EXIT_ERROR
        else:
            try:
                plot_det(
                    args.plot,
                    genuine,
                    impostor,
                    result.threshold,
                    embedder=result.embedder,
                    enrolled=len(result.enrolled),
                )
            except OSError as exc:
                err.print(f"error: cannot write {args.plot}: {exc.strerror}", markup=False)
                status = EXIT_ERROR
            else:
                out.print(f"wrote {args.plot}", markup=False)
    if not result.enrolled:
        err.print("error: nobody could be enrolled; see the failed photos above", markup=False)
        status = EXIT_ERROR
    return status


# -- output ----------------------------------------------------------------------------------


def _rate(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.2%}"


def _score(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _table(result: FaceEval, report: dict[str, Any], faces: Path) -> Table:
    from rich.table import Table

    from ..measure import metrics
    from ..measure.faces import FAR_TARGETS

    genuine, impostor = result.genuine_scores, result.impostor_scores
    n_gen, n_imp = genuine.size, impostor.size
    table = Table(title=f"facegate eval: {faces} ({report['embedder']})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("note")

    def row(name: str, value: str, note: str = "") -> None:
        table.add_row(name, value, note)

    row("identities", str(report["identities"]), "person folders with photos")
    row("enrolled", str(report["enrolled"]), "first photo of each person with 2+ photos")
    fte_note = ""
    if result.failed_enrolments:
        fte_note = (
            f"their {result.skipped_photos} other photo(s) were not used as probes"
            if result.skipped_photos
            else "no other photos"
        )
    row("failure to enrol", str(report["failure_to_enroll"]), fte_note)
    row("genuine probes", str(report["genuine_probes"]), "other photos of enrolled people")
    strangers = report["stranger_probes"]
    row(
        "stranger probes",
        str(strangers),
        "people with a single photo"
        if strangers
        else "none (no person folder with a single photo): FPIR not measured",
    )
    row("impostor comparisons", str(report["impostor_comparisons"]), "probe × other enrolled")
    row(
        "failure to acquire",
        str(report["failure_to_acquire"]),
        "probe photos unreadable or without a usable face",
    )
    if result.threshold_fixed:
        t_note = "fixed matcher.threshold"
    else:
        t_note = (
            f"derived for {result.template_count} template(s), target FPIR {result.target_fpir:g}"
        )
    row("threshold", f"{result.threshold:.4f}", t_note)
    fnmr_n = int((genuine < result.threshold).sum())
    fmr_n = int((impostor >= result.threshold).sum())
    row("FNMR", _rate(report["fnmr"]), f"{fnmr_n} of {n_gen} genuine comparisons rejected")
    row("FMR", _rate(report["fmr"]), f"{fmr_n} of {n_imp} impostor comparisons accepted")
    for label, far in FAR_TARGETS.items():
        tar, t, limited = metrics.tar_at_far(genuine, impostor, far)
        if math.isnan(tar):
            note = "not measured"
        elif limited:
            note = (
                f"limited by sample size: {n_imp} impostor comparisons < {round(1 / far)}; "
                f"measured at the strictest point (threshold {t:.4f}, above every impostor)"
            )
        else:
            note = f"at threshold {t:.4f}"
        row(f"TAR @ FAR {label}", _rate(report[f"tar_at_far_{label}"]), note)
    row("EER", _rate(report["eer"]))
    row("rank-1", _rate(report["rank1"]), "closed set, regardless of threshold")
    row(
        "FPIR",
        _rate(report["fpir"]),
        f"strangers whose best score ≥ threshold ({strangers} probe(s))",
    )
    row(  # issue 20: what the threshold policy promised against what it got
        "FPIR promised",
        _rate(report["promised_fpir"]),
        f"matcher.target_fpir; the impostor model ({report['impostor_model']}) predicts "
        f"{_rate(report['model_fpir_one_search'])} for one search per stranger",
    )
    row("system FNMR", _rate(report["system_fnmr"]), "genuine probes refused (FTA) count too")
    row("FTA rate", _rate(report["failure_to_acquire_rate"]), "of all probe photos")
    row(
        "impostor mean ± sd",
        f"{_score(report['impostor_mean'])} ± {_score(report['impostor_std'])}",
        "for a tflite embedder's impostor_mean/impostor_std",
    )
    others = ", ".join(
        f"{k}: {v:.4f}" for k, v in report["thresholds_for_fpir"].items() if v is not None
    )
    row("threshold for FPIR", "", others)
    ms = report["ms_per_image"]
    row("ms per image", "n/a" if ms is None else f"{ms:.0f}", "median; read → detect → embed")
    return table


def _failure_lines(result: FaceEval) -> list[str]:
    lines = []
    for o in result.outcomes:
        if o.template is None:
            if o.role == "enrol":
                unused = result.unused_photos.get(o.person, 0)
                lines.append(
                    f"  enrolment {o.person}/{o.path.name}: {o.reason} "
                    f"(failure to enrol; {unused} other photo(s) not used as probes)"
                )
            else:
                lines.append(f"  {o.role} probe {o.person}/{o.path.name}: {o.reason}")
    if lines:
        lines.insert(0, "photos without a template:")
    return lines
