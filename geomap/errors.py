"""The geomap error hierarchy.

Every error raised on purpose by geomap derives from :class:`GeomapError` and
also from the builtin exception a caller would naturally catch (``ValueError``
for bad values, ``OSError`` for files and network, ``KeyError`` for unknown
names).  Each message names the offending value and says how to fix it.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "CatalogError",
    "DataError",
    "ExportError",
    "FetchError",
    "GeomapError",
    "GridMismatchError",
    "HashMismatchError",
    "ModelError",
    "OutputExistsError",
    "ParameterError",
    "RecipeError",
    "UnknownNameError",
]


class GeomapError(Exception):
    """Base class of every error geomap raises on purpose."""


class CatalogError(GeomapError, ValueError):
    """The data catalog is malformed or refers to something that does not exist."""


class UnknownNameError(GeomapError, KeyError):
    """A dataset, region, recipe or layer name that is not known.

    ``KeyError`` quotes its message when printed; this subclass prints it as text.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class FetchError(GeomapError, OSError):
    """A file could not be found locally nor downloaded."""


class HashMismatchError(FetchError):
    """A file's sha256 differs from the one recorded in the catalog."""


class DataError(GeomapError, ValueError):
    """Input data is unreadable, truncated, or not what its catalog entry declares."""


class CRSError(DataError):
    """A coordinate reference system is missing, mismatched or violated by the data."""


class ParameterError(GeomapError, ValueError):
    """An option is out of range (e.g. a resolution or a bandwidth that is zero or negative)."""


class GridMismatchError(GeomapError, ValueError):
    """Layers on different analysis grids were combined."""


class RecipeError(GeomapError, ValueError):
    """A recipe in ``layers/`` is malformed or names something unknown."""


class ModelError(GeomapError, ValueError):
    """A prospectivity model cannot be fitted or applied to the given data."""


class ExportError(GeomapError, OSError):
    """An output file could not be written."""


class OutputExistsError(ExportError, FileExistsError):
    """An output exists and overwriting was not requested."""
