"""Benchmark cases and their measurement: geomap against the bare library call it wraps.

A benchmark module ``benchmarks/bench_<area>.py`` defines ``cases(quick: bool) -> list[Case]``.
Each case's ``setup()`` prepares inputs (not timed) and returns two zero-argument callables:
the geomap operation and the bare library call it is built on.  Both run in the same process,
alternating, best of ``repeat`` runs; peak memory is measured in a separate run of each.
"""

from __future__ import annotations

import gc
import resource
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Call = Callable[[], Any]


@dataclass
class Case:
    """One operation at one size."""

    operation: str
    size: str
    n: int
    unit: str
    setup: Callable[[], tuple[Call, Call | None]]
    repeat: int = 3


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _time_best(call: Call, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def _peak_traced_mb(call: Call) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def measure(case: Case) -> dict[str, Any]:
    """Run one case and return its measurements as a flat dict."""
    geomap_call, baseline_call = case.setup()
    rss_before = _rss_mb()
    geomap_call()  # warm-up (imports, caches) and the process's peak RSS
    peak_rss = _rss_mb() - rss_before
    times = {"geomap": float("inf"), "baseline": float("inf")}
    for _ in range(case.repeat):
        times["geomap"] = min(times["geomap"], _time_best(geomap_call, 1))
        if baseline_call is not None:
            times["baseline"] = min(times["baseline"], _time_best(baseline_call, 1))
    result: dict[str, Any] = {
        "operation": case.operation,
        "size": case.size,
        "n": case.n,
        "unit": case.unit,
        "geomap_s": times["geomap"],
        "throughput_per_s": case.n / times["geomap"] if times["geomap"] > 0 else None,
        "geomap_peak_traced_mb": _peak_traced_mb(geomap_call),
        "geomap_peak_rss_increase_mb": peak_rss,
    }
    if baseline_call is not None:
        result["baseline_s"] = times["baseline"]
        result["ratio"] = times["geomap"] / times["baseline"] if times["baseline"] > 0 else None
        result["baseline_peak_traced_mb"] = _peak_traced_mb(baseline_call)
    return result
