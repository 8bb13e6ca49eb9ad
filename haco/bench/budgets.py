"""`haco bench budgets`: what a profile's steps cost, against issue 14's budgets.

    one-time steps   twins + pretraining, built once per recipe      budget 45 min
    a trial          one row x seed of the loss study                 budget 6 min
    the loss study   `python sweeps/losses.py` once the above exist   budget 60 min

Nothing is re-run: a build takes minutes and a study an hour, so the figures are the
recorded ones, each named with its source. The twins' build time is the one written by
the last build that generated samples into this profile's twin directory
(haco.synth.generate.BUILD_RECORD); the pretraining's is its MLflow run in `haco/pretrain`
(set and training seconds); a trial's is the `sweep/trial_seconds` of the loss study's
FINISHED trial runs of this profile on these twins (a child run starts with its launch, so
its end - start would count the queue); the study's is the trials' count times the
median trial, since trials run one after another on 2 cores (a launch that ran only some
rows says so). A step with no record prints what to run to get one.

Run: haco bench budgets [profile=quick] [data.seed=...]
"""

from __future__ import annotations

import json
import statistics

from omegaconf import DictConfig

from haco import ledger
from haco.ledger import TRIAL_SECONDS, Status, Tag


def twins_seconds(cfg: DictConfig) -> tuple[float | None, str]:
    from haco.synth.generate import BUILD_RECORD
    from haco.synth.layout import synth_dir

    record = synth_dir(cfg) / BUILD_RECORD
    if not record.is_file():
        return None, f"no build record in {record.parent} (run: haco data synth)"
    found = json.loads(record.read_text())
    seconds = found["seconds"] * found["of"] / max(found["samples"], 1)  # a resumed build
    return seconds, (f"{record}: {found['samples']} of {found['of']} samples in "
                     f"{found['seconds']:.0f} s on {found['workers']} workers")


def pretrain_seconds(cfg: DictConfig, client) -> tuple[float | None, str]:
    from haco.pretrain.train import weights_path

    if cfg.model.pretrained != "twin":
        return 0.0, "the profile does not pretrain (model.pretrained is not twin)"
    path = str(weights_path(cfg))
    found = client.get_experiment_by_name(ledger.experiment_name("pretrain"))
    runs = ledger.runs(client, found.experiment_id, ledger.tag_is(Tag.PRETRAIN_WEIGHTS, path),
                       newest_first=True) if found else []
    if not runs:
        return None, f"no haco/pretrain run for {path} (run: haco pretrain)"
    metrics = runs[0].data.metrics
    return metrics["pretrain/seconds"], (f"MLflow run {runs[0].info.run_id[:8]}: set "
                                         f"{metrics['pretrain/set_seconds']:.0f} s, total")


def trial_seconds(cfg: DictConfig, client) -> tuple[list[float], set[str]]:
    """Wall seconds of the loss study's FINISHED trials of this profile on these twins (the
    same data key, so the same generator, sizes and data seed), and their rows."""
    from haco.config import data_key

    found = client.get_experiment_by_name(ledger.experiment_name("losses"))
    if found is None:
        return [], set()
    runs = ledger.runs(client, found.experiment_id, ledger.both(
        ledger.TRIALS, ledger.tag_is(Tag.PROFILE, str(cfg.profile)),
        ledger.status_is(Status.FINISHED), ledger.tag_is(Tag.DATA_KEY, data_key(cfg))))
    trials = [r for r in runs if TRIAL_SECONDS in r.data.metrics]
    return ([r.data.metrics[TRIAL_SECONDS] for r in trials],
            {r.data.tags[Tag.ROW] for r in trials})


def measure(cfg: DictConfig) -> list[tuple[str, float | None, float, str]]:
    """[(step, seconds or None, budget seconds, source)]."""
    from haco import tracking
    from haco.sweep.study import seed_list

    budget = cfg.budgets
    client = tracking.client(cfg)
    twins, twins_src = twins_seconds(cfg)
    pre, pre_src = pretrain_seconds(cfg, client)
    one_time = None if twins is None or pre is None else twins + pre
    times, rows = trial_seconds(cfg, client)
    median = statistics.median(times) if times else None
    cells = len(cfg.study.cells)
    planned = cells * len(seed_list(cfg.seeds))
    return [
        ("twins", twins, budget.one_time_minutes * 60, twins_src),
        ("pretraining", pre, budget.one_time_minutes * 60, pre_src),
        ("one-time steps", one_time, budget.one_time_minutes * 60, "twins + pretraining"),
        ("trial (median)", median, budget.trial_minutes * 60,
         f"{len(times)} FINISHED loss-study trials of profile {cfg.profile}, these twins"
         if times else "no finished trial (run: python sweeps/losses.py)"),
        ("trial (slowest)", max(times) if times else None, budget.trial_minutes * 60,
         f"over {len(rows)} of {cells} rows" if times else ""),
        ("loss study", None if median is None else planned * median,
         budget.study_minutes * 60, f"{planned} trials x the median trial, one at a time"),
    ]


def bench_command(cfg: DictConfig) -> int:
    table = measure(cfg)
    print(f"budgets of profile {cfg.profile} (data seed {cfg.data.seed}, seeds={cfg.seeds}); "
          "recorded times, nothing re-run")
    print(f"{'step':<17}{'minutes':>9}{'budget':>8}{'ratio':>7}  source")
    for step, seconds, limit, source in table:
        minutes = "-" if seconds is None else f"{seconds / 60:.1f}"
        ratio = "-" if seconds is None else f"{seconds / limit:.2f}"
        print(f"{step:<17}{minutes:>9}{limit / 60:>8.0f}{ratio:>7}  {source}")
    return 0

