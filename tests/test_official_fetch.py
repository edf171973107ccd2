"""``geomap fetch`` for the official sources: resume, trust on first use, safe unpacking.

A local HTTP server (pytest-httpserver) serves the published-layout fixtures at the official
URL paths; the catalog copy used here differs from the project catalog only in the host.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner
from werkzeug.wrappers import Request, Response

from geomap import testing as fx
from geomap._paths import catalog_path, catalog_root
from geomap.catalog import load_catalog
from geomap.errors import DataError, FetchError, HashMismatchError
from geomap.fetching_official import fetch_official, local_official_files
from geomap.io.archives import unpack_zip

SEAMLESS_PATH = "/seamless/download/seamlessV2.zip"
SEAMLESS_ID = "gsj-seamless-geology-200k-v2"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("GEOMAP_CACHE_DIR", str(folder))
    monkeypatch.setenv("GEOMAP_DATA_DIR", str(tmp_path / "empty-mirror"))
    return folder


@pytest.fixture
def local_catalog(tmp_path, httpserver):
    """The project catalog with the official hosts pointed at the local server."""
    base = httpserver.url_for("/").rstrip("/")
    text = catalog_path().read_text(encoding="utf-8")
    hosts = (
        "https://gbank.gsj.jp",
        "https://mrdata.usgs.gov",
        "https://www.ngdc.noaa.gov",
        "https://www.sciencebase.gov",
    )
    for host in hosts:
        text = text.replace(host, base)
    return _write_catalog(tmp_path, text)


def _write_catalog(folder, text):
    """Write a catalog copy into ``folder`` with the registry folder its hashes live in."""
    path = folder / "catalog.yaml"
    path.write_text(text, encoding="utf-8")
    registry = catalog_root(catalog_path()) / "geomap" / "registry"
    shutil.copytree(registry, folder / "geomap" / "registry")
    return path


@pytest.fixture(scope="module")
def seamless_bytes(tmp_path_factory) -> bytes:
    return fx.seamless_zip(tmp_path_factory.mktemp("seamless")).read_bytes()


def _range_handler(payload: bytes, seen: list[str | None]):
    def handle(request: Request) -> Response:
        header = request.headers.get("Range")
        seen.append(header)
        if header and header.startswith("bytes="):
            start = int(header.removeprefix("bytes=").split("-")[0])
            return Response(
                payload[start:],
                status=206,
                headers={"Content-Range": f"bytes {start}-{len(payload) - 1}/{len(payload)}"},
            )
        return Response(payload, status=200)

    return handle


def test_fetch_downloads_records_the_hash_unpacks_and_the_reader_uses_it(
    cache, local_catalog, httpserver, seamless_bytes
):
    import geomap

    httpserver.expect_oneshot_request(SEAMLESS_PATH).respond_with_data(seamless_bytes)
    cat = load_catalog(local_catalog)
    with pytest.raises(FetchError, match=f"not fetched yet: run `geomap fetch {SEAMLESS_ID}`"):
        local_official_files(cat.dataset(SEAMLESS_ID))  # readers never download by themselves
    (path,) = fetch_official(SEAMLESS_ID, catalog=cat, unpack=unpack_zip)
    httpserver.check_assertions()
    assert path == cache / SEAMLESS_ID / "seamlessV2.zip" and path.read_bytes() == seamless_bytes
    registry = (cache / "recorded_hashes.json").read_text()
    assert hashlib.sha256(seamless_bytes).hexdigest() in registry
    unpacked = list((cache / "unpacked").glob("seamlessV2-*/legend.tsv"))
    assert len(unpacked) == 1
    geology = geomap.read(SEAMLESS_ID, catalog=cat, bbox=(139.8, 35.9, 140.3, 36.3))
    assert len(geology) == 6 and geology.attrs["geomap_source"] == SEAMLESS_ID
    in_region = geomap.read(SEAMLESS_ID, region="japan", catalog=cat)
    assert len(in_region) == 7 and in_region.crs == cat.region("japan").pyproj_crs
    assert fetch_official(SEAMLESS_ID, catalog=cat) == [path]  # no second request


def test_fetch_resumes_an_interrupted_download_with_a_range_request(
    cache, local_catalog, httpserver, seamless_bytes
):
    seen: list[str | None] = []
    httpserver.expect_request(SEAMLESS_PATH).respond_with_handler(
        _range_handler(seamless_bytes, seen)
    )
    part = cache / SEAMLESS_ID / "seamlessV2.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(seamless_bytes[:1000])  # what an interrupted earlier run left
    with pytest.warns(UserWarning, match="resumed at byte 1,000"):
        (path,) = fetch_official(SEAMLESS_ID, catalog=load_catalog(local_catalog))
    assert seen == ["bytes=1000-"]
    assert path.read_bytes() == seamless_bytes and not part.exists()


def test_a_server_that_ignores_ranges_restarts_the_file(
    cache, local_catalog, httpserver, seamless_bytes
):
    httpserver.expect_request(SEAMLESS_PATH).respond_with_data(
        seamless_bytes
    )  # always 200, whole file
    part = cache / SEAMLESS_ID / "seamlessV2.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes from another version")
    (path,) = fetch_official(SEAMLESS_ID, catalog=load_catalog(local_catalog))
    assert path.read_bytes() == seamless_bytes


def test_a_changed_file_is_refused_unless_accepted(
    cache, local_catalog, httpserver, seamless_bytes, tmp_path
):
    cat = load_catalog(local_catalog)
    httpserver.expect_oneshot_request(SEAMLESS_PATH).respond_with_data(seamless_bytes)
    (path,) = fetch_official(SEAMLESS_ID, catalog=cat)
    first = hashlib.sha256(seamless_bytes).hexdigest()
    changed = fx.seamless_zip(tmp_path / "v2", legend_rows=fx.SEAMLESS_LEGEND[::-1]).read_bytes()
    path.unlink()  # e.g. the cache was cleaned; the publisher has since changed the file
    httpserver.expect_request(SEAMLESS_PATH).respond_with_data(changed)
    with pytest.raises(
        HashMismatchError, match=f"recorded at its first download \\({first}\\).*--accept-new-hash"
    ):
        fetch_official(SEAMLESS_ID, catalog=cat)
    assert not path.exists() and not list(path.parent.glob("*.part"))
    (path,) = fetch_official(SEAMLESS_ID, catalog=cat, accept_new_hash=True)
    assert path.read_bytes() == changed
    assert hashlib.sha256(changed).hexdigest() in (cache / "recorded_hashes.json").read_text()
    path.write_bytes(seamless_bytes)  # a local copy that differs from the recorded hash
    with pytest.raises(HashMismatchError):
        fetch_official(SEAMLESS_ID, catalog=cat)


@pytest.fixture
def dropping_server(seamless_bytes):
    """A raw HTTP server that announces the whole archive, sends a third, then closes."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(seamless_bytes)}\r\n\r\n"
                conn.sendall(head.encode() + seamless_bytes[: len(seamless_bytes) // 3])

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_an_interrupted_download_keeps_the_partial_file(cache, tmp_path, dropping_server):
    text = (
        catalog_path().read_text(encoding="utf-8").replace("https://gbank.gsj.jp", dropping_server)
    )
    _write_catalog(tmp_path, text)
    with pytest.raises(
        FetchError, match="interrupted after .* bytes.*run `geomap fetch` again to resume"
    ):
        fetch_official(SEAMLESS_ID, catalog=load_catalog(tmp_path / "catalog.yaml"))
    part = cache / SEAMLESS_ID / "seamlessV2.zip.part"
    assert 0 < part.stat().st_size < 3000
    assert not (cache / SEAMLESS_ID / "seamlessV2.zip").exists()
    assert not (cache / "recorded_hashes.json").exists()  # nothing trusted from a cut transfer


def test_a_download_that_is_not_a_zip_is_not_trusted(cache, local_catalog, httpserver):
    httpserver.expect_oneshot_request(SEAMLESS_PATH).respond_with_data("<html>maintenance</html>")
    with pytest.raises(FetchError, match="not a complete zip archive.*no hash was recorded"):
        fetch_official(SEAMLESS_ID, catalog=load_catalog(local_catalog))
    assert not (cache / "recorded_hashes.json").exists()
    assert not list((cache / SEAMLESS_ID).iterdir())


def test_an_unsafe_archive_is_refused_when_unpacked(cache, local_catalog, httpserver, tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as out:
        out.writestr("../../escape.txt", "outside")
    httpserver.expect_oneshot_request(SEAMLESS_PATH).respond_with_data(evil.read_bytes())
    with pytest.raises(DataError, match="points outside the archive"):
        fetch_official(SEAMLESS_ID, catalog=load_catalog(local_catalog), unpack=unpack_zip)
    assert not (tmp_path / "escape.txt").exists() and not list(cache.rglob("escape.txt"))


def test_cli_fetch_accept_new_hash(cache, local_catalog, httpserver, seamless_bytes):
    from geomap.cli import app

    httpserver.expect_request(SEAMLESS_PATH).respond_with_data(seamless_bytes)
    runner = CliRunner()
    result = runner.invoke(app, ["fetch", SEAMLESS_ID, "--catalog", str(local_catalog)])
    assert result.exit_code == 0, result.output
    assert str(cache / SEAMLESS_ID / "seamlessV2.zip") in result.output
    result = runner.invoke(app, ["fetch", "--help"])
    assert "--accept-new-hash" in result.output


def test_fetched_mrds_joins_read_occurrences_for_the_region_only(
    cache, local_catalog, httpserver, tmp_path
):
    import geomap

    archive = fx.mrds_zip(tmp_path)
    httpserver.expect_oneshot_request("/mrds/mrds-csv.zip").respond_with_data(archive.read_bytes())
    cat = load_catalog(local_catalog)
    fetch_official("usgs-mrds-full", catalog=cat)
    sites = geomap.read_occurrences(["usgs-mrds-full"], region="conus", catalog=cat)
    assert sorted(sites["name"]) == ["Bear Lodge", "Mountain Pass", "Nameless copper showing"]
    assert sites.crs == cat.region("conus").pyproj_crs
    assert "Kamioka" not in set(sites["name"])  # outside the region box: never kept


OFFICIAL = [
    # dataset id, official URL path, fixture builder, region
    ("usgs-sgmc", "/catalog/file/get/5888bf4fe4b05ccb964bab9d", fx.sgmc_gdb_zip, "us-southwest"),
    ("usgs-national-geochemical-survey", "/geochem/ngs-csv.zip", fx.ngs_zip, "conus"),
    ("usgs-mrds-rdbms", "/mrds/rdbms-tab-all.zip", fx.mrds_rdbms_zip, "conus"),
    ("emag2-v3", "/geomag/data/EMag2/EMAG2_V3_20170530.zip", fx.emag2_zip, "japan"),
]


@pytest.mark.parametrize(("dataset_id", "url_path", "builder", "region"), OFFICIAL)
def test_each_official_source_fetches_and_reads_for_a_region(
    cache, local_catalog, httpserver, tmp_path, dataset_id, url_path, builder, region
):
    import geomap

    payload = builder(tmp_path).read_bytes()
    httpserver.expect_oneshot_request(url_path).respond_with_data(payload)
    cat = load_catalog(local_catalog)
    (path,) = fetch_official(dataset_id, catalog=cat)
    httpserver.check_assertions()
    assert path == cache / cat.dataset(dataset_id).files[0].path
    data = geomap.read(dataset_id, region=region, catalog=cat)
    crs = data.rio.crs if hasattr(data, "rio") and not hasattr(data, "geometry") else data.crs
    assert crs == cat.region(region).pyproj_crs
    assert data.attrs["geomap_source"] == dataset_id
    assert data.attrs["geomap_report"]["records_out"] > 0


def test_a_copy_placed_by_hand_is_hashed_on_fetch_and_checked_afterwards(
    cache, tmp_path, monkeypatch, seamless_bytes
):
    mirror = tmp_path / "mirror"
    (mirror / SEAMLESS_ID).mkdir(parents=True)
    copy = mirror / SEAMLESS_ID / "seamlessV2.zip"
    copy.write_bytes(seamless_bytes)
    monkeypatch.setenv("GEOMAP_DATA_DIR", str(mirror))
    assert fetch_official(SEAMLESS_ID) == [copy]  # no download: the mirror has it
    assert (
        hashlib.sha256(seamless_bytes).hexdigest() in (cache / "recorded_hashes.json").read_text()
    )
    copy.write_bytes(seamless_bytes + b"changed")
    with pytest.raises(HashMismatchError):
        local_official_files(load_catalog().dataset(SEAMLESS_ID))
