"""Compact catalog rows, pooch-format registries and ``geomap catalog lock``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pooch
import pytest
import yaml
from typer.testing import CliRunner

from geomap import _paths
from geomap.catalog import load_catalog
from geomap.catalog.lock import lock_catalog
from geomap.catalog.registry import format_registry, parse_registry
from geomap.cli import app
from geomap.errors import CatalogError

REGION = {
    "id": "r1",
    "name": "R",
    "countries": ["USA"],
    "bbox": [-120, 30, -110, 40],
    "crs": "EPSG:5070",
}
META = {
    "title": "Demo",
    "publisher": "Nobody",
    "kind": "vector",
    "countries": ["USA"],
    "license": {"spdx": "CC0-1.0", "name": "CC0", "attribution": "None needed."},
    "citation": "Demo 2024",
    "landing_page": "https://example.org",
}
CONTENT = {
    "a.json": b'{"a": 1}',
    "sub/b1.json": b"[1]",
    "sub/b2.json": b"[2, 3]",
    "c.csv": b"x\n1\n",
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _mirror(tmp_path: Path, dataset_id: str = "demo") -> Path:
    root = tmp_path / "mirror"
    for name, data in CONTENT.items():
        path = root / dataset_id / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _write_catalog(tmp_path: Path, files: list, *, registry: bool = True, **extra) -> Path:
    dataset = {"id": "demo", **META, **extra, "files": files}
    doc = {"version": 1, "datasets": [dataset], "regions": [REGION]}
    if registry:
        doc["registry"] = "registry"
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _write_registry(tmp_path: Path, entries: dict, dataset_id: str = "demo") -> Path:
    folder = tmp_path / "registry"
    folder.mkdir(exist_ok=True)
    path = folder / f"{dataset_id}.txt"
    path.write_text(format_registry(dataset_id, entries), encoding="utf-8")
    return path


COMPACT = {
    "base_url": "https://example.org/data/",
    "file_defaults": {"format": "geojson", "crs": "EPSG:4326", "encoding": "utf-8"},
}
COMPACT_FILES = [
    "a.json",
    {"folder": "sub", "names": ["b1.json", "b2.json"], "base_url": "https://mirror.example/x/"},
    {"name": "c.csv", "format": "csv", "crs": None},
]
FULL_REGISTRY = {name: (_sha(data), len(data)) for name, data in CONTENT.items()}


# ---- the compact form --------------------------------------------------------------------------


def test_compact_rows_expand_with_defaults_base_url_and_registry(tmp_path):
    _write_registry(tmp_path, FULL_REGISTRY)
    cat = load_catalog(_write_catalog(tmp_path, COMPACT_FILES, **COMPACT))
    files = {f.path: f for f in cat.dataset("demo").files}
    assert list(files) == ["demo/a.json", "demo/sub/b1.json", "demo/sub/b2.json", "demo/c.csv"]
    a = files["demo/a.json"]
    assert (a.url, a.format, a.crs, a.encoding) == (
        "https://example.org/data/a.json",
        "geojson",
        "EPSG:4326",
        "utf-8",
    )
    assert (a.sha256, a.size) == FULL_REGISTRY["a.json"]
    assert files["demo/sub/b2.json"].url == "https://mirror.example/x/sub/b2.json"
    c = files["demo/c.csv"]
    assert (c.format, c.crs, c.encoding) == ("csv", None, "utf-8")  # explicit null wins


def test_a_name_needing_escapes_is_quoted_in_its_url(tmp_path):
    _write_registry(tmp_path, {"R&D notes.txt": ("0" * 64, 3)})
    cat = load_catalog(_write_catalog(tmp_path, ["R&D notes.txt"], **COMPACT))
    assert cat.dataset("demo").files[0].url == "https://example.org/data/R%26D%20notes.txt"


def test_a_row_without_url_needs_a_base_url(tmp_path):
    path = _write_catalog(tmp_path, ["a.json"], file_defaults={"format": "geojson"})
    with pytest.raises(CatalogError, match="'a.json' has no 'url'.*no 'base_url'"):
        load_catalog(path)


def test_a_row_without_format_is_refused(tmp_path):
    _write_registry(tmp_path, {"a.json": FULL_REGISTRY["a.json"]})
    path = _write_catalog(tmp_path, ["a.json"], base_url="https://example.org/")
    with pytest.raises(CatalogError, match="'demo/a.json' has no 'format'"):
        load_catalog(path)


def test_bad_fields_in_defaults_and_groups_name_the_row(tmp_path):
    bad_group = [{"folder": "sub", "names": ["b1.json"], "crs": "EPSG:999999"}]
    with pytest.raises(CatalogError, match=r"field 'files\.0\.crs'.*not a valid CRS"):
        load_catalog(_write_catalog(tmp_path, bad_group, **COMPACT))
    with pytest.raises(CatalogError, match=r"field 'file_defaults\.encoding'.*unknown text"):
        load_catalog(
            _write_catalog(
                tmp_path, ["a.json"], base_url="https://e.org/", file_defaults={"encoding": "x-9"}
            )
        )
    with pytest.raises(
        CatalogError, match=r"files\.0\.names'.*'\.\./x\.json' must be a relative POSIX path"
    ):
        load_catalog(_write_catalog(tmp_path, [{"names": ["../x.json"]}], **COMPACT))
    with pytest.raises(CatalogError, match="exactly one of 'path'"):
        load_catalog(_write_catalog(tmp_path, [{"format": "csv"}], **COMPACT))


def test_a_mirrored_file_without_any_hash_asks_for_a_lock(tmp_path):
    with pytest.raises(CatalogError, match="'demo/a.json' has no sha256.*geomap catalog lock demo"):
        load_catalog(_write_catalog(tmp_path, ["a.json"], **COMPACT))


# ---- inline hashes beside the registry ----------------------------------------------------------


def _inline_row(name: str, sha256: str, size: int) -> dict:
    return {
        "path": f"demo/{name}",
        "url": f"https://example.org/{name}",
        "sha256": sha256,
        "size": size,
        "format": "geojson",
    }


def test_inline_hash_rows_still_load_without_a_registry(tmp_path):
    data = CONTENT["a.json"]
    cat = load_catalog(_write_catalog(tmp_path, [_inline_row("a.json", _sha(data), len(data))]))
    assert cat.dataset("demo").files[0].sha256 == _sha(data)


def test_inline_hash_equal_to_the_registry_loads(tmp_path):
    data = CONTENT["a.json"]
    _write_registry(tmp_path, {"a.json": (_sha(data), len(data))})
    cat = load_catalog(_write_catalog(tmp_path, [_inline_row("a.json", _sha(data), len(data))]))
    assert cat.dataset("demo").files[0].size == len(data)


@pytest.mark.parametrize(("field", "inline"), [("sha256", "f" * 64), ("size", 999)])
def test_inline_value_disagreeing_with_the_registry_is_an_error(tmp_path, field, inline):
    data = CONTENT["a.json"]
    _write_registry(tmp_path, {"a.json": (_sha(data), len(data))})
    row = _inline_row("a.json", _sha(data), len(data))
    row[field] = inline
    with pytest.raises(CatalogError) as info:
        load_catalog(_write_catalog(tmp_path, [row]))
    message = str(info.value)
    assert f"inline {field} {inline} differs from" in message
    assert "geomap catalog lock demo" in message and "registry/demo.txt" in message


def test_registry_line_of_an_unlisted_file_is_an_error(tmp_path):
    _write_registry(tmp_path, {**FULL_REGISTRY, "gone.json": ("1" * 64, 1)})
    with pytest.raises(CatalogError, match="lists 'gone.json', which is not a file of the dataset"):
        load_catalog(_write_catalog(tmp_path, COMPACT_FILES, **COMPACT))


def test_registry_file_of_an_unknown_dataset_is_an_error(tmp_path):
    _write_registry(tmp_path, FULL_REGISTRY)
    _write_registry(tmp_path, {"x": ("2" * 64, 1)}, dataset_id="renamed")
    with pytest.raises(CatalogError, match="registry of 'renamed', which is not a dataset"):
        load_catalog(_write_catalog(tmp_path, COMPACT_FILES, **COMPACT))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a.json nothex", "not a 64-character"),
        ("a.json", "expected '<name> <sha256>'"),
        ("#size a.json many", "not a byte count"),
    ],
)
def test_malformed_registry_lines_name_file_and_line(tmp_path, line, message):
    folder = tmp_path / "registry"
    folder.mkdir()
    (folder / "demo.txt").write_text(f"# comment\n{line}\n", encoding="utf-8")
    with pytest.raises(CatalogError, match=rf"demo\.txt, line 2: .*{message}"):
        load_catalog(_write_catalog(tmp_path, ["a.json"], **COMPACT))


def test_registry_round_trips_and_pooch_reads_it(tmp_path):
    entries = {"a b.json": ("a" * 64, 10), "sub/c.json": ("b" * 64, None), "d": ("c" * 64, 0)}
    text = format_registry("demo", entries)
    assert parse_registry(text, "test") == entries
    path = tmp_path / "demo.txt"
    path.write_text(text, encoding="utf-8")
    fetcher = pooch.create(path=tmp_path / "cache", base_url="https://example.org/")
    fetcher.load_registry(path)
    assert fetcher.registry == {name: digest for name, (digest, _) in entries.items()}


def test_the_real_registries_are_what_pooch_reads():
    folder = _paths.CHECKOUT_ROOT / "geomap" / "registry"
    catalog = load_catalog()
    fetcher = pooch.create(path=folder, base_url="https://example.org/")
    for path in sorted(folder.glob("*.txt")):
        fetcher.registry.clear()
        fetcher.load_registry(path)
        dataset = catalog.dataset(path.stem)
        assert {f"{dataset.id}/{n}": h for n, h in fetcher.registry.items()} == {
            f.path: f.sha256 for f in dataset.files
        }


# ---- geomap catalog lock -------------------------------------------------------------------------

FLOW_AND_BLOCK = """\
version: 1
registry: registry
regions:
  - {{id: r1, name: R, countries: [USA], bbox: [-120, 30, -110, 40], crs: "EPSG:5070"}}
datasets:
  - id: demo
{meta}
    base_url: "https://example.org/data/"
    file_defaults: {{format: geojson}}
    files:
      - {a_row}
      - path: demo/c.csv
        url: https://example.org/c.csv
        sha256: {c}
        size: {c_size}
        format: csv
      - {{folder: sub, names: [b1.json, b2.json]}}
"""


def _inline_catalog(tmp_path: Path) -> Path:
    meta = "\n".join("    " + line for line in yaml.safe_dump(META, sort_keys=False).splitlines())
    a_row = (
        '{path: "demo/a.json", url: "https://example.org/a.json", '
        f'sha256: "{_sha(CONTENT["a.json"])}", size: {len(CONTENT["a.json"])}, format: "geojson"}}'
    )
    text = FLOW_AND_BLOCK.format(
        meta=meta,
        a_row=a_row,
        c=_sha(CONTENT["c.csv"]),
        c_size=len(CONTENT["c.csv"]),
    )
    path = tmp_path / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_lock_moves_inline_hashes_to_the_registry(tmp_path):
    mirror = _mirror(tmp_path)
    path = _inline_catalog(tmp_path)
    with pytest.raises(CatalogError, match="'demo/sub/b1.json' has no sha256"):
        load_catalog(path)  # the group has no hash yet
    report = lock_catalog(path, data_roots=[mirror])
    assert {(d, n) for d, n, _, _ in report.added} == {
        ("demo", "sub/b1.json"),
        ("demo", "sub/b2.json"),
    }
    assert {n for _, n, _, _ in report.unchanged} == {"a.json", "c.csv"}
    assert sorted(report.inline_moved) == ["demo/a.json", "demo/c.csv"]
    text = path.read_text(encoding="utf-8")
    assert "sha256" not in text and "size:" not in text
    assert "url: https://example.org/c.csv" in text  # the rest of the block row is kept
    registry = parse_registry((tmp_path / "registry" / "demo.txt").read_text(), "x")
    assert registry == FULL_REGISTRY
    files = {f.path: (f.sha256, f.size, f.url) for f in load_catalog(path).dataset("demo").files}
    assert files["demo/a.json"] == (*FULL_REGISTRY["a.json"], "https://example.org/a.json")
    assert files["demo/sub/b2.json"][:2] == FULL_REGISTRY["sub/b2.json"]
    again = lock_catalog(path, data_roots=[mirror])
    assert not again.differs and again.written == []


def test_lock_reports_a_changed_file_and_check_writes_nothing(tmp_path):
    mirror = _mirror(tmp_path)
    path = _inline_catalog(tmp_path)
    lock_catalog(path, data_roots=[mirror])
    registry_file = tmp_path / "registry" / "demo.txt"
    before = registry_file.read_text()
    (mirror / "demo" / "c.csv").write_bytes(b"x\n2\n")
    checked = lock_catalog(path, data_roots=[mirror], check=True)
    assert checked.differs and checked.written == []
    assert [(n, old, new) for _, n, old, new in checked.changed] == [
        ("c.csv", _sha(CONTENT["c.csv"]), _sha(b"x\n2\n"))
    ]
    assert registry_file.read_text() == before
    lock_catalog(path, data_roots=[mirror])
    assert load_catalog(path).dataset("demo").file("demo/c.csv").sha256 == _sha(b"x\n2\n")


def test_lock_refuses_when_a_file_is_missing_and_writes_nothing(tmp_path):
    mirror = _mirror(tmp_path)
    path = _inline_catalog(tmp_path)
    text = path.read_text()
    (mirror / "demo" / "sub" / "b2.json").unlink()
    with pytest.raises(
        CatalogError,
        match=r"1 file\(s\) missing from the mirror.*'demo/sub/b2.json'.*nothing was written",
    ):
        lock_catalog(path, data_roots=[mirror])
    assert path.read_text() == text
    assert not (tmp_path / "registry").exists()


def test_lock_drops_registries_of_removed_datasets_and_files(tmp_path):
    mirror = _mirror(tmp_path)
    _write_registry(tmp_path, {**FULL_REGISTRY, "gone.json": ("1" * 64, 1)})
    _write_registry(tmp_path, {"x": ("2" * 64, 1)}, dataset_id="renamed")
    path = _write_catalog(tmp_path, COMPACT_FILES, **COMPACT)
    report = lock_catalog(path, data_roots=[mirror])
    assert [n for _, n, _, _ in report.removed] == ["gone.json"]
    assert [p.name for p in report.stale_registries] == ["renamed.txt"]
    assert not (tmp_path / "registry" / "renamed.txt").exists()
    assert len(load_catalog(path).dataset("demo").files) == 4


def test_lock_refuses_unknown_and_online_only_datasets(tmp_path):
    mirror = _mirror(tmp_path)
    path = _write_catalog(tmp_path, COMPACT_FILES, **COMPACT)
    with pytest.raises(KeyError, match="did you mean 'demo'"):
        lock_catalog(path, ["dem"], data_roots=[mirror])
    online = _write_catalog(tmp_path, ["a.json"], online_only=True, **COMPACT)
    with pytest.raises(CatalogError, match="online-only"):
        lock_catalog(online, ["demo"], data_roots=[mirror])


def test_lock_cli_check_exit_status(tmp_path, monkeypatch):
    mirror = _mirror(tmp_path)
    monkeypatch.setenv("GEOMAP_DATA_DIR", str(mirror))
    path = _inline_catalog(tmp_path)
    runner = CliRunner()
    stale = runner.invoke(app, ["catalog", "lock", "--check", "--catalog", str(path)])
    assert stale.exit_code == 1 and "2 added" in stale.output, stale.output
    done = runner.invoke(app, ["catalog", "lock", "--catalog", str(path)])
    assert done.exit_code == 0 and "wrote" in done.output, done.output
    current = runner.invoke(app, ["catalog", "lock", "--check", "--catalog", str(path)])
    assert current.exit_code == 0 and "match the mirror" in current.output


def test_the_committed_registries_match_the_mirror(data_root):
    """`geomap catalog lock --check` on the real catalog: nothing to change."""
    report = lock_catalog(check=True)
    assert not report.differs, "\n".join(report.lines())
    assert len(report.unchanged) == sum(
        len(d.files) for d in load_catalog().datasets if not d.online_only
    )


def test_schema_describes_the_compact_rows():
    from geomap.catalog import catalog_json_schema

    schema = json.dumps(catalog_json_schema())
    for word in ("base_url", "file_defaults", "FileGroup", "FileRow", "registry"):
        assert word in schema


def test_the_bundled_catalog_finds_the_registries_of_the_package():
    """In a wheel the catalog is in geomap/_bundled/; `registry: geomap/registry` still resolves."""
    bundled = _paths.BUNDLED_DIR / "data_catalog.yaml"
    assert _paths.catalog_root(bundled) == _paths.CHECKOUT_ROOT
    assert (_paths.CHECKOUT_ROOT / "geomap" / "registry").is_dir()
    assert _paths.catalog_root(Path("/elsewhere/catalog.yaml")) == Path("/elsewhere")


def test_a_copied_catalog_reads_the_project_registries_and_locks_beside_itself(tmp_path):
    copy = tmp_path / "data_catalog.yaml"
    copy.write_bytes((_paths.CHECKOUT_ROOT / "data_catalog.yaml").read_bytes())
    project = load_catalog()
    copied = load_catalog(copy)
    assert [f.sha256 for d in copied for f in d.files] == [
        f.sha256 for d in project for f in d.files
    ]
    # Locking one dataset would leave the copy a registry folder of its own without the others'
    # hashes: refused, nothing written.  Locking them all writes beside the copy.
    with pytest.raises(CatalogError, match="rewritten catalog would not load.*nothing was written"):
        lock_catalog(copy, ["natural-earth"])
    assert not (tmp_path / "geomap").exists()
    report = lock_catalog(copy)
    assert not report.changed and not report.removed
    assert len(list((tmp_path / "geomap" / "registry").glob("*.txt"))) == len(
        [d for d in project if not d.online_only]
    )
    assert [f.sha256 for d in load_catalog(copy) for f in d.files] == [
        f.sha256 for d in project for f in d.files
    ]
