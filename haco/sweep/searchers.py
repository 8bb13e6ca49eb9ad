"""What Ray Tune runs next: every study's trials come from a Searcher.

`TrialList` hands out a grid study's prepared trials in order; for a search (sweeps/hpo.py)
Optuna's TPE suggests parameters and a `make_job` callback turns them into a trial. Both
go through `StudySearch`, which attaches each trial's Job to its Tune config and stops
suggesting once the launch's budget is spent: no new trial starts, the running ones end,
and `fit` returns on its own (a clean end, unlike stopping every trial).
"""

from __future__ import annotations

from collections.abc import Callable

from ray.tune.search import Searcher

from haco.sweep.budget import Budget


class TrialList(Searcher):
    """The trials of a grid study, one suggestion each, in the study's order."""

    def __init__(self, keys: list[str]):
        super().__init__()
        self.keys = list(keys)

    def suggest(self, trial_id: str):
        return {"trial": self.keys.pop(0)} if self.keys else Searcher.FINISHED

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        pass


class Wrapper(Searcher):
    """A searcher around another: what Tune tells it goes on to `inner` unless the
    subclass says otherwise (Ray's ConcurrencyLimiter is built the same way)."""

    def __init__(self, inner: Searcher):
        super().__init__(metric=inner.metric, mode=inner.mode)
        self.inner = inner

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        return self.inner.set_search_properties(metric, mode, config, **spec)

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return self.inner.set_max_concurrency(max_concurrent)

    def suggest(self, trial_id: str):
        return self.inner.suggest(trial_id)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self.inner.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        self.inner.on_trial_complete(trial_id, result=result, error=error)


class Resuming(Wrapper):
    """Wraps a search: first proposes `pending` again (the trials an interrupted launch left
    unfinished, so they continue from their checkpoints instead of being sampled anew),
    then asks the search. What a re-proposed trial ends with reaches the search as an
    evaluated point (it never proposed that trial in this process)."""

    def __init__(self, inner: Searcher, pending: list[dict]):
        super().__init__(inner)
        self.pending = list(pending)
        self.resumed: dict[str, dict] = {}    # Tune trial id -> its parameters

    def suggest(self, trial_id: str):
        if not self.pending:
            return self.inner.suggest(trial_id)
        self.resumed[trial_id] = self.pending.pop(0)
        return dict(self.resumed[trial_id])

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id not in self.resumed:
            super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        if trial_id not in self.resumed:
            super().on_trial_complete(trial_id, result=result, error=error)
            return
        params = self.resumed.pop(trial_id)
        value = None if error or result is None else result.get(self.metric)
        if error or result is None or value is not None:  # failed, pruned, or completed
            self.inner.add_evaluated_point(params, value, error=error, pruned=result is None)


class StudySearch(Wrapper):
    """Wraps a searcher: each suggestion becomes {**params, "trial": key, "job": Job}, and
    nothing more is suggested once `budget` is spent (from the finished trials' cost)."""

    def __init__(self, inner: Searcher, make_job: Callable[[str, dict], object],
                 budget: Budget):
        super().__init__(inner)
        self.make_job = make_job
        self.budget = budget
        self.jobs: dict[str, object] = {}    # Tune trial id -> Job

    def started_keys(self) -> set[str]:
        """The trials handed to Tune so far."""
        return {job.spec.key for job in self.jobs.values()}

    def suggest(self, trial_id: str):
        if self.budget.spent_out():
            return Searcher.FINISHED
        params = self.inner.suggest(trial_id)
        if params is None or params == Searcher.FINISHED:
            return params
        job = self.make_job(trial_id, params)
        self.jobs[trial_id] = job
        return {**params, "trial": job.spec.key, "job": job}

    def on_trial_complete(self, trial_id: str, result=None, error: bool = False) -> None:
        job = self.jobs.get(trial_id)
        if job is not None:
            self.budget.charge(result or {}, job.spec.key)
            if not error and ended_early(result or {}, job):
                result = None  # a searcher reads None as pruned (Optuna: TrialState.PRUNED)
        super().on_trial_complete(trial_id, result=result, error=error)


def ended_early(result: dict, job) -> bool:
    """Stopped by the scheduler before its last epoch: its last value is an intermediate
    one, not comparable with the final values of trials that ran to the end."""
    return int(result.get("epoch", 0)) < int(job.spec.config.train.epochs)
