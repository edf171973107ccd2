"""GeoPackage export read back by independent readers: pyogrio, rasterio, sqlite3 and GDAL's CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import rasterio
from _render_inputs import region_inputs

from geomap.errors import CRSError, DataError, ExportError, OutputExistsError
from geomap.export.gpkg import (
    PROVENANCE_STANDARD_URI,
    export_geopackage,
    read_provenance,
    snake_case,
    write_geopackage,
)

RASTER_TABLES = ["prospectivity", "uncertainty", "coverage"]
VECTOR_TABLES = ["occurrences", "faults", "geology", "targets", "boundaries_prefectures"]


@pytest.fixture(scope="module")
def japan():
    return region_inputs("japan", 20_000)


@pytest.fixture(scope="module")
def package(japan, tmp_path_factory) -> Path:
    from geomap.render.basemap import offline_basemap

    prefectures = offline_basemap((122.5, 24.0, 146.5, 46.0))["japan_prefectures"]
    prefectures = prefectures.to_crs(japan["grid"].crs.to_wkt())
    import geomap

    geology = geomap.read("hasterok-global-geologic-provinces", region="japan")
    path = tmp_path_factory.mktemp("gpkg") / "kuroko_vms.gpkg"
    export_geopackage(
        path,
        occurrences=japan["occurrences"],
        faults=japan["faults"],
        geology=geology,
        targets=japan["targets"],
        boundaries={"prefectures": prefectures},
        prospectivity=japan["prospectivity"],
        uncertainty=japan["uncertainty"],
        coverage=japan["coverage"],
        parameters={"recipe": "kuroko-vms", "region": "japan", "resolution_m": 20_000},
    )
    return path


def test_vector_layers_read_back_with_pyogrio(package, japan):
    layers = dict(pyogrio.list_layers(package))
    for name in VECTOR_TABLES:
        assert name in layers
    for name, frame in (
        ("occurrences", japan["occurrences"]),
        ("faults", japan["faults"]),
        ("targets", japan["targets"]),
    ):
        back = pyogrio.read_dataframe(package, layer=name)
        assert len(back) == len(frame)
        assert back.crs.equals(frame.crs)
    occurrences = pyogrio.read_dataframe(package, layer="occurrences")
    assert sorted(occurrences["site_id"]) == sorted(japan["occurrences"]["site_id"])
    assert "commodity_group" in occurrences.columns
    targets = pyogrio.read_dataframe(package, layer="targets")
    assert list(targets["rank"]) == list(japan["targets"]["rank"])
    assert np.allclose(targets["area_km2"], japan["targets"]["area_km2"])
    # every name is ASCII snake_case
    for name in layers:
        assert name.isascii() and name == snake_case(name)


def test_raster_tables_hold_the_float_values(package, japan):
    for name in RASTER_TABLES:
        with rasterio.open(f"GPKG:{package}:{name}") as src:
            values = src.read(1, masked=True).filled(np.nan)  # NoData declared (data_null)
            source = japan[name]
            assert src.crs == source.rio.crs
            assert src.transform.almost_equals(source.rio.transform(recalc=True))
            expected = np.asarray(source.values, dtype="float32")
            if name == "coverage":
                assert np.array_equal(values, expected)
            else:
                assert np.array_equal(np.isnan(values), np.isnan(expected))
                assert np.allclose(values, expected, equal_nan=True)
    con = sqlite3.connect(package)
    coverage_tables = {
        row[0]
        for row in con.execute(
            "SELECT tile_matrix_set_name FROM gpkg_2d_gridded_coverage_ancillary"
        )
    }
    assert set(RASTER_TABLES) <= coverage_tables
    kinds = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents"))
    con.close()
    for name in RASTER_TABLES:
        assert kinds[name] == "2d-gridded-coverage"
        assert f"{name}_rendered" not in kinds  # the rendered duplicates are optional


def test_rendered_tables_are_rgba_in_the_maps_classes(japan, tmp_path):
    from geomap import styles
    from geomap.classes import area_share_classes

    surface = japan["prospectivity"].copy()
    surface.values[:2, :] = np.nan
    path = write_geopackage(tmp_path / "r.gpkg", rasters={"prospectivity": surface}, rendered=True)
    with rasterio.open(f"GPKG:{path}:prospectivity_rendered") as src:
        assert src.count == 4
        rgba = src.read()
    nodata = np.isnan(surface.values)
    assert (rgba[3][nodata] == 0).all()
    assert (rgba[3][~nodata] == 255).all()
    codes = area_share_classes(surface).classify(surface.values)
    for code, color in enumerate(styles.PROSPECTIVITY_CLASS_COLORS, start=1):
        inside = codes == code
        assert inside.any()
        assert (rgba[0][inside] == int(color[1:3], 16)).all()  # the map's class colours


def test_one_srs_per_crs_and_nodata_read_back_with_gdal(package, japan):
    con = sqlite3.connect(package)
    used = {
        row[0] for row in con.execute("SELECT srs_id FROM gpkg_contents WHERE srs_id IS NOT NULL")
    }
    custom = con.execute(
        "SELECT srs_id FROM gpkg_spatial_ref_sys WHERE organization = 'NONE' AND srs_id > 0"
    ).fetchall()
    data_null = dict(
        con.execute(
            "SELECT tile_matrix_set_name, data_null FROM gpkg_2d_gridded_coverage_ancillary"
        )
    )
    con.close()
    assert len(used) == 1 and len(custom) == 1  # rasters and vectors share Japan's one CRS
    for name in RASTER_TABLES:
        assert data_null[name] is not None
        with rasterio.open(f"GPKG:{package}:{name}") as src:
            assert src.nodata == pytest.approx(data_null[name])
    srs_of = {name: pyogrio.read_info(package, layer=name)["crs"] for name in ("targets", "faults")}
    with rasterio.open(f"GPKG:{package}:prospectivity") as src:
        assert all(src.crs == rasterio.crs.CRS.from_wkt(w) for w in srs_of.values())


def test_epsg_crs_keeps_its_epsg_code(tmp_path):
    us = region_inputs("conus", 50_000)
    path = write_geopackage(
        tmp_path / "us.gpkg",
        vectors={"targets": us["targets"]},
        rasters={"prospectivity": us["prospectivity"]},
    )
    con = sqlite3.connect(path)
    ids = {row[0] for row in con.execute("SELECT srs_id FROM gpkg_contents WHERE srs_id > 0")}
    con.close()
    assert ids == {5070}


def test_qgis_project_opens_every_layer_styled_and_grouped(package):
    qgs = package.with_suffix(".qgs")
    assert qgs.is_file()
    root = ET.fromstring(qgs.read_text(encoding="utf-8").split("\n", 1)[1])
    assert root.tag == "qgis"
    maplayers = root.findall("projectlayers/maplayer")
    tree_layers = root.findall(".//layer-tree-layer")
    tables = set(pyogrio.list_layers(package)[:, 0]) - {"layer_styles"}
    con = sqlite3.connect(package)
    tables |= {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM gpkg_contents WHERE data_type = '2d-gridded-coverage'"
        )
    }
    con.close()
    assert {m.findtext("layername") for m in maplayers} == tables
    assert {t.get("id") for t in tree_layers} == {m.findtext("id") for m in maplayers}
    groups = {g.get("name") for g in root.iter("layer-tree-group") if g.get("name")}
    assert {"Model results", "Targets and occurrences", "Geology and structure"} <= groups
    for layer in maplayers:
        source = layer.findtext("datasource")
        if layer.get("type") == "vector":
            file_part, _, option = source.partition("|layername=")
            resolved = (qgs.parent / file_part).resolve()
            assert resolved == package.resolve()
            assert option in pyogrio.list_layers(resolved)[:, 0]
            assert layer.find("renderer-v2") is not None  # styled
        else:
            _driver, file_part, table = source.split(":")
            resolved = (qgs.parent / file_part).resolve()
            with rasterio.open(f"GPKG:{resolved}:{table}") as src:
                assert src.count == 1
            assert layer.find("pipe/rasterrenderer") is not None  # styled
    prospectivity = next(m for m in maplayers if m.findtext("layername") == "prospectivity")
    labels = [i.get("label") for i in prospectivity.iter("item")]
    assert "Top 1 % of the area" in labels  # the map's classes


def test_layer_styles_open_styled_in_qgis(package):
    con = sqlite3.connect(package)
    rows = con.execute(
        "SELECT f_table_name, f_geometry_column, styleName, styleQML, styleSLD, useAsDefault "
        "FROM layer_styles"
    ).fetchall()
    contents = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents"))
    geometry_columns = dict(
        con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns")
    )
    con.close()
    assert contents["layer_styles"] == "attributes"
    styled = {row[0]: row for row in rows}
    for table in [*VECTOR_TABLES, *RASTER_TABLES]:
        assert table in styled, f"no style for {table}"
        _table, geometry_column, _name, qml, sld, default = styled[table]
        assert default == 1
        root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
        assert root.tag == "qgis"
        ET.fromstring(sld.split("\n", 1)[1])
        if table in geometry_columns:
            assert geometry_column == geometry_columns[table]
            assert root.find("renderer-v2") is not None
        else:
            assert root.find("pipe/rasterrenderer").get("type") == "singlebandpseudocolor"
    occurrences = ET.fromstring(styled["occurrences"][3].split("\n", 1)[1])
    renderer = occurrences.find("renderer-v2")
    assert renderer.get("type") == "categorizedSymbol"
    assert renderer.get("attr") == "commodity_group"
    geology = ET.fromstring(styled["geology"][3].split("\n", 1)[1])
    assert geology.find("renderer-v2").get("attr") == "lithology"
    categories = [c.get("value") for c in geology.findall("renderer-v2/categories/category")]
    assert categories and categories == sorted(categories)
    labels = [c.get("label") for c in geology.findall("renderer-v2/categories/category")]
    assert not any("_" in label for label in labels)  # "Mafic volcanic", not mafic_volcanic
    if "unknown" in categories:  # outlined, not filled over the sea
        symbol = categories.index("unknown")
        fill = geology.find(f"renderer-v2/symbols/symbol[@name='{symbol}']/layer")
        style = {o.get("name"): o.get("value") for o in fill.iter("Option") if o.get("name")}
        assert style["style"] == "no"
    targets = ET.fromstring(styled["targets"][3].split("\n", 1)[1])
    assert targets.find("labeling/settings/text-style").get("fieldName") == "rank"


def test_provenance_in_the_metadata_tables(package, catalog):
    prov = read_provenance(package)
    ids = [d["id"] for d in prov["datasets"]]
    assert {"minmod-usgs-mrdata", "gem-global-active-faults-2017"} <= set(ids)
    faults = next(d for d in prov["datasets"] if d["id"] == "gem-global-active-faults-2017")
    expected = {f.path: f.sha256 for f in catalog.dataset(faults["id"]).files}
    assert {f["path"]: f["sha256"] for f in faults["files"]} == expected
    assert faults["license"]["spdx"] == "CC-BY-4.0"
    assert "GEM" in prov["attribution"]
    assert prov["parameters"]["recipe"] == "kuroko-vms"
    con = sqlite3.connect(package)
    scopes = con.execute(
        "SELECT r.reference_scope, r.table_name FROM gpkg_metadata_reference r "
        "JOIN gpkg_metadata m ON m.id = r.md_file_id WHERE m.md_standard_uri = ?",
        (PROVENANCE_STANDARD_URI,),
    ).fetchall()
    extensions = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM gpkg_extensions WHERE extension_name = 'gpkg_metadata'"
        )
    }
    table_record = json.loads(
        con.execute(
            "SELECT m.metadata FROM gpkg_metadata m JOIN gpkg_metadata_reference r "
            "ON r.md_file_id = m.id WHERE r.table_name = 'faults'"
        ).fetchone()[0]
    )
    con.close()
    assert ("geopackage", None) in scopes
    assert {t for s, t in scopes if s == "table"} >= {*VECTOR_TABLES, *RASTER_TABLES}
    assert extensions == {"gpkg_metadata", "gpkg_metadata_reference"}
    assert table_record["sources"] == ["gem-global-active-faults-2017"]


def test_sqlite_integrity(package):
    con = sqlite3.connect(package)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
    con.close()


@pytest.mark.skipif(
    shutil.which("ogrinfo") is None,
    reason="GDAL's command-line tools (gdal-bin) are missing; `python3 dev.py test` adds them",
)
def test_gdal_command_line_reads_everything(package):
    env = {**os.environ, "CPL_DEBUG": "OFF"}
    ogr = subprocess.run(
        ["ogrinfo", "-ro", "-so", "-q", str(package)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    for name in [*VECTOR_TABLES, "layer_styles"]:
        assert name in ogr.stdout
    assert "error" not in ogr.stderr.lower()
    detail = subprocess.run(
        ["ogrinfo", "-ro", "-so", str(package), "targets"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "Feature Count:" in detail and "rank:" in detail
    for name in RASTER_TABLES:
        info = subprocess.run(
            ["gdalinfo", "-stats", f"GPKG:{package}:{name}"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        assert "Band 1" in info.stdout and "Type=Float32" in info.stdout
        assert "STATISTICS_MAXIMUM" in info.stdout
    md = subprocess.run(
        ["gdalinfo", str(package)], capture_output=True, text=True, env=env, check=True
    )
    assert PROVENANCE_STANDARD_URI not in md.stderr
    assert "gem-global-active-faults-2017" in md.stdout  # the provenance record, via GDAL


def test_layer_names_must_be_ascii_snake_case(japan, tmp_path):
    with pytest.raises(DataError, match="'japan_targets_vms'"):
        write_geopackage(tmp_path / "x.gpkg", vectors={"Japan: Targets (VMS)": japan["targets"]})
    with pytest.raises(DataError, match="reserved"):
        write_geopackage(tmp_path / "x.gpkg", vectors={"gpkg_contents": japan["targets"]})
    with pytest.raises(DataError, match="used twice"):
        write_geopackage(
            tmp_path / "x.gpkg",
            vectors={"prospectivity": japan["targets"]},
            rasters={"prospectivity": japan["prospectivity"]},
        )
    assert not (tmp_path / "x.gpkg").exists()


def test_missing_crs_and_bad_paths_are_refused(japan, tmp_path):
    frame = japan["targets"].set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="no CRS"):
        write_geopackage(tmp_path / "x.gpkg", vectors={"targets": frame})
    with pytest.raises(ExportError, match=r"\.gpkg"):
        write_geopackage(tmp_path / "x.sqlite", vectors={"targets": japan["targets"]})
    existing = tmp_path / "old.gpkg"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError, match="overwrite"):
        write_geopackage(existing, vectors={"targets": japan["targets"]}, overwrite=False)
    assert existing.read_bytes() == b"keep me"


def test_interrupted_export_leaves_nothing_under_the_final_name(japan, tmp_path, monkeypatch):
    import geomap.export.gpkg as gpkg

    final = tmp_path / "run.gpkg"
    final.write_bytes(b"previous complete package")

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt  # e.g. Ctrl-C half-way through the export

    monkeypatch.setattr(gpkg, "_write_layer_styles", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_geopackage(
            final,
            vectors={"targets": japan["targets"]},
            rasters={"prospectivity": japan["prospectivity"]},
        )
    assert final.read_bytes() == b"previous complete package"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.gpkg"]


def test_killed_export_never_appears_under_the_final_name(tmp_path):
    """SIGKILL in the middle of writing (no cleanup possible): the final name never exists."""
    script = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from _render_inputs import region_inputs
import geomap.export.gpkg as gpkg
data = region_inputs("japan", 50_000)
def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
gpkg._write_layer_styles = killed
gpkg.write_geopackage({str(tmp_path / "killed.gpkg")!r}, vectors={{"targets": data["targets"]}},
                      rasters={{"prospectivity": data["prospectivity"]}})
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    assert not (tmp_path / "killed.gpkg").exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert all(name.startswith(".killed.") for name in leftovers), leftovers


def test_joint_package_with_two_analysis_crs(tmp_path):
    us = region_inputs("conus", 50_000)
    jp = region_inputs("japan", 20_000)
    path = write_geopackage(
        tmp_path / "packet.gpkg",
        vectors={"us_targets": us["targets"], "japan_targets": jp["targets"]},
        rasters={
            "us_prospectivity": us["prospectivity"],
            "japan_prospectivity": jp["prospectivity"],
        },
    )
    with (
        rasterio.open(f"GPKG:{path}:us_prospectivity") as a,
        rasterio.open(f"GPKG:{path}:japan_prospectivity") as b,
    ):
        assert a.crs.to_epsg() == 5070
        assert a.crs != b.crs
    assert pyogrio.read_dataframe(path, layer="japan_targets").crs.equals(jp["targets"].crs)


def test_attribute_tables_are_written_and_geometries_refused_there(japan, tmp_path):
    import pandas as pd

    summary = pd.DataFrame({"region": ["japan"], "n_targets": [4], "note": [{"a": 1}]})
    path = write_geopackage(
        tmp_path / "s.gpkg", vectors={"targets": japan["targets"]}, tables={"summary": summary}
    )
    back = pyogrio.read_dataframe(path, layer="summary", read_geometry=False)
    assert back.to_dict("list") == {"region": ["japan"], "n_targets": [4], "note": ['{"a": 1}']}
    con = sqlite3.connect(path)
    assert con.execute(
        "SELECT data_type FROM gpkg_contents WHERE table_name = 'summary'"
    ).fetchone() == ("attributes",)
    con.close()
    with pytest.raises(DataError, match="without geometry"):
        write_geopackage(
            tmp_path / "t.gpkg",
            vectors={"targets": japan["targets"]},
            tables={"t": japan["targets"]},
        )
    assert not (tmp_path / "t.gpkg").exists()


def _qml_root(package: Path, table: str) -> ET.Element:
    con = sqlite3.connect(package)
    (qml,) = con.execute(
        "SELECT styleQML FROM layer_styles WHERE f_table_name = ? AND useAsDefault = 1", (table,)
    ).fetchone()
    con.close()
    return ET.fromstring(qml.split("\n", 1)[1])


def test_class_table_holds_the_cogs_cells_with_nodata_and_class_colours(package, japan, tmp_path):
    from geomap.export.cog import write_cog
    from geomap.pipeline.outputs import prospectivity_classes

    classes, colormap = prospectivity_classes(japan["prospectivity"])
    cog = write_cog(classes, tmp_path / "prospectivity_classes.tif", colormap=colormap)
    with rasterio.open(cog) as src:
        expected = src.read(1)
        cog_colors = src.colormap(1)
    with rasterio.open(f"GPKG:{package}:prospectivity_classes") as src:
        assert src.count == 1
        assert src.nodata == 0  # declared: data_null of the gridded-coverage table
        assert src.crs == japan["prospectivity"].rio.crs
        assert src.transform.almost_equals(japan["prospectivity"].rio.transform(recalc=True))
        values = src.read(1)
    assert np.array_equal(values, expected)
    assert {1, 2, 3, 4, 5, 6} <= set(np.unique(values).tolist())
    con = sqlite3.connect(package)
    data_null = con.execute(
        "SELECT data_null FROM gpkg_2d_gridded_coverage_ancillary "
        "WHERE tile_matrix_set_name = 'prospectivity_classes'"
    ).fetchone()[0]
    con.close()
    assert data_null == 0
    entries = _qml_root(package, "prospectivity_classes").findall(
        "pipe/rasterrenderer/colorPalette/paletteEntry"
    )
    assert [int(e.get("value")) for e in entries] == [1, 2, 3, 4, 5, 6]
    for entry in entries:
        color = entry.get("color")
        rgb = tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
        assert rgb == tuple(cog_colors[int(entry.get("value"))][:3])  # the COG's colour table
    assert entries[0].get("label") == "Top 1 % of the area"


def test_tied_block_at_a_break_is_split_by_position_in_the_class_table(japan, tmp_path):
    from geomap.classes import area_share_classes

    surface = japan["prospectivity"].copy()
    valid = np.isfinite(surface.values)
    values = np.zeros(surface.shape)
    order = np.argsort(-surface.values[valid], kind="stable")
    ranked = np.zeros(int(valid.sum()))
    top = int(0.03 * valid.sum())  # 3 % distinct values, then one tied block of zeros
    ranked[order[:top]] = np.linspace(1.0, 0.5, top)
    values[valid] = ranked
    values[~valid] = np.nan
    values[:2, :] = np.nan  # no data: code 0, masked by the declared NoData
    valid[:2, :] = False
    surface.values = values
    path = write_geopackage(tmp_path / "ties.gpkg", rasters={"prospectivity": surface})
    breaks = area_share_classes(surface)
    assert breaks.tie_note  # the top-5 % break falls inside the block of zeros
    with rasterio.open(f"GPKG:{path}:prospectivity_classes") as src:
        codes = src.read(1)
        assert np.array_equal(src.read(1, masked=True).mask, ~valid)
    assert np.array_equal(codes, breaks.classify(surface.values))
    in_block = codes[valid & (values == 0)]
    assert len(set(np.unique(in_block))) > 1  # one value, several classes: split by position


def test_qgis_project_shows_the_class_table_first_and_the_values_on_demand(package):
    qgs = package.with_suffix(".qgs")
    root = ET.fromstring(qgs.read_text(encoding="utf-8").split("\n", 1)[1])
    group = next(g for g in root.iter("layer-tree-group") if g.get("name") == "Model results")
    names = [layer.get("name") for layer in group.findall("layer-tree-layer")]
    assert names[0] == "prospectivity_classes" and "prospectivity" in names
    checked = {layer.get("name"): layer.get("checked") for layer in group}
    assert checked["prospectivity_classes"] == "Qt::Checked"
    assert checked["prospectivity"] == "Qt::Unchecked"  # one prospectivity view at a time
    layer = next(
        m
        for m in root.findall("projectlayers/maplayer")
        if m.findtext("layername") == "prospectivity_classes"
    )
    assert layer.find("pipe/rasterrenderer").get("type") == "paletted"
    _driver, file_part, table = layer.findtext("datasource").split(":")
    with rasterio.open(f"GPKG:{(qgs.parent / file_part).resolve()}:{table}") as src:
        assert src.dtypes == ("uint16",)


def test_layer_list_stays_short(package):
    con = sqlite3.connect(package)
    contents = [row[0] for row in con.execute("SELECT table_name FROM gpkg_contents")]
    con.close()
    assert not [t for t in contents if t.endswith("_rendered")]
    # 5 vector layers + 3 value rasters + 1 class table + the styles table
    assert len(contents) == len(VECTOR_TABLES) + len(RASTER_TABLES) + 2


def test_sites_outside_the_study_area_are_flagged(tmp_path):
    from geomap.pipeline.study_area import country_mask

    us = region_inputs("conus", 50_000)
    surface = us["prospectivity"]
    inside = country_mask(surface.to_dataset(name="prospectivity"), ["USA"])
    surface = surface.where(inside.values == 1).rio.write_crs(surface.rio.crs)
    sites = us["occurrences"]
    path = write_geopackage(
        tmp_path / "us.gpkg",
        vectors={"us_occurrences": sites, "us_training_sites": sites.iloc[::3]},
        rasters={"us_prospectivity": surface},
    )
    for layer in ("us_occurrences", "us_training_sites"):
        back = pyogrio.read_dataframe(path, layer=layer)
        with rasterio.open(f"GPKG:{path}:us_prospectivity") as src:
            points = back.geometry.to_crs(src.crs)
            values = np.array([v[0] for v in src.sample(zip(points.x, points.y, strict=True))])
        on_data = np.isfinite(values) & (values != src.nodata)
        assert np.array_equal(back["in_study_area"].to_numpy(dtype=bool), on_data)
        assert not back["in_study_area"].all()
    flags = pyogrio.read_dataframe(path, layer="us_occurrences")
    named = flags.set_index("name")["in_study_area"]
    assert not named["Prairie Lake"] and not named["St. Honore (Niobec)"]  # Ontario, Quebec


def test_packet_groups_a_hyphenated_region_under_its_id_in_the_qgis_project(japan, tmp_path):
    """Tables are named with ``region_prefix`` (``capricorn_wa_``), grouped back by region id."""
    from types import SimpleNamespace

    import pandas as pd

    from geomap.export.qgis_project import region_prefix
    from geomap.pipeline.packet import _write_packet_geopackage

    def state(region_id):
        layers = SimpleNamespace(
            targets=japan["targets"],
            occurrences=japan["occurrences"],
            faults=japan["faults"],
            prediction={"prospectivity": japan["prospectivity"]},
        )
        return SimpleNamespace(
            region=SimpleNamespace(id=region_id), layers=layers, settings={"region": region_id}
        )

    regions = ["capricorn-wa", "japan"]  # a user region's id holds a hyphen
    path = tmp_path / "packet.gpkg"
    _write_packet_geopackage(
        path,
        [state(r) for r in regions],
        [],
        summary=pd.DataFrame({"region": regions}),
        datasets=[],
        catalog=None,
    )
    tables = {row[0] for row in pyogrio.list_layers(path)}
    assert {"capricorn_wa_targets", "capricorn_wa_occurrences", "capricorn_wa_faults"} <= tables
    root = ET.fromstring(path.with_suffix(".qgs").read_text(encoding="utf-8").split("\n", 1)[1])
    layer_names = {m.findtext("layername") for m in root.findall("projectlayers/maplayer")}
    top = [g for g in root.find("layer-tree-group") if g.tag == "layer-tree-group"]
    assert [g.get("name") for g in top] == regions  # no loose kind groups beside them
    for group in top:
        grouped = {layer.get("name") for layer in group.iter("layer-tree-layer")}
        prefix = f"{region_prefix(group.get('name'))}_"
        assert grouped == {name for name in layer_names if name.startswith(prefix)}
        assert {f"{prefix}targets", f"{prefix}prospectivity"} <= grouped
