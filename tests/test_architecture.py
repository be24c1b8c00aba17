"""The package's shape, checked: layers, no import cycles, small modules.

Every ``import`` of a facegate module counts, wherever it is written: at the top, inside a
function (a lazy import is still a dependency) or under ``TYPE_CHECKING``. The layer order is
the README's architecture section, bottom to top; a module may import its own package and any
package of a lower layer, never a higher one, and no two modules may import each other, even
through others.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "daemon" / "facegate"

# Bottom to top. Packages on one line are peers: they may import each other as long as the
# module graph stays acyclic.
LAYERS: list[set[str]] = [
    {"errors", "clock", "__init__"},
    {"config"},
    {"policy", "gate", "readers", "capture", "store", "models", "vision"},
    {"audit", "recognition", "compliance", "compound"},
    {"admin"},
    {"service"},
    {"measure", "demo"},
    {"cli", "web", "__main__"},
]
MAX_MODULE_LINES = 500
MAX_APP_LINES = 300


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The facegate modules that ``name`` imports (resolved to modules that exist)."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    targets: set[str] = set()

    def add(dotted: str) -> None:
        while dotted not in MODULES and "." in dotted:
            dotted = dotted.rsplit(".", 1)[0]
        if dotted in MODULES and dotted != name:
            targets.add(dotted)

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("facegate"):
                continue
            add(module)
            for alias in node.names:
                if f"{module}.{alias.name}" in MODULES:
                    add(f"{module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("facegate"):
                    add(alias.name)
    return targets


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(package: str) -> int:
    for index, layer in enumerate(LAYERS):
        if package in layer:
            return index
    raise AssertionError(f"package {package!r} is in no layer: add it to LAYERS and the README")


def test_every_package_has_a_layer() -> None:
    for module in MODULES:
        _layer(_package(module))


def test_no_module_imports_a_higher_layer() -> None:
    upward = [
        f"{a} ({_package(a)}, layer {_layer(_package(a))}) imports {b} "
        f"({_package(b)}, layer {_layer(_package(b))})"
        for a, targets in sorted(GRAPH.items())
        for b in sorted(targets)
        if _layer(_package(b)) > _layer(_package(a))
    ]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_between_modules() -> None:
    # A package's __init__ re-exports its own modules; that is not a cycle of design.
    def own_package(a: str, b: str) -> bool:
        return b == a.rsplit(".", 1)[0] and MODULES[b].name == "__init__.py"

    graph = {a: {b for b in targets if not own_package(a, b)} for a, targets in GRAPH.items()}
    cycles = _cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" ↔ ".join(c) for c in cycles)


def test_no_import_cycle_between_packages() -> None:
    packages: dict[str, set[str]] = defaultdict(set)
    for a, targets in GRAPH.items():
        for b in targets:
            if _package(a) != _package(b):
                packages[_package(a)].add(_package(b))
    cycles = _cycles(dict(packages))
    assert not cycles, "package cycles:\n" + "\n".join(" ↔ ".join(c) for c in cycles)


def test_the_checker_finds_what_it_should() -> None:
    """The checks above can fail: a cycle and an upward import are found."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert _layer("cli") > _layer("service") > _layer("store") > _layer("config")


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_small(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_MODULE_LINES, f"{module} has {lines} lines (at most {MAX_MODULE_LINES})"


def test_app_is_a_readable_supervisor() -> None:
    tree = ast.parse(MODULES["facegate.service.app"].read_text(encoding="utf-8"))
    app = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "App")
    assert app.end_lineno is not None
    lines = app.end_lineno - app.lineno + 1
    assert lines < MAX_APP_LINES, f"App is {lines} lines (under {MAX_APP_LINES})"


def _reachable(start: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(GRAPH.get(module, ()))
    return seen


def _store_reached(graph_roots: set[str]) -> list[str]:
    return sorted(m for m in _reachable(graph_roots) if _package(m) == "store")


def test_the_web_console_never_imports_the_store_or_keys() -> None:
    """facegate-web holds no keys and never opens the database (issue 18): no module of
    ``facegate.web`` imports ``facegate.store`` (the database, the master and device keys),
    directly or through anything it imports; it reaches the gate through the admin socket."""
    web = {m for m in MODULES if _package(m) == "web"}
    assert web, "facegate.web is missing"
    reached = _store_reached(web)
    assert not reached, "facegate.web reaches the store:\n" + "\n".join(reached)
    # The check can fail: the CLI, which may open the store, does reach it.
    assert _store_reached({m for m in MODULES if _package(m) == "cli"})
