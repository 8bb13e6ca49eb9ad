"""The shape of the package, read from its source: no import circle (counting imports made
inside functions), the reports never reach training code, no module over 450 lines."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[1] / "haco"
MAX_LINES = 450
TRAINING = ("haco.train", "haco.model", "haco.losses", "haco.pretrain", "haco.sweep")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def owner(target: str) -> str | None:
    """The module of ours a dotted import target lands in (`haco.a.b.name` -> `haco.a.b`)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def imports(name: str) -> set[str]:
    """Modules of ours that `name` imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            targets = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        found |= {owner(t) for t in targets if t.startswith("haco")} - {None, name}
    return found


GRAPH = {name: imports(name) for name in MODULES}


def circles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in GRAPH:
        if name not in index:
            visit(name)
    return found


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in GRAPH[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_no_import_circle_even_through_imports_inside_functions():
    assert circles() == []


def test_the_reports_never_reach_training_code():
    report = [name for name in MODULES if name.startswith("haco.report")]
    assert report
    reached = {name: sorted(m for m in reachable(name) if m.startswith(TRAINING))
               for name in report}
    assert {name: found for name, found in reached.items() if found} == {}


def test_no_module_is_over_450_lines():
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_graph_sees_imports_inside_functions():
    """The check itself: an import inside a function is an edge (the report CLI loads the
    hand model inside `figures_main`)."""
    assert "haco.hand" in GRAPH["haco.report.cli"]


PATH_MENTION = r"(?<![\w/.])((?:haco|docs|analysis|sweeps|cluster|tests)/[\w./<>-]*\w)"


def test_the_files_docstrings_point_to_exist():
    """Module docstrings name files (`haco/sweep/grid.py`, `docs/design.md`); each must be
    there, so a reader following one never lands nowhere (a `<name>` is a placeholder)."""
    import re

    root = PACKAGE.parent
    missing = {}
    for name, path in MODULES.items():
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        for mention in re.findall(PATH_MENTION, doc):
            if "<" in mention or "*" in mention:
                continue
            if not (root / mention).exists():
                missing.setdefault(name, []).append(mention)
    assert missing == {}
