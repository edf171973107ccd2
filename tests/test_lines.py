"""Line surveys: points by default, gridding on request with gaps kept as gaps."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest
from _fake_dataset import call_reader, fake_dataset

import geomap
from geomap.errors import CRSError, DataError
from geomap.io.lines import grid_lines

OSBORNE = "fatiando-osborne-magnetic-au"
WISCONSIN = "usgs-ne-wisconsin-aeromag-2021"
OSBORNE_BOX = (140.62, -21.90, 140.70, -21.82)  # a small window of the ~1M readings


def test_wisconsin_points():
    points = geomap.read(WISCONSIN)
    assert len(points) == 6785 and points.crs.to_epsg() == 3071
    assert points.attrs["geomap_value"] == "RMF" and points.attrs["units"] == "nT"
    assert points["Line"].nunique() == 201
    lonlat = points.to_crs("EPSG:4326")
    np.testing.assert_allclose(lonlat.geometry.x, points["Lon"], atol=1e-5)
    np.testing.assert_allclose(lonlat.geometry.y, points["Lat"], atol=1e-5)


def test_osborne_points_subset():
    points = geomap.read(OSBORNE, bbox=OSBORNE_BOX)
    report = points.attrs["geomap_report"]
    assert report["records_in"] == 990_987
    assert report["dropped"]["outside the requested bbox"] == 990_987 - len(points)
    assert 20_000 < len(points) < 200_000 and points.crs.to_epsg() == 4326


def test_osborne_grid_subset_keeps_values_and_gaps():
    grid = geomap.read(OSBORNE, bbox=OSBORNE_BOX, stride=4, grid=True, resolution=100)
    assert grid.dims == ("y", "x") and grid.dtype == np.float32
    assert grid.rio.crs.to_epsg() == 32754  # UTM 54S for 140.6°E
    assert np.isnan(grid.rio.nodata)
    assert grid["y"].to_numpy()[0] > grid["y"].to_numpy()[-1]
    inside = np.isfinite(grid.to_numpy())
    assert inside.mean() > 0.9
    points = geomap.read(OSBORNE, bbox=OSBORNE_BOX, stride=4)
    values = points["total_field_anomaly_nt"]
    assert float(grid.min()) >= values.min() - 1e-3  # IDW never extrapolates
    assert float(grid.max()) <= values.max() + 1e-3


def test_idw_grid_honours_readings_and_leaves_far_cells_empty():
    x = np.array([0.0, 1000.0, 0.0, 1000.0, 5000.0])
    y = np.array([0.0, 0.0, 1000.0, 1000.0, 5000.0])
    values = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    grid = grid_lines(x, y, values, crs="EPSG:3577", resolution=100.0, max_distance=300.0)
    nearest = grid.sel(x=50.0, y=50.0, method="nearest").item()
    assert nearest == pytest.approx(1.0, abs=0.05)
    assert np.isnan(grid.sel(x=2500.0, y=2500.0, method="nearest").item())  # gap stays a gap
    assert grid.sel(x=5000.0, y=5000.0, method="nearest").item() == pytest.approx(10.0, abs=1e-3)
    assert grid.rio.crs.to_epsg() == 3577


def _survey_csv(tmp_path, text: str):
    path = tmp_path / "survey.csv"
    path.write_text(text)
    return fake_dataset(
        [{"path": path, "format": "csv", "crs": "EPSG:4326", "encoding": "utf-8"}],
        reader="line-survey",
        reader_options={"x": "lon", "y": "lat", "value": "mag", "line": "line", "nodata": -9999},
    )


def test_swapped_columns_and_missing_columns(tmp_path):
    dataset, paths = _survey_csv(tmp_path, "line,lon,lat,mag\n1,-21.9,140.6,5\n1,-21.8,140.6,6\n")
    with pytest.raises(CRSError, match="swapped"):
        call_reader(dataset, paths)
    dataset, paths = _survey_csv(tmp_path, "line,x,y,mag\n1,140.6,-21.9,5\n")
    with pytest.raises(DataError, match=r"no column\(s\) \['lon', 'lat'\]"):
        call_reader(dataset, paths)


def test_nodata_and_missing_coordinates_are_counted(tmp_path):
    dataset, paths = _survey_csv(
        tmp_path,
        "line,lon,lat,mag\n1,140.60,-21.90,5\n1,140.61,-21.90,-9999\n1,,-21.90,7\n2,140.62,-21.8,x\n",
    )
    points = call_reader(dataset, paths)
    dropped = points.attrs["geomap_report"]["dropped"]
    assert len(points) == 1
    assert dropped["missing coordinates"] == 1
    assert dropped["non-numeric mag"] == 1
    assert dropped["mag missing or equal to nodata -9999"] == 2


def test_utm_zone_choice_follows_the_data():
    lon = np.array([140.6, 140.61, 140.62])
    lat = np.array([-21.9, -21.91, -21.92])
    grid = grid_lines(lon, lat, np.ones(3), crs="EPSG:4326", resolution=100, max_distance=5000)
    assert pyproj.CRS(grid.rio.crs).to_epsg() == 32754
