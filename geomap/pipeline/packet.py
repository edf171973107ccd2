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
import pandas as pd
from tqdm import tqdm

from geomap.catalog import Catalog, load_catalog
from geomap.core.atomic import atomic_dir, atomic_path
from geomap.errors import OutputExistsError, ParameterError
from geomap.pipeline.outputs import file_hashes, write_json
from geomap.pipeline.runner import BuildState, run_stages

__all__ = ["DEFAULT_PACKET", "PacketResult", "build_packet"]

DEFAULT_PACKET: tuple[tuple[str, str], ...] = (
    ("carbonatite-ree", "conus"),
    ("kuroko-vms", "japan"),
)
"""The joint US–Japan packet: carbonatite REE in the US, Kuroko VMS in Japan."""


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

        head = f"<b>geomap packet</b> &rarr; <code>{escape(str(self.out))}</code>"
        return head + self.summary.to_html(index=False)  # to_html escapes cell text


def _summary_row(state: BuildState) -> dict[str, Any]:
    auc = state.model.metrics.get("spatial_cv", {}).get("auc", {})
    targets = state.layers.targets
    top = targets.head(3)
    return {
        "region": state.region.id,
        "region_name": state.region.name,
        "recipe": state.recipe.id,
        "mineral_system": state.recipe.name,
        "model": state.model.model_name,
        "resolution_km": state.settings["resolution_m"] / 1000,
        "held_out_auc": auc.get("held_out"),
        "n_training_occurrences": state.model.metrics.get("diagnostics", {}).get("n_occurrences"),
        "n_targets": len(targets),
        "target_area_km2": float(targets["area_km2"].sum()) if len(targets) else 0.0,
        "top_targets": "; ".join(
            f"#{r.rank} {r.state or r.country or '?'} ({r.area_km2:.0f} km²)"
            for r in top.itertuples()
        ),
    }


def _all_targets(states: Sequence[BuildState]) -> gpd.GeoDataFrame:
    frames = []
    for state in states:
        frame = state.layers.targets.to_crs("EPSG:4326")
        frame.insert(0, "region", state.region.id)
        frame.insert(1, "recipe", state.recipe.id)
        frames.append(frame)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")


def build_packet(
    builds: Sequence[tuple[str, str]] = DEFAULT_PACKET,
    *,
    out: str | Path = "geomap-packet",
    overwrite: bool = False,
    resolutions: dict[str, float] | None = None,
    title: str = "US–Japan joint survey planning",
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
    use_cache, cache_dir, progress, catalog
        As for :func:`geomap.pipeline.build`.

    Returns
    -------
    PacketResult
    """
    from geomap.export.gpkg import write_geopackage
    from geomap.pipeline.manifest import dataset_provenance, software_versions
    from geomap.render.maps import MapPanel, joint_map

    if not builds:
        raise ParameterError("the packet needs at least one (recipe, region) pair")
    target = Path(out)
    if target.exists() and not overwrite:
        raise OutputExistsError(
            f"output folder {target} already exists; pass --overwrite to replace it"
        )
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
    datasets = list(dict.fromkeys(d for s in states for d in s.datasets))
    panels = [
        MapPanel(
            label=s.region.name,
            region=s.region,
            prospectivity=s.layers.prediction["prospectivity"],
            uncertainty=s.layers.prediction.get("uncertainty"),
            coverage=s.layers.prediction.get("coverage"),
            occurrences=s.layers.occurrences,
            faults=s.layers.faults,
            targets=s.layers.targets,
        )
        for s in states
    ]
    files: dict[str, Path] = {}
    with atomic_dir(target, overwrite=overwrite) as tmp:
        joint_map(
            panels,
            title=title,
            datasets=datasets,
            summary=summary,
            path=tmp / "packet.html",
            catalog=cat,
        )
        files["packet.html"] = tmp / "packet.html"
        vectors: dict[str, Any] = {}
        rasters: dict[str, Any] = {}
        for s in states:
            prefix = s.region.id.replace("-", "_")
            vectors[f"{prefix}_targets"] = s.layers.targets
            vectors[f"{prefix}_occurrences"] = s.layers.occurrences
            if s.layers.faults is not None and len(s.layers.faults):
                vectors[f"{prefix}_faults"] = s.layers.faults
            for name in ("prospectivity", "uncertainty", "coverage"):
                if name in s.layers.prediction:
                    rasters[f"{prefix}_{name}"] = s.layers.prediction[name]
        gpkg = tmp / "packet.gpkg"
        write_geopackage(
            gpkg,
            vectors=vectors,
            rasters=rasters,
            tables={"summary": summary},
            datasets=datasets,
            parameters={"builds": [s.settings for s in states]},
            catalog=cat,
            qgis_project=True,
            regions=[s.region.id for s in states],
        )
        files["packet.gpkg"] = gpkg
        files["packet.qgs"] = gpkg.with_suffix(".qgs")
        everything = _all_targets(states)
        with atomic_path(tmp / "targets.geojson") as part:
            part.write_text(everything.to_json(drop_id=True), encoding="utf-8")
        files["targets.geojson"] = tmp / "targets.geojson"
        plain = pd.DataFrame(everything.drop(columns="geometry"))
        plain.to_csv(tmp / "targets.csv", index=False, float_format="%.6g", lineterminator="\n")
        files["targets.csv"] = tmp / "targets.csv"
        summary.to_csv(tmp / "summary.csv", index=False, float_format="%.6g", lineterminator="\n")
        files["summary.csv"] = tmp / "summary.csv"
        lines = [f"# {title}", "", "| " + " | ".join(summary.columns) + " |"]
        lines.append("|" + "|".join("---" for _ in summary.columns) + "|")
        lines += [
            "| " + " | ".join(str(v) for v in row) + " |" for row in summary.itertuples(index=False)
        ]
        lines += [
            "",
            "Each region was computed in its own equal-area analysis CRS; see packet.html.",
            "",
        ]
        lines += ["## Attribution", "", cat.attribution(datasets), ""]
        (tmp / "summary.md").write_text("\n".join(lines), encoding="utf-8")
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
