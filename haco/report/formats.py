"""Tables as Markdown, CSV and LaTeX, written atomically.

Markdown and LaTeX show, per column, ours (mean ± std [95% interval] over seeds; the
interval from haco/report/stats.py), the paper's figure and the difference; "—" where a row
has not been run, "cited" for rows quoted from the paper. The caption names the profile,
the data and the fidelity variant. Only for runs on real data with the paper profile is
ours tested against the paper: ‡ marks a cell whose paper figure lies outside our interval
(on the synthetic twins the caption says the comparison is not meaningful). Tables with F1
then show the input-blind floor under its own label, mark with † the F1 of every trained
row that does not clear it, count those that do in the caption, and print the rank
agreement with the paper and the paper's headline comparisons (paired over seeds) under
the table. CSV keeps the numbers as they are (NaN for missing; the interval as `<column>
lo`, `<column> hi`, the seeds of each cell as `<column> n`; the floor as columns `floor`,
`clears`, `baseline`, the rank agreement as `rank rho`, `rank rows`, `rank low`, `rank
high`), for pandas and spreadsheets.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from haco.report import floor, stats
from haco.report.runs import DEFAULT_FIDELITY
from haco.report.tables import Headline, Rank, TableSpec

DASH = "—"
FORMATS = ("md", "csv", "tex")
PAPER_MARK = "‡"  # on our figure where the paper's lies outside our 95% interval
INTERVAL_RULE = ("95% interval of the mean: Student t for n <= 5, percentile bootstrap over "
                 "the seeds for more, none for n = 1")


def ours(mean: float, std: float, n: int, digits: int, low: float = math.nan,
         high: float = math.nan) -> str:
    if n == 0 or math.isnan(mean):
        return DASH
    if n == 1 or math.isnan(std):
        return f"{mean:.{digits}f}"
    text = f"{mean:.{digits}f} ± {std:.{digits}f}"
    if not (math.isnan(low) or math.isnan(high)):
        text += f" [{low:.{digits}f}, {high:.{digits}f}]"
    return text


def comparable_with_paper(profile: str | None, data: str | None) -> bool:
    """Whether our runs can be held against the paper's figures: real data, the paper's
    profile (the twins and the small profiles measure something else)."""
    return data == "real" and profile == "paper"


def paper_outside(table: pd.DataFrame, label: str) -> pd.Series:
    """Per line, whether the paper's figure of column `label` lies outside our interval."""
    return pd.Series([stats.outside(p, lo, hi) for p, lo, hi in zip(
        table[f"{label} paper"], table[f"{label} lo"], table[f"{label} hi"], strict=True)],
        index=table.index, dtype=bool)


def _cell_seeds(cell_n: int, row_n: int) -> str:
    """A cell with fewer seeds than its row (some values undefined) says how many."""
    return f" (n={cell_n})" if 0 < cell_n < row_n else ""


def display(spec: TableSpec, table: pd.DataFrame, against_paper: bool = False
            ) -> pd.DataFrame:
    """The table as strings: `<col>` ours, `<col> paper`, `<col> Δ` per column, then n;
    the baseline rows after the paper's, under the floor's label. `against_paper`: mark
    with ‡ the cells whose paper figure lies outside our interval."""
    out = pd.DataFrame({k: table[k] for k in ("Test set", "Row") if k in table})
    below = table["clears"].eq(False) if "clears" in table else pd.Series(False, table.index)
    baseline = (table["baseline"].astype(bool) if "baseline" in table
                else pd.Series(False, table.index))
    for column in spec.columns:
        d, label = column.digits, column.label
        out[label] = [("cited" if cited else ours(m, s, k, d, lo, hi) + _cell_seeds(k, n))
                      for m, s, lo, hi, k, n, cited in zip(
            table[label], table[f"{label} std"], table[f"{label} lo"], table[f"{label} hi"],
            table[f"{label} n"], table["n"], table["cited"], strict=True)]
        if against_paper:
            off = paper_outside(table, label)
            out.loc[off, label] = out.loc[off, label] + f" {PAPER_MARK}"
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
            table: pd.DataFrame | None = None, fidelity: str = DEFAULT_FIDELITY) -> str:
    variant = f"fidelity variant {fidelity}"
    ours_from = (f"ours: {data or 'no'} data ({'synthetic twins' if data == 'synthetic' else 'real'}), "
                 f"profile {profile}, {variant}" if profile else
                 f"ours: no runs yet ({variant})")
    text = (f"{spec.title}. Study `{spec.study}`; {ours_from}; mean ± std [95% interval] "
            f"over n seeds ({INTERVAL_RULE}). "
            "Paper: real data, ViT-H (HaMeR) unless the row says otherwise.")
    if profile and table is not None:
        text += " " + paper_caption(spec, table, profile, data)
    if table is not None and spec.has_f1:
        text += " " + floor_caption(spec, table)
    return text


def paper_caption(spec: TableSpec, table: pd.DataFrame, profile: str, data: str | None
                  ) -> str:
    """Whether, and how, our cells are held against the paper's figures."""
    if comparable_with_paper(profile, data):
        marked = sum(int(paper_outside(table, c.label).sum()) for c in spec.columns)
        return (f"{PAPER_MARK}: the paper's figure lies outside our 95% interval "
                f"({marked} cells).")
    if data != "real":
        return ("The paper's figures are on real data, ours on synthetic twins: the "
                "comparison with the paper is not meaningful, and no cell is tested "
                "against it.")
    return (f"Only runs on real data with the paper profile are tested against the paper's "
            f"figures ({PAPER_MARK}); these ran profile {profile}.")


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


PAIRED_HEAD = ("Paired comparisons over seeds, the paper's headline claims (F1, first row "
               "minus second over the seeds both ran: mean difference, 95% paired t "
               "interval, two-sided paired t p; P(improvement): the share of those seeds on "
               "which the first row's F1 is higher, ties counting one half; not corrected "
               "for multiple comparisons):")


def paired_lines(table: pd.DataFrame) -> list[str]:
    """The headline comparisons in words (none for tables without them); a comparison
    skipped for the same reason on several test sets takes one line."""
    found: list[Headline] = table.attrs.get("paired") or []
    if found and not any(h.result.pairs for h in found):
        return [("Paired comparisons over seeds (the paper's headline claims): skipped, no "
                 "two rows they compare have a seed in common yet.")]
    lines: dict[tuple[str, str], list[str]] = {}  # (rows, outcome) -> test sets
    for h in found:
        lines.setdefault((pair_name(h), paired_outcome(h)), []).append(h.test)
    return [PAIRED_HEAD, *(f"{name}, {', '.join(tests)}: {outcome}"
                           for (name, outcome), tests in lines.items())] if lines else []


def pair_name(h: Headline) -> str:
    second = h.second or "the best other row"
    if h.chosen_on and h.second:
        second += f" (the best other row by mean F1 on {h.chosen_on})"
    return f"{h.first} vs {second}"


def paired_outcome(h: Headline) -> str:
    r = h.result
    if not h.second:
        return "skipped, no other row has run."
    if r.pairs < stats.MIN_PAIRS:
        return (f"skipped, {r.pairs} paired seed{'' if r.pairs == 1 else 's'} "
                f"(needs {stats.MIN_PAIRS}).")
    p = ("p undefined (the same difference on every seed)" if math.isnan(r.p_value)
         else f"p = {r.p_value:.2g}")
    text = (f"ΔF1 = {r.diff:+.3f} [{r.low:+.3f}, {r.high:+.3f}], {p}, "
            f"P(improvement) = {r.p_improvement:.2f} over {r.pairs} paired seeds")
    return text + (f"; {h.note}" if h.note else "") + "."


def markdown(spec: TableSpec, table: pd.DataFrame, profile, data,
             fidelity: str = DEFAULT_FIDELITY) -> str:
    shown = display(spec, table, comparable_with_paper(profile, data))
    lines = [f"### {caption(spec, profile, data, table, fidelity)}", "",
             "| " + " | ".join(shown.columns) + " |",
             "|" + "|".join("---" for _ in shown.columns) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)]
    rank = rank_line(spec, table)
    if rank:
        lines += ["", rank]
    paired = paired_lines(table)
    if paired:
        lines += ["", paired[0], *([""] if paired[1:] else []),
                  *(f"- {line}" for line in paired[1:])]
    return "\n".join(lines) + "\n"


def latex(spec: TableSpec, table: pd.DataFrame, profile, data,
          fidelity: str = DEFAULT_FIDELITY) -> str:
    shown = display(spec, table, comparable_with_paper(profile, data))
    escape = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "±": r"$\pm$", "Δ": r"$\Delta$",
              "—": "---", "†": r"$^\dagger$", "‡": r"$^\ddagger$", "ρ": r"$\rho$"}

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
    paired = paired_lines(table)
    if paired:
        lines += [r"\par\smallskip{\footnotesize " + r"\\ ".join(map(tex, paired)) + "}"]
    lines += [r"\caption{" + tex(caption(spec, profile, data, table, fidelity)) + "}",
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
          formats: tuple[str, ...], fidelity: str = DEFAULT_FIDELITY) -> list[Path]:
    """`<out>/<key>.<format>` for each format, atomically."""
    from haco.atomic import write_text

    texts = {"md": lambda: markdown(spec, table, profile, data, fidelity),
             "csv": lambda: csv(table),
             "tex": lambda: latex(spec, table, profile, data, fidelity)}
    return [write_text(out / f"{spec.key}.{fmt}", texts[fmt]()) for fmt in formats]
