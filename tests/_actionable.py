"""Check that an error message is actionable: it names the bad value AND says how to fix it.

Every bad-input and fault test of the reliability suite (``tests/test_bad_input.py``,
``tests/test_security.py``, ``tests/test_faults.py``) passes the caught error through
:func:`assert_actionable`.
"""

from __future__ import annotations

import re
from typing import Any

# Imperative verbs (and a few phrases) that tell the user what to do next.
FIX_WORDS = (
    "add",
    "bring",
    "check",
    "choose",
    "correct",
    "declare",
    "delete",
    "disable",
    "download",
    "fetch",
    "fix",
    "free",
    "install",
    "pass",
    "pick",
    "put",
    "raise",
    "re-create",
    "re-fetch",
    "read",
    "remove",
    "rename",
    "replace",
    "reproject",
    "resample",
    "run",
    "save",
    "select",
    "set",
    "supply",
    "swap",
    "use",
    "warp",
    "write",
)
_FIX = re.compile(r"\b(" + "|".join(re.escape(w) for w in FIX_WORDS) + r")\b", re.IGNORECASE)


def fix_hint(message: str) -> str | None:
    """Return the first fix word found in ``message`` (``None`` if there is none)."""
    match = _FIX.search(message)
    return match.group(1).lower() if match else None


def assert_actionable(error: BaseException | Any, *values: Any) -> str:
    """Assert that ``error``'s message names every one of ``values`` and gives a fix.

    Parameters
    ----------
    error : exception or ``pytest.ExceptionInfo``
        The error raised.
    *values
        What the message must name: a file (its name is enough), a record id, a
        CRS, a key, a number... compared as text.

    Returns
    -------
    str
        The message, for further checks.
    """
    exc = getattr(error, "value", error)
    message = str(exc)
    assert message, f"{type(exc).__name__} has an empty message"
    for value in values:
        text = getattr(value, "name", None) if hasattr(value, "parts") else None
        text = text or str(value)
        assert text in message, f"the message does not name {text!r}: {message!r}"
    assert fix_hint(message), f"the message does not say how to fix it: {message!r}"
    return message
