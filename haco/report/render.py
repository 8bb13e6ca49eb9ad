"""Tables as Markdown, CSV and LaTeX, written atomically.

Markdown and LaTeX show, per column, ours (mean ± std over seeds), the paper's figure and
the difference; "—" where a row has not been run, "cited" for rows quoted from the paper.
Tables with F1 then show the input-blind floor under its own label, mark with † the F1 of
every trained row that does not clear it, count those that do in the caption, and print
the rank agreement with the paper under the table. CSV keeps the numbers as they are (NaN
for missing; the floor as columns `floor`, `clears`, `baseline`, the rank agreement as
`rank rho`, `rank rows`, `rank low`, `rank high`), for pandas and spreadsheets.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from haco.report import floor
from haco.report.tables import Rank, TableSpec

DASH = "—"
FORMATS = ("md", "csv", "tex")


def ours(mean: float, std: float, n: int, digits: int) -> str:
    if n == 0 or math.isnan(mean):
        return DASH
    if n == 1 or math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def display(spec: TableSpec, table: pd.DataFrame) -> pd.DataFrame:
    """The table as strings: `<col>` ours, `<col> paper`, `<col> Δ` per column, then n;
    the baseline rows after the paper's, under the floor's label."""
    out = pd.DataFrame({k: table[k] for k in ("Test set", "Row") if k in table})
    below = table["clears"].eq(False) if "clears" in table else pd.Series(False, table.index)
    baseline = (table["baseline"].astype(bool) if "baseline" in table
                else pd.Series(False, table.index))
    for column in spec.columns:
        d, label = column.digits, column.label
        out[label] = [("cited" if cited else ours(m, s, n, d)) for m, s, n, cited in zip(
            table[label], table[f"{label} std"], table["n"], table["cited"], strict=True)]
        if label == "F1":
            out.loc[below, label] = out.loc[below, label] + f" {floor.MARK}"
        out[f"{label} paper"] = [DASH if p is None or _nan(p) else f"{p:.{d}f}"
                                 for p in table[f"{label} paper"]]
        out[f"{label} Δ"] = [DASH if _nan(x) else f"{x:+.{d}f}" for x in table[f"{label} diff"]]
    out["n"] = [DASH if cited or base else str(n) for n, cited, base in zip(
        table["n"], table["cited"], baseline, strict=True)]
    if not baseline.any():
        return out
    label_row = pd.DataFrame([{c: "" for c in out.columns} | {"Row": f"*{floor.LABEL}*"}])
    return pd.concat([out[~baseline], label_row, out[baseline]], ignore_index=True)


def _nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def caption(spec: TableSpec, profile: str | None, data: str | None,
            table: pd.DataFrame | None = None) -> str:
    ours_from = (f"ours: {data or 'no'} data ({'synthetic twins' if data == 'synthetic' else 'real'}), "
                 f"profile {profile}" if profile else "ours: no runs yet")
    text = (f"{spec.title}. Study `{spec.study}`; {ours_from}; mean ± std over n seeds. "
            "Paper: real data, ViT-H (HaMeR) unless the row says otherwise.")
    if table is not None and spec.has_f1:
        text += " " + floor_caption(spec, table)
    return text


def floor_caption(spec: TableSpec, table: pd.DataFrame) -> str:
    if not table["baseline"].any():
        return (f"No input-blind floor logged for these runs yet: `haco baselines "
                f"study={spec.study}` computes it.")
    return (f"{floor.LABEL}, below the paper's rows: All contact predicts every vertex, "
            "Vertex prior the training data's per-vertex contact frequency thresholded at "
            "its best F1 on validation, Dataset prior the same with each dataset's own "
            f"frequency (it knows the dataset, not the image). {floor.MARK}: F1 not above "
            "the best of them on the row's test set by more than its seed std (n = 1: by "
            "any margin); "
            f"{floor.summary(table['clears'])}.")


def rank_line(spec: TableSpec, table: pd.DataFrame) -> str | None:
    """The rank agreement with the paper, in words; None for tables without one."""
    rank: Rank | None = table.attrs.get("rank") if spec.ranked else None
    if rank is None:
        return None
    head = "Rank agreement with the paper (a figure, not a target): Spearman ρ"
    if _nan(rank.rho):
        why = ("all our F1 means tie" if rank.rows >= 3 else
               f"needs our F1 on at least 3 rows with a paper figure, {rank.rows} so far")
        return f"{head} undefined ({why})."
    interval = (f"; bootstrap 95% interval over seeds [{rank.low:.2f}, {rank.high:.2f}] "
                f"({rank.draws} draws)" if rank.draws else
                "; no interval: it needs n >= 2 seeds on every row")
    return f"{head} = {rank.rho:.2f} over the F1 of {rank.rows} rows{interval}."


def markdown(spec: TableSpec, table: pd.DataFrame, profile, data) -> str:
    shown = display(spec, table)
    lines = [f"### {caption(spec, profile, data, table)}", "",
             "| " + " | ".join(shown.columns) + " |",
             "|" + "|".join("---" for _ in shown.columns) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)]
    rank = rank_line(spec, table)
    if rank:
        lines += ["", rank]
    return "\n".join(lines) + "\n"


def latex(spec: TableSpec, table: pd.DataFrame, profile, data) -> str:
    shown = display(spec, table)
    escape = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "±": r"$\pm$", "Δ": r"$\Delta$",
              "—": "---", "†": r"$^\dagger$", "ρ": r"$\rho$"}

    def tex(text) -> str:
        text = str(text)
        for raw, done in escape.items():
            text = text.replace(raw, done)
        return text
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{" + "l" * 2 + "r" * (len(shown.columns) - 2) + "}", r"\toprule",
             " & ".join(tex(c) for c in shown.columns) + r" \\", r"\midrule"]
    for row in shown.itertuples(index=False):
        if row.Row == f"*{floor.LABEL}*":  # the floor's label spans the table
            lines += [r"\midrule", r"\multicolumn{" + str(len(shown.columns)) + r"}{l}{\emph{"
                      + tex(floor.LABEL) + r"}} \\"]
        else:
            lines.append(" & ".join(tex(v) for v in row) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    rank = rank_line(spec, table)
    if rank:
        lines += [r"\par\smallskip{\footnotesize " + tex(rank) + "}"]
    lines += [r"\caption{" + tex(caption(spec, profile, data, table)) + "}",
              r"\label{tab:" + spec.key + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def csv(table: pd.DataFrame) -> str:
    """The numbers as they are; the rank agreement as columns (the same on every line)."""
    rank: Rank | None = table.attrs.get("rank")
    if rank is not None:
        table = table.assign(**{"rank rho": rank.rho, "rank rows": rank.rows,
                                "rank low": rank.low, "rank high": rank.high})
    return table.to_csv(index=False)


def write(spec: TableSpec, table: pd.DataFrame, profile, data, out: Path,
          formats: tuple[str, ...]) -> list[Path]:
    """`<out>/<key>.<format>` for each format, atomically."""
    from haco.atomic import write_text

    texts = {"md": lambda: markdown(spec, table, profile, data),
             "csv": lambda: csv(table),
             "tex": lambda: latex(spec, table, profile, data)}
    return [write_text(out / f"{spec.key}.{fmt}", texts[fmt]()) for fmt in formats]
