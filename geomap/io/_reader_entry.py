"""What every reader does on entry and exit.

Checking its options and the layer asked for, finding its file among the dataset's
local files, reading the catalog's declarations for a file, and attaching the ingest
report to the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from geomap.errors import DataError, ParameterError

__all__ = ["attach_report", "declared", "local_file", "pick_layer", "reject_unknown_options"]


def attach_report(obj: Any, report: Any, **attrs: Any) -> Any:
    """Attach ``report`` (a :class:`~geomap.core.report.IngestReport`) and attrs to ``obj``."""
    obj.attrs["geomap_report"] = report.to_dict()
    for key, value in attrs.items():
        obj.attrs[key] = value
    return obj


def declared(dataset: Any, relpath: str) -> Mapping[str, Any]:
    """Return the catalog's ``crs`` and ``encoding`` for one file of ``dataset``."""
    entry = dataset.file(relpath)
    return {"crs": entry.crs, "encoding": entry.encoding}


def reject_unknown_options(
    reader_name: str, options: Mapping[str, Any], accepted: list[str]
) -> None:
    """Raise a clear error for reader options the reader does not understand."""
    if options:
        from geomap.errors import UnknownNameError

        raise UnknownNameError(
            f"reader {reader_name!r} got unknown option(s) {sorted(options)}; "
            f"it accepts {sorted(accepted)}"
        )


def pick_layer(dataset_id: str, layer: str | None, layers: Mapping[str, Any]) -> str:
    """Resolve a layer name (``None`` = the first) against a dataset's layers."""
    if not layers:
        raise DataError(f"dataset {dataset_id!r} has no layers; check its catalog entry")
    if layer is None:
        return next(iter(layers))
    if layer not in layers:
        from geomap.errors import UnknownNameError

        raise UnknownNameError(
            f"dataset {dataset_id!r} has no layer {layer!r}; choose one of {list(layers)}"
        )
    return layer


def only_file(
    dataset: Any, paths: Mapping[str, Path], layer: str | None, only_layer: str
) -> tuple[str, Path]:
    """Check ``layer`` names a one-layer, one-file dataset's layer; return (relpath, path)."""
    if layer not in (None, only_layer):
        raise ParameterError(
            f"dataset {dataset.id!r} has one layer, {only_layer!r} (got {layer!r})"
        )
    ((relpath, path),) = paths.items()
    return relpath, path


def local_file(dataset: Any, paths: Mapping[str, Path], name: str) -> tuple[str, Path]:
    """Find the catalog entry of ``dataset`` whose file name is ``name``; return (relpath, path)."""
    for relpath, path in paths.items():
        if PurePosixPath(relpath).name == name or relpath == name or relpath.endswith("/" + name):
            return relpath, path
    raise DataError(
        f"dataset {dataset.id!r} lists no file {name!r}; files: "
        + ", ".join(PurePosixPath(p).name for p in paths)
    )
