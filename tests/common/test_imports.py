"""No import cycle among the project's modules: the imports of backbones/ and tasks/ (at module level and
inside functions alike) form a DAG."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("backbones", "tasks")


def _modules() -> dict:
    mods = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def _imports(name: str, path: Path, mods: dict) -> set:
    """Project modules that ``name`` imports anywhere (a lazy import inside a function counts too)."""
    is_pkg = path.name == "__init__.py"
    out = set()
    for stmt in ast.walk(ast.parse(path.read_text())):
        if isinstance(stmt, ast.Import):
            out |= {a.name for a in stmt.names if a.name in mods}
        elif isinstance(stmt, ast.ImportFrom):
            if stmt.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (stmt.level - 1)]
                target = ".".join(base + ([stmt.module] if stmt.module else []))
            else:
                target = stmt.module or ""
            for alias in stmt.names:
                sub = f"{target}.{alias.name}"
                if sub in mods:
                    out.add(sub)
                elif target in mods:
                    out.add(target)
    out.discard(name)
    return out


def _cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_project_imports_form_no_cycle():
    mods = _modules()
    assert "tasks.common.runner" in mods and "backbones.implicit" in mods
    graph = {name: _imports(name, path, mods) for name, path in mods.items()}
    assert _cycles(graph) == []


def test_the_walk_finds_a_cycle_when_there_is_one():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _assigned_private_attributes(tree: ast.AST) -> list:
    """``obj._name = ...`` / ``setattr(obj, '_name', ...)`` where ``obj`` is not ``self`` / ``cls``."""
    found = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
        for t in targets:
            if (isinstance(t, ast.Attribute) and t.attr.startswith("_") and not t.attr.startswith("__")
                    and not (isinstance(t.value, ast.Name) and t.value.id in ("self", "cls"))):
                found.append(f"{node.lineno}: {ast.unparse(t)}")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr"
                and not (node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in ("self", "cls"))):
            name = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(name, ast.Constant) and not str(name.value).startswith("_")):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_project_code_writes_private_attributes_of_other_objects():
    # mmengine's Runner is extended by subclassing (tasks/common/runner.py); every upstream workaround that
    # must touch another library's internals lives in backbones/_compat.py, naming the version it works around
    found = {}
    for pkg in (*PACKAGES, "tools"):
        for path in (ROOT / pkg).rglob("*.py"):
            if path.relative_to(ROOT).as_posix() == "backbones/_compat.py":
                continue
            hits = _assigned_private_attributes(ast.parse(path.read_text()))
            if hits:
                found[path.relative_to(ROOT).as_posix()] = hits
    assert found == {}
    assert _assigned_private_attributes(ast.parse("runner._resume = False\nsetattr(r, '_x', 1)\nself._ok = 1")) == [
        "1: runner._resume", "2: setattr(r, '_x', 1)"]


def test_no_test_loads_a_script_by_path():
    # tests call the library (tasks.*) in-process or run a script as a user does, in a subprocess
    offenders = [p.name for p in (ROOT / "tests").rglob("*.py")
                 if "spec_from_file_location" in p.read_text() or "runpy" in p.read_text()]
    assert offenders == ["test_imports.py"]  # this file, for the two names above
