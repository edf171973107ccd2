"""Large rasters block by block: a few Dask blocks at a time, delivered to the caller.

Some results need every cell of a grid but not all at once: a table of sampled cells, target
polygons, a GeoTIFF written by one process, a summary statistic.  :func:`iter_blocks` computes
the blocks of one or several arrays that share a chunk layout, ``blocks_per_step`` at a time on
the active Dask scheduler (the threaded one, or a ``distributed`` cluster when a client is the
default), and yields them in row-major block order.  Memory holds only the blocks in flight,
whatever the size of the grid; NumPy arrays come back as one block.

>>> import dask.array as da
>>> values = da.arange(12, chunks=2).reshape(3, 4).rechunk((2, 2))
>>> [(b.index, int(b.values[0].sum())) for b in iter_blocks([values])]
[((0, 0), 10), ((0, 1), 18), ((1, 0), 17), ((1, 1), 21)]
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from geomap.errors import GridMismatchError

__all__ = ["Block", "block_layout", "default_parallelism", "is_lazy", "iter_blocks"]

_STEP_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Block:
    """One block of a grid: its position, row and column slices, and each array's values."""

    index: tuple[int, int]
    rows: slice
    cols: slice
    values: list[np.ndarray]

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)`` of the block."""
        return (self.rows.stop - self.rows.start, self.cols.stop - self.cols.start)


def is_lazy(data: Any) -> bool:
    """Whether ``data`` (an array, DataArray or Dataset) is Dask-backed."""
    if hasattr(data, "data_vars"):
        return any(is_lazy(v) for v in data.data_vars.values())
    inner = getattr(data, "data", data)
    return hasattr(inner, "dask") and hasattr(inner, "chunks")


def _raw(data: Any) -> Any:
    return data.data if hasattr(data, "dims") else data


def block_layout(arrays: Sequence[Any]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return the row and column chunk sizes shared by ``arrays`` (2-D, one shape).

    The first Dask-backed array sets the layout; a grid of NumPy arrays is one block.

    Raises
    ------
    GridMismatchError
        The arrays do not all have the same 2-D shape.
    """
    raws = [_raw(a) for a in arrays]
    shapes = {tuple(r.shape) for r in raws}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise GridMismatchError(
            f"block-wise reading needs 2-D arrays of one shape, got shapes {sorted(shapes)}; "
            "put every layer on the same grid first"
        )
    for raw in raws:
        if hasattr(raw, "dask"):
            return tuple(raw.chunks[0]), tuple(raw.chunks[1])
    ny, nx = next(iter(shapes))
    return (ny,), (nx,)


def default_parallelism() -> int:
    """Blocks worth computing at once: the threads of the active cluster, else the CPU count."""
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        client = None
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    import dask

    workers = dask.config.get("num_workers", None)
    return max(1, int(workers or os.cpu_count() or 1))


def _slices(sizes: tuple[int, ...]) -> list[slice]:
    edges = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    return [slice(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def _compute(pending: list[Any]) -> tuple[Any, ...]:
    """``dask.compute``, leaving the warning filters as they were.

    Library code run by Dask's worker threads enters and leaves ``warnings.catch_warnings``
    (e.g. to silence a RuntimeWarning); before Python 3.14 that is not thread-safe, and two
    threads interleaving can leave an "ignore everything" filter behind, silencing every later
    warning of the session (such as a model's data warnings).
    """
    import warnings

    import dask

    with warnings.catch_warnings():  # restores filters and the display hook on exit
        # GDAL's thread-local error state makes rasterio report "no geotransform" for the
        # in-memory rasters it burns blocks into when threads interleave; every block here
        # is burnt with its transform given explicitly
        warnings.filterwarnings("ignore", message="Dataset has no geotransform")
        return tuple(dask.compute(*pending))


def iter_blocks(
    arrays: Sequence[Any],
    *,
    blocks_per_step: int | None = None,
    progress: str | None = None,
) -> Iterator[Block]:
    """Yield the blocks of ``arrays`` (2-D, one shape) in row-major block order.

    Parameters
    ----------
    arrays : sequence of array or DataArray
        NumPy- or Dask-backed; Dask arrays are rechunked to the first one's layout.
    blocks_per_step : int, optional
        Block positions computed together: memory holds about that many blocks of every
        array.  By default one per thread of the scheduler (:func:`default_parallelism`),
        or as many as fit in 16 MiB when blocks are small (fewer round trips to a cluster).
    progress : str, optional
        Show a progress bar over the blocks with this label.

    Yields
    ------
    Block
        ``index`` (block row and column), ``rows``, ``cols`` (slices into the grid) and
        ``values`` (one NumPy array per input).
    """
    import dask
    from tqdm import tqdm

    raws = [_raw(a) for a in arrays]
    row_sizes, col_sizes = block_layout(raws)
    lazy = [hasattr(r, "dask") for r in raws]
    # one graph optimisation of all arrays together (shared work keeps shared keys), then
    # each step computes (culls) only its blocks
    chunked = [
        r.rechunk((row_sizes, col_sizes)) for r, is_d in zip(raws, lazy, strict=True) if is_d
    ]
    optimized = iter(dask.optimize(*chunked)) if chunked else iter(())
    parts = [
        next(optimized).to_delayed(optimize_graph=False) if is_d else r
        for r, is_d in zip(raws, lazy, strict=True)
    ]
    positions = [
        (i, j, rs, cs)
        for i, rs in enumerate(_slices(row_sizes))
        for j, cs in enumerate(_slices(col_sizes))
    ]
    if blocks_per_step is None:  # at least one block per thread; more while they are small
        position_bytes = sum(
            np.dtype(r.dtype).itemsize * max(row_sizes) * max(col_sizes) for r in raws
        )
        blocks_per_step = max(default_parallelism(), _STEP_BYTES // max(position_bytes, 1))
    step = max(1, blocks_per_step)
    with tqdm(total=len(positions), desc=progress, unit="block", disable=not progress) as bar:
        for start in range(0, len(positions), step):
            batch = positions[start : start + step]
            pending = [
                part[i, j] if is_d else part[rs, cs]
                for (i, j, rs, cs) in batch
                for part, is_d in zip(parts, lazy, strict=True)
            ]
            computed = _compute(pending) if any(lazy) else pending
            n = len(raws)
            for k, (i, j, rs, cs) in enumerate(batch):
                yield Block((i, j), rs, cs, [np.asarray(v) for v in computed[k * n : (k + 1) * n]])
                bar.update(1)
