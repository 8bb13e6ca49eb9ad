"""The input-blind floor in a launch's console: the baselines of the data the trials read
(haco/baselines.py, cached in MLflow), and which rows do not clear it (the rule is
haco/report/floor.py, shared with the tables and figures)."""

from __future__ import annotations

import math
import re
import statistics
import sys

from haco import baselines
from haco.config import data_key
from haco.ledger import Status
from haco.report import floor


def ensure_floor(cfg, client, experiment: str, specs: list) -> dict:
    """{data key: DataBaselines}: the input-blind baselines of the data the trials read,
    computed once per data key and then reused from MLflow. A failure costs the floor,
    not the launch: it is reported, and `haco baselines` retries it."""
    try:
        found = baselines.ensure(client, experiment, str(cfg.study.name),
                                 [s.config for s in specs])
    except Exception as err:  # noqa: BLE001 - the trials matter more than their floor
        print(f"baselines: not computed ({type(err).__name__}: {err}); the tables lack the "
              f"floor until `haco baselines study={cfg.study.name}` succeeds", file=sys.stderr)
        return {}
    computed = sum(f.computed for f in found.values())
    print(f"baselines (the input-blind floor): {computed} computed, "
          f"{sum(len(f.metrics) for f in found.values()) - computed} reused from MLflow, "
          f"for {len(found)} data key(s)")
    return found


def metric_pattern(cfg) -> re.Pattern:
    """`study.metric` as a regex (`test/*/f1`: any one test set)."""
    return re.compile("^" + re.escape(str(cfg.study.metric)).replace(r"\*", "[^/]+") + "$")


def print_floor(cfg, specs: list, runs: dict, floors: dict) -> None:
    """The floor of every test set the study's metric names, per data key, and each row
    (mean F1 over its finished seeds) that does not clear it."""
    pattern, several = metric_pattern(cfg), len(floors) > 1
    verdicts, under = [], []
    for key, found in floors.items():
        tests = sorted({k.split("/")[1] for m in found.metrics.values() for k in m
                        if pattern.match(k)})
        shown = [(t, found.floor(t)) for t in tests if found.floor(t)]
        label = f" (train {found.train})" if several else ""
        print(f"  input-blind floor{label}: " + "  ".join(
            f"{t} {f1:.3f} ({name})" for t, (f1, name) in shown))
        for row in dict.fromkeys(s.row for s in specs if data_key(s.config) == key):
            seeds = [runs.get(s.key) for s in specs if s.row == row]
            for test, (f1, _) in shown:
                verdict, text = row_verdict(seeds, test, f1)
                verdicts.append(verdict)
                if verdict is False:
                    under.append(f"{row} on {test} ({text} vs {f1:.3f})")
    print(f"  {floor.summary(verdicts)}" + (
        f"; not clearing it: {'; '.join(under)}: a row under the floor measures its "
        "loss's bias, not what it learned" if under else ""))


def row_verdict(seeds: list, test: str, floor_f1: float) -> tuple[bool | None, str]:
    """(whether a row clears `floor_f1` on `test`, its F1 as `mean ± std`) over the
    FINISHED runs of its seeds."""
    metric = f"test/{test}/f1"
    values = [r.data.metrics[metric] for r in seeds if r is not None
              and r.info.status == Status.FINISHED and metric in r.data.metrics]
    mean = statistics.fmean(values) if values else math.nan
    std = statistics.stdev(values) if len(values) > 1 else math.nan
    text = f"{mean:.3f}" + (f" ± {std:.3f}" if len(values) > 1 else "")
    return floor.clears(mean, std, len(values), floor_f1), text


def print_baselines(found, rows: list[str], out=None) -> None:
    """One data key's baselines as a short table (`haco baselines`)."""
    state = f"{found.computed} computed" if found.computed else "reused"
    print(f"  data {found.key} (train {found.train}; rows: {', '.join(rows)}): {state}",
          file=out)
    tests = sorted({k.split("/")[1] for m in found.metrics.values() for k in m
                    if k.startswith("test/")})
    print(f"    {'baseline':<14}{'threshold':>10}  "
          + "  ".join(f"{t + ' P/R/F1':<20}" for t in tests) + "  val F1", file=out)
    for name, metrics in found.metrics.items():
        threshold = metrics.get(baselines.THRESHOLD)
        cells = ["/".join(f"{metrics.get(f'test/{t}/{m}', math.nan):.3f}"
                          for m in ("precision", "recall", "f1")) for t in tests]
        print(f"    {name:<14}{'-' if threshold is None else f'{threshold:.4f}':>10}  "
              + "  ".join(f"{c:<20}" for c in cells)
              + f"  {metrics.get('val/f1', math.nan):.3f}", file=out)
