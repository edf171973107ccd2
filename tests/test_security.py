"""Hostile input (issue 9, SECURITY.md): nothing in a data or config file gets to run code,
read other local files, reach the network or write outside its place.

Each test builds the hostile file, checks the refusal (error class, the file named, the
fix) and checks the side effect did not happen: no request reached a local HTTP server,
no marker file appeared, no secret bytes came back.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml
from _actionable import assert_actionable
from _fake_dataset import call_reader, fake_dataset
from affine import Affine
from shapely.geometry import Point

from geomap.catalog import load_catalog
from geomap.errors import CatalogError, DataError, RecipeError
from geomap.io._archive_members import read_zip_member
from geomap.io._gdal import gdal_options, open_raster
from geomap.recipes import load_recipe

SECRET = "/etc/passwd"


@pytest.fixture
def canary(httpserver):
    """A local HTTP server that must never be asked for anything; returns its base URL."""
    httpserver.expect_request("/").respond_with_data("should never be read")
    yield httpserver.url_for("/").rstrip("/")
    assert httpserver.log == [], f"GDAL reached the network: {httpserver.log}"


def _raster_vrt(source: str, *, raw: bool = False) -> str:
    if raw:
        band = (
            '<VRTRasterBand dataType="Byte" band="1" subClass="VRTRawRasterBand">'
            f'<SourceFilename relativetoVRT="0">{source}</SourceFilename>'
            "<ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset><LineOffset>4</LineOffset>"
            "</VRTRasterBand>"
        )
    else:
        band = (
            '<VRTRasterBand dataType="Byte" band="1"><SimpleSource>'
            f'<SourceFilename relativeToVRT="0">{source}</SourceFilename>'
            "<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand>"
        )
    return f'<VRTDataset rasterXSize="4" rasterYSize="3">{band}</VRTDataset>'


def _vector_vrt(source: str) -> str:
    return (
        f'<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>{source}</SrcDataSource>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    )


# ============================================================ VRTs disguised as data files

# (file name, catalog format, reader, reader options) of every reader that takes a file
DISGUISES = [
    ("grid.tif", "geotiff", "geotiff", {}),
    ("grid.nc", "netcdf", "netcdf-grid", {}),
    ("EMAG2_V2_1x1.grd", "gmt-netcdf", "gmt-grid", {"nodata": -99999}),
    ("GLiM_720_360_raw.nc", "netcdf", "glim-grid", {}),
    ("faults.shp", "shapefile", "vector-file", {}),
    ("layer.gpkg", "geopackage", "vector-file", {}),
    ("layer.geojson", "geojson", "vector-file", {}),
    ("faults.geojson.zip", "geojson-zip", "gem-faults", {}),
    ("ne_110m_coastline.json", "geojson", "natural-earth", {}),
    ("ne_50m_admin_0_countries.7z", "7z", "natural-earth", {}),
]


@pytest.mark.parametrize("kind", ["raster", "vector"])
@pytest.mark.parametrize(("name", "file_format", "reader", "options"), DISGUISES)
def test_vrt_disguised_as_a_data_file_is_refused_before_gdal_opens_it(
    tmp_path, canary, kind, name, file_format, reader, options
):
    path = tmp_path / name
    remote = f"/vsicurl/{canary}/secret.tif"
    text = _raster_vrt(remote) if kind == "raster" else _vector_vrt(remote)
    path.write_text(text, encoding="utf-8")
    entry = {"path": path, "format": file_format, "crs": "EPSG:4326"}
    files = [entry]
    if file_format == "shapefile":  # the sidecars exist, so only the content can betray it
        for suffix in (".shx", ".dbf"):
            (tmp_path / f"faults{suffix}").write_text(text, encoding="utf-8")
            files.append({"path": tmp_path / f"faults{suffix}", "format": "shapefile-sidecar"})
    dataset, paths = fake_dataset(files, reader=reader)
    with pytest.raises(DataError) as info:
        call_reader(dataset, paths, **options)
    assert_actionable(info, name)


def test_geotiff_reader_allows_only_the_gtiff_driver(tmp_path, canary):
    """Past the content check, GDAL itself may use no driver but GTiff for the file."""
    vrt = tmp_path / "grid.tif"
    vrt.write_text(_raster_vrt(f"/vsicurl/{canary}/secret.tif"), encoding="utf-8")
    with pytest.raises(DataError) as info, open_raster(vrt, drivers=("GTiff",)):
        pass
    assert_actionable(info, "grid.tif", "GTiff")


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_network_filesystem_is_closed_inside_guarded_gdal_calls(tmp_path, canary):
    """Defence in depth: even a VRT opened on purpose cannot fetch through /vsicurl/."""
    vrt = tmp_path / "remote.vrt"
    vrt.write_text(_raster_vrt(f"/vsicurl/{canary}/secret.tif"), encoding="utf-8")
    with (
        pytest.raises((DataError, rasterio.errors.RasterioIOError)),
        open_raster(vrt, drivers=("VRT",)) as src,
    ):
        src.read(1)


def test_gdal_options_are_restored_after_a_guarded_read():
    import pyogrio

    before = pyogrio.get_gdal_config_option("CPL_VSIL_CURL_ALLOWED_EXTENSIONS")
    with gdal_options() as options:
        assert pyogrio.get_gdal_config_option("GDAL_VRT_ENABLE_PYTHON") in ("NO", False)
        assert options["GDAL_PAM_ENABLED"] == "NO"
    assert pyogrio.get_gdal_config_option("CPL_VSIL_CURL_ALLOWED_EXTENSIONS") == before


# ============================================================ files that point elsewhere


def test_geotiff_sidecar_cannot_override_georeferencing_or_nodata(tmp_path):
    """A .aux.xml beside the file (GDAL PAM) would silently change CRS, transform and nodata."""
    path = tmp_path / "grid.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=3,
        width=4,
        count=1,
        dtype="float32",
        crs="EPSG:3577",
        transform=Affine(1000, 0, 1_000_000, 0, -1000, -2_000_000),
        nodata=-1.0,
    ) as dst:
        dst.write(np.arange(12, dtype="float32").reshape(3, 4), 1)
    (tmp_path / "grid.tif.aux.xml").write_text(
        "<PAMDataset><SRS>EPSG:4326</SRS><GeoTransform>0, 1, 0, 0, 0, -1</GeoTransform>"
        '<PAMRasterBand band="1"><NoDataValue>5</NoDataValue></PAMRasterBand></PAMDataset>'
    )
    with rasterio.open(path) as plain:  # the sidecar is real: plain GDAL obeys it
        assert plain.crs.to_epsg() == 4326 and plain.nodata == 5
    dataset, paths = fake_dataset([{"path": path, "format": "geotiff"}], reader="geotiff")
    grid = call_reader(dataset, paths)
    assert grid.rio.crs.to_epsg() == 3577
    assert grid.rio.transform() == Affine(1000, 0, 1_000_000, 0, -1000, -2_000_000)
    assert int(np.isnan(grid).sum()) == 0  # the cell holding 5 is data


@pytest.mark.parametrize("crs_link", ["link-url", "link-file", "url-name", "topojson-object"])
def test_json_crs_pointing_to_a_url_or_file_is_refused(tmp_path, canary, crs_link):
    crs = {
        "link-url": {"type": "link", "properties": {"href": f"{canary}/crs.wkt"}},
        "link-file": {"type": "link", "properties": {"href": f"file://{SECRET}"}},
        "url-name": {"type": "name", "properties": {"name": f"{canary}/crs.wkt"}},
        "topojson-object": {"type": "link", "properties": {"href": f"{canary}/crs.wkt"}},
    }[crs_link]
    if crs_link == "topojson-object":
        path = tmp_path / "japan.topojson"
        doc = {
            "type": "Topology",
            "objects": {"p": {"type": "GeometryCollection", "crs": crs, "geometries": []}},
            "arcs": [],
        }
        reader, file_format = "japan-prefectures", "topojson"
        table = tmp_path / "prefectures.csv"
        table.write_text("id,name-ja,name-en,regions\n1,北海道,Hokkaido,0\n", encoding="utf-8")
        extra = [{"path": table, "format": "csv", "encoding": "utf-8"}]
    else:
        path = tmp_path / "sites.geojson"
        doc = {
            "type": "FeatureCollection",
            "crs": crs,
            "features": [
                {
                    "type": "Feature",
                    "properties": {},
                    "geometry": {"type": "Point", "coordinates": [0, 0]},
                }
            ],
        }
        reader, file_format, extra = "vector-file", "geojson", []
    path.write_text(json.dumps(doc), encoding="utf-8")
    dataset, paths = fake_dataset(
        [{"path": path, "format": file_format, "crs": "EPSG:4326"}, *extra], reader=reader
    )
    with pytest.raises(DataError) as info:
        call_reader(dataset, paths)
    assert_actionable(info, path.name, "only named CRSs")


@pytest.mark.parametrize("hostile", ["vrt", "crs-link"])
def test_offline_basemap_reads_through_the_same_guards(tmp_path, canary, hostile):
    """The map's basemap files (Natural Earth, Japan prefectures) get no weaker reader."""
    from geomap.render.basemap import _read

    path = tmp_path / "ne_50m_coastline.json"
    if hostile == "vrt":
        path.write_text(_vector_vrt(f"/vsicurl/{canary}/secret.tif"), encoding="utf-8")
        expected = "not JSON"
    else:
        doc = {
            "type": "FeatureCollection",
            "crs": {"type": "link", "properties": {"href": f"{canary}/crs.wkt"}},
            "features": [],
        }
        path.write_text(json.dumps(doc), encoding="utf-8")
        expected = "only named CRSs"
    with pytest.raises(DataError) as info:
        _read(path, "OGC:CRS84", (0.0, 0.0, 10.0, 10.0), ["featurecla"], None)
    assert_actionable(info, path.name, expected)


def test_geopackage_virtual_table_cannot_reach_files_or_the_network(tmp_path, canary):
    """A GeoPackage may declare SQLite virtual tables (VirtualOGR) that open other sources."""
    path = tmp_path / "sites.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 0)], crs="EPSG:4326").to_file(
        path, layer="sites"
    )
    con = sqlite3.connect(path)
    con.execute("PRAGMA writable_schema=ON")
    for name, source in (("remote", f"/vsicurl/{canary}/secret.csv"), ("local", SECRET)):
        con.execute(
            "INSERT INTO sqlite_master(type, name, tbl_name, rootpage, sql) "
            "VALUES ('table', ?, ?, 0, ?)",
            (name, name, f"CREATE VIRTUAL TABLE {name} USING VirtualOGR('{source}')"),
        )
        con.execute(
            "INSERT INTO gpkg_contents(table_name, data_type, identifier) "
            "VALUES (?, 'attributes', ?)",
            (name, name),
        )
    con.commit()
    con.close()
    from geomap.core.report import IngestReport
    from geomap.io.vectors import read_vector_path

    def read(layer):
        return read_vector_path(
            path,
            file_format="geopackage",
            declared_crs="EPSG:4326",
            report=IngestReport("t"),
            layer=layer,
        )

    for layer in ("remote", "local"):
        with pytest.raises(DataError) as info:
            read(layer)
        message = assert_actionable(info, "sites.gpkg")
        assert "root:" not in message
    assert len(read("sites")) == 1  # the genuine layer of the same file still reads


# ============================================================ archives


@pytest.mark.parametrize(
    "member",
    ["../../evil.geojson", "/tmp/evil.geojson", "C:\\evil.geojson", "a/../../evil.geojson"],
)
def test_archive_member_names_that_escape_are_refused(tmp_path, member):
    archive = tmp_path / "faults.geojson.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr(member, b'{"type": "FeatureCollection", "features": []}')
    with pytest.raises(DataError) as info:
        read_zip_member(archive, suffixes=(".geojson",))
    assert_actionable(info, "faults.geojson.zip", repr(member))
    assert not (tmp_path.parent / "evil.geojson").exists()


def test_zip_bomb_is_stopped_at_the_bound_even_when_its_header_lies(tmp_path):
    archive = tmp_path / "bomb.geojson.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        out.writestr("bomb.geojson", b" " * 5_000_000)
    raw = bytearray(archive.read_bytes())
    # rewrite the declared uncompressed size (local header and central directory) to 10 bytes
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.find(signature)
        raw[at + offset : at + offset + 4] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(raw))
    assert zipfile.ZipFile(archive).getinfo("bomb.geojson").file_size == 10
    with pytest.raises(DataError) as info:
        read_zip_member(archive, suffixes=(".geojson",), max_bytes=1_000_000)
    # zipfile stops at the declared size and the CRC check then fails: refused either way
    message = assert_actionable(info, "bomb.geojson.zip")
    assert "expands beyond 1,000,000" in message or "Bad CRC-32" in message
    with pytest.raises(DataError) as info:  # an honest header is refused before any inflating
        read_zip_member(_bomb(tmp_path), suffixes=(".geojson",), max_bytes=1_000_000)
    assert_actionable(info, "honest.geojson.zip", "expands beyond 1,000,000")


def _bomb(folder: Path) -> Path:
    archive = folder / "honest.geojson.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as out:
        out.writestr("bomb.geojson", b" " * 5_000_000)
    return archive


def test_xz_bomb_is_bounded(tmp_path):
    import lzma

    path = tmp_path / "survey.csv.xz"
    path.write_bytes(lzma.compress(b"x,y,v\n" + b"1,2,3\n" * 500_000))
    assert path.stat().st_size < 50_000
    dataset, paths = fake_dataset(
        [{"path": path, "format": "csv-xz", "crs": "EPSG:4326", "encoding": "utf-8"}],
        reader="line-survey",
        reader_options={"x": "x", "y": "y", "value": "v"},
    )
    with pytest.raises(DataError) as info:
        call_reader(dataset, paths, max_uncompressed_bytes=1_000_000)
    assert_actionable(info, "survey.csv.xz", "1,000,000", "max_uncompressed_bytes")


# ============================================================ YAML config


UNSAFE_TAGS = [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:subprocess.check_output [['touch', '{marker}']]",
    "!!python/name:os.system",
    "!!python/module:os",
]


@pytest.mark.parametrize("tag", UNSAFE_TAGS)
def test_python_tags_in_the_catalog_are_refused_and_never_run(tmp_path, tag):
    marker = tmp_path / "pwned"
    path = tmp_path / "catalog.yaml"
    path.write_text(f"datasets: {tag.format(marker=marker)}\nregions: []\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert_actionable(info, "catalog.yaml", "not executed")
    assert not marker.exists()


def _recipe_document() -> dict:
    path = Path(__file__).resolve().parents[1] / "layers" / "kuroko-vms.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("tag", UNSAFE_TAGS)
def test_python_tags_in_a_recipe_are_refused_and_never_run(tmp_path, tag):
    marker = tmp_path / "pwned"
    text = yaml.safe_dump(_recipe_document(), sort_keys=False)
    text = text.replace("regions:\n- japan", f"regions: {tag.format(marker=marker)}", 1)
    assert tag.split()[0] in text
    path = tmp_path / "kuroko-evil.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert_actionable(info, "kuroko-evil.yaml", "not executed")
    assert not marker.exists()


def test_yaml_alias_bomb_is_refused(tmp_path):
    """Nested aliases ("billion laughs") would expand exponentially in anything walking them."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    lines += ["datasets: *i", "regions: *i"]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert_actionable(info, "laughs.yaml", "*a", "line 2")


@pytest.mark.parametrize(
    ("where", "edit"),
    [
        ("modle", lambda doc: doc.update(modle={"name": "wofe"})),
        ("evidence[0].paramz", lambda doc: doc["evidence"][0].update(paramz={})),
        ("evidence[2].source.datset", lambda doc: doc["evidence"][2]["source"].update(datset="x")),
    ],
)
def test_recipe_with_an_unknown_key_names_it(tmp_path, where, edit):
    doc = _recipe_document()
    edit(doc)
    path = tmp_path / "kuroko-typo.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    message = assert_actionable(info, "kuroko-typo.yaml", where)
    assert "unknown key" in message


def test_the_unedited_recipe_loads():
    """Control for the recipe cases above: the same document without the damage loads."""
    assert load_recipe("kuroko-vms").regions == ["japan"]
