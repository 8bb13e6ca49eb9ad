"""What an import did: the tally of its records, the report file, the failure message.

The report (`<data root>/real/<dataset>/<split>.import_report.json`) holds the counts
(records, imported, skipped), the threshold used, every skipped record with its reason,
and notes; it is written whether or not the import passed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from haco.data.import_request import ImportRequest
from haco.labels import PROVIDED

SHOWN_REASONS = 5   # skipped records printed on failure; the report has all of them
SHOWN_IDS = 10      # record ids listed per note in the report


@dataclass
class Tally:
    """What happened to the records of one import."""

    records: int = 0
    imported: int = 0
    shards: int = 0
    skipped: list[dict] = field(default_factory=list)            # {"id", "reason"}
    labels_from: Counter = field(default_factory=Counter)
    notes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # -> ids

    @property
    def failure_share(self) -> float:
        return len(self.skipped) / self.records if self.records else 1.0

    def passes(self, max_failures: float) -> bool:
        return self.imported > 0 and self.failure_share <= max_failures

    def add(self, part: Tally) -> None:
        """Count `part` (the next chunk of records, in order) into this tally."""
        self.records += part.records
        self.imported += part.imported
        self.shards += part.shards
        self.skipped.extend(part.skipped)
        self.labels_from.update(part.labels_from)
        for note, ids in part.notes.items():
            self.notes[note].extend(ids)

    def as_json(self) -> dict:
        return {"records": self.records, "imported": self.imported, "shards": self.shards,
                "skipped": self.skipped, "labels_from": dict(self.labels_from),
                "notes": dict(self.notes)}

    @classmethod
    def from_json(cls, saved: dict) -> Tally:
        tally = cls(saved["records"], saved["imported"], saved["shards"], saved["skipped"],
                    Counter(saved["labels_from"]))
        for note, ids in saved["notes"].items():
            tally.notes[note].extend(ids)
        return tally


def make_report(request: ImportRequest, tally: Tally, passed: bool) -> dict:
    threshold = request.dataset.threshold
    return {
        "dataset": request.dataset.name,
        "split": request.split,
        "group": request.dataset.group,
        "status": "imported" if passed else "failed",
        "input": str(request.input_dir),
        "output": str(request.split_dir) if passed else None,
        "records": tally.records,
        "imported": tally.imported,
        "skipped": len(tally.skipped),
        "failure_share": round(tally.failure_share, 6),
        "max_failures": request.max_failures,
        "threshold": threshold if threshold == PROVIDED else float(threshold),  # metres
        "labels_from": dict(tally.labels_from),
        "image_size": request.image_size,
        "shards": tally.shards if passed else 0,
        "skipped_records": tally.skipped,
        "notes": _notes(tally, passed),
    }


def _notes(tally: Tally, passed: bool) -> list[str]:
    notes = []
    for message, ids in tally.notes.items():
        shown = ", ".join(ids[:SHOWN_IDS]) + (f" and {len(ids) - SHOWN_IDS} more"
                                              if len(ids) > SHOWN_IDS else "")
        notes.append(f"{message}: {len(ids)} record(s) ({shown})")
    if not passed:
        notes.append("nothing was imported: a previous import of this split, if any, is "
                     "unchanged")
    return notes


def failure_message(request: ImportRequest, tally: Tally) -> str:
    why = (f"{len(tally.skipped)} of {tally.records} records skipped "
           f"({tally.failure_share:.1%} > max_failures {request.max_failures:.1%})"
           if tally.imported else f"none of the {tally.records} records could be imported")
    head = (f"haco data import: {request.label}: {why}; nothing imported, any previous "
            "import left as it was.")
    lines = [head]
    lines += [f"  {s['id']}: {s['reason']}" for s in tally.skipped[:SHOWN_REASONS]]
    if len(tally.skipped) > SHOWN_REASONS:
        lines.append(f"  ... and {len(tally.skipped) - SHOWN_REASONS} more")
    lines.append(f"full report: {request.report_path}")
    return "\n".join(lines)
