"""``facegate bench``: speed and memory at gallery size N."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from .common import EXIT_OK, config_or_builtin, console

__all__ = ["add_bench_parser", "print_table"]


class _SealingBar:
    """A progress bar while the synthetic gallery is sealed (terminals only)."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, done: int, total: int) -> None:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,}"),
                TimeRemainingColumn(),
                console=self.out,
                disable=not self.out.is_terminal,
            )
            self.progress.start()
            self.task = self.progress.add_task("sealing synthetic templates", total=total)
        assert self.task is not None
        self.progress.update(self.task, completed=done)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def print_table(result: dict[str, Any], console: Console) -> None:
    """The measured numbers as a table, then the embedder, threshold and what was timed."""
    from ..measure.bench import BENCH_KEYS

    table = Table(title=f"facegate bench, N = {result['n']:,} templates")
    table.add_column("measure")
    table.add_column("value", justify="right")
    units = {"gallery_load_s": "s", "rss_mb": "MB", "n": ""}
    for key in BENCH_KEYS:
        value = result[key]
        unit = units.get(key, "ms")
        shown = f"{value:,}" if key == "n" else f"{value:.2f} {unit}".strip()
        table.add_row(key, shown)
    console.print(table)
    extra = result.get("extra", {})
    console.print(
        f"embedder {extra.get('embedder')}, threshold {extra.get('threshold'):.4f}; decisions "
        f"timed: {extra.get('grants_timed')} grants (to the relay command)"
        + (f", {extra.get('denials_timed')} denials" if not extra.get("grants_timed") else "")
    )


# The synthesized clip's two public-domain portraits ship in these (pyproject's `demo` extra).
DEMO_EXTRA = ("skimage", "matplotlib")


def _check_demo_extra() -> None:
    """Before any model loads: the default clip needs the ``demo`` extra.

    Raises:
        FacegateError: one of its packages is missing (one line: what to install, or --source).
    """
    import importlib.util

    from ..errors import FacegateError

    missing = [name for name in DEMO_EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        raise FacegateError(
            f"bench's default clip needs the demo extra ({', '.join(missing)} missing): "
            "pip install 'facegate[demo]', or give a clip with --source VIDEO_OR_DIR"
        )


def cmd_bench(args: argparse.Namespace) -> int:
    from ..measure.bench import run_bench, write_json

    if args.source is None:
        _check_demo_extra()
    cfg = config_or_builtin(args.config)
    if args.models_dir is not None:
        cfg = cfg.model_copy(
            update={"models": cfg.models.model_copy(update={"dir": args.models_dir})}
        )
    out = console()
    bar = _SealingBar(out)
    try:
        result = run_bench(
            cfg,
            gallery=args.gallery,
            source=args.source,
            repeat=args.repeat,
            busy=out.status,
            on_sealed=bar,
        )
    finally:
        bar.close()
    print_table(result, out)
    if args.json is not None:
        write_json(result, args.json)
        out.print(f"wrote {args.json}")
    return EXIT_OK


def add_bench_parser(sub: Any) -> None:
    p = sub.add_parser(
        "bench",
        help="measure stage times, decision latency, gallery load time and memory at size N",
        description="Builds a throwaway encrypted store with one real enrolled person and N-1 "
        "synthetic ones, then measures in a fresh daemon-like process: detect_ms, "
        "landmarks_ms, embed_ms, match_ms (1:N over N templates), decision_ms_p50/p95 (frame "
        "into the pipeline to the relay command, replayed camera, mock pins), gallery_load_s "
        "(decrypt and load N sealed templates), rss_mb (peak resident memory), n. Run it on an "
        "otherwise idle machine.",
    )
    p.add_argument(
        "-c",
        "--config",
        type=Path,
        default=None,
        help="configuration to measure (default: the demo's built-in one)",
    )
    p.add_argument("--json", type=Path, default=None, help="write the numbers to this file")
    p.add_argument(
        "--gallery",
        type=int,
        default=100_000,
        metavar="N",
        help="templates in the gallery (default %(default)s)",
    )
    p.add_argument(
        "--source",
        type=Path,
        default=None,
        metavar="VIDEO_OR_DIR",
        help="clip to replay; the first good face in it is enrolled "
        "(default: the demo's synthesized clip, which needs the demo extra: "
        "pip install 'facegate[demo]')",
    )
    p.add_argument(
        "--repeat", type=int, default=5, help="times the clip is replayed (default %(default)s)"
    )
    p.add_argument("--models-dir", type=Path, default=None, help="models folder to use")
    p.set_defaults(func=cmd_bench)
