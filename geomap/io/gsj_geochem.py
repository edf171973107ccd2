"""Reader for the Geological Survey of Japan's *Geochemical Map of Japan* (日本の地球化学図).

Two Shift_JIS (cp932) CSV files with CRLF line ends make one table of 3,024
fine (< 180 µm) river-sediment samples, about one per 10 × 10 km:

``noudo.csv`` (concentrations)
    Header ``番号2`` (sample number, zero-padded: ``00001``) and 53 analytes.
    Numbers carry a trailing space in most rows (``6.579 ,``) and a compact
    form in others; both parse the same.  One line is empty (53 commas, no
    number); it is dropped and counted.
``samplejoho.csv`` (sample information)
    ``試料番号`` (sample number), ``地図名`` (1:200,000 map sheet, with a numeric
    prefix), longitude then latitude in JGD2000 decimal degrees (EPSG:4612),
    locality, river, bed width, water width, flow, bed condition, grain size,
    colour, bank protection (人造 artificial / 自然 natural) and a comment.

Joining and repairs (each counted in the ingest report, nothing dropped
silently):

- sample numbers join as integers (``00001`` == ``1``); a number that occurs
  ``k`` times in both files is paired by order of occurrence (number 78013
  occurs twice: sheets 78 and 79), and the second one gets ``sample_id``
  ``"78013#2"``;
- a number present in only one file, or more often in one file than in the
  other, cannot be placed or has no analysis: dropped and counted;
- a concentration row with another number of fields than the header is dropped
  (its values could not be assigned to analytes) and its line number noted; a
  sample-information row with extra fields (an unquoted comma in the comment)
  has them joined back into the comment, one with too few trailing fields is
  padded — both repairs;
- coordinates that are not numbers, or that lie outside Japan
  (122–154 °E, 20–46 °N), are dropped and counted, except that a longitude
  and latitude written the wrong way round (the swapped pair is in Japan) are
  swapped back (a repair);
- a file that is not cp932 but valid UTF-8 (re-saved by a spreadsheet) is
  read as UTF-8 and the fact noted; bytes that are neither are an error.

Units follow :mod:`geomap.io.geochem`: every analyte becomes ``<El>_ppm``.  The
nine major oxides (wt %) are converted to their element in ppm by the element's
mass fraction in the oxide (e.g. Al2O3 → Al: × 10,000 × 2·26.98/101.96 =
5,292.5); Hg (ppb) is divided by 1,000.  The file has no censoring flags and no
detection limits; a value of exactly 0 (As 164×, Hg 173×, Tl 2×) is below the
reporting precision and becomes censored (NaN, ``<El>_censored`` True,
``<El>_dl_ppm`` NaN because the limit is not in the file).

The same reader reads the mirror (``gsj-geochemical-map-japan/noudo.csv``) and
the official download (``gbank.gsj.jp/geochemmap/data/ganyuryo/noudo.csv`` and
``.../joho/samplejoho.csv``): files are found by name, whatever folder they are
in; :func:`read_gsj_geochem_files` reads two paths or a folder in either layout.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geomap.core.report import IngestReport
from geomap.errors import DataError
from geomap.io._formats import require_format
from geomap.io._reader_entry import attach_report, local_file, reject_unknown_options
from geomap.io.registry import reader

__all__ = [
    "GSJ_CRS",
    "JAPAN_LONLAT_BOUNDS",
    "OXIDE_TO_ELEMENT",
    "find_gsj_files",
    "read_gsj_geochem",
    "read_gsj_geochem_files",
]

GSJ_CRS = "EPSG:4612"
"""JGD2000 geographic coordinates, as written in ``samplejoho.csv``."""

JAPAN_LONLAT_BOUNDS = (122.0, 20.0, 154.0, 46.0)
"""(west, south, east, north) in degrees: a sample outside is not in Japan."""

_ATOMIC_MASS = {
    "Al": 26.9815,
    "Ca": 40.078,
    "Fe": 55.845,
    "K": 39.0983,
    "Mg": 24.305,
    "Mn": 54.938,
    "Na": 22.9898,
    "P": 30.9738,
    "Ti": 47.867,
    "O": 15.999,
}
# oxide -> (element, atoms of the element, atoms of oxygen)
_OXIDES = {
    "Al2O3": ("Al", 2, 3),
    "CaO": ("Ca", 1, 1),
    "Fe2O3": ("Fe", 2, 3),
    "K2O": ("K", 2, 1),
    "MgO": ("Mg", 1, 1),
    "MnO": ("Mn", 1, 1),
    "Na2O": ("Na", 2, 1),
    "P2O5": ("P", 2, 5),
    "TiO2": ("Ti", 1, 2),
}
OXIDE_TO_ELEMENT: dict[str, tuple[str, float]] = {
    oxide: (
        element,
        1e4 * n * _ATOMIC_MASS[element] / (n * _ATOMIC_MASS[element] + m * _ATOMIC_MASS["O"]),
    )
    for oxide, (element, n, m) in _OXIDES.items()
}
"""Oxide column -> (element, factor from wt % oxide to ppm element)."""

_PPB = {"Hg"}
_CONC_ID = "番号2"
_INFO_HEADER = (
    "試料番号",
    "地図名",
    "経度(JGD2000)",
    "緯度(JGD2000)",
    "採取地",
    "川",
    "河床幅",
    "流水幅",
    "流速",
    "河床状況",
    "試料粒度",
    "試料色調",
    "護岸",
    "コメント",
)
_INFO_COLUMNS = (
    "sample_number",
    "map_sheet",
    "longitude",
    "latitude",
    "locality",
    "river",
    "bed_width",
    "water_width",
    "flow",
    "bed_condition",
    "grain_size",
    "colour",
    "bank",
    "comment",
)
NOUDO = "noudo.csv"
SAMPLEJOHO = "samplejoho.csv"


def _decode(path: Path, expected_first: str, report: IngestReport) -> str:
    """Decode a GSJ file: cp932, or UTF-8 re-saved by a spreadsheet (noted)."""
    require_format(path, "text", what=f"GSJ geochemistry file {path.name}")
    data = path.read_bytes()
    text: str | None
    try:
        text = data.decode("cp932")
    except UnicodeDecodeError as exc:
        first_error = exc
        text = None
    if text is not None and text.lstrip("\ufeff").startswith(expected_first):
        return text.lstrip("\ufeff")
    try:
        utf8 = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        utf8 = None
    if utf8 is not None and utf8.startswith(expected_first):
        report.notes.append(
            f"{path.name} is UTF-8, not the Shift_JIS (cp932) of the official file; read as UTF-8"
        )
        return utf8
    if text is None:
        start = first_error.start
        raise DataError(
            f"{path} is neither Shift_JIS (cp932) nor UTF-8: byte "
            f"{data[start : start + 2]!r} at offset {start}; download the file again from "
            "https://gbank.gsj.jp/geochemmap/data/download.htm"
        )
    got = text.splitlines()[0][:40] if text else ""
    raise DataError(
        f"{path} does not start with the header {expected_first!r} (found {got!r}); "
        f"is it the GSJ {path.name}? The official file is Shift_JIS (cp932) text"
    )


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def _number(value: str) -> float:
    text = value.strip().replace("\u3000", "")
    if not text:
        return np.nan
    return float(text)


def _sample_number(value: str, *, where: str) -> int:
    text = value.strip()
    if not text.isdigit():
        raise DataError(f"{where}: sample number {value!r} is not a whole number; check the file")
    return int(text)


def _read_concentrations(
    path: Path, report: IngestReport
) -> tuple[list[str], list[int], np.ndarray]:
    rows = _rows(_decode(path, _CONC_ID, report))
    header = [h.strip() for h in rows[0]]
    analytes = header[1:]
    unknown = [a for a in analytes if a not in OXIDE_TO_ELEMENT and not a.isalpha()]
    if unknown:
        raise DataError(f"{path}: unexpected analyte columns {unknown}; is this the GSJ noudo.csv?")
    numbers: list[int] = []
    values: list[list[float]] = []
    empty = 0
    wrong_width: list[int] = []
    unparsable = 0
    for line, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            empty += 1
            continue
        if len(row) != len(header):
            wrong_width.append(line)
            continue
        numbers.append(_sample_number(row[0], where=f"{path.name} line {line}"))
        parsed = []
        for cell in row[1:]:
            try:
                parsed.append(_number(cell))
            except ValueError:
                parsed.append(np.nan)
                unparsable += 1
        values.append(parsed)
    report.drop(f"{path.name}: empty line (no sample number, no values)", empty)
    report.drop(
        f"{path.name}: row with another number of fields than the header's {len(header)}",
        len(wrong_width),
    )
    if wrong_width:
        report.notes.append(f"{path.name}: rows of the wrong width at lines {wrong_width[:20]}")
    report.normalize(f"{path.name}: values that are not numbers set to NaN", unparsable)
    return analytes, numbers, np.asarray(values, dtype="float64").reshape(len(values), -1)


def _read_information(path: Path, report: IngestReport) -> pd.DataFrame:
    rows = _rows(_decode(path, _INFO_HEADER[0], report))
    header = tuple(h.strip() for h in rows[0])
    if header[:4] != _INFO_HEADER[:4]:
        raise DataError(
            f"{path}: header starts {list(header[:4])}, expected {list(_INFO_HEADER[:4])}; "
            "is this the GSJ samplejoho.csv?"
        )
    width = len(_INFO_HEADER)
    records = []
    joined = padded = 0
    short: list[int] = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not any(cell.strip() for cell in row):
            report.drop(f"{path.name}: empty line", 1)
            continue
        if len(row) > width:
            row = [*row[: width - 1], ",".join(row[width - 1 :])]
            joined += 1
        elif len(row) < width:
            if len(row) < 4:
                short.append(line)
                continue
            row = row + [""] * (width - len(row))
            padded += 1
        records.append([line, *row])
    report.repair(f"{path.name}: extra fields (unquoted comma) joined into the comment", joined)
    report.repair(f"{path.name}: missing trailing fields padded with empty text", padded)
    report.drop(f"{path.name}: row without sample number and coordinates", len(short))
    if short:
        report.notes.append(f"{path.name}: rows too short to place at lines {short[:20]}")
    frame = pd.DataFrame(records, columns=["line", *_INFO_COLUMNS])
    frame["sample_number"] = [
        _sample_number(v, where=f"{path.name} line {ln}")
        for v, ln in zip(frame["sample_number"], frame["line"], strict=True)
    ]
    for column in _INFO_COLUMNS[4:]:
        text = frame[column].astype("string").str.strip()
        frame[column] = text.mask(text == "")
    frame["map_sheet"] = frame["map_sheet"].str.strip().astype("string")
    return frame


def _occurrence(numbers: list[int]) -> list[int]:
    seen: Counter[int] = Counter()
    out = []
    for number in numbers:
        seen[number] += 1
        out.append(seen[number])
    return out


def _coordinates(info: pd.DataFrame, report: IngestReport) -> pd.DataFrame:
    lon = pd.to_numeric(info["longitude"].str.strip(), errors="coerce").to_numpy(dtype="float64")
    lat = pd.to_numeric(info["latitude"].str.strip(), errors="coerce").to_numpy(dtype="float64")
    west, south, east, north = JAPAN_LONLAT_BOUNDS

    def inside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x >= west) & (x <= east) & (y >= south) & (y <= north)

    finite = np.isfinite(lon) & np.isfinite(lat)
    ok = finite & inside(lon, lat)
    swapped = finite & ~ok & inside(lat, lon)
    lon, lat = np.where(swapped, lat, lon), np.where(swapped, lon, lat)
    report.repair(
        "longitude and latitude written the wrong way round, swapped back", int(swapped.sum())
    )
    outside = finite & ~ok & ~swapped
    report.drop("coordinates that are not numbers", int((~finite).sum()))
    report.drop(
        f"coordinates outside Japan ({west}–{east} °E, {south}–{north} °N)", int(outside.sum())
    )
    bad = ~finite | outside
    if bad.any():
        report.notes.append(
            "samples without a usable location: "
            + ", ".join(str(n) for n in info.loc[bad, "sample_number"].head(20))
        )
    info = info.assign(longitude=lon, latitude=lat)
    return info.loc[~bad]


def read_gsj_geochem_files(
    concentrations: Path | str,
    information: Path | str | None = None,
    *,
    dataset_id: str = "gsj-geochemical-map-japan",
) -> Any:
    """Read ``noudo.csv`` and ``samplejoho.csv`` (paths, or one folder in either layout).

    Parameters
    ----------
    concentrations : Path or str
        ``noudo.csv``, or a folder holding both files flat (the mirror) or as
        ``ganyuryo/noudo.csv`` and ``joho/samplejoho.csv`` (the official download).
    information : Path or str, optional
        ``samplejoho.csv`` when ``concentrations`` is a file.
    dataset_id : str
        Name used in the ingest report.

    Returns
    -------
    GeoDataFrame
        One row per sample, points in JGD2000 (EPSG:4612); columns ``sample_id``,
        ``sample_number``, ``medium`` (``"stream sediment"``), the sample
        information, and ``<El>_ppm``, ``<El>_censored``, ``<El>_dl_ppm``.

    Raises
    ------
    DataError
        Undecodable text, a header that is not the GSJ one, or no sample left.
    """
    import geopandas as gpd

    conc_path = Path(concentrations)
    if conc_path.is_dir():
        conc_path, info_path = find_gsj_files(conc_path)
    elif information is None:
        raise DataError(
            f"read_gsj_geochem_files({conc_path}): give samplejoho.csv too, or a folder"
        )
    else:
        info_path = Path(information)
    report = IngestReport(dataset_id)
    analytes, numbers, values = _read_concentrations(conc_path, report)
    conc_lines = sum(report.dropped.values()) + len(numbers)
    info = _read_information(info_path, report)
    info_dropped = sum(report.dropped.values()) - (conc_lines - len(numbers))
    conc_key = list(zip(numbers, _occurrence(numbers), strict=True))
    info_key = list(
        zip(info["sample_number"], _occurrence(list(info["sample_number"])), strict=True)
    )
    info.index = pd.MultiIndex.from_tuples(info_key)
    in_info = set(info_key)
    in_conc = set(conc_key)
    no_location = [k for k in conc_key if k not in in_info]
    no_analysis = [k for k in info_key if k not in in_conc]
    report.drop("samplejoho.csv has no location for this sample number", len(no_location))
    report.drop("noudo.csv has no analysis for this sample number", len(no_analysis))
    if no_location or no_analysis:
        report.notes.append(
            f"unmatched sample numbers: without location {[k[0] for k in no_location][:10]}, "
            f"without analysis {[k[0] for k in no_analysis][:10]}"
        )
    # records in: every line of noudo.csv, plus the samplejoho.csv rows that no
    # concentration line accounts for (so dropped + kept = read).
    report.records_in = conc_lines + info_dropped + len(no_analysis)
    counts = Counter(numbers)
    repeated = sorted(n for n, c in counts.items() if c > 1)
    if repeated:
        report.normalize(
            "sample numbers occurring more than once, paired by order of occurrence",
            sum(counts[n] for n in repeated),
        )
        report.notes.append(f"repeated sample numbers (paired by order): {repeated[:20]}")
    keep = np.array([k in in_info for k in conc_key], dtype=bool)
    keys = [k for k in conc_key if k in in_info]
    values = values[keep]
    joined = info.loc[keys].reset_index(drop=True)
    joined = _coordinates(joined, report)
    values = values[joined.index.to_numpy()]
    joined = joined.reset_index(drop=True)
    if joined.empty:
        raise DataError(
            f"{conc_path} and {info_path}: no sample has both an analysis and a location"
        )
    repeat = np.array(_occurrence(list(joined["sample_number"])))
    sample_id = [
        str(n) if k == 1 else f"{n}#{k}"
        for n, k in zip(joined["sample_number"], repeat, strict=True)
    ]
    columns: dict[str, Any] = {
        "sample_id": pd.array(sample_id, dtype="string"),
        "sample_number": joined["sample_number"].to_numpy(dtype="int64"),
        "medium": pd.array(["stream sediment"] * len(joined), dtype="string"),
        "size_fraction": pd.array(["<180µm"] * len(joined), dtype="string"),
    }
    for column in _INFO_COLUMNS[1:]:
        if column not in ("longitude", "latitude"):
            columns[column] = joined[column].astype("string")
    columns["longitude"] = joined["longitude"].to_numpy()
    columns["latitude"] = joined["latitude"].to_numpy()
    elements: list[str] = []
    zeros = 0
    for j, analyte in enumerate(analytes):
        element, factor = OXIDE_TO_ELEMENT.get(analyte, (analyte, 1e-3 if analyte in _PPB else 1.0))
        raw = values[:, j]
        below = np.isfinite(raw) & (raw <= 0)
        zeros += int(below.sum())
        columns[f"{element}_ppm"] = np.where(below, np.nan, raw * factor)
        columns[f"{element}_censored"] = below
        columns[f"{element}_dl_ppm"] = np.full(len(raw), np.nan)
        elements.append(element)
    report.normalize("oxides (wt %) converted to element ppm and Hg (ppb) to ppm", len(joined))
    report.normalize(
        "zero concentrations (below the reporting precision) kept as censored; limit unknown",
        zeros,
    )
    out = gpd.GeoDataFrame(
        columns,
        geometry=gpd.points_from_xy(joined["longitude"], joined["latitude"]),
        crs=GSJ_CRS,
    )
    report.records_out = len(out)
    return attach_report(
        out,
        report,
        geomap_source=dataset_id,
        geomap_elements=elements,
        geomap_medium="stream sediment",
        geomap_units_note=(
            "oxides wt % -> element ppm by mass fraction "
            + ", ".join(f"{o}->{e} x{f:.1f}" for o, (e, f) in OXIDE_TO_ELEMENT.items())
            + "; Hg ppb / 1000"
        ),
    )


def find_gsj_files(folder: Path) -> tuple[Path, Path]:
    """Find ``noudo.csv`` and ``samplejoho.csv`` in a mirror or official-download folder.

    Looks in ``folder`` itself, then in ``ganyuryo/`` and ``joho/`` (the layout of
    ``https://gbank.gsj.jp/geochemmap/data/``), then anywhere below ``folder``.

    Raises
    ------
    DataError
        Either file is missing, or found more than once below ``folder``.
    """
    found = []
    for name, official in ((NOUDO, "ganyuryo"), (SAMPLEJOHO, "joho")):
        for candidate in (folder / name, folder / official / name):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            matches = sorted(folder.rglob(name))
            if len(matches) != 1:
                raise DataError(
                    f"{folder}: {'no' if not matches else 'several'} {name} found "
                    f"({[str(m) for m in matches][:3]}); put the GSJ files in one folder, or "
                    f"keep the official layout ganyuryo/{NOUDO} and joho/{SAMPLEJOHO}"
                )
            found.append(matches[0])
    return found[0], found[1]


@reader("gsj-geochem")
def read_gsj_geochem(
    dataset: Any,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    **options: Any,
) -> Any:
    """Read the GSJ Geochemical Map of Japan (see the module docstring).

    Returns
    -------
    GeoDataFrame
        Points in JGD2000 (EPSG:4612); ``geomap.read(..., region="japan")``
        reprojects them to the Japan analysis CRS and records the operation.
    """
    from geomap.errors import UnknownNameError

    reject_unknown_options("gsj-geochem", options, [])
    if layer not in (None, "samples"):
        raise UnknownNameError(f"dataset {dataset.id!r} has no layer {layer!r}; use 'samples'")
    _, conc = local_file(dataset, paths, NOUDO)
    _, info = local_file(dataset, paths, SAMPLEJOHO)
    return read_gsj_geochem_files(conc, info, dataset_id=dataset.id)
