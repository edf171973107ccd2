"""Offline web assets: Leaflet and plugin JavaScript/CSS inlined from an installed package.

folium and branca reference their JavaScript and CSS by CDN URL.  The ``folium-offline``
package (a PyPI dependency) ships the same files, keyed by those URLs, as package data.
:func:`inline_assets` replaces every ``<script src=...>`` and stylesheet ``<link href=...>`` of a
rendered page with the file's content, so the saved HTML needs no network.  A URL the package
does not ship is an error, never a silent online dependency.
"""

from __future__ import annotations

import functools
import re

from geomap.errors import ExportError

__all__ = ["asset_text", "inline_assets", "remote_references"]

_SCRIPT_TAG = re.compile(
    r"""<script\b[^>]*?\bsrc\s*=\s*(["'])(?P<url>[^"']+)\1[^>]*>\s*</script>""", re.IGNORECASE
)
_LINK_TAG = re.compile(r"""<link\b[^>]*?>""", re.IGNORECASE)
_HREF = re.compile(r"""\bhref\s*=\s*(["'])(?P<url>[^"']+)\1""", re.IGNORECASE)
_STYLESHEET = re.compile(r"""\brel\s*=\s*(["'])stylesheet\1""", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(?P<target>"[^"]*"|'[^']*'|[^)'"]*)\s*\)""", re.IGNORECASE)
_VERSION_SEGMENT = re.compile(r"^v?\d+(\.\d+)*([.-][0-9A-Za-z]+)?$")


@functools.cache
def _packaged_assets() -> dict[str, str]:
    try:
        from offlinefolium import elements
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ExportError(
            "the offline map assets need the 'folium-offline' package; install it with "
            "`pip install folium-offline`, or save the map with offline=False"
        ) from exc
    assets = elements._res
    return {str(url): str(text) for url, text in assets.items()}


def _version_free_keys(url: str) -> list[str]:
    """Keys naming the same file in any version on any CDN, most specific first.

    ``https://unpkg.com/leaflet@1.9.9/dist/leaflet.js`` and
    ``https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js`` share ``leaflet/leaflet.js``.
    """
    path = url.split("://", 1)[-1].split("?", 1)[0]
    parts = [p for p in path.split("/")[1:] if p]  # drop the host
    if not parts:
        return []
    filename = parts[-1].lower()
    package = None
    for i, part in enumerate(parts[:-1]):
        if "@" in part:
            package = part.split("@", 1)[0] or part  # "@scope/name@1" keeps the scope
            break
        if _VERSION_SEGMENT.match(part) and i > 0:
            package = parts[i - 1]
            break
    keys = [f"{package.lower()}/{filename}"] if package else []
    keys.append(filename)
    return keys


@functools.cache
def _version_free_index() -> dict[str, str | None]:
    index: dict[str, str | None] = {}
    for url in sorted(_packaged_assets()):
        for key in _version_free_keys(url):
            # a key shared by different files is ambiguous: never guess between them
            if key in index and index[key] != url:
                index[key] = None
            else:
                index.setdefault(key, url)
    return index


def asset_text(url: str) -> str:
    """Return the packaged content of the web asset folium knows by ``url``.

    An exact URL is preferred; otherwise the same file of another version (the same
    path with version segments removed) is used.

    Raises
    ------
    ExportError
        The asset is not shipped by the installed offline package.
    """
    assets = _packaged_assets()
    if url.startswith("//"):
        url = "https:" + url
    if url in assets:
        return assets[url]
    index = _version_free_index()
    for key in _version_free_keys(url):
        alias = index.get(key)
        if alias is not None:
            return assets[alias]
    raise ExportError(
        f"the map needs the web asset {url!r}, which the installed 'folium-offline' package "
        "does not ship; remove the element that needs it or save with offline=False"
    )


def _script(text: str) -> str:
    return (
        "<script>\n" + re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE) + "\n</script>"
    )


def _without_relative_urls(css: str) -> str:
    """Drop ``url(...)`` references to files next to the CDN copy (absent offline).

    The packaged stylesheets embed their images as ``data:`` URIs except for a few icons
    (e.g. the overview map's toggle) that geomap's own CSS replaces.
    """

    def replace(match: re.Match[str]) -> str:
        target = match.group("target").strip().strip("'\"")
        if target.startswith(("data:", "#")):
            return match.group(0)
        return "none"

    return _CSS_URL.sub(replace, css)


def _style(text: str) -> str:
    text = _without_relative_urls(text)
    return "<style>\n" + re.sub(r"</(style)", r"<\\/\1", text, flags=re.IGNORECASE) + "\n</style>"


def _is_remote(url: str) -> bool:
    return url.startswith(("http://", "https://", "//"))


def inline_assets(html: str) -> str:
    """Replace remote ``<script src>`` and stylesheet ``<link>`` tags by their inlined content.

    Parameters
    ----------
    html : str
        A rendered page.

    Returns
    -------
    str
        The page with every remote script and stylesheet inlined (each once).

    Raises
    ------
    ExportError
        A referenced asset is not shipped by the offline package.
    """
    seen: set[str] = set()

    def script(match: re.Match[str]) -> str:
        url = match.group("url")
        if not _is_remote(url):
            return match.group(0)
        if url in seen:
            return ""
        seen.add(url)
        return _script(asset_text(url))

    def link(match: re.Match[str]) -> str:
        tag = match.group(0)
        href = _HREF.search(tag)
        if href is None or not _STYLESHEET.search(tag) or not _is_remote(href.group("url")):
            return tag
        url = href.group("url")
        if url in seen:
            return ""
        seen.add(url)
        return _style(asset_text(url))

    return _LINK_TAG.sub(link, _SCRIPT_TAG.sub(script, html))


def remote_references(html: str) -> list[str]:
    """List the remote URLs a page would load as scripts or stylesheets (for checks)."""
    urls = [m.group("url") for m in _SCRIPT_TAG.finditer(html) if _is_remote(m.group("url"))]
    for tag in _LINK_TAG.finditer(html):
        href = _HREF.search(tag.group(0))
        if href and _STYLESHEET.search(tag.group(0)) and _is_remote(href.group("url")):
            urls.append(href.group("url"))
    return urls
