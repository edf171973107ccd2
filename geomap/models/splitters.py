"""Spatial splits of a table of cells: square blocks in metres, whole blocks to folds.

Spatial data are autocorrelated: a random train/test split of cells puts test cells beside
training cells and reports the model's memory, not its power to predict.
:func:`block_labels` labels cells by square block; :class:`SpatialBlockKFold` (a
scikit-learn splitter) assigns whole blocks to folds, balancing training occurrences between
folds, optionally dropping training cells within ``buffer_m`` of the test blocks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.model_selection import BaseCrossValidator

from geomap.errors import ModelError
from geomap.models._base import ModelWarning, table_coords, warn

if TYPE_CHECKING:
    pass

__all__ = ["SpatialBlockKFold", "block_labels"]


def block_labels(coords: Any, block_size_m: float) -> np.ndarray:
    """Label each cell with the square block (side ``block_size_m`` metres) it falls in.

    Blocks are aligned on the lower-left corner of the cells' bounding box.

    Parameters
    ----------
    coords : array-like of shape (n, 2)
        Cell-centre x, y in metres (projected CRS).
    block_size_m : float
        Block side in metres (> 0).

    Returns
    -------
    numpy.ndarray of int64
        Block id per cell (0 .. n_blocks - 1).
    """
    if not (block_size_m > 0 and math.isfinite(block_size_m)):
        raise ModelError(f"block_size_m={block_size_m!r} must be a positive number of metres")
    xy = np.asarray(coords, dtype="float64")
    ix = np.floor((xy[:, 0] - xy[:, 0].min()) / block_size_m).astype(np.int64)
    iy = np.floor((xy[:, 1] - xy[:, 1].min()) / block_size_m).astype(np.int64)
    key = ix * (int(iy.max(initial=0)) + 1) + iy
    return np.unique(key, return_inverse=True)[1].astype(np.int64)


class SpatialBlockKFold(BaseCrossValidator):
    """K-fold cross-validation over square spatial blocks (never random cells).

    Parameters
    ----------
    block_size_m : float
        Block side in metres.  Choose it larger than the range over which evidence and
        occurrences are spatially correlated (tens of kilometres for regional layers).
    n_splits : int, default 5
        Folds.  Reduced (with a warning) when fewer blocks hold occurrences.
    buffer_m : float, default 0
        Training cells closer than this to any test cell are left out of that fold's
        training set (a dead zone against leakage across block edges).
    random_state : int, default 0
        Seed for the order in which blocks are dealt to folds.

    Notes
    -----
    Blocks holding occurrences are dealt first, each to the fold with the fewest
    occurrences so far, then the others to the fold with the fewest cells, so every fold
    is tested on occurrences.  Coordinates come from ``coords=`` or from a ``("y", "x")``
    table index.
    """

    def __init__(
        self,
        *,
        block_size_m: float,
        n_splits: int = 5,
        buffer_m: float = 0.0,
        random_state: int = 0,
    ) -> None:
        self.block_size_m = block_size_m
        self.n_splits = n_splits
        self.buffer_m = buffer_m
        self.random_state = random_state

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Return the requested number of folds."""
        return int(self.n_splits)

    def assign_folds(self, coords: Any, y: Any = None) -> np.ndarray:
        """Fold number per cell (0 .. n_folds - 1), whole blocks per fold."""
        if int(self.n_splits) < 2:
            raise ModelError(f"n_splits={self.n_splits} must be at least 2")
        if self.buffer_m < 0:
            raise ModelError(f"buffer_m={self.buffer_m} must be >= 0 metres")
        blocks = block_labels(coords, float(self.block_size_m))
        n_blocks = int(blocks.max(initial=-1)) + 1
        labels = np.zeros(blocks.size) if y is None else (np.asarray(y) > 0).astype(float)
        cells = np.bincount(blocks, minlength=n_blocks).astype(float)
        positives = np.bincount(blocks, weights=labels, minlength=n_blocks)
        n_pos_blocks = int((positives > 0).sum())
        n_splits = int(self.n_splits)
        if y is not None and n_pos_blocks < n_splits:
            if n_pos_blocks < 2:
                raise ModelError(
                    f"only {n_pos_blocks} block of {self.block_size_m:g} m holds training "
                    "occurrences; spatial CV needs at least 2 — use smaller blocks "
                    "(block_size_m) or a region with more occurrences"
                )
            warn(
                f"only {n_pos_blocks} blocks of {self.block_size_m:g} m hold training "
                f"occurrences; using {n_pos_blocks} folds instead of {n_splits}",
                ModelWarning,
            )
            n_splits = n_pos_blocks
        if n_blocks < n_splits:
            raise ModelError(
                f"{n_blocks} blocks of {self.block_size_m:g} m cannot make {n_splits} folds; "
                "use smaller blocks or fewer folds"
            )
        rng = np.random.default_rng(self.random_state)
        order = rng.permutation(n_blocks)
        order = order[np.argsort(-positives[order], kind="stable")]
        fold_pos = np.zeros(n_splits)
        fold_cells = np.zeros(n_splits)
        fold_of_block = np.empty(n_blocks, dtype=np.int64)
        for b in order:
            if positives[b] > 0:
                f = int(np.lexsort((fold_cells, fold_pos))[0])
            else:
                f = int(np.argmin(fold_cells))
            fold_of_block[b] = f
            fold_pos[f] += positives[b]
            fold_cells[f] += cells[b]
        return fold_of_block[blocks]

    def split(
        self, X: Any, y: Any = None, groups: Any = None, *, coords: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_index, test_index)`` per fold.

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            The table of cells (its ``("y", "x")`` index gives the coordinates).
        y : array-like, optional
            0/1 labels, used to spread occurrences over the folds.
        groups : ignored
        coords : array-like of shape (n, 2), optional
            Cell x, y in metres (overrides the index).
        """
        xy = table_coords(X, coords)
        folds = self.assign_folds(xy, y)
        for f in range(int(folds.max()) + 1):
            test = np.flatnonzero(folds == f)
            train = np.flatnonzero(folds != f)
            if self.buffer_m > 0 and train.size and test.size:
                from scipy.spatial import cKDTree

                distance, _ = cKDTree(xy[test]).query(
                    xy[train], k=1, distance_upper_bound=float(self.buffer_m)
                )
                train = train[~np.isfinite(distance) | (distance >= self.buffer_m)]
            yield train, test

    def _iter_test_indices(self, X: Any = None, y: Any = None, groups: Any = None) -> Iterator[Any]:
        for _, test in self.split(X, y, groups):
            yield test
