"""`python analysis/tables.py`: every paper table from MLflow, paper figures beside ours."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from haco.report import render
from haco.report.runs import load_runs, pick
from haco.report.tables import TABLES

STUDIES = ("losses", "backbones", "datasets", "sampling", "init")


def default_tracking_uri() -> str:
    from haco.paths import project_root

    return f"sqlite:///{project_root() / 'mlruns' / 'mlflow.db'}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow store (default: sqlite:///<project>/mlruns/mlflow.db)")
    p.add_argument("--study", choices=STUDIES, action="append",
                   help="only this study's tables (repeatable; default: all)")
    p.add_argument("--format", choices=(*render.FORMATS, "all"), default="md",
                   help="files to write under --out (Markdown always goes to stdout)")
    p.add_argument("--out", type=Path, default=Path("analysis/out"))
    p.add_argument("--profile", choices=("smoke", "quick", "paper"), default=None,
                   help="runs of this profile (default: the most serious one present)")
    p.add_argument("--data", choices=("synthetic", "real"), default=None,
                   help="runs on this data (default: real if any, else synthetic)")
    return p


def tables_main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    uri = args.tracking_uri or default_tracking_uri()
    formats = render.FORMATS if args.format == "all" else (args.format,)
    studies = args.study or STUDIES
    cache: dict[str, object] = {}
    for spec in TABLES.values():
        if spec.study not in studies:
            continue
        if spec.study not in cache:
            cache[spec.study] = pick(load_runs(uri, spec.study), args.profile, args.data)
        runs, profile, data = cache[spec.study]
        from haco.report.tables import build

        table = build(spec, runs)
        print(render.markdown(spec, table, profile, data))
        render.write(spec, table, profile, data, args.out.resolve(), formats)
    print(f"written to {args.out.resolve()} ({', '.join(formats)})", file=sys.stderr)
    return 0
