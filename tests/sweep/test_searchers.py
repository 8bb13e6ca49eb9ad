"""haco.sweep.searchers: trials handed to Tune one by one, stopped by a spent budget, and
early-stopped trials reported to the search as pruned."""

from types import SimpleNamespace

from omegaconf import OmegaConf
from ray.tune.search import Searcher

from haco.sweep.budget import Budget
from haco.sweep.searchers import StudySearch, TrialList


class Recorder(Searcher):
    """A searcher proposing {"x": n} and recording what it is told."""

    def __init__(self):
        super().__init__(metric="val/f1", mode="max")
        self.count, self.completed = 0, []

    def suggest(self, trial_id):
        self.count += 1
        return {"x": self.count}

    def on_trial_complete(self, trial_id, result=None, error=False):
        self.completed.append((trial_id, result, error))


def job(key, epochs=4):
    spec = SimpleNamespace(key=key, config=OmegaConf.create({"train": {"epochs": epochs}}))
    return SimpleNamespace(spec=spec)


def study_search(inner, hours=None):
    cfg = OmegaConf.create({"budget": {"device_hours": hours, "usd": None},
                            "costs": {"usd_per_gpu_hour": 1.0, "usd_per_cpu_hour": 0.1}})
    return StudySearch(inner, lambda trial_id, params: job(f"k{params['x']}"),
                       Budget.from_cfg(cfg, 0))


def test_a_trial_list_hands_out_each_trial_once_then_finishes():
    trials = TrialList(["a", "b"])
    assert [trials.suggest(str(i)) for i in range(3)] == [
        {"trial": "a"}, {"trial": "b"}, Searcher.FINISHED]


def test_suggestions_carry_their_job_and_key():
    search = study_search(Recorder())
    config = search.suggest("t1")
    assert config["x"] == 1 and config["trial"] == "k1" and config["job"].spec.key == "k1"
    assert search.started_keys() == {"k1"}


def test_a_spent_budget_suggests_nothing_more():
    search = study_search(Recorder(), hours=0.5)
    search.suggest("t1")
    search.on_trial_complete("t1", {"epoch": 4, "cost/device_hours": 0.5})
    assert search.suggest("t2") == Searcher.FINISHED
    assert search.started_keys() == {"k1"}


def test_trials_stopped_early_reach_the_search_as_pruned():
    inner = Recorder()
    search = study_search(inner)
    for trial_id in ("full", "cut", "bad"):
        search.suggest(trial_id)
    search.on_trial_complete("full", {"epoch": 4, "val/f1": 0.3})
    search.on_trial_complete("cut", {"epoch": 1, "val/f1": 0.5})
    search.on_trial_complete("bad", {"epoch": 2, "val/f1": 0.1}, error=True)
    assert inner.completed == [("full", {"epoch": 4, "val/f1": 0.3}, False),
                               ("cut", None, False),  # Optuna: TrialState.PRUNED
                               ("bad", {"epoch": 2, "val/f1": 0.1}, True)]


def test_resumed_trials_come_first_and_reach_the_search_as_evaluated_points():
    from haco.sweep.searchers import Resuming

    class Known(Recorder):
        def __init__(self):
            super().__init__()
            self.points = []

        def add_evaluated_point(self, params, value, error=False, pruned=False):
            self.points.append((params, value, error, pruned))

    inner = Known()
    search = Resuming(inner, [{"x": 10}, {"x": 11}, {"x": 12}])
    assert [search.suggest(t) for t in ("a", "b", "c", "d")] == [
        {"x": 10}, {"x": 11}, {"x": 12}, {"x": 1}]  # then the search's own proposals
    search.on_trial_complete("a", {"val/f1": 0.4})
    search.on_trial_complete("b", None)             # pruned
    search.on_trial_complete("c", {"val/f1": 0.2}, error=True)
    search.on_trial_complete("d", {"val/f1": 0.5})
    assert inner.points == [({"x": 10}, 0.4, False, False), ({"x": 11}, None, False, True),
                            ({"x": 12}, None, True, False)]
    assert inner.completed == [("d", {"val/f1": 0.5}, False)]
