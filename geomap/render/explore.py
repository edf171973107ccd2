"""The interactive map inline in a notebook: :func:`explore` and :class:`InlineMap`.

A saved geomap page is self-contained (Leaflet, plugins and data inlined), so a notebook can
show it in an ``<iframe srcdoc>`` with no server and no network; nothing needs ipywidgets.
:class:`~geomap.pipeline.runner.BuildResult` and
:class:`~geomap.pipeline.packet.PacketResult` use the same display for their ``map.html`` /
``packet.html``.

Examples
--------
>>> page = InlineMap("<html><body>map</body></html>", height=300)
>>> page._repr_html_().startswith("<iframe srcdoc=")
True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from geomap.core.safe_text import escape_html as escape  # html.escape, braces too
from geomap.errors import DataError

__all__ = ["InlineMap", "explore", "files_map_html", "iframe_html"]

# Pages with a tile folder beside them cannot load it from srcdoc; they are linked instead.
_MAX_INLINE_BYTES = 40 * 2**20


def iframe_html(page: str, *, height: int = 600) -> str:
    """Return an ``<iframe srcdoc>`` showing a self-contained HTML page (escaped)."""
    return (
        f'<iframe srcdoc="{escape(page, quote=True)}" style="width:100%;height:{int(height)}px;'
        'border:none" sandbox="allow-scripts allow-downloads allow-popups"></iframe>'
    )


class InlineMap:
    """An offline HTML map shown inline in Jupyter (and saved with :meth:`save`).

    Parameters
    ----------
    page : str
        The self-contained HTML page.
    height : int, default 600
        Height of the inline frame in pixels.
    source : Path, optional
        The file the page came from (shown in the text representation).
    """

    def __init__(self, page: str, *, height: int = 600, source: Path | None = None) -> None:
        self.page = page
        self.height = int(height)
        self.source = source

    def __repr__(self) -> str:
        where = f" from {self.source}" if self.source else ""
        return f"InlineMap({len(self.page) / 2**20:.1f} MiB{where})"

    def _repr_html_(self) -> str:
        return iframe_html(self.page, height=self.height)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the page to ``path`` atomically."""
        from geomap.core.atomic import atomic_path

        final = Path(path)
        with atomic_path(final) as tmp:
            tmp.write_text(self.page, encoding="utf-8")
        return final


def _from_file(path: Path, height: int) -> InlineMap:
    if path.is_dir():
        candidates = [path / "map.html", path / "packet.html"]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise DataError(f"{path} holds no map.html or packet.html; run geomap build first")
        path = found
    if not path.is_file():
        raise DataError(f"map {path} does not exist; give a map.html or a build folder")
    if path.stat().st_size > _MAX_INLINE_BYTES:
        raise DataError(
            f"{path} is {path.stat().st_size / 2**20:.0f} MiB, too large to show inline; "
            "open it in a browser"
        )
    tiles = path.with_name(f"{path.stem}_tiles")
    page = path.read_text(encoding="utf-8")
    if tiles.is_dir():
        note = (
            f"<p>{escape(path.name)} loads tiles from {escape(tiles.name)}/, which an inline "
            f'frame cannot read: <a href="{escape(path.as_uri())}" target="_blank">open it in '
            "a browser</a>.</p>"
        )
        return InlineMap(note, height=80, source=path)
    return InlineMap(page, height=height, source=path)


def files_map_html(files: Any, *, height: int = 600) -> str:
    """Return the ``map.html`` / ``packet.html`` among ``files`` as an inline frame, or ``""``.

    For the ``_repr_html_`` of build and packet results: a missing or unreadable map gives
    an empty string (the result's summary is still shown).
    """
    for name in ("map.html", "packet.html"):
        if name in files:
            try:
                return _from_file(Path(files[name]), height)._repr_html_()
            except (DataError, OSError):
                return ""
    return ""


def explore(obj: Any = None, *, height: int = 600, **options: Any) -> Any:
    """Show an interactive prospectivity map inline in a notebook (offline).

    Parameters
    ----------
    obj : BuildResult, PacketResult, path, DataArray or MapBuilder
        A build or packet result (its ``map.html`` / ``packet.html``), a saved map or an output
        folder, a prospectivity raster (drawn with :func:`~geomap.render.presets.prospectivity_map`
        and ``**options``: ``occurrences=``, ``targets=``, ``region=``...), or a builder.
    height : int, default 600
        Height of the inline frame in pixels.
    **options
        Passed to :func:`~geomap.render.presets.prospectivity_map` for a raster.

    Returns
    -------
    InlineMap
        Displays itself in Jupyter; ``.save(path)`` writes the page.

    Raises
    ------
    DataError
        ``obj`` is none of the above, or a file is missing.
    """
    from geomap.render._html import render_html
    from geomap.render.maps import MapBuilder

    files = getattr(obj, "files", None)
    if isinstance(files, dict):
        for name in ("map.html", "packet.html"):
            if name in files:
                return _from_file(Path(files[name]), height)
        raise DataError(
            f"{type(obj).__name__} wrote no map (files: {sorted(files)}); build with the map part"
        )
    if isinstance(obj, str | os.PathLike):
        return _from_file(Path(obj), height)
    if isinstance(obj, MapBuilder):
        return InlineMap(render_html(obj.to_map(), offline=True), height=height)
    if hasattr(obj, "dims") and hasattr(obj, "rio"):
        from geomap.render.presets import prospectivity_map

        m = prospectivity_map(obj, **options)
        return InlineMap(render_html(m, offline=True), height=height)
    if hasattr(obj, "get_root"):  # a folium.Map
        return InlineMap(render_html(obj, offline=True), height=height)
    raise DataError(
        f"explore() cannot show a {type(obj).__name__}; give a BuildResult, a PacketResult, a "
        "map.html path or build folder, a prospectivity DataArray or a MapBuilder"
    )
