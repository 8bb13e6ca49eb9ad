"""A grid study (a paper table): its trials are the cells x seeds of
haco/conf/study/<name>.yaml, handed to Ray Tune in the study's order. Trials FINISHED in
MLflow before are skipped; those an interrupted launch left continue in their own runs.

The launch itself (lock, plan, data, parent run, Tune, settle) is haco/sweep/launch.py,
the same for a search; this module is what differs.
"""

from __future__ import annotations

from haco import ledger
from haco.ledger import Status, StoppedBy
from haco.sweep import runs
from haco.sweep.budget import Budget
from haco.sweep.console import clock
from haco.sweep.estimate import tags_of
from haco.sweep.floor import metric_pattern, print_floor
from haco.sweep.models import register_best
from haco.sweep.searchers import TrialList
from haco.sweep.study import TrialSpec, expand


class GridStudy:
    def __init__(self, cfg, overrides: list[str]):
        self.cfg = cfg
        self.specs = expand(cfg, overrides)   # every config error surfaces here
        self.existing: dict[str, object] = {}  # {trial key: its run} from earlier launches
        self.todo = list(self.specs)
        self.run_ids: dict[str, str] = {}
        self.statuses: dict[str, str] = {}
        self.not_started: list[TrialSpec] = []
        self.estimates: dict = {}  # {trial key: TrialEstimate}, set by the plan

    @property
    def left(self) -> int:
        return len(self.todo)

    @property
    def done(self) -> int:
        return len(self.specs) - len(self.todo)

    def floor_specs(self) -> list[TrialSpec]:
        return self.specs

    def data_specs(self) -> list[TrialSpec]:
        """The trials whose data must be ready before Tune starts."""
        return self.todo

    def look_up(self, client, experiment: str) -> None:
        self.experiment = experiment
        self.existing = ledger.trials_by_key(client, experiment)
        self.todo = [s for s in self.specs
                     if ledger.status_of(self.existing.get(s.key)) != Status.FINISHED]

    def nothing_left(self, uri: str) -> str:
        return (f"study {self.cfg.study.name}: all {len(self.specs)} trials are FINISHED in "
                f"MLflow ({uri}); nothing to launch")

    def headline(self) -> list[str]:
        cfg, seeds = self.cfg, sorted({s.seed for s in self.specs})
        return [(f"study {cfg.study.name} ({cfg.study.table}), profile {cfg.profile}, data "
                f"{cfg.data.source}: {len(self.specs) // len(seeds)} cells x {len(seeds)} "
                f"seed(s) = {len(self.specs)} trials; {self.done} FINISHED already, "
                f"{self.left} to run")]

    def trial_lines(self) -> list[str]:
        lines = []
        for spec in self.specs:
            state = "to run" if spec in self.todo else "done"
            previous = ledger.status_of(self.existing.get(spec.key))
            if spec in self.todo and previous:
                state = f"to run (resumes its {previous} run)"
            estimate = self.estimates.get(spec.key)
            about = f"about {clock(estimate.seconds)}" if estimate and spec in self.todo else ""
            lines.append(f"{spec.row:<24} seed {spec.seed:<3} {state:<10} {about}".rstrip())
        return lines

    def past_runs(self) -> list:
        return list(self.existing.values())

    def estimate_specs(self) -> list[TrialSpec]:
        """The trials the plan estimates: those left to run, in order."""
        return self.todo

    estimate_note = ""
    goal = ("val/f1", "max")  # what the console reports per trial

    def open(self, client, experiment: str, parent: str, job) -> set[str]:
        """Every trial to run scheduled in its run (continued or new) under `parent`;
        `job(spec, run id)` makes its Job. Returns the runs this launch continues."""
        self.run_ids = runs.schedule_trials(
            client, experiment, self.cfg, self.todo, parent, self.existing,
            {k: tags_of(e) for k, e in self.estimates.items()})
        self.jobs = {s.key: job(s, self.run_ids[s.key]) for s in self.todo}
        return set(self.run_ids.values())

    def searcher(self) -> TrialList:
        return TrialList(list(self.jobs))

    def make_job(self, _, params: dict):
        return self.jobs[params["trial"]]

    def scheduler(self):
        return None  # every trial runs to its end

    def settle(self, client, search, results, errors: dict, stopped: str | None
               ) -> tuple[dict[str, str], int]:
        """({trial key: status}, 0 pruned) once Tune is done; trials never started are
        KILLED, by whoever stopped the launch."""
        started = search.started_keys()
        self.not_started = [s for s in self.todo if s.key not in started]
        why = {s.key: stopped or StoppedBy.USER for s in self.not_started}
        self.statuses = runs.settle(client, self.experiment, list(self.run_ids), errors, why)
        return self.statuses, 0

    def summary(self, client, experiment: str, floors: dict, parent: str | None = None,
                budget: Budget | None = None) -> int:
        """Each trial's result and the floor; 0 when every trial FINISHED or the budget
        alone stopped the launch."""
        found = ledger.trials_by_key(client, experiment)
        print_results(self.cfg, self.specs, found, floors)
        if budget is None:  # nothing was launched
            return 0
        registered = register_best(client, str(self.cfg.study.name), found, self.specs)
        if registered:
            example = next(iter(registered.values()))
            print(f"  registered the best checkpoint of {len(registered)} row(s) by val/f1, "
                  f"e.g. haco predict checkpoint=models:/{example} image=<a hand crop>")
        if self.not_started and budget.spent_out():
            print(f"  not started ({len(self.not_started)}): "
                  + ", ".join(f"{s.row} s{s.seed}" for s in self.not_started)
                  + "; raise the budget and run the same command to run them")
        unstarted = {s.key for s in self.not_started}
        failed = [k for k, s in self.statuses.items()
                  if s != Status.FINISHED and k not in unstarted]
        return 0 if not failed and (not self.not_started or budget.spent_out()) else 1


def print_results(cfg, specs: list[TrialSpec], found: dict, floors: dict | None = None
                  ) -> None:
    """Each trial's status and the study's metric (`test/*/f1`: every test set); then the
    input-blind floor per test set and the rows that do not clear it."""
    pattern = metric_pattern(cfg)
    print(f"results of {cfg.study.name} ({cfg.study.metric}):")
    for spec in specs:
        run = found.get(spec.key)
        if run is None:
            print(f"    {spec.row:<24} seed {spec.seed:<3} not run")
            continue
        values = {k: v for k, v in run.data.metrics.items() if pattern.match(k)}
        shown = "  ".join(f"{k} {v:.3f}" for k, v in sorted(values.items()))
        print(f"    {spec.row:<24} seed {spec.seed:<3} {run.info.status:<9} {shown}")
    if floors:
        print_floor(cfg, specs, found, floors)
