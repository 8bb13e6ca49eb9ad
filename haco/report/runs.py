"""Runs of a study out of MLflow as a pandas DataFrame: the only input of the reports.

One row per trial run (child runs carry `haco.row`; a launch's parent run and the
input-blind baselines, tag `haco.kind=baseline`, do not), FINISHED only, and per (row,
seed) the newest run, so a cell re-run after a change counts once. A row averages the seeds
of one configuration only, its newest (tag `haco.config_hash`): after a change of code,
profile or twins, seeds not re-run yet drop out of the row (its n says so) instead of being
pooled with the new ones. Runs of several
profiles or data sources are never pooled: `pick` selects one, `pick_baselines` the
baselines of the same. Nor are fidelity variants (param `fidelity`: `paper`, the default,
or `release`, the authors' released code; runs logged before the param are `paper`):
`pick` keeps one.
"""

from __future__ import annotations

import pandas as pd

from haco import ledger
from haco.config import FIDELITIES
from haco.ledger import SEARCH_OBJECTIVE, Status, Tag, tag_column
from haco.run_reader import Columns, read_runs

PROFILE_ORDER = ("paper", "quick", "smoke")  # the default report shows the most serious
DEFAULT_FIDELITY = FIDELITIES[0]  # "paper": what runs without the param ran (they predate it)


# What the reports read of a run (haco/run_reader.py reads nothing else): every tag, the
# params that pick runs and group Table 4, and the metrics the tables and figures show.
REPORT_COLUMNS = Columns(metric_prefixes=("test/", "data/", "cost/", SEARCH_OBJECTIVE),
                         params=("fidelity", "data.seed", "data.train"))


def search(tracking_uri: str, study: str, where: ledger.Where,
           columns: Columns = REPORT_COLUMNS) -> pd.DataFrame:
    """The runs of experiment `haco/<study>` matching the ledger filter `where`, as a
    DataFrame with `columns` (empty when the study never ran)."""
    from haco.tracking import open_client

    found = open_client(tracking_uri).get_experiment_by_name(ledger.experiment_name(study))
    if found is None:
        return pd.DataFrame()
    return read_runs(tracking_uri, found.experiment_id, where, columns)


def load_runs(tracking_uri: str, study: str) -> pd.DataFrame:
    """Every FINISHED trial run of `haco/<study>` (empty when the study never ran)."""
    runs = search(tracking_uri, study, ledger.status_is(Status.FINISHED))
    if runs.empty or tag_column(Tag.ROW) not in runs:
        return pd.DataFrame()
    return runs[runs[tag_column(Tag.ROW)].notna()].reset_index(drop=True)


def load_baselines(tracking_uri: str, study: str) -> pd.DataFrame:
    """Every FINISHED input-blind baseline run of `haco/<study>` (haco/baselines.py):
    tags `haco.baseline` (its name) and `haco.data_key`, metrics `test/<set>/*`."""
    return search(tracking_uri, study,
                  ledger.both(ledger.BASELINES, ledger.status_is(Status.FINISHED)))


def pick_baselines(baselines: pd.DataFrame, profile: str | None = None,
                   data: str | None = None) -> pd.DataFrame:
    """The baselines of one profile and data source (those `pick` chose for the trial
    runs; None: chosen the same way among the baselines), the newest per data key and
    baseline (a newer version of the baselines replaces an older one). No fidelity filter:
    a row meets the baselines of its own data key, which holds `eval.protocol` when it is
    the release's (haco.config.SCORING_KEYS)."""
    if baselines.empty:
        return baselines
    chosen, _, _ = _one_source(baselines, profile, data)
    return _newest(chosen, [tag_column(Tag.DATA_KEY), tag_column(Tag.BASELINE)])


def load_search(tracking_uri: str, study: str = "hpo") -> pd.DataFrame:
    """The trial runs of the newest search in `haco/<study>`, every status (pruned trials
    end KILLED), in trial order; empty when no search ran."""
    runs = search(tracking_uri, study, ledger.SEARCH_TRIALS)
    if runs.empty:
        return runs
    newest = runs.sort_values("start_time")[tag_column(Tag.SEARCH)].iloc[-1]
    runs = runs[runs[tag_column(Tag.SEARCH)] == newest].copy()
    runs["trial"] = runs[tag_column(Tag.SEARCH_TRIAL)].astype(int)
    return runs.sort_values("trial").reset_index(drop=True)


def pick(runs: pd.DataFrame, profile: str | None = None, data: str | None = None,
         data_seed: int | None = None, fidelity: str = DEFAULT_FIDELITY
         ) -> tuple[pd.DataFrame, str | None, str | None]:
    """(runs of one profile and data source, the profile, the source); by default the
    most serious profile present and real data over synthetic. `data_seed`: only runs on
    the twins of that `data.seed` (None: any; each row then shows its newest config).
    `fidelity`: only runs of that variant."""
    runs = of_fidelity(runs, fidelity)
    if data_seed is not None and not runs.empty:
        seeds = runs.get("params.data.seed", pd.Series(None, index=runs.index))
        runs = runs[seeds == str(data_seed)]
    if runs.empty:
        return runs, profile, data
    runs, profile, data = _one_source(runs, profile, data)
    runs = _newest(runs, [tag_column(Tag.ROW), tag_column(Tag.SEED)])
    return _newest_config(runs), profile, data


def of_fidelity(runs: pd.DataFrame, fidelity: str) -> pd.DataFrame:
    """The runs of one fidelity variant; a run without the param counts as `paper`."""
    if fidelity not in FIDELITIES:
        raise ValueError(f"fidelity must be one of {list(FIDELITIES)}, got {fidelity!r}")
    if runs.empty:
        return runs
    logged = runs.get("params.fidelity", pd.Series(None, index=runs.index, dtype=object))
    return runs[logged.fillna(DEFAULT_FIDELITY) == fidelity]


def _newest_config(runs: pd.DataFrame) -> pd.DataFrame:
    """Per row, the runs sharing the config hash of the row's newest run."""
    if tag_column(Tag.CONFIG_HASH) not in runs:
        return runs
    ordered = runs.sort_values("start_time")
    current = ordered.groupby(tag_column(Tag.ROW))[tag_column(Tag.CONFIG_HASH)].last()
    keep = runs[tag_column(Tag.CONFIG_HASH)] == runs[tag_column(Tag.ROW)].map(current)
    return runs[keep].reset_index(drop=True)


def _one_source(runs: pd.DataFrame, profile: str | None, data: str | None
                ) -> tuple[pd.DataFrame, str, str]:
    profiles = set(runs[tag_column(Tag.PROFILE)])
    profile = profile or next((p for p in PROFILE_ORDER if p in profiles), min(profiles))
    runs = runs[runs[tag_column(Tag.PROFILE)] == profile]
    sources = set(runs[tag_column(Tag.DATA)])
    data = data or ("real" if "real" in sources else "synthetic")
    return runs[runs[tag_column(Tag.DATA)] == data], profile, data


def _newest(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The newest run per value of `keys`."""
    newest = runs.sort_values("start_time").groupby(keys, as_index=False).tail(1)
    return newest.reset_index(drop=True)
