"""Vector readers on the mirrored data, and their refusals of bad files."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import py7zr
import pytest
from _fake_dataset import call_reader, fake_dataset
from shapely.geometry import Point, Polygon

import geomap
from geomap.core.report import IngestReport
from geomap.errors import CRSError, DataError, UnknownNameError
from geomap.harmonize.faults import TUPLE_FIELDS
from geomap.harmonize.geometry import clean_geometries
from geomap.harmonize.lithology import (
    classify_text,
    glim_to_lithology,
    lithology_classes,
    lithology_code,
)
from geomap.io._archive_members import _BoundedWriter, read_zip_member
from geomap.io.azgs import LANDMARKS, row_order_join_evidence

# ------------------------------------------------------------------ real data

MY_READERS = {
    "azgs-geology",
    "gem-faults",
    "japan-prefectures",
    "natural-earth",
    "vector-file",
    "sarig-gawler",
    "netcdf-grid",
    "glim-grid",
    "gmt-grid",
    "line-survey",
    "capricorn-geochem",
    "lapland-till-geochem",
    "geotiff",
}


def test_every_mirrored_vector_raster_geochem_and_line_dataset_reads(catalog):
    ids = [d.id for d in catalog.datasets if d.reader in MY_READERS and not d.online_only]
    assert len(ids) == 13
    for dataset_id in ids:
        result = geomap.read(dataset_id)
        report = result.attrs["geomap_report"]
        assert report["dataset_id"] == dataset_id and report["records_out"] > 0
        crs = result.rio.crs if hasattr(result, "dims") else getattr(result, "crs", "table")
        assert crs is not None, dataset_id


def test_gem_faults_normalized():
    faults = geomap.read("gem-global-active-faults-2017")
    report = faults.attrs["geomap_report"]
    assert report["records_in"] == 10_057
    assert report["dropped"]["null geometry"] == 3
    assert len(faults) == 10_054 and faults.crs.to_epsg() == 4326
    assert set(faults.geom_type) == {"LineString", "MultiLineString"}
    for name in TUPLE_FIELDS:
        for suffix in ("", "_min", "_max"):
            assert faults[name + suffix].dtype == np.float64
    assert faults["slip_type_source"].isna().sum() == 2_340  # source nulls stay missing
    counts = faults["slip_type"].value_counts()
    assert counts["strike_slip"] == 519 + 208 + 80  # "Strike-slip", "Strike Slip", "Strike-Slip"
    assert {"normal", "reverse", "dextral", "sinistral", "unknown"} <= set(counts.index)
    assert set(faults["slip_class"]) <= {
        "normal",
        "reverse",
        "strike_slip",
        "oblique",
        "fold",
        "unknown",
    }
    both = faults["average_dip_min"].notna() & faults["average_dip_max"].notna()
    assert (faults.loc[both, "average_dip_min"] <= faults.loc[both, "average_dip_max"]).all()
    assert faults["dip_dir_deg"].dropna().between(0, 360).all()


def test_azgs_row_order_join_is_tested_and_refused():
    polygons = geomap.read("azgs-arizona-geology-1m")
    evidence = polygons.attrs["geomap_join_evidence"]
    assert len(polygons) == 4841
    assert evidence["polygons"] == evidence["rows"] == 4841
    assert evidence["proven"] is False
    assert evidence["landmarks_agreeing"] <= 2
    assert abs(evidence["island_conflicts"] - evidence["island_conflicts_random_mean"]) < (
        3 * evidence["island_conflicts_random_sd"]
    )
    assert polygons["mapunit"].isna().all()
    assert (polygons["lithology"] == "unknown").all()
    report = polygons.attrs["geomap_report"]
    assert report["dropped"]["attribute rows not joined (join by row order disproven)"] == 4841
    assert "NOT joined" in " ".join(report["notes"])


def test_azgs_join_test_accepts_a_consistent_join():
    """The same test passes when units are consistent with topology and landmarks."""
    import json as _json

    data = geomap.fetch("azgs-arizona-geology-1m")
    topo_path = next(p for p in data if p.name.endswith(".topojson"))
    topology = _json.loads(topo_path.read_bytes())
    polygons = geomap.read("azgs-arizona-geology-1m").geometry
    units = pd.Series([f"U{i}" for i in range(len(polygons))])
    tree = polygons.sindex
    for _, lon, lat, accepted in LANDMARKS:
        hit = tree.query(Point(lon, lat), predicate="within")[0]
        units.iloc[hit] = accepted[0]
    evidence = row_order_join_evidence(topology, "polyswithcolor", polygons, units, permutations=20)
    assert evidence.proven, evidence.verdict
    shuffled = units.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert not row_order_join_evidence(
        topology, "polyswithcolor", polygons, shuffled, permutations=20
    ).proven


def test_azgs_units_layer_has_lithology_classes():
    units = geomap.read("azgs-arizona-geology-1m", layer="units")
    assert len(units) == 50
    by_unit = units.set_index("mapunit")["lithology"]
    assert by_unit["Xg"] == "felsic_intrusive"
    assert by_unit["QTb"] == "mafic_volcanic"
    assert by_unit["Q"] == "unconsolidated"
    assert by_unit["Xm"] == "metamorphic"
    assert by_unit["Yd"] == "mafic_intrusive"
    assert units["color"].str.match(r"^#[0-9a-f]{6}$").all()


def test_japan_prefectures_joined_by_code():
    prefectures = geomap.read("japan-prefectures-globalmap")
    assert len(prefectures) == 47 and sorted(prefectures["pref_code"]) == list(range(1, 48))
    kyoto = prefectures.set_index("pref_code").loc[26]
    assert kyoto["name"] == "Kyoto" and kyoto["name_ja"] == "京都府"
    assert prefectures.is_valid.all()
    report = prefectures.attrs["geomap_report"]
    assert report["repaired"]["invalid geometry made valid (make_valid)"] > 0
    assert prefectures.crs.equals("OGC:CRS84")


@pytest.mark.parametrize(
    ("layer", "count"),
    [
        ("110m_admin_0_countries", 177),
        ("110m_coastline", 134),
        ("50m_admin_0_countries", 241),
        ("50m_admin_1_states_provinces", 100),
        ("50m_coastline", 1428),
    ],
)
def test_natural_earth_layers(layer, count):
    frame = geomap.read("natural-earth", layer=layer)
    assert len(frame) == count and frame.crs is not None
    assert frame.is_valid.all()


def test_hasterok_layers_with_lithology():
    provinces = geomap.read("hasterok-global-geologic-provinces")
    cratons = geomap.read("hasterok-global-geologic-provinces", layer="cratons")
    assert len(provinces) == 914 and len(cratons) == 114
    arcs = provinces[provinces["prov_type"] == "volcanic arc"]
    assert (arcs["lithology"] == "volcanic_undivided").all()
    assert (provinces.loc[provinces["prov_type"] == "craton", "lithology"] == "unknown").all()
    with pytest.raises(UnknownNameError, match="cratons"):
        geomap.read("hasterok-global-geologic-provinces", layer="plates")


def test_sarig_layers():
    faults = geomap.read("sarig-south-australia-gawler-ml")
    assert len(faults) == 5097 and faults.crs.to_epsg() == 4283
    assert {"symbol", "description"} <= set(faults.columns)
    features = geomap.read("sarig-south-australia-gawler-ml", layer="features")
    assert len(features) == 10_000
    assert features["mag"].isna().sum() == 2574  # undeclared no-data (all-zero) made explicit
    training = geomap.read("sarig-south-australia-gawler-ml", layer="training")
    assert training["deposit"].value_counts().to_dict() == {1: 115, 0: 115}


# ------------------------------------------------------------------ lithology vocabulary


def test_lithology_vocabulary_codes_are_stable_and_unique():
    table = lithology_classes()
    assert table["code"].is_unique and table["id"].is_unique
    assert lithology_code("unknown") == 0
    assert lithology_code("carbonatite_alkaline") == 1
    assert classify_text("Nepheline syenite and carbonatite complex") == "carbonatite_alkaline"
    assert classify_text("Early Proterozoic Metarhyolite") == "metamorphic"
    assert classify_text("Tuffaceous sandstone") == "clastic_sedimentary"
    assert classify_text("安山岩溶岩") == "intermediate_volcanic"
    assert classify_text("付加体の砂岩") == "clastic_sedimentary"
    assert classify_text("蛇紋岩") == "ultramafic"
    assert classify_text("") == "unknown"


def test_glim_to_lithology_maps_codes_and_keeps_nodata():
    glim = geomap.read("glim-lithology-0.5deg")
    lith = glim_to_lithology(glim)
    assert lith.dtype == np.uint8 and lith.rio.nodata == 255
    sierra = lith.sel(x=-119.25, y=37.25, method="nearest").item()
    assert sierra == lithology_code("felsic_intrusive")
    ocean = lith.sel(x=-150.25, y=0.25, method="nearest").item()
    assert ocean == 255
    lazy = glim_to_lithology(glim.chunk({"y": 100, "x": 200}))
    np.testing.assert_array_equal(lazy.compute().to_numpy(), lith.to_numpy())


# ------------------------------------------------------------------ geometry repair


def test_bowtie_and_self_intersection_repaired_and_counted():
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    spike = Polygon([(0, 0), (2, 0), (2, 2), (1, -1), (0, 2)])
    frame = gpd.GeoDataFrame(
        {"n": [1, 2, 3, 4]}, geometry=[bowtie, spike, None, Polygon()], crs="EPSG:4326"
    )
    report = IngestReport("t")
    out = clean_geometries(frame, report)
    assert out.is_valid.all() and len(out) == 2
    assert set(out.geom_type) <= {"Polygon", "MultiPolygon"}
    assert report.repaired["invalid geometry made valid (make_valid)"] == 2
    assert report.dropped["null geometry"] == 1 and report.dropped["empty geometry"] == 1


def test_mixed_geometry_types_refused_unless_asked():
    frame = gpd.GeoDataFrame(
        geometry=[Point(0, 0), Point(1, 1), Polygon([(0, 0), (1, 0), (1, 1)])], crs="EPSG:4326"
    )
    with pytest.raises(DataError, match="mixes geometry families"):
        clean_geometries(frame, IngestReport("t"))
    report = IngestReport("t")
    assert len(clean_geometries(frame, report, mixed="dominant")) == 2
    assert report.dropped["polygon geometry in a point layer"] == 1


def test_invalid_polygons_in_a_file_are_repaired_by_the_reader(tmp_path):
    features = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": 1},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                },
            },
            {"type": "Feature", "properties": {"id": 2}, "geometry": None},
        ],
    }
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(features))
    dataset, paths = fake_dataset(
        [{"path": path, "format": "geojson", "crs": "EPSG:4326"}], reader="vector-file"
    )
    out = call_reader(dataset, paths)
    report = out.attrs["geomap_report"]
    assert len(out) == 1 and out.is_valid.all()
    assert report["repaired"]["invalid geometry made valid (make_valid)"] == 1
    assert report["dropped"]["null geometry"] == 1


# ------------------------------------------------------------------ bad files


def _copy_shapefile(tmp_path: Path, stem: str = "faults") -> Path:
    source = next(p for p in geomap.fetch("sarig-south-australia-gawler-ml") if p.suffix == ".shp")
    for suffix in (".shp", ".shx", ".dbf", ".prj"):
        shutil.copy(source.with_suffix(suffix), tmp_path / f"{stem}{suffix}")
    return tmp_path / f"{stem}.shp"


def _shapefile_dataset(shp: Path, crs: str | None = None):
    files = [{"path": shp, "format": "shapefile", "crs": crs}]
    files += [
        {"path": shp.with_suffix(s), "format": "shapefile-sidecar"}
        for s in (".shx", ".dbf", ".prj")
        if shp.with_suffix(s).exists()
    ]
    return fake_dataset(files, reader="vector-file")


def test_zero_byte_and_truncated_shapefiles(tmp_path):
    shp = _copy_shapefile(tmp_path)
    data = shp.read_bytes()
    shp.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"truncated.*faults\.shp|faults\.shp.*truncated"):
        call_reader(*_shapefile_dataset(shp))
    shp.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        call_reader(*_shapefile_dataset(shp))


def test_truncated_geopackage(tmp_path):
    source = geomap.fetch("gtk-till-geochem-central-lapland")[0]
    path = tmp_path / "till.gpkg"
    path.write_bytes(source.read_bytes()[:100_000])
    dataset, paths = fake_dataset([{"path": path, "format": "geopackage"}], reader="vector-file")
    with pytest.raises(DataError, match="truncated"):
        call_reader(dataset, paths)


def test_vrt_renamed_as_shapefile_is_refused(tmp_path):
    shp = tmp_path / "trap.shp"
    shp.write_text(
        '<OGRVRTDataSource><OGRVRTLayer name="x"><SrcDataSource>/etc/passwd</SrcDataSource>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    )
    with pytest.raises(DataError, match="VRT"):
        call_reader(*_shapefile_dataset(shp))


def test_shapefile_without_crs_and_without_declaration(tmp_path):
    shp = _copy_shapefile(tmp_path)
    shp.with_suffix(".prj").unlink()
    with pytest.raises(CRSError, match="no CRS"):
        call_reader(*_shapefile_dataset(shp))
    out = call_reader(*_shapefile_dataset(shp, crs="EPSG:4283"))
    assert out.crs.to_epsg() == 4283


def test_file_crs_contradicting_the_catalog(tmp_path):
    shp = _copy_shapefile(tmp_path)
    with pytest.raises(CRSError, match="catalog says"):
        call_reader(*_shapefile_dataset(shp, crs="EPSG:3857"))


def test_geojson_with_a_linked_crs_is_refused(tmp_path):
    path = tmp_path / "linked.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "crs": {"type": "link", "properties": '
        '{"href": "http://127.0.0.1:9/crs.wkt", "type": "ogcwkt"}}, "features": '
        '[{"type": "Feature", "properties": {}, '
        '"geometry": {"type": "Point", "coordinates": [0, 0]}}]}'
    )
    dataset, paths = fake_dataset(
        [{"path": path, "format": "geojson", "crs": "EPSG:4326"}], reader="vector-file"
    )
    with pytest.raises(DataError, match="only named CRSs"):
        call_reader(dataset, paths)


def test_truncated_geojson(tmp_path):
    source = next(p for p in geomap.fetch("natural-earth") if p.name == "ne_110m_coastline.json")
    path = tmp_path / "ne_110m_coastline.json"
    path.write_bytes(source.read_bytes()[:30_000])
    dataset, paths = fake_dataset(
        [{"path": path, "format": "geojson", "crs": "OGC:CRS84"}], reader="natural-earth"
    )
    with pytest.raises(DataError, match="truncated"):
        call_reader(dataset, paths)


def test_empty_layer_is_an_error(tmp_path):
    path = tmp_path / "empty.geojson"
    path.write_text('{"type": "FeatureCollection", "features": []}')
    dataset, paths = fake_dataset(
        [{"path": path, "format": "geojson", "crs": "EPSG:4326"}], reader="vector-file"
    )
    with pytest.raises(DataError, match="empty layer"):
        call_reader(dataset, paths)


def test_wrong_text_encoding_is_named(tmp_path):
    prefectures = geomap.fetch("japan-prefectures-globalmap")
    topo = tmp_path / "japan.topojson"
    shutil.copy(next(p for p in prefectures if p.suffix == ".topojson"), topo)
    table = tmp_path / "prefectures.csv"
    table.write_bytes("id,name-ja,name-en,regions\n1,北海道,Hokkaido,0\n".encode("shift_jis"))
    dataset, paths = fake_dataset(
        [
            {"path": topo, "format": "topojson", "crs": "OGC:CRS84"},
            {"path": table, "format": "csv", "encoding": "utf-8"},
        ],
        reader="japan-prefectures",
    )
    with pytest.raises(DataError, match=r"not valid utf-8.*encoding"):
        call_reader(dataset, paths)


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_zip_with_parent_directory_member_is_refused(tmp_path):
    archive = _zip(
        tmp_path / "faults.geojson.zip",
        {"../../evil.geojson": b'{"type": "FeatureCollection", "features": []}'},
    )
    dataset, paths = fake_dataset(
        [{"path": archive, "format": "geojson-zip", "crs": "EPSG:4326"}], reader="gem-faults"
    )
    with pytest.raises(DataError, match=r"outside the archive"):
        call_reader(dataset, paths)


def test_zip_bomb_is_bounded(tmp_path):
    archive = _zip(tmp_path / "bomb.geojson.zip", {"bomb.geojson": b" " * 20_000_000})
    assert archive.stat().st_size < 100_000
    dataset, paths = fake_dataset(
        [{"path": archive, "format": "geojson-zip", "crs": "EPSG:4326"}], reader="gem-faults"
    )
    with pytest.raises(DataError, match="zip bomb"):
        call_reader(dataset, paths, max_uncompressed_bytes=1_000_000)
    writer = _BoundedWriter(10, "m", archive)  # the bound also holds if a header lies
    writer.write(b"12345")
    with pytest.raises(DataError, match="expands beyond"):
        writer.write(b"678901")


def test_truncated_zip(tmp_path):
    source = geomap.fetch("gem-global-active-faults-2017")
    archive = tmp_path / "faults.geojson.zip"
    archive.write_bytes(next(p for p in source if p.suffix == ".zip").read_bytes()[:50_000])
    with pytest.raises(DataError, match="truncated or corrupted"):
        read_zip_member(archive, suffixes=(".geojson",))


def _7z_with_member_name(path: Path, name: str, data: bytes) -> Path:
    """Write a 7z whose (unencoded) header names a member ``name``, which py7zr won't write.

    The archive is written with a harmless placeholder of the same length, then the
    UTF-16 name in the header is replaced and both header CRCs are recomputed.
    """
    import struct
    import zlib

    placeholder = "x" * len(name)
    with py7zr.SevenZipFile(path, "w") as out:
        out.set_encoded_header_mode(False)
        out.writestr(data, placeholder)
    raw = bytearray(path.read_bytes())
    offset, size = struct.unpack("<QQ", raw[12:28])
    start = 32 + offset
    header = bytes(raw[start : start + size])
    old, new = placeholder.encode("utf-16-le"), name.encode("utf-16-le")
    assert header.count(old) == 1
    header = header.replace(old, new)
    raw[start : start + size] = header
    raw[28:32] = struct.pack("<I", zlib.crc32(header))
    raw[8:12] = struct.pack("<I", zlib.crc32(bytes(raw[12:32])))
    path.write_bytes(bytes(raw))
    return path


def test_7z_with_parent_directory_member_is_refused(tmp_path):
    archive = _7z_with_member_name(
        tmp_path / "ne_50m_admin_0_countries.7z",
        "../escape.json",
        b'{"type": "FeatureCollection", "features": []}',
    )
    dataset, paths = fake_dataset(
        [{"path": archive, "format": "7z", "crs": "OGC:CRS84"}], reader="natural-earth"
    )
    with pytest.raises(DataError, match="outside the archive"):
        call_reader(dataset, paths)
    assert not (tmp_path / "escape.json").exists()


def test_7z_bomb_is_bounded(tmp_path):
    archive = tmp_path / "ne_50m_admin_0_countries.7z"
    with py7zr.SevenZipFile(archive, "w") as out:
        out.writestr(b" " * 5_000_000, "countries.json")
    dataset, paths = fake_dataset(
        [{"path": archive, "format": "7z", "crs": "OGC:CRS84"}], reader="natural-earth"
    )
    with pytest.raises(DataError, match="zip bomb"):
        call_reader(dataset, paths, max_uncompressed_bytes=1_000_000)
