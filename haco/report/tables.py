"""The paper's tables from MLflow runs: our mean ± std over seeds beside the paper's figure.

A table is data (TABLES): its rows as printed, the study whose runs fill them, and the
columns (an MLflow metric each). `build(spec, runs)` gives a numeric DataFrame, one row
per printed row, with `<column>` (our mean), `<column> std`, `<column> paper`,
`<column> diff` and `n` (seeds); a row not run yet has NaN and n = 0, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from haco import paper


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


@dataclass(frozen=True)
class TableSpec:
    key: str            # file name and --table value, e.g. "table3"
    title: str
    study: str          # the study whose runs fill it
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    group_by_test: bool = False  # Table 4: rows grouped under their test set


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
              _rows(paper.TABLE_2)),
    TableSpec("table3", "Table 3: losses (MOW)", "losses", PRF, _rows(paper.TABLE_3)),
    TableSpec("table4", "Table 4: training interaction groups x test sets", "datasets", PRF,
              _table_4_rows(), group_by_test=True),
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
        return runs["tags.haco.row"].map(groups_key)
    return runs["tags.haco.row"]


def build(spec: TableSpec, runs: pd.DataFrame) -> pd.DataFrame:
    """One line per printed row: our mean, std, the paper's figure and the difference."""
    keys = run_key(spec, runs) if not runs.empty else pd.Series(dtype=object)
    lines = []
    for row in spec.rows:
        if row.run_row is None or runs.empty:
            matched = runs.iloc[0:0]
        else:
            matched = runs if row.run_row == ANY_RUN else runs[keys == row.run_row]
        line = {"Test set": row.test} if spec.group_by_test else {}
        line["Row"] = row.label
        seeds = 0
        for column, printed in zip(spec.columns, row.paper, strict=True):
            values = _values(matched, column.metric.format(test=row.test))
            seeds = max(seeds, len(values))
            mean = float(np.mean(values)) if len(values) else np.nan
            line[column.label] = mean
            line[f"{column.label} std"] = float(np.std(values, ddof=1)) if len(values) > 1 \
                else np.nan
            line[f"{column.label} paper"] = printed
            line[f"{column.label} diff"] = mean - printed if printed is not None else np.nan
        line["n"] = seeds  # runs with a value (a row not run yet: 0)
        line["cited"] = row.run_row is None
        lines.append(line)
    return pd.DataFrame(lines)


def _values(runs: pd.DataFrame, metric: str) -> np.ndarray:
    column = f"metrics.{metric}"
    if column not in runs:
        return np.array([])
    return runs[column].dropna().to_numpy(dtype=float)
