"""Budgets: the plan's line, the accounting, and a launch that runs out of budget."""

import pytest
from omegaconf import OmegaConf

from haco.config import ConfigError
from haco.sweep import launch
from haco.sweep.budget import Budget

from .test_launch import runs_of

COSTS = {"usd_per_gpu_hour": 2.0, "usd_per_cpu_hour": 0.1}


def budget(device_hours=None, usd=None, gpus=0.0):
    cfg = OmegaConf.create({"budget": {"device_hours": device_hours, "usd": usd},
                            "costs": COSTS})
    return Budget.from_cfg(cfg, gpus)


def test_trials_are_charged_their_costs_or_their_priced_wall_time():
    b = budget(device_hours=1.0, gpus=1)
    b.charge({"cost/device_hours": 0.25, "cost/usd": 0.5, "time_total_s": 9999}, "a")
    assert not b.spent_out()
    b.charge({"time_total_s": 2700}, "b")  # pruned or failed: no cost/*, 0.75 h at $2
    assert b.spent_hours == pytest.approx(1.0) and b.spent_usd == pytest.approx(2.0)
    assert b.spent_out() and b.charged == ["a", "b"]


def test_either_cap_spends_the_budget_out():
    b = budget(usd=0.01)  # CPU: $0.1 an hour
    b.charge({"cost/device_hours": 0.05, "cost/usd": 0.005}, "a")
    assert not b.spent_out()
    b.charge({"cost/device_hours": 0.05, "cost/usd": 0.005}, "b")
    assert b.spent_out()


def test_the_plan_says_whether_the_estimate_fits():
    assert "none" in budget().plan([0.1] * 10)
    assert "the estimate fits" in budget(device_hours=1.0).plan([0.1] * 10)
    assert "about 3 of 10 trials start" in budget(device_hours=0.25).plan([0.1] * 10)
    assert "about 2 of 10 trials start" in budget(usd=0.3, gpus=1).plan([0.1] * 10)  # $0.2/trial


@pytest.mark.parametrize("key", ["device_hours", "usd"])
def test_a_cap_that_is_not_positive_is_a_config_error(key):
    with pytest.raises(ConfigError, match=f"budget.{key}=0"):
        budget(**{key: 0})


def test_a_spent_budget_starts_no_new_trial_and_ends_cleanly(study, capsys):
    """One trial at a time and a cap below one smoke trial's cost: the first trial runs,
    the second never starts; the launch says so and exits 0. Without the cap, the same
    command runs just the second."""
    cfg, args = study("losses", "sweep.rows=[CE loss,L1 loss]", "budget.device_hours=1e-6")
    assert launch(cfg, args) == 0
    out = capsys.readouterr().out
    assert "budget: 1e-06 device-hours; about 1 of 2 trials start" in out
    assert "not started (1): L1 loss s0" in out
    children, parents = runs_of(cfg)
    by_row = {r.data.tags["haco.row"]: r for r in children}
    assert by_row["CE loss"].info.status == "FINISHED"
    assert by_row["L1 loss"].info.status == "KILLED"
    assert by_row["L1 loss"].data.tags["haco.stopped"] == "budget"
    assert "haco.attempts" not in by_row["L1 loss"].data.tags  # never started
    parent = parents[0]
    assert parent.info.status == "KILLED" and parent.data.tags["haco.stopped"] == "budget"
    spent = parent.data.metrics["sweep/device_hours_spent"]
    assert spent == pytest.approx(by_row["CE loss"].data.metrics["cost/device_hours"])

    cfg, args = study("losses", "sweep.rows=[CE loss,L1 loss]")
    assert launch(cfg, args) == 0
    children, _ = runs_of(cfg)
    assert sorted(r.info.status for r in children) == ["FINISHED", "FINISHED"]
    assert len(children) == 2  # the budget-stopped run was resumed, not duplicated
