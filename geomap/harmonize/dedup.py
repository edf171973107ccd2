"""Linking the same deposit across compilations into one site, all sources kept.

The same deposit appears in several compilations (Mountain Pass is in the USGS REE, carbonatite
and major-deposit sets, in the critical-mineral deposits of the US and in MRDS California; the
Kuroko deposits Kosaka and Hanaoka are in "major deposits" and in the VMS set).  The rule:

1. **Candidates**: two records from *different* sources (``dataset_id``/``source``) whose points
   lie within ``max_distance_km`` (default 5 km, great-circle).  Records of the same source are
   never linked: a compilation lists distinct deposits (Kosaka-Motoyama and Kosaka-Uchinotai
   are two VMS deposits).
2. **Name similarity** ``s`` (0-1) between normalized names: lower case, accents and
   punctuation removed, generic words dropped (mine, deposit, prospect, mill, quarry,
   property, claims, project, complex, carbonatite, ...; "district" is kept, a district is not
   a deposit).  Each name also yields variants: the part before a parenthesis, the part inside
   it and the parts of ``;``-separated alternatives (``"Kosaka (Motoyama)"`` -> ``kosaka
   motoyama``, ``kosaka``, ``motoyama``).  ``s`` is the best :class:`difflib.SequenceMatcher`
   ratio over variant pairs, raised to 0.9 when all words of one variant occur in the other
   and that variant has a word of at least 4 letters (``"Bear Lodge"`` in ``"Bear Lodge
   Mountains"``).  A pair is linked when ``s >= min_similarity`` (default 0.8).
3. **Commodity check**: unless the names match exactly (``s == 1``), both records must share
   a commodity when both list some (group codes count for their members: ``REE`` shares with
   ``Nd``), so "Mountain Pass Antimony" (Sb, 1.3 km away) is not merged into the Mountain
   Pass REE deposit, while "Magnet Cove" (Ti in one compilation, REE-Nb in another) is.
4. **Same name, coarse coordinates** (pairs found by name, not by distance): compilations
   round coordinates (MRData REE to 1', "major deposits" to 0.1 degree) or carry a typo, so
   records with the *same* normalized name from different sources that share a commodity
   are linked up to ``same_name_km`` (default 25 km: Hicks Dome, Wet Mountains), and up to
   ``same_state_km`` (default 100 km) when they also name the same state (Blackfoot Bridge,
   Idaho: 75 km apart, one latitude is off).  A "district" record and a deposit of the same
   name within ``max_distance_km`` are the same place (Mountain Pass District in MRDS,
   Mountain Pass deposit in Earth MRI, 300 m apart), even when the site already holds a
   deposit record of the district's compilation.
5. **One record per source per site**: accepted pairs are applied best first (higher ``s``,
   then higher whole-name ratio, then shorter distance); a link that would put two records of
   the same source into one site is refused.  So the major-deposits "Kosaka" joins the nearer
   VMS record with the same name, and "Hanaoka-Matsumine" joins "Hanaoka (Mats-Sha)" rather
   than "Hanaoka (Doy-Tsut-Kam)".

:func:`link_duplicates` returns the site group of every row; :func:`merge_duplicates` returns
one row per site with the union of commodities and every source record listed in ``sources``.
The representative row of a site (its geometry, name, id) is the member from the source that
comes first in ``source_priority`` (deposit-level compilations before district-scale ones).
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_SOURCE_PRIORITY",
    "link_duplicates",
    "merge_duplicates",
    "name_similarity",
    "name_variants",
]

DEFAULT_SOURCE_PRIORITY: tuple[str, ...] = (
    "usmin_lithium_sites",
    "earth_mri_usa",
    "mrdata_vms",
    "world_tin_tungsten_deposit",
    "mrdata_major_deposits",
    "mrdata_carbonatite",
    "mrdata_laterite",
    "mrdata_ree",
    "usgs_mrds_california",
    "utah_mineral_occurrence_system",
)
"""Which member represents a merged site: earlier sources first, then the rest by name."""

_EARTH_RADIUS_KM = 6371.0088
_GENERIC_WORDS = (
    "mine mines mining deposit deposits prospect prospects occurrence occurrences mill mills "
    "and the of property properties claim claims group project quarry quarries pit pits "
    "workings area complex carbonatite operation operations lode lodes no nos"
)
_GENERIC = frozenset(_GENERIC_WORDS.split(" "))
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_PAREN = re.compile(r"\(([^)]*)\)")


def _clean(text: str) -> str:
    if text.isascii():  # NFKD leaves ASCII as it is, and casefold is lower there
        ascii_text = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    words = [w for w in _NON_ALNUM.sub(" ", ascii_text).split() if w not in _GENERIC]
    return " ".join(words)


@functools.lru_cache(maxsize=1 << 17)
def name_variants(name: object) -> tuple[str, ...]:
    """Return the normalized variants of a site name used for matching.

    >>> name_variants("Kosaka (Motoyama)")
    ('kosaka motoyama', 'kosaka', 'motoyama')
    >>> name_variants("Mountain Pass Mine and Mill")
    ('mountain pass',)
    """
    if not isinstance(name, str) or not name.strip():
        return ()
    variants = [_clean(name)]
    for alternative in re.split(r"[;]", name):
        inside = _PAREN.findall(alternative)
        variants.append(_clean(_PAREN.sub(" ", alternative)))
        variants.extend(_clean(part) for text in inside for part in text.split(","))
    return tuple(dict.fromkeys(v for v in variants if v))


def name_similarity(a: Sequence[str], b: Sequence[str]) -> tuple[float, float]:
    """Return ``(s, whole)``: best variant similarity (see module doc) and whole-name ratio."""
    if not a or not b:
        return 0.0, 0.0
    whole = difflib.SequenceMatcher(None, a[0], b[0]).ratio()
    best = whole
    for x in a:
        wx = set(x.split())
        for y in b:
            if best >= 1.0:
                return 1.0, whole
            best = max(best, difflib.SequenceMatcher(None, x, y).ratio())
            wy = set(y.split())
            small = wx if len(wx) <= len(wy) else wy
            if (wx <= wy or wy <= wx) and any(len(w) >= 4 for w in small):
                best = max(best, 0.9)
    return best, whole


def _unit_vectors(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    lam, phi = np.radians(lon), np.radians(lat)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def _expanded_codes(value: str, cache: dict[str, frozenset[str]]) -> frozenset[str]:
    codes = cache.get(value)
    if codes is None:
        from geomap.harmonize.commodities import load_vocabulary, split_codes

        vocab = load_vocabulary()
        found: set[str] = set()
        for code in split_codes(value):
            found.add(code)
            found.update(vocab.groups.get(code, ()))
        codes = cache[value] = frozenset(found)
    return codes


def _lonlat(frame: Any) -> tuple[np.ndarray, np.ndarray]:
    import shapely

    from geomap.errors import CRSError

    if frame.crs is None:
        raise CRSError("occurrence frame has no CRS; set one before linking duplicates")
    geoms = frame.geometry
    if not frame.crs.is_geographic or frame.crs.to_epsg() != 4326:
        geoms = geoms.to_crs(4326)
    values = geoms.to_numpy()
    return shapely.get_x(values), shapely.get_y(values)


def _candidate_pairs(keys: np.ndarray, xyz: np.ndarray, radius_km: float) -> list[tuple[int, int]]:
    """Return the pairs of rows of different sources within ``radius_km`` of each other.

    Each pair is ``(i, j)`` with ``keys[i] < keys[j]``.
    """
    from scipy.spatial import cKDTree

    chord = 2 * math.sin(radius_km / (2 * _EARTH_RADIUS_KM))
    near = cKDTree(xyz).query_pairs(chord, output_type="ndarray")
    first, second = near[:, 0], near[:, 1]
    rank, _ = pd.factorize(keys, sort=True)  # integer codes in the keys' order
    key_first, key_second = rank[first], rank[second]
    cross = key_first != key_second
    ordered = key_first < key_second
    i = np.where(ordered, first, second)[cross]
    j = np.where(ordered, second, first)[cross]
    return list(zip(i.tolist(), j.tolist(), strict=True))


def _base_name(name: str) -> str:
    variants = name_variants(name)
    return variants[0] if variants else ""


def _state_codes(frame: Any, state_codes: Sequence[str] | None) -> np.ndarray:
    """Return the state of every row: the given codes, else the written state's first part."""
    if state_codes is not None:
        return np.asarray([str(c or "") for c in state_codes], dtype=object)
    if "state" not in frame.columns:
        return np.array([""] * len(frame), dtype=object)
    return np.asarray(
        [_clean(re.split(r"[/,;]", s)[0]) for s in frame["state"].fillna("").astype(str)],
        dtype=object,
    )


def _name_pairs(
    names: np.ndarray,
    keys: np.ndarray,
    xyz: np.ndarray,
    finite: np.ndarray,
    states: np.ndarray,
    *,
    radius_km: float,
    same_name_km: float,
    same_state_km: float,
) -> list[tuple[int, int, float]]:
    """Pairs of different sources with one normalized name (tier 4 of the module doc).

    Returns ``(i, j, s)``: ``s`` 1.0 for the same name, 0.9 for a district and a deposit.
    """
    base = [_base_name(n) for n in names]
    stripped = [" ".join(w for w in b.split() if w != "district") for b in base]
    groups: dict[str, list[int]] = {}
    for i, name in enumerate(stripped):
        if name and finite[i]:
            groups.setdefault(name, []).append(i)
    out: list[tuple[int, int, float]] = []
    for members in groups.values():
        if len(members) < 2 or len(members) > 50:
            continue  # a name shared by many records is a common word, not one deposit
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                if keys[i] == keys[j]:
                    continue
                d = _EARTH_RADIUS_KM * math.acos(float(np.clip(xyz[i] @ xyz[j], -1.0, 1.0)))
                if base[i] == base[j]:
                    same_state = bool(states[i]) and states[i] == states[j]
                    if d <= same_name_km or (same_state and d <= same_state_km):
                        out.append((i, j, 1.0))
                elif d <= radius_km:  # "X District" and "X deposit" at one place
                    out.append((i, j, 0.9))
    return out


def link_duplicates(
    frame: Any,
    *,
    max_distance_km: float = 5.0,
    min_similarity: float = 0.8,
    source_priority: Sequence[str] = DEFAULT_SOURCE_PRIORITY,
    same_name_km: float = 25.0,
    same_state_km: float = 100.0,
    state_codes: Sequence[str] | None = None,
) -> pd.Series:
    """Return, for each row, the ``site_id`` of the site it belongs to (see module doc).

    Parameters
    ----------
    frame : GeoDataFrame
        Occurrences in the common schema (any CRS; distances are great-circle).
    max_distance_km : float, default 5.0
        Largest distance between two records of the same deposit.
    min_similarity : float, default 0.8
        Smallest name similarity ``s`` for a link.
    source_priority : sequence of str
        Sources in order of preference for the representative record of a site.
    same_name_km, same_state_km : float, default 25 and 100
        Largest distance between two records of the same normalized name (sharing a
        commodity), and of the same name in the same state (tier 4 of the module doc).
    state_codes : sequence of str, optional
        The normalized state of every row (``"ID"`` for "Idaho", "ID" and "Idaho/Valley
        County"; :func:`geomap.io.admin.normalize_state`); without them the written states
        are compared after cleaning, so "ID" and "Idaho" differ.

    Returns
    -------
    Series of str
        Aligned with ``frame``; rows of the same site share the representative's ``site_id``.
    """
    n = len(frame)
    if n == 0:
        return pd.Series([], index=frame.index, dtype="string", name="group_id")
    lon, lat = _lonlat(frame)
    keys = (frame["dataset_id"].astype(str) + "/" + frame["source"].astype(str)).to_numpy()
    names = frame["name"].astype(str).to_numpy()
    commodities = frame["commodities"].fillna("").astype(str).to_numpy()
    finite = np.isfinite(lon) & np.isfinite(lat)
    xyz = _unit_vectors(np.where(finite, lon, 0.0), np.where(finite, lat, 90.0))
    pairs = _candidate_pairs(np.where(finite, keys, "\0no-location"), xyz, max_distance_km)
    variant_cache: dict[int, tuple[str, ...]] = {}
    code_cache: dict[str, frozenset[str]] = {}
    scored: list[tuple[float, float, float, int, int]] = []
    for i, j in pairs:
        if not (finite[i] and finite[j]):
            continue
        vi = variant_cache.setdefault(i, name_variants(names[i]))
        vj = variant_cache.setdefault(j, name_variants(names[j]))
        s, whole = name_similarity(vi, vj)
        if s < min_similarity:
            continue
        if s < 1.0:
            ci = _expanded_codes(commodities[i], code_cache)
            cj = _expanded_codes(commodities[j], code_cache)
            if ci and cj and not ci & cj:
                continue
        cos = float(np.clip(xyz[i] @ xyz[j], -1.0, 1.0))
        distance = _EARTH_RADIUS_KM * math.acos(cos)
        scored.append((s, whole, -distance, i, j))
    seen = {(min(i, j), max(i, j)) for _, _, _, i, j in scored}
    district_pairs: set[tuple[int, int]] = set()
    states = _state_codes(frame, state_codes)
    for i, j, s in _name_pairs(
        names,
        keys,
        xyz,
        finite,
        states,
        radius_km=max_distance_km,
        same_name_km=same_name_km,
        same_state_km=same_state_km,
    ):
        ci = _expanded_codes(commodities[i], code_cache)
        cj = _expanded_codes(commodities[j], code_cache)
        if ci and cj and not ci & cj:
            continue
        pair = (min(i, j), max(i, j))
        if s < 1.0:
            district_pairs.add(pair)
        if pair in seen:
            continue
        distance = _EARTH_RADIUS_KM * math.acos(float(np.clip(xyz[i] @ xyz[j], -1.0, 1.0)))
        scored.append((s, s, -distance, i, j))
    site_ids = frame["site_id"].astype(str).to_numpy()
    scored.sort(key=lambda t: (-t[0], -t[1], -t[2], site_ids[t[3]], site_ids[t[4]]))
    parent = list(range(n))
    members_sources: dict[int, set[str]] = {i: {keys[i]} for i in range(n)}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for _, _, _, i, j in scored:
        ri, rj = find(i), find(j)
        if ri == rj:
            continue
        # a district record may join the deposit it is named after even when the site
        # already holds a deposit record of the same compilation (MRDS lists both)
        if members_sources[ri] & members_sources[rj] and (min(i, j), max(i, j)) not in (
            district_pairs
        ):
            continue
        parent[rj] = ri
        members_sources[ri] |= members_sources.pop(rj)
    rank = {name: k for k, name in enumerate(source_priority)}
    sources = frame["source"].astype(str).to_numpy()
    roots = np.array([find(i) for i in range(n)])
    order = sorted(range(n), key=lambda i: (rank.get(sources[i], len(rank)), site_ids[i]))
    representative: dict[int, str] = {}
    for i in order:
        representative.setdefault(int(roots[i]), site_ids[i])
    return pd.Series(
        [representative[int(r)] for r in roots], index=frame.index, dtype="string", name="group_id"
    )


def merge_duplicates(frame: Any, **options: Any) -> Any:
    """Return one row per site: duplicates across compilations merged, all sources kept.

    Parameters
    ----------
    frame : GeoDataFrame
        Occurrences in the common schema.
    **options
        Passed to :func:`link_duplicates` (``max_distance_km``, ``min_similarity``,
        ``source_priority``).

    Returns
    -------
    GeoDataFrame
        The representative row of every site, with ``commodities`` and
        ``primary_commodities`` the union over its records, ``ore_tonnage_mt`` the largest,
        ``grades``, ``commodities_raw`` and ``deposit_type`` concatenated, and the extra
        columns ``sources`` (``dataset_id/source:record_id``, ``;``-joined) and ``n_sources``.
    """
    import geopandas as gpd

    from geomap.harmonize.commodities import join_codes, split_codes

    group = link_duplicates(frame, **options)
    label = (
        frame["dataset_id"].astype(str)
        + "/"
        + frame["source"].astype(str)
        + ":"
        + frame["record_id"].astype(str)
    )
    out = frame.copy()
    out["sources"] = label.astype("string")
    out["n_sources"] = np.ones(len(frame), dtype="int64")
    group_values = group.to_numpy()
    is_rep = group_values == frame["site_id"].astype(str).to_numpy()
    counts = group.value_counts()
    shared = counts.index[counts > 1]
    if len(shared):
        text_cols = (
            "commodities",
            "primary_commodities",
            "commodities_raw",
            "grades",
            "license",
            "deposit_type",
            "deposit_class",
            "country",
            "state",
            "name",
        )
        values = {c: out[c].fillna("").astype(str).tolist() for c in text_cols}
        tonnage = out["ore_tonnage_mt"].to_numpy(dtype=float).copy()
        labels = label.tolist()
        sources_col = out["sources"].astype(str).tolist()
        n_sources = out["n_sources"].to_numpy().copy()
        positions: dict[str, list[int]] = {}
        for pos in np.flatnonzero(group.isin(shared).to_numpy()):
            positions.setdefault(str(group_values[pos]), []).append(int(pos))
        for members in positions.values():
            rep = next(p for p in members if is_rep[p])
            for name in ("commodities", "primary_commodities"):
                values[name][rep] = join_codes(
                    c for p in members for c in split_codes(values[name][p])
                )
            for name, sep in (
                ("commodities_raw", "; "),
                ("grades", "; "),
                ("license", ";"),
                ("deposit_type", "; "),
            ):
                found = [values[name][p] for p in members if values[name][p]]
                values[name][rep] = sep.join(dict.fromkeys(found))
            for name in ("deposit_class", "country", "state", "name"):
                if not values[name][rep]:
                    filled = [values[name][p] for p in members if values[name][p]]
                    values[name][rep] = filled[0] if filled else ""
            member_t = tonnage[members]
            tonnage[rep] = np.nanmax(member_t) if np.isfinite(member_t).any() else math.nan
            sources_col[rep] = ";".join(sorted(labels[p] for p in members))
            n_sources[rep] = len(members)
        for name, column in values.items():
            out[name] = pd.array(column, dtype="string")
        out["ore_tonnage_mt"] = tonnage
        out["sources"] = pd.array(sources_col, dtype="string")
        out["n_sources"] = n_sources
    merged = out.loc[is_rep].reset_index(drop=True)
    merged = gpd.GeoDataFrame(merged, geometry=frame.geometry.name, crs=frame.crs)
    merged.attrs = dict(frame.attrs)
    return merged
