"""The lower layers import only downwards, and the peers among them form no cycle.

Layer order (bottom → top), as in RECUT-PLAN / the README's architecture section:
0 ``errors``, ``clock``; 1 ``config``; 2 ``policy``, ``gate``, ``readers``, ``capture``,
``store``, ``models``, ``vision``. The imports are read with ``ast`` (lazy imports inside
functions count too), so nothing is executed.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import facegate

ROOT = Path(facegate.__file__).resolve().parent
LAYERS: dict[str, int] = {
    "errors": 0,
    "clock": 0,
    "config": 1,
    **{p: 2 for p in ("policy", "gate", "readers", "capture", "store", "models", "vision")},
}


def _package_of(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    """The top-level facegate packages ``path`` imports (its own excluded)."""
    # Relative imports start at the package: a module's, or the one an __init__ is.
    here = list(path.relative_to(ROOT.parent).with_suffix("").parts)[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "facegate":
                target = node.module.split(".")
            else:
                continue
            names = [target] if len(target) > 1 else [["facegate", a.name] for a in node.names]
            found.update(t[1] for t in names if len(t) > 1)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "facegate" and len(parts) > 1:
                    found.add(parts[1])
    found.discard(_package_of(path))
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in LAYERS}
    for path in ROOT.rglob("*.py"):
        package = _package_of(path)
        if package in LAYERS:
            graph[package] |= _imports(path)
    return graph


def test_lower_layers_import_only_downwards() -> None:
    upward = [
        f"{package} (layer {LAYERS[package]}) imports {target}"
        for package, targets in _graph().items()
        for target in sorted(targets)
        if LAYERS.get(target, 99) > LAYERS[package]
    ]
    assert upward == []


def test_config_imports_nothing_of_facegate_but_errors_and_clock() -> None:
    assert _graph()["config"] <= {"errors", "clock"}


def test_lower_layers_have_no_import_cycle() -> None:
    try:
        tuple(TopologicalSorter(_graph()).static_order())
    except CycleError as exc:  # pragma: no cover - the message names the cycle
        raise AssertionError(f"import cycle: {exc.args[1]}") from None


def _module_imports(path: Path) -> set[str]:
    """The facegate modules ``path`` imports, as dotted names (packages as their __init__)."""
    package = list(path.relative_to(ROOT.parent).with_suffix("").parts)[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - node.level + 1]
        elif node.module and node.module.split(".")[0] == "facegate":
            base = []
        else:
            continue
        target = base + (node.module.split(".") if node.module else [])
        for alias in node.names:  # `from . import x` may name a module
            if (ROOT.parent / Path(*target, alias.name)).with_suffix(".py").is_file():
                found.add(".".join([*target, alias.name]))
                break
        else:
            found.add(".".join(target))
    return found


def test_lower_modules_have_no_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        if _package_of(path) in LAYERS:
            parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            graph[name] = {m for m in _module_imports(path) if m != name}
    # A package's __init__ re-exports its modules; an edge into the package means its __init__.
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:  # pragma: no cover - the message names the cycle
        raise AssertionError(f"import cycle: {exc.args[1]}") from None
