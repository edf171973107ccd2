"""Writing a folium map as one HTML page (offline: Leaflet and plugins inlined), atomically."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from geomap.errors import ExportError

__all__ = ["render_html", "save_map"]


def render_html(m: Any, *, offline: bool = True) -> str:
    """Render a folium map to one HTML page, inlining Leaflet and plugins when ``offline``."""
    from geomap.render._assets import inline_assets, remote_references

    html = m.get_root().render()
    if offline:
        html = inline_assets(html)
        left = remote_references(html)
        if left:
            raise ExportError(f"could not inline {left}; the map would need the network")
    return str(html)


def _write_html(m: Any, final: Path, *, offline: bool, budget: int) -> None:
    from geomap.core.atomic import atomic_path

    html = render_html(m, offline=offline).encode("utf-8")
    if len(html) > budget:
        warnings.warn(
            f"{final.name} is {len(html) / 2**20:.1f} MiB, over the {budget / 2**20:.0f} MiB "
            "budget; lower max_embed_pixels, drop layers or raise vector_tolerance",
            stacklevel=3,
        )
    with atomic_path(final) as tmp:
        tmp.write_bytes(html)


def save_map(
    m: Any, path: str | os.PathLike[str], *, offline: bool = True, overwrite: bool = True
) -> Path:
    """Write a map to one self-contained HTML file, atomically.

    Parameters
    ----------
    m : folium.Map or MapBuilder
        A builder is saved with :meth:`MapBuilder.save` (tile folder when needed).
    path : path-like
        The ``.html`` file.
    offline : bool, default True
        Inline Leaflet and the plugins (the page then needs no network for its data layers).
    overwrite : bool, default True
        Replace an existing file.

    Returns
    -------
    Path
    """
    from geomap.render.maps import MapBuilder

    final = Path(path)
    if isinstance(m, MapBuilder):
        m.save(final, offline=offline, overwrite=overwrite)
        return final
    if final.exists() and not overwrite:
        from geomap.errors import OutputExistsError

        raise OutputExistsError(f"{final} already exists; pass overwrite=True to replace it")
    _write_html(m, final, offline=offline, budget=10 * 2**20)
    return final
