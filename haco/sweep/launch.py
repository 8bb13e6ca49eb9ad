"""The one launcher behind `sweeps/*.py`: a study as a Ray Tune grid over `haco.train.run`.

    expand the study into trials and validate every one   (config errors: nothing starts)
    look up MLflow: trials FINISHED before are skipped    (a finished study launches nothing)
    connect to Ray, resolve and check resources, print the plan (done, to run, estimate)
    build the synthetic twins the trials need             (cached)
    the input-blind baselines of the trials' data         (seconds; cached in MLflow)
    one parent run per launch, one child run per trial    (reused when a launch resumes)
    Ray Tune runs the trials, retrying failures from their checkpoints
    settle: no run is left RUNNING; print the study's results

One launch per study at a time (a lock under the storage path). Ctrl-C or SIGTERM stops
the trials, marks their runs KILLED, and the same command later resumes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import re
import signal
import statistics
import sys
import time
from collections.abc import Iterator

from omegaconf import DictConfig

from haco import tracking
from haco.config import ConfigError, load_config
from haco.sweep import runs as study_runs
from haco.sweep.budget import Budget
from haco.sweep.prepare import prepare_data
from haco.sweep.resources import Resources, connect, wait_for_nodes
from haco.sweep.study import TrialSpec, expand, storage_dir

# Seconds per trial when the study has no finished run of the profile to learn from.
RULE_OF_THUMB_SECONDS = {"smoke": 20, "quick": 120, "paper": 8 * 3600}


def main(study: str, argv: list[str] | None = None) -> int:
    """`python sweeps/<study>.py [key=value ...] [--cfg]`."""
    from haco.cli import parse_flags

    show_cfg, overrides = parse_flags(list(sys.argv[1:] if argv is None else argv))
    overrides = [f"study={study}", *overrides]
    try:
        cfg = load_config("sweep", overrides)
        if show_cfg:
            from omegaconf import OmegaConf

            print(OmegaConf.to_yaml(cfg))
            return 0
        return launch(cfg, overrides)
    except ConfigError as err:
        print(f"haco: {err}", file=sys.stderr)
        return 2


def launch(cfg: DictConfig, overrides: list[str]) -> int:
    """Run the study `cfg.study`; 0 when every trial is FINISHED in MLflow (a search: when
    it has a best configuration)."""
    if cfg.study.get("search"):
        from haco.sweep.search import launch_search

        return launch_search(cfg, overrides)
    specs = expand(cfg, overrides)
    Budget.from_cfg(cfg, 0)  # a bad cap is a config error, found before anything starts
    client = tracking.client(cfg)
    experiment = tracking.experiment_id(client, cfg, str(cfg.study.name))
    with study_lock(cfg):
        existing = study_runs.study_runs(client, experiment)
        done = [s for s in specs if _status(existing.get(s.key)) == study_runs.FINISHED]
        todo = [s for s in specs if s not in done]
        if not todo:  # under the lock no launch is live: what is still open is stale
            study_runs.retire_stale(client, experiment, keep=set())
            print(f"study {cfg.study.name}: all {len(specs)} trials are FINISHED in MLflow "
                  f"({tracking.tracking_uri(cfg)}); nothing to launch")
            print_results(cfg, specs, existing, ensure_floor(cfg, client, experiment, specs))
            return 0
        where = connect(cfg)
        resources = wait_for_nodes(cfg)
        print_plan(cfg, specs, todo, existing, resources, where,
                   seconds_per_trial(cfg, existing.values()))
        if cfg.sweep.dry_run:
            return 0
        prepare_data(todo)
        floors = ensure_floor(cfg, client, experiment, specs)
        return run_study(cfg, client, experiment, specs, todo, existing, resources, floors)


def run_study(cfg, client, experiment: str, specs: list[TrialSpec], todo: list[TrialSpec],
              existing: dict, resources: Resources, floors: dict | None = None) -> int:
    start = time.monotonic()
    parent = study_runs.start_parent(client, experiment, cfg, len(todo), len(specs) - len(todo))
    run_ids = study_runs.child_runs(client, experiment, cfg, todo, parent, existing)
    study_runs.retire_stale(client, experiment, keep={parent, *run_ids.values()})
    from haco.sweep.searchers import StudySearch, TrialList
    from haco.sweep.trial import Job

    jobs = {s.key: Job(s, run_ids[s.key], tracking.tracking_uri(cfg),
                       bool(cfg.sweep.log_checkpoint), resources.gpus) for s in todo}
    search = StudySearch(TrialList(list(jobs)), lambda _, params: jobs[params["trial"]],
                         Budget.from_cfg(cfg, resources.gpus))
    results, stopped = None, "user"
    try:
        results, stopped = tune_until_done(cfg, search, resources, len(todo))
    finally:
        not_started = {k: r for k, r in run_ids.items() if k not in search.started_keys()}
        statuses = study_runs.settle(client, run_ids, trial_errors(results or []),
                                     {k: stopped or "user" for k in not_started})
        study_runs.finish_parent(client, parent, statuses, time.monotonic() - start,
                                 stopped, search.budget)
    print_results(cfg, specs, study_runs.study_runs(client, experiment), floors)
    return report_end(search.budget, statuses, [s for s in todo if s.key in not_started])


def tune_until_done(cfg, search, resources: Resources, samples: int, scheduler=None):
    """(ResultGrid, why it stopped early: None | "budget") once Tune is done, or (None,
    "user") after Ctrl-C or SIGTERM, with this launch's trials stopped."""
    try:
        with sigterm_as_interrupt():
            results = tune_trials(cfg, search, resources, samples, scheduler)
        return results, ("budget" if search.budget.spent_out() else None)
    except KeyboardInterrupt:
        import ray

        ray.shutdown()  # the driver leaves: Ray stops this launch's trial actors
        print("\ninterrupted: unfinished trials are marked KILLED; run the same command "
              "again to resume them from their last checkpoints", file=sys.stderr)
        return None, "user"


def tune_trials(cfg, search, resources: Resources, samples: int,
                scheduler=None):
    """Ray Tune over what `search` suggests (at most `samples` trials); the ResultGrid."""
    from ray import tune

    from haco.sweep.trial import run_trial

    trainable = tune.with_resources(run_trial, resources.as_ray())
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=search, scheduler=scheduler, num_samples=samples,
            max_concurrent_trials=resources.concurrent,
            reuse_actors=True,  # a new trial process pays ~6 s of imports (torch, mlflow)
            trial_name_creator=lambda t: repr(t.config["job"]),
            trial_dirname_creator=lambda t: t.config["trial"]),
        run_config=tune.RunConfig(
            name=f"{cfg.study.name}-{time.strftime('%Y%m%d-%H%M%S')}",
            storage_path=str(storage_dir(cfg, "ray")),
            failure_config=tune.FailureConfig(max_failures=int(cfg.sweep.max_failures)),
            verbose=1))
    return tuner.fit()


def trial_errors(results) -> dict[str, str]:
    """{trial key: error} of the trials that failed for good."""
    return {r.config["trial"]: f"{type(r.error).__name__}: {r.error}"
            for r in results if r.error is not None}


def report_end(budget: Budget, statuses: dict[str, str], not_started: list[TrialSpec]) -> int:
    """The launch's last lines; 0 when every trial FINISHED, or the budget alone stopped it."""
    if budget.capped:
        print(budget.summary())
    if not_started and budget.spent_out():
        print(f"  not started ({len(not_started)}): "
              + ", ".join(f"{s.row} s{s.seed}" for s in not_started)
              + "; raise the budget and run the same command to run them")
    unstarted = {s.key for s in not_started}
    failed = [k for k, s in statuses.items() if s != study_runs.FINISHED and k not in unstarted]
    return 0 if not failed and (not not_started or budget.spent_out()) else 1


# ---------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def study_lock(cfg) -> Iterator[None]:
    """One launch of a study at a time: two would launch the same missing trials."""
    path = storage_dir(cfg, "locks") / f"{cfg.study.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise ConfigError(f"study {cfg.study.name} is being launched already (process "
                              f"{handle.read().strip() or '?'}, lock {path}); wait for it to "
                              "end or stop it") from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        yield


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Ctrl-C and `kill <pid>` stop a launch alike: KeyboardInterrupt, then the runs are
    settled, not left RUNNING. Tune's own SIGINT handler is off: it would end `fit`
    quietly and advise `Tuner.restore`, while here the same command resumes."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGTERM, interrupt)
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)




def ensure_floor(cfg, client, experiment: str, specs: list[TrialSpec]) -> dict:
    """{data key: DataBaselines}: the input-blind baselines of the data the trials read
    (haco/baselines.py), computed once per data key and then reused from MLflow. A failure
    costs the floor, not the launch: it is reported, and `haco baselines` retries it."""
    from haco import baselines

    try:
        found = baselines.ensure(client, experiment, str(cfg.study.name),
                                 [s.config for s in specs])
    except Exception as err:  # noqa: BLE001 - the trials matter more than their floor
        print(f"baselines: not computed ({type(err).__name__}: {err}); the tables lack the "
              f"floor until `haco baselines study={cfg.study.name}` succeeds", file=sys.stderr)
        return {}
    computed = sum(f.computed for f in found.values())
    print(f"baselines (the input-blind floor): {computed} computed, "
          f"{sum(len(f.metrics) for f in found.values()) - computed} reused from MLflow, "
          f"for {len(found)} data key(s)")
    return found




def seconds_per_trial(cfg, runs) -> tuple[float, str]:
    """(seconds, where the figure comes from) for the plan's estimate."""
    if cfg.sweep.estimate_seconds:
        return float(cfg.sweep.estimate_seconds), "sweep.estimate_seconds"
    from haco.sweep.trial import TRIAL_SECONDS

    past = [r.data.metrics[TRIAL_SECONDS] for r in runs
            if r.info.status == study_runs.FINISHED and TRIAL_SECONDS in r.data.metrics
            and r.data.tags.get("haco.profile") == str(cfg.profile)]
    if past:
        return statistics.median(past), f"median of {len(past)} finished runs"
    return float(RULE_OF_THUMB_SECONDS.get(str(cfg.profile), 600)), "rule of thumb"


def print_plan(cfg, specs, todo, existing, resources: Resources, where: str,
               estimate: tuple[float, str]) -> None:
    seconds, source = estimate
    waves = -(-len(todo) // resources.concurrent)
    hours = len(todo) * seconds / 3600
    usd = hours * (resources.gpus * float(cfg.costs.usd_per_gpu_hour) if resources.gpus
                   else float(cfg.costs.usd_per_cpu_hour))
    seeds = sorted({s.seed for s in specs})
    print(f"study {cfg.study.name} ({cfg.study.table}), profile {cfg.profile}, data "
          f"{cfg.data.source}: {len(specs) // len(seeds)} cells x {len(seeds)} seed(s) = "
          f"{len(specs)} trials; {len(specs) - len(todo)} FINISHED already, {len(todo)} to run")
    print(f"  Ray: {where}; {resources}")
    print(f"  estimate: {len(todo)} x {seconds / 60:.1f} min ({source}) = about "
          f"{waves * seconds / 60:.0f} min wall, {hours:.2f} device-hours, ${usd:.2f}")
    print(f"  {Budget.from_cfg(cfg, resources.gpus).plan(len(todo), seconds / 3600)}")
    print(f"  MLflow: experiment haco/{cfg.study.name} at {tracking.tracking_uri(cfg)}")
    for spec in specs:
        state = "to run" if spec in todo else "done"
        previous = _status(existing.get(spec.key))
        if spec in todo and previous:
            state = f"to run (resumes its {previous} run)"
        print(f"    {spec.row:<24} seed {spec.seed:<3} {state}")


def print_results(cfg, specs: list[TrialSpec], runs: dict, floors: dict | None = None) -> None:
    """Each trial's status and the study's metric (`test/*/f1`: every test set); then the
    input-blind floor per test set and the rows that do not clear it."""
    pattern = metric_pattern(cfg)
    print(f"results of {cfg.study.name} ({cfg.study.metric}):")
    for spec in specs:
        run = runs.get(spec.key)
        if run is None:
            print(f"    {spec.row:<24} seed {spec.seed:<3} not run")
            continue
        values = {k: v for k, v in run.data.metrics.items() if pattern.match(k)}
        shown = "  ".join(f"{k} {v:.3f}" for k, v in sorted(values.items()))
        print(f"    {spec.row:<24} seed {spec.seed:<3} {run.info.status:<9} {shown}")
    if floors:
        print_floor(cfg, specs, runs, floors)


def metric_pattern(cfg) -> re.Pattern:
    """`study.metric` as a regex (`test/*/f1`: any one test set)."""
    return re.compile("^" + re.escape(str(cfg.study.metric)).replace(r"\*", "[^/]+") + "$")


def print_floor(cfg, specs: list[TrialSpec], runs: dict, floors: dict) -> None:
    """The floor of every test set the study's metric names, per data key, and each row
    (mean F1 over its finished seeds) that does not clear it (haco/report/floor.py)."""
    from haco.config import data_key
    from haco.report import floor

    pattern, several = metric_pattern(cfg), len(floors) > 1
    verdicts, under = [], []
    for key, found in floors.items():
        tests = sorted({k.split("/")[1] for m in found.metrics.values() for k in m
                        if pattern.match(k)})
        shown = [(t, found.floor(t)) for t in tests if found.floor(t)]
        label = f" (train {found.train})" if several else ""
        print(f"  input-blind floor{label}: " + "  ".join(
            f"{t} {f1:.3f} ({name})" for t, (f1, name) in shown))
        for row in dict.fromkeys(s.row for s in specs if data_key(s.config) == key):
            seeds = [runs.get(s.key) for s in specs if s.row == row]
            for test, (f1, _) in shown:
                verdict, text = row_verdict(seeds, test, f1)
                verdicts.append(verdict)
                if verdict is False:
                    under.append(f"{row} on {test} ({text} vs {f1:.3f})")
    print(f"  {floor.summary(verdicts)}" + (
        f"; not clearing it: {'; '.join(under)}: a row under the floor measures its "
        "loss's bias, not what it learned" if under else ""))


def row_verdict(seeds: list, test: str, floor_f1: float) -> tuple[bool | None, str]:
    """(whether a row clears `floor_f1` on `test`, its F1 as `mean ± std`) over the
    FINISHED runs of its seeds (haco/report/floor.py: clears)."""
    from haco.report.floor import clears

    metric = f"test/{test}/f1"
    values = [r.data.metrics[metric] for r in seeds if r is not None
              and r.info.status == study_runs.FINISHED and metric in r.data.metrics]
    mean = statistics.fmean(values) if values else math.nan
    std = statistics.stdev(values) if len(values) > 1 else math.nan
    text = f"{mean:.3f}" + (f" ± {std:.3f}" if len(values) > 1 else "")
    return clears(mean, std, len(values), floor_f1), text


def _status(run) -> str | None:
    return run.info.status if run is not None else None
