"""Where a run's numbers came from: the data it read and the software and machine it ran on.

    dataset inputs   one per split a trial reads (MLflow `log_inputs`): its name
                     (`synth:MOW/train`), a content digest of its shards, the source (the
                     twins' recipe key, or the import's records directory and date) and
                     the context (training, validation, test, init)
    environment      the artifact environment.txt (every installed package, pinned) and
                     tags: Python, torch, CUDA, cuDNN, GPU name and count, CPU model

A split's digest hashes every file of every shard (arrays and meta); it is cached beside
the split, keyed by the shards' names, sizes and modification times, so a trial pays for
it once per split, not once per run.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from haco import ledger
from haco.atomic import write_json
from haco.data import catalogue
from haco.data.integrity import hash_file, import_report_of

DIGEST_CACHE = "digest.json"   # in a split directory: {"key": <listing>, "digest": <hex>}
CONTEXTS = {"train": "training", "val": "validation", "test": "test", "init": "init"}


def listing(split_dir: Path) -> list[list]:
    """[name, size, mtime_ns] of every file of every shard: what the cached digest is of."""
    return [[str(p.relative_to(split_dir)), p.stat().st_size, p.stat().st_mtime_ns]
            for p in sorted(split_dir.glob("shard-*/*")) if p.is_file()]


def split_digest(split_dir: Path) -> str:
    """16 hex digits of sha256 over every shard file's name and bytes (cached)."""
    split_dir = Path(split_dir)
    files = listing(split_dir)
    cache = split_dir / DIGEST_CACHE
    if cache.is_file():
        saved = json.loads(cache.read_text())
        if saved.get("key") == files:
            return saved["digest"]
    hasher = hashlib.sha256()
    for name, *_ in files:
        hasher.update(name.encode())
        hash_file(hasher, split_dir / name)
    digest = hasher.hexdigest()[:16]
    write_json(cache, {"key": files, "digest": digest})
    return digest


def source_of(name: str, split_dir: Path) -> tuple[str, str]:
    """(source type, source) of a split: a twin's recipe, or where a real one came from."""
    if name.startswith("synth:"):
        return "haco-twin", json.dumps({"recipe": split_dir.parents[1].name,
                                        "generator": "haco.synth"})
    report = import_report_of(split_dir)
    if not report.is_file():
        return "haco-import", json.dumps({"input": None, "imported": None})
    when = datetime.fromtimestamp(report.stat().st_mtime, UTC)
    return "haco-import", json.dumps({"input": json.loads(report.read_text()).get("input"),
                                      "imported": when.isoformat(timespec="seconds")})


def dataset_inputs(cfg) -> list:
    """MLflow DatasetInputs of every split a trial of `cfg` reads."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    inputs = []
    splits = catalogue.trial_splits(cfg)
    for role, dirs in vars(splits).items():
        for name, split_dir in dirs.items():
            kind, source = source_of(name, split_dir)
            dataset = Dataset(name=f"{name}/{catalogue.ROLE_SPLITS[role]}",
                              digest=split_digest(split_dir), source_type=kind, source=source)
            inputs.append(DatasetInput(dataset, tags=[
                InputTag("mlflow.data.context", CONTEXTS[role])]))
    return inputs


def packages() -> str:
    """Every installed distribution, pinned, sorted: `name==version` per line."""
    found = {(d.metadata["Name"] or "?").lower(): d.version for d in metadata.distributions()}
    return "\n".join(f"{name}=={version}" for name, version in sorted(found.items())) + "\n"


def machine() -> dict[str, str]:
    """Tags naming the software and hardware a run ran on."""
    import torch

    cuda = torch.cuda.is_available()
    return {
        ledger.Tag.PYTHON: platform.python_version(),
        ledger.Tag.TORCH: torch.__version__,
        ledger.Tag.CUDA: str(torch.version.cuda or "none"),
        ledger.Tag.CUDNN: str(torch.backends.cudnn.version() if cuda else "none"),
        ledger.Tag.GPU: torch.cuda.get_device_name(0) if cuda else "none",
        ledger.Tag.GPU_COUNT: str(torch.cuda.device_count() if cuda else 0),
        ledger.Tag.CPU: cpu_model(),
    }


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def log_provenance(client, run_id: str, cfg) -> None:
    """The run's dataset inputs, environment.txt and machine tags."""
    client.log_inputs(run_id, datasets=dataset_inputs(cfg))
    client.log_text(run_id, packages(), "environment.txt")
    ledger.set_tags(client, run_id, machine())
