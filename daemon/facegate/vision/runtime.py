"""Loading models: TFLite on LiteRT (with a ``tflite_runtime`` fallback), ONNX on onnxruntime
or OpenCV DNN, each checked against its sha256 pin.

Every model facegate runs goes through :func:`load_interpreter`, so the failure modes an
installer meets are the same for all of them and always end in a :class:`ModelError` whose
message names the file: the file is missing, its hash differs from the pinned one, no TFLite
runtime is installed, or the runtime refuses the bytes. The runtime is imported lazily so
that the package (config checks, the admin client, tests of pure code) imports without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from facegate.errors import ModelError

__all__ = [
    "first_line",
    "load_interpreter",
    "onnx_session",
    "opencv_net",
    "sha256_file",
    "verify_model_file",
]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20  # 1 MiB: large enough to be fast, small enough to stream any model
_HASH_PREFIX = 12  # hex digits of a hash shown in messages; enough to tell files apart


def sha256_file(path: str | Path) -> str:
    """Hash a file without reading it into memory at once.

    Args:
        path: The file to hash.

    Returns:
        The SHA-256 digest as 64 lowercase hex digits.

    Raises:
        OSError: The file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _interpreter_class() -> type[Any]:
    """Return the TFLite ``Interpreter`` class of whichever runtime is installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise ModelError(
                "no TFLite runtime is installed: install 'ai-edge-litert' "
                "(or 'tflite-runtime' where ai-edge-litert is unavailable)"
            ) from None
        logger.info("ai-edge-litert not found; using tflite_runtime")
    return Interpreter


def verify_model_file(path: str | Path, sha256: str | None = None) -> Path:
    """Check a model file exists and, when ``sha256`` is given, has that hash.

    Every model facegate loads (TFLite or dlib) goes through this before a parser sees it.

    Raises:
        ModelError: missing, unreadable, or a different hash than pinned.
    """
    path = Path(path)
    if not path.is_file():
        # dlib's files come only with `--with dlib` (issue 20: dlib left the default path),
        # the optional anti-spoofing model only with `--with antispoof` (issue 16).
        extra = " --with dlib" if path.name.startswith(("dlib_", "shape_predictor_")) else ""
        extra = " --with antispoof" if path.name == "FaceAntiSpoofing.tflite" else extra
        raise ModelError(f"model file not found: {path} (run `facegate models install{extra}`)")
    if sha256 is not None:
        expected = sha256.strip().lower()
        try:
            actual = sha256_file(path)
        except OSError as exc:
            raise ModelError(f"cannot read model file {path}: {exc.strerror or exc}") from exc
        if actual != expected:
            raise ModelError(
                f"model file {path} has the wrong sha256: expected "
                f"{expected[:_HASH_PREFIX]}…, got {actual[:_HASH_PREFIX]}… "
                "(re-run `facegate models install` or fix the pinned hash)"
            )
    return path


# The runtime's C++ logger writes this to file descriptor 2 on every interpreter (no setting
# or environment variable turns it off): a stray line on nearly every command.
_DELEGATE_NOTICE = b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU."


@contextlib.contextmanager
def _without_delegate_notice() -> Iterator[None]:
    """Hold back file descriptor 2 while an interpreter is made, then pass on every line
    written meanwhile except the runtime's XNNPACK notice (warnings and errors still show)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable stderr: nothing to keep clean
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [
                line
                for line in held.read().splitlines(keepends=True)
                if line.rstrip(b"\r\n") != _DELEGATE_NOTICE
            ]
            if kept:
                os.write(2, b"".join(kept))


def load_interpreter(
    path: str | Path,
    *,
    sha256: str | None = None,
    num_threads: int = 2,
) -> Any:
    """Load a ``.tflite`` model and allocate its tensors.

    Args:
        path: The model file.
        sha256: The expected SHA-256 of the file (hex, any case). When given, a file with
            another hash is refused before the runtime ever parses it.
        num_threads: CPU threads the runtime may use for one invocation.

    Returns:
        A ready ``Interpreter`` (from ``ai_edge_litert`` or ``tflite_runtime``) on which
        ``allocate_tensors()`` has been called.

    Raises:
        ModelError: The file is missing or unreadable, its hash differs from ``sha256``, no
            TFLite runtime is installed, or the runtime cannot load the file.
    """
    path = verify_model_file(path, sha256)

    interpreter_cls = _interpreter_class()
    try:
        with _without_delegate_notice():
            interpreter = interpreter_cls(model_path=str(path), num_threads=num_threads)
            interpreter.allocate_tensors()
    except Exception as exc:  # the runtimes raise ValueError/RuntimeError with C++ text
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load model file {path}: {reason}") from exc

    logger.info("loaded model %s (%s threads)", path, num_threads)
    return interpreter


def first_line(exc: BaseException) -> str:
    """The first line of a runtime's error (its name when the message is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def onnx_session(path: Path, num_threads: int) -> Any:
    """An onnxruntime CPU session for an ONNX file, on ``num_threads`` threads.

    Raises:
        ModelError: onnxruntime cannot load the file.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Threads that spin between calls would burn the core the detector needs.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise ModelError(f"cannot load model file {path}: {first_line(exc)}") from exc


def opencv_net(path: Path) -> Any:
    """OpenCV DNN's network for an ONNX file.

    Raises:
        ModelError: OpenCV cannot load the file.
    """
    import cv2

    try:
        return cv2.dnn.readNetFromONNX(str(path))
    except cv2.error as exc:
        raise ModelError(f"cannot load model file {path}: {first_line(exc)}") from exc
