"""Safe YAML loading shared by the catalog and the recipes.

Only plain YAML is accepted: Python object tags (``!!python/object``) are
rejected by ``yaml.SafeLoader`` and never executed, a key repeated in the
same mapping is an error rather than a silent overwrite, and anchors/aliases
(``&name`` / ``*name``) are refused, because nested aliases expand
exponentially ("billion laughs") in whatever walks the document afterwards.

libyaml's C parser (``yaml.CSafeLoader``) is used where PyYAML has it, about ten times
faster than the pure-Python one; documents it rejects, or that hold an alias, are parsed
again by the Python loader so that every error reads the same.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from geomap.errors import GeomapError

MAX_BYTES = 16 * 2**20
"""Largest YAML file read (a catalog or a recipe is a few hundred KiB at most)."""

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted (the catalog and recipes use fewer than 10)."""


def _read_text(path: Path, error: type[GeomapError]) -> str:
    """Read a regular file of at most MAX_BYTES as UTF-8, refusing anything else clearly.

    Folders, FIFOs, devices (``/dev/zero``) and sockets are refused before reading (a FIFO
    would block for ever, a device never ends); the file is opened non-blocking and checked
    again on the open handle, so it cannot be swapped for one in between.
    """
    if not str(path).strip() or str(path) == ".":
        raise error(f"{str(path)!r} is not a file name; pass a recipe name or a YAML file path")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"{path}: file not found; check the path or the environment variable") from None
    except IsADirectoryError:
        raise error(f"{path} is a folder, not a YAML file; pass the path of a .yaml file") from None
    except PermissionError:
        raise error(
            f"{path}: permission denied; check the file's permissions (chmod u+r) or copy it "
            "somewhere readable"
        ) from None
    except OSError as exc:
        raise error(f"{path}: cannot be opened ({exc.strerror}); check the path") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise error(f"{path} is a folder, not a YAML file; pass the path of a .yaml file")
        raise error(
            f"{path} is not a regular file (a pipe, device or socket); save the YAML to "
            "a file and pass its path"
        )
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > MAX_BYTES:
            raise error(
                f"{path} has {info.st_size:,} bytes, more than the {MAX_BYTES:,} a YAML file "
                "may have; check that this is the right file"
            )
        try:
            data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise error(f"{path}: cannot be read ({exc.strerror}); check the file") from None
    if len(data) > MAX_BYTES:
        raise error(f"{path} grew past {MAX_BYTES:,} bytes while read; check the file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc}); save the file as UTF-8") from None


class _StrictSafeLoader(yaml.SafeLoader):
    """A ``SafeLoader`` that refuses duplicate mapping keys and aliases."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        depth = getattr(self, "_geomap_depth", 0)
        if depth >= MAX_DEPTH:
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"nested more than {MAX_DEPTH} levels deep; YAML this deep is refused",
                event.start_mark,
            )
        self._geomap_depth = depth + 1
        try:
            return self._compose_checked(parent, index)
        finally:
            self._geomap_depth = depth

    def _compose_checked(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"found alias *{event.anchor}; YAML anchors and aliases are not allowed",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def _construct_mapping(loader: _StrictSafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}; each key may appear once in a mapping",
                key_node.start_mark,
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_StrictSafeLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)

_CSafeLoader: type[Any] | None = getattr(yaml, "CSafeLoader", None)

if _CSafeLoader is not None:

    class _StrictCSafeLoader(_CSafeLoader):  # type: ignore[misc, valid-type]
        """libyaml's parser and composer (C) with the strict mapping constructor."""

    _StrictCSafeLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
        _construct_mapping,
    )


def _shares_a_node(root: yaml.Node) -> bool:
    """Whether a composed document reuses a node: what an alias (``*name``) composes to."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            return True
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append(key)
                stack.append(value)
    return False


def _load_fast(text: str) -> tuple[bool, Any]:
    """Parse with libyaml when available; ``(False, None)`` sends the caller to the Python loader.

    The Python loader is used for any document libyaml finds wrong or that holds an alias, so
    error messages (line, column, the alias's name) are the same whichever parser is present.
    """
    if _CSafeLoader is None:
        return False, None
    loader = _StrictCSafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return True, None
        if _shares_a_node(node):
            return False, None
        return True, loader.construct_document(node)
    except (yaml.YAMLError, RecursionError):  # the Python loader says what and where
        return False, None
    finally:
        loader.dispose()


def load_yaml(path: Path, error: type[GeomapError]) -> Any:
    """Load one YAML document safely.

    Parameters
    ----------
    path : Path
        The YAML file.
    error : type of GeomapError
        The error class raised (with the file name and the line) when the
        file is missing or is not valid, safe YAML.

    Returns
    -------
    object
        The parsed document (plain dicts, lists, strings and numbers).
    """
    text = _read_text(Path(path), error)
    parsed, document = _load_fast(text)
    if parsed:
        return document
    try:
        return yaml.load(text, Loader=_StrictSafeLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise error(
            f"{path}: nested too deeply to read; write the document with fewer nested levels"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        detail = f"{context}: {problem}" if context else problem
        if "tag:yaml.org,2002:python/" in detail:
            detail = "Python object tags (!!python/...) are not allowed and were not executed"
            raise error(f"{path}: unsafe YAML{where}: {detail}; remove the tag") from None
        if "anchors and aliases are not allowed" in detail:
            raise error(
                f"{path}: unsafe YAML{where}: {detail} (they can expand exponentially); "
                "write the values out in full"
            ) from None
        raise error(f"{path}: malformed YAML{where}: {detail}; fix the syntax there") from None
