"""Run the benchmark suite: ``python -m benchmarks.run [--quick] [--only OPERATION ...]``.

Each case runs in a fresh subprocess (so peak memory is its own), results go to
``benchmarks/results/latest.json`` (or ``--out``), and a summary with ratios against the bare
library calls and the scaling exponent with size is printed.  Modules defining ``cases``
go through :mod:`benchmarks.harness`; modules defining ``results`` (the end-to-end builds of
``bench_build``) run and measure their own child processes.  A ``bench_*`` module defining
neither (``bench_cache_checksums``, which reports ratios of its own) is a script run on its
own; the runner names it and leaves it out.  ``--only``/``--skip`` names that no module offers
are refused before anything runs.  Not part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import math
import os
import pkgutil
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "latest.json"


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_"))


def _cases(module: str, quick: bool) -> list[Any]:
    return importlib.import_module(f"benchmarks.{module}").cases(quick)


def _standalone(module: str) -> bool:
    """Whether a bench module is a script of its own (no ``cases``, no ``results``)."""
    loaded = importlib.import_module(f"benchmarks.{module}")
    return not (hasattr(loaded, "cases") or hasattr(loaded, "results"))


def _operations(module: str) -> set[str]:
    """Every operation a runnable bench module offers, at any size."""
    loaded = importlib.import_module(f"benchmarks.{module}")
    if hasattr(loaded, "results"):
        return set(loaded.OPERATIONS)
    return {case.operation for quick in (True, False) for case in loaded.cases(quick)}


def _unknown_names(names: list[str]) -> str | None:
    """A message for ``--only``/``--skip`` names that no runnable module offers, else None."""
    runnable = [m for m in _modules() if not _standalone(m)]
    known = set().union(*(_operations(m) for m in runnable))
    unknown = sorted(set(names) - known)
    if not unknown:
        return None
    scripts = [m for m in _modules() if _standalone(m)]
    hint = (
        " (" + ", ".join(f"{m} runs on its own: python -m benchmarks.{m}" for m in scripts) + ")"
        if scripts
        else ""
    )
    return f"no benchmark operation {unknown}; choose from {sorted(known)}{hint}"


def _run_one(module: str, index: int, quick: bool) -> None:
    from benchmarks.harness import measure

    print(json.dumps(measure(_cases(module, quick)[index])))


def _exponent(rows: list[dict[str, Any]]) -> float | None:
    points = [(math.log(r["n"]), math.log(r["geomap_s"])) for r in rows if r["geomap_s"] > 0]
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smallest sizes only")
    parser.add_argument("--only", nargs="*", default=[], help="operations to run")
    parser.add_argument("--skip", nargs="*", default=[], help="operations to leave out")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.one:
        module, index = args.one.split(":")
        _run_one(module, int(index), args.quick)
        return 0
    problem = _unknown_names([*args.only, *args.skip])
    if problem:
        parser.error(problem)
    results: list[dict[str, Any]] = []
    for module in _modules():
        loaded = importlib.import_module(f"benchmarks.{module}")
        if _standalone(module):
            if not args.only:
                print(
                    f"left out {module}: it is a script of its own (python -m benchmarks.{module})",
                    file=sys.stderr,
                )
            continue
        if hasattr(loaded, "results"):  # whole-program runs that measure their own children
            wanted = [op for op in loaded.OPERATIONS if op not in args.skip]
            if args.only:
                wanted = [op for op in wanted if op in args.only]
            if not wanted:
                continue
            try:
                results += loaded.results(args.quick, wanted)
            except RuntimeError as exc:
                print(f"FAILED {module}:\n{exc}", file=sys.stderr)
                results.append({"operation": module, "size": "-", "error": str(exc)[-2000:]})
            continue
        for index, case in enumerate(_cases(module, args.quick)):
            if (args.only and case.operation not in args.only) or case.operation in args.skip:
                continue
            cmd = [sys.executable, "-m", "benchmarks.run", "--one", f"{module}:{index}"]
            cmd += ["--quick"] if args.quick else []
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent)
            if proc.returncode != 0:
                print(
                    f"FAILED {case.operation} {case.size}:\n{proc.stderr[-2000:]}", file=sys.stderr
                )
                results.append(
                    {"operation": case.operation, "size": case.size, "error": proc.stderr[-2000:]}
                )
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(row)
            ratio = f"{row['ratio']:.2f}x" if row.get("ratio") else "  -  "
            print(
                f"{row['operation']:<28} {row['size']:>10} {row['geomap_s']:>9.3f} s  "
                f"ratio {ratio}  "
                f"peak {row['geomap_peak_traced_mb']:.0f} MB",
                flush=True,
            )
    by_op: dict[str, list[dict[str, Any]]] = {}
    for row in results:
        if "error" not in row:
            by_op.setdefault(row["operation"], []).append(row)
    scaling = {op: _exponent(rows) for op, rows in by_op.items()}
    for op, exponent in scaling.items():
        if exponent is not None:
            print(f"scaling exponent {op}: {exponent:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "memory_gib": round(
                os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1
            ),
        },
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks.run", *(argv or sys.argv[1:])]),
        "results": results,
        "scaling_exponent": scaling,
    }
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
