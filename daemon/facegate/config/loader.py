"""Load a YAML file into ``FacegateConfig``, reporting every problem with its line.

PyYAML's composer gives us the node tree with marks; pydantic gives error locations as key
paths. Walking the path through the node tree finds the line each problem is on, so
``facegate config check`` can print ``camera.fps (line 12): Input should be …`` like Frigate's
``--validate-config``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from .root import FacegateConfig

__all__ = ["format_problems", "load_config", "load_config_text"]

MAX_CONFIG_BYTES = 100_000  # five times the example with every option; parses in < 0.5 s
MAX_DEPTH = 32  # the deepest real option is five levels down
MAX_INT_DIGITS = 30  # no option needs more; Python refuses to parse past 4,300 digits
MAX_PROBLEMS = 20  # a file with thousands of mistakes is reported in a second, not minutes

_INT = re.compile(r"^[-+]?(0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[0-9][0-9_]*|0)$")


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses what a config file never needs.

    Duplicate keys (YAML says they are an error; PyYAML keeps the last one silently), nesting
    deeper than :data:`MAX_DEPTH`, integers longer than :data:`MAX_INT_DIGITS` digits and
    dates that do not exist (``2026-02-30``) are reported with their line instead of a
    traceback or a silent surprise.
    """

    _depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                problem = f"nested deeper than {MAX_DEPTH} levels"
                raise yaml.composer.ComposerError(None, None, problem, mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: Any) -> yaml.MappingNode:
        node: yaml.MappingNode = super().compose_mapping_node(anchor)
        seen: dict[str, int] = {}
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                if key.value in seen:
                    raise yaml.composer.ComposerError(
                        None,
                        None,
                        f"the key {key.value!r} appears twice (first on line {seen[key.value]})",
                        key.start_mark,
                    )
                seen[key.value] = key.start_mark.line + 1
        return node

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node))
        digits = text.lstrip("+-").replace("_", "")
        if not _INT.match(text) or not digits:
            raise yaml.constructor.ConstructorError(
                None, None, f"{text!r} is not an integer", node.start_mark
            )
        if len(digits) > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(digits)} digits is not a setting", node.start_mark
            )
        return super().construct_yaml_int(node)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError, TypeError, IndexError):
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a real date", node.start_mark
            ) from None

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        try:
            return super().construct_yaml_float(node)
        except (ValueError, OverflowError, IndexError):
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a number", node.start_mark
            ) from None


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_yaml_float)
_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)


def load_config(path: str | Path) -> FacegateConfig:
    """Read and validate a configuration file.

    Raises:
        ConfigError: the file is missing, unreadable, not YAML, or not a valid configuration.
            ``problems`` has one ``key.path (line N): message`` line per problem.
    """
    p = Path(path)
    try:
        if not p.is_file() and p.exists() and not p.is_dir():
            raise ConfigError(f"{p}: not a regular file")
        if p.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{p}: larger than {MAX_CONFIG_BYTES} bytes; not a config file")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a folder, not a config file") from None
    except PermissionError:
        raise ConfigError(f"{p}: permission denied") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    return load_config_text(text, source=str(p), base_dir=p.parent)


def load_config_text(
    text: str, *, source: str = "<config>", base_dir: Path | None = None
) -> FacegateConfig:
    """Validate configuration text; relative paths are resolved against ``base_dir``.

    Raises:
        ConfigError: and nothing else, whatever the text holds.
    """
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: larger than {MAX_CONFIG_BYTES} characters; not a config")
    root, data = _parse(text, source)
    if data is None:
        raise ConfigError(f"{source}: the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{source} (line 1): the top level must be a mapping of sections")
    try:
        if base_dir is not None:
            _resolve_relative_paths(data, base_dir)
        return FacegateConfig.model_validate(data)
    except ValidationError as exc:
        problems = format_problems(exc, root)
        raise ConfigError(
            f"{source}: {exc.error_count()} problem(s) in the configuration", problems
        ) from None
    except (ValueError, TypeError, OverflowError, RecursionError, OSError) as exc:
        raise ConfigError(f"{source}: not a valid configuration ({exc})") from None


def _parse(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """Compose the node tree (for line numbers) and construct the data from it, once."""
    root: yaml.Node | None = None
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text)
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
        if mark is None:
            raise ConfigError(f"{source}: not valid YAML: {problem}") from None
        if not isinstance(exc, (yaml.composer.ComposerError, yaml.constructor.ConstructorError)):
            problem = f"not valid YAML: {problem}"  # a syntax error: no key to name yet
        key = _path_at(root, mark) if root is not None else None
        where = f"{key} (line {mark.line + 1})" if key else f"{source} (line {mark.line + 1})"
        raise ConfigError(f"{where}: {problem}", [f"{where}: {problem}"]) from None
    except (ValueError, TypeError, OverflowError, IndexError, RecursionError) as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc})") from None
    finally:
        if loader is not None:
            loader.dispose()
    return root, data


def _path_at(root: yaml.Node, mark: Any) -> str | None:
    """The key path of the value that starts at ``mark`` (None when it is not a value)."""
    stack: list[tuple[yaml.Node, list[str]]] = [(root, [])]
    while stack:
        node, path = stack.pop()
        if node.start_mark.index == mark.index and path:
            return ".".join(_shown(p) for p in path)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = key.value if isinstance(key, yaml.ScalarNode) else "?"
                stack.append((value, [*path, str(name)]))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, [*path, str(i)]) for i, item in enumerate(node.value))
    return None


def format_problems(exc: ValidationError, root: yaml.Node | None) -> list[str]:
    """One ``key.path (line N): message`` line per pydantic error."""
    lines: list[str] = []
    errors = exc.errors(include_url=False)
    for err in errors[:MAX_PROBLEMS]:
        loc = list(err["loc"])
        path, line = _locate(root, loc)
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not an option here; check the spelling)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        value = err.get("input")
        if err["type"] not in ("extra_forbidden", "missing") and isinstance(
            value, (int, float, str, bool)
        ):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            msg = f"{msg} (got {shown})"
        key = ".".join(_shown(part) for part in path) or "(top level)"
        where = f" (line {line})" if line is not None else ""
        lines.append(f"{key}{where}: {msg}")
    if len(errors) > MAX_PROBLEMS:
        lines.append(f"… and {len(errors) - MAX_PROBLEMS} more problem(s) like these")
    return lines


def _shown(part: Any) -> str:
    """A key as the user wrote it, quoted when it holds spaces or control characters."""
    text = str(part)
    return text if text.isprintable() and text.strip() == text and text else repr(text)


def _locate(root: yaml.Node | None, loc: Sequence[Any]) -> tuple[list[Any], int | None]:
    """Follow a pydantic location through the YAML node tree.

    Returns the key path as the user wrote it (discriminator tags and union branch names that
    pydantic inserts are dropped) and the 1-based line of the deepest node found.
    """
    node = root
    path: list[Any] = []
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if node is None:
            path.append(part)
            continue
        if isinstance(node, yaml.MappingNode):
            child = _mapping_child(node, part)
            if child is None:
                if _is_union_tag(node, part):
                    continue  # pydantic's discriminator tag: not a key the user wrote
                path.append(part)
                node = None
                continue
            key_node, value_node = child
            path.append(part)
            line = key_node.start_mark.line + 1
            node = value_node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            path.append(part)
            if 0 <= part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                node = None
        else:
            if isinstance(part, str) and not path:
                continue
            # A scalar where a structure was expected, or a union branch name: stay on it.
            if not _looks_like_branch(part):
                path.append(part)
    return path, line


def _mapping_child(node: yaml.MappingNode, key: Any) -> tuple[yaml.Node, yaml.Node] | None:
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(key):
            return key_node, value_node
    return None


def _is_union_tag(node: yaml.MappingNode, part: Any) -> bool:
    type_child = _mapping_child(node, "type")
    if (
        type_child is not None
        and isinstance(type_child[1], yaml.ScalarNode)
        and type_child[1].value == str(part)
    ):
        return True
    return _looks_like_branch(part)


def _looks_like_branch(part: Any) -> bool:
    # pydantic names union branches like "int" or "function-after[...]" in locations.
    return isinstance(part, str) and (part in {"int", "str", "float", "bool"} or "[" in part)


def _resolve_relative_paths(data: dict[str, Any], base_dir: Path) -> None:
    """Make relative file paths in the config relative to the config file, not the cwd."""
    embedder = data.get("embedder")
    if isinstance(embedder, dict) and embedder.get("type") == "tflite":
        # A tflite model is a file you supply; the dlib models are names in the models folder.
        _resolve_keys(embedder, ("model",), base_dir)
    for section, keys in (
        ("camera", ("path",)),
        ("models", ("dir",)),
        ("store", ("state_dir", "key_file")),
    ):
        sub = data.get(section)
        if isinstance(sub, dict):
            _resolve_keys(sub, keys, base_dir)


def _resolve_keys(sub: dict[str, Any], keys: tuple[str, ...], base_dir: Path) -> None:
    for key in keys:
        value = sub.get(key)
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            sub[key] = str((base_dir / value).resolve())
        elif isinstance(value, str) and value.startswith("~"):
            sub[key] = str(Path(value).expanduser())
