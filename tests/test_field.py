"""Targets and occurrences for field GPS (GPX) and Google Earth (KML), read back with GDAL."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest
from _render_inputs import region_inputs

from geomap.errors import CRSError, DataError
from geomap.export.field import write_field_files
from geomap.pipeline.outputs import with_centroids


@pytest.fixture(scope="module")
def japan():
    return region_inputs("japan", 20_000)


@pytest.fixture(scope="module")
def field_files(japan, tmp_path_factory):
    folder = tmp_path_factory.mktemp("field")
    occurrences = japan["occurrences"].copy()
    occurrences["training"] = np.arange(len(occurrences)) % 2 == 0
    return write_field_files(
        folder, targets=with_centroids(japan["targets"]), occurrences=occurrences
    )


def test_gpx_waypoints_read_back_with_gdal(field_files, japan):
    targets = pyogrio.read_dataframe(field_files["targets.gpx"], layer="waypoints")
    expected = with_centroids(japan["targets"])
    assert len(targets) == len(expected)
    # the waypoint of a target is its centroid, the same lon/lat as in the CSV and GeoPackage
    assert np.allclose(targets.geometry.x, expected["centroid_lon"], atol=1e-6)
    assert np.allclose(targets.geometry.y, expected["centroid_lat"], atol=1e-6)
    assert targets["name"].iloc[0] == f"{expected['target_id'].iloc[0]} (rank 1)"
    assert "km²" in targets["desc"].iloc[0] and "e+0" not in " ".join(targets["desc"])
    occurrences = pyogrio.read_dataframe(field_files["occurrences.gpx"], layer="waypoints")
    assert len(occurrences) == len(japan["occurrences"])  # none dropped
    assert occurrences["desc"].str.contains("training site").sum() == (len(occurrences) + 1) // 2
    assert occurrences.crs.to_epsg() == 4326


def test_kml_holds_target_polygons_and_occurrence_points(field_files, japan):
    targets = pyogrio.read_dataframe(field_files["targets.kml"])
    assert len(targets) == len(japan["targets"])
    assert set(targets.geom_type) <= {"Polygon", "MultiPolygon"}
    area = targets.set_crs("EPSG:4326", allow_override=True).to_crs(japan["targets"].crs).area
    assert np.allclose(area.sum(), japan["targets"].area.sum(), rtol=1e-3)
    occurrences = pyogrio.read_dataframe(field_files["occurrences.kml"])
    assert len(occurrences) == len(japan["occurrences"])
    assert set(occurrences.geom_type) == {"Point"}


def test_bad_field_requests_are_refused(japan, tmp_path):
    with pytest.raises(DataError, match="unknown"):
        write_field_files(tmp_path, targets=japan["targets"], formats=["shp"])
    with pytest.raises(DataError, match="nothing|no targets"):
        write_field_files(tmp_path, targets=japan["targets"].iloc[:0])
    with pytest.raises(CRSError, match="no CRS"):
        write_field_files(tmp_path, targets=japan["targets"].set_crs(None, allow_override=True))
    assert list(tmp_path.iterdir()) == []  # nothing half-written
