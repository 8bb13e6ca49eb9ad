"""The launch's runs in the ledger (haco/ledger.py): its parent run, the trial runs it
schedules, and how they are settled once Ray is done.

A trial's run is identified by (`haco.config_hash`, `haco.seed`), never by Ray: a later
launch finds the run an interrupted one left (SCHEDULED, RUNNING, KILLED or FAILED) and
continues it, so a study has one run per cell and seed however often it was launched.
Trial runs are created up front as SCHEDULED, so the MLflow UI shows the whole plan.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from haco import ledger, tracking
from haco.ledger import Status, Tag
from haco.paths import data_root
from haco.sweep.study import TrialSpec, storage_dir

ESTIMATED_WALL = "sweep/estimated_wall_seconds"  # the plan's, beside sweep/wall_seconds


def start_parent(client, experiment_id: str, cfg, planned: int, skipped: int,
                 estimated_wall: float) -> str:
    tags = {Tag.STUDY: str(cfg.study.name), Tag.TABLE: str(cfg.study.table),
            Tag.PROFILE: str(cfg.profile), Tag.DATA: str(cfg.data.source),
            Tag.LAUNCH: "true", **ledger.git_state()}
    run_id = ledger.create(client, experiment_id,
                           f"{cfg.study.name} {time.strftime('%Y-%m-%d %H:%M')}", tags)
    params = {"seeds": str(list(cfg.seeds) if not isinstance(cfg.seeds, int) else cfg.seeds),
              **{f"resources.{k}": str(v) for k, v in cfg.resources.items()},
              **{f"sweep.{k}": str(v) for k, v in cfg.sweep.items()},
              "ray.address": str(cfg.ray.address),
              # the roots the trials' paths sit under, once here (home-relative when logged)
              "roots.data": str(data_root(cfg.data.root)),
              "roots.storage": str(storage_dir(cfg, "")),
              "roots.store": tracking.tracking_uri(cfg)}
    tracking.log_dict_params(client, run_id, params)
    tracking.log_metrics(client, run_id, {"sweep/trials_planned": planned,
                                          "sweep/trials_skipped": skipped,
                                          ESTIMATED_WALL: estimated_wall})
    return run_id


def schedule_trials(client, experiment_id: str, cfg, specs: Iterable[TrialSpec],
                    parent_id: str, existing: dict[str, object],
                    estimates: dict[str, dict[str, str]]) -> dict[str, str]:
    """{trial key: run id}: the run an earlier launch left for the trial, or a new one;
    all SCHEDULED under this launch's parent, tagged with their plan's estimate
    (`estimates`: {trial key: tags}, haco/sweep/estimate.py)."""
    return {spec.key: ledger.schedule(
        client, experiment_id, f"{spec.row} s{spec.seed}",
        {**ledger.trial_tags(spec.config, str(cfg.study.name), str(cfg.study.table),
                             spec.row, parent_id), **estimates.get(spec.key, {})},
        existing.get(spec.key)) for spec in specs}


def settle(client, experiment_id: str, keys: list[str], errors: dict[str, str],
           not_started: dict[str, str]) -> dict[str, str]:
    """After Ray is done: the run of every trial of `keys` that its trial did not close
    gets FAILED (Ray reported an error: a dead worker or node) or KILLED (stopped;
    `not_started` says why those never started: user or budget); returns {trial key:
    status}. Runs are found by trial key: a trial that started records into a run of its
    own (haco.ledger.begin), not the one the plan scheduled."""
    current = ledger.trials_by_key(client, experiment_id)
    return {key: ledger.close(client, current[key].info.run_id, errors.get(key),
                              not_started.get(key)) for key in keys if key in current}


def finish_parent(client, run_id: str, statuses: dict[str, str], seconds: float,
                  stopped: str | None, budget, pruned: int = 0) -> str:
    """Counts, cost and wall time of the launch; KILLED when the user or the budget
    stopped it, else FINISHED when every trial finished (or, in a search, was pruned:
    KILLED by the scheduler), FAILED otherwise."""
    counts = {s: sum(1 for v in statuses.values() if v == s) for s in Status.ENDED}
    tracking.log_metrics(client, run_id, {
        "sweep/trials_finished": counts[Status.FINISHED],
        "sweep/trials_failed": counts[Status.FAILED],
        "sweep/trials_killed": counts[Status.KILLED] - pruned, "sweep/trials_pruned": pruned,
        "sweep/wall_seconds": seconds,
        "sweep/device_hours_spent": budget.spent_hours, "sweep/usd_spent": budget.spent_usd})
    if stopped:
        ledger.kill(client, run_id, stopped)
        return Status.KILLED
    if counts[Status.FINISHED] + pruned == len(statuses):
        ledger.finish(client, run_id)
        return Status.FINISHED
    ledger.fail(client, run_id, f"{len(statuses) - counts[Status.FINISHED] - pruned} of "
                                f"{len(statuses)} trials did not finish")
    return Status.FAILED
