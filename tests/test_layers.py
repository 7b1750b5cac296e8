"""The import-layer contract of docs/design.md §2: a module imports only from its own
layer or the layers below it.

Read from the source with ``ast`` (no module is imported), so an import inside a
function counts as much as one at the top: a lazy import postpones the cost, not the
dependency.  A unit is a top-level module or subpackage of ``commlb`` (``commlb.bounds``,
``commlb.simulate``); the command line in ``cli/`` is the unit ``cli``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Lowest layer first.  Same table as docs/design.md §2.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "bits", "core", "registry", "plugins", "chain", "validate", "deadline", "display"),
    ("kernels",),
    ("problems", "tasks", "setup", "costs", "execution"),
    ("models",),
    ("protocol", "imported"),
    ("bounds",),
    ("reductions",),
    ("prose", "transcript_view"),
    ("witness",),
    ("simulate",),
    ("sweep", "sweep_plot", "explain", "testing", "figures", "precompile"),
    ("cli", "__init__"),
)

LAYER_OF = {unit: k for k, units in enumerate(LAYERS) for unit in units}


def _sources(root: Path) -> list[tuple[str, Path]]:
    """(dotted module name, path) of every module of the package and of cli/."""
    out = []
    for path in sorted((root / "commlb").rglob("*.py")):
        rel = path.relative_to(root / "commlb").with_suffix("")
        if rel.parts[0] == "cli":  # the link commlb/cli -> ../cli; read under cli/
            continue
        out.append((".".join(("commlb", *rel.parts)), path))
    for path in sorted((root / "cli").rglob("*.py")):
        rel = path.relative_to(root / "cli").with_suffix("")
        out.append((".".join(("commlb", "cli", *rel.parts)), path))
    return [(name.removesuffix(".__init__"), path) for name, path in out]


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, absolute dotted name) of every ``commlb`` import in the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
            else:
                base = ""
            target = ".".join(p for p in (base, node.module or "") if p)
            if node.module is None:  # from . import a, b: each name may be a module
                found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return [(line, name) for line, name in found if name == "commlb" or name.startswith("commlb.")]


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports(root: Path) -> list[str]:
    """Every import of a higher layer, and every unit the table does not place."""
    problems = []
    for module, path in _sources(root):
        unit = _unit(module)
        if unit not in LAYER_OF:
            problems.append(f"{path.relative_to(root)}: unit {unit!r} has no layer in docs/design.md §2")
            continue
        for line, target in _imports(module, path):
            other = _unit(target)
            if LAYER_OF.get(other, -1) > LAYER_OF[unit]:
                problems.append(
                    f"{path.relative_to(root)}:{line}: {module} (layer {LAYER_OF[unit]}, {unit}) "
                    f"imports {target} (layer {LAYER_OF[other]}, {other})")
    return problems


def test_no_upward_imports():
    problems = upward_imports(ROOT)
    assert not problems, "upward imports (docs/design.md §2):\n" + "\n".join(problems)


def test_the_check_sees_an_upward_import(tmp_path):
    """A copy of a small tree with one upward import added on purpose fails the check,
    lazy (inside a function) or not, relative or absolute."""
    (tmp_path / "cli").mkdir()
    (tmp_path / "cli" / "__init__.py").write_text("")
    pkg = tmp_path / "commlb"
    (pkg / "bounds").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .core import Problem\n")
    (pkg / "core.py").write_text("import numpy as np\n")
    (pkg / "simulate.py").write_text("from .bounds import rank\n")
    (pkg / "bounds" / "__init__.py").write_text("")
    (pkg / "bounds" / "rank.py").write_text("from ..core import Problem\n")
    assert upward_imports(tmp_path) == []

    (pkg / "bounds" / "rank.py").write_text(
        "from ..core import Problem\n\ndef f():\n    from ..simulate import run\n")
    (pkg / "core.py").write_text("import commlb.bounds.rank\n")
    (pkg / "extra.py").write_text("")
    found = upward_imports(tmp_path)
    assert any("bounds/rank.py:4" in p and "commlb.simulate" in p for p in found), found
    assert any("core.py:1" in p and "commlb.bounds.rank" in p for p in found), found
    assert any("'extra' has no layer" in p for p in found), found
    assert len(found) == 3


def test_the_design_notes_state_the_same_table():
    """docs/design.md §2 lists the layers in a fenced block, lowest first, one line a
    layer: the same table as :data:`LAYERS`."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text.split("## 2.", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```text\n(.*?)```", section, re.S)
    assert block, "docs/design.md §2 has no ```text block with the layer table"
    rows = [line.split(":", 1)[1] for line in block.group(1).splitlines() if ":" in line]
    table = tuple(tuple(u.strip().removeprefix("commlb/").removesuffix("/").removesuffix(".py")
                        for u in row.split(",")) for row in rows)
    assert table == LAYERS


@pytest.mark.parametrize("unit", sorted(LAYER_OF))
def test_every_unit_in_the_table_exists(unit):
    """No stale rows: each unit of the table is a module or package of the tree."""
    if unit in ("__init__", "cli"):
        return
    assert (ROOT / "commlb" / f"{unit}.py").exists() or (ROOT / "commlb" / unit / "__init__.py").exists()
