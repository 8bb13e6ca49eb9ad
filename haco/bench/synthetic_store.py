"""A synthetic MLflow store of a busy lab, for `haco bench tracking`: N runs shaped like the
ledger's (haco/ledger.py), written through MLflow's client in batches, no training.

The store is what years of launches leave: the grid studies (those the tables read) are
launched in turn, each launch a parent run and one trial run per row of the study's real
config, seeds 0, 1, 2 and then again after a change of code (a new config hash), with the
study's three input-blind baselines per code version. Trial runs carry the real tags, the
real flattened config as params and the metric names trials log: per-epoch history, the
test sets' precision/recall/F1/count overall and per hand region, data ratios and costs.
Values are random (seeded): the store measures reading, not results.

A built store is kept under `<cache>/bench-tracking/v<VERSION>-<runs>/` (built in a
`.partial` folder and renamed when whole) and reused while VERSION holds.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from haco import ledger, tracking
from haco.ledger import Kind, Status, Tag

VERSION = 1             # bump when the shape of the runs changes: stores are rebuilt
STUDIES = ("losses", "backbones", "datasets", "sampling", "init")  # the grid studies
SEEDS_PER_VERSION = 3   # launches of a study between two changes of its code
EPOCHS = 4              # per-epoch history steps of a trial run
HISTORY = ("train/loss", "train/vcb/778", "train/vcb/336", "train/vcb/84", "train/vcb/21",
           "train/reg", "train/smooth", "train/lr", "train/epoch_seconds",
           "val/precision", "val/recall", "val/f1", "val/best_threshold")
COSTS = ("cost/params_m", "cost/model_memory_mb", "cost/train_memory_mb", "cost/fps",
         "cost/gflops", "cost/train_seconds", "cost/device_hours", "cost/usd",
         "sweep/trial_seconds", "eval/threshold")
BASELINE_NAMES = ("All contact", "Vertex prior", "Dataset prior")
RUN_TAGS = {Tag.ATTEMPTS: "1", Tag.NODE: "10.0.0.7", Tag.PYTHON: "3.11.7",  # what a trial
            Tag.TORCH: "2.9.1", Tag.CUDA: "none", Tag.CUDNN: "none",   # adds as it runs
            Tag.GPU: "none", Tag.GPU_COUNT: "0", Tag.CPU: "AMD EPYC 7B13",
            Tag.CHECKPOINT: "/shared/runs/checkpoints/last.pt", Tag.RESUMED_AT: "0"}
START = 1_700_000_000_000  # the first run's start time (ms); each next run starts later


@dataclass(frozen=True)
class Template:
    """What one row of a study logs besides its values: tags and params."""

    study: str
    table: str
    row: str
    tags: dict[str, str]
    params: dict[str, str]


def templates(profile: str = "quick") -> dict[str, list[Template]]:
    """{study: one Template per row}, from the studies' real configs (seed 0)."""
    from haco.config import load_config
    from haco.sweep.study import expand

    out = {}
    for study in STUDIES:
        overrides = [f"study={study}", f"profile={profile}"]
        cfg = load_config("sweep", overrides)
        out[study] = [Template(study, str(cfg.study.table), spec.row,
                               ledger.trial_tags(spec.config, study, str(cfg.study.table),
                                                 spec.row, None),
                               tracking.flatten(spec.config))
                      for spec in expand(cfg, overrides) if spec.seed == 0]
    return out


def final_metrics(rng: random.Random) -> dict[str, float]:
    """A trial's end-of-run metrics: every test set overall and per region, data, costs."""
    from haco.hand import REGION_NAMES
    from haco.report.tables import TEST_SETS

    out: dict[str, float] = {}
    for test in TEST_SETS:
        for part in ("", *(f"{region}/" for region in REGION_NAMES)):
            for name in ("precision", "recall", "f1"):
                out[f"test/{test}/{part}{name}"] = rng.random()
            out[f"test/{test}/{part}count"] = float(rng.randint(1, 500))
        out[f"data/{test}/noncontact_ratio"] = rng.random()
    out.update({name: rng.uniform(1, 1000) for name in COSTS})
    return out


def trial_metrics(rng: random.Random) -> list[tuple[str, float, int]]:
    """[(key, value, step)]: the per-epoch history, then the finals at step 0."""
    history = [(key, rng.random(), step) for step in range(EPOCHS) for key in HISTORY]
    return history + [(key, value, 0) for key, value in final_metrics(rng).items()]


def schema_counts() -> tuple[int, int]:
    """(metric keys, metric values) of one synthetic trial run."""
    values = trial_metrics(random.Random(0))
    return len({key for key, _, _ in values}), len(values)


@dataclass(frozen=True)
class PlannedRun:
    """One run to write: its experiment's study, tags, params, metrics and status."""

    study: str
    name: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: list[tuple[str, float, int]]
    parent: bool = False  # a launch's parent: its trials that follow get its run id


def launches(runs: int, rows: dict[str, list[Template]], seed: int = 0
             ) -> list[list[PlannedRun]]:
    """`runs` runs, launch after launch (a list of runs each), the studies in turn."""
    rng, made, found = random.Random(seed), 0, []
    while made < runs:
        study = STUDIES[len(found) % len(STUDIES)]
        number = len(found) // len(STUDIES)           # the study's launch number
        version, trial_seed = divmod(number, SEEDS_PER_VERSION)
        batch = list(launch_runs(rows[study], version, trial_seed, rng))[:runs - made]
        found.append(batch)
        made += len(batch)
    return found


def launch_runs(rows: list[Template], version: int, seed: int, rng: random.Random
                ) -> Iterator[PlannedRun]:
    """One launch: its baselines when its code is new, its parent, a trial per row."""
    study = rows[0].study
    code = f"v{version}"  # a change of code: new config hashes, new baselines
    if seed == 0:
        for name in BASELINE_NAMES:
            yield PlannedRun(study, f"baseline: {name}", {
                Tag.KIND: Kind.BASELINE, Tag.BASELINE: name, Tag.STUDY: study,
                Tag.PROFILE: rows[0].tags[Tag.PROFILE], Tag.DATA: rows[0].tags[Tag.DATA],
                Tag.DATA_KEY: f"{rows[0].tags[Tag.DATA_KEY]}-{code}"}, {},
                [(key, value, 0) for key, value in final_metrics(rng).items()
                 if key.startswith("test/")])
    yield PlannedRun(study, f"{study} launch {code} s{seed}", {
        Tag.STUDY: study, Tag.TABLE: rows[0].table, Tag.LAUNCH: "true",
        Tag.PROFILE: rows[0].tags[Tag.PROFILE], Tag.DATA: rows[0].tags[Tag.DATA]}, {},
        [(f"sweep/{key}", rng.uniform(1, 100), 0) for key in
         ("trials_finished", "trials_failed", "wall_seconds", "estimated_wall_seconds")],
        parent=True)
    for row in rows:
        tags = {**row.tags, **RUN_TAGS, Tag.SEED: str(seed),
                Tag.DATA_KEY: f"{row.tags[Tag.DATA_KEY]}-{code}",
                Tag.CONFIG_HASH: f"{row.tags[Tag.CONFIG_HASH]}-{code}",
                Tag.COST_FAMILY: f"{row.tags[Tag.CONFIG_HASH]}-{code}",
                Tag.ESTIMATE: f"{rng.uniform(10, 1000):.1f}"}
        yield PlannedRun(study, f"{row.row} s{seed}", tags, {**row.params, "seed": str(seed)},
                         trial_metrics(rng))


def write(client, experiments: dict[str, str], planned: PlannedRun, start: int,
          parent: str | None) -> str:
    """One run through the client: created with its tags, its values in batches (MLflow
    takes at most 1000 metrics, 100 params and 100 tags per request), then FINISHED."""
    from mlflow.entities import Metric, Param

    tags = dict(planned.tags)
    if parent and not planned.parent and Tag.KIND not in tags:
        tags[Tag.PARENT] = parent
    run = client.create_run(experiments[planned.study], start_time=start, tags=tags,
                            run_name=planned.name)
    run_id = run.info.run_id
    metrics = [Metric(key, value, start, step) for key, value, step in planned.metrics]
    params = [Param(key, value) for key, value in planned.params.items()]
    for first in range(0, len(params), 100):
        client.log_batch(run_id, params=params[first:first + 100])
    for first in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[first:first + 1000])
    client.set_terminated(run_id, Status.FINISHED, end_time=start + 60_000)
    return run_id


def build(folder: Path, runs: int, rows: dict[str, list[Template]], workers: int = 2,
          progress=print) -> Path:
    """The store of `runs` runs in `folder` (its mlflow.db), built whole or not at all, by
    `workers` processes writing whole launches (SQLite serializes their commits)."""
    import multiprocessing

    database = folder / "mlflow.db"
    if database.exists():
        return database
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    uri = f"sqlite:///{partial / 'mlflow.db'}"
    client = tracking.open_client(uri)
    experiments = {s: ledger.experiment(client, s, (partial / "artifacts").as_uri())
                   for s in STUDIES}
    planned, first = launches(runs, rows), 0
    numbered = []  # (first run's number, launch): start times follow the launch order
    for launch in planned:
        numbered.append((first, launch))
        first += len(launch)
    started = time.monotonic()
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        done = 0
        for written in pool.imap_unordered(_write_launch, [(uri, experiments, n, launch)
                                                           for n, launch in numbered]):
            done += written
            if done // 1000 != (done - written) // 1000:
                progress(f"  {done} of {runs} runs written ({time.monotonic() - started:.0f} s)")
    partial.rename(folder)
    return database


def _write_launch(job) -> int:
    uri, experiments, first, launch = job
    client, parent = tracking.open_client(uri), None
    for number, planned in enumerate(launch, first):
        run_id = write(client, experiments, planned, START + number * 1000, parent)
        parent = run_id if planned.parent else parent
    return len(launch)
