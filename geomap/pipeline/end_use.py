"""What an end use (``--end-use magnets|batteries|...``) selected, for the manifest and report.

A recipe loaded with an end use (:func:`geomap.recipes.select_end_use`) keeps only the
geochemistry layers whose elements that end use needs.  :func:`end_use_record` says which:
the end use, its element set (``geomap/data/geochem_indices.yaml``), every geochemistry layer
built in the region with the elements it reads and those of them the end use asked for, and
the geochemistry layers of the recipe that were left out.  A build without an end use records
nothing (its manifest and report are unchanged).
"""

from __future__ import annotations

from html import escape
from typing import Any

__all__ = ["end_use_markdown", "end_use_record"]


def _geochem_layers(recipe: Any, region: str) -> dict[str, set[str]]:
    from geomap.evidence.geochem import layer_elements

    out = {}
    for spec in recipe.layers_for(region):
        if spec.function in ("geochem", "geochem_anomaly"):
            out[spec.name] = set(layer_elements(dict(spec.params)))
    return out


def end_use_record(recipe: Any, region: str) -> dict[str, Any] | None:
    """Return what the recipe's end use selected in ``region`` (``None`` without one).

    Parameters
    ----------
    recipe : Recipe
        As loaded for the build (``recipe.end_use`` set by ``--end-use`` or the recipe).
    region : str
        Region id of the build.

    Returns
    -------
    dict or None
        ``name`` (the end use; ``requested``: as the user wrote it), ``description``,
        ``elements`` (the end use's element set, sorted; every
        element for ``"all"``), ``layers`` (one entry per geochemistry layer built:
        ``layer``, ``elements`` it reads, ``selected_elements`` it shares with the end use)
        and ``left_out`` (the recipe's geochemistry layers in the region that the end use
        did not need, with their elements).

    Examples
    --------
    >>> from geomap.recipes import load_recipe
    >>> record = end_use_record(load_recipe("ree-japan-geochem", end_use="batteries"), "japan")
    >>> record["name"], [row["layer"] for row in record["layers"]]
    ('batteries', ['nb_ta_anomaly', 'li_anomaly'])
    """
    name = getattr(recipe, "end_use", None)
    if name is None:
        return None
    from geomap.evidence.geochem import end_use_elements, end_uses

    kept = _geochem_layers(recipe, region)
    wanted = None if name == "all" else end_use_elements(name)
    known = end_uses()
    canonical = next(
        (
            use
            for use, spec in known.items()
            if wanted is not None and set(spec["elements"]) == wanted
        ),
        str(name),
    )
    described = known.get(canonical, {})
    left_out: dict[str, set[str]] = {}
    if getattr(recipe, "path", ""):
        from geomap.errors import GeomapError
        from geomap.recipes import load_recipe

        try:
            full = load_recipe(recipe.path, end_use="all")
        except (GeomapError, OSError):  # the file changed since: record what was built
            full = None
        if full is not None:
            left_out = {
                layer: elements
                for layer, elements in _geochem_layers(full, region).items()
                if layer not in kept
            }
    every = sorted(set().union(*kept.values(), *left_out.values())) if kept or left_out else []
    return {
        "name": canonical,
        "requested": str(name),
        "description": str(described.get("description", "every geochemistry layer")),
        "elements": every if wanted is None else sorted(wanted),
        "layers": [
            {
                "layer": layer,
                "elements": sorted(elements),
                "selected_elements": sorted(elements if wanted is None else elements & wanted),
            }
            for layer, elements in kept.items()
        ],
        "left_out": [
            {"layer": layer, "elements": sorted(elements)} for layer, elements in left_out.items()
        ],
    }


def end_use_markdown(record: dict[str, Any] | None) -> str:
    """Return the report section for :func:`end_use_record` (empty without an end use)."""
    if record is None:
        return ""

    def cell(text: str) -> str:
        return escape(text).replace("|", "&#124;")

    lines = [
        "## End use",
        "",
        f"End use **{cell(record['name'])}** ({cell(record['description'])}): element set "
        f"{cell(', '.join(record['elements']) or '(none)')}. Only the geochemistry layers that "
        "read these elements were built.",
        "",
        "| geochemistry layer | elements read | selected by the end use |",
        "|---|---|---|",
    ]
    for row in record["layers"]:
        lines.append(
            f"| {cell(row['layer'])} | {cell(', '.join(row['elements']))} | "
            f"{cell(', '.join(row['selected_elements']))} |"
        )
    for row in record["left_out"]:
        lines.append(f"| {cell(row['layer'])} | {cell(', '.join(row['elements']))} | left out |")
    return "\n".join(lines) + "\n"
