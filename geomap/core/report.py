"""What a reader changed: the ingest report attached to every dataset it returns."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

__all__ = ["IngestReport"]


@dataclass
class IngestReport:
    """Counts of what was read, normalized, repaired and dropped, with reasons.

    Attach it to a result with ``obj.attrs["geomap_report"] = report.to_dict()``.

    Parameters
    ----------
    dataset_id : str
        The catalog id of the dataset read.
    records_in : int
        Records (rows, features, cells) found in the source.
    """

    dataset_id: str
    records_in: int = 0
    records_out: int = 0
    normalized: Counter[str] = field(default_factory=Counter)
    repaired: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def drop(self, reason: str, count: int = 1) -> None:
        """Record ``count`` records dropped for ``reason``."""
        if count:
            self.dropped[reason] += count

    def repair(self, what: str, count: int = 1) -> None:
        """Record ``count`` records repaired (e.g. ``"invalid geometry made valid"``)."""
        if count:
            self.repaired[what] += count

    def normalize(self, what: str, count: int = 1) -> None:
        """Record ``count`` values normalized (e.g. ``"units converted to ppm"``)."""
        if count:
            self.normalized[what] += count

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable summary."""
        return {
            "dataset_id": self.dataset_id,
            "records_in": self.records_in,
            "records_out": self.records_out,
            "normalized": dict(self.normalized),
            "repaired": dict(self.repaired),
            "dropped": dict(self.dropped),
            "unmapped": dict(self.unmapped.most_common()),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> IngestReport:
        """Rebuild a report from :meth:`to_dict` output (e.g. ``frame.attrs["geomap_report"]``).

        Keys other than those written by :meth:`to_dict` (such as the per-dataset
        ``datasets`` list of :func:`geomap.read_occurrences`) are not part of the report
        and are ignored.

        Examples
        --------
        >>> report = IngestReport("demo", records_in=3, records_out=2)
        >>> report.drop("no coordinates")
        >>> IngestReport.from_dict(report.to_dict()) == report
        True
        """
        report = cls(
            dataset_id=str(payload.get("dataset_id", "")),
            records_in=int(payload.get("records_in") or 0),
            records_out=int(payload.get("records_out") or 0),
        )
        for section in ("normalized", "repaired", "dropped", "unmapped"):
            getattr(report, section).update(dict(payload.get(section) or {}))
        report.notes.extend(str(note) for note in payload.get("notes") or [])
        return report

    def summary(self) -> str:
        """Return a short human-readable summary (for the CLI and notebooks)."""
        lines = [f"{self.dataset_id}: {self.records_in} records read, {self.records_out} kept"]
        for title, counter in (
            ("normalized", self.normalized),
            ("repaired", self.repaired),
            ("dropped", self.dropped),
        ):
            for reason, count in counter.most_common():
                lines.append(f"  {title}: {count} {reason}")
        if self.unmapped:
            total = sum(self.unmapped.values())
            top = ", ".join(f"{k!r} x{v}" for k, v in self.unmapped.most_common(10))
            lines.append(
                f"  unmapped names: {total} occurrences of {len(self.unmapped)} names ({top})"
            )
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        changed = ", ".join(
            f"{sum(counter.values())} {title}"
            for title, counter in (
                ("normalized", self.normalized),
                ("repaired", self.repaired),
                ("dropped", self.dropped),
                ("unmapped names", self.unmapped),
            )
            if counter
        )
        return (
            f"<IngestReport {self.dataset_id}: {self.records_in} read, {self.records_out} kept"
            + (f"; {changed}" if changed else "")
            + ">"
        )

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{title}</td><td>{escape(str(reason))}</td>"
            f"<td style='text-align:right'>{count}</td></tr>"
            for title, counter in (
                ("normalized", self.normalized),
                ("repaired", self.repaired),
                ("dropped", self.dropped),
            )
            for reason, count in counter.most_common()
        )
        table = (
            "<table><tr><th></th><th>what</th><th>records</th></tr>" + rows + "</table>"
            if rows
            else "<p>nothing normalized, repaired or dropped</p>"
        )
        unmapped = ""
        if self.unmapped:
            top = ", ".join(
                f"<code>{escape(str(name))}</code> &times;{count}"
                for name, count in self.unmapped.most_common(10)
            )
            more = len(self.unmapped) - 10
            unmapped = (
                f"<p>unmapped names ({sum(self.unmapped.values())} occurrences of "
                f"{len(self.unmapped)} names): {top}{f' and {more} more' if more > 0 else ''}</p>"
            )
        notes = "".join(f"<li>{escape(str(note))}</li>" for note in self.notes)
        return (
            f"<b>ingest report</b> <code>{escape(self.dataset_id)}</code>: "
            f"{self.records_in} records read, {self.records_out} kept"
            + table
            + unmapped
            + (f"<ul>{notes}</ul>" if notes else "")
        )
