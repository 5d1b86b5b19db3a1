"""The package's layout: which subpackage may import which, and module sizes.

The layers, lowest first: the core (arrays in, arrays out), the solvers,
then text (phase 1) and metrics (evaluation), the recommenders, the
baselines, and on top persistence, the command line and Dask scoring.  Evaluation never
imports an estimator; the core imports nothing of the package.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_l3ae"

# What each part of the package may import from the package (besides itself).
ALLOWED = {
    "_core": set(),
    "_solvers": {"_core"},
    "text": {"_core"},
    "metrics": {"_core"},
    "model_selection": {"_core"},
    "datasets": {"_core"},
    "recommenders": {"_core", "_solvers", "text", "metrics"},
    "baselines": {
        "_core",
        "_solvers",
        "text",
        "metrics",
        "model_selection",
        "recommenders",
    },
    # The file format builds its whitelist from the public namespaces at
    # load time (sklearn_l3ae, sklearn_l3ae.baselines), naming no class.
    "persistence": {"_core", "__init__", "baselines"},
    "cli": {
        "__init__",
        "_core",
        "datasets",
        "metrics",
        "model_selection",
        "persistence",
        "recommenders",
        "text",
    },
    "__init__": {"_core", "metrics", "persistence", "recommenders", "text"},
    "__main__": {"cli"},
    # Scoring Dask DataFrames: long tables in and out, any fitted model.
    "distributed": {"_core", "datasets", "text"},
}
# One concept each, over the usual size: the ranking metric functions and
# their shared documentation; the base class of every recommender.
LARGE_MODULES = {"metrics/_ranking_metrics.py", "recommenders/_base.py"}
MAX_LINES = 500


def _part(path):
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def _imported_parts(path):
    """The parts of the package that ``path`` imports, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = path.relative_to(PACKAGE).parent.parts
    parts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                base = package[: len(package) - (node.level - 1)]
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [alias.name for alias in node.names] if not target else []
            else:
                if not (node.module or "").startswith("sklearn_l3ae"):
                    continue
                target = node.module.split(".")[1:]
                names = [alias.name for alias in node.names] if not target else []
            if target:
                parts.add(target[0])
            else:  # from sklearn_l3ae import x: a subpackage, or a name of it
                parts.update(name if _is_part(name) else "__init__" for name in names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sklearn_l3ae"):
                    parts.add((alias.name.split(".") + ["__init__"])[1])
    return parts


def _is_part(name):
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_one_way(path):
    part = _part(path)
    imported = _imported_parts(path) - {part}
    assert part in ALLOWED, f"{part} has no import rule in this test"
    assert imported <= ALLOWED[part], (
        f"{path.relative_to(PACKAGE)} imports {sorted(imported - ALLOWED[part])}, "
        f"which {part} may not"
    )


def test_the_import_rules_can_fail():
    """The rule reader sees relative and absolute imports of every form."""
    assert _imported_parts(PACKAGE / "_core" / "blocked_lapack.py") == set()
    # `from . import blocked_lapack` names its own part too.
    assert _imported_parts(PACKAGE / "_core" / "linalg.py") == {"_core"}
    # A core module importing its neighbour names its own part.
    assert _imported_parts(PACKAGE / "_core" / "ranking.py") == {"_core"}
    base = PACKAGE / "recommenders" / "_base.py"
    assert {"_core", "metrics"} <= _imported_parts(base)
    assert "recommenders" in _imported_parts(PACKAGE / "baselines" / "_fusion.py")
    assert {"persistence", "recommenders"} <= _imported_parts(PACKAGE / "__init__.py")
    # `from .. import load, save` names the package's own namespace.
    assert "__init__" in _imported_parts(PACKAGE / "cli" / "_commands.py")


def _lines(path):
    return len(path.read_text(encoding="utf-8").splitlines())


@pytest.mark.parametrize(
    "path",
    [p for p in _modules() if str(p.relative_to(PACKAGE)) not in LARGE_MODULES],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_modules_stay_small(path):
    lines = _lines(path)
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines: split it by concept"


def test_the_large_module_exemptions_are_needed():
    for name in LARGE_MODULES:
        assert _lines(PACKAGE / name) > MAX_LINES, f"{name} no longer needs it"
