"""The commodity vocabulary: raw names from any source to normalized codes, groups and end uses.

The vocabulary itself is data (``geomap/data/commodities.yaml``); this module loads and
validates it and implements the matching rules documented at the top of that file:

1. the whole name is looked up (case-insensitive; accents, punctuation and repeated blanks
   ignored), so ``"Gold"``, ``"AU"``, ``"WO3"``, ``"spodumene"`` and ``"Sand and Gravel"`` match;
2. otherwise the name is split on ``; , / + & >`` and the word "and", and each part is looked up,
   then (when it has a parenthesis) the text outside and inside the parenthesis;
3. a part still unknown is split on blanks and hyphens and is mapped only when *every* word is
   known (``"PB ZN AG"`` -> Pb, Zn, Ag), otherwise the part is reported as unmapped.

Normalizing never raises on any string and is idempotent: every code normalizes to itself.

Examples
--------
>>> from geomap.harmonize.commodities import normalize_commodity, expand_selector, supply_chains
>>> sorted(normalize_commodity("PB ZN AG"))
['Ag', 'Pb', 'Zn']
>>> sorted(normalize_commodity("monazite"))
['REE', 'Th']
>>> sorted(expand_selector("magnets"))
['Co', 'Dy', 'Nd', 'Pr', 'Sm', 'Tb']
>>> sorted(supply_chains({"Li", "Nd"}))
['batteries', 'magnets']
"""

from __future__ import annotations

import difflib
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geomap.errors import CatalogError, UnknownNameError

__all__ = [
    "CODE_SEPARATOR",
    "CommodityMatch",
    "CommodityVocabulary",
    "commodity_name",
    "expand_selector",
    "join_codes",
    "load_vocabulary",
    "normalize_commodity",
    "split_codes",
    "supply_chains",
]

CODE_SEPARATOR = ";"
"""Separator of codes in the ``commodities`` column (``"Ag;Au;Cu"``)."""

_VOCABULARY_PATH = Path(__file__).resolve().parent.parent / "data" / "commodities.yaml"
_PART_SPLIT = re.compile(r"\s*(?:[;,/+&>|]|\band\b)\s*", re.IGNORECASE)
_WORD_SPLIT = re.compile(r"[\s\-]+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_ONLY_NUMBERS = re.compile(r"^[\d\s]*$")
_PARENTHETICAL = re.compile(r"\(.*?\)")


def _key(text: str) -> str:
    """Return the lookup key of a name: case-folded, accents removed, punctuation as blanks."""
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NON_ALNUM.sub(" ", ascii_text.casefold()).strip()


@dataclass(frozen=True)
class CommodityMatch:
    """The result of matching one raw name.

    Attributes
    ----------
    codes : frozenset of str
        The normalized commodity codes.
    unmapped : tuple of str
        Parts of the name that matched nothing (empty when fully mapped).
    no_commodity : bool
        True when the name is known to name no commodity (``"UNIDENTIFIED"``,
        a qualifier such as ``"General"``, a gangue mineral) or is empty.
    """

    codes: frozenset[str]
    unmapped: tuple[str, ...] = ()
    no_commodity: bool = False


@dataclass(frozen=True)
class CommodityVocabulary:
    """A validated commodity vocabulary (see :func:`load_vocabulary`).

    Attributes
    ----------
    names : dict
        Code -> human-readable name.
    aliases : dict
        Lookup key -> codes (every code is its own alias).
    groups : dict
        Group code (``REE``, ``LREE``, ``HREE``, ``PGE``) -> member codes.
    end_uses : dict
        End use (``magnets``, ``batteries``, ...) -> codes feeding it.
    lists : dict
        Critical-mineral list id (``usgs-2022``, ``japan``) -> codes on it.
    """

    names: dict[str, str]
    aliases: dict[str, frozenset[str]]
    groups: dict[str, frozenset[str]]
    group_aliases: dict[str, str]
    end_uses: dict[str, frozenset[str]]
    end_use_aliases: dict[str, str]
    end_use_names: dict[str, str]
    lists: dict[str, frozenset[str]]
    no_commodity: frozenset[str]
    source: str = ""
    _cache: dict[str, CommodityMatch] = field(default_factory=dict, compare=False, repr=False)

    # -- matching --------------------------------------------------------------------------------
    def match(self, raw: object) -> CommodityMatch:
        """Match one raw name; never raises (non-strings give an empty match)."""
        if not isinstance(raw, str):
            return CommodityMatch(frozenset(), (), True)
        cached = self._cache.get(raw)
        if cached is None:
            cached = self._match(raw)
            if len(self._cache) < 100_000:
                self._cache[raw] = cached
        return cached

    def _lookup(self, text: str) -> frozenset[str] | None:
        key = _key(text)
        if not key or _ONLY_NUMBERS.match(key):
            return frozenset()
        if key in self.no_commodity:
            return frozenset()
        return self.aliases.get(key)

    def _match(self, raw: str) -> CommodityMatch:
        # ';' separates codes in stored frames ("Na;S"), so a string holding it is a list and is
        # never looked up whole: ``_key`` turns ';' and '_' alike into blanks, and "Na;S" would
        # otherwise match the alias "NA_S" (salt) instead of the codes Na and S.
        whole = None if CODE_SEPARATOR in raw else self._lookup(raw)
        if whole is not None:
            return CommodityMatch(whole, (), not whole)
        codes: set[str] = set()
        unmapped: list[str] = []
        for part in _PART_SPLIT.split(raw):
            if not _key(part):
                continue
            found = self._lookup(part)
            if found is None and "(" in part:
                # "tungsten trioxide (WO3)": the parenthesis or the text around it may name it
                pieces = [_PARENTHETICAL.sub(" ", part), *re.findall(r"\(([^)]*)\)", part)]
                hits = [self._lookup(piece) for piece in pieces if _key(piece)]
                if any(hit for hit in hits):
                    found = frozenset().union(*(hit for hit in hits if hit))
            if found is None:
                words = [w for w in _WORD_SPLIT.split(part.strip(" ()[]{}.")) if _key(w)]
                per_word = [self._lookup(w) for w in words]
                if words and all(found_word is not None for found_word in per_word):
                    found = frozenset().union(*(w for w in per_word if w is not None))
            if found is None:
                unmapped.append(part.strip())
            else:
                codes.update(found)
        return CommodityMatch(frozenset(codes), tuple(unmapped), not codes and not unmapped)

    def normalize(self, raw: object) -> frozenset[str]:
        """Return the codes of a raw name (unmapped parts are ignored; see :meth:`match`)."""
        return self.match(raw).codes

    # -- selection -------------------------------------------------------------------------------
    def expand(self, selector: str) -> frozenset[str]:
        """Expand a selector (code, name, group or end use; comma-separated for several).

        Raises
        ------
        UnknownNameError
            When a selector matches no code, group or end use.
        """
        result: set[str] = set()
        for item in (s.strip() for s in str(selector).split(",")):
            if not item:
                continue
            key = _key(item)
            if key in self.group_aliases:
                group = self.group_aliases[key]
                result.update(self.groups[group])
                if group in self.names:
                    result.add(group)
                continue
            if key in self.end_use_aliases:
                result.update(self.end_uses[self.end_use_aliases[key]])
                continue
            match = self.match(item)
            if not match.codes or match.unmapped:
                known = [*self.names, *self.groups, *self.end_uses]
                close = difflib.get_close_matches(item, known, n=3) or difflib.get_close_matches(
                    key, list(self.aliases), n=3
                )
                hint = f"did you mean {', '.join(map(repr, close))}?" if close else ""
                raise UnknownNameError(
                    f"unknown commodity selector {item!r}; give a code (Nd, Li), a name (lithium), "
                    f"a group ({', '.join(self.groups)}) or an end use "
                    f"({', '.join(self.end_uses)}). {hint}".strip()
                )
            for code in match.codes:
                result.add(code)
                result.update(self.groups.get(code, ()))
        return frozenset(result)

    def supply_chains(self, codes: Iterable[str]) -> frozenset[str]:
        """Return the end uses fed by any of ``codes`` (group codes count for their members)."""
        wanted = set()
        for code in codes:
            wanted.add(code)
            wanted.update(self.groups.get(code, ()))
        return frozenset(use for use, members in self.end_uses.items() if members & wanted)

    def on_list(self, list_id: str) -> frozenset[str]:
        """Return the codes on a critical-mineral list (``"usgs-2022"`` or ``"japan"``)."""
        if list_id not in self.lists:
            raise UnknownNameError(f"unknown list {list_id!r}; use one of {sorted(self.lists)}")
        return self.lists[list_id]


def _strings(value: Any, where: str, path: Path) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(
            f"{path}: {where} must be a list of quoted strings, got {value!r} "
            "(quote YAML words such as NO, ON, YES)"
        )
    return value


def _build(raw: Any, path: Path) -> CommodityVocabulary:
    if not isinstance(raw, dict) or "commodities" not in raw:
        raise CatalogError(f"{path}: expected a mapping with a 'commodities' list")
    names: dict[str, str] = {}
    aliases: dict[str, frozenset[str]] = {}
    alias_origin: dict[str, str] = {}
    lists: dict[str, set[str]] = {k: set() for k in (raw.get("lists") or {})}
    end_uses: dict[str, set[str]] = {k: set() for k in (raw.get("end_uses") or {})}

    def add_alias(text: str, codes: frozenset[str], origin: str) -> None:
        key = _key(text)
        if not key:
            raise CatalogError(f"{path}: alias {text!r} of {origin} is empty after normalization")
        if CODE_SEPARATOR in text:
            raise CatalogError(
                f"{path}: alias {text!r} of {origin} contains {CODE_SEPARATOR!r}, which separates "
                "codes in a list and is never matched whole; remove it or split the alias"
            )
        if key in aliases and aliases[key] != codes:
            raise CatalogError(
                f"{path}: alias {text!r} of {origin} clashes with {alias_origin[key]} "
                f"(both normalize to {key!r}); keep it in one place"
            )
        aliases[key] = codes
        alias_origin[key] = origin

    for entry in raw["commodities"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
            raise CatalogError(f"{path}: commodity entry {entry!r} needs a string 'code'")
        code = entry["code"]
        if code in names:
            raise CatalogError(f"{path}: commodity code {code!r} is declared twice")
        unknown_keys = set(entry) - {"code", "name", "lists", "end_uses", "aliases"}
        if unknown_keys:
            raise CatalogError(f"{path}: commodity {code!r}: unknown keys {sorted(unknown_keys)}")
        names[code] = str(entry.get("name", code))
        for list_id in _strings(entry.get("lists"), f"{code}.lists", path):
            if list_id not in lists:
                raise CatalogError(f"{path}: {code}: unknown list {list_id!r}; declare it")
            lists[list_id].add(code)
        for use in _strings(entry.get("end_uses"), f"{code}.end_uses", path):
            if use not in end_uses:
                raise CatalogError(f"{path}: {code}: unknown end use {use!r}; declare it")
            end_uses[use].add(code)
    for code, name in names.items():
        add_alias(code, frozenset({code}), f"code {code}")
        for text in (name, _PARENTHETICAL.sub("", name)):
            if _key(text) and _key(text) not in aliases:
                add_alias(text, frozenset({code}), f"code {code}")
    for entry in raw["commodities"]:
        for alias in _strings(entry.get("aliases"), f"{entry['code']}.aliases", path):
            add_alias(alias, frozenset({entry["code"]}), f"code {entry['code']}")
    for alias, codes in (raw.get("compound_aliases") or {}).items():
        codes = _strings(codes, f"compound_aliases[{alias!r}]", path)
        missing = [c for c in codes if c not in names]
        if missing:
            raise CatalogError(f"{path}: compound alias {alias!r} names unknown codes {missing}")
        add_alias(str(alias), frozenset(codes), f"compound alias {alias!r}")

    groups: dict[str, frozenset[str]] = {}
    group_aliases: dict[str, str] = {}
    for group, spec in (raw.get("groups") or {}).items():
        members = _strings(spec.get("members"), f"groups.{group}.members", path)
        missing = [c for c in members if c not in names]
        if missing:
            raise CatalogError(f"{path}: group {group!r} names unknown codes {missing}")
        groups[group] = frozenset(members)
        for alias in [group, *_strings(spec.get("aliases"), f"groups.{group}.aliases", path)]:
            group_aliases[_key(alias)] = group

    end_use_aliases: dict[str, str] = {}
    end_use_names: dict[str, str] = {}
    for use, spec in (raw.get("end_uses") or {}).items():
        end_use_names[use] = str(spec.get("name", use))
        for alias in [use, *_strings(spec.get("aliases"), f"end_uses.{use}.aliases", path)]:
            end_use_aliases[_key(alias)] = use

    no_commodity: set[str] = set()
    for kind, values in (raw.get("no_commodity") or {}).items():
        for value in _strings(values, f"no_commodity.{kind}", path):
            key = _key(value)
            if key in aliases:
                raise CatalogError(
                    f"{path}: {value!r} is listed under no_commodity.{kind} and is also an alias "
                    f"of {alias_origin[key]}; keep it in one place"
                )
            no_commodity.add(key)
    return CommodityVocabulary(
        names=names,
        aliases=aliases,
        groups=groups,
        group_aliases=group_aliases,
        end_uses={k: frozenset(v) for k, v in end_uses.items()},
        end_use_aliases=end_use_aliases,
        end_use_names=end_use_names,
        lists={k: frozenset(v) for k, v in lists.items()},
        no_commodity=frozenset(no_commodity),
        source=str(path),
    )


def load_vocabulary(path: str | Path | None = None) -> CommodityVocabulary:
    """Load and validate a commodity vocabulary (default: the bundled ``commodities.yaml``).

    Parameters
    ----------
    path : str or Path, optional
        A vocabulary YAML file with the layout of the bundled one.

    Returns
    -------
    CommodityVocabulary

    Raises
    ------
    CatalogError
        When the file is not valid YAML, an alias maps to two different codes, or a list,
        group or end use names an unknown code.
    """
    resolved = Path(path).resolve() if path is not None else _VOCABULARY_PATH
    mtime = resolved.stat().st_mtime_ns if resolved.exists() else 0
    return _load_cached(resolved, mtime)


@functools.lru_cache(maxsize=4)
def _load_cached(path: Path, _mtime: int) -> CommodityVocabulary:
    from geomap._yaml import load_yaml

    return _build(load_yaml(path, CatalogError), path)


def normalize_commodity(
    raw: object, *, vocabulary: CommodityVocabulary | None = None
) -> frozenset[str]:
    """Return the normalized commodity codes of a raw name (never raises).

    Parameters
    ----------
    raw : object
        A name as found in a source (``"Gold"``, ``"PB ZN AG"``, ``"WO3"``); anything that is
        not a string gives an empty set.
    vocabulary : CommodityVocabulary, optional
        Defaults to the bundled vocabulary.

    Returns
    -------
    frozenset of str
        The codes; empty when nothing matched (use ``vocabulary.match`` to see what did not).
    """
    return (vocabulary or load_vocabulary()).normalize(raw)


def expand_selector(
    selector: str, *, vocabulary: CommodityVocabulary | None = None
) -> frozenset[str]:
    """Expand a code, name, group (``REE``, ``HREE``, ``PGE``) or end use (``magnets``) to codes.

    Several selectors may be given separated by commas (``"Li,Co"``).

    Raises
    ------
    UnknownNameError
        When the selector matches nothing; the message suggests close names.
    """
    return (vocabulary or load_vocabulary()).expand(selector)


def supply_chains(
    codes: Iterable[str], *, vocabulary: CommodityVocabulary | None = None
) -> frozenset[str]:
    """Return the end uses (supply chains) fed by any of ``codes``."""
    return (vocabulary or load_vocabulary()).supply_chains(codes)


def commodity_name(code: str, *, vocabulary: CommodityVocabulary | None = None) -> str:
    """Return the human-readable name of a code (``"Nd"`` -> ``"neodymium"``)."""
    vocab = vocabulary or load_vocabulary()
    if code not in vocab.names:
        raise UnknownNameError(f"unknown commodity code {code!r}; see geomap/data/commodities.yaml")
    return vocab.names[code]


def join_codes(codes: Iterable[str]) -> str:
    """Join codes into the sorted ``;``-separated string stored in frames (``"Ag;Au"``)."""
    return CODE_SEPARATOR.join(sorted(set(codes)))


def split_codes(value: object) -> list[str]:
    """Split a stored ``commodities`` value back into a list of codes (empty for missing)."""
    if not isinstance(value, str) or not value:
        return []
    return [code for code in value.split(CODE_SEPARATOR) if code]
