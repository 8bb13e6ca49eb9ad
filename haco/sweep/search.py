"""A search study (sweeps/hpo.py): Optuna's TPE proposes the trials, ASHA stops weak ones.

    validate the space (every key a `train` key, both ends of every range a valid trial)
    earlier launches of the same search count: their ended trials reach TPE as known
    points and come off `search.samples`; trials a killed launch left unfinished are
    proposed again first and continue from their checkpoints, in their own runs
    each proposal becomes a trial: its `train` config, an MLflow trial run "trial NNN"
    after Tune: each trial's outcome (completed | pruned | failed) and objective in MLflow
    the best completed trial: printed, and written as a config `haco train` runs

The launch itself (lock, plan, data, parent run, Tune, settle) is haco/sweep/launch.py,
the same for a grid study; this module is what differs. A search is identified by its base
config, space, objective and TPE seed (tag `haco.hpo.search`); a different space or profile
is a different search in the same study.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

from omegaconf import OmegaConf

from haco import ledger, tracking
from haco.atomic import write_text
from haco.config import ConfigError
from haco.ledger import SEARCH_OBJECTIVE as OBJECTIVE
from haco.ledger import Outcome, Status, StoppedBy, Tag
from haco.sweep import runs
from haco.sweep.estimate import tags_of
from haco.sweep.searchers import Resuming
from haco.sweep.space import dimension, overrides_of
from haco.sweep.study import TrialSpec, seed_list, storage_dir, trial_spec


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


def optuna_search(plan: SearchPlan, earlier: list):
    """OptunaSearch with TPE; the completed trials of earlier launches as known points."""
    from optuna.samplers import TPESampler
    from ray.tune.search.optuna import OptunaSearch

    known = completed(earlier)
    search = plan.cfg.study.search
    sampler = TPESampler(seed=int(search.seed) + len(earlier),
                         n_startup_trials=max(0, int(search.startup) - len(known)))
    return OptunaSearch(
        space={d.key: d.optuna() for d in plan.dims}, metric=plan.objective, mode=plan.mode,
        sampler=sampler, points_to_evaluate=[json.loads(r.data.tags[Tag.SEARCH_PARAMS]) for r in known]
        or None, evaluated_rewards=[r.data.metrics[OBJECTIVE] for r in known] or None)


class SearchStudy:
    """A search as the launcher runs it (haco/sweep/launch.py: the same steps as a grid):
    TPE proposes trials one by one, each becoming a trial run as it starts."""

    def __init__(self, cfg, overrides: list[str]):
        self.cfg, self.plan = cfg, SearchPlan(cfg, overrides)
        self.earlier: list = []   # this search's trial runs from earlier launches
        self.left = self.plan.samples
        self.estimates: dict = {}  # {the base trial's key: TrialEstimate}, set by the plan

    @property
    def done(self) -> int:
        return len(self.earlier)

    def floor_specs(self) -> list[TrialSpec]:
        return [self.plan.base]  # every trial reads the base trial's data

    data_specs = floor_specs

    def look_up(self, client, experiment: str) -> None:
        self.client, self.experiment = client, experiment
        self.earlier = search_trials(client, experiment, self.plan.id)
        self.left = max(0, self.plan.samples
                        - sum(run_outcome(r) in Outcome.ENDED for r in self.earlier))

    def nothing_left(self, uri: str) -> str:
        return f"search {self.plan.id}: all {self.plan.samples} samples ended; nothing to launch"

    def headline(self) -> list[str]:
        plan, asha = self.plan, self.cfg.study.search.asha
        searched = ", ".join(d.key for d in plan.dims)
        first = (f"search {plan.id} (study {self.cfg.study.name}), profile {self.cfg.profile}: "
                 f"{plan.samples} samples, {plan.samples - self.left} ended in earlier "
                 f"launches, {self.left} to run; TPE over {searched}; objective {plan.mode} "
                 f"{plan.objective}")
        rungs = f"epochs {plan.epochs}, grace {asha.grace_period}, reduction factor " \
                f"{asha.reduction_factor}"
        return [first, f"  ASHA: {rungs}"]

    def trial_lines(self) -> list[str]:
        return []

    def past_runs(self) -> list:
        return self.earlier  # the estimate learns from this search's completed trials

    def estimate_specs(self) -> list[TrialSpec]:
        """What the plan estimates: the base trial, once per sample left (the samples vary
        the searched keys, not the model's workload, unless the space searches it)."""
        return [self.plan.base] * self.left

    estimate_note = " (at most: pruned trials take less)"

    @property
    def goal(self) -> tuple[str, str]:
        """(metric, mode) the console reports per trial: the search's objective."""
        return self.plan.objective, self.plan.mode

    def open(self, client, experiment: str, parent: str, job) -> set[str]:
        """Ready to hand trials to Tune; `job(spec, run id)` makes a trial's Job. Returns
        the runs of earlier launches this one continues (none yet: a left-open run is
        retired now, and scheduled again when its trial is proposed again)."""
        ledger.set_tags(client, parent, {Tag.SEARCH: self.plan.id})
        self.parent, self.job = parent, job
        self.numbers = itertools.count(
            max((int(r.data.tags[Tag.SEARCH_TRIAL]) for r in self.earlier), default=0) + 1)
        self.unfinished = {_params_key(r): r for r in self.earlier  # killed untagged: gone
                           if run_outcome(r) not in Outcome.ENDED and Tag.SEARCH_PARAMS in r.data.tags}
        return set()

    def searcher(self):
        pending = [json.loads(r.data.tags[Tag.SEARCH_PARAMS])
                   for r in self.unfinished.values()][:self.left]
        return Resuming(optuna_search(self.plan, self.earlier), pending)

    def make_job(self, _, params: dict):
        """A proposal as a trial: its run (the one an unfinished trial of the same values
        left, so it continues from its checkpoint, or a new one) and its Job."""
        resumed = self.unfinished.get(_params_key(params))
        number = int(resumed.data.tags[Tag.SEARCH_TRIAL]) if resumed else next(self.numbers)
        spec = self.plan.trial(params, number)
        estimate = self.estimates.get(self.plan.base.key)
        run_id = runs.schedule_trials(self.client, self.experiment, self.cfg, [spec],
                                      self.parent, {spec.key: resumed} if resumed else {},
                                      {spec.key: tags_of(estimate)} if estimate else {}
                                      )[spec.key]
        ledger.set_tags(self.client, run_id, {
            Tag.SEARCH: self.plan.id, Tag.SEARCH_TRIAL: spec.row.split()[-1],
            Tag.SEARCH_PARAMS: json.dumps(params),
            Tag.SEARCH_GOAL: f"{self.plan.mode} {self.plan.objective}"})
        return self.job(spec, run_id)

    def scheduler(self):
        from ray.tune.schedulers import ASHAScheduler  # Ray loads only when a search runs

        asha, epochs = self.cfg.study.search.asha, self.plan.epochs
        return ASHAScheduler(time_attr="epoch", metric=self.plan.objective,
                             mode=self.plan.mode, max_t=epochs,
                             grace_period=min(int(asha.grace_period), epochs),
                             reduction_factor=float(asha.reduction_factor))

    def settle(self, client, search, results, errors: dict, stopped: str | None
               ) -> tuple[dict[str, str], int]:
        """({trial key: status}, how many were pruned) once Tune is done."""
        keys = [job.spec.key for job in search.jobs.values()]
        current = ledger.trials_by_key(client, self.experiment)  # the runs trials began
        run_of = lambda job: current[job.spec.key].info.run_id
        outcomes = (record_outcomes(client, self.plan, results, run_of)
                    if results is not None else {})
        return (runs.settle(client, self.experiment, keys, errors, {}),
                sum(o == Outcome.PRUNED for o in outcomes.values()))

    def summary(self, client, experiment: str, floors: dict, parent: str | None = None,
                budget=None) -> int:
        """The trials and the best; 0 when there is a best configuration."""
        return finish(self.plan, client, search_trials(client, experiment, self.plan.id),
                      parent)


def record_outcomes(client, plan: SearchPlan, results, run_of=lambda job: job.run_id
                    ) -> dict[str, str]:
    """Each trial's outcome and objective: completed (FINISHED), pruned (ASHA stopped it:
    KILLED, haco.stopped=scheduler, hpo/pruned_at_epoch) or failed; {run id: outcome}.
    `run_of(job)`: the run a trial recorded into."""
    outcomes = {}
    for result in results:
        job, metrics = result.config["job"], result.metrics or {}
        run_id = run_of(job)
        status = ledger.status(client, run_id)
        if result.error is not None:
            outcome = Outcome.FAILED
        elif status == Status.FINISHED:
            outcome = Outcome.COMPLETED
        else:
            outcome = Outcome.PRUNED
            tracking.log_metrics(client, run_id,
                                 {"hpo/pruned_at_epoch": metrics.get("epoch", 0)})
            if status in Status.OPEN:
                ledger.kill(client, run_id, StoppedBy.SCHEDULER)
            else:
                ledger.set_tags(client, run_id, {Tag.STOPPED: StoppedBy.SCHEDULER})
        ledger.set_tags(client, run_id, {Tag.SEARCH_OUTCOME: outcome})
        outcomes[run_id] = outcome
        if plan.objective in metrics:
            tracking.log_metrics(client, run_id, {OBJECTIVE: metrics[plan.objective]},
                                 step=int(metrics.get("epoch", 0)))
    return outcomes


def search_trials(client, experiment: str, search_id: str) -> list:
    """The search's trial runs from every launch, in trial order."""
    found = ledger.runs(client, experiment, ledger.both(ledger.tag_is(Tag.SEARCH, search_id),
                                                        ledger.SEARCH_TRIALS))
    return sorted(found, key=lambda r: int(r.data.tags[Tag.SEARCH_TRIAL]))


def _params_key(item) -> str:
    """A trial's sampled values as one string (a run's tag, or the values themselves)."""
    params = item if isinstance(item, dict) else json.loads(item.data.tags[Tag.SEARCH_PARAMS])
    return json.dumps(params, sort_keys=True)


def run_outcome(run) -> str:
    return run.data.tags.get(Tag.SEARCH_OUTCOME, Outcome.INTERRUPTED)


def completed(trials: list) -> list:
    """The trials that ran to their end, with their objective."""
    return [r for r in trials
            if run_outcome(r) == Outcome.COMPLETED and OBJECTIVE in r.data.metrics]


def best_run(plan: SearchPlan, trials: list):
    done = completed(trials)
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
        ledger.set_tags(client, parent, {Tag.SEARCH_BEST: best.info.run_id})
        client.log_artifact(parent, str(path))
    print(f"best: {best.info.run_name} ({plan.objective} "
          f"{best.data.metrics[OBJECTIVE]:.4f}): {short(best)}")
    print(f"best config: {path}\n  run it: haco train --config-file {path}")
    return 0


def write_best(plan: SearchPlan, client, best) -> Path:
    """The best trial's config, as saved with its run, minus where that run lived."""
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
        if run_outcome(run) != Outcome.COMPLETED or value is None:
            continue
        if best is None or (value > best if plan.mode == "max" else value < best):
            best = value
        tracking.log_metrics(client, parent, {"hpo/best_objective": best},
                             step=int(run.data.tags[Tag.SEARCH_TRIAL]))


def print_trials(plan: SearchPlan, trials: list) -> None:
    print(f"trials of search {plan.id} ({plan.objective}, {plan.mode}):")
    for run in trials:
        value = run.data.metrics.get(OBJECTIVE)
        shown = f"{value:.4f}" if value is not None else "-"
        print(f"    {run.info.run_name:<13} {run_outcome(run):<11} {shown:>7}  {short(run)}")


def short(run) -> str:
    """A trial's sampled values, 5 significant digits each."""
    params = json.loads(run.data.tags.get(Tag.SEARCH_PARAMS, "{}"))
    return "  ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in params.items())
