"""The structure of the maps and atlas rooms: each module imports alone, there is no import
cycle (module-level or deferred imports alike), nothing heavy happens at import time, and
every error class belongs to the one hierarchy (mbm_sig.errors)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "mbm_sig"
ROOMS = ("maps", "atlas")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(rooms=ROOMS) -> dict[str, Path]:
    out = {}
    for room in rooms:
        for p in sorted((PKG / room).rglob("*.py")):
            out[module_name(p)] = p
    return out


def imports_of(path: Path, name: str, known: set) -> set:
    """mbm_sig modules imported anywhere in a module (top level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1] + ([base] if base else []))
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.add(sub if sub in known else base)
    return {m for m in found if m in known and m != name}


def graph(rooms=ROOMS) -> dict[str, set]:
    mods = modules(rooms)
    known = set(mods)
    return {n: imports_of(p, n, known) for n, p in mods.items()}


def find_cycle(g: dict[str, set]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            # a package's __init__ re-exporting its submodules is not a cycle: a submodule
            # importing its own package is (it would see a half-initialised package)
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(g):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def test_cycle_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_maps_and_atlas():
    g = graph()
    assert "mbm_sig.maps.sheet" in g and "mbm_sig.maps.output.save" in g
    assert find_cycle(g) is None, " -> ".join(find_cycle(g))


def test_rooms_import_only_rooms_below():
    """output imports no map code; the map builder no recipe, atlas or catalogue."""
    g = graph()
    for n, deps in g.items():
        if n.startswith("mbm_sig.maps.output"):
            assert all(d.startswith(("mbm_sig.maps.output", "mbm_sig.maps.errors")) for d in deps), (n, deps)
        if n.startswith(("mbm_sig.maps.sheet", "mbm_sig.maps.types", "mbm_sig.maps.layout")):
            assert not any(d.startswith(("mbm_sig.maps.recipe", "mbm_sig.atlas")) for d in deps), (n, deps)


def test_each_module_imports_alone():
    """In one fresh interpreter, each module imported with no mbm_sig module loaded before
    it (third-party modules stay cached: the check is about our import order), and no print
    font made by any import."""
    code = """
import importlib, sys
names = sys.argv[1:]
bad = []
for name in names:
    for m in [m for m in sys.modules if m == "mbm_sig" or m.startswith("mbm_sig.")]:
        del sys.modules[m]
    try:
        importlib.import_module(name)
    except Exception as exc:
        bad.append(f"{name}: {type(exc).__name__}: {exc}")
    from mbm_sig.maps.output import fonts
    if fonts.ensure.cache_info().currsize:
        bad.append(f"{name}: the print font was made at import")
print("\\n".join(bad))
sys.exit(1 if bad else 0)
"""
    res = subprocess.run([sys.executable, "-c", code, *sorted(modules())], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]


def test_error_classes_belong_to_the_hierarchy():
    from mbm_sig.atlas.errors import AtlasError, AtlasFailure, FicheError
    from mbm_sig.errors import Failure, InvalidInput
    from mbm_sig.maps.classify import ClassificationError
    from mbm_sig.maps.errors import GhostscriptMissing, MapError, OutputError, RecipeError
    from mbm_sig.maps.expr import ExpressionError
    from mbm_sig.maps.palettes import PaletteError
    from mbm_sig.web.build import WebBuildError
    for cls in (MapError, RecipeError, ClassificationError, PaletteError, ExpressionError, AtlasError, FicheError):
        assert issubclass(cls, InvalidInput) and cls.exit_code == 2, cls
    for cls in (OutputError, GhostscriptMissing, AtlasFailure, WebBuildError):
        assert issubclass(cls, Failure) and cls.exit_code == 1, cls
    # every exception class defined in the maps and atlas rooms is in it
    for n, p in modules().items():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Error", "Failure", "Missing")):
                mod = __import__(n, fromlist=[node.name])
                assert issubclass(getattr(mod, node.name), (InvalidInput, Failure)), f"{n}.{node.name}"
