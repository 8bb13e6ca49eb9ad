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
in the hidden sibling `.<split>.importing` and renamed into place at the end, so the split
directory is always either the previous complete import or the new complete one.

Resuming: shard k holds the good records of chunk k of the sorted record list (`data.
shard_size` records; a chunk without one has no shard), and beside it in the staging
directory `.chunk-k.json` is that chunk's tally (imported ids' count, skipped records
with reasons, notes), written after the shard. An import stopped mid-way (Ctrl-C,
SIGTERM, a full disk) leaves both; the same command later skips the chunks done and its
report counts them all. The staging directory is the import's only while it holds
`<staging>/.lock`; `.import.json` there names what it is an import of (input, sizes, the
records' names), and a staging directory of another import is emptied first. A record
changed in place after an interrupted run is not read again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from haco import disk
from haco.atomic import replace_dir, write_json
from haco.config import digest
from haco.data import integrity
from haco.data.import_report import Tally, failure_message, make_report
from haco.data.import_request import ImportRequest, ImportRequestError, make_request
from haco.data.records import RecordError, list_records, read_sample
from haco.data.shards import clean_partials, ensure_stats, shard_name, write_shard

# Imports killed before resumable staging existed (`-<pid>`), and a previous import set
# aside during the swap.
_LEFTOVER_RE = re.compile(r"^\.(?P<split>.+)\.(?P<kind>importing|retired)-(?P<pid>\d+)$")
LOCK = ".lock"
IDENTITY = ".import.json"
CHUNK_TALLY = ".chunk-{:05d}.json"


# ---------------------------------------------------------------------------- one chunk


def chunks(records: list[Path], size: int) -> list[list[Path]]:
    """The records in fixed chunks of `size`, in order: chunk k becomes shard k."""
    return [records[start:start + size] for start in range(0, len(records), size)]


def build_chunk(request: ImportRequest, index: int, records: list[Path], staging: Path,
                bar) -> Tally:
    """Read the records of chunk `index`; write the good ones as shard `index`; its tally."""
    tally, samples = Tally(len(records)), []
    for record in records:
        bar.update()
        try:
            sample = read_sample(record, request.dataset, request.image_size,
                                 request.mano_path)
        except RecordError as err:
            tally.skipped.append({"id": record.name, "reason": str(err)})
            continue
        samples.append(sample)
        tally.imported += 1
        tally.labels_from[sample.labels_from] += 1
        if sample.note:
            tally.notes[sample.note].append(sample.id)
    if samples:
        meta = {"dataset": request.dataset.name, "split": request.split,
                "group": request.dataset.group, "ids": [s.id for s in samples]}
        shard = staging / shard_name(index)
        with disk.on_full(shard, disk.ShardSizes(request.image_size).shards(len(samples), 1)):
            # overwrite: a shard whose tally was not written yet when the import stopped
            write_shard(staging, index, images=np.stack([s.image for s in samples]),
                        contacts=np.stack([s.contacts for s in samples]),
                        vertices=np.stack([s.vertices for s in samples]), meta=meta,
                        overwrite=True)
        tally.shards = 1
    return tally


# ---------------------------------------------------------------------------- the split


def build_split(request: ImportRequest, records: list[Path], staging: Path) -> Tally:
    """Every chunk not done yet, then the tally of all of them."""
    from tqdm import tqdm

    total = Tally()
    # disable=None: a progress bar on a terminal only, not in logs.
    with tqdm(total=len(records), desc=f"import {request.label}", unit="record",
              disable=None) as bar:
        for index, chunk in enumerate(chunks(records, request.shard_size)):
            path = staging / CHUNK_TALLY.format(index)
            if path.is_file():
                part = Tally.from_json(read_json(path))
                bar.update(len(chunk))
            else:
                part = build_chunk(request, index, chunk, staging, bar)
                write_json(path, part.as_json())  # after the shard: the chunk is done
            total.add(part)
    return total


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def identity(request: ImportRequest, records: list[Path]) -> dict:
    """What a staging directory is an import of: a resumed import must be the same one."""
    return {"input": str(request.input_dir), "image_size": request.image_size,
            "shard_size": request.shard_size, "mano_path": request.mano_path,
            "records": len(records), "names": digest([r.name for r in records])}


def staging_of(request: ImportRequest) -> Path:
    return request.dataset_dir / f".{request.split}.importing"


def chunks_done(staging: Path, wanted: dict) -> set[int]:
    """Indices of the chunks a staging directory of the same import holds already."""
    if not (staging / IDENTITY).is_file() or read_json(staging / IDENTITY) != wanted:
        return set()
    return {int(p.name[len(".chunk-"):-len(".json")]) for p in staging.glob(".chunk-*.json")}


def bytes_needed(request: ImportRequest, records: list[Path], done: set[int]) -> int:
    """Disk bytes of the shards still to write (every record of those chunks imported)."""
    sizes = disk.ShardSizes(request.image_size)
    todo = [c for k, c in enumerate(chunks(records, request.shard_size)) if k not in done]
    return sizes.shards(sum(len(c) for c in todo), len(todo), splits=1)


@contextlib.contextmanager
def claimed(staging: Path, wanted: dict, label: str) -> Iterator[None]:
    """Hold the staging directory of this split for this import: locked (a second import
    of the split stops with an error), emptied first when it holds another import."""
    staging.mkdir(parents=True, exist_ok=True)
    with open(staging / LOCK, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImportRequestError(f"an import of {label} is running already (lock "
                                     f"{staging / LOCK}); wait for it to end") from None
        if not chunks_done(staging, wanted):
            for path in staging.iterdir():
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.name != LOCK:
                    path.unlink()
            write_json(staging / IDENTITY, wanted)
        clean_partials(staging)  # a shard a stopped import was writing
        yield


def publish(request: ImportRequest, staging: Path) -> None:
    """Make the complete staging directory the split, replacing a previous import."""
    for path in [staging / IDENTITY, *staging.glob(".chunk-*.json")]:
        path.unlink()
    integrity.seal(staging)  # its shards, so a deleted one is noticed
    ensure_stats(staging)  # computed before the swap: the split arrives complete
    # A previous import is set aside under a `retired` name that clean_leftovers knows:
    # a crash between the two renames leaves it there, to be put back.
    retired = request.dataset_dir / f".{request.split}.retired-{os.getpid()}"
    replace_dir(staging, request.split_dir, retired)
    (request.split_dir / LOCK).unlink()


def run_import(request: ImportRequest, records: list[Path]) -> tuple[Tally, dict]:
    """Import `records` into the split's staging directory (continuing a stopped import
    of the same records); swap it in only if it passes. Stopped mid-way, the staging
    directory stays for the next run."""
    staging, wanted = staging_of(request), identity(request, records)
    disk.require(request.dataset_dir,
                 bytes_needed(request, records, chunks_done(staging, wanted)))
    request.dataset_dir.mkdir(parents=True, exist_ok=True)
    clean_leftovers(request)
    with claimed(staging, wanted, request.label):
        tally = build_split(request, records, staging)
        passed = tally.passes(request.max_failures)
        if passed:
            publish(request, staging)
        else:
            shutil.rmtree(staging)  # a finished import that failed: nothing to resume
        report = make_report(request, tally, passed)
        write_json(request.report_path, report)
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
    try:
        tally, _ = run_import(request, records)
    except ImportRequestError as err:  # another import of the split is running
        print(f"haco data import: {err}", file=sys.stderr)
        return 2
    if not tally.passes(request.max_failures):
        print(failure_message(request, tally), file=sys.stderr)
        return 1
    print(f"imported {tally.imported} of {tally.records} {request.label} records "
          f"(skipped {len(tally.skipped)}) into {request.split_dir} "
          f"({tally.shards} shard(s)); report: {request.report_path}")
    return 0
