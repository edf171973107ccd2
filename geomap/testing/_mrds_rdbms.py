"""The relational (tab-separated) MRDS release, ``rdbms-tab-all.zip``, as a small fixture."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

__all__ = ["MRDS_RDBMS_COLUMNS", "mrds_rdbms_zip"]


# ------------------------------------------------------------- MRDS, relational release

MRDS_RDBMS_COLUMNS = {
    "MRDS.txt": ["dep_id", "name", "dev_stat", "code_list", "latitude", "longitude"],
    "Location.txt": ["dep_id", "country", "state_prov", "county", "region"],
    "Commodity.txt": [
        *("dep_id", "line", "commod", "code", "commod_tp", "commod_group", "import"),
        *("inserted_by", "insert_date", "updated_by", "update_date"),
    ],
    "Deposits.txt": [
        *("dep_id", "rec_tp", "dev_st", "dep_tp", "oper_tp", "min_meth", "mill_meth"),
        *("mas_id", "mrds_id"),
    ],
    "Model.txt": ["dep_id", "model_name", "mod_cd", "usgs_num"],
}
"""Fields of the tables :func:`mrds_rdbms_zip` writes (as public parsers of the release read)."""


def _mrds_rdbms_tables(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    """Split MRDS CSV rows into the relational tables (the CSV is a digest of these)."""
    tables: dict[str, list[dict[str, str]]] = {name: [] for name in MRDS_RDBMS_COLUMNS}
    for row in rows:
        dep = row["dep_id"]
        lists = [
            (row.get(c, ""), tier)
            for c, tier in zip(
                ("commod1", "commod2", "commod3"), ("Primary", "Secondary", "Tertiary"), strict=True
            )
        ]
        names = [(n.strip(), tier) for text, tier in lists for n in text.split(", ") if n.strip()]
        tables["MRDS.txt"].append(
            {
                "dep_id": dep,
                "name": row.get("site_name", ""),
                "dev_stat": row.get("dev_stat", ""),
                "code_list": " ".join(n[:2].upper() for n, _ in names),
                "latitude": row.get("latitude", ""),
                "longitude": row.get("longitude", ""),
            }
        )
        tables["Location.txt"].append(
            {
                "dep_id": dep,
                "country": row.get("country", ""),
                "state_prov": row.get("state", ""),
                "county": row.get("county", ""),
                "region": row.get("region", ""),
            }
        )
        # written last line first: the reader orders a site's commodities by ``line``
        for line, (name, tier) in reversed(list(enumerate(names, start=1))):
            tables["Commodity.txt"].append(
                {
                    "dep_id": dep,
                    "line": str(line),
                    "commod": name,
                    "code": name[:2].upper(),
                    "commod_tp": "Metallic" if row.get("com_type") == "M" else "",
                    "import": tier,
                    "inserted_by": "USGS",
                    "insert_date": "2005-01-01",
                }
            )
        if row.get("dep_type") or row.get("oper_type") or row.get("mrds_id"):
            tables["Deposits.txt"].append(
                {
                    "dep_id": dep,
                    "rec_tp": "Site",
                    "dev_st": row.get("dev_stat", ""),
                    "dep_tp": row.get("dep_type", ""),
                    "oper_tp": row.get("oper_type", ""),
                    "mas_id": row.get("mas_id", ""),
                    "mrds_id": row.get("mrds_id", ""),
                }
            )
        if row.get("model"):
            tables["Model.txt"].append({"dep_id": dep, "model_name": row["model"]})
    return tables


def mrds_rdbms_zip(
    tmp: Path,
    *,
    rows: list[dict[str, str]] | None = None,
    encoding: str = "utf-8",
    leave_out: tuple[str, ...] = (),
    rename: dict[str, str] | None = None,
) -> Path:
    """``rdbms-tab-all.zip``: the MRDS tables as tab-separated text, one file per table.

    ``rows`` are sites in the CSV layout (:data:`geomap.testing.MRDS_ROWS` by default), split
    into the tables; ``leave_out`` drops tables, ``rename`` renames columns (bad-input tests).
    """
    target = tmp / "rdbms-tab-all.zip"
    tables = _mrds_rdbms_tables(rows if rows is not None else _csv_rows())
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, columns in MRDS_RDBMS_COLUMNS.items():
            if name in leave_out:
                continue
            buffer = io.StringIO()
            header = [(rename or {}).get(c, c) for c in columns]
            writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
            writer.writerow(header)
            for record in tables[name]:
                writer.writerow([record.get(c, "") for c in columns])
            archive.writestr(f"rdbms-tab-all/{name}", buffer.getvalue().encode(encoding))
    return target


def _csv_rows() -> list[dict[str, str]]:
    from geomap.testing import MRDS_ROWS

    return MRDS_ROWS
