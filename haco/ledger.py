"""The run ledger: what HACO Lab's MLflow runs are called, what they carry, and every change
of their state. The one home of the tag names, status words, experiment names and the run
lifecycle; writers (haco/sweep, haco/baselines.py, haco/pretrain) and readers
(haco/report, the benches) both take them from here. Where the store lives and how values
are batched into it is haco/tracking.py.

    experiment  haco/<study>         one per study, created once up front
    parent run  one per launch       tags haco.{study,table,profile,data,launch}, git.*
    trial run   one per trial        tags haco.{study,table,row,seed,config_hash,profile,
                                     data,data_key}, git.{sha,dirty}, mlflow.parentRunId;
                                     params: the flattened config; metrics: per-epoch
                                     history (step = epoch) + finals
    baseline    one per data key     tags haco.kind=baseline, haco.baseline, haco.{study,
                and baseline         profile,data,data_key}, git.*; no haco.row, so nothing
                                     counts it as a trial (haco/baselines.py)

A trial's life (a trial is identified by its config hash and seed, never by Ray, so a
later launch continues the run an interrupted one left):

    schedule   SCHEDULED   the launch plans it (a placeholder: the UI shows the whole plan)
    begin                  its trial starts: a never-started placeholder is replaced by a
                           copy created now, so the run's start time is the trial's
    start      RUNNING     its process begins; haco.attempts counts the tries
    finish     FINISHED
    fail       FAILED      haco.error holds why (the traceback is an artifact)
    kill       KILLED      stopped early; haco.stopped says by whom (user, budget, scheduler)
    retire_stale           runs a killed driver left open become KILLED
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping

from haco.config import config_hash, data_key
from haco.paths import project_root
from haco.run_reader import Clause, Where, brief_runs


class Status:
    """MLflow's run statuses, as the ledger uses them."""

    SCHEDULED, RUNNING = "SCHEDULED", "RUNNING"
    FINISHED, FAILED, KILLED = "FINISHED", "FAILED", "KILLED"
    OPEN = (SCHEDULED, RUNNING)       # a live trial holds one; left behind, it is stale
    ENDED = (FINISHED, FAILED, KILLED)


class Tag:
    """Tag names (MLflow's UI and filters show them as written here)."""

    STUDY, TABLE, ROW = "haco.study", "haco.table", "haco.row"   # ROW: the paper's label
    SEED, CONFIG_HASH = "haco.seed", "haco.config_hash"
    PROFILE, DATA, DATA_KEY = "haco.profile", "haco.data", "haco.data_key"
    KIND, LAUNCH = "haco.kind", "haco.launch"       # KIND: baseline | pretrain
    BASELINE = "haco.baseline"                      # All contact | Vertex prior | ...
    BASELINE_VERSION = "haco.baseline_version"      # what computed it (haco/baselines.py)
    BASELINE_THRESHOLD_ON = "haco.baseline.threshold_on"   # val, or train without data.val
    ERROR, STOPPED = "haco.error", "haco.stopped"   # why FAILED; who ended a KILLED run
    ATTEMPTS, NODE = "haco.attempts", "haco.node"
    CHECKPOINT, RESUMED_AT = "haco.checkpoint", "haco.resumed_at_epoch"
    PRETRAIN_WEIGHTS = "haco.pretrain.weights"
    SEARCH, SEARCH_TRIAL = "haco.hpo.search", "haco.hpo.trial"   # a search's id; number
    SEARCH_PARAMS, SEARCH_GOAL = "haco.hpo.params", "haco.hpo.objective"
    SEARCH_OUTCOME, SEARCH_BEST = "haco.hpo.outcome", "haco.hpo.best_run"
    PYTHON, TORCH = "haco.env.python", "haco.env.torch"   # what a run ran on
    CUDA, CUDNN = "haco.env.cuda", "haco.env.cudnn"
    GPU, GPU_COUNT, CPU = "haco.env.gpu", "haco.env.gpu_count", "haco.env.cpu"
    MODEL = "haco.model"          # on a trial run: `<name>/<version>` it is registered as
    COST_FAMILY = "haco.cost_family"     # model, device share and workload (estimate.py)
    ESTIMATE = "haco.estimate_seconds"   # the plan's estimate of the trial's wall seconds
    PARENT = "mlflow.parentRunId"
    GIT_SHA, GIT_DIRTY = "git.sha", "git.dirty"


class Kind:
    BASELINE, PRETRAIN = "baseline", "pretrain"


class StoppedBy:
    USER, BUDGET, SCHEDULER = "user", "budget", "scheduler"


class Outcome:
    """How a search's trial ended (tag haco.hpo.outcome); untagged: interrupted."""

    COMPLETED, PRUNED, FAILED, INTERRUPTED = "completed", "pruned", "failed", "interrupted"
    ENDED = (COMPLETED, PRUNED, FAILED)   # outcomes that use up a sample


TRIAL_SECONDS = "sweep/trial_seconds"  # metric: wall time of the attempt that finished
SEARCH_OBJECTIVE = "hpo/objective"     # metric: a search trial's objective, comparable
ERROR_LENGTH = 5000                    # haco.error keeps this much of the message
MAX_RESULTS = 50000


def experiment_name(study: str) -> str:
    return f"haco/{study}"


def tag_column(tag: str) -> str:
    """A tag's column in `mlflow.search_runs(output_format="pandas")`."""
    return f"tags.{tag}"


def tag_is(tag: str, value: str) -> Where:
    """A search filter: the tag has this value."""
    return Where((Clause("tag", tag, "=", value),))


def tag_set(tag: str) -> Where:
    """A search filter: the tag is set (to anything but '')."""
    return Where((Clause("tag", tag, "!=", ""),))


def status_is(status: str) -> Where:
    return Where((Clause("status", "status", "=", status),))


def both(*filters: Where) -> Where:
    return Where(tuple(c for f in filters for c in f.clauses))


TRIALS = tag_set(Tag.ROW)          # a filter: trial runs only
BASELINES = tag_is(Tag.KIND, Kind.BASELINE)
SEARCH_TRIALS = tag_set(Tag.SEARCH_TRIAL)


# ---------------------------------------------------------------------------- experiments


def experiment(client, study: str, artifact_location: str | None = None) -> str:
    """The id of experiment `haco/<study>`, created (artifacts at `artifact_location`;
    None lets the store decide) if new."""
    found = client.get_experiment_by_name(experiment_name(study))
    if found is not None:
        return found.experiment_id
    return client.create_experiment(experiment_name(study), artifact_location=artifact_location)


def studies(client) -> dict[str, str]:
    """{study: experiment id} of every `haco/<study>` experiment in the store."""
    prefix = experiment_name("")
    return {e.name[len(prefix):]: e.experiment_id for e in client.search_experiments()
            if e.name.startswith(prefix)}


def runs(client, experiment_id: str, where: str = "", newest_first: bool = False) -> list:
    """The experiment's runs matching the filter `where` (all when empty)."""
    order = ["attributes.start_time DESC"] if newest_first else None
    return client.search_runs([experiment_id], filter_string=where, max_results=MAX_RESULTS,
                              order_by=order)


# ---------------------------------------------------------------------------- models


MODEL_PATH = "model"  # the artifact folder a registered checkpoint sits in


def model_name(study: str, row: str) -> str:
    """The registered model of a study's row: `haco-losses-vcb-loss-ours`."""
    slug = "-".join("".join(c if c.isalnum() else " " for c in row.lower()).split())
    return f"haco-{study}-{slug}"


def register(client, name: str, run, tags: Mapping[str, str]) -> str:
    """A new version of model `name` from `run`'s artifact folder `model/`, tagged; the run
    tagged with `<name>/<version>`. Returns that."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException:  # it exists already: a new version of it
        pass
    version = client.create_model_version(name, f"{run.info.artifact_uri}/{MODEL_PATH}",
                                          run_id=run.info.run_id, tags=dict(tags))
    ref = f"{name}/{version.version}"
    set_tags(client, run.info.run_id, {Tag.MODEL: ref})
    return ref


# ---------------------------------------------------------------------------- trial runs


def git_state() -> dict[str, str]:
    """git.sha and git.dirty of the checkout ("unknown" outside a git checkout)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=project_root(), capture_output=True,
                              text=True, check=True).stdout.strip()
    try:
        return {Tag.GIT_SHA: git("rev-parse", "HEAD"),
                Tag.GIT_DIRTY: str(bool(git("status", "--porcelain", "--untracked-files=no")))}
    except (OSError, subprocess.CalledProcessError):
        return {Tag.GIT_SHA: "unknown", Tag.GIT_DIRTY: "unknown"}


def trial_tags(cfg, study: str, table: str, row: str, parent_run_id: str | None) -> dict:
    tags = {Tag.STUDY: study, Tag.TABLE: table, Tag.ROW: row, Tag.SEED: str(cfg.seed),
            Tag.CONFIG_HASH: config_hash(cfg), Tag.PROFILE: str(cfg.profile),
            Tag.DATA: str(cfg.data.source), Tag.DATA_KEY: data_key(cfg), **git_state()}
    if parent_run_id:
        tags[Tag.PARENT] = parent_run_id
    return tags


def trial_key(run) -> str:
    """`<config hash>-s<seed>`: what a trial run is, across launches."""
    return f"{run.data.tags.get(Tag.CONFIG_HASH)}-s{run.data.tags.get(Tag.SEED)}"


# What a launch reads of its trial runs besides their tags: results (the summary, the
# registered model), the attempt's wall time (the estimate), a search's objective.
LAUNCH_METRICS = ("test/", "val/", "sweep/", "hpo/")


def trials_by_key(client, experiment_id: str) -> dict[str, object]:
    """{trial key: run} over the study's trial runs, as brief runs (every tag, the
    LAUNCH_METRICS, no params: haco/run_reader.py); a FINISHED run wins over others,
    then the newest."""
    found: dict[str, object] = {}
    for run in brief_runs(client.tracking_uri, experiment_id, TRIALS, LAUNCH_METRICS):
        key = trial_key(run)
        if key not in found or (run.info.status == Status.FINISHED
                                and found[key].info.status != Status.FINISHED):
            found[key] = run
    return found


def finished_run(client, experiment_id: str, cfg) -> str | None:
    """The id of a FINISHED run of this configuration and seed, if one exists."""
    found = client.search_runs([experiment_id], max_results=1, filter_string=both(
        tag_is(Tag.CONFIG_HASH, config_hash(cfg)), tag_is(Tag.SEED, str(cfg.seed)),
        status_is(Status.FINISHED)))
    return found[0].info.run_id if found else None


def status_of(run) -> str | None:
    return run.info.status if run is not None else None


# ---------------------------------------------------------------------------- lifecycle


def set_tags(client, run_id: str, tags: Mapping[str, str]) -> None:
    from mlflow.entities import RunTag

    client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])


def create(client, experiment_id: str, run_name: str, tags: Mapping[str, str]) -> str:
    """A new run (RUNNING, MLflow's default for a new run); its id."""
    return client.create_run(experiment_id, tags=dict(tags), run_name=run_name).info.run_id


def schedule(client, experiment_id: str, run_name: str, tags: Mapping[str, str],
             run=None) -> str:
    """SCHEDULED: `run` (one an earlier launch left for the same trial) re-tagged, or a new
    run; its id."""
    if run is None:
        run_id = create(client, experiment_id, run_name, tags)
    else:
        run_id = run.info.run_id
        set_tags(client, run_id, tags)
    client.update_run(run_id, status=Status.SCHEDULED)
    return run_id


def begin(client, run) -> str:
    """The run a starting trial records into; its id. A run that started before (a retry,
    a trial resumed by a later launch) goes on. A run the plan only scheduled is replaced
    by a copy created now (same name and tags), so its start time, and the UI's duration,
    are the trial's own rather than the wait in the queue (MLflow cannot move a run's
    start time); the scheduled placeholder is deleted."""
    if Tag.ATTEMPTS in run.data.tags and run.info.lifecycle_stage == "active":
        return run.info.run_id
    tags = run.data.tags
    started = runs(client, run.info.experiment_id, both(
        tag_is(Tag.CONFIG_HASH, tags.get(Tag.CONFIG_HASH, "")),
        tag_is(Tag.SEED, tags.get(Tag.SEED, "")), tag_set(Tag.ATTEMPTS)), newest_first=True)
    if started:  # an earlier attempt of this launch replaced the placeholder already
        return started[0].info.run_id
    kept = {k: v for k, v in tags.items() if not k.startswith("mlflow.") or k == Tag.PARENT}
    fresh = create(client, run.info.experiment_id, run.info.run_name, kept)
    client.delete_run(run.info.run_id)
    return fresh


def start(client, run_id: str, node: str = "") -> int:
    """RUNNING, one more attempt counted; returns the attempt's number."""
    attempts = int(client.get_run(run_id).data.tags.get(Tag.ATTEMPTS, 0)) + 1
    set_tags(client, run_id, {Tag.ATTEMPTS: str(attempts), Tag.NODE: node})
    client.update_run(run_id, status=Status.RUNNING)
    return attempts


def finish(client, run_id: str) -> None:
    client.set_terminated(run_id, status=Status.FINISHED)


def fail(client, run_id: str, error: str, traceback: str | None = None) -> None:
    """FAILED with why (the traceback, if given, as the artifact error.txt)."""
    client.set_tag(run_id, Tag.ERROR, error[:ERROR_LENGTH])
    if traceback is not None:
        client.log_text(run_id, traceback, "error.txt")
    client.set_terminated(run_id, status=Status.FAILED)


def kill(client, run_id: str, stopped_by: str | None = None) -> None:
    """KILLED; `stopped_by` (StoppedBy) says who ended it early."""
    if stopped_by:
        client.set_tag(run_id, Tag.STOPPED, stopped_by)
    client.set_terminated(run_id, status=Status.KILLED)


def status(client, run_id: str) -> str:
    return client.get_run(run_id).info.status


def close(client, run_id: str, error: str | None = None, stopped_by: str | None = None
          ) -> str:
    """A run its trial did not close, closed: FAILED with `error` when there is one, else
    KILLED (by `stopped_by`); a closed run is left alone. Returns its status."""
    now = status(client, run_id)
    if now not in Status.OPEN:
        return now
    if error is not None:
        fail(client, run_id, error)
        return Status.FAILED
    kill(client, run_id, stopped_by)
    return Status.KILLED


def open_runs(client, experiment_id: str) -> list:
    """Runs (parents and trials) still SCHEDULED or RUNNING."""
    return [run for state in Status.OPEN  # MLflow's filters have no `or`
            for run in runs(client, experiment_id, status_is(state))]


def retire_stale(client, experiment_id: str, keep: Iterable[str]) -> int:
    """Runs an earlier launch left SCHEDULED or RUNNING (its driver was killed) and this
    launch does not continue: KILLED, so nothing stays RUNNING forever."""
    keep = set(keep)
    stale = [r for r in open_runs(client, experiment_id) if r.info.run_id not in keep]
    for run in stale:
        kill(client, run.info.run_id)
    return len(stale)
