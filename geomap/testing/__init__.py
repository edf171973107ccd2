"""Small files in the published layouts of the official full-resolution sources (tests, demos).

Each builder writes a few-KB copy of one official download, with the documented file
names, field names, encodings, CRSs and conventions, so the readers are tested on the
same structure the real downloads have (values are invented; the layout is not):

* GSJ Seamless V2: ``seamlessV2.zip`` -> ``seamlessV2_poly.shp``, ``seamlessV2_line.shp``,
  ``legend.tsv`` (tab-separated UTF-8), JGD2000 geographic;
* USGS SGMC: a file geodatabase with ``SGMC_Geology`` (ESRI:102039) and the
  ``SGMC_Units``/``SGMC_Lithology``/``SGMC_Age`` tables, zipped as
  ``USGS_SGMC_Geodatabase.zip``; and the shapefile + CSV form;
* USGS MRDS: ``mrds-csv.zip`` -> ``mrds.csv``; and ``rdbms-tab-all.zip`` -> one tab-separated
  table per file (``MRDS.txt``, ``Location.txt``, ``Commodity.txt``, ...);
* USGS NGS: ``ngs-csv.zip`` -> ``geochem.csv``;
* EMAG2v3: ``EMAG2_V3_20170530.zip`` -> headerless CSV and the ``_UpCont``/``_Sealevel``
  GeoTIFFs (longitude 0-360 in the CSV, nodata 99999).

The tests of :mod:`geomap.io.gsj_seamless`, :mod:`geomap.io.sgmc`, :mod:`geomap.io.mrds`,
:mod:`geomap.io.ngs`, :mod:`geomap.io.emag2v3` and of ``geomap fetch`` use them, and so does
``notebooks/05_full_resolution.ipynb`` to show the switch to the official sources offline.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np

from geomap.testing._mrds_rdbms import MRDS_RDBMS_COLUMNS as MRDS_RDBMS_COLUMNS
from geomap.testing._mrds_rdbms import mrds_rdbms_zip as mrds_rdbms_zip

SEAMLESS_LEGEND = [
    # no, symbol, r, g, b, age_ja, age_en, group_ja, group_en, lith_ja, lith_en
    (
        "1",
        "K2gr",
        "255",
        "153",
        "153",
        "中生代 白亜紀 後期",
        "Mesozoic Late Cretaceous",
        "深成岩",
        "Plutonic rocks",
        "花崗岩",
        "Granite",
    ),
    (
        "2",
        "N2va",
        "230",
        "110",
        "90",
        "新生代 新第三紀 中新世 中期 - 後期",
        "Cenozoic Neogene Miocene Middle - Late",
        "火山岩",
        "Volcanic rocks",
        "安山岩・玄武岩質安山岩 溶岩・火砕岩",
        "Andesite and basaltic andesite lava and pyroclastic rocks",
    ),
    (
        "3",
        "Q3al",
        "255",
        "255",
        "230",
        "新生代 第四紀 後期更新世 - 完新世",
        "Cenozoic Quaternary Late Pleistocene - Holocene",
        "堆積岩",
        "Sedimentary rocks",
        "海成および非海成堆積物",
        "Marine and non-marine sediments",
    ),
    (
        "4",
        "J2ms",
        "170",
        "170",
        "120",
        "中生代 ジュラ紀 中期",
        "Mesozoic Jurassic Middle",
        "付加体",
        "Accretionary complex",
        "付加体 混在岩",
        "Accretionary complex - Mixed rock",
    ),
    # a real record: the web API's answer at Mt Fuji (35.36 N, 138.73 E), as published
    (
        "6",
        "H_vbs_al",
        "112",
        "101",
        "143",
        "新生代 第四紀 完新世",
        "Cenozoic Quaternary Holocene",
        "火成岩",
        "Igneous rocks",
        "玄武岩 溶岩・火砕岩",
        "basalt lava & pyroclastic rocks",
    ),
    (
        "5",
        "Pum",
        "40",
        "120",
        "60",
        "古生代 ペルム紀",
        "Paleozoic Permian",
        "超苦鉄質岩",
        "Ultramafic rocks",
        "蛇紋岩",
        "Serpentinite",
    ),
]


def _zip_folder(folder: Path, target: Path, *, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(folder).as_posix())
    return target


def seamless_files(folder: Path, *, legend_rows: list[tuple[str, ...]] | None = None) -> Path:
    """Write the unpacked Seamless V2 files into ``folder``; return it."""
    import geopandas as gpd
    from shapely.geometry import LineString, box

    folder.mkdir(parents=True, exist_ok=True)
    # 3 x 2 map units near Tsukuba (36 N, 140 E) and one far north (Hokkaido).
    cells = [
        box(139.9 + 0.1 * i, 36.0 + 0.1 * j, 140.0 + 0.1 * i, 36.1 + 0.1 * j)
        for j in range(2)
        for i in range(3)
    ]
    symbols = ["K2gr", "N2va", "Q3al", "J2ms", "K2gr", "Pum"]
    polys = gpd.GeoDataFrame(  # the dbf fields of the download's readme.txt: ser, symbol
        {"ser": list(range(1, len(symbols) + 2)), "symbol": [*symbols, "Q3al"]},
        geometry=[*cells, box(142.0, 43.0, 142.1, 43.1)],
        crs="EPSG:4612",
    )
    polys.to_file(folder / "seamlessV2_poly.shp", engine="pyogrio", encoding="UTF-8")
    lines = gpd.GeoDataFrame(  # readme.txt: Major_Code, Legend_J, Legend_E, styleidx
        {
            "Major_Code": [11, 11],
            "Legend_J": ["断層", "断層"],
            "Legend_E": ["Fault", "Fault"],
            "styleidx": [1, 1],
        },
        geometry=[
            LineString([(139.95, 36.0), (140.05, 36.2)]),
            LineString([(142.0, 43.0), (142.1, 43.1)]),
        ],
        crs="EPSG:4612",
    )
    lines.to_file(folder / "seamlessV2_line.shp", engine="pyogrio", encoding="UTF-8")
    rows = legend_rows if legend_rows is not None else SEAMLESS_LEGEND
    with (folder / "legend.tsv").open("w", encoding="utf-8", newline="") as handle:
        handle.write(
            "ser\tsymbol\tr\tg\tb\tformationAge_ja\tformationAge_en\tgroup_ja\tgroup_en\t"
            "lithology_ja\tlithology_en\n"
        )
        for row in rows:
            handle.write("\t".join(row) + "\n")
    return folder


def seamless_zip(tmp: Path, **kwargs: object) -> Path:
    """``seamlessV2.zip`` as published (files at the archive root)."""
    folder = seamless_files(tmp / "seamless-src", **kwargs)  # type: ignore[arg-type]
    return _zip_folder(folder, tmp / "seamlessV2.zip")


# ----------------------------------------------------------------------------- SGMC

SGMC_UNITS = [
    # UNIT_LINK, STATE, ORIG_LABEL, SGMC_LABEL, UNIT_NAME, AGE_MIN, AGE_MAX, GENERALIZED_LITH,
    # MAJOR1, MAJOR2, MAJOR3, MINOR1
    (
        "CAMDc;0",
        "CA",
        "Mdc",
        "Mdc;0",
        "Mountain Pass carbonatite",
        "Middle Proterozoic",
        "Middle Proterozoic",
        "Igneous, intrusive",
        "carbonatite",
        "syenite",
        "",
        "shonkinite",
    ),
    (
        "CAXgr;0",
        "CA",
        "Xgr",
        "Xgr;0",
        "Granitic gneiss",
        "Early Proterozoic",
        "Early Proterozoic",
        "Metamorphic, gneiss",
        "gneiss",
        "granite",
        "",
        "",
    ),
    (
        "CAQal;0",
        "CA",
        "Qal",
        "Qal;0",
        "Alluvium",
        "Holocene",
        "Pleistocene",
        "Unconsolidated, undifferentiated",
        "alluvium",
        "",
        "",
        "",
    ),
    (
        "NVJs;0",
        "NV",
        "Js",
        "Js;0",
        "Aztec Sandstone",
        "Jurassic",
        "Jurassic",
        "Sedimentary, clastic",
        "sandstone",
        "",
        "",
        "",
    ),
    (
        "NVKgd;0",
        "NV",
        "Kgd",
        "Kgd;0",
        "Granodiorite of the pass",
        "Cretaceous",
        "Cretaceous",
        "Igneous, intrusive",
        "granodiorite",
        "",
        "",
        "carbonatite",
    ),
]


def _sgmc_tables() -> tuple[list[dict[str, str]], list[dict[str, str]], list[dict[str, str]]]:
    units, lith, ages = [], [], []
    for link, state, orig, label, name, age_min, age_max, gen, m1, m2, m3, n1 in SGMC_UNITS:
        units.append(
            {
                "STATE": state,
                "ORIG_LABEL": orig,
                "SGMC_LABEL": label,
                "UNIT_LINK": link,
                "UNIT_NAME": name,
                "AGE_MIN": age_min,
                "AGE_MAX": age_max,
                "UNITDESC": f"{name}.",
            }
        )
        lith.append(
            {
                "STATE": state,
                "UNIT_LINK": link,
                "LITH_RANK": "Major",
                "LITH1": "Igneous",
                "GENERALIZED_LITH": gen,
                "MAJOR1": m1,
                "MAJOR2": m2,
                "MAJOR3": m3,
                "MINOR1": n1,
                "MINOR2": "",
                "MINOR3": "",
                "MINOR4": "",
                "MINOR5": "",
            }
        )
        ages.append({"STATE": state, "UNIT_LINK": link, "AGE_MIN": age_min, "AGE_MAX": age_max})
    return units, lith, ages


def _sgmc_geology() -> object:
    import geopandas as gpd
    import pyproj
    import shapely
    from shapely.geometry import box

    to_albers = pyproj.Transformer.from_crs("EPSG:4326", "ESRI:102039", always_xy=True)

    def transform(_: object, geom: object) -> object:
        return shapely.transform(
            geom, lambda xy: np.column_stack(to_albers.transform(xy[:, 0], xy[:, 1]))
        )

    # Mountain Pass, CA (35.48 N, -115.53) and around; one unit in Nevada far away.
    rows = [
        ("CAMDc;0", box(-115.56, 35.46, -115.50, 35.50)),
        ("CAXgr;0", box(-115.50, 35.46, -115.44, 35.50)),
        ("CAQal;0", box(-115.56, 35.40, -115.44, 35.46)),
        ("NVKgd;0", box(-116.00, 36.00, -115.94, 36.06)),
        ("NVJs;0", box(-117.50, 39.00, -117.40, 39.10)),
    ]
    units = {u[0]: u for u in SGMC_UNITS}
    frame = gpd.GeoDataFrame(
        {
            "STATE": [units[k][1] for k, _ in rows],
            "ORIG_LABEL": [units[k][2] for k, _ in rows],
            "SGMC_LABEL": [units[k][3] for k, _ in rows],
            "UNIT_LINK": [k for k, _ in rows],
            "UNIT_NAME": [units[k][4] for k, _ in rows],
            "AGE_MIN": [units[k][5] for k, _ in rows],
            "AGE_MAX": [units[k][6] for k, _ in rows],
            "GENERALIZED_LITH": [units[k][7] for k, _ in rows],
            "MAJOR1": [units[k][8] for k, _ in rows],
            "MAJOR2": [units[k][9] for k, _ in rows],
            "MAJOR3": [units[k][10] for k, _ in rows],
            "MINOR1": [units[k][11] for k, _ in rows],
            "MINOR2": [""] * len(rows),
            "MINOR3": [""] * len(rows),
            "MINOR4": [""] * len(rows),
            "MINOR5": [""] * len(rows),
        },
        geometry=[transform(to_albers, g) for _, g in rows],
        crs="ESRI:102039",
    )
    return frame


def sgmc_gdb_zip(tmp: Path) -> Path:
    """``USGS_SGMC_Geodatabase.zip`` holding ``USGS_StateGeologicMapCompilation_ver1.1.gdb``."""
    import pandas as pd
    import pyogrio

    src = tmp / "sgmc-src" / "USGS_SGMC_Geodatabase"
    src.mkdir(parents=True, exist_ok=True)
    gdb = src / "USGS_StateGeologicMapCompilation_ver1.1.gdb"
    pyogrio.write_dataframe(_sgmc_geology(), gdb, layer="SGMC_Geology", driver="OpenFileGDB")
    units, lith, ages = _sgmc_tables()
    for name, rows in (("SGMC_Units", units), ("SGMC_Lithology", lith), ("SGMC_Age", ages)):
        pyogrio.write_dataframe(
            pd.DataFrame(rows), gdb, layer=name, driver="OpenFileGDB", append=False
        )
    return _zip_folder(tmp / "sgmc-src", tmp / "USGS_SGMC_Geodatabase.zip")


def sgmc_shapefile_folder(tmp: Path) -> Path:
    """Write the shapefile + CSV form: ``SGMC_Geology.shp`` and ``SGMC_*.csv``."""
    import pandas as pd

    folder = tmp / "sgmc-shp"
    folder.mkdir(parents=True, exist_ok=True)
    import warnings

    with warnings.catch_warnings():  # the published shapefile, too, cuts names at 10 characters
        warnings.simplefilter("ignore")
        _sgmc_geology().to_file(folder / "SGMC_Geology.shp", engine="pyogrio")  # type: ignore[attr-defined]
    units, lith, ages = _sgmc_tables()
    for name, rows in (("SGMC_Units", units), ("SGMC_Lithology", lith), ("SGMC_Age", ages)):
        pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False)
    return folder


# ----------------------------------------------------------------------------- MRDS

MRDS_COLUMNS = [
    "dep_id",
    "url",
    "mrds_id",
    "mas_id",
    "site_name",
    "latitude",
    "longitude",
    "region",
    "country",
    "state",
    "county",
    "com_type",
    "commod1",
    "commod2",
    "commod3",
    "oper_type",
    "dep_type",
    "prod_size",
    "dev_stat",
    "ore",
    "gangue",
    "other_matl",
    "orebody_fm",
    "work_type",
    "model",
    "alteration",
    "conc_proc",
    "names",
    "ore_ctrl",
    "reporter",
    "hrock_unit",
    "hrock_type",
    "arock_unit",
    "arock_type",
    "structure",
    "tectonic",
    "ref",
    "yfp_ba",
    "yr_fst_prd",
    "ylp",
    "yr_lst_prd",
    "dy_ba",
    "disc_yr",
    "prod_yrs",
    "discr",
]

MRDS_ROWS = [
    {
        "dep_id": "10161509",
        "url": "https://mrdata.usgs.gov/mrds/record/10161509",
        "mrds_id": "M241508",
        "mas_id": "0060710001",
        "site_name": "Mountain Pass",
        "latitude": "35.47778",
        "longitude": "-115.53222",
        "region": "NA",
        "country": "United States",
        "state": "California",
        "county": "San Bernardino",
        "com_type": "M",
        "commod1": "Rare Earth Elements, Barium-Barite, Strontium",
        "commod2": "Thorium",
        "commod3": "Fluorine-Fluorite",
        "oper_type": "Surface",
        "dep_type": "Carbonatite",
        "prod_size": "L",
        "dev_stat": "Producer",
        "model": "Carbonatite deposits",
    },
    {
        "dep_id": "10045123",
        "url": "https://mrdata.usgs.gov/mrds/record/10045123",
        "mrds_id": "M045123",
        "site_name": "Bear Lodge",
        "latitude": "44.4997",
        "longitude": "-104.4411",
        "region": "NA",
        "country": "United States",
        "state": "Wyoming",
        "county": "Crook",
        "com_type": "M",
        "commod1": "Rare Earth Elements, Thorium",
        "commod2": "Gold",
        "commod3": "",
        "dep_type": "Carbonatite",
        "dev_stat": "Prospect",
    },
    {
        "dep_id": "10012345",
        "url": "https://mrdata.usgs.gov/mrds/record/10012345",
        "mrds_id": "W012345",
        "site_name": "Nameless copper showing",
        "latitude": "36.2",
        "longitude": "-115.9",
        "region": "NA",
        "country": "United States",
        "state": "Nevada",
        "county": "Nye",
        "com_type": "M",
        "commod1": "Copper",
        "commod2": "",
        "commod3": "",
        "dev_stat": "Occurrence",
    },
    {
        "dep_id": "10099999",
        "url": "https://mrdata.usgs.gov/mrds/record/10099999",
        "mrds_id": "X099999",
        "site_name": "No coordinates",
        "latitude": "",
        "longitude": "",
        "country": "United States",
        "state": "Nevada",
        "commod1": "Gold",
        "dev_stat": "Occurrence",
    },
    {
        "dep_id": "10200001",
        "url": "https://mrdata.usgs.gov/mrds/record/10200001",
        "mrds_id": "J200001",
        "site_name": "Kamioka",
        "latitude": "36.333",
        "longitude": "137.3",
        "region": "AS",
        "country": "Japan",
        "state": "Gifu",
        "com_type": "M",
        "commod1": "Zinc, Lead, Silver",
        "commod2": "",
        "commod3": "",
        "dev_stat": "Past Producer",
    },
]


def mrds_zip(
    tmp: Path, *, rows: list[dict[str, str]] | None = None, encoding: str = "utf-8"
) -> Path:
    """``mrds-csv.zip`` -> ``mrds.csv`` (comma-separated, quoted lists)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MRDS_COLUMNS, quoting=csv.QUOTE_MINIMAL)
    writer.writeheader()
    for row in rows if rows is not None else MRDS_ROWS:
        writer.writerow({c: row.get(c, "") for c in MRDS_COLUMNS})
    target = tmp / "mrds-csv.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mrds.csv", buffer.getvalue().encode(encoding))
    return target


# ----------------------------------------------------------------------------- NGS

NGS_COLUMNS = [
    "REC_NO",
    "LAB_ID",
    "LATITUDE",
    "LONGITUDE",
    "STATE",
    "COUNTY",
    "CATEGORY",
    "DATASET",
    "MEDIUM",
    "AL_ICP40",
    "CE_ICP40",
    "LA_ICP40",
    "Y_ICP40",
    "TH_ICP40",
    "U_ICP40",
    "NB_ICP40",
    "LI_ICP40",
    "SN_ICP40",
    "AU_AA",
    "AU_FA",
]


def ngs_rows() -> list[dict[str, str]]:
    """Five samples: two near Mountain Pass, a censored La, a missing Ce, Alaska, ppb gold."""
    return [
        {
            "REC_NO": "1",
            "LAB_ID": "C-100001",
            "LATITUDE": "35.48",
            "LONGITUDE": "-115.52",
            "STATE": "CA",
            "COUNTY": "San Bernardino",
            "CATEGORY": "NURE",
            "DATASET": "NURE HSSR",
            "MEDIUM": "stream sediment",
            "AL_ICP40": "7.1",
            "CE_ICP40": "420",
            "LA_ICP40": "250",
            "Y_ICP40": "31",
            "TH_ICP40": "48",
            "U_ICP40": "-100",
            "NB_ICP40": "22",
            "LI_ICP40": "25",
            "SN_ICP40": "-50",
            "AU_AA": "12",
            "AU_FA": "",
        },
        {
            "REC_NO": "2",
            "LAB_ID": "C-100002",
            "LATITUDE": "35.44",
            "LONGITUDE": "-115.47",
            "STATE": "CA",
            "COUNTY": "San Bernardino",
            "CATEGORY": "NGS",
            "DATASET": "NGS",
            "MEDIUM": "soil",
            "AL_ICP40": "6.5",
            "CE_ICP40": "",
            "LA_ICP40": "-4",
            "Y_ICP40": "12",
            "TH_ICP40": "9",
            "U_ICP40": "-100",
            "NB_ICP40": "-4",
            "LI_ICP40": "18",
            "SN_ICP40": "-50",
            "AU_AA": "-2",
            "AU_FA": "",
        },
        {
            "REC_NO": "3",
            "LAB_ID": "C-100003",
            "LATITUDE": "39.05",
            "LONGITUDE": "-117.45",
            "STATE": "NV",
            "COUNTY": "Lander",
            "CATEGORY": "NGS",
            "DATASET": "NGS",
            "MEDIUM": "stream sediment",
            "AL_ICP40": "5.9",
            "CE_ICP40": "61",
            "LA_ICP40": "30",
            "Y_ICP40": "18",
            "TH_ICP40": "10",
            "U_ICP40": "-100",
            "NB_ICP40": "9",
            "LI_ICP40": "33",
            "SN_ICP40": "-50",
            "AU_AA": "",
            "AU_FA": "5",
        },
        {
            "REC_NO": "4",
            "LAB_ID": "C-100004",
            "LATITUDE": "61.2",
            "LONGITUDE": "-149.9",
            "STATE": "AK",
            "COUNTY": "Anchorage",
            "CATEGORY": "AK",
            "DATASET": "AK",
            "MEDIUM": "stream sediment",
            "AL_ICP40": "7.9",
            "CE_ICP40": "55",
            "LA_ICP40": "27",
            "Y_ICP40": "20",
            "TH_ICP40": "8",
            "U_ICP40": "-100",
            "NB_ICP40": "8",
            "LI_ICP40": "21",
            "SN_ICP40": "-50",
            "AU_AA": "",
            "AU_FA": "",
        },
        {
            "REC_NO": "5",
            "LAB_ID": "C-100005",
            "LATITUDE": "",
            "LONGITUDE": "",
            "STATE": "CA",
            "COUNTY": "",
            "CATEGORY": "NGS",
            "DATASET": "NGS",
            "MEDIUM": "soil",
            "AL_ICP40": "6",
            "CE_ICP40": "40",
            "LA_ICP40": "20",
            "Y_ICP40": "10",
            "TH_ICP40": "7",
            "U_ICP40": "-100",
            "NB_ICP40": "5",
            "LI_ICP40": "12",
            "SN_ICP40": "-50",
            "AU_AA": "",
            "AU_FA": "",
        },
    ]


def ngs_zip(
    tmp: Path, *, rows: list[dict[str, str]] | None = None, encoding: str = "utf-8"
) -> Path:
    """``ngs-csv.zip`` -> ``geochem.csv``."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=NGS_COLUMNS)
    writer.writeheader()
    for row in rows if rows is not None else ngs_rows():
        writer.writerow({c: row.get(c, "") for c in NGS_COLUMNS})
    target = tmp / "ngs-csv.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("geochem.csv", buffer.getvalue().encode(encoding))
    return target


# ----------------------------------------------------------------------------- EMAG2v3

EMAG2_STEP = 2.0
"""Fixture spacing in degrees (the real grid is 2 arc-minutes; the layout is the same)."""


def emag2_values() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cell-centre lon (0-360), lat, sea-level and upward-continued values of a global 1° grid."""
    lon = np.arange(EMAG2_STEP / 2, 360.0, EMAG2_STEP)
    lat = np.arange(90.0 - EMAG2_STEP / 2, -90.0, -EMAG2_STEP)
    lon2, lat2 = np.meshgrid(lon, lat)
    upcont = (np.sin(np.radians(lon2)) * 100 + lat2).astype("float32")
    sealevel = upcont * 1.5
    land = (lon2 > 230) & (lon2 < 300) & (lat2 > 25) & (lat2 < 50)  # "North America"
    sealevel[land] = np.nan
    return lon2, lat2, sealevel, upcont


def emag2_zip(tmp: Path) -> Path:
    """``EMAG2_V3_20170530.zip`` with the CSV and both GeoTIFFs (-180..180 for the TIFFs)."""
    import rasterio
    from rasterio.transform import from_origin

    lon2, lat2, sealevel, upcont = emag2_values()
    src = tmp / "emag2-src"
    src.mkdir(parents=True, exist_ok=True)
    with (src / "EMAG2_V3_20170530.csv").open("w", encoding="ascii") as handle:
        for j in range(lat2.shape[0]):
            for i in range(lon2.shape[1]):
                sea = sealevel[j, i]
                handle.write(
                    f"{i},{j},{lon2[j, i]:.4f},{lat2[j, i]:.4f},"
                    f"{99999 if np.isnan(sea) else round(float(sea), 2)},"
                    f"{round(float(upcont[j, i]), 2)},{0 if np.isnan(sea) else 1},{5.5}\n"
                )
    order = np.argsort(np.where(lon2[0] > 180, lon2[0] - 360, lon2[0]))
    for name, values in (("UpCont", upcont), ("Sealevel", sealevel)):
        data = np.where(np.isnan(values), -99999, values)[:, order].astype("float32")
        with rasterio.open(
            src / f"EMAG2_V3_20170530_{name}.tif",
            "w",
            driver="GTiff",
            width=data.shape[1],
            height=data.shape[0],
            count=1,
            dtype="float32",
            crs="EPSG:4326",
            nodata=-99999,
            transform=from_origin(-180.0, 90.0, EMAG2_STEP, EMAG2_STEP),
        ) as dst:
            dst.write(data, 1)
    return _zip_folder(src, tmp / "EMAG2_V3_20170530.zip")
