"""The one launcher behind `sweeps/*.py`: a study's trials, proposed by a searcher and run
by Ray Tune over `haco.train.run`. A grid (haco/sweep/grid.py: cells x seeds, in order)
and a search (haco/sweep/search.py: Optuna's TPE, ASHA stopping weak trials) differ only
in what they propose, as in Ray Tune's own examples; every other step is here, once:

    the study's trials, every config validated       (config errors: nothing starts)
    one launch per study (a lock); look up MLflow     (trials FINISHED before are skipped)
    connect to Ray, resolve resources, print the plan (done, to run, estimate, budget)
    the data the trials read (haco/sweep/prepare.py)  (twins generated once, cached)
    the input-blind floor (haco/sweep/floor.py)       (seconds; cached in MLflow)
    one parent run per launch, the trials' runs       (continued when a launch resumes)
    Ray Tune runs the trials, retrying failures from their checkpoints
    settle: no run is left RUNNING; the study's summary

Ctrl-C or SIGTERM stops the trials, marks their runs KILLED, and the same command later
resumes them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator

from omegaconf import DictConfig, OmegaConf

from haco import baselines, disk, ledger, tracking
from haco.cli import parse_flags
from haco.config import ConfigError, data_key, load_config
from haco.interrupt import INTERRUPTED, report_interrupted, sigterm_as_interrupt
from haco.ledger import StoppedBy
from haco.sweep import runs
from haco.sweep.budget import Budget
from haco.sweep.console import LiveLine, StudyProgress, clock, quiet_libraries, tune_verbosity
from haco.sweep.estimate import Estimator, TrialEstimate, cache_dir_of, wall_seconds
from haco.sweep.floor import ensure_floor, print_baselines
from haco.sweep.grid import GridStudy
from haco.sweep.prepare import disk_needs, prepare_data, prepare_twins
from haco.sweep.resources import Resources, connect, wait_for_nodes
from haco.sweep.search import SearchStudy
from haco.sweep.searchers import StudySearch
from haco.sweep.study import storage_dir
from haco.sweep.trial import Job, run_trial


def main(study: str, argv: list[str] | None = None) -> int:
    """`python sweeps/<study>.py [key=value ...] [--cfg]`."""
    show_cfg, overrides = parse_flags(list(sys.argv[1:] if argv is None else argv))
    overrides = [f"study={study}", *overrides]
    try:
        cfg = load_config("sweep", overrides)
        if show_cfg:
            print(OmegaConf.to_yaml(cfg))
            return 0
        with sigterm_as_interrupt():  # the whole launch: plan, calibration, data, trials
            return launch(cfg, overrides)
    except ConfigError as err:
        print(f"haco: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before or after Tune (during it, tune_until_done settles)
        return report_interrupted()
    except OSError as err:
        if not disk.is_disk_full(err):
            raise
        return disk.report_full(err)


def study_of(cfg: DictConfig, overrides: list[str]) -> GridStudy | SearchStudy:
    """The study `cfg.study` describes, every trial it can propose validated."""
    kind = SearchStudy if cfg.study.get("search") else GridStudy
    return kind(cfg, overrides)


def launch(cfg: DictConfig, overrides: list[str]) -> int:
    """Run (or resume) the study `cfg.study`; 0 when every trial FINISHED in MLflow (a
    search: when it has a best configuration)."""
    quiet_libraries(int(cfg.sweep.verbose))
    study = study_of(cfg, overrides)
    Budget.from_cfg(cfg, 0)  # a bad cap is a config error, found before anything starts
    client = tracking.client(cfg)
    experiment = tracking.experiment_id(client, cfg, str(cfg.study.name))
    with study_lock(cfg):
        study.look_up(client, experiment)
        if not study.left:  # under the lock no launch is live: what is still open is stale
            ledger.retire_stale(client, experiment, keep=())
            print(study.nothing_left(tracking.tracking_uri(cfg)))
            return study.summary(client, experiment,
                                 ensure_floor(cfg, client, experiment, study.floor_specs()))
        where = connect(cfg)
        resources = wait_for_nodes(cfg)
        budget = Budget.from_cfg(cfg, resources.gpus)  # the launch's one budget
        wall = print_plan(cfg, study, resources, where, budget)
        if cfg.sweep.dry_run:
            return 0
        disk.require_all(launch_needs(study, resources))
        prepare_data(study.data_specs())
        floors = ensure_floor(cfg, client, experiment, study.floor_specs())
        return run_trials(cfg, study, client, experiment, resources, budget, floors, wall)


def run_trials(cfg, study, client, experiment: str, resources: Resources, budget: Budget,
               floors: dict, estimated_wall: float) -> int:
    """A parent run, the trials through Ray Tune, every run settled; the summary's code."""
    start = time.monotonic()
    parent = runs.start_parent(client, experiment, cfg, study.left, study.done,
                               estimated_wall)
    continued = study.open(client, experiment, parent, job_maker(cfg, resources))
    ledger.retire_stale(client, experiment, keep={parent, *continued})
    search = StudySearch(study.searcher(), study.make_job, budget)
    results, stopped = None, StoppedBy.USER
    verbose = int(cfg.sweep.verbose)
    progress = StudyProgress(study.left, *study.goal, verbose=verbose,
                             estimated_wall=estimated_wall,
                             live=LiveLine() if LiveLine.wanted(verbose) else None)
    try:
        results, stopped = tune_until_done(cfg, search, resources, study.left,
                                           study.scheduler(), [progress])
    finally:
        progress.close()
        statuses, pruned = study.settle(client, search, results, trial_errors(results or []),
                                        stopped)
        runs.finish_parent(client, parent, statuses, time.monotonic() - start, stopped,
                           budget, pruned)
    if budget.capped:
        print(budget.summary())
    code = study.summary(client, experiment, floors, parent, budget)
    return INTERRUPTED if stopped == StoppedBy.USER else code


def job_maker(cfg, resources: Resources):
    """job(spec, run id) -> the Job a Ray trial runs (haco/sweep/trial.py)."""
    uri, log_checkpoint = tracking.tracking_uri(cfg), bool(cfg.sweep.log_checkpoint)
    return lambda spec, run_id: Job(spec, run_id, uri, log_checkpoint, resources.gpus)


def tune_until_done(cfg, search, resources: Resources, samples: int, scheduler=None,
                    callbacks=()):
    """(ResultGrid, why it stopped early: None | "budget") once Tune is done, or (None,
    "user") after Ctrl-C or SIGTERM, with this launch's trials stopped."""
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"  # Tune's would end `fit` quietly and
    # advise `Tuner.restore`, while here the same command resumes
    try:
        with sigterm_as_interrupt():  # also when launch() is called without main()
            results = tune_trials(cfg, search, resources, samples, scheduler, callbacks)
        return results, (StoppedBy.BUDGET if search.budget.spent_out() else None)
    except KeyboardInterrupt:
        import ray

        ray.shutdown()  # the driver leaves: Ray stops this launch's trial actors
        print("\ninterrupted: unfinished trials are marked KILLED; run the same command "
              "again to resume them from their last checkpoints", file=sys.stderr)
        return None, StoppedBy.USER


def tune_trials(cfg, search, resources: Resources, samples: int, scheduler=None,
                callbacks=()):
    """Ray Tune over what `search` suggests (at most `samples` trials); the ResultGrid."""
    from ray import tune

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
            callbacks=list(callbacks), verbose=tune_verbosity(int(cfg.sweep.verbose))))
    return tuner.fit()


def trial_errors(results) -> dict[str, str]:
    """{trial key: error} of the trials that failed for good."""
    return {r.config["trial"]: f"{type(r.error).__name__}: {r.error}"
            for r in results if r.error is not None}


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


def launch_needs(study, resources: Resources) -> list[disk.Need]:
    """The disk the launch will write: missing twins and pretraining sets, checkpoints."""
    return disk_needs(study.data_specs(), study.estimate_specs(), study.left,
                      resources.concurrent)


def plan_estimates(cfg, study, resources: Resources) -> tuple[dict[str, TrialEstimate], str]:
    """({trial key: its estimate} of every trial left to run, the calibration's line)
    (haco/sweep/estimate.py)."""
    specs = study.estimate_specs()
    estimator = Estimator(cfg, resources, specs, study.past_runs(),
                          cache_dir_of(storage_dir(cfg, "")))
    return {s.key: estimator.of(s) for s in specs}, estimator.calibration


def print_plan(cfg, study, resources: Resources, where: str, budget: Budget) -> float:
    """What the launch will do: the study's trials, Ray, the estimate, the budget, MLflow;
    returns the estimated wall seconds of its trials."""
    study.estimates, calibration = plan_estimates(cfg, study, resources)
    seconds = [study.estimates[s.key].seconds for s in study.estimate_specs()]
    wall = wall_seconds(seconds, resources.concurrent)
    hours = sum(seconds) / 3600
    usd = hours * (resources.gpus * float(cfg.costs.usd_per_gpu_hour) if resources.gpus
                   else float(cfg.costs.usd_per_cpu_hour))
    sources = sorted({e.source for e in study.estimates.values()})
    for line in study.headline():
        print(line)
    print(f"  Ray: {where}; {resources}")
    print(f"  estimate: {len(seconds)} trials, {sum(seconds) / 60:.1f} min of trial time "
          f"({'; '.join(sources)}) = about {clock(wall)} wall, {hours:.2f} device-hours, "
          f"${usd:.2f}{study.estimate_note}")
    if calibration:
        print(f"  {calibration}")
    print(f"  {budget.plan([s / 3600 for s in seconds])}")
    print(f"  {disk.plan_line(launch_needs(study, resources))}")
    print(f"  MLflow: experiment {ledger.experiment_name(cfg.study.name)} at "
          f"{tracking.tracking_uri(cfg)}")
    for line in study.trial_lines():
        print(f"    {line}")
    return wall


def baselines_command(cfg: DictConfig, overrides: list[str]) -> int:
    """`haco baselines study=<study> [overrides]`: the study's input-blind baselines,
    computed where MLflow lacks them, printed as a short table."""
    specs = study_of(cfg, overrides).floor_specs()
    client = tracking.client(cfg)
    experiment = tracking.experiment_id(client, cfg, str(cfg.study.name))
    try:
        with study_lock(cfg):  # a launch of the study computes them itself
            prepare_twins(specs)
            found = baselines.ensure(client, experiment, str(cfg.study.name),
                                     [s.config for s in specs])
    except FileNotFoundError as err:  # real data not imported
        raise ConfigError(str(err)) from None
    rows: dict[str, list[str]] = {}
    for spec in specs:
        rows.setdefault(data_key(spec.config), []).append(spec.row)
    print(f"input-blind baselines of study {cfg.study.name} (profile {cfg.profile}, data "
          f"{cfg.data.source}; MLflow experiment {ledger.experiment_name(cfg.study.name)} at "
          f"{tracking.tracking_uri(cfg)}):")
    for key, of_key in found.items():
        print_baselines(of_key, list(dict.fromkeys(rows[key])))
    print("A trained row clears the floor when its F1 beats the best of them on its "
          "test set by more than its seed std.")
    return 0
