"""The launcher's side of MLflow: which trials are done, the parent run of a launch, and
the child run every trial writes into.

A trial's run is identified by (`haco.config_hash`, `haco.seed`), never by Ray: a later
launch finds the run an interrupted one left (SCHEDULED, RUNNING, KILLED or FAILED) and
continues it, so a study has one run per cell and seed however often it was launched.
Child runs are created up front as SCHEDULED, so the MLflow UI shows the whole plan.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from haco import tracking
from haco.sweep.study import TrialSpec

FINISHED = "FINISHED"
OPEN = ("SCHEDULED", "RUNNING")   # statuses a live trial holds; left behind, they are stale
ERROR_TAG = "haco.error"          # why a trial FAILED (the traceback is an artifact)
STOPPED_TAG = "haco.stopped"      # who ended a KILLED run early: scheduler | budget | user


def trial_key(run) -> str:
    return f"{run.data.tags.get('haco.config_hash')}-s{run.data.tags.get('haco.seed')}"


def study_runs(client, experiment_id: str) -> dict[str, object]:
    """{trial key: run} over the study's child runs; a FINISHED run wins over others,
    then the newest."""
    found: dict[str, object] = {}
    runs = client.search_runs([experiment_id], filter_string="tags.`haco.row` != ''",
                              max_results=50000, order_by=["attributes.start_time DESC"])
    for run in runs:
        key = trial_key(run)
        if key not in found or (run.info.status == FINISHED
                                and found[key].info.status != FINISHED):
            found[key] = run
    return found


def open_runs(client, experiment_id: str) -> list:
    """Runs (parents and children) still SCHEDULED or RUNNING."""
    return [run for status in OPEN  # MLflow's filters have no `or`
            for run in client.search_runs([experiment_id], max_results=50000,
                                          filter_string=f"attributes.status = '{status}'")]


def start_parent(client, experiment_id: str, cfg, planned: int, skipped: int) -> str:
    tags = {"haco.study": str(cfg.study.name), "haco.table": str(cfg.study.table),
            "haco.profile": str(cfg.profile), "haco.data": str(cfg.data.source),
            "haco.launch": "true", **tracking.git_state()}
    run = client.create_run(experiment_id, tags=tags,
                            run_name=f"{cfg.study.name} {time.strftime('%Y-%m-%d %H:%M')}")
    params = {"seeds": str(list(cfg.seeds) if not isinstance(cfg.seeds, int) else cfg.seeds),
              **{f"resources.{k}": str(v) for k, v in cfg.resources.items()},
              **{f"sweep.{k}": str(v) for k, v in cfg.sweep.items()},
              "ray.address": str(cfg.ray.address)}
    tracking.log_dict_params(client, run.info.run_id, params)
    tracking.log_metrics(client, run.info.run_id, {"sweep/trials_planned": planned,
                                                   "sweep/trials_skipped": skipped})
    return run.info.run_id


def child_runs(client, experiment_id: str, cfg, specs: Iterable[TrialSpec], parent_id: str,
               existing: dict[str, object]) -> dict[str, str]:
    """{trial key: run id}: the run an earlier launch left for the trial, or a new one;
    all SCHEDULED under this launch's parent."""
    ids = {}
    for spec in specs:
        tags = tracking.trial_tags(spec.config, str(cfg.study.name), str(cfg.study.table),
                                   spec.row, parent_id)
        run = existing.get(spec.key)
        if run is None:
            run = client.create_run(experiment_id, tags=tags,
                                    run_name=f"{spec.row} s{spec.seed}")
        else:
            for key, value in tags.items():
                client.set_tag(run.info.run_id, key, value)
        client.update_run(run.info.run_id, status="SCHEDULED")
        ids[spec.key] = run.info.run_id
    return ids


def retire_stale(client, experiment_id: str, keep: set[str]) -> int:
    """Runs an earlier launch left SCHEDULED or RUNNING (its driver was killed) and this
    launch does not continue: KILLED, so nothing stays RUNNING forever."""
    stale = [r for r in open_runs(client, experiment_id) if r.info.run_id not in keep]
    for run in stale:
        client.set_terminated(run.info.run_id, status="KILLED")
    return len(stale)


def settle(client, run_ids: dict[str, str], errors: dict[str, str],
           not_started: dict[str, str]) -> dict[str, str]:
    """After Ray is done: every run the trials did not close gets FAILED (Ray reported an
    error: a dead worker or node) or KILLED (stopped; `not_started` says why those never
    started: user or budget); returns {trial key: status}."""
    statuses = {}
    for key, run_id in run_ids.items():
        status = client.get_run(run_id).info.status
        if status in OPEN:
            status = "FAILED" if key in errors else "KILLED"
            if key in errors:
                client.set_tag(run_id, ERROR_TAG, errors[key][:5000])
            if key in not_started:
                client.set_tag(run_id, STOPPED_TAG, not_started[key])
            client.set_terminated(run_id, status=status)
        statuses[key] = status
    return statuses


def finish_parent(client, run_id: str, statuses: dict[str, str], seconds: float,
                  stopped: str | None, budget, pruned: int = 0) -> str:
    """Counts, cost and wall time of the launch; KILLED when the user or the budget
    stopped it, else FINISHED when every trial finished (or, in a search, was pruned:
    KILLED by the scheduler), FAILED otherwise."""
    counts = {s: sum(1 for v in statuses.values() if v == s)
              for s in (FINISHED, "FAILED", "KILLED")}
    tracking.log_metrics(client, run_id, {
        "sweep/trials_finished": counts[FINISHED], "sweep/trials_failed": counts["FAILED"],
        "sweep/trials_killed": counts["KILLED"] - pruned, "sweep/trials_pruned": pruned,
        "sweep/wall_seconds": seconds,
        "sweep/device_hours_spent": budget.spent_hours, "sweep/usd_spent": budget.spent_usd})
    if stopped:
        client.set_tag(run_id, STOPPED_TAG, stopped)
    status = ("KILLED" if stopped else
              FINISHED if counts[FINISHED] + pruned == len(statuses) else "FAILED")
    client.set_terminated(run_id, status=status)
    return status
