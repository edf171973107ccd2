"""Lazy re-exports: a package names its public API without importing heavy modules up front."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports", "lazy_exports_from_stub_block", "type_checking_imports"]


def lazy_exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the ``__getattr__`` and ``__dir__`` of a package that re-exports ``names``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : mapping
        Public name -> the module defining it; imported on first access, then cached in the
        package namespace.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module protocol's name
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__


def type_checking_imports(source: str) -> dict[str, str]:
    """Return ``{name: module}`` of the ``from module import name`` under ``if TYPE_CHECKING:``.

    Examples
    --------
    >>> lines = ["if TYPE_CHECKING:", "    from geomap.grid import region_grid as region_grid"]
    >>> type_checking_imports(chr(10).join(lines))
    {'region_grid': 'geomap.grid'}
    """
    import ast  # only when a lazy name is first used: `import geomap` stays light

    names: dict[str, str] = {}
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")):
            continue
        for statement in node.body:
            if isinstance(statement, ast.ImportFrom) and statement.module:
                for alias in statement.names:
                    names[alias.asname or alias.name] = statement.module
    return names


def lazy_exports_from_stub_block(
    package: str, file: str
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``__getattr__`` and ``__dir__`` re-exporting the package's ``TYPE_CHECKING`` imports.

    The public names are listed once, as ``from module import name as name`` lines in an
    ``if TYPE_CHECKING:`` block of the package's ``__init__.py``: type checkers and IDEs read
    them there, and at run time this parses that block (on first use, not at import) into the
    lazy table, which also answers ``__all__``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    file : str
        The package's ``__file__``.
    """
    table: dict[str, str] = {}

    def names() -> dict[str, str]:
        if not table:
            with open(file, encoding="utf-8") as handle:
                table.update(type_checking_imports(handle.read()))
        return table

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module protocol's name
        if name == "__all__":
            value: Any = sorted(names())
        else:
            module = names().get(name)
            if module is None:
                raise AttributeError(f"module {package!r} has no attribute {name!r}")
            value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(vars(sys.modules[package])) | set(names()))

    return __getattr__, __dir__
