"""haco.sweep.resources: per-trial requests resolved against the cluster's nodes."""

import pytest

from haco.config import ConfigError, load_config
from haco.sweep.resources import Resources, per_trial

LAPTOP = [{"cpu": 2.0, "gpu": 0.0}]
GPU_NODES = [{"cpu": 16.0, "gpu": 4.0}, {"cpu": 16.0, "gpu": 4.0}]


def resolve(nodes, *overrides):
    return per_trial(load_config("sweep", list(overrides)), nodes)


def test_without_gpus_one_trial_takes_every_cpu():
    assert resolve(LAPTOP) == Resources(cpus=2, gpus=0, concurrent=1)


def test_without_gpus_concurrent_trials_split_the_cpus():
    assert resolve([{"cpu": 8.0, "gpu": 0.0}], "sweep.max_concurrent=4") == Resources(2, 0, 4)


def test_with_gpus_one_gpu_and_its_cpus_per_trial():
    assert resolve(GPU_NODES) == Resources(cpus=4, gpus=1, concurrent=8)


def test_fractional_gpus_pack_trials():
    assert resolve(GPU_NODES, "resources.gpus_per_trial=0.5") == Resources(2, 0.5, 16)


def test_explicit_cpus_win():
    assert resolve(GPU_NODES, "resources.cpus_per_trial=6").cpus == 6


@pytest.mark.parametrize("overrides, message", [
    (["resources.gpus_per_trial=1"], "gpus_per_trial=1 but the cluster has none"),
    (["resources.cpus_per_trial=3"], "largest node has 2 CPUs"),
    (["resources.gpus_per_trial=1.5"], "a fraction below 1, or a whole number"),
])
def test_requests_the_cluster_cannot_meet_are_config_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        resolve(LAPTOP, *overrides)


def test_no_node_is_a_config_error():
    with pytest.raises(ConfigError, match="no alive node"):
        resolve([])


@pytest.fixture
def autoscaler(monkeypatch):
    """Nodes that appear after some polls, and the requests made to the autoscaler."""
    from haco.sweep import resources

    state = {"polls": 0, "requests": [], "appear_after": 2}

    def alive():
        state["polls"] += 1
        return LAPTOP + (GPU_NODES[:1] if state["polls"] > state["appear_after"] else [])
    monkeypatch.setattr(resources, "nodes", alive)
    monkeypatch.setattr(resources, "request", state["requests"].append)
    return state


def test_a_launch_waits_for_the_autoscaler_to_add_a_gpu_node(autoscaler, capsys):
    from haco.sweep.resources import wait_for_nodes

    cfg = load_config("sweep", ["resources.gpus_per_trial=1", "resources.wait_seconds=60"])
    assert wait_for_nodes(cfg, poll=0.01) == Resources(cpus=4, gpus=1, concurrent=4)
    assert autoscaler["requests"] == [[{"GPU": 1.0, "CPU": 1.0}], []]  # asked, then let go
    assert "waiting up to 60 s for a node with {'GPU': 1.0, 'CPU': 1.0}" in capsys.readouterr().out


def test_without_waiting_a_missing_gpu_is_a_config_error_at_once(autoscaler):
    from haco.sweep.resources import wait_for_nodes

    with pytest.raises(ConfigError, match="the cluster has none"):
        wait_for_nodes(load_config("sweep", ["resources.gpus_per_trial=1"]))
    assert autoscaler["requests"] == [] and autoscaler["polls"] == 1


def test_a_wait_that_runs_out_says_so(autoscaler):
    from haco.sweep.resources import wait_for_nodes

    autoscaler["appear_after"] = 10**9
    cfg = load_config("sweep", ["resources.gpus_per_trial=1", "resources.wait_seconds=0.05"])
    with pytest.raises(ConfigError, match="waited 0.05 s for the autoscaler"):
        wait_for_nodes(cfg, poll=0.01)
    assert autoscaler["requests"][-1] == []


def test_requests_reach_a_ray_without_an_autoscaler_harmlessly(ray_session):
    from haco.sweep.resources import request

    request([{"CPU": 1.0}])
    request([])
