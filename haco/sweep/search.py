"""A search study (sweeps/hpo.py): Optuna's TPE proposes trials, ASHA stops the weak ones.

    validate the space (every key a `train` key, both ends of every range a valid trial)
    earlier launches of the same search count: their ended trials reach TPE as known
    points and come off `search.samples`; trials a killed launch left unfinished are
    proposed again first and continue from their checkpoints, in their own runs
    connect, plan, twins, the input-blind baselines, then Ray Tune with OptunaSearch (TPE)
    and ASHA over `val/*`
    each proposal becomes a trial: its `train` config, an MLflow child run "trial NNN"
    after Tune: each trial's outcome (completed | pruned | failed) and objective in MLflow
    the best completed trial: printed, and written as a config `haco train` runs

A search is identified by its base config, space, objective and TPE seed (tag
`haco.hpo.search`); a different space or profile is a different search in the same study.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from omegaconf import OmegaConf

from haco import tracking
from haco.config import ConfigError
from haco.sweep import runs as study_runs
from haco.sweep.budget import Budget
from haco.sweep.study import TrialSpec, seed_list, storage_dir, trial_spec

SEARCH_TAG, TRIAL_TAG = "haco.hpo.search", "haco.hpo.trial"
PARAMS_TAG, OUTCOME_TAG = "haco.hpo.params", "haco.hpo.outcome"
GOAL_TAG = "haco.hpo.objective"      # "<mode> <metric>", e.g. "max val/f1"
OBJECTIVE = "hpo/objective"          # a trial's objective when it ended (step: its epoch)
ENDED = ("completed", "pruned", "failed")   # outcomes that use up a sample
DISTRIBUTIONS = ("loguniform", "uniform", "choice")


@dataclass(frozen=True)
class Dimension:
    """One searched key: `dist` over [low, high] or one of `values`."""

    key: str
    dist: str
    low: float | None = None
    high: float | None = None
    values: tuple = ()

    def optuna(self):
        from optuna.distributions import CategoricalDistribution, FloatDistribution

        if self.dist == "choice":
            return CategoricalDistribution(self.values)
        return FloatDistribution(self.low, self.high, log=self.dist == "loguniform")

    def ends(self) -> tuple:
        return (self.values[0], self.values[-1]) if self.dist == "choice" else (self.low,
                                                                                  self.high)


def dimension(entry) -> Dimension:
    """A `study.search.space` entry, checked."""
    key, dist = entry.get("key"), entry.get("dist")
    if not key or dist not in DISTRIBUTIONS:
        raise ConfigError(f"study.search.space entry {dict(entry)}: give key: <train key> "
                          f"and dist: one of {', '.join(DISTRIBUTIONS)}")
    if dist == "choice":
        values = tuple(entry.get("values") or ())
        if not values:
            raise ConfigError(f"study.search.space {key}: choice needs values: [a, b, ...]")
        return Dimension(key, dist, values=values)
    low, high = entry.get("low"), entry.get("high")
    if low is None or high is None or not float(low) < float(high):
        raise ConfigError(f"study.search.space {key}: {dist} needs low < high, got "
                          f"low={low} high={high}")
    if dist == "loguniform" and float(low) <= 0:
        raise ConfigError(f"study.search.space {key}: loguniform needs low > 0, got {low}")
    return Dimension(key, dist, float(low), float(high))


def overrides_of(params: dict) -> list[str]:
    """Hydra overrides setting the sampled values (repr keeps every digit of a float)."""
    return [f"{key}={value!r}" for key, value in params.items()]


class SearchPlan:
    """The search `cfg.study.search` describes, validated, and how a sample becomes a trial."""

    def __init__(self, cfg, overrides: list[str]):
        self.cfg, self.overrides = cfg, overrides
        search = cfg.study.search
        self.dims = [dimension(e) for e in search.space]
        if not self.dims:
            raise ConfigError("study.search.space is empty: give at least one key to search")
        self.objective, self.mode = str(search.objective), str(search.mode)
        if not self.objective.startswith("val/") or self.mode not in ("max", "min"):
            raise ConfigError(f"study.search.objective={self.objective} mode={self.mode}: the "
                              "objective must be a val/* metric (reported every epoch), the "
                              "mode max or min")
        if cfg.sweep.rows is not None:
            raise ConfigError("sweep.rows picks rows of a grid study; a search samples its "
                              "trials: drop sweep.rows (study.search.samples sets how many)")
        seeds = seed_list(cfg.seeds)
        if len(seeds) != 1:
            raise ConfigError(f"seeds={cfg.seeds}: a search runs one seed per sample; give "
                              "seeds=[k] for seed k")
        self.seed, self.samples = seeds[0], int(search.samples)
        if self.samples < 1:
            raise ConfigError(f"study.search.samples={self.samples}: must be >= 1")
        self.base = self.trial({}, 0)
        for end in (0, 1):  # both ends of every range build a valid trial
            self.trial({d.key: d.ends()[end] for d in self.dims}, 0)
        self.epochs = int(self.base.config.train.epochs)
        self.id = hashlib.sha256(json.dumps(
            [self.base.config_hash, OmegaConf.to_container(search.space), self.objective,
             self.mode, int(search.seed)], sort_keys=True, default=str).encode()).hexdigest()[:8]

    def trial(self, params: dict, number: int) -> TrialSpec:
        cell = SimpleNamespace(row=f"trial {number:03d}", overrides=[
            *self.cfg.study.search.overrides, *overrides_of(params)])
        try:
            return trial_spec(self.cfg, cell, self.overrides, self.seed)
        except ConfigError as err:
            raise ConfigError(f"study.search: the trial {params or 'base'} cannot be built: "
                              f"{err}") from None

    def best_path(self) -> Path:
        chosen = self.cfg.study.search.best_config
        return (Path(chosen).expanduser().resolve() if chosen
                else storage_dir(self.cfg, f"hpo-{self.id}") / "best.yaml")


def launch_search(cfg, overrides: list[str]) -> int:
    """Run (or resume) the search; 0 when it ends with a best configuration."""
    from haco.sweep.launch import ensure_floor, study_lock
    from haco.sweep.prepare import prepare_data
    from haco.sweep.resources import connect, wait_for_nodes

    plan = SearchPlan(cfg, overrides)
    Budget.from_cfg(cfg, 0)
    client = tracking.client(cfg)
    experiment = tracking.experiment_id(client, cfg, str(cfg.study.name))
    with study_lock(cfg):
        earlier = search_trials(client, experiment, plan.id)
        left = plan.samples - sum(run_outcome(r) in ENDED for r in earlier)
        if left <= 0:
            study_runs.retire_stale(client, experiment, keep=set())
            print(f"search {plan.id}: all {plan.samples} samples ended; nothing to launch")
            return finish(plan, client, earlier, None)
        where = connect(cfg)
        resources = wait_for_nodes(cfg)
        print_plan(plan, earlier, left, resources, where)
        if cfg.sweep.dry_run:
            return 0
        prepare_data([plan.base])
        ensure_floor(cfg, client, experiment, [plan.base])  # every trial reads its data
        return run_search(plan, client, experiment, earlier, left, resources)


def run_search(plan: SearchPlan, client, experiment: str, earlier: list, left: int,
               resources) -> int:
    from ray.tune.schedulers import ASHAScheduler

    from haco.sweep.launch import trial_errors, tune_until_done
    from haco.sweep.searchers import Resuming, StudySearch
    from haco.sweep.trial import Job

    cfg, start = plan.cfg, time.monotonic()
    parent = study_runs.start_parent(client, experiment, cfg, left, len(earlier))
    client.set_tag(parent, SEARCH_TAG, plan.id)
    study_runs.retire_stale(client, experiment, keep={parent})
    numbers = itertools.count(max((int(r.data.tags[TRIAL_TAG]) for r in earlier), default=0)
                              + 1)
    unfinished = {_params_key(r): r for r in earlier  # killed before it was tagged: gone
                  if run_outcome(r) not in ENDED and PARAMS_TAG in r.data.tags}

    def make_job(_, params: dict) -> Job:
        resumed = unfinished.get(_params_key(params))  # same config: same checkpoint, run
        number = int(resumed.data.tags[TRIAL_TAG]) if resumed else next(numbers)
        spec = plan.trial(params, number)
        run_id = study_runs.child_runs(client, experiment, cfg, [spec], parent,
                                       {spec.key: resumed} if resumed else {})[spec.key]
        for key, value in {SEARCH_TAG: plan.id, TRIAL_TAG: spec.row.split()[-1],
                           PARAMS_TAG: json.dumps(params),
                           GOAL_TAG: f"{plan.mode} {plan.objective}"}.items():
            client.set_tag(run_id, key, value)
        return Job(spec, run_id, tracking.tracking_uri(cfg), bool(cfg.sweep.log_checkpoint),
                   resources.gpus)

    pending = [json.loads(r.data.tags[PARAMS_TAG]) for r in unfinished.values()][:left]
    search = StudySearch(Resuming(optuna_search(plan, earlier), pending), make_job,
                         Budget.from_cfg(cfg, resources.gpus))
    asha = cfg.study.search.asha
    scheduler = ASHAScheduler(time_attr="epoch", metric=plan.objective, mode=plan.mode,
                              max_t=plan.epochs, grace_period=min(int(asha.grace_period),
                                                                  plan.epochs),
                              reduction_factor=float(asha.reduction_factor))
    results, stopped, outcomes = None, "user", {}
    try:
        results, stopped = tune_until_done(cfg, search, resources, left, scheduler)
    finally:
        run_ids = {job.spec.key: job.run_id for job in search.jobs.values()}
        if results is not None:
            outcomes = record_outcomes(client, plan, results)
        statuses = study_runs.settle(client, run_ids, trial_errors(results or []), {})
        study_runs.finish_parent(client, parent, statuses, time.monotonic() - start,
                                 stopped, search.budget,
                                 pruned=sum(o == "pruned" for o in outcomes.values()))
    if search.budget.capped:
        print(search.budget.summary())
    return finish(plan, client, search_trials(client, experiment, plan.id), parent)


def optuna_search(plan: SearchPlan, earlier: list):
    """OptunaSearch with TPE; the completed trials of earlier launches as known points."""
    from optuna.samplers import TPESampler
    from ray.tune.search.optuna import OptunaSearch

    known = [r for r in earlier if run_outcome(r) == "completed" and OBJECTIVE in r.data.metrics]
    search = plan.cfg.study.search
    sampler = TPESampler(seed=int(search.seed) + len(earlier),
                         n_startup_trials=max(0, int(search.startup) - len(known)))
    return OptunaSearch(
        space={d.key: d.optuna() for d in plan.dims}, metric=plan.objective, mode=plan.mode,
        sampler=sampler, points_to_evaluate=[json.loads(r.data.tags[PARAMS_TAG]) for r in known]
        or None, evaluated_rewards=[r.data.metrics[OBJECTIVE] for r in known] or None)


def record_outcomes(client, plan: SearchPlan, results) -> dict[str, str]:
    """Each trial's outcome and objective: completed (FINISHED), pruned (ASHA stopped it:
    KILLED, haco.stopped=scheduler, hpo/pruned_at_epoch) or failed; {run id: outcome}."""
    outcomes = {}
    for result in results:
        job, metrics = result.config["job"], result.metrics or {}
        status = client.get_run(job.run_id).info.status
        if result.error is not None:
            outcome = "failed"
        elif status == study_runs.FINISHED:
            outcome = "completed"
        else:
            outcome = "pruned"
            client.set_tag(job.run_id, study_runs.STOPPED_TAG, "scheduler")
            tracking.log_metrics(client, job.run_id,
                                 {"hpo/pruned_at_epoch": metrics.get("epoch", 0)})
            if status in study_runs.OPEN:
                client.set_terminated(job.run_id, status="KILLED")
        client.set_tag(job.run_id, OUTCOME_TAG, outcome)
        outcomes[job.run_id] = outcome
        if plan.objective in metrics:
            tracking.log_metrics(client, job.run_id, {OBJECTIVE: metrics[plan.objective]},
                                 step=int(metrics.get("epoch", 0)))
    return outcomes


def search_trials(client, experiment: str, search_id: str) -> list:
    """The search's trial runs from every launch, in trial order."""
    runs = client.search_runs([experiment], max_results=50000,
                              filter_string=f"tags.`{SEARCH_TAG}` = '{search_id}' and "
                                            f"tags.`{TRIAL_TAG}` != ''")
    return sorted(runs, key=lambda r: int(r.data.tags[TRIAL_TAG]))


def _params_key(item) -> str:
    """A trial's sampled values as one string (a run's tag, or the values themselves)."""
    params = item if isinstance(item, dict) else json.loads(item.data.tags[PARAMS_TAG])
    return json.dumps(params, sort_keys=True)


def run_outcome(run) -> str:
    return run.data.tags.get(OUTCOME_TAG, "interrupted")


def best_run(plan: SearchPlan, trials: list):
    done = [r for r in trials if run_outcome(r) == "completed" and OBJECTIVE in r.data.metrics]
    if not done:
        return None
    pick = max if plan.mode == "max" else min
    return pick(done, key=lambda r: r.data.metrics[OBJECTIVE])


def finish(plan: SearchPlan, client, trials: list, parent: str | None) -> int:
    """Print the trials and the best; write the best config (and log it to the parent)."""
    print_trials(plan, trials)
    best = best_run(plan, trials)
    if best is None:
        print("no trial completed: no best configuration", file=sys.stderr)
        return 1
    path = write_best(plan, client, best)
    if parent:
        log_progress(plan, client, parent, trials)
        client.set_tag(parent, "haco.hpo.best_run", best.info.run_id)
        client.log_artifact(parent, str(path))
    print(f"best: {best.info.run_name} ({plan.objective} "
          f"{best.data.metrics[OBJECTIVE]:.4f}): {short(best)}")
    print(f"best config: {path}\n  run it: haco train --config-file {path}")
    return 0


def write_best(plan: SearchPlan, client, best) -> Path:
    """The best trial's config, as saved with its run, minus where that run lived."""
    import os
    import tempfile

    from haco.atomic import write_text

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = OmegaConf.load(client.download_artifacts(best.info.run_id, "config.yaml", tmp))
    cfg.train.out_dir, cfg.train.resume, cfg.train.progress = None, False, "auto"
    header = (f"# Best of search {plan.id} (study {plan.cfg.study.name}): {best.info.run_name}, "
              f"{plan.objective} {best.data.metrics[OBJECTIVE]:.4f}, MLflow run "
              f"{best.info.run_id}\n# Run: haco train --config-file <this file> [key=value ...]\n")
    return write_text(plan.best_path(), header + OmegaConf.to_yaml(cfg))


def log_progress(plan: SearchPlan, client, parent: str, trials: list) -> None:
    """hpo/best_objective at step = trial number: the search's progress curve."""
    best = None
    for run in trials:
        value = run.data.metrics.get(OBJECTIVE)
        if run_outcome(run) != "completed" or value is None:
            continue
        if best is None or (value > best if plan.mode == "max" else value < best):
            best = value
        tracking.log_metrics(client, parent, {"hpo/best_objective": best},
                             step=int(run.data.tags[TRIAL_TAG]))


def print_plan(plan: SearchPlan, earlier: list, left: int, resources, where: str) -> None:
    cfg = plan.cfg
    print(f"search {plan.id} (study {cfg.study.name}), profile {cfg.profile}: {plan.samples} "
          f"samples, {plan.samples - left} ended in earlier launches, {left} to run; TPE "
          f"over {', '.join(d.key for d in plan.dims)}; objective {plan.mode} {plan.objective}")
    print(f"  ASHA: epochs {plan.epochs}, grace {cfg.study.search.asha.grace_period}, "
          f"reduction factor {cfg.study.search.asha.reduction_factor}")
    print(f"  Ray: {where}; {resources}")
    from haco.sweep.launch import seconds_per_trial

    seconds, source = seconds_per_trial(cfg, earlier)  # completed trials of this search
    print(f"  estimate: at most {left} x {seconds / 60:.1f} min ({source}) = "
          f"{left * seconds / 3600:.2f} device-hours (pruned trials take less)")
    print(f"  {Budget.from_cfg(cfg, resources.gpus).plan(left, seconds / 3600)}")
    print(f"  MLflow: experiment haco/{cfg.study.name} at {tracking.tracking_uri(cfg)}")


def print_trials(plan: SearchPlan, trials: list) -> None:
    print(f"trials of search {plan.id} ({plan.objective}, {plan.mode}):")
    for run in trials:
        value = run.data.metrics.get(OBJECTIVE)
        shown = f"{value:.4f}" if value is not None else "-"
        print(f"    {run.info.run_name:<13} {run_outcome(run):<11} {shown:>7}  {short(run)}")


def short(run) -> str:
    """A trial's sampled values, 5 significant digits each."""
    params = json.loads(run.data.tags.get(PARAMS_TAG, "{}"))
    return "  ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())
