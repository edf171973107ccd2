"""The public API: every top-level name resolves, and every public name is documented."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import pytest

import geomap


def _modules() -> list[str]:
    """Every geomap module, private ones too (their ``__all__`` names are re-exported)."""
    return sorted(["geomap", *(m.name for m in pkgutil.walk_packages(geomap.__path__, "geomap."))])


def test_every_top_level_name_resolves_lazily():
    names = geomap.__all__
    assert {"build", "BuildSettings", "model_region", "read", "build_packet"} <= set(names)
    assert set(names) <= set(dir(geomap))
    for name in names:
        assert getattr(geomap, name) is not None, name
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        geomap.no_such_name  # noqa: B018


def test_notebooks_import_only_from_the_top_level():
    import json
    import re

    # the vocabulary helpers stay in their package; geomap.testing makes offline fixture files
    allowed = {"geomap", "geomap.harmonize", "geomap.testing"}
    for path in sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] != "code":
                continue
            for module in re.findall(
                r"^\s*from (geomap[\w.]*) import", "".join(cell["source"]), re.M
            ):
                assert module in allowed, f"{path.name}: from {module} import ..."


def _undocumented_members(cls: type) -> list[str]:
    missing = []
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        func = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
        if (callable(func) or isinstance(member, property)) and not (func.__doc__ or "").strip():
            missing.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    return missing


def _constants(module: Any) -> tuple[set[str], set[str]]:
    """Names assigned at module level, and those followed by a string (or with a comment above)."""
    source = Path(module.__file__).read_text(encoding="utf-8")
    lines = source.splitlines()
    body = ast.parse(source).body
    assigned: set[str] = set()
    documented: set[str] = set()
    for i, node in enumerate(body):
        if not isinstance(node, ast.Assign | ast.AnnAssign):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = {t.id for t in targets if isinstance(t, ast.Name)}
        assigned |= names
        nxt = body[i + 1] if i + 1 < len(body) else None
        if (
            isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ) or lines[node.lineno - 2].lstrip().startswith("#"):
            documented |= names
    return assigned, documented


def test_every_public_name_is_documented():
    """Functions, classes, their methods and properties, and constants in any ``__all__``."""
    missing: list[str] = []
    seen: set[int] = set()
    for module_name in _modules():
        module = importlib.import_module(module_name)
        constants = None
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                if id(obj) in seen:
                    continue
                seen.add(id(obj))
                if not (obj.__doc__ or "").strip():
                    missing.append(f"{obj.__module__}.{obj.__qualname__}")
                if obj.__module__.startswith("geomap") and inspect.isclass(obj):
                    missing.extend(_undocumented_members(obj))
            elif not inspect.ismodule(obj):
                assigned, documented = constants = constants or _constants(module)
                if name in assigned and name not in documented:  # checked where defined
                    missing.append(f"{module_name}.{name}")
    assert len(_modules()) > 80
    assert not missing, f"{len(missing)} public names without a docstring: {sorted(missing)}"


def test_the_version_is_the_projects():
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert geomap.__version__ == pyproject["project"]["version"]
