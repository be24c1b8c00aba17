"""The self-contained demo (``facegate demo``)."""

from .run import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
