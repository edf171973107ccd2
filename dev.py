#!/usr/bin/env python3
"""Set up the project and run its two jobs, on a fresh clone with only Python >= 3.11.

    python3 dev.py demo [geomap demo options]   # build the demo maps from the mirrored data
    python3 dev.py test [pytest options]        # run the whole test suite (on every core)

Both create ``.venv`` beside this file on first use and (re)install the project into it
whenever ``pyproject.toml`` changes.  Nothing outside the checkout is modified, except that
``test`` installs Debian's ``chromium`` (for the browser tests) and ``gdal-bin`` (for the
independent GDAL readers) with apt-get when they are missing and the user may do so.

``test`` runs pytest on one pytest-xdist worker per core (at most four), each test file on one
worker; ``python3 dev.py test -n 0`` runs everything in one process.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".geomap-installed"


def _run(*cmd: str | Path, **kwargs) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], **kwargs)


def ensure_venv(extras: str) -> None:
    """Create the virtual environment and install the project with ``extras``."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py may be started by an older Python
        sys.exit(f"geomap needs Python >= 3.11; this is {sys.version.split()[0]}")
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == want:
        return
    if not PYTHON.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if _run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip") != 0:
        sys.exit("could not upgrade pip in .venv")
    if _run(PYTHON, "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[{extras}]") != 0:
        sys.exit("installing geomap into .venv failed; see the pip output above")
    STAMP.write_text(want)


def ensure_system_tools() -> None:
    """Install Chromium and GDAL's command-line tools from Debian's packages where missing."""
    missing = [
        pkg
        for pkg, exe in (("chromium", "chromium"), ("gdal-bin", "ogrinfo"))
        if not shutil.which(exe)
    ]
    if not missing:
        return
    if not shutil.which("apt-get") or (hasattr(os, "geteuid") and os.geteuid() != 0):
        print(
            f"note: {', '.join(missing)} not installed; the tests that need them will be skipped",
            flush=True,
        )
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run("apt-get", "update", "-qq", env=env)
    if _run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env=env) != 0:
        print(f"note: could not install {', '.join(missing)}", flush=True)


MAX_WORKERS = 4
"""More workers repeat the session's shared builds and wait on the longest test files."""


def parallel_options(pytest_args: list[str]) -> list[str]:
    """Return the pytest-xdist options ``test`` adds: one worker per core, a file per worker.

    ``--dist loadfile`` keeps each test file on one worker, so a module's fixtures (its builds)
    are made once; the files go out in collection order, the longest first
    (``tests/conftest.py``).  Nothing is added on a single core, or when the arguments already
    choose (``-n``/``--numprocesses``, ``--dist``, ``-p no:xdist``).
    """
    for arg in pytest_args:
        if arg in ("-n", "--numprocesses", "--dist", "no:xdist", "-pno:xdist") or arg.startswith(
            ("--numprocesses=", "--dist=")
        ):
            return []
        if arg.startswith("-n") and arg[2:].isalnum():  # -n2, -nauto
            return []
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(cores or 1, MAX_WORKERS)
    if workers < 2:
        return []
    # whole files in the order tests/conftest.py collects them (the longest first)
    return ["-n", str(workers), "--dist", "loadfile", "--no-loadscope-reorder"]


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(__doc__)
        return 2
    job, rest = argv[0], argv[1:]
    if job == "demo":
        ensure_venv("test")
        return _run(BIN / "geomap", "demo", *rest, cwd=ROOT)
    ensure_venv("dev")
    ensure_system_tools()
    code = _run(PYTHON, "-m", "pytest", *parallel_options(rest), *rest, cwd=ROOT)
    if code == 5:
        print("pytest collected no tests: that is a failure, not a pass", flush=True)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
