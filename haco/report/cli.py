"""`python analysis/tables.py`: every paper table from MLflow, paper figures beside ours."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

import pandas as pd

from haco.config import ConfigError
from haco.report import formats
from haco.report.runs import (
    DEFAULT_FIDELITY,
    FIDELITIES,
    load_baselines,
    load_runs,
    load_search,
    pick,
    pick_baselines,
)
from haco.report.tables import TABLES, build
from haco.tracking import open_client

# The studies that fill a table, in the tables' order: each table names its study.
STUDIES = tuple(dict.fromkeys(spec.study for spec in TABLES.values()))


def default_tracking_uri() -> str:
    from haco.tracking import default_store

    return f"sqlite:///{default_store()}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow store (default: sqlite:///<project>/mlruns/mlflow.db)")
    p.add_argument("--study", choices=STUDIES, action="append",
                   help="only this study's tables (repeatable; default: all)")
    p.add_argument("--format", choices=(*formats.FORMATS, "all"), default="md",
                   help="files to write under --out (Markdown always goes to stdout)")
    p.add_argument("--out", type=Path, default=Path("analysis/out"))
    p.add_argument("--profile", choices=("smoke", "quick", "paper"), default=None,
                   help="runs of this profile (default: the most serious one present)")
    p.add_argument("--data", choices=("synthetic", "real"), default=None,
                   help="runs on this data (default: real if any, else synthetic)")
    p.add_argument("--data-seed", type=int, default=None,
                   help="runs on the twins of this data.seed (default: any; each row shows "
                        "its newest configuration)")
    p.add_argument("--fidelity", choices=FIDELITIES, default=DEFAULT_FIDELITY,
                   help="runs of this variant: the paper's text or the authors' released "
                        "code (runs logged before the switch count as paper; variants are "
                        "never pooled)")
    return p


def reported(main):
    """A report's entry point that prints a ConfigError (a damaged store among them) as one
    line and exits 2, instead of a traceback."""
    @functools.wraps(main)
    def run(argv: list[str] | None = None) -> int:
        try:
            return main(argv)
        except ConfigError as err:
            print(f"haco: {err}", file=sys.stderr)
            return 2
    return run


@reported
def tables_main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    uri = args.tracking_uri or default_tracking_uri()
    chosen = formats.FORMATS if args.format == "all" else (args.format,)
    studies = args.study or STUDIES
    cache: dict[str, object] = {}
    for spec in TABLES.values():
        if spec.study not in studies:
            continue
        if spec.study not in cache:
            cache[spec.study] = study_frames(uri, spec.study, args.profile, args.data,
                                             args.data_seed, args.fidelity)
        runs, baselines, profile, data = cache[spec.study]
        table = build(spec, runs, baselines)
        print(formats.markdown(spec, table, profile, data, args.fidelity))
        formats.write(spec, table, profile, data, args.out.resolve(), chosen, args.fidelity)
    print(f"written to {args.out.resolve()} ({', '.join(chosen)})", file=sys.stderr)
    return 0


def study_frames(uri: str, study: str, profile: str | None = None, data: str | None = None,
                 data_seed: int | None = None, fidelity: str = DEFAULT_FIDELITY
                 ) -> tuple[pd.DataFrame, pd.DataFrame, str | None, str | None]:
    """(trial runs, input-blind baselines, profile, data) of one study: the runs of one
    profile, data source and fidelity variant (`pick`) and the baselines of the same (each
    trial row is compared with the baselines of its own data key)."""
    runs, profile, data = pick(load_runs(uri, study), profile, data, data_seed, fidelity)
    baselines = pick_baselines(load_baselines(uri, study), profile, data)
    return runs, baselines, profile, data


@reported
def figures_main(argv: list[str] | None = None) -> int:
    """`python analysis/figures.py`: every figure that has runs, as PNG and PDF."""
    from haco.hand import load_hand
    from haco.report import figures

    p = parser()
    p.set_defaults(out=Path("analysis/out/figures"))
    args = p.parse_args(argv)
    uri = args.tracking_uri or default_tracking_uri()
    out = args.out.resolve()
    frames = {s: study_frames(uri, s, args.profile, args.data, args.data_seed, args.fidelity)
              for s in (args.study or STUDIES)}
    runs = {s: frame[0] for s, frame in frames.items()}
    floors = {s: frame[1] for s, frame in frames.items()}
    hand = load_hand()
    empty = pd.DataFrame()
    made = {
        "figure 1": figures.figure1_imbalance(runs.get("losses", empty),
                                              training_means(uri, runs.get("losses", empty)),
                                              hand, out),
        "loss bars": figures.loss_bars(runs.get("losses", empty), out,
                                       floors.get("losses"), args.fidelity),
        "backbone Pareto": figures.backbone_pareto(runs.get("backbones", empty), out,
                                                   floors.get("backbones"), args.fidelity),
        "region heatmaps": figures.region_heatmaps(runs.get("losses", empty), hand, out),
    }
    client = open_client(uri)
    for study, study_runs in runs.items():
        made[f"curves {study}"] = figures.learning_curves(client, study, study_runs, out)
    made["search progress"] = figures.search_progress(load_search(uri), out)
    for name, paths in made.items():
        shown = ", ".join(p.name for p in paths) if paths else "skipped: no runs with its metrics yet"
        print(f"{name:<18} {shown}")
    print(f"written to {out} (fidelity variant {args.fidelity})", file=sys.stderr)
    return 0


def training_means(uri: str, runs) -> dict | None:
    """Each training set's mean contact map, from the first run that logged them."""
    import numpy as np
    from mlflow.artifacts import download_artifacts

    client = open_client(uri)
    for run_id in ([] if runs.empty else runs["run_id"]):
        if "train_contact_means.npz" not in {a.path for a in client.list_artifacts(run_id)}:
            continue
        path = download_artifacts(run_id=run_id, artifact_path="train_contact_means.npz",
                                  tracking_uri=uri)
        with np.load(path) as maps:
            return {name: maps[name] for name in maps.files}
    return None
