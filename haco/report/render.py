"""Tables as Markdown, CSV and LaTeX, written atomically.

Markdown and LaTeX show, per column, ours (mean ± std over seeds), the paper's figure and
the difference; "—" where a row has not been run, "cited" for rows quoted from the paper.
CSV keeps the numbers as they are (NaN for missing), for pandas and spreadsheets.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from haco.report.tables import TableSpec

DASH = "—"
FORMATS = ("md", "csv", "tex")


def ours(mean: float, std: float, n: int, digits: int) -> str:
    if n == 0 or math.isnan(mean):
        return DASH
    if n == 1 or math.isnan(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def display(spec: TableSpec, table: pd.DataFrame) -> pd.DataFrame:
    """The table as strings: `<col>` ours, `<col> paper`, `<col> Δ` per column, then n."""
    out = pd.DataFrame({k: table[k] for k in ("Test set", "Row") if k in table})
    for column in spec.columns:
        d, label = column.digits, column.label
        out[label] = [("cited" if cited else ours(m, s, n, d)) for m, s, n, cited in zip(
            table[label], table[f"{label} std"], table["n"], table["cited"], strict=True)]
        out[f"{label} paper"] = [DASH if p is None or _nan(p) else f"{p:.{d}f}"
                                 for p in table[f"{label} paper"]]
        out[f"{label} Δ"] = [DASH if _nan(x) else f"{x:+.{d}f}" for x in table[f"{label} diff"]]
    out["n"] = [DASH if cited else str(n) for n, cited in zip(table["n"], table["cited"],
                                                              strict=True)]
    return out


def _nan(value) -> bool:
    return isinstance(value, float) and math.isnan(value)


def caption(spec: TableSpec, profile: str | None, data: str | None) -> str:
    ours_from = (f"ours: {data or 'no'} data ({'synthetic twins' if data == 'synthetic' else 'real'}), "
                 f"profile {profile}" if profile else "ours: no runs yet")
    return (f"{spec.title}. Study `{spec.study}`; {ours_from}; mean ± std over n seeds. "
            "Paper: real data, ViT-H (HaMeR) unless the row says otherwise.")


def markdown(spec: TableSpec, table: pd.DataFrame, profile, data) -> str:
    shown = display(spec, table)
    lines = [f"### {caption(spec, profile, data)}", "",
             "| " + " | ".join(shown.columns) + " |",
             "|" + "|".join("---" for _ in shown.columns) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in shown.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def latex(spec: TableSpec, table: pd.DataFrame, profile, data) -> str:
    shown = display(spec, table)
    escape = {"&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#", "±": r"$\pm$", "Δ": r"$\Delta$",
              "—": "---"}

    def tex(text) -> str:
        text = str(text)
        for raw, done in escape.items():
            text = text.replace(raw, done)
        return text
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{" + "l" * 2 + "r" * (len(shown.columns) - 2) + "}", r"\toprule",
             " & ".join(tex(c) for c in shown.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(tex(v) for v in row) + r" \\" for row in shown.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}",
              r"\caption{" + tex(caption(spec, profile, data)) + "}",
              r"\label{tab:" + spec.key + "}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write(spec: TableSpec, table: pd.DataFrame, profile, data, out: Path,
          formats: tuple[str, ...]) -> list[Path]:
    """`<out>/<key>.<format>` for each format, atomically."""
    from haco.atomic import write_text

    texts = {"md": lambda: markdown(spec, table, profile, data),
             "csv": lambda: table.to_csv(index=False),
             "tex": lambda: latex(spec, table, profile, data)}
    return [write_text(out / f"{spec.key}.{fmt}", texts[fmt]()) for fmt in formats]
