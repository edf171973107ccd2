"""The benchmark runner's discovery (``python -m benchmarks.run``), without running a benchmark.

Every ``bench_*`` module is either run through the runner (``cases`` or ``results``) or named as
a script of its own; ``--only`` picks operations across all of them.  The measuring child
processes are replaced by a stub row here: the benches themselves are not part of the suite.
"""

from __future__ import annotations

import json
import subprocess
from types import SimpleNamespace

import pytest

from benchmarks import run


def _fake_child(calls):
    real_run = subprocess.run

    def fake_run(cmd, **kwargs):
        if "benchmarks.run" not in cmd:  # other callers (the platform's own probes)
            return real_run(cmd, **kwargs)
        module, index = cmd[cmd.index("--one") + 1].split(":")
        case = run._cases(module, "--quick" in cmd)[int(index)]
        calls.append(case.operation)
        row = {
            "operation": case.operation,
            "size": case.size,
            "n": case.n,
            "geomap_s": 0.5,
            "ratio": 1.0,
            "geomap_peak_traced_mb": 1.0,
        }
        return SimpleNamespace(returncode=0, stdout=json.dumps(row) + "\n", stderr="")

    return fake_run


def test_only_runs_the_named_operation_past_a_module_without_cases(tmp_path, monkeypatch, capsys):
    calls: list[str] = []
    monkeypatch.setattr(subprocess, "run", _fake_child(calls))
    out = tmp_path / "latest.json"
    assert run.main(["--quick", "--only", "reproject", "--out", str(out)]) == 0
    assert calls and set(calls) == {"reproject"}
    rows = json.loads(out.read_text())["results"]
    assert [r["operation"] for r in rows] == calls
    assert run._standalone("bench_cache_checksums")  # the module that used to stop the runner


def test_a_full_run_names_the_standalone_script_it_leaves_out(tmp_path, monkeypatch, capsys):
    calls: list[str] = []
    monkeypatch.setattr(subprocess, "run", _fake_child(calls))
    monkeypatch.setattr(run, "_modules", lambda: ["bench_cache_checksums", "bench_reproject"])
    assert run.main(["--quick", "--out", str(tmp_path / "latest.json")]) == 0
    assert set(calls) == {"reproject"}
    err = capsys.readouterr().err
    assert "left out bench_cache_checksums" in err
    assert "python -m benchmarks.bench_cache_checksums" in err


def test_an_unknown_operation_is_refused_before_anything_runs(tmp_path, monkeypatch, capsys):
    calls: list[str] = []
    monkeypatch.setattr(subprocess, "run", _fake_child(calls))
    with pytest.raises(SystemExit) as exc:
        run.main(["--only", "cache_checksum", "--out", str(tmp_path / "latest.json")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "no benchmark operation ['cache_checksum']" in err
    assert "'reproject'" in err
    assert "python -m benchmarks.bench_cache_checksums" in err
    assert not calls
    assert not (tmp_path / "latest.json").exists()
