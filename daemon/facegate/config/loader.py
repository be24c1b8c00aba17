"""Load a YAML file into ``FacegateConfig``, reporting every problem with its line.

PyYAML's composer gives us the node tree with marks; pydantic gives error locations as key
paths. Walking the path through the node tree finds the line each problem is on, so
``facegate config check`` can print ``camera.fps (line 12): Input should be …`` like Frigate's
``--validate-config``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from .root import FacegateConfig

__all__ = ["format_problems", "load_config", "load_config_text"]

MAX_CONFIG_BYTES = 1_000_000


def load_config(path: str | Path) -> FacegateConfig:
    """Read and validate a configuration file.

    Raises:
        ConfigError: the file is missing, unreadable, not YAML, or not a valid configuration.
            ``problems`` has one ``key.path (line N): message`` line per problem.
    """
    p = Path(path)
    try:
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
    return load_config_text(text, source=str(p), base_dir=p.parent)


def load_config_text(
    text: str, *, source: str = "<config>", base_dir: Path | None = None
) -> FacegateConfig:
    """Validate configuration text; relative paths are resolved against ``base_dir``."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from None
    if data is None:
        raise ConfigError(f"{source}: the file is empty")
    if not isinstance(data, dict):
        raise ConfigError(f"{source} (line 1): the top level must be a mapping of sections")
    if base_dir is not None:
        _resolve_relative_paths(data, base_dir)
    try:
        return FacegateConfig.model_validate(data)
    except ValidationError as exc:
        problems = format_problems(exc, root)
        raise ConfigError(
            f"{source}: {len(problems)} problem(s) in the configuration", problems
        ) from None


def format_problems(exc: ValidationError, root: yaml.Node | None) -> list[str]:
    """One ``key.path (line N): message`` line per pydantic error."""
    lines: list[str] = []
    for err in exc.errors(include_url=False):
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
        key = ".".join(str(part) for part in path) or "(top level)"
        where = f" (line {line})" if line is not None else ""
        lines.append(f"{key}{where}: {msg}")
    return lines


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
