"""Cutting large targets into survey-sized pieces, whatever the cell size.

A target is a connected group of selected cells; only a target larger than the survey size
is cut, and it is cut into compact pieces of nearly equal size rather than along a fixed
tile grid (which left one-cell slivers at every edge):

1. **The piece size scales with the cell.**  A piece holds at most
   ``max(floor(max_target_km2 / cell_km2), MIN_PIECE_CELLS)`` cells, i.e. the cap is
   ``max(max_target_km2, MIN_PIECE_CELLS × cell area)``: with 10 km cells (100 km²) and the
   300 km² default a piece is up to 2 × 2 cells (400 km²), never a single cell; with 5 km
   cells up to 12 cells (300 km²).  A grid too coarse for the survey size cannot draw
   survey-sized targets, and single cells are not targets.
2. **Recursive bisection.**  A target of ``n`` cells becomes ``k = ceil(n / max_cells)``
   pieces: its cells are cut across their longer extent at the cell count that gives each
   side its share of the ``k`` pieces, and each side again, until every piece has at most
   ``max_cells`` cells (recursive coordinate bisection: pieces of ``n / k`` cells give or
   take one, compact, nearly square).
3. **No fragments.**  Where a cut leaves a piece in several parts (a curved target), each
   part but the largest joins the neighbouring piece of the same target it touches most,
   so every piece is one connected area (it may then exceed the cap by those few cells).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

__all__ = ["MIN_PIECE_CELLS", "piece_cells", "split_into_pieces"]

MIN_PIECE_CELLS = 4
"""A target is never cut into pieces smaller than this many cells (2 × 2)."""


def piece_cells(max_target_km2: float, cell_km2: float) -> int:
    """Return the most cells one piece may hold (rule 1 of the module doc).

    >>> piece_cells(300, 100), piece_cells(300, 25), piece_cells(300, 625)
    (4, 12, 4)
    """
    return max(int(max_target_km2 // cell_km2), MIN_PIECE_CELLS)


def _bisect(rows: np.ndarray, cols: np.ndarray, k: int, max_cells: int) -> list[np.ndarray]:
    """Index groups of the cells ``(rows, cols)``: ``k`` compact pieces of <= max_cells."""
    pending = [(np.arange(rows.size), k)]
    done: list[np.ndarray] = []
    while pending:
        members, parts = pending.pop()
        if parts <= 1:
            done.append(members)
            continue
        r, c = rows[members], cols[members]
        across_rows = np.ptp(r) >= np.ptp(c)
        primary, secondary = (r, c) if across_rows else (c, r)
        order = members[np.lexsort((secondary, primary))]
        left_parts = parts // 2
        right_parts = parts - left_parts
        n = members.size
        n_left = round(n * left_parts / parts)
        n_left = max(n - max_cells * right_parts, min(max_cells * left_parts, n_left))
        pending.append((order[:n_left], left_parts))
        pending.append((order[n_left:], right_parts))
    return done


def _join_fragments(piece: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Give every detached part of a piece to the touching piece of the same target."""
    structure = np.ones((3, 3), dtype=bool)
    for label in np.unique(piece[piece > 0]):
        own = piece == label
        parts, n_parts = ndimage.label(own, structure=structure)
        if n_parts < 2:
            continue
        sizes = np.bincount(parts.ravel())[1:]
        for part in np.argsort(sizes)[::-1][1:] + 1:
            cells = parts == part
            ring = ndimage.binary_dilation(cells, structure=structure) & ~cells
            ring &= target & (piece > 0) & (piece != label)
            if ring.any():
                values, counts = np.unique(piece[ring], return_counts=True)
                piece[cells] = values[np.argmax(counts)]
    return piece


def split_into_pieces(labels: np.ndarray, max_cells: int) -> tuple[np.ndarray, dict[int, int]]:
    """Cut every labelled group of more than ``max_cells`` cells into compact pieces.

    Parameters
    ----------
    labels : numpy.ndarray of int
        Connected targets (0 = background), as :func:`scipy.ndimage.label` numbers them.
    max_cells : int
        Most cells per piece (see :func:`piece_cells`).

    Returns
    -------
    labels, parent
        The new labels (1-based, numbered in raster order of their first cell) and, for
        each new label, the old label it came from.  Groups of at most ``max_cells`` cells
        keep their cells.

    Examples
    --------
    >>> lab = np.zeros((2, 8), dtype=int)
    >>> lab[:, :7] = 1  # 14 cells, at most 4 a piece: four pieces of 3-4 cells
    >>> new, parent = split_into_pieces(lab, 4)
    >>> np.bincount(new.ravel())[1:].tolist(), sorted(set(parent.values()))
    ([4, 3, 4, 3], [1])
    """
    max_cells = max(int(max_cells), 1)
    counts = np.bincount(labels.ravel())
    big = np.flatnonzero(counts > max_cells)
    big = big[big > 0]
    piece = np.where(labels > 0, labels.astype(np.int64), 0)
    next_label = int(labels.max(initial=0)) + 1
    if big.size:
        objects = ndimage.find_objects(labels.astype(np.int64))
        for label in big:
            window = objects[label - 1]
            assert window is not None
            target = labels[window] == label
            rows, cols = np.nonzero(target)
            k = math.ceil(rows.size / max_cells)
            local = np.zeros(target.shape, dtype=np.int64)
            for members in _bisect(rows, cols, k, max_cells):
                local[rows[members], cols[members]] = next_label
                next_label += 1
            local = _join_fragments(local, target)
            view = piece[window]
            view[target] = local[target]
            piece[window] = view
    return renumber_pieces(piece, labels)


def renumber_pieces(keys: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Renumber pieces 1, 2, … in raster order of their first cell; map each to its label.

    A piece is the set of cells sharing one positive value of ``keys`` (0 = no piece);
    ``parent`` gives, per new label, the ``labels`` value of its cells.

    >>> keys = np.array([[7, 7, 3], [0, 3, 3]])
    >>> new, parent = renumber_pieces(keys, np.array([[1, 1, 1], [0, 1, 1]]))
    >>> new.tolist(), sorted(parent.items())
    ([[1, 1, 2], [0, 2, 2]], [(1, 1), (2, 1)])
    """
    flat = keys.ravel()
    valid = np.flatnonzero(flat > 0)
    _, first, inverse = np.unique(flat[valid], return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(valid[first]))
    new = np.zeros(flat.size, dtype=np.int64)
    new[valid] = order[inverse] + 1
    new_labels = new.reshape(keys.shape)
    parent = {int(new_labels.ravel()[valid[f]]): int(labels.ravel()[valid[f]]) for f in first}
    return new_labels, parent
