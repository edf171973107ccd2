"""The ground floor: helpers every layer may import, importing no stage of the flow.

- :mod:`geomap.core.atomic`: atomic file and folder writes (``atomic_path``, ``atomic_dir``).
- :mod:`geomap.core.report`: the ingest report readers attach to what they return
  (``IngestReport``).
- :mod:`geomap.core.provenance`: which catalog datasets an object came from and the records to
  credit them (``source_ids``, ``dataset_records``).
- :mod:`geomap.core.safe_text`: untrusted text kept inert in outputs (Markdown escaping,
  ``http(s)``-only links, formula-safe CSV: ``markdown_text``, ``http_url``, ``write_csv``).
- :mod:`geomap.core.fingerprint`: the sha256 of geomap's own code (``code_fingerprint``), part
  of every cache key (products, the occurrence index).

With :mod:`geomap.errors` and :mod:`geomap._version` these import nothing from geomap's stages
(catalog, fetch, io, harmonize, grid, evidence, models, targets, render, export, pipeline, cli);
``tests/test_layering.py`` checks it.
"""
