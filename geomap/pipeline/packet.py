"""The joint planning packet: several regions' results side by side, ready for the partner team.

Each region is computed in its own analysis CRS (through the cached build stages) and the
results are shown together: one offline HTML map with a panel per region, one GeoPackage
with the layers of every region (prefixed ``conus_``, ``japan_``...), the targets of all
regions in one table (CSV and GeoJSON in WGS84) and a short summary.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm import tqdm

from geomap.catalog import Catalog, load_catalog
from geomap.core.atomic import atomic_dir, atomic_path
from geomap.core.output_guard import check_output_path, check_replaceable
from geomap.core.safe_text import markdown_code, markdown_paragraphs, markdown_text, write_csv
from geomap.errors import ParameterError
from geomap.pipeline.outputs import file_hashes, write_json
from geomap.pipeline.runner import BuildState, run_stages

__all__ = [
    "DEFAULT_PACKET",
    "GEOCHEM_OVERLAYS",
    "PacketResult",
    "build_packet",
    "geochem_samples",
    "model_caveats",
]

DEFAULT_PACKET: tuple[tuple[str, str], ...] = (
    ("carbonatite-ree", "conus"),
    ("kuroko-vms", "japan"),
)
"""The joint US–Japan packet: carbonatite REE in the US, Kuroko VMS in Japan."""


@dataclass(frozen=True)
class GeochemOverlay:
    """Geochemistry shown with one region of the packet.

    ``anomaly_recipe`` (optional) is built for the region and its prospectivity drawn as the
    REE anomaly; ``dataset`` gives the sample points, with the ``elements`` (ppm) and the
    ``index`` score (:func:`geomap.evidence.sample_scores`) in their popups.
    """

    label: str
    dataset: str
    elements: tuple[str, ...]
    index: str
    anomaly_recipe: str | None = None


_COLORADO = GeochemOverlay(
    "Colorado soils", "usgs-colorado-soil-geochem", ("La", "Ce", "Y", "Th", "Nb"), "ree_th_nb_soil"
)
GEOCHEM_OVERLAYS: dict[str, GeochemOverlay] = {
    "japan": GeochemOverlay(
        "GSJ stream sediments",
        "gsj-geochemical-map-japan",
        ("La", "Ce", "Nd", "Dy", "Yb", "Y", "Th", "Nb", "Ta"),
        "lree",
        anomaly_recipe="ree-japan-geochem",
    ),
    "conus": _COLORADO,
    "us-southwest": _COLORADO,
}
"""Region id -> the REE geochemistry the packet shows there (both sides of the Pacific)."""

_SCORE_CLASSES = ((-np.inf, 1.0, "< 1 (background)"), (1.0, 2.0, "1-2"), (2.0, 3.0, "2-3"))


def geochem_samples(overlay: GeochemOverlay, region: str, *, catalog: Catalog) -> gpd.GeoDataFrame:
    """Sample points for the packet: id, medium, element ppm, the REE score and its class.

    Parameters
    ----------
    overlay : GeochemOverlay
    region : str
        Region id (the points come in its analysis CRS, clipped to it).
    catalog : Catalog

    Returns
    -------
    GeoDataFrame
        ``sample_id``, ``medium``, ``<El>_ppm`` (3 significant digits), ``ree_score``
        (robust z), ``ree_class`` and the geometry.
    """
    from geomap.evidence import sample_scores
    from geomap.io import read

    samples = read(overlay.dataset, region=region, catalog=catalog)
    score, _info = sample_scores(samples, index=overlay.index)
    classes = np.full(len(samples), ">= 3 (strong anomaly)", dtype=object)
    for low, high, label in _SCORE_CLASSES:
        classes[(score >= low) & (score < high)] = label
    classes[~np.isfinite(score)] = "no score"
    columns: dict[str, Any] = {
        "sample_id": samples["sample_id"].astype(str).to_numpy(),
        "medium": samples["medium"].astype(str).to_numpy(),
    }
    for element in overlay.elements:
        values = samples[f"{element}_ppm"].to_numpy(dtype="float64")
        columns[f"{element}_ppm"] = np.array([float(f"{v:.3g}") for v in values])
    columns["ree_score"] = np.round(score, 2)
    columns["ree_class"] = classes
    frame = gpd.GeoDataFrame(columns, geometry=samples.geometry.to_numpy(), crs=samples.crs)
    frame.attrs["geomap_source"] = overlay.dataset
    return frame


@dataclass
class PacketResult:
    """What :func:`build_packet` wrote."""

    out: Path
    files: dict[str, Path]
    summary: pd.DataFrame

    def __repr__(self) -> str:
        regions = ", ".join(self.summary["region"].astype(str))
        return f"PacketResult({str(self.out)!r}: {regions}; {len(self.files)} files)"

    def _repr_html_(self) -> str:
        from html import escape

        from geomap.pipeline.runner import _inline_map

        head = f"<b>geomap packet</b> &rarr; <code>{escape(str(self.out))}</code>"
        table = _human_summary(self.summary).to_html(index=False)  # to_html escapes cell text
        return head + table + _inline_map(self.files)


def _short_label(name: str) -> str:
    """``"Japan (Hokkaido to the Ryukyu Islands)"`` -> ``"Japan"``: names for the map."""
    return name.split(" (")[0].strip() or name


def _summary_row(state: BuildState) -> dict[str, Any]:
    from geomap.styles import human_number

    auc = state.model.metrics.get("spatial_cv", {}).get("auc", {})
    held_out = auc.get("held_out")
    targets = state.layers.targets
    top = targets.head(3)
    return {
        "region": state.region.id,
        "region_name": state.region.name,
        "recipe": state.recipe.id,
        "mineral_system": state.recipe.name,
        "model": state.model.model_name,
        "resolution_km": round(state.settings["resolution_m"] / 1000, 3),
        "held_out_auc": round(float(held_out), 2) if held_out is not None else None,
        "n_training_occurrences": state.model.metrics.get("diagnostics", {}).get("n_occurrences"),
        "n_targets": len(targets),
        "target_area_km2": round(float(targets["area_km2"].sum()), -2) if len(targets) else 0.0,
        "top_targets": "; ".join(
            f"#{r.rank} {r.state or r.country or '?'} ({human_number(float(r.area_km2))} km²)"
            for r in top.itertuples()
        ),
    }


def model_caveats(state: BuildState) -> list[str]:
    """List what a reader of the packet must know about a model's result, in plain words.

    The conditional-independence test of weights of evidence, a weak or uncertain held-out
    AUC, occurrences left out of training, and the reasons the diagnostics give.
    """
    metrics = state.model.metrics
    notes: list[str] = []
    independence = metrics.get("conditional_independence") or {}
    if independence and not independence.get("passed", True):
        notes.append(
            "Conditional-independence test failed: the model predicts "
            f"{independence.get('predicted', float('nan')):.0f} training occurrences where "
            f"{independence.get('observed', float('nan')):.0f} are observed (ratio "
            f"{independence.get('ratio', float('nan')):.2f}); correlated evidence layers are "
            "counted twice, so prospectivity values are inflated. Read the classes (the "
            "ranking), not the values."
        )
    remedy = metrics.get("independence_remedy") or []
    dropped = [str(step["dropped"]) for step in remedy if step.get("dropped")]
    if dropped:
        notes.append(
            "Conditional-independence test failed with every evidence layer; the remedy left out "
            f"{', '.join(dropped)} until it passed (report.md shows each step)."
        )
    if any(step.get("remedy") == "hybrid" for step in remedy):
        notes.append(
            "Conditional-independence test failed with the weights of evidence added; the "
            "logistic/WofE hybrid combined the same layers by weighted logistic regression "
            "instead (dependent layers share one effect; report.md shows the test before and "
            "after)."
        )
    auc = metrics.get("spatial_cv", {}).get("auc", {})
    held_out, se = auc.get("held_out"), auc.get("held_out_se")
    if held_out is not None:
        if held_out < 0.7:
            notes.append(
                f"Weak held-out AUC {held_out:.2f}: the map separates known occurrences from "
                "the rest of the area only a little better than chance in held-out blocks."
            )
        if se is not None and se > 0.05:
            notes.append(f"The held-out AUC is uncertain (± {se:.2f} standard error).")
    diagnostics = metrics.get("diagnostics", {})
    low, high = (diagnostics.get("fold_auc_range") or [None, None])[:2]
    if low is not None and high is not None and high - low > 0.25:
        notes.append(
            f"Held-out AUC varies from {low:.2f} to {high:.2f} between spatial folds: the "
            "evidence works in some parts of the region and not in others."
        )
    for reason in diagnostics.get("weak_result_reasons", []):
        if "conditional independence" not in reason:
            notes.append(reason[:1].upper() + reason[1:] + ".")
    for warning in metrics.get("warnings", []):
        if warning.startswith("ModelWarning:") and "left out" in warning:
            notes.append(warning.removeprefix("ModelWarning:").strip() + ".")
    return notes


def _markdown_table(frame: pd.DataFrame) -> list[str]:
    from geomap.styles import column_label, human_number

    def cell(value: Any) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return ""
        if isinstance(value, float):
            return human_number(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{value:,}"
        return markdown_text(value)

    columns = list(frame.columns)
    lines = ["| " + " | ".join(markdown_text(column_label(c)) for c in columns) + " |"]
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    lines += [
        "| " + " | ".join(cell(getattr(row, c)) for c in columns) + " |"
        for row in frame.itertuples(index=False)
    ]
    return lines


def _human_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Return the summary with human column names, for the map's panel."""
    from geomap.styles import column_label

    shown = summary.drop(columns=["region", "recipe"], errors="ignore")
    return shown.rename(columns={c: column_label(c) for c in shown.columns})


def _summary_markdown(
    title: str,
    summary: pd.DataFrame,
    attribution: str,
    *,
    notes: Sequence[str] = (),
    caveats: Sequence[tuple[str, Sequence[str]]] = (),
) -> str:
    """Return the packet's ``summary.md``: title, summary table, notes, caveats, attribution.

    Every value is untrusted text (region, recipe and site names, dataset credits) and is
    escaped for Markdown (:func:`geomap.core.safe_text.markdown_text`): no HTML, link or
    table break can come from it.  ``notes`` are Markdown lines already escaped by the caller;
    ``caveats`` are (heading, plain-text items) per model, escaped here.  Numbers are rounded
    and columns have human names.
    """
    lines = [f"# {markdown_text(title)}", "", *_markdown_table(summary), ""]
    lines += [
        "Each region was computed in its own equal-area analysis CRS. Maps, figures and "
        "the GeoPackage show prospectivity in the same classes everywhere: the top 1, 5, "
        "10, 20 and 50 % of each study area's cells, so the classes compare across "
        "regions and models even where the values (different deposit models) do not. "
        "Where a model gives many cells one value, the cells of that value at a class edge "
        "are split by nearness to higher values (then row by row), so each class keeps its "
        "share of the area; each region's report.md says how much was tied. "
        "Open packet.html in a browser, or packet.qgs in QGIS.",
        "",
    ]
    if notes:
        lines += [*notes, ""]
    if caveats:
        lines += ["## Caveats", ""]
        for heading, items in caveats:
            lines += [f"**{markdown_text(heading)}**", ""]
            lines += [f"- {markdown_text(c)}" for c in items] or [
                "- None reported by the diagnostics."
            ]
            lines.append("")
    lines += ["## Attribution", "", markdown_paragraphs(attribution), ""]
    return "\n".join(lines)


def _all_targets(states: Sequence[BuildState]) -> gpd.GeoDataFrame:
    frames = []
    for state in states:
        frame = state.layers.targets.to_crs("EPSG:4326")
        frame.insert(0, "region", state.region.id)
        frame.insert(1, "recipe", state.recipe.id)
        frames.append(frame)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")


def _write_packet_geopackage(
    path: Path,
    states: Sequence[BuildState],
    overlays: Sequence[tuple[BuildState, GeochemOverlay, gpd.GeoDataFrame, Any]],
    *,
    summary: pd.DataFrame,
    datasets: Sequence[str],
    catalog: Catalog,
) -> Path:
    """Write every region's layers to one GeoPackage (and its QGIS project) beside the map.

    Tables are named ``<prefix>_targets``... with :func:`region_prefix` of the region id,
    the function the QGIS project groups them back by (a hyphenated id included).
    """
    from geomap.export.gpkg import write_geopackage
    from geomap.export.qgis_project import region_prefix

    vectors: dict[str, Any] = {}
    rasters: dict[str, Any] = {}
    for s in states:
        prefix = region_prefix(s.region.id)
        vectors[f"{prefix}_targets"] = s.layers.targets
        vectors[f"{prefix}_occurrences"] = s.layers.occurrences
        if s.layers.faults is not None and len(s.layers.faults):
            vectors[f"{prefix}_faults"] = s.layers.faults
        for name in ("prospectivity", "uncertainty", "coverage"):
            if name in s.layers.prediction:
                rasters[f"{prefix}_{name}"] = s.layers.prediction[name]
    for s, _overlay, samples, anomaly in overlays:
        prefix = region_prefix(s.region.id)
        vectors[f"{prefix}_geochem_samples"] = samples
        if anomaly is not None:
            rasters[f"{prefix}_ree_anomaly"] = anomaly
    return write_geopackage(
        path,
        vectors=vectors,
        rasters=rasters,
        tables={"summary": summary},
        datasets=datasets,
        parameters={"builds": [s.settings for s in states]},
        catalog=catalog,
        qgis_project=True,
        regions=[s.region.id for s in states],
    )


def _check_packet_regions(regions: list[str]) -> None:
    """Refuse, before any build, regions the packet cannot hold side by side.

    Each region's layers are tables named by :func:`region_prefix` of its id: a region
    given twice, or two ids with the same prefix, would overwrite each other's tables, and
    an id that cannot start a table name would fail only once every build has run.
    """
    from geomap.export.gpkg import LAYER_NAME_PATTERN
    from geomap.export.qgis_project import region_prefix

    seen: dict[str, str] = {}
    for region in regions:
        prefix = region_prefix(region)
        if prefix in seen:
            what = "twice" if seen[prefix] == region else f"as {seen[prefix]!r} and {region!r}"
            raise ParameterError(
                f"region {region!r} is in the packet {what} (its tables would be named alike); "
                "give each region once"
            )
        seen[prefix] = region
        longest = f"{prefix}_geochem_samples"
        if not LAYER_NAME_PATTERN.match(longest):
            raise ParameterError(
                f"region id {region!r} cannot name the packet's GeoPackage tables "
                f"({longest!r}: a letter first, then letters, digits or _, at most 63 "
                "characters); use a region id that starts with a letter and is shorter"
            )


def build_packet(
    builds: Sequence[tuple[str, str]] = DEFAULT_PACKET,
    *,
    out: str | Path = "geomap-packet",
    overwrite: bool = False,
    resolutions: dict[str, float] | None = None,
    title: str = "US–Japan joint survey planning",
    geochemistry: bool = True,
    use_cache: bool = True,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    catalog: Catalog | None = None,
) -> PacketResult:
    """Build the joint planning packet.

    Parameters
    ----------
    builds : sequence of (recipe, region)
        What to put side by side (default: carbonatite REE in the conterminous US and
        Kuroko VMS in Japan).
    out : path-like, default "geomap-packet"
        Output folder; must not exist unless ``overwrite``; appears only when complete.
    overwrite : bool, default False
        Replace an existing folder.
    resolutions : dict, optional
        Cell size per region id (default: each region's default).
    title : str
        Map and summary title.
    geochemistry : bool, default True
        Show the REE geochemistry of :data:`GEOCHEM_OVERLAYS` with the regions it covers:
        the Japan REE anomaly (``ree-japan-geochem``, knowledge-driven and unvalidated) and
        the sample points with their values in popups (GSJ stream sediments, Colorado soils).
    use_cache, cache_dir, progress, catalog
        As for :func:`geomap.pipeline.build`.

    Returns
    -------
    PacketResult
    """
    from geomap.pipeline.manifest import dataset_provenance, software_versions
    from geomap.render.maps import MapBuilder, MapPanel

    if not builds:
        raise ParameterError("the packet needs at least one (recipe, region) pair")
    _check_packet_regions([region for _, region in builds])
    target = check_output_path(out)
    check_replaceable(target, overwrite=overwrite)  # before any work; again at the rename
    cat = catalog or load_catalog()
    states: list[BuildState] = []
    for recipe, region in tqdm(builds, desc="packet", unit="region", disable=not progress):
        states.append(
            run_stages(
                recipe,
                region=region,
                resolution_m=(resolutions or {}).get(region),
                use_cache=use_cache,
                cache_dir=cache_dir,
                catalog=cat,
            )
        )
    summary = pd.DataFrame([_summary_row(s) for s in states])
    overlays: list[tuple[BuildState, GeochemOverlay, gpd.GeoDataFrame, Any]] = []
    if geochemistry:
        for s in states:
            overlay = GEOCHEM_OVERLAYS.get(s.region.id)
            if overlay is None:
                continue
            anomaly = None
            if overlay.anomaly_recipe is not None:
                anomaly_state = run_stages(
                    overlay.anomaly_recipe,
                    region=s.region.id,
                    resolution_m=s.settings["resolution_m"],
                    use_cache=use_cache,
                    cache_dir=cache_dir,
                    catalog=cat,
                )
                anomaly = anomaly_state.layers.prediction["prospectivity"]
            samples = geochem_samples(overlay, s.region.id, catalog=cat)
            overlays.append((s, overlay, samples, anomaly))
    datasets = list(dict.fromkeys(d for s in states for d in s.datasets))
    datasets += [o.dataset for _, o, _, _ in overlays if o.dataset not in datasets]
    for _, o, _, _ in overlays:
        if o.anomaly_recipe is not None:
            from geomap.recipes import load_recipe

            recipe_datasets = load_recipe(o.anomaly_recipe, catalog=cat).datasets
            datasets += [d for d in recipe_datasets if d not in datasets]
    panels = [
        MapPanel(
            label=_short_label(s.region.name),
            region=s.region,
            prospectivity=s.layers.prediction["prospectivity"],
            uncertainty=s.layers.prediction.get("uncertainty"),
            coverage=s.layers.prediction.get("coverage"),
            occurrences=s.layers.occurrences,
            faults=s.layers.faults,
            targets=s.layers.targets,
            evidence=s.layers.evidence(),
        )
        for s in states
    ]
    files: dict[str, Path] = {}
    with atomic_dir(target, overwrite=overwrite) as tmp:
        builder = MapBuilder(title=title, catalog=cat)
        builder.add_datasets(datasets)
        for panel in panels:
            builder.add_panel(panel)
        for s, overlay, samples, anomaly in overlays:
            group = f"{_short_label(s.region.name)}: REE geochemistry"
            if anomaly is not None:
                builder.add_raster(
                    anomaly,
                    name=f"{s.region.name}: REE anomaly ({overlay.label}; knowledge-driven, "
                    "not validated: no REE deposits)",
                    kind="evidence",
                    group=group,
                    show=True,
                    units="fuzzy membership",
                )
            builder.add_vectors(
                samples,
                name=f"{s.region.name}: {overlay.label} ({len(samples)} samples)",
                kind="sample",
                group=group,
                show=False,
                color_by="ree_class",
                fields=[c for c in samples.columns if c != samples.geometry.name],
                title_field="sample_id",
                title_prefix="Sample ",
            )
        builder.add_table(_human_summary(summary), title="Summary")
        builder.save(tmp / "packet.html")
        files["packet.html"] = tmp / "packet.html"
        gpkg = tmp / "packet.gpkg"
        _write_packet_geopackage(
            gpkg, states, overlays, summary=summary, datasets=datasets, catalog=cat
        )
        files["packet.gpkg"] = gpkg
        files["packet.qgs"] = gpkg.with_suffix(".qgs")
        everything = _all_targets(states)
        with atomic_path(tmp / "targets.geojson") as part:
            part.write_text(everything.to_json(drop_id=True), encoding="utf-8")
        files["targets.geojson"] = tmp / "targets.geojson"
        plain = pd.DataFrame(everything.drop(columns="geometry"))
        write_csv(plain, tmp / "targets.csv", float_format="%.6g", lineterminator="\n")
        files["targets.csv"] = tmp / "targets.csv"
        write_csv(summary, tmp / "summary.csv", float_format="%.6g", lineterminator="\n")
        files["summary.csv"] = tmp / "summary.csv"
        notes = [
            f"- {markdown_text(s.region.name)}: {len(samples)} {overlay.label} samples "
            f"({markdown_code(overlay.dataset)}) with their REE score ({overlay.index}, "
            "robust z) in the map popups"
            + (
                f"; REE anomaly from {markdown_code(overlay.anomaly_recipe)} (knowledge-driven "
                "fuzzy overlay: there are no REE deposits to validate it against)"
                if anomaly is not None
                else ""
            )
            + "."
            for s, overlay, samples, anomaly in overlays
        ]
        caveats = [
            (f"{s.region.name} — {s.recipe.name} ({s.model.model_name})", model_caveats(s))
            for s in states
        ]
        text = _summary_markdown(
            title, summary, cat.attribution(datasets), notes=notes, caveats=caveats
        )
        (tmp / "summary.md").write_text(text, encoding="utf-8")
        files["summary.md"] = tmp / "summary.md"
        write_json(
            tmp / "manifest.json",
            {
                "geomap_manifest": 1,
                "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "builds": [{**s.settings, "cache_keys": dict(s.context.keys)} for s in states],
                "datasets": dataset_provenance(cat, datasets),
                "software": software_versions(),
                "outputs": file_hashes(tmp),
            },
        )
        files["manifest.json"] = tmp / "manifest.json"
    return PacketResult(
        out=target,
        files={name: target / path.relative_to(tmp) for name, path in files.items()},
        summary=summary,
    )
