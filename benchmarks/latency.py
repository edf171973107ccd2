"""Interactive latency before and after: catalog load, CLI start-up, occurrence queries.

``python -m benchmarks.latency --before DIR [--repeat N] [--out FILE]``

``DIR`` is a checkout of the baseline commit (e.g. ``git worktree add /tmp/cat-before 4ca3987``).
Every case runs as a fresh process, baseline and this checkout alternately, best of ``N``; the
figure to compare is the ratio (this checkout / baseline) from the same run, because the machine
is shared and its load changes.  Wall time and CPU time (user + system of the child, less
sensitive to other processes on the machine) are both recorded.

Cases:

* ``catalog_load``: ``load_catalog()`` in a fresh interpreter (import of ``geomap.catalog`` done
  first and timed apart), reported by the child itself;
* ``cli_help`` / ``catalog_list``: ``geomap --help`` and ``geomap catalog list``, whole process;
* ``occurrences_<region>_cold``: ``geomap occurrences --commodity REE --region <region>`` with an
  empty download cache (this checkout builds its occurrence index there);
* ``occurrences_<region>_warm``: the same query again, the cache kept;
* ``occurrences_<region>_new_selection_area_listed``: ``--commodity Li --region <region>``
  after ``--region <region>`` (the index built, the area listed), never asked before: its
  kept answer is removed before every timed run;
* ``occurrences_<region>_new_selection_other_commodity``: the same after only the REE query
  (which keeps the area's listing since the selection is rows of it);
* ``occurrences_<region>_new_area``: the REE query of the region with the index built by the
  REE query of another region (neither the area nor the query asked before).

The occurrence queries' standard output and summary line are compared between the two checkouts
and the result recorded (``same_output``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
AFTER = HERE.parent
RESULTS = HERE / "results" / "latency.json"

_CLI = "import sys; from geomap.cli import main; sys.argv[0] = 'geomap'; main()"
_LOAD = (
    "import time; t0 = time.perf_counter(); import geomap.catalog as c; "
    "t1 = time.perf_counter(); c.load_catalog(); t2 = time.perf_counter(); "
    "print(f'{t1 - t0:.6f} {t2 - t1:.6f}')"
)


def _run(checkout: Path, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one child in ``checkout``; return its wall seconds, stdout and stderr."""
    full_env = {**os.environ, **env, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=checkout,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{checkout}: {' '.join(args)} failed:\n{err.decode()[-2000:]}")
    return {"wall": wall, "stdout": out.decode(), "stderr": err.decode()}


def _timed(checkout: Path, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run one child and add its CPU seconds (user + system, from the children's rusage)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = _run(checkout, args, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def _case(
    name: str,
    before: Path,
    args: list[str],
    repeat: int,
    *,
    cold: bool = False,
    compare_output: bool = False,
    warm_with: list[str] | None = None,
) -> dict[str, Any]:
    """Time ``args`` in both checkouts; ``warm_with``: warm with that command instead, and
    remove every kept query answer it did not leave before each timed run (a new selection)."""
    rows: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    caches = {side: Path(tempfile.mkdtemp(prefix=f"geomap-lat-{side}-")) for side in rows}
    data_dir = os.environ.get("GEOMAP_DATA_DIR") or str(AFTER.parent / "shared" / "data")
    try:
        warm_answers: dict[str, set[Path]] = {}
        if not cold:  # warm both caches once, untimed
            for side, checkout in (("before", before), ("after", AFTER)):
                _run(
                    checkout,
                    warm_with or args,
                    {"GEOMAP_CACHE_DIR": str(caches[side]), "GEOMAP_DATA_DIR": data_dir},
                )
                warm_answers[side] = set(_kept_answers(caches[side]))
        for _ in range(repeat):
            for side, checkout in (("before", before), ("after", AFTER)):
                if cold:
                    shutil.rmtree(caches[side])
                    caches[side].mkdir()
                if warm_with is not None:  # this selection's own answer is not kept
                    for path in set(_kept_answers(caches[side])) - warm_answers[side]:
                        path.unlink()
                env = {"GEOMAP_CACHE_DIR": str(caches[side]), "GEOMAP_DATA_DIR": data_dir}
                rows[side].append(_timed(checkout, args, env))
    finally:
        for folder in caches.values():
            shutil.rmtree(folder, ignore_errors=True)
    result: dict[str, Any] = {"case": name, "command": " ".join(args[-6:]), "repeat": repeat}
    for side, runs in rows.items():
        result[f"{side}_wall_s"] = min(r["wall"] for r in runs)
        result[f"{side}_cpu_s"] = min(r["cpu"] for r in runs)
        if name == "catalog_load":
            pairs = [tuple(map(float, r["stdout"].split())) for r in runs]
            result[f"{side}_import_s"] = min(p[0] for p in pairs)
            result[f"{side}_load_s"] = min(p[1] for p in pairs)
    result["ratio_wall"] = result["after_wall_s"] / result["before_wall_s"]
    result["ratio_cpu"] = result["after_cpu_s"] / result["before_cpu_s"]
    if name == "catalog_load":
        result["ratio_load"] = result["after_load_s"] / result["before_load_s"]
    if compare_output:
        result["same_output"] = all(
            (a["stdout"], a["stderr"].splitlines()[0]) == (b["stdout"], b["stderr"].splitlines()[0])
            for a in rows["after"]
            for b in rows["before"]
        )
    return result


def _kept_answers(cache: Path) -> list[Path]:
    """The kept query answers of an occurrence index in a download cache."""
    return sorted((cache / "occurrence-index" / "queries").glob("*.parquet"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="baseline checkout")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--regions", nargs="*", default=["japan", "conus"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    before = args.before.resolve()
    load_before = os.getloadavg()
    cases = [
        _case("catalog_load", before, ["-c", _LOAD], args.repeat),
        _case("cli_help", before, ["-c", _CLI, "--help"], args.repeat),
        _case("catalog_list", before, ["-c", _CLI, "catalog", "list"], args.repeat),
    ]
    for region in args.regions:
        query = ["-c", _CLI, "occurrences", "--commodity", "REE", "--region", region]
        cold_repeat = max(1, args.repeat // 2)
        cases.append(
            _case(
                f"occurrences_{region}_cold",
                before,
                query,
                cold_repeat,
                cold=True,
                compare_output=True,
            )
        )
        cases.append(
            _case(f"occurrences_{region}_warm", before, query, args.repeat, compare_output=True)
        )
        # a new selection on a built index: the index built (and the area listed, or only
        # another commodity asked), this exact query never answered before
        selection = ["-c", _CLI, "occurrences", "--commodity", "Li", "--region", region]
        area = ["-c", _CLI, "occurrences", "--region", region]
        # a region never asked, the index built by a query of another region
        others = [r for r in args.regions if r != region] or ["us-southwest"]
        other_area = ["-c", _CLI, "occurrences", "--commodity", "REE", "--region", others[0]]
        cases.append(
            _case(
                f"occurrences_{region}_new_area",
                before,
                query,
                args.repeat,
                compare_output=True,
                warm_with=other_area,
            )
        )
        for name, warm_with in (("area_listed", area), ("other_commodity", query)):
            cases.append(
                _case(
                    f"occurrences_{region}_new_selection_{name}",
                    before,
                    selection,
                    args.repeat,
                    compare_output=True,
                    warm_with=warm_with,
                )
            )
    for row in cases:
        extra = f"  load {row['ratio_load']:.2f}x" if "ratio_load" in row else ""
        same = f"  same output: {row['same_output']}" if "same_output" in row else ""
        print(
            f"{row['case']:<26} before {row['before_wall_s']:7.3f} s  after "
            f"{row['after_wall_s']:7.3f} s  wall {row['ratio_wall']:.2f}x  "
            f"cpu {row['ratio_cpu']:.2f}x{extra}{same}",
            flush=True,
        )
    payload = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_start": load_before,
            "load_average_end": os.getloadavg(),
        },
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "before": str(before),
        "after": str(AFTER),
        "command": " ".join(["python -m benchmarks.latency", *(argv or sys.argv[1:])]),
        "results": cases,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
