"""Writers at the end of the flow: one function per product file.

- :func:`write_cog` (:mod:`geomap.export.cog`): a Cloud-Optimized GeoTIFF with overviews, nodata
  and provenance tags, streamed block by block.
- :func:`write_geopackage` / :func:`export_geopackage` (:mod:`geomap.export.gpkg`): one
  GeoPackage with vector layers, raster tables, QGIS styles and provenance metadata;
  :func:`read_provenance` reads that metadata back.
- :func:`write_evidence` (:mod:`geomap.export.evidence`): an evidence stack as one COG and one
  quick-look PNG per layer plus ``summary.json``.
- :func:`save_figure` / :func:`png_credit` (:mod:`geomap.export.figures`): a figure drawn by
  :mod:`geomap.render.figures` written as a PNG at print resolution, crediting its datasets.

Every file appears atomically (:mod:`geomap.core.atomic`).  The pipeline and the CLI both call
these functions; nothing here computes science.  Heavy libraries are imported on first use of
a name.
"""

from __future__ import annotations

from geomap._lazy import lazy_exports

# public name -> module that defines it
_LAZY = {
    "write_cog": "geomap.export.cog",
    "validate_cog": "geomap.export.cog",
    "write_geopackage": "geomap.export.gpkg",
    "export_geopackage": "geomap.export.gpkg",
    "read_provenance": "geomap.export.gpkg",
    "write_evidence": "geomap.export.evidence",
    "save_figure": "geomap.export.figures",
    "png_credit": "geomap.export.figures",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
