"""Writing pinned model files into the models folder: verified first, then renamed in place.

Every file is streamed into ``DEST/.NAME.partial`` while being hashed; its size and SHA-256
are checked against the pin before :func:`commit` renames it over its fixed name with
:func:`os.replace` and fsyncs the folder. A failure removes the ``.partial`` files
(:func:`discard`) and never touches a file that was already good.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

from facegate.errors import ModelInstallError

from .manifest import Artifact, InstalledFile

__all__ = [
    "commit",
    "discard",
    "hash_message",
    "install_verified",
    "one_line",
    "os_error_message",
    "partial_path",
    "prepare_dest",
    "short",
    "work_dir",
    "write_partial",
]

logger = logging.getLogger(__name__)

_CHUNK: Final = 1 << 20

_HASH_PREFIX: Final = 8  # hex digits of a hash shown in messages

_FILE_MODE: Final = 0o644

_DIR_MODE: Final = 0o755

_MAX_REASON: Final = 200  # characters of pip's stderr quoted in an error


def short(digest: str) -> str:
    return f"{digest[:_HASH_PREFIX]}…"


def hash_message(what: str, artifact: Artifact, actual: str, pinned: str) -> str:
    return (
        f"{what} from {artifact.requirement} has sha256 {short(actual)} but facegate pins "
        f"{short(pinned)}; refusing to install it"
    )


def one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 1] + "…"


def prepare_dest(dest: Path) -> None:
    if dest.exists() and not dest.is_dir():
        raise ModelInstallError(f"models folder {dest} exists but is not a directory")
    if dest.is_dir():
        return
    try:
        dest.mkdir(mode=_DIR_MODE, parents=True)
        os.chmod(dest, _DIR_MODE)  # mkdir's mode is filtered by the umask
    except FileExistsError:
        pass
    except OSError as exc:
        raise ModelInstallError(
            os_error_message(f"cannot create models folder {dest}", exc)
        ) from exc


def os_error_message(what: str, exc: OSError) -> str:
    hint = ""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = " (run as root, or choose a writable folder with --dir)"
    return f"{what}: {exc.strerror or exc}{hint}"


@contextmanager
def work_dir(dest: Path) -> Iterator[Path]:
    """A private temporary folder next to ``dest`` (same disk), else in the system temp."""
    try:
        path = Path(tempfile.mkdtemp(prefix=".facegate-models-", dir=dest.parent))
    except OSError:
        path = Path(tempfile.mkdtemp(prefix="facegate-models-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def partial_path(dest: Path, model_file: InstalledFile) -> Path:
    return dest / f".{model_file.name}.partial"


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the renames are still done
    finally:
        os.close(fd)


def write_partial(
    source: IO[bytes],
    partial: Path,
    model_file: InstalledFile,
    artifact: Artifact,
    advance: Callable[[int], None],
) -> None:
    """Stream ``source`` into ``partial``, then check its size and hash against the pin."""
    partial.unlink(missing_ok=True)  # a leftover of a killed run
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(partial, flags | getattr(os, "O_CLOEXEC", 0), _FILE_MODE)
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
            size += len(chunk)
            advance(len(chunk))
        out.flush()
        os.fchmod(out.fileno(), _FILE_MODE)  # the umask filtered the mode given to open
        os.fsync(out.fileno())
    actual = digest.hexdigest()
    if actual != model_file.sha256 or size != model_file.size:
        raise ModelInstallError(hash_message(model_file.name, artifact, actual, model_file.sha256))


def discard(staged: Sequence[tuple[Path, Path]]) -> None:
    for partial, _final in staged:
        try:
            partial.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("cannot remove %s: %s", partial, exc.strerror or exc)


def commit(staged: Sequence[tuple[Path, Path]], dest: Path) -> None:
    """Rename every verified ``.partial`` over its final name, then fsync the folder."""
    try:
        for index, (partial, final) in enumerate(staged):
            try:
                os.replace(partial, final)
            except OSError as exc:
                discard(staged[index:])
                raise ModelInstallError(os_error_message(f"cannot install {final}", exc)) from exc
    finally:
        _fsync_dir(dest)


def install_verified(
    source: IO[bytes], dest: Path, model_file: InstalledFile, artifact: Artifact
) -> None:
    """Stream ``source`` into ``dest`` as ``model_file``: its ``.partial`` checked, then renamed.

    Raises:
        ModelInstallError: The bytes do not match the pin, or ``dest`` cannot be written;
            no ``.partial`` is left behind.
    """
    partial = partial_path(dest, model_file)
    staged = [(partial, dest / model_file.name)]
    try:
        write_partial(source, partial, model_file, artifact, lambda _n: None)
    except OSError as exc:
        discard(staged)
        raise ModelInstallError(
            os_error_message(f"cannot write {dest / model_file.name}", exc)
        ) from exc
    except BaseException:
        discard(staged)
        raise
    commit(staged, dest)
