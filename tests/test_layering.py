"""The import layering of ``geomap/``: every arrow one way, checked by parsing the source.

Each module belongs to one floor; a module may import modules of its own floor or of a lower
one, never a higher one.  Every import counts: at the top of a module, inside a function, or
under ``if TYPE_CHECKING:``.  The package's ``__init__`` (the lazy public API, importing only
``geomap._lazy`` and ``geomap._version`` at run time) is the one module above every floor,
and no module may import it (``import geomap`` to reach ``geomap.read`` was such an arrow).

The floors follow the flow (``docs/architecture.md``) with documented exceptions:
``harmonize`` (the common schema, vocabularies and CRS rules, pure functions on frames) sits
*below* ``io``, because every reader applies those rules while reading; no harmonize module
reads a file.  ``grid`` (the analysis grid and its one raster sampler, pure functions on arrays)
sits below ``harmonize``: ``to_region`` puts rasters on a region's grid through
``grid.reproject_to``, so there is one route (one resampling) for a raster into a region.
``export`` (writing files) sits below ``render`` (drawing), which writes its figures through it.
``recipes`` (a recipe's datasets read and turned into an evidence stack) sit just below
``pipeline``: estimators, targets and outputs never depend on a recipe.
``training`` (the training audit's tables and report text) sits on recipes and below pipeline.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "geomap"

GROUND = "ground"
FLOORS = [
    GROUND,
    "catalog",
    "fetching",
    "grid",
    "harmonize",
    "io",
    "evidence",
    "models",
    "targets",
    "export",
    "render",
    "recipes",
    "training",
    "pipeline",
    "cli",
]
"""The floors, lowest first."""

GROUND_MODULES = {"errors", "_version", "_lazy", "_yaml", "_paths", "core", "styles", "data"}
"""First-level names of the ground floor: importable by every floor, importing no floor."""

FLOOR_OF_MODULE = {
    "fetching_official": "fetching",  # downloads of the official sources: resume, recorded hashes
    "sources": "recipes",  # which source a recipe layer uses (its preference list)
    "classes": "targets",  # prospectivity classes by share of the area, beside target ranking
    "target_pieces": "targets",  # cutting large targets into survey-sized pieces
    "target_components": "targets",  # connected target areas, in memory or block by block
    "testing": "cli",  # public test helpers (official-layout fixture files): imported by none
}
"""First-level modules that sit on a floor named otherwise."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def floor(module: str) -> str:
    """The floor of a geomap module (``"geomap"`` itself is the public API, above all)."""
    parts = module.split(".")
    if len(parts) == 1:
        return "api"
    if parts[1] == "__main__":  # `python -m geomap`: runs the CLI
        return "cli"
    if parts[1] in GROUND_MODULES:
        return GROUND
    if parts[1] in FLOOR_OF_MODULE:
        return FLOOR_OF_MODULE[parts[1]]
    if parts[1] not in FLOORS:
        raise AssertionError(f"{module}: add its floor to FLOORS or GROUND_MODULES")
    return parts[1]


def _resolve(name: str) -> str:
    """The geomap module an import names (``geomap.grid.region_grid`` -> ``geomap.grid``)."""
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name


def imports(module: str) -> list[tuple[int, str]]:
    """``(line, imported geomap module)`` for every import in ``module``, nested ones too."""
    path = MODULES[module]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")
                if path.name != "__init__.py":
                    package = package[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        found.extend((node.lineno, _resolve(n)) for n in names if n.split(".")[0] == "geomap")
    return found


def test_every_module_has_a_floor():
    assert len(MODULES) > 80
    for module in MODULES:
        floor(module)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "geomap"))
def test_no_module_imports_a_higher_floor(module):
    own = FLOORS.index(floor(module))
    upward = [
        f"{module}:{line} imports {target} ({floor(target)})"
        for line, target in imports(module)
        if target == "geomap" or FLOORS.index(floor(target)) > own
    ]
    assert not upward, "imports against the flow:\n" + "\n".join(upward)


def test_the_ground_floor_imports_no_stage():
    for module in MODULES:
        if module != "geomap" and floor(module) == GROUND:
            for line, target in imports(module):
                assert floor(target) == GROUND, f"{module}:{line} imports {target}"


def test_the_check_sees_nested_and_relative_imports():
    """The parser finds an import inside a function (the kind that used to run upward)."""
    found = imports("geomap.recipes.reading")
    assert any(target == "geomap.io" for _, target in found)  # `from geomap.io import read`
    assert floor("geomap.core.atomic") == GROUND and floor("geomap.export.cog") == "export"
