"""Runs read from an MLflow store with only the values wanted: for the reports, the
DataFrame `mlflow.search_runs` would give (`read_runs`); for a launch's look-ups, MLflow
Run entities (`brief_runs`). Both hold the runs of one experiment that match a ledger
filter (a Where, built by haco.ledger's tag_is, status_is, both), newest first.

`mlflow.search_runs` and `MlflowClient.search_runs` load every tag, param and metric of
every run they return: a store of 10,000 trial runs with ~200 metrics each is millions of
ORM objects, minutes of reading for the few values a table or a plan uses. So:
- a database store (`sqlite:///...`, `postgresql://...`, what the cluster's server runs
  on) is read with MLflow's own table models, one query per kind of value, each selecting
  only the wanted keys of the matching runs;
- any other store (an `http://` server) is paged through MLflow's client, 1000 runs a
  page, keeping only the wanted values of each page.
Both give what MLflow's search gives for those values (tests/test_run_reader.py compares
them on one store, so a change in MLflow's tables shows up there first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd

from haco import store_file

PAGE = 1000  # runs per request when paging through a tracking server
RUN_FIELDS = ("run_id", "experiment_id", "status", "start_time", "end_time", "artifact_uri")
KINDS = ("metrics", "params", "tags")


@dataclass(frozen=True)
class Clause:
    """One condition of a search filter: `field` is "tag" (then `key` names it) or
    "status"; `op` is "=" or "!="."""

    field: str
    key: str
    op: str
    value: str

    def __str__(self) -> str:
        if self.field == "status":
            return f"attributes.status {self.op} '{self.value}'"
        return f"tags.`{self.key}` {self.op} '{self.value}'"


class Where(str):
    """A search filter: the string MLflow's search takes, which also keeps its clauses, so
    a reader that queries the store's tables itself (this module) applies the same
    filter. MLflow's filters have no `or`: clauses are joined by `and`."""

    clauses: tuple[Clause, ...]

    def __new__(cls, clauses: tuple[Clause, ...] = ()):
        made = super().__new__(cls, " and ".join(str(c) for c in clauses))
        made.clauses = tuple(clauses)
        return made


@dataclass(frozen=True)
class Columns:
    """Which values to read: metrics by key prefix, params and tags by key (None: all)."""

    metric_prefixes: tuple[str, ...]
    params: tuple[str, ...] | None = ()
    tags: tuple[str, ...] | None = None

    def wants(self, kind: str, key: str) -> bool:
        if kind == "metrics":
            return key.startswith(self.metric_prefixes)
        chosen = self.params if kind == "params" else self.tags
        return chosen is None or key in chosen


@dataclass
class Found:
    """Matching runs (tuples of RUN_FIELDS) and their wanted values, per kind
    [(run id, key, value)]."""

    runs: list[tuple] = field(default_factory=list)
    values: dict[str, list[tuple]] = field(default_factory=lambda: {k: [] for k in KINDS})


def read_runs(tracking_uri: str, experiment_id: str, where: Where, columns: Columns
              ) -> pd.DataFrame:
    """The experiment's active runs matching `where`, with `columns` only, as the frame
    `mlflow.search_runs` gives (`run_id`, `experiment_id`, `status`, `start_time`,
    `end_time`, `artifact_uri`, `metrics.*`, `params.*`, `tags.*`); empty when none."""
    return _frame(_read(tracking_uri, experiment_id, where, columns))


def brief_runs(tracking_uri: str, experiment_id: str, where: Where,
               metric_prefixes: tuple[str, ...]) -> list:
    """The matching runs as MLflow Run entities with every tag, no params and only the
    metrics under `metric_prefixes`, newest first."""
    from mlflow.entities import LifecycleStage, Metric, Run, RunData, RunInfo, RunTag

    found = _read(tracking_uri, experiment_id, where, Columns(metric_prefixes))
    metrics: dict[str, list] = {}
    tags: dict[str, list] = {}
    for run_id, key, value in found.values["metrics"]:
        metrics.setdefault(run_id, []).append(Metric(key, value, 0, 0))
    for run_id, key, value in found.values["tags"]:
        tags.setdefault(run_id, []).append(RunTag(key, value))
    out = []
    for run_id, experiment, status, start, end, artifacts in _newest_first(found.runs):
        run_tags = tags.get(run_id, [])
        name = next((t.value for t in run_tags if t.key == "mlflow.runName"), None)
        info = RunInfo(run_id, str(experiment), "", status, start, end, LifecycleStage.ACTIVE,
                       artifacts, name)
        out.append(Run(info, RunData(metrics=metrics.get(run_id, []), tags=run_tags)))
    return out


def _read(tracking_uri: str, experiment_id: str, where: Where, columns: Columns) -> Found:
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.tracking._tracking_service.utils import _get_store

    store_file.prepare_store(tracking_uri)  # a damaged SQLite file: one clear error
    with store_file.damage_reported(tracking_uri):
        store = _get_store(tracking_uri)
        if isinstance(store, SqlAlchemyStore):
            return _from_database(store, experiment_id, where, columns)
    return _from_client(tracking_uri, experiment_id, where, columns)


def _newest_first(runs: list[tuple]) -> list[tuple]:
    return sorted(runs, key=lambda run: run[3] or 0, reverse=True)


# ---------------------------------------------------------------------------- databases


def _from_database(store, experiment_id: str, where: Where, columns: Columns) -> Found:
    from mlflow.store.tracking.dbmodels.models import (
        SqlLatestMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from sqlalchemy import select

    matching = select(SqlRun.run_uuid).where(SqlRun.experiment_id == int(experiment_id),
                                             SqlRun.lifecycle_stage == "active",
                                             *_conditions(where, SqlRun, SqlTag))
    found = Found()
    with store.ManagedSessionMaker() as session:
        found.runs = [tuple(row) for row in session.execute(
            select(SqlRun.run_uuid, SqlRun.experiment_id, SqlRun.status, SqlRun.start_time,
                   SqlRun.end_time, SqlRun.artifact_uri).where(SqlRun.run_uuid.in_(matching)))]
        found.values = {
            "metrics": _values(session, SqlLatestMetric, matching, None,
                               columns.metric_prefixes),
            "params": _values(session, SqlParam, matching, columns.params, None),
            "tags": _values(session, SqlTag, matching, columns.tags, None),
        }
    return found


def _conditions(where: Where, run_model, tag_model) -> list:
    """The ledger filter's clauses as SQL conditions on the runs table."""
    from sqlalchemy import exists

    found = []
    for clause in where.clauses:
        if clause.field == "status":
            found.append(run_model.status == clause.value if clause.op == "="
                         else run_model.status != clause.value)
            continue
        tag = exists().where(tag_model.run_uuid == run_model.run_uuid,
                             tag_model.key == clause.key)
        found.append(tag.where(tag_model.value == clause.value) if clause.op == "="
                     else tag.where(tag_model.value != clause.value))
    return found


def _values(session, model, matching, keys: tuple[str, ...] | None,
            prefixes: tuple[str, ...] | None) -> list[tuple]:
    """[(run id, key, value)] of the matching runs' wanted keys (`keys` None: all;
    `prefixes`: keys starting with one of them)."""
    from sqlalchemy import or_, select

    if (keys is not None and not keys) or (prefixes is not None and not prefixes):
        return []
    query = select(model.run_uuid, model.key, model.value).where(model.run_uuid.in_(matching))
    if keys is not None:
        query = query.where(model.key.in_(keys))
    if prefixes is not None:
        query = query.where(or_(*(model.key.startswith(p, autoescape=True) for p in prefixes)))
    if not hasattr(model, "is_nan"):
        return [tuple(row) for row in session.execute(query)]
    # a NaN metric is stored as 0 with is_nan set
    return [(run_id, key, float("nan") if is_nan else float(value)) for run_id, key, value,
            is_nan in session.execute(query.add_columns(model.is_nan))]


# ---------------------------------------------------------------------------- servers


def _from_client(tracking_uri: str, experiment_id: str, where: Where, columns: Columns
                 ) -> Found:
    from mlflow.tracking import MlflowClient

    client, token, found = MlflowClient(tracking_uri), None, Found()
    while True:
        page = client.search_runs([experiment_id], filter_string=str(where),
                                  max_results=PAGE, page_token=token)
        for run in page:
            info = run.info
            found.runs.append((info.run_id, info.experiment_id, info.status, info.start_time,
                               info.end_time, info.artifact_uri))
            for kind in KINDS:
                found.values[kind] += _wanted(info.run_id, getattr(run.data, kind),
                                              columns, kind)
        token = page.token
        if not token:
            return found


def _wanted(run_id: str, mapping: dict, columns: Columns, kind: str
            ) -> Iterable[tuple[str, str, object]]:
    return [(run_id, key, value) for key, value in mapping.items() if columns.wants(kind, key)]


# ---------------------------------------------------------------------------- the frame


def _frame(found: Found) -> pd.DataFrame:
    """Runs and their values as one wide frame, as search_runs has it, newest first."""
    if not found.runs:
        return pd.DataFrame()
    runs = pd.DataFrame(_newest_first(found.runs), columns=list(RUN_FIELDS))
    runs["experiment_id"] = runs["experiment_id"].astype(str)
    for column in ("start_time", "end_time"):
        runs[column] = pd.to_datetime(runs[column], unit="ms", utc=True)
    wide = [runs.set_index("run_id")]
    for kind in KINDS:
        if not found.values[kind]:
            continue
        rows = pd.DataFrame(found.values[kind], columns=["run_id", "key", "value"])
        table = rows.pivot(index="run_id", columns="key", values="value")
        table.columns = [f"{kind}.{key}" for key in table.columns]
        wide.append(table.astype(float) if kind == "metrics" else table)
    joined = pd.concat(wide, axis=1, join="outer").loc[runs["run_id"]]
    return joined.rename_axis("run_id").reset_index()
