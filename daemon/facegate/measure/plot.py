"""The DET curve of an evaluation, drawn to a PNG with matplotlib's Agg canvas.

matplotlib is imported only when a plot is asked for (it is an optional dependency, and
slow to import on a Pi); no pyplot state or GUI backend is involved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import metrics

__all__ = ["plot_det"]


def _fmt_rate(x: float) -> str:
    if x == 0:
        return "0"
    return f"{x:.2%}" if x >= 0.001 else f"{x:.1e}"


def plot_det(
    path: Path,
    genuine: np.ndarray,
    impostor: np.ndarray,
    threshold: float,
    *,
    embedder: str,
    enrolled: int,
    dpi: int = 120,
) -> Path:
    """Draw FNMR against FMR on log axes, with the operating point at ``threshold`` marked.

    Rates of exactly 0 cannot sit on a log axis; they are drawn on a dotted floor line at
    half the smallest measurable rate (1 / 2n) and labelled as such.

    Raises:
        ValueError: either score set is empty (there is no curve to draw).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    g = np.asarray(genuine, dtype=np.float64)
    i = np.asarray(impostor, dtype=np.float64)
    _, fmr, fnmr = metrics.det_curve(g, i)  # raises ValueError on empty sets
    op_fnmr, op_fmr = metrics.fnmr_fmr(g, i, threshold)
    eer = metrics.eer(g, i)

    floor_x, floor_y = 0.5 / i.size, 0.5 / g.size
    fig = Figure(figsize=(7.5, 6.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(floor_x * 0.6, 1.3)
    ax.set_ylim(floor_y * 0.6, 1.3)

    ax.plot(
        np.maximum(fmr, floor_x),
        np.maximum(fnmr, floor_y),
        color="tab:blue",
        linewidth=2.0,
        marker=".",
        markersize=4,
        label=f"{embedder} (EER {_fmt_rate(eer)})",
    )
    lo = min(floor_x, floor_y)
    ax.plot([lo, 1.0], [lo, 1.0], color="0.6", linestyle="--", linewidth=1.0, label="FMR = FNMR")
    ax.axvline(floor_x, color="0.5", linestyle=":", linewidth=1.0)
    ax.axhline(floor_y, color="0.5", linestyle=":", linewidth=1.0)

    px, py = max(op_fmr, floor_x), max(op_fnmr, floor_y)
    ax.plot(
        [px],
        [py],
        marker="*",
        markersize=16,
        color="tab:red",
        markeredgecolor="black",
        linestyle="none",
        label="operating point (daemon threshold)",
        zorder=5,
    )
    ax.annotate(
        f"threshold {threshold:.3f}\nFMR {_fmt_rate(op_fmr)}, FNMR {_fmt_rate(op_fnmr)}",
        xy=(px, py),
        xytext=(24, 24),
        textcoords="offset points",
        fontsize=10,
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "tab:red"},
        arrowprops={"arrowstyle": "->", "color": "tab:red"},
    )
    ax.text(
        0.99,
        0.01,
        f"dotted lines: a rate of 0 (smallest measurable: FMR 1/{i.size}, FNMR 1/{g.size})",
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=8,
        color="0.35",
    )
    ax.set_xlabel("false match rate (FMR, impostor comparisons accepted)")
    ax.set_ylabel("false non-match rate (FNMR, genuine comparisons rejected)")
    ax.set_title(
        f"DET curve: {embedder}\n{enrolled} enrolled, {g.size} genuine / "
        f"{i.size} impostor comparisons",
        fontsize=11,
    )
    ax.grid(True, which="major", alpha=0.4)
    ax.grid(True, which="minor", alpha=0.12)
    ax.legend(loc="upper right", fontsize=9)
    path = Path(path)
    fig.savefig(path, dpi=dpi, format="png")
    return path
