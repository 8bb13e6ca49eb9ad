"""The paper's figures from MLflow: PNG and PDF, each from the same frames as the tables.

    figure1_imbalance   measured vs reported non-contact:contact ratios; mean contact maps
    loss_bars           precision / recall / F1 per loss, the 95% interval over seeds as
                        error bars (haco/report/stats.py), and the input-blind floor
    backbone_pareto     F1 against fps, GFLOPs and training memory (F1's 95% interval as
                        error bars); the Pareto front and the input-blind floor
    region_heatmaps     per-region F1 on the hand, one hand per loss
    learning_curves     validation F1 per epoch, one line per row, per study
    search_progress     a search's objective per trial in TPE's order, pruned trials
                        marked, the best so far

A figure whose runs do not exist yet is skipped (the function returns None).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from haco.ledger import SEARCH_OBJECTIVE, Outcome, Tag, tag_column

OBJECTIVE = f"metrics.{SEARCH_OBJECTIVE}"  # its column in a search's DataFrame
from haco.report.tables import TABLES, build

FORMATS = ("png", "pdf")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(fig, out: Path, name: str) -> list[Path]:
    from haco.atomic import save_figure

    paths = [save_figure(fig, out / f"{name}.{fmt}", dpi=130, bbox_inches="tight")
             for fmt in FORMATS]
    _plt().close(fig)
    return paths


def figure1_imbalance(runs: pd.DataFrame, means: dict[str, np.ndarray] | None, hand,
                      out: Path) -> list[Path] | None:
    table = build(TABLES["table1"], runs)
    measured = table["Non-contact:contact"]
    if measured.isna().all():
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 3.6))
    x = np.arange(len(table))
    ax.bar(x - 0.2, measured, 0.4, label="measured (ours)")
    ax.bar(x + 0.2, table["Non-contact:contact paper"].astype(float), 0.4,
           label="reported (paper)")
    ax.set_xticks(x, table["Row"], rotation=45, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("non-contact : contact (vertices)")
    ax.legend()
    ax.set_title("Figure 1: class imbalance per dataset")
    paths = save(fig, out, "figure1_imbalance")
    if means:
        paths += save(_hand_grid(hand, means, "mean contact", vmax=None), out,
                      "figure1_mean_contact")
    return paths


def _hand_grid(hand, values: dict[str, np.ndarray], what: str, vmax: float | None):
    """One palmar hand per entry, coloured by per-vertex values in [0, vmax]."""
    from haco.hand.drawing import draw_mesh, value_face_colours

    plt = _plt()
    cols = min(len(values), 5)
    rows = -(-len(values) // cols)
    fig = plt.figure(figsize=(2.6 * cols, 3.0 * rows))
    for k, (name, vertex_values) in enumerate(values.items()):
        scale = vmax or max(float(np.nanmax(vertex_values)), 1e-9)
        ax = fig.add_subplot(rows, cols, k + 1, projection="3d")
        draw_mesh(ax, hand.vertices, hand.faces,
                  value_face_colours(hand, np.nan_to_num(vertex_values) / scale), "palmar")
        ax.set_title(name, fontsize=8)
    scale = f"0 to {vmax:g}" if vmax else "each hand from 0 to its own maximum"
    fig.suptitle(f"{what} on the hand (palmar view; colour {scale}, brighter = higher)")
    return fig


def floor_line(ax, table: pd.DataFrame) -> None:
    """The input-blind floor of a built table (its best baseline F1) as a labelled
    horizontal line; nothing without baseline rows."""
    from haco.report.floor import LABEL

    found = table.loc[table["baseline"].astype(bool), ["Row", "F1"]].dropna()
    if found.empty:
        return
    best = found.loc[found["F1"].idxmax()]
    ax.axhline(best["F1"], color="0.35", linestyle=":", linewidth=1.2, zorder=1,
               label=f"{LABEL.lower()}: {best['Row']} F1 {best['F1']:.3f}")


def interval_errors(table: pd.DataFrame, label: str) -> np.ndarray:
    """Column `label`'s 95% interval as matplotlib's asymmetric error bars (2, rows):
    below and above the mean; 0 where a row has no interval (n < 2). Clipped at 0: a
    bootstrap interval may, in rare skewed cases, leave the mean outside it, and
    matplotlib refuses negative bars."""
    mean = table[label].to_numpy(dtype=float)
    below = mean - table[f"{label} lo"].to_numpy(dtype=float)
    above = table[f"{label} hi"].to_numpy(dtype=float) - mean
    return np.clip(np.nan_to_num(np.stack([below, above]), nan=0.0), 0.0, None)


def loss_bars(runs: pd.DataFrame, out: Path, baselines: pd.DataFrame | None = None,
              fidelity: str = "paper") -> list[Path] | None:
    built = build(TABLES["table3"], runs, baselines)
    table = built[~built["baseline"].astype(bool)].reset_index(drop=True)
    if table["F1"].isna().all():
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 3.8))
    x = np.arange(len(table))
    for k, metric in enumerate(("Precision", "Recall", "F1")):
        ax.bar(x + (k - 1) * 0.27, table[metric], 0.27, yerr=interval_errors(table, metric),
               capsize=2, label=metric)
    ax.scatter(x + 0.27, table["F1 paper"], marker="_", s=200, color="k", zorder=3,
               label="paper F1")
    floor_line(ax, built)
    ax.set_xticks(x, table["Row"], rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.legend(ncol=4, fontsize=8)
    ax.set_title("Table 3 as bars: MOW precision / recall / F1 per loss (error bars: 95% "
                 f"interval over seeds; fidelity variant {fidelity})")
    return save(fig, out, "losses_prf")


def pareto_front(cost: np.ndarray, f1: np.ndarray, lower_is_better: bool) -> np.ndarray:
    """Indices of the points no other point beats on both cost and F1, by cost."""
    sign = 1 if lower_is_better else -1
    order = np.lexsort((-f1, sign * cost))
    front, best = [], -np.inf
    for i in order:
        if f1[i] > best:
            front.append(i)
            best = f1[i]
    return np.array(front, dtype=int)


def backbone_pareto(runs: pd.DataFrame, out: Path, baselines: pd.DataFrame | None = None,
                    fidelity: str = "paper") -> list[Path] | None:
    built = build(TABLES["tableA2"], runs, baselines)
    scores = built[~built["baseline"].astype(bool)].reset_index(drop=True)
    costs = build(TABLES["tableA3"], runs)
    have = scores["F1"].notna().to_numpy()
    if not have.any():
        return None
    plt = _plt()
    axes_spec = [("Speed (fps)", False), ("GFLOPs", True), ("Train memory (MB)", True)]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, (column, lower) in zip(axes, axes_spec, strict=True):
        cost = costs[column].to_numpy(dtype=float)[have]
        f1 = scores["F1"].to_numpy(dtype=float)[have]
        names = scores["Row"].to_numpy()[have]
        ax.errorbar(cost, f1, yerr=interval_errors(scores, "F1")[:, have], fmt="o",
                    capsize=2, label="mean F1, 95% interval over seeds")
        for c, f, n in zip(cost, f1, names, strict=True):
            ax.annotate(n, (c, f), fontsize=7, xytext=(3, 3), textcoords="offset points")
        front = pareto_front(cost, f1, lower)
        ax.plot(cost[front], f1[front], "r--", label="Pareto front")
        floor_line(ax, built)
        ax.set_xlabel(column + (" (lower is better)" if lower else " (higher is better)"))
        ax.set_ylabel("MOW F1")
        ax.set_xscale("log")
        ax.legend(fontsize=8)
    fig.suptitle(f"Backbones: F1 against cost (Tables A2, A3; fidelity variant {fidelity})")
    return save(fig, out, "backbones_pareto")


def region_heatmaps(runs: pd.DataFrame, hand, out: Path) -> list[Path] | None:
    if runs.empty:
        return None
    values = {}
    for label in TABLES["table3"].rows:
        rows = runs[runs[tag_column(Tag.ROW)] == label.label]
        if rows.empty:
            continue
        per_vertex = np.full(778, np.nan)
        for region, idx in hand.regions.items():
            column = f"metrics.test/MOW/{region}/f1"
            if column in rows:
                per_vertex[np.asarray(idx)] = rows[column].mean()
        values[label.label] = per_vertex
    if not values:
        return None
    return save(_hand_grid(hand, values, "MOW F1 per hand region, per loss,", vmax=1.0), out,
                "losses_region_f1")


def learning_curves(client, study: str, runs: pd.DataFrame, out: Path,
                    metric: str = "val/f1") -> list[Path] | None:
    if runs.empty:
        return None
    means = {}
    for row, group in runs.groupby(tag_column(Tag.ROW), sort=False):
        curves = [[m.value for m in sorted(client.get_metric_history(run_id, metric),
                                           key=lambda m: m.step)]
                  for run_id in group["run_id"]]
        length = min(map(len, curves))
        if length:
            means[f"{row} (n={len(curves)})"] = np.mean([c[:length] for c in curves], axis=0)
    if not means:  # no run logged the metric per epoch
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, mean in means.items():
        ax.plot(np.arange(1, len(mean) + 1), mean, marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(f"Study {study}: {metric} per epoch (mean over seeds)")
    return save(fig, out, f"curves_{study}")


def search_progress(trials: pd.DataFrame, out: Path) -> list[Path] | None:
    """`hpo/objective` per trial number: completed trials as dots, pruned ones as crosses
    (their value at the rung that stopped them), the best completed so far as a step line."""
    if trials.empty or OBJECTIVE not in trials:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    outcome = trials[tag_column(Tag.SEARCH_OUTCOME)].fillna(Outcome.INTERRUPTED)
    for name, marker in ((Outcome.COMPLETED, "o"), (Outcome.PRUNED, "x"), (Outcome.FAILED, "v")):
        shown = trials[outcome == name]
        if not shown.empty:
            ax.scatter(shown["trial"], shown[OBJECTIVE], marker=marker,
                       label=f"{name} ({len(shown)})")
    mode, metric = trials.get(tag_column(Tag.SEARCH_GOAL), pd.Series(["max val/f1"])
                              ).fillna("max val/f1").iloc[0].split()
    done = trials[outcome == Outcome.COMPLETED][OBJECTIVE]
    if not done.empty:
        best = done.cummax() if mode == "max" else done.cummin()
        ax.step(trials.loc[done.index, "trial"], best, where="post", color="k", linewidth=1,
                label="best so far")
    search = trials[tag_column(Tag.SEARCH)].iloc[0]
    profile = trials[tag_column(Tag.PROFILE)].iloc[0]
    ax.set_xlabel("trial (in the order TPE proposed them)")
    ax.set_ylabel(f"objective ({mode} {metric})")
    ax.legend(fontsize=8)
    ax.set_title(f"Search {search} ({profile}): {len(trials)} trials, ASHA pruning marked")
    return save(fig, out, "hpo_progress")
