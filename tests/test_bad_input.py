"""The bad-input suite (issue 9): each case gets a clear error naming the value and the fix.

Cases already pinned down next to their module (``test_crs.py``, ``test_readers_*.py``,
``test_grid.py``...) are listed in ``docs/reliability.md``; this file adds the cases that
were missing and re-checks every message with :func:`_actionable.assert_actionable`.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr
from _actionable import assert_actionable
from _fake_dataset import call_reader, fake_dataset
from affine import Affine
from shapely.geometry import LineString, Point, Polygon

import geomap
from geomap.catalog import load_catalog
from geomap.core.report import IngestReport
from geomap.errors import (
    CatalogError,
    CRSError,
    DataError,
    HashMismatchError,
    RecipeError,
)
from geomap.harmonize.crs import STRICT_ENV, check_coordinates, require_same_crs, to_region
from geomap.harmonize.geometry import clean_geometries
from geomap.io.registry import get_reader, local_paths

# ============================================================ files: damaged copies of real files


def _garbage(data: bytes) -> bytes:
    """The same length, the first 64 bytes overwritten (a corrupted header)."""
    return b"\xde\xad\xbe\xef" * 16 + data[64:]


DAMAGE = {
    "zero-byte": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "corrupted": _garbage,
}

# one real file per supported format: (case, dataset, file name, reader options, companions)
FORMATS = [
    ("minmod-json", "minmod-usgs-mrdata", "b000.json", {}, ()),
    ("csv", "carbonatites-kimberlites-global", "carbonatites_woolley2008.csv", {}, ()),
    ("csv-line-survey", "usgs-ne-wisconsin-aeromag-2021", "WI_Magnetics.csv", {}, ()),
    ("csv-xz", "fatiando-osborne-magnetic-au", "osborne-magnetic.csv.xz", {}, ()),
    (
        "geojson",
        "natural-earth",
        "ne_110m_admin_0_countries.json",
        {"layer": "110m_admin_0_countries"},
        (),
    ),
    ("geojson-zip", "gem-global-active-faults-2017", "gem_active_faults.geojson.zip", {}, ()),
    ("topojson", "japan-prefectures-globalmap", "japan.topojson", {}, ()),
    ("7z", "natural-earth", "ne_50m_admin_0_countries.7z", {"layer": "50m_admin_0_countries"}, ()),
    *[
        (
            f"shapefile{suffix}",
            "csiro-capricorn-regolith-geochem-wa",
            f"CapricornSoilGeochem{suffix}",
            {},
            tuple(f"CapricornSoilGeochem{s}" for s in (".shp", ".shx", ".dbf", ".prj")),
        )
        for suffix in (".shp", ".shx", ".dbf")
    ],
    (
        "geopackage",
        "gtk-till-geochem-central-lapland",
        "IOCG_CLB_Till_Geochem_reg_511p.gpkg",
        {},
        (),
    ),
    (
        "netcdf4-hdf5",
        "fatiando-earth-grids-10arcmin",
        "earth-topography-10arcmin.nc",
        {"layer": "topography"},
        (),
    ),
    ("netcdf-classic", "glim-lithology-0.5deg", "GLiM_720_360_raw.nc", {}, ()),
    ("gmt-netcdf", "emag2-v2-1deg", "EMAG2_V2_1x1.grd", {}, ()),
]
# A CSV has no length in its header: a file cut at a line end is a shorter, valid table.
# Catalogued files are protected by their sha256 (test_truncated_file_never_reaches_a_reader).
UNDETECTABLE_BY_READER = {("csv", "truncated"), ("csv-line-survey", "truncated")}


def _damaged_copy(tmp_path, dataset_id, name, companions, damage):
    """Return (dataset, paths) with ``name`` replaced by a damaged copy (companions beside it)."""
    catalog = load_catalog()
    dataset = catalog.dataset(dataset_id)
    paths = local_paths(dataset, geomap.fetch(dataset_id, catalog=catalog))
    folder = tmp_path / dataset_id
    folder.mkdir()
    for relpath, path in list(paths.items()):
        if path.name == name or path.name in companions:
            copy = folder / path.name
            data = path.read_bytes()
            copy.write_bytes(DAMAGE[damage](data) if path.name == name else data)
            paths[relpath] = copy
    return dataset, paths


READER_CASES = [
    pytest.param(*fmt[1:], damage, id=f"{fmt[0]}-{damage}")
    for fmt in FORMATS
    for damage in DAMAGE
    if (fmt[0], damage) not in UNDETECTABLE_BY_READER
]


@pytest.mark.parametrize(("dataset_id", "name", "options", "companions", "damage"), READER_CASES)
def test_damaged_file_is_refused_by_its_reader(
    tmp_path, dataset_id, name, options, companions, damage
):
    dataset, paths = _damaged_copy(tmp_path, dataset_id, name, companions, damage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a reader may warn before it refuses
        with pytest.raises(DataError) as info:
            get_reader(dataset)(dataset, paths, **{**dataset.reader_options, **options})
    assert_actionable(info, name)


@pytest.mark.parametrize(
    ("case", "dataset_id", "name", "options", "companions"), FORMATS, ids=[f[0] for f in FORMATS]
)
def test_truncated_file_never_reaches_a_reader(
    tmp_path, monkeypatch, case, dataset_id, name, options, companions
):
    """Through ``geomap.read`` a damaged catalogued file is refused by its sha256 first."""
    dataset = load_catalog().dataset(dataset_id)
    entry = next(f for f in dataset.files if Path(f.path).name == name)
    original = next(p for p in geomap.fetch(dataset_id) if p.name == name)
    mirror = tmp_path / "mirror"
    (mirror / entry.path).parent.mkdir(parents=True)
    (mirror / entry.path).write_bytes(DAMAGE["truncated"](original.read_bytes()))
    monkeypatch.setenv("GEOMAP_DATA_DIR", str(mirror))  # searched before the shared mirror
    with pytest.raises(HashMismatchError) as info:
        geomap.read(dataset_id, **options)
    message = assert_actionable(info, name, entry.sha256)
    assert "delete it" in message


def _tiny_geotiff(path: Path, values: np.ndarray, *, nodata=None, transform=None) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=values.shape[0],
        width=values.shape[1],
        count=1,
        dtype=values.dtype,
        crs="EPSG:3577",
        transform=transform or Affine(1000, 0, 1_000_000, 0, -1000, -2_000_000),
        nodata=nodata,
    ) as dst:
        dst.write(values, 1)
    return path


def _read_tif(path: Path, **options):
    dataset, paths = fake_dataset([{"path": path, "format": "geotiff"}], reader="geotiff")
    return call_reader(dataset, paths, **options)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_geotiff_is_refused(tmp_path, damage):
    good = _tiny_geotiff(tmp_path / "good.tif", np.ones((300, 300), "float32"), nodata=-1.0)
    bad = tmp_path / "damaged.tif"
    bad.write_bytes(DAMAGE[damage](good.read_bytes()))
    with pytest.raises(DataError) as info:
        _read_tif(bad)
    assert_actionable(info, "damaged.tif")


# ============================================================ files: encodings and columns


def _line_survey(tmp_path: Path, text: bytes, *, encoding="utf-8"):
    path = tmp_path / "survey.csv"
    path.write_bytes(text)
    return fake_dataset(
        [{"path": path, "format": "csv", "crs": "EPSG:3071", "encoding": encoding}],
        reader="line-survey",
        reader_options={"x": "E", "y": "N", "value": "RMF", "line": "Line"},
    )


def test_wrong_text_encoding_names_the_byte_and_the_fix(tmp_path):
    text = "Line,E,N,RMF,note\n1,724307,491569,210,Caf\xe9 road\n".encode("cp1252")
    with pytest.raises(DataError) as info:
        call_reader(*_line_survey(tmp_path, text))
    message = assert_actionable(info, "survey.csv", r"b'\xe9'")
    assert "encoding" in message
    out = call_reader(*_line_survey(tmp_path, text, encoding="cp1252"))
    assert len(out) == 1


def test_duplicated_csv_column_is_refused_not_renamed(tmp_path):
    text = b"Line,E,N,RMF,RMF\n1,724307,491569,210,5\n1,724310,491570,211,6\n"
    with pytest.raises(DataError) as info:
        call_reader(*_line_survey(tmp_path, text))
    assert_actionable(info, "survey.csv", "'RMF' (2 times)")


def test_missing_csv_column_is_named(tmp_path):
    text = b"Line,E,N\n1,724307,491569\n"
    with pytest.raises(DataError) as info:
        call_reader(*_line_survey(tmp_path, text))
    assert_actionable(info, "survey.csv", "RMF")


def test_duplicated_csv_column_in_a_real_table_is_refused(tmp_path):
    source = next(p for p in geomap.fetch("sarig-south-australia-gawler-ml") if p.name == "fv.csv")
    lines = source.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    lines[0] = ",".join([*header[:-1], "geol"])  # the last column renamed to an existing one
    dataset = load_catalog().dataset("sarig-south-australia-gawler-ml")
    paths = local_paths(dataset, geomap.fetch(dataset.id))
    copy = tmp_path / "fv.csv"
    copy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths[next(k for k in paths if k.endswith("/fv.csv"))] = copy
    with pytest.raises(DataError) as info:
        get_reader(dataset)(dataset, paths, layer="training")
    assert_actionable(info, "fv.csv", "'geol' (2 times)")


def test_duplicated_dbf_field_is_refused(tmp_path):
    """GDAL would hand the second field's values out under both names, losing the first."""
    frame = gpd.GeoDataFrame(
        {"ZZA": [1, 2], "ZZB": [3, 4]}, geometry=[Point(0, 0), Point(1, 1)], crs="EPSG:4326"
    )
    frame.to_file(tmp_path / "sites.shp")
    dbf = tmp_path / "sites.dbf"
    raw = bytearray(dbf.read_bytes())
    at = raw.find(b"ZZB")
    raw[at : at + 3] = b"ZZA"
    dbf.write_bytes(bytes(raw))
    files = [{"path": tmp_path / "sites.shp", "format": "shapefile"}]
    files += [
        {"path": tmp_path / f"sites{s}", "format": "shapefile-sidecar"}
        for s in (".shx", ".dbf", ".prj")
    ]
    with pytest.raises(DataError) as info:
        call_reader(*fake_dataset(files, reader="vector-file"))
    assert_actionable(info, "sites.shp", "ZZA")


def test_missing_column_in_a_point_table(tmp_path):
    path = tmp_path / "carbonatites_woolley2008.csv"
    path.write_text("longitude,age_info\n10,Cretaceous\n", encoding="utf-8")
    dataset, paths = fake_dataset(
        [{"path": path, "format": "csv", "crs": "EPSG:4326", "encoding": "utf-8"}],
        reader="carbonatites-kimberlites",
    )
    with pytest.raises(DataError) as info:
        call_reader(dataset, paths)
    assert_actionable(info, "carbonatites_woolley2008.csv", "longitude,latitude,age_info")


# ============================================================ geometry


def test_only_null_and_empty_geometries_is_an_empty_layer_error(tmp_path):
    features = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"id": 1}, "geometry": None},
            {
                "type": "Feature",
                "properties": {"id": 2},
                "geometry": {"type": "Polygon", "coordinates": []},
            },
        ],
    }
    path = tmp_path / "nothing.geojson"
    path.write_text(json.dumps(features))
    dataset, paths = fake_dataset(
        [{"path": path, "format": "geojson", "crs": "EPSG:4326"}], reader="vector-file"
    )
    with pytest.raises(DataError) as info:
        call_reader(dataset, paths)
    assert_actionable(info, "nothing.geojson")


def test_repairs_are_counted_and_mixed_families_explain_the_options():
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    loop = Polygon([(0, 0), (2, 0), (0, 2), (2, 2), (0, 0)])  # self-intersecting ring
    frame = gpd.GeoDataFrame(geometry=[bowtie, loop, Point(5, 5)], crs="EPSG:4326")
    with pytest.raises(DataError) as info:
        clean_geometries(frame, IngestReport("t"), what="geology units")
    message = assert_actionable(info, "geology units", "'polygon': 2", "'point': 1")
    assert "mixed='dominant'" in message
    report = IngestReport("t")
    out = clean_geometries(frame, report, mixed="dominant")
    assert out.is_valid.all() and len(out) == 2
    assert report.repaired["invalid geometry made valid (make_valid)"] == 2
    assert report.dropped["point geometry in a polygon layer"] == 1


# ============================================================ coordinates and CRS


def test_missing_crs_message():
    with pytest.raises(CRSError) as info:
        to_region(gpd.GeoDataFrame(geometry=[Point(139.7, 35.7)]), "japan")
    message = assert_actionable(info, "no CRS")
    assert "set_crs" in message and "EPSG:4326" not in message.split("no CRS")[0]


def test_mixed_crs_message_names_both_layers_and_crss():
    a = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:4326")
    b = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:3857")
    with pytest.raises(CRSError) as info:
        require_same_crs(a, b, names=["occurrences", "faults"])
    assert_actionable(info, "occurrences", "faults", "EPSG:4326", "EPSG:3857")


def test_swapped_lat_lon_message_names_the_records():
    frame = gpd.GeoDataFrame(
        geometry=[Point(35.69, 139.69), Point(34.69, 135.50)], crs="EPSG:4326", index=["a7", "b9"]
    )
    with pytest.raises(CRSError) as info:
        to_region(frame, "japan")
    assert_actionable(info, "'a7'", "'b9'", "swapped")


def test_outside_the_crs_domain_message_names_the_records():
    with pytest.raises(CRSError) as info:
        check_coordinates(
            np.array([10.0, 500.0]), np.array([10.0, 10.0]), "EPSG:4326", labels=["ok", "far"]
        )
    assert_actionable(info, "'far'", "EPSG:4326")
    frame = gpd.GeoDataFrame(
        geometry=[Point(400_000, 7_400_000), Point(9_000_000, 1_000_000)],
        crs="EPSG:28350",
        index=[10, 11],
    )
    with pytest.raises(CRSError) as info:
        to_region(frame, "capricorn-wa")
    assert_actionable(info, "[11]", "EPSG:28350")


def test_infinities_after_a_failed_transform_name_the_records():
    from geomap.catalog import Region

    ortho = Region(
        id="ortho-test",
        name="orthographic view of Japan",
        countries=["JPN"],
        bbox=(122.5, 24.0, 146.5, 46.0),
        crs="+proj=ortho +lat_0=36 +lon_0=137 +type=crs",
    )
    frame = gpd.GeoDataFrame(
        geometry=[Point(139.7, 35.7), Point(-43.0, -22.9)], crs="EPSG:4326", index=["tokyo", "rio"]
    )
    with pytest.raises(CRSError) as info:
        to_region(frame, ortho, clip=False)
    message = assert_actionable(info, "'rio'")
    assert "'tokyo'" not in message


def test_datum_fallback_warns_and_strict_mode_error_says_what_to_install(monkeypatch):
    frame = gpd.GeoDataFrame(geometry=[Point(-100.0, 40.0)], crs="EPSG:4267")
    from geomap.harmonize.crs import CRSAccuracyWarning

    with pytest.warns(CRSAccuracyWarning, match="EPSG:4267"):
        to_region(frame, "conus")
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(CRSError) as info:
        to_region(frame, "conus")
    message = assert_actionable(info, "EPSG:4267", "us_noaa_conus.tif")
    assert "projsync" in message


def test_huge_and_non_finite_coordinates_before_rasterizing():
    from geomap.grid import rasterize, region_grid

    grid = region_grid("japan", 25_000)
    y = grid.affine.f - 3.5 * 25_000
    huge = gpd.GeoSeries(
        [LineString([(-1e300, y), (1e300, y)])], crs=grid.crs.to_wkt(), index=["fault-1"]
    )
    burned = rasterize(huge, grid)
    assert int(burned.values[3].sum()) == grid.shape.x  # clipped to the grid, not lost
    bad = gpd.GeoSeries([Point(0, 0), Point(np.nan, 0)], index=["ok", "nan-site"], crs=grid.crs)
    with pytest.raises(CRSError) as info:
        rasterize(bad, grid)
    assert_actionable(info, "'nan-site'")


# ============================================================ rasters


def test_undeclared_nodata_sentinel_is_named_with_the_option_to_set(tmp_path):
    values = np.ones((3, 4), dtype="float32")
    values[0, 0] = -9999.0
    path = _tiny_geotiff(tmp_path / "sentinel.tif", values)
    with pytest.raises(DataError) as info:
        _read_tif(path)
    assert_actionable(info, "sentinel.tif", "-9999", "nodata=-9999")


def test_all_nodata_raster_is_refused(tmp_path):
    path = _tiny_geotiff(tmp_path / "blank.tif", np.full((3, 4), -1.0, "float32"), nodata=-1.0)
    with pytest.raises(DataError) as info:
        _read_tif(path)
    assert_actionable(info, "blank.tif")


def test_rotated_transform_is_refused(tmp_path):
    path = _tiny_geotiff(
        tmp_path / "rotated.tif",
        np.ones((3, 4), "float32"),
        nodata=-1.0,
        transform=Affine(1000, 10, 0, 10, -1000, 0),
    )
    with pytest.raises(DataError) as info:
        _read_tif(path)
    assert_actionable(info, "rotated.tif", "rotated")


def test_non_square_cells_are_kept_and_reprojected_exactly(tmp_path):
    """2 km x 500 m cells: values of a linear field survive reading and regridding."""
    from geomap.grid import region_grid, reproject_to

    grid = region_grid("capricorn-wa", 25_000)
    west, south, east, north = grid.extent.boundingbox[:4]
    cols, rows = int((east - west) / 2000) + 4, int((north - south) / 500) + 4
    x = west - 4000 + 2000 * (np.arange(cols) + 0.5)
    y = north + 1000 - 500 * (np.arange(rows) + 0.5)
    field = (0.001 * x[None, :] + 0.002 * y[:, None]).astype("float64")
    source = xr.DataArray(field, dims=("y", "x"), coords={"y": y, "x": x}, name="field")
    source = source.rio.write_crs(grid.crs.to_wkt()).rio.write_nodata(np.nan)
    out = reproject_to(source, grid, resampling="bilinear")
    gx, gy = np.meshgrid(out["x"].to_numpy(), out["y"].to_numpy())
    np.testing.assert_allclose(out.to_numpy(), 0.001 * gx + 0.002 * gy, rtol=1e-6)


def test_integer_raster_without_nodata_is_refused_before_reprojection():
    raster = xr.DataArray(
        np.ones((3, 3), "uint8"),
        dims=("y", "x"),
        coords={"y": [36.0, 35.5, 35.0], "x": [139.0, 139.5, 140.0]},
        name="classes",
    ).rio.write_crs("EPSG:4326")
    with pytest.raises(DataError) as info:
        to_region(raster, "japan")
    assert_actionable(info, "nodata", "write_nodata")


# ============================================================ config


def test_malformed_catalog_yaml_names_file_and_line(tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text("datasets: [\n  - id: x\nregions: {", encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert_actionable(info, "catalog.yaml", "line")


def test_malformed_recipe_yaml_names_file_and_line(tmp_path):
    from geomap.recipes import load_recipe

    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nlayers:\n  - name: [unclosed\n", encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert_actionable(info, "broken.yaml", "line 4")


def test_recipe_that_is_not_a_mapping(tmp_path):
    from geomap.recipes import load_recipe

    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert_actionable(info, "list.yaml", "got a list")


def test_catalog_yaml_in_another_encoding(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("datasets: []\nregions: []\n# Caf\xe9\n".encode("cp1252"))
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert_actionable(info, "latin.yaml", "UTF-8")


def test_the_real_catalog_copied_elsewhere_still_loads(tmp_path):
    """Control case: the real catalog, copied, loads; the errors above come from the damage.

    The file hashes live in the registry folder the catalog names (relative to the catalog),
    so a copy travels with that folder.
    """
    copy = tmp_path / "copy.yaml"
    shutil.copy(geomap._paths.catalog_path(), copy)
    registry = geomap._paths.catalog_root(geomap._paths.catalog_path()) / "geomap" / "registry"
    shutil.copytree(registry, tmp_path / "geomap" / "registry")
    assert load_catalog(copy).dataset("emag2-v2-1deg").id == "emag2-v2-1deg"
