"""`haco bench estimate`: the plan's estimates against what the trials took.

Per launch of each study in the store (its parent run): the estimated wall seconds the
plan printed (`sweep/estimated_wall_seconds`) beside `sweep/wall_seconds`, and per trial
run the estimate it was tagged with (`haco.estimate_seconds`) beside its
`sweep/trial_seconds`, with the ratio actual / estimate. Nothing is re-run: run a study
first (`python sweeps/backbones.py profile=smoke`), then this.

Run: haco bench estimate [study=backbones] [mlflow.tracking_uri=...]
"""

from __future__ import annotations

from omegaconf import DictConfig

from haco import ledger, tracking
from haco.ledger import TRIAL_SECONDS, Status, Tag
from haco.sweep.runs import ESTIMATED_WALL

WALL = "sweep/wall_seconds"


def launches(client, experiment: str) -> list:
    """The study's launches that planned an estimate, oldest first."""
    found = ledger.runs(client, experiment, ledger.tag_is(Tag.LAUNCH, "true"))
    return sorted((r for r in found if ESTIMATED_WALL in r.data.metrics),
                  key=lambda r: r.info.start_time)


def trials_of(client, experiment: str, parent) -> list:
    """The launch's FINISHED trial runs that carry an estimate, in the order they started."""
    found = ledger.runs(client, experiment, ledger.both(
        ledger.TRIALS, ledger.tag_is(Tag.PARENT, parent.info.run_id),
        ledger.status_is(Status.FINISHED), ledger.tag_set(Tag.ESTIMATE)))
    return sorted((r for r in found if TRIAL_SECONDS in r.data.metrics),
                  key=lambda r: r.info.start_time)


def rows(trials) -> list[tuple[str, float, float]]:
    """[(run name, estimate, actual)]."""
    return [(r.info.run_name, float(r.data.tags[Tag.ESTIMATE]), r.data.metrics[TRIAL_SECONDS])
            for r in trials]


def ratio(actual: float, estimated: float) -> str:
    return f"{actual / estimated:.2f}" if estimated > 0 else "-"


def print_launch(client, experiment: str, parent) -> None:
    metrics = parent.data.metrics
    print(f"launch {parent.info.run_name} ({parent.info.status}): estimated wall "
          f"{metrics[ESTIMATED_WALL]:.0f} s, actual {metrics.get(WALL, float('nan')):.0f} s, "
          f"actual/estimate {ratio(metrics.get(WALL, 0.0), metrics[ESTIMATED_WALL])}")
    found = rows(trials_of(client, experiment, parent))
    if not found:
        print("  no finished trial with an estimate")
        return
    print(f"  {'trial':<28}{'estimate s':>11}{'actual s':>10}{'ratio':>7}")
    for name, estimated, actual in found:
        print(f"  {name:<28}{estimated:>11.1f}{actual:>10.1f}{ratio(actual, estimated):>7}")
    estimated, actual = sum(e for _, e, _ in found), sum(a for _, _, a in found)
    print(f"  {'all ' + str(len(found)) + ' trials':<28}{estimated:>11.1f}{actual:>10.1f}"
          f"{ratio(actual, estimated):>7}")


def bench_command(cfg: DictConfig) -> int:
    client = tracking.client(cfg)
    studies = ledger.studies(client)
    wanted = [str(cfg.study.name)] if cfg.get("study") else sorted(studies)
    unknown = [s for s in wanted if s not in studies]
    if unknown:
        print(f"haco: no experiment for study {unknown[0]} at {tracking.tracking_uri(cfg)}; "
              f"it has {', '.join(sorted(studies)) or 'none'}")
        return 2
    print(f"the plan's estimates against the trials' wall time ({tracking.tracking_uri(cfg)})")
    shown = 0
    for study in wanted:
        for parent in launches(client, studies[study]):
            print(f"study {study}")
            print_launch(client, studies[study], parent)
            shown += 1
    if not shown:
        print("no launch with an estimate yet: run a study (python sweeps/losses.py ...)")
    return 0
