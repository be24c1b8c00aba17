"""Accuracy measurement: ``facegate eval`` on a folder of labelled photos.

- ``metrics``: pure error-rate functions on score arrays (FNMR/FMR, DET, EER, TAR@FAR,
  rank-1, FPIR).
- ``faces``: the enrol/probe protocol, run through the real recognition pipeline.
- ``plot``: the DET curve as a PNG (matplotlib, imported only when plotting).

The ``facegate eval`` subcommand itself is in ``facegate.cli.eval``. Nothing is imported
here, so registering the subcommand costs no numpy/OpenCV import.
"""

__all__ = ["faces", "metrics", "plot"]
