"""The geomap version, importable by every layer without importing the package's public API."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
"""The package version (kept equal to ``project.version`` in ``pyproject.toml``)."""
