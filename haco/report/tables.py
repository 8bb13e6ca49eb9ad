"""The paper's tables from MLflow runs: our mean ± std over seeds beside the paper's figure.

A table is data (TABLES): its rows as printed, the study whose runs fill them, and the
columns (an MLflow metric each). `build(spec, runs, baselines)` gives a numeric DataFrame,
one row per printed row, with `<column>` (our mean), `<column> std`, `<column> lo` and
`<column> hi` (its 95% interval over seeds, haco/report/stats.py), `<column> n` (seeds
with a value), `<column> paper`, `<column> diff` and `n` (the row's seeds); a row not run
yet has NaN and n = 0, never an error.

Tables 2, 3 and 4 name the paper's headline comparisons (`TableSpec.headline`); `build`
tests each as a paired comparison over seeds, into `attrs["paired"]` (a list of Headline).

Tables with an F1 column also get the input-blind floor (haco/report/floor.py): per row
`floor` (the better baseline F1 on its test set, for the data its runs read) and `clears`
(True | False | None: nothing to decide), then the baseline rows themselves (`baseline`
True) after the paper's rows. Tables whose rows are all ours carry in `attrs["rank"]` the
rank agreement of our F1 with the paper's (a Rank, or None).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from haco import paper
from haco.ledger import Tag, tag_column
from haco.report import floor, stats


@dataclass(frozen=True)
class Column:
    label: str          # as printed, e.g. "Precision"
    metric: str         # MLflow metric; `{test}` is the row's test set
    digits: int = 3     # decimals, as the paper prints them


@dataclass(frozen=True)
class Row:
    label: str                      # as printed
    run_row: str | None             # `haco.row` of the runs it averages; None: cited only
    paper: tuple                    # the paper's figures, one per column
    test: str = "MOW"               # the test set of `{test}` in the column metrics


BEST_OTHER = "best other"  # Comparison.second: the other row with the highest mean F1
TEST_SETS = tuple(paper.TABLE_4)  # MOW, HIC, RICH, Hi4D: every trial is tested on all four


@dataclass(frozen=True)
class Comparison:
    """A headline claim of the paper: row `first` beats row `second` in F1 on `tests`
    (the first of them is the table's own test set)."""

    first: str
    second: str          # a row label, or BEST_OTHER
    tests: tuple[str, ...] = TEST_SETS


@dataclass(frozen=True)
class TableSpec:
    key: str            # file name and --table value, e.g. "table3"
    title: str
    study: str          # the study whose runs fill it
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    group_by_test: bool = False  # Table 4: rows grouped under their test set
    headline: tuple[Comparison, ...] = ()  # the paper's claims, tested over seeds

    @property
    def has_f1(self) -> bool:
        """Tables with an F1 column show the input-blind floor."""
        return any(c.label == "F1" for c in self.columns)

    @property
    def ranked(self) -> bool:
        """Tables whose rows are all ours, with paper figures, get the rank agreement
        (Table 5's prior methods are cited, not run: no)."""
        return self.has_f1 and all(r.run_row is not None for r in self.rows)


PRF = tuple(Column(name.capitalize() if name != "f1" else "F1", f"test/{{test}}/{name}")
            for name in paper.PRF)


def _rows(printed: dict, run_rows: dict | None = None) -> tuple[Row, ...]:
    run_rows = run_rows or {}
    return tuple(Row(label, run_rows.get(label, label), values)
                 for label, values in printed.items())


def _table_4_rows() -> tuple[Row, ...]:
    """Table 4's 16 printed rows; each reads the `datasets` cell training the same groups."""
    rows = []
    for test, printed in paper.TABLE_4.items():
        for label, values in printed:
            rows.append(Row(label, groups_key(label), values, test))
    return tuple(rows)


def groups_key(label: str) -> str:
    """A training mix as an order-free key: 'HS+HO+HB+HH (Ours)' -> 'HB+HH+HO+HS'."""
    return "+".join(sorted(label.replace("(Ours)", "").strip().split("+")))


def _table_4_headline() -> tuple[Comparison, ...]:
    """Per test set, the full mix (the row marked Ours) against each of its subsets."""
    found = []
    for test, printed in paper.TABLE_4.items():
        labels = [label for label, _ in printed]
        full = next(label for label in labels if "(Ours)" in label)
        found += [Comparison(full, label, (test,)) for label in labels if label != full]
    return tuple(found)


def _table_a3_rows() -> tuple[Row, ...]:
    return tuple(Row(label, label, paper.TABLE_A3[backbone])
                 for label, backbone in paper.BACKBONE_OF_ROW.items())


def _table_5_rows() -> tuple[Row, ...]:
    return tuple(Row(label, "VCB loss (Ours)" if label == "HACO (Ours)" else None, values)
                 for label, values in paper.TABLE_5.items())


ANY_RUN = "*"  # a row fed by every run of the study (Table 1: any run that trained on it)


def _table_1_rows() -> tuple[Row, ...]:
    """Table 1's datasets with their reported non-contact:contact ratio (None: not given)."""
    from haco.data.registry import DATASETS

    return tuple(Row(name, ANY_RUN, (info.noncontact_ratio,), name)
                 for name, info in DATASETS.items())


TABLES = {spec.key: spec for spec in [
    TableSpec("table1", "Table 1: datasets, vertex-level non-contact:contact ratio measured "
              "on the training data (the loss study's runs) beside the ratio the paper "
              "reports", "losses",
              (Column("Non-contact:contact", "data/{test}/noncontact_ratio", 2),),
              _table_1_rows()),
    TableSpec("table2", "Table 2: Balanced Contact Sampling (MOW)", "sampling", PRF,
              _rows(paper.TABLE_2),
              headline=(Comparison("w/ sampling (Ours)", "w/o sampling"),)),
    TableSpec("table3", "Table 3: losses (MOW)", "losses", PRF, _rows(paper.TABLE_3),
              headline=(Comparison("VCB loss (Ours)", "CE loss"),
                        Comparison("VCB loss (Ours)", BEST_OTHER))),
    TableSpec("table4", "Table 4: training interaction groups x test sets", "datasets", PRF,
              _table_4_rows(), group_by_test=True, headline=_table_4_headline()),
    TableSpec("table5", "Table 5: comparison on MOW (POSA, BSTRO, DECO cited from the "
              "paper, not run here; ours: the loss study's VCB row)", "losses", PRF,
              _table_5_rows()),
    TableSpec("tableA1", "Table A1: contact initialization (MOW)", "init", PRF,
              _rows(paper.TABLE_A1)),
    TableSpec("tableA2", "Table A2: backbones (MOW)", "backbones", PRF,
              _rows(paper.TABLE_A2)),
    TableSpec("tableA3", "Table A3: compute costs", "backbones", (
        Column("Train memory (MB)", "cost/train_memory_mb", 0),
        Column("Model memory (MB)", "cost/model_memory_mb", 0),
        Column("Params (M)", "cost/params_m", 2),
        Column("Speed (fps)", "cost/fps", 2),
        Column("GFLOPs", "cost/gflops", 2)), _table_a3_rows()),
]}


def run_key(spec: TableSpec, runs: pd.DataFrame) -> pd.Series:
    """The value of each run that rows match on: `haco.row`, or for Table 4 the run's
    training groups (its row label read as a set)."""
    if spec.group_by_test:
        return runs[tag_column(Tag.ROW)].map(groups_key)
    return runs[tag_column(Tag.ROW)]


def build(spec: TableSpec, runs: pd.DataFrame, baselines: pd.DataFrame | None = None
          ) -> pd.DataFrame:
    """One line per printed row: our mean, std, the paper's figure and the difference; for
    F1 tables the floor of each row, then the baseline rows (`baselines`: the runs of
    haco.report.runs.pick_baselines; None or empty: no floor)."""
    keys = run_key(spec, runs) if not runs.empty else pd.Series(dtype=object)
    baselines = baselines if baselines is not None else pd.DataFrame()
    lines, seeds_f1, used = [], [], {}
    for row in spec.rows:
        matched = matched_runs(spec, runs, keys, row)
        line = {"Test set": row.test} if spec.group_by_test else {}
        line["Row"] = row.label
        seeds = 0
        for column, printed in zip(spec.columns, row.paper, strict=True):
            values = stats.finite(_values(matched, column.metric.format(test=row.test)))
            seeds = max(seeds, len(values))
            line.update(cell_columns(column.label, stats.summarize(values), printed))
            if column.label == "F1" and len(values) and printed is not None:
                seeds_f1.append((values, printed))
        line["n"] = seeds  # runs with a value (a row not run yet: 0)
        line["cited"] = row.run_row is None
        if spec.has_f1:
            line.update(floor_columns(row, matched, baselines, line, used))
        lines.append(line)
    floor_rows = baseline_lines(spec, baselines, used) if spec.has_f1 else []
    table = pd.DataFrame(lines + floor_rows)
    if spec.ranked:
        table.attrs["rank"] = rank_agreement([v for v, _ in seeds_f1], [p for _, p in seeds_f1])
    if spec.headline:
        table.attrs["paired"] = headline_comparisons(spec, runs, keys, table)
    return table


def cell_columns(label: str, cell: stats.Summary, printed) -> dict:
    """A cell's numeric columns: ours (mean, std, interval, n), the paper's, the gap."""
    return {label: cell.mean, f"{label} std": cell.std, f"{label} lo": cell.low,
            f"{label} hi": cell.high, f"{label} n": cell.n, f"{label} paper": printed,
            f"{label} diff": cell.mean - printed if printed is not None else np.nan}


def matched_runs(spec: TableSpec, runs: pd.DataFrame, keys: pd.Series, row: Row
                 ) -> pd.DataFrame:
    """The runs a printed row averages."""
    if row.run_row is None or runs.empty:
        return runs.iloc[0:0]
    return runs if row.run_row == ANY_RUN else runs[keys == row.run_row]


def _values(runs: pd.DataFrame, metric: str) -> np.ndarray:
    column = f"metrics.{metric}"
    if column not in runs:
        return np.array([])
    return runs[column].dropna().to_numpy(dtype=float)


# ---------------------------------------------------------------------------- headline


@dataclass(frozen=True)
class Headline:
    """One of the paper's claims tested on our runs: `first` minus `second` in F1 on
    `test`, paired by seed (haco/report/stats.py); `result.pairs` < 2: skipped."""

    first: str
    second: str                  # the row compared with; "" when BEST_OTHER found none
    test: str
    result: stats.Paired
    chosen_on: str = ""          # `second` is the best other row by mean F1 on this test
                                 # set ("" when the paper names it)
    note: str = ""               # a caveat (e.g. the two rows ran on different twins)


def headline_comparisons(spec: TableSpec, runs: pd.DataFrame, keys: pd.Series,
                         table: pd.DataFrame) -> list[Headline]:
    """Every comparison of `spec.headline` on each of its test sets; a best other row
    that is a row the paper already names is compared once, marked as both."""
    resolved: dict[tuple[str, str], tuple[Comparison, str]] = {}
    for comparison in spec.headline:
        home = comparison.tests[0]
        if comparison.second != BEST_OTHER:
            resolved.setdefault((comparison.first, comparison.second), (comparison, ""))
            continue
        second = best_other(spec, table, comparison.first, home) or ""  # chosen on `home`
        earlier = resolved.get((comparison.first, second), (comparison, ""))[0]
        resolved[(comparison.first, second)] = (earlier, home)
    return [compare(spec, runs, keys, labels, comparison.tests[0], test, chosen_on)
            for labels, (comparison, chosen_on) in resolved.items()
            for test in comparison.tests]


def best_other(spec: TableSpec, table: pd.DataFrame, first: str, test: str) -> str | None:
    """The trained row other than `first` with the highest mean F1 on `test`; None if no
    other row has run."""
    rows = table[~table["cited"].astype(bool) & table["F1"].notna() & (table["Row"] != first)]
    if "baseline" in rows:
        rows = rows[~rows["baseline"].astype(bool)]
    if spec.group_by_test:
        rows = rows[rows["Test set"] == test]
    return None if rows.empty else str(rows.loc[rows["F1"].idxmax(), "Row"])


def compare(spec: TableSpec, runs: pd.DataFrame, keys: pd.Series, labels: tuple[str, str],
            home: str, test: str, chosen_on: str) -> Headline:
    """`labels[0]` minus `labels[1]` (rows found on the `home` test set) on `test`."""
    first, second = labels
    if not second:
        return Headline(first, second, test, stats.Paired(0), chosen_on)
    matched = [matched_runs(spec, runs, keys, find_row(spec, label, home)) for label in labels]
    metric = next(c.metric for c in spec.columns if c.label == "F1").format(test=test)
    result = stats.paired(*(per_seed(m, metric) for m in matched))
    return Headline(first, second, test, result, chosen_on, twins_note(*matched))


def find_row(spec: TableSpec, label: str, test: str) -> Row:
    """The printed row `label` (under test set `test` in Table 4, where labels repeat)."""
    return next(r for r in spec.rows
                if r.label == label and (not spec.group_by_test or r.test == test))


def per_seed(runs: pd.DataFrame, metric: str) -> pd.Series:
    """A row's `metric` per seed (tag `haco.seed`); empty without runs or values."""
    column = f"metrics.{metric}"
    if runs.empty or column not in runs or tag_column(Tag.SEED) not in runs:
        return pd.Series(dtype=float)
    return runs.set_index(tag_column(Tag.SEED))[column].dropna().astype(float)


def twins_note(first: pd.DataFrame, second: pd.DataFrame) -> str:
    """A caveat when the two rows ran on different twins (`data.seed`): each row shows
    its newest configuration, and pairing seeds across twins mixes data with training
    noise."""
    twins = [sorted(set(m.get("params.data.seed", pd.Series(dtype=object)).dropna()))
             for m in (first, second)]
    if not all(twins) or twins[0] == twins[1]:
        return ""
    return (f"on different twins (data.seed {', '.join(twins[0])} vs "
            f"{', '.join(twins[1])}; --data-seed picks one)")


# ---------------------------------------------------------------------------- the floor


def floor_columns(row: Row, matched: pd.DataFrame, baselines: pd.DataFrame, line: dict,
                  used: dict[str, set]) -> dict:
    """`floor`, `clears` and `baseline` (False) of a trained row; records in `used` (test
    set -> data keys) the data its runs read, whose baselines the table prints (even
    none: a release-protocol row has no paper-protocol floor)."""
    pool = row_baselines(matched, baselines, row.test)
    f1 = f"metrics.test/{row.test}/f1"
    value = float(pool[f1].max()) if not pool.empty and line["n"] else np.nan
    if line["n"]:
        tagged = matched.get(tag_column(Tag.DATA_KEY), pd.Series(np.nan, index=matched.index))
        keys = pool.get(tag_column(Tag.DATA_KEY), ()) if tagged.isna().any() else tagged
        used.setdefault(row.test, set()).update(keys)
    return {"floor": value, "baseline": False,
            "clears": floor.clears(line["F1"], line["F1 std"], line["n"], value)}


def row_baselines(matched: pd.DataFrame, baselines: pd.DataFrame, test: str) -> pd.DataFrame:
    """The baselines of the data a row's runs read (tag `haco.data_key`) with an F1 on
    `test`; runs without the tag (logged before it existed) fall back to every baseline
    of the study's profile and data, and the floor is the highest of them."""
    f1 = f"metrics.test/{test}/f1"
    if baselines.empty or f1 not in baselines or matched.empty:
        return baselines.iloc[0:0]
    pool = baselines[baselines[f1].notna()]
    tagged = matched.get(tag_column(Tag.DATA_KEY), pd.Series(np.nan, index=matched.index))
    if tagged.isna().any():
        return pool
    return pool[pool[tag_column(Tag.DATA_KEY)].isin(set(tagged))]


def baseline_lines(spec: TableSpec, baselines: pd.DataFrame, used: dict[str, set]
                   ) -> list[dict]:
    """The baseline rows: per test set of the table, each baseline on the data its rows'
    floors came from (every logged data when no row has run). Identical figures are shown
    once; a baseline differing between training mixes is labelled with its mix."""
    lines = []
    for test in dict.fromkeys(r.test for r in spec.rows):
        metric = {c.label: f"metrics.{c.metric.format(test=test)}" for c in spec.columns}
        if baselines.empty or metric["F1"] not in baselines:
            continue
        pool = baselines[baselines[metric["F1"]].notna()]
        if test in used:
            pool = pool[pool[tag_column(Tag.DATA_KEY)].isin(used[test])]
        for name in floor.BASELINES:
            found = pool[pool[tag_column(Tag.BASELINE)] == name].drop_duplicates(
                subset=list(metric.values()))
            for _, run in found.iterrows():
                label = name if len(found) == 1 else f"{name} (train {mix_label(run)})"
                line = {"Test set": test} if spec.group_by_test else {}
                line["Row"] = label
                for column in spec.columns:  # one deterministic figure: no std, no interval
                    line.update(cell_columns(column.label, stats.summarize(
                        [run[metric[column.label]]]), None))
                lines.append({**line, "n": 1, "cited": False, "floor": np.nan,
                              "clears": None, "baseline": True})
    return lines


def mix_label(run: pd.Series) -> str:
    """A baseline run's training mix as printed in Table 4: "['HS', 'HO']" -> "HS+HO"."""
    text = str(run.get("params.data.train", "?"))
    return "+".join(part.strip(" '\"") for part in text.strip("[]").split(","))


# ---------------------------------------------------------------------------- rank


@dataclass(frozen=True)
class Rank:
    """Spearman's rank correlation of our F1 means with the paper's F1."""

    rho: float              # NaN with fewer than 3 rows, or when every mean ties
    rows: int               # rows with both our F1 and the paper's
    low: float = np.nan     # bootstrap 95% interval over seeds (NaN: not every row has n >= 2)
    high: float = np.nan
    draws: int = 0          # bootstrap draws (0: no interval)


MIN_RANK_ROWS = 3  # two rows always rank perfectly (or perfectly wrong)


def spearman(ours: np.ndarray, paper_f1: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row of `ours` (D, k) with `paper_f1` (k,): the Pearson
    correlation of their ranks (ties averaged, as scipy.stats.spearmanr); (D,), NaN where
    a row's ranks are all tied."""
    from scipy.stats import rankdata

    a = rankdata(ours, axis=1)
    b = rankdata(paper_f1)
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean()
    scale = np.sqrt((a ** 2).sum(axis=1) * (b ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, a @ b / scale, np.nan)


def rank_agreement(values: list[np.ndarray], paper_f1: list[float], draws: int = 1000,
                   seed: int = 0) -> Rank:
    """Rank agreement over the rows with both figures (`values`: each row's per-seed F1);
    with n >= 2 seeds on every row, a bootstrap interval: each row's seeds resampled with
    replacement `draws` times (a fixed RNG seed, so the line is reproducible)."""
    rows = len(values)
    if rows < MIN_RANK_ROWS:
        return Rank(np.nan, rows)
    paper_f1 = np.asarray(paper_f1, dtype=float)
    rho = float(spearman(np.array([[v.mean() for v in values]]), paper_f1)[0])
    if min(len(v) for v in values) < 2:
        return Rank(rho, rows)
    rng = np.random.default_rng(seed)
    means = np.stack([v[rng.integers(0, len(v), size=(draws, len(v)))].mean(axis=1)
                      for v in values], axis=1)  # (draws, rows)
    found = spearman(means, paper_f1)
    found = found[~np.isnan(found)]
    if not len(found):
        return Rank(rho, rows)
    low, high = np.percentile(found, [2.5, 97.5])
    return Rank(rho, rows, float(low), float(high), draws)
