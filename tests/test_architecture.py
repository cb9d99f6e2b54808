"""The package's architecture, checked on its source with ``ast``.

* No private name crosses a module boundary: no ``from relunet.x import _name`` and no
  ``module._name`` read on an imported relunet module.
* Imports point down the layer order
  ``errors < core < io < training < data < insight < interop < playground < cli``: a module-level
  import of a higher layer is an error; a function-level (lazy) import of a higher layer is
  allowed only where :data:`LAZY_UP_ALLOWED` says so, with the reason.

The top-level ``relunet/__init__.py``, ``__main__.py`` and ``sklearn.py`` (the public
shims) may import any layer (but no private name); importing the top-level package ``relunet`` counts as importing the
``cli`` layer (the package re-exports every layer below it).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import relunet

SRC = Path(relunet.__file__).resolve().parent
LAYERS = ("errors", "core", "io", "training", "data", "insight", "interop", "playground", "cli")
EXEMPT = {"relunet", "relunet.__main__", "relunet.sklearn"}

#: lazy (function-level) imports that point up a layer, each with the reason it is needed:
#: (importing module, function qualname, imported module) -> reason
LAZY_UP_ALLOWED: dict[tuple[str, str, str], str] = {
    ("relunet.core.network", "MLP.fit", "relunet.training.engine"):
        "the MLP facade: net.fit(...) runs the training engine, which builds on core",
    ("relunet.core.network", "MLP.save", "relunet.io.modelfile"):
        "the MLP facade: net.save(path) writes the model file format, which builds on core",
    ("relunet.core.network", "MLP.to_onnx", "relunet.interop.onnx"):
        "the MLP facade: net.to_onnx(path) runs the ONNX exporter, which builds on core",
}

#: offenders in files other helpers own (relunet issue 12); this set must shrink to empty
#: once their work is merged. Each is the text :func:`_offenders` reports.
KNOWN_OFFENDERS: set[str] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split(".")[1:]) if "." in name else Path()
    return name == "relunet" or (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _rank(module: str) -> int | None:
    """The layer of a relunet module (the top-level package counts as cli)."""
    parts = module.split(".")
    if module in EXEMPT or len(parts) == 1:
        return LAYERS.index("cli") if parts == ["relunet"] else None
    top = parts[1]
    return LAYERS.index(top) if top in LAYERS else None


@dataclass
class _Import:
    target: str  # the relunet module imported
    names: list[str]  # the names taken from it (ImportFrom) or [] (Import)
    function: str | None  # qualname of the enclosing function, None at module level
    bound: dict[str, str]  # local name -> relunet module it denotes


def _imports(tree: ast.Module) -> list[_Import]:
    out: list[_Import] = []

    def visit(node: ast.AST, scope: list[str], function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = [*scope, child.name]
                visit(child, inner, ".".join(inner))
                continue
            if isinstance(child, ast.ClassDef):
                visit(child, [*scope, child.name], function)
                continue
            if isinstance(child, ast.Import):
                for a in child.names:
                    if a.name.split(".")[0] == "relunet":
                        local = a.asname or a.name.split(".")[0]
                        out.append(_Import(a.name, [], function, {local: a.name if a.asname else "relunet"}))
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module \
                    and child.module.split(".")[0] == "relunet":
                for a in child.names:
                    full = f"{child.module}.{a.name}"
                    if _is_module(full):
                        out.append(_Import(full, [], function, {a.asname or a.name: full}))
                    else:
                        out.append(_Import(child.module, [a.name], function, {}))
            visit(child, scope, function)

    visit(tree, [], None)
    return out


def _private_reads(tree: ast.Module, bound: dict[str, str]) -> list[tuple[int, str]]:
    """``alias._name`` (or ``relunet.pkg.mod._name``) reads on names bound to relunet modules."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain: list[str] = []
        base: ast.AST = node
        while isinstance(base, ast.Attribute):
            chain.insert(0, base.attr)
            base = base.value
        if not isinstance(base, ast.Name) or base.id not in bound:
            continue
        module = bound[base.id]
        for attr in chain:
            if _is_module(f"{module}.{attr}"):
                module = f"{module}.{attr}"
                continue
            if _is_private(attr):
                found.append((node.lineno, f"{module}.{attr}"))
            break
    return sorted(set(found))


def _offenders(path: Path) -> list[str]:
    return _offenders_in(_module_name(path), path.read_text(encoding="utf-8"))


def _offenders_in(module: str, source: str) -> list[str]:
    tree = ast.parse(source)
    imports = _imports(tree)
    own = None if module in EXEMPT else _rank(module)  # the shims may import any layer
    found = []
    bound: dict[str, str] = {}
    for imp in imports:
        bound.update(imp.bound)
        for name in imp.names:
            if _is_private(name):
                found.append(f"{module}: imports private {imp.target}.{name}")
        rank = _rank(imp.target)
        if own is None or rank is None or rank <= own:
            continue
        if imp.function is None:
            found.append(f"{module}: module-level import up a layer: {imp.target}")
        elif (module, imp.function, imp.target) not in LAZY_UP_ALLOWED:
            found.append(f"{module}:{imp.function}: lazy import up a layer: {imp.target}")
    for _, name in _private_reads(tree, bound):
        found.append(f"{module}: reads private {name}")
    return sorted(set(found))


def _all_offenders() -> set[str]:
    return {o for path in sorted(SRC.rglob("*.py")) for o in _offenders(path)}


def test_no_private_names_across_modules_and_imports_point_down():
    new = sorted(_all_offenders() - KNOWN_OFFENDERS)
    assert not new, "architecture violations:\n" + "\n".join(new)


def test_known_offenders_are_still_offenders():
    """A fixed offender must leave :data:`KNOWN_OFFENDERS`, so the set only shrinks."""
    fixed = sorted(KNOWN_OFFENDERS - _all_offenders())
    assert not fixed, "fixed: remove from KNOWN_OFFENDERS:\n" + "\n".join(fixed)


def test_lazy_allow_list_entries_exist():
    """Every allowed lazy import is still there (a stale entry would hide nothing, but lies)."""
    seen = set()
    for path in SRC.rglob("*.py"):
        module = _module_name(path)
        for imp in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            seen.add((module, imp.function, imp.target))
    assert set(LAZY_UP_ALLOWED) <= seen, sorted(set(LAZY_UP_ALLOWED) - seen)


# -- the checker itself catches what it should ------------------------------------------

PROBE = "relunet.core.probe"  # a made-up core module the sources below pretend to be


@pytest.mark.parametrize("source, expected", [
    ("from relunet.training.optimizers import _number\n",
     "imports private relunet.training.optimizers._number"),
    ("from relunet.training import optimizers\nx = optimizers._ALIASES\n",
     "reads private relunet.training.optimizers._ALIASES"),
    ("from relunet.training import optimizers as o\ndef f():\n    return o._ALIASES\n",
     "reads private relunet.training.optimizers._ALIASES"),
    ("import relunet.training.optimizers\nx = relunet.training.optimizers._ALIASES\n",
     "reads private relunet.training.optimizers._ALIASES"),
    ("import relunet.data.datasets as d\nd._npy\n", "reads private relunet.data.datasets._npy"),
    ("from relunet.training import engine\n", "module-level import up a layer: relunet.training.engine"),
    ("from relunet import MLP\n", "module-level import up a layer: relunet"),
    ("from relunet.interop.sklearn import _check\n", "imports private relunet.interop.sklearn._check"),
    ("def g():\n    from relunet.cli import common\n", "g: lazy import up a layer: relunet.cli.common"),
])
def test_checker_finds(source, expected):
    found = _offenders_in(PROBE, source)
    assert any(expected in f for f in found), found


@pytest.mark.parametrize("source", [
    "from relunet.errors import ConfigError\nfrom relunet.core import activations\nactivations.names()\n",
    "from relunet.core import activations\nactivations.__name__\n",
    "import numpy as np\nnp._NoValue\n",
    "class A:\n    def fit(self):\n        from relunet.training import engine\n",  # not MLP.fit of network
])
def test_checker_accepts_or_flags_only_what_it_should(source):
    found = _offenders_in(PROBE, source)
    if "engine" in source:
        assert found == [f"{PROBE}:A.fit: lazy import up a layer: relunet.training.engine"]
    else:
        assert found == []


def test_the_shims_may_import_any_layer_but_no_private_name():
    assert _offenders_in("relunet.sklearn", "from relunet.interop.sklearn import MLPClassifier\n") == []
    assert _offenders_in("relunet.sklearn", "from relunet.interop.sklearn import _x\n") == [
        "relunet.sklearn: imports private relunet.interop.sklearn._x"]


def test_every_source_file_the_docs_name_exists():
    """The README and docs/*.md point readers at files (`relunet/interop/onnx.py`,
    `tests/test_tree.py`, ...); each must exist, or a reader's one guess fails."""
    root = SRC.parent.parent
    docs = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    if not docs[0].exists():
        pytest.skip("not a source checkout: no README.md beside src/")
    pattern = re.compile(r"`((?:src/)?(?:relunet|tests|examples|benchmarks)/[\w/]+\.py)`")
    missing = [(doc.name, path) for doc in docs for path in pattern.findall(doc.read_text())
               if not (root / path).exists() and not (root / "src" / path).exists()]
    assert not missing
