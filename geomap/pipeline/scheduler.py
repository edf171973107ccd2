"""Choosing where Dask computes: the threaded scheduler, a local cluster, or a remote one.

``scheduler=None`` keeps Dask's default threaded scheduler.  ``"local"`` or ``"local:N"``
starts a :class:`distributed.LocalCluster` with N single-threaded worker processes for the
duration of the build; any other value is the address of a running scheduler
(``tcp://host:8786``), e.g. one started by dask-gateway, dask-kubernetes or Coiled.
geomap adds no distribution layer of its own: the same task graphs run on any of them.
An address that does not answer within :data:`CONNECT_TIMEOUT_S` seconds is a
:class:`~geomap.errors.ParameterError` naming it, before any work starts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from geomap.errors import ParameterError

__all__ = ["CONNECT_TIMEOUT_S", "dask_scheduler", "parse_scheduler"]

CONNECT_TIMEOUT_S = 10.0
"""How long to wait for a scheduler address to answer (Dask's own default is 30 s)."""


def parse_scheduler(value: str | None) -> tuple[str, int | None] | None:
    """Parse ``None``, ``"local"``, ``"local:N"`` or an address into (kind, workers)."""
    if value is None or value == "threads":
        return None
    if value == "local" or value.startswith("local:"):
        _, _, count = value.partition(":")
        if count and (not count.isdigit() or int(count) < 1):
            raise ParameterError(
                f"--scheduler {value!r}: use 'local' or 'local:N' with N >= 1 workers"
            )
        return ("local", int(count) if count else None)
    if "://" not in value and ":" not in value:
        raise ParameterError(
            f"--scheduler {value!r} is neither 'local[:N]' nor a scheduler address like tcp://host:8786"
        )
    return (value, None)


@contextlib.contextmanager
def dask_scheduler(
    value: str | None,
    *,
    memory_limit: str | None = None,
    connect_timeout: float | None = None,
) -> Iterator[Any]:
    """Run the body on the chosen Dask scheduler; yield the ``distributed.Client`` or ``None``.

    Parameters
    ----------
    value : str or None
        ``None`` (threads), ``"local"``, ``"local:N"`` or a scheduler address.
    memory_limit : str, optional
        Per-worker memory limit of a local cluster (e.g. ``"2GiB"``); Dask's default
        (the machine's memory shared between workers) when not given.
    connect_timeout : float, optional
        Seconds to wait for a scheduler address to answer (default
        :data:`CONNECT_TIMEOUT_S`).

    Yields
    ------
    distributed.Client or None
        The client (the default Dask scheduler while the body runs), or ``None`` for
        the threaded scheduler.

    Raises
    ------
    ParameterError
        ``value`` is malformed, or no scheduler answers at that address in time.
    """
    parsed = parse_scheduler(value)
    if parsed is None:
        yield None
        return
    from distributed import Client, LocalCluster

    kind, workers = parsed
    if kind == "local":
        n_workers = workers or max(1, min(4, os.cpu_count() or 1))
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            memory_limit=memory_limit or "auto",
        )
        client = Client(cluster)
    else:
        cluster = None
        timeout = CONNECT_TIMEOUT_S if connect_timeout is None else connect_timeout
        try:
            client = Client(kind, timeout=timeout)
        except (OSError, TimeoutError) as exc:
            raise ParameterError(
                f"--scheduler {kind!r}: cannot reach a Dask scheduler there ({exc}); check "
                "the address (is the scheduler running and reachable from here?), or use "
                "'local' / 'local:N' for a cluster on this machine"
            ) from exc
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
