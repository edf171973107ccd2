"""What a recipe's layers use now, and what fetching the official sources would add.

:func:`source_overview` lists, for one recipe and region, every evidence layer with
its sources in order of preference: the one a build would use now (the first that
covers the region and is available), and for each preferred source that is not
available, what ``geomap fetch`` would add (resolution, download size, licence).
``geomap sources RECIPE --region R`` prints it.

>>> from geomap.sources import source_overview
>>> rows = source_overview("carbonatite-ree", "conus")
>>> [r["status"] for r in rows if r["layer"] == "lithology_score"]
['not fetched', 'used']
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from geomap._yaml import load_yaml
from geomap.errors import CatalogError

__all__ = ["format_overview", "source_overview"]

_INFO = Path(__file__).resolve().parent / "data" / "source_info.yaml"


@functools.cache
def _info() -> dict[str, dict[str, str]]:
    raw = load_yaml(_INFO, CatalogError)
    return {str(k): dict(v) for k, v in (raw.get("sources") or {}).items()}


def _size(dataset: Any) -> str:
    sizes = [f.size for f in dataset.files]
    if dataset.online_only or any(s is None for s in sizes):
        return _info().get(dataset.id, {}).get("download", "size unknown")
    total = sum(s for s in sizes if s is not None)
    return f"{total / 1e6:,.1f} MB mirrored"


def source_overview(recipe: Any, region: str, *, catalog: Any = None) -> list[dict[str, Any]]:
    """Return one row per (layer, source) with its status.

    The status is ``used``, ``available``, ``not fetched`` or ``not in region``.

    Returns
    -------
    list of dict
        ``layer``, ``function``, ``rank`` (0 = most preferred), ``datasets``, ``status``,
        ``resolution``, ``size``, ``license``, ``fetch`` (the command, where not fetched).
    """
    from geomap.catalog import load_catalog
    from geomap.fetching_official import is_available
    from geomap.recipes import Recipe, load_recipe

    cat = catalog or load_catalog()
    loaded = recipe if isinstance(recipe, Recipe) else load_recipe(recipe, catalog=cat)
    cat.region(region)
    rows = []
    for spec in loaded.layers_for(region):
        used_found = False
        for rank, source in enumerate(spec.sources):
            datasets = [cat.dataset(d) for d in source.datasets]
            if any(region not in d.regions for d in datasets):
                status = "not in region"
            elif any(d.online_only and not is_available(d) for d in datasets):
                status = "not fetched"
            elif used_found:
                status = "available"
            else:
                status, used_found = "used", True
            rows.append(
                {
                    "layer": spec.name,
                    "function": spec.function,
                    "rank": rank,
                    "datasets": source.datasets,
                    "status": status,
                    "resolution": "; ".join(
                        _info().get(d.id, {}).get("resolution", "-") for d in datasets
                    ),
                    "size": "; ".join(_size(d) for d in datasets),
                    "license": "; ".join(f"{d.license.spdx}" for d in datasets),
                    "fetch": " && ".join(f"geomap fetch {d.id}" for d in datasets if d.online_only)
                    if status == "not fetched"
                    else "",
                }
            )
    return rows


def format_overview(rows: list[dict[str, Any]], recipe_id: str, region: str) -> str:
    """Return the text ``geomap sources`` prints."""
    lines = [
        f"recipe {recipe_id}, region {region}: sources per evidence layer (most preferred first)"
    ]
    current = None
    pending = []
    for row in rows:
        if row["layer"] != current:
            current = row["layer"]
            lines.append(f"\n{current} ({row['function']})")
        mark = {
            "used": "* used now",
            "available": "  available",
            "not fetched": "  not fetched",
            "not in region": "  not in region",
        }[row["status"]]
        lines.append(
            f"  {mark:<15} {', '.join(row['datasets'])}: {row['resolution']}; {row['size']}; "
            f"licence {row['license']}"
        )
        if row["status"] == "not fetched":
            lines.append(f"  {'':<15} -> `{row['fetch']}` would add it")
            pending.append(row["fetch"])
    if pending:
        lines.append("\nTo use the full-resolution sources: " + "; ".join(dict.fromkeys(pending)))
    return "\n".join(lines)
