"""`haco data import`: a real dataset, as local files, into the shard format.

Run: `haco data import dataset=MOW split=test input=/data/mow_records [max_failures=0.05]`

The command (checked first: haco/data/import_request.py) reads every record (the record
format: haco/data/records.py), writes the good ones as shards, reports what it did
(haco/data/import_report.py) and publishes the split only if the import passed.

Output
------
- `<data root>/real/<dataset>/<split>/`: shards (see haco.data.shards) of `data.shard_size`
  samples, meta `dataset` = the plain name, `group` from the registry, ids = record names,
  and the cached label statistics.
- `<data root>/real/<dataset>/<split>.import_report.json`: counts (records, imported,
  skipped), the threshold used, every skipped record with its reason, and notes.

A bad record is skipped, with a reason naming the file and the problem. The import is kept
only when the share of skipped records is at most `max_failures` and at least one record was
imported; otherwise only the report is written and the exit code is 1. Everything is built
in the hidden sibling `.<split>.importing-<pid>` and renamed into place at the end, so the
split directory is always either the previous complete import or the new complete one.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np

from haco.atomic import replace_dir, write_json
from haco.data import integrity
from haco.data.import_report import Tally, failure_message, make_report
from haco.data.import_request import ImportRequest, ImportRequestError, make_request
from haco.data.records import RecordError, Sample, list_records, read_sample
from haco.data.shards import ensure_stats, write_shard

_LEFTOVER_RE = re.compile(r"^\.(?P<split>.+)\.(?P<kind>importing|retired)-(?P<pid>\d+)$")


# ---------------------------------------------------------------------------- the import


class ShardWriter:
    """Writes samples as numbered shards, one as soon as it fills: memory holds one shard."""

    def __init__(self, split_dir: Path, meta: dict, shard_size: int):
        self.split_dir, self.meta, self.shard_size = split_dir, meta, shard_size
        self.shards = 0
        self._pending: list[Sample] = []

    def add(self, sample: Sample) -> None:
        self._pending.append(sample)
        if len(self._pending) >= self.shard_size:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        write_shard(self.split_dir, self.shards,
                    images=np.stack([s.image for s in batch]),
                    contacts=np.stack([s.contacts for s in batch]),
                    vertices=np.stack([s.vertices for s in batch]),
                    meta={**self.meta, "ids": [s.id for s in batch]})
        self.shards += 1


def build_split(request: ImportRequest, records: list[Path], split_dir: Path) -> Tally:
    """Read every record, writing the good ones as shards into `split_dir`."""
    from tqdm import tqdm

    meta = {"dataset": request.dataset.name, "split": request.split,
            "group": request.dataset.group}
    writer, tally = ShardWriter(split_dir, meta, request.shard_size), Tally(len(records))
    # disable=None: a progress bar on a terminal only, not in logs.
    for record in tqdm(records, desc=f"import {request.label}", unit="record", disable=None):
        try:
            sample = read_sample(record, request.dataset, request.image_size,
                                 request.mano_path)
        except RecordError as err:
            tally.skipped.append({"id": record.name, "reason": str(err)})
            continue
        writer.add(sample)
        tally.imported += 1
        tally.labels_from[sample.labels_from] += 1
        if sample.note:
            tally.notes[sample.note].append(sample.id)
    writer.flush()
    tally.shards = writer.shards
    return tally


def run_import(request: ImportRequest, records: list[Path]) -> tuple[Tally, dict]:
    """Import `records` into a hidden staging directory; swap it in only if it passes."""
    request.dataset_dir.mkdir(parents=True, exist_ok=True)
    clean_leftovers(request)
    staging = request.dataset_dir / f".{request.split}.importing-{os.getpid()}"
    try:
        tally = build_split(request, records, staging)
        passed = tally.passes(request.max_failures)
        if passed:
            integrity.seal(staging)  # its shards, so a deleted one is noticed
            ensure_stats(staging)  # computed before the swap: the split arrives complete
            # A previous import is set aside under a `retired` name that clean_leftovers
            # knows: a crash between the two renames leaves it there, to be put back.
            retired = request.dataset_dir / f".{request.split}.retired-{os.getpid()}"
            replace_dir(staging, request.split_dir, retired)
        report = make_report(request, tally, passed)
        write_json(request.report_path, report)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # a failed import; gone after a swap
    return tally, report


def clean_leftovers(request: ImportRequest) -> None:
    """Tidy up after imports of this split killed mid-way (their process is gone).

    A staging directory is deleted; a retired previous import is put back if the crash
    came before the new one was renamed in, deleted otherwise.
    """
    for path in request.dataset_dir.iterdir():
        match = _LEFTOVER_RE.match(path.name)
        if not match or match["split"] != request.split or _running(int(match["pid"])):
            continue
        if match["kind"] == "retired" and not request.split_dir.exists():
            os.rename(path, request.split_dir)
        else:
            shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether another process with this id runs on this machine (ours is not 'another')."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


# ---------------------------------------------------------------------------- command


def import_command(cfg) -> int:
    """`haco data import`: 0 imported, 1 too many bad records, 2 a wrong command."""
    try:
        request = make_request(cfg)
        records = list_records(request.input_dir)
        if not records:
            raise ImportRequestError(f"input {request.input_dir} has no record directories "
                                     "(one sub-directory per sample; see haco.data.records)")
    except ImportRequestError as err:
        print(f"haco data import: {err}", file=sys.stderr)
        return 2
    tally, _ = run_import(request, records)
    if not tally.passes(request.max_failures):
        print(failure_message(request, tally), file=sys.stderr)
        return 1
    print(f"imported {tally.imported} of {tally.records} {request.label} records "
          f"(skipped {len(tally.skipped)}) into {request.split_dir} "
          f"({tally.shards} shard(s)); report: {request.report_path}")
    return 0
