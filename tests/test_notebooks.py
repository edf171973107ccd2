"""The notebooks in ``notebooks/`` run top to bottom on the mirrored data.

Each notebook is executed with nbclient in a fresh kernel of this interpreter (the project's
virtual environment), from a temporary working directory and with a private
``GEOMAP_CACHE_DIR`` (the autouse fixture of ``conftest.py``), with a bound on the time of every
cell.  A few key outputs are checked: figures were drawn, the AUCs printed are numbers in
[0, 1], exports read back identical.  The notebooks are stored without outputs, and running
them writes nothing into the repository.
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
CELL_TIMEOUT_S = 300
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PREFIX_MARKER = "geomap-test-kernel-prefix="

NAMES = [
    "01_quickstart",
    "02_us_rare_earths",
    "03_japan_vms_snw",
    "04_joint_survey_planning",
    "05_full_resolution",
]


def _snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def _execute(name: str, workdir: Path) -> nbformat.NotebookNode:
    """Execute a notebook in a kernel of this interpreter; return the executed notebook."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    probe = nbformat.v4.new_code_cell(f"import sys; print({_PREFIX_MARKER!r} + sys.prefix)")
    nb.cells.insert(0, probe)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    before = _snapshot(NOTEBOOKS)
    client.execute()
    assert _snapshot(NOTEBOOKS) == before, "running a notebook changed files under notebooks/"
    leftovers = sorted(p.name for p in workdir.iterdir())
    assert not leftovers, f"the notebook wrote {leftovers} into its working directory"
    kernel_prefix = _text(nb.cells[0]).split(_PREFIX_MARKER, 1)[1].strip()
    assert Path(kernel_prefix).resolve() == Path(sys.prefix).resolve(), (
        f"the notebook kernel ran in {kernel_prefix}, not in this environment ({sys.prefix}); "
        "the 'python3' kernelspec must start this interpreter"
    )
    return nb


def _text(cell: Any) -> str:
    """All text a cell printed or displayed (stdout and text/plain)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and out.name == "stdout":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
    return "\n".join(parts)


def _cell(nb: nbformat.NotebookNode, snippet: str) -> Any:
    """The one code cell whose source contains ``snippet``."""
    found = [c for c in nb.cells if c.cell_type == "code" and snippet in c.source]
    assert len(found) == 1, f"{len(found)} cells contain {snippet!r}"
    return found[0]


def _figures(nb: nbformat.NotebookNode) -> list[bytes]:
    images = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.output_type in ("execute_result", "display_data") and "image/png" in out.data:
                images.append(base64.b64decode(out.data["image/png"]))
    return images


def _html(cell: Any) -> str:
    return "\n".join(
        out.data.get("text/html", "")
        for out in cell.get("outputs", [])
        if out.output_type in ("execute_result", "display_data")
    )


def _numbers(pattern: str, text: str) -> list[float]:
    found = [float(v) for v in re.findall(pattern, text)]
    assert found, f"no match for {pattern!r} in {text[:500]!r}"
    return found


def _check_figures(nb: nbformat.NotebookNode, at_least: int) -> None:
    images = _figures(nb)
    assert len(images) >= at_least, f"{len(images)} figures, expected at least {at_least}"
    assert all(img.startswith(PNG_MAGIC) and len(img) > 5_000 for img in images)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


def test_readme_lists_every_notebook() -> None:
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    stored = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    assert stored == NAMES
    for name in NAMES:
        assert f"{name}.ipynb" in readme


def test_quickstart(tmp_path: Path) -> None:
    nb = _execute("01_quickstart", tmp_path)
    _check_figures(nb, 1)
    assert "identical: True" in _text(_cell(nb, "file_sha256(local)"))
    status = _text(_cell(nb, "verify(["))
    assert "'ok':" in status and "mismatch" not in status and "missing" not in status
    counts = _text(_cell(nb, '"Japan sites"'))
    assert "absent from the mirrored Japanese data: REE, Li, Sb, Co" in counts
    japan_w = _numbers(r"\nW\s+\d+\s+(\d+)", counts)[0]
    assert japan_w > 0
    assert "<b>ingest report</b>" in _html(_cell(nb, "IngestReport.from_dict"))
    assert "<table" in _html(_cell(nb, "catalog = geomap.load_catalog()"))


def test_us_rare_earths(tmp_path: Path) -> None:
    nb = _execute("02_us_rare_earths", tmp_path)
    _check_figures(nb, 4)  # evidence, contrasts, validation curves, prospectivity
    auc_text = _text(_cell(nb, "held-out AUC {held_out:.3f}"))
    held_out = _numbers(r"held-out AUC (\d\.\d+)", auc_text)[0]
    assert (
        0.5 < held_out <= 1.0
    )  # a carbonatite REE model that ranks no better than chance is broken
    weights = _text(_cell(nb, "pattern = weights["))
    assert "carbonatite_distance" in weights and "studentized_contrast" in weights
    model_html = _html(_cell(nb, "result = geomap.model_region("))
    assert "<b>model result</b> carbonatite-ree / conus" in model_html
    n_targets = _numbers(r"(\d+) targets, ", _text(_cell(nb, "targets = geomap.select_targets(")))
    assert n_targets[0] > 0
    top = _text(_cell(nb, "targets[columns].head(8)"))
    assert "T001" in top and "nearest_occurrence" in top


def test_japan_vms_snw(tmp_path: Path) -> None:
    nb = _execute("03_japan_vms_snw", tmp_path)
    _check_figures(nb, 3)
    vms = _numbers(r"held-out AUC (\d\.\d+) ±", _text(_cell(nb, "vms_report = vms_result")))
    assert 0.0 <= vms[0] <= 1.0
    comparison = _text(_cell(nb, "comparison = pd.DataFrame("))
    for label in ("US, spatial CV", "Japan, spatial CV", "conus → tested japan"):
        assert label in comparison
    verdicts = _text(_cell(nb, "shared = [n for n in layer_auc.index"))
    aucs = _numbers(r"held-out AUC (\d\.\d+),", verdicts)
    assert len(aucs) == 4 and all(0.0 <= v <= 1.0 for v in aucs)
    assert "from random at 95 %" in verdicts
    assert "japan -> conus AUC" in _text(_cell(nb, "us_snw = run_model("))
    gsj = _text(_cell(nb, 'gsj = geomap.read("gsj-geochemical-map-japan"'))
    assert "3024 samples from 3025 lines" in gsj and "JGD2000 to JGD2011" in gsj
    assert "cannot be validated" in _text(
        _cell(nb, 'ree = geomap.load_recipe("ree-japan-geochem")')
    )
    layers = _text(_cell(nb, "packet = geomap.build_packet("))
    assert "japan_geochem_samples" in layers and "conus_geochem_samples" in layers


def test_joint_survey_planning(tmp_path: Path) -> None:
    nb = _execute("04_joint_survey_planning", tmp_path)
    assert "<b>geomap packet</b>" in _html(_cell(nb, "packet = build_packet("))
    layers = _text(_cell(nb, "layers = pyogrio.list_layers(gpkg)"))
    assert "conus_targets" in layers and "japan_targets" in layers
    round_trip = _text(_cell(nb, "checks = {"))
    assert "True" in round_trip and "False" not in round_trip
    provenance = _text(_cell(nb, "provenance = read_provenance(out_gpkg)"))
    assert "minmod-usgs-mrdata" in provenance and '"min_area_km2"' in provenance


def test_full_resolution(tmp_path: Path) -> None:
    nb = _execute("05_full_resolution", tmp_path)
    _check_figures(nb, 1)
    overview = _text(_cell(nb, "print(format_overview("))
    assert "`geomap fetch gsj-seamless-geology-200k-v2` would add it" in overview
    switch = _text(_cell(nb, "before = resolve_sources("))
    assert "lithology_score: glim-lithology-0.5deg -> gsj-seamless-geology-200k-v2" in switch
    table = _html(_cell(nb, "geology = geomap.read(SEAMLESS"))
    assert "felsic_intrusive" in table and "#ff9999" in table
    own = _text(_cell(nb, "with_user_data("))
    assert "my_faults: ['user:my_faults']" in own and "training: ['user:sites']" in own
