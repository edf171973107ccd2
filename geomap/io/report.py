"""What a reader changed: the ingest report attached to every dataset it returns."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
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
