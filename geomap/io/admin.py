"""States, provinces and prefectures: one code and one name per unit, and a point's own unit.

The occurrence sources write the state as they like ("ID", "Idaho", "Idaho/Valley County",
"New Mexico, Texas"); Japanese sources write prefectures in English or Japanese.  This module
normalizes them to one code and one name per unit — the USPS code for US states (Natural
Earth ``postal``), the JIS X 0401 code for Japanese prefectures (two digits, e.g. ``"13"``
Tokyo) and Natural Earth's postal/ISO code elsewhere — and checks each point against the
unit it actually falls in (Natural Earth 1:50m admin-1; japan-prefectures-globalmap for
Japan):

* :func:`admin_units` — the polygons (EPSG:4326): ``country`` (ISO3), ``code``, ``name``;
* :func:`normalize_state` — the code of a state text as written (``None`` when unknown);
* :func:`check_states` — per occurrence: ``state_code``, ``state_name`` (the unit the point
  lies in), ``state_as_written`` code and ``state_mismatch`` (the written state names
  another unit than the location; e.g. Caballo Mountains written "New Mexico" at
  -100.28, 32.53, which is in Texas).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["admin_units", "check_states", "normalize_state", "state_codes"]

_NON_WORD = re.compile(r"[\W_]+")


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return _NON_WORD.sub(" ", plain).strip()


@functools.lru_cache(maxsize=1)
def admin_units() -> Any:
    """Return every state/province/prefecture polygon with ``country``, ``code``, ``name``.

    Japanese prefectures come from japan-prefectures-globalmap (JIS codes, English names and
    ``name_ja``); every other country from Natural Earth 1:50m admin-1 (``postal`` code, or
    the ISO 3166-2 suffix where there is no postal code).  Kept in the occurrence index
    (:func:`geomap.io.occurrence_index.cached_frame`) while both datasets and geomap's code
    are unchanged: reading and repairing the polygons takes seconds.
    """
    from geomap.catalog import load_catalog
    from geomap.io.occurrence_index import cached_frame

    return cached_frame("admin-units", ADMIN_DATASETS, load_catalog(), _read_admin_units)


ADMIN_DATASETS = ("natural-earth", "japan-prefectures-globalmap")


def _read_admin_units() -> Any:
    """Read and combine the admin-1 units of :func:`admin_units` from their datasets."""
    import geopandas as gpd

    from geomap.io import read

    states = read("natural-earth", layer="50m_admin_1_states_provinces").to_crs(4326)
    states = states[states["adm0_a3"] != "JPN"]
    iso_suffix = states["iso_3166_2"].fillna("").astype(str).str.split("-").str[-1]
    postal = states["postal"].fillna("").astype(str)
    code = postal.where(postal.str.len() > 0, iso_suffix)
    rest = gpd.GeoDataFrame(
        {
            "country": states["adm0_a3"].astype(str).to_numpy(),
            "code": code.to_numpy(),
            "name": states["name"].fillna("").astype(str).to_numpy(),
            "name_ja": "",
        },
        geometry=states.geometry.to_numpy(),
        crs=4326,
    )
    prefectures = read("japan-prefectures-globalmap").to_crs(4326)
    japan = gpd.GeoDataFrame(
        {
            "country": "JPN",
            "code": prefectures["pref_code"].astype(int).map("{:02d}".format).to_numpy(),
            "name": prefectures["name"].astype(str).to_numpy(),
            "name_ja": prefectures["name_ja"].astype(str).to_numpy(),
        },
        geometry=prefectures.geometry.to_numpy(),
        crs=4326,
    )
    return gpd.GeoDataFrame(pd.concat([rest, japan], ignore_index=True), crs=4326)


@functools.lru_cache(maxsize=1)
def _lookup() -> dict[tuple[str, str], str]:
    table: dict[tuple[str, str], str] = {}
    units = admin_units()
    for country, code, name, name_ja in zip(
        units["country"], units["code"], units["name"], units["name_ja"], strict=True
    ):
        for text in (code, name, name_ja, name_ja.removesuffix("県")):
            if text and _key(text):
                table.setdefault((country, _key(text)), code)
    return table


def normalize_state(text: object, country: str) -> str | None:
    """Return the unit code of a state as written, or None when it names no unit.

    Only the part before a ``/`` (county) or ``,`` (a second state) is read: the first state
    named is the one recorded.

    >>> normalize_state("Idaho/Valley County", "USA"), normalize_state("ID", "USA")
    ('ID', 'ID')
    >>> normalize_state("Tokyo", "JPN"), normalize_state("Atlantis", "USA") is None
    ('13', True)
    """
    if not isinstance(text, str) or not text.strip():
        return None
    first = re.split(r"[/,;]", text)[0]
    key = _key(first)
    return _lookup().get((country, key)) if key else None


def check_states(frame: Any) -> pd.DataFrame:
    """Normalize the written state of every occurrence and check it against the location.

    Parameters
    ----------
    frame : GeoDataFrame
        Occurrences with ``state`` and ``country`` (ISO3), any CRS.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``frame``: ``state_code`` and ``state_name`` of the unit the point lies
        in (the written state's where the point is in no unit, e.g. just off a coast;
        ``""`` when neither is known), ``state_as_written`` (the code the written
        state names, ``""`` when it names none) and ``state_mismatch`` (True when both are
        known and differ).
    """
    import geopandas as gpd

    units = admin_units()
    points = gpd.GeoDataFrame(geometry=frame.geometry.to_crs(4326).to_numpy(), crs=4326)
    points["row"] = np.arange(len(points))
    hits = gpd.sjoin(points, units, how="left", predicate="within")
    hits = hits.drop_duplicates("row").sort_values("row")
    code = hits["code"].fillna("").astype(str).to_numpy()
    name = hits["name"].fillna("").astype(str).to_numpy()
    unit_country = hits["country"].fillna("").astype(str).to_numpy()
    countries = frame["country"].fillna("").astype(str).to_numpy()
    written = _normalized_states(
        frame["state"].tolist(), np.where(countries != "", countries, unit_country).tolist()
    )
    written_arr = np.asarray(written, dtype=object)
    mismatch = (written_arr != "") & (code != "") & (written_arr != code)
    # off every unit (at sea, on a coarse coast): the written state, normalized, stands
    lookup = {
        (c, k): n for c, k, n in zip(units["country"], units["code"], units["name"], strict=True)
    }
    for i in np.flatnonzero((code == "") & (written_arr != "")):
        code[i] = written_arr[i]
        name[i] = lookup.get((countries[i], written_arr[i]), "")
    return pd.DataFrame(
        {
            "state_code": pd.array(code, dtype="string"),
            "state_name": pd.array(name, dtype="string"),
            "state_as_written": pd.array(written_arr.tolist(), dtype="string"),
            "state_mismatch": mismatch,
        },
        index=frame.index,
    )


def state_codes(frame: Any) -> list[str]:
    """Return the normalized written state of every row (``""`` when it names no unit)."""
    if "state" not in frame.columns or not len(frame):
        return [""] * len(frame)
    countries = (
        frame["country"].fillna("").astype(str).tolist()
        if "country" in frame.columns
        else [""] * len(frame)
    )
    return _normalized_states(frame["state"].fillna("").astype(str).tolist(), countries)


def _normalized_states(states: list[object], countries: list[str]) -> list[str]:
    """Return :func:`normalize_state` of each (state, country) pair, ``""`` for none.

    Few pairs are distinct (a state is written a handful of ways): each is normalized once.
    """
    normalized: dict[tuple[object, str], str] = {}
    out = []
    for pair in zip(states, countries, strict=True):
        if pair not in normalized:
            normalized[pair] = normalize_state(*pair) or ""
        out.append(normalized[pair])
    return out
