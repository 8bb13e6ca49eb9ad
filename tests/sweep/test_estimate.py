"""haco.sweep.estimate: a trial's counts match what its loaders yield, the unit costs are
measured and cached per device, and finished runs refine the estimate."""

from types import SimpleNamespace

import pytest

from haco.config import load_config
from haco.ledger import TRIAL_SECONDS, Tag
from haco.sweep import estimate
from haco.sweep.estimate import Estimator, TrialEstimate, UnitCosts, Workload
from haco.sweep.resources import Resources

TWINS = "[MOW,HIC]"
RESOURCES = Resources(cpus=2.0, gpus=0.0, concurrent=1)


@pytest.fixture
def twin_root(data_root):
    """Smoke twins holding TWINS (tests/conftest.py)."""
    return data_root


def smoke(root, *overrides):
    return load_config("train", ["profile=smoke", f"data.root={root}", f"data.train={TWINS}",
                                 "data.val=[MOW,HIC]", "data.test=[MOW,HIC]", *overrides])


@pytest.mark.parametrize("overrides", [(), ("train.steps_per_epoch=null", "train.epochs=3"),
                                       ("loader.batch_size=3",)])
def test_the_workload_is_what_the_trial_s_loaders_yield(twin_root, overrides):
    from haco.data.catalogue import trial_splits
    from haco.data.loader import build_loader, specs_for

    cfg = smoke(twin_root, *overrides)
    work = estimate.workload(cfg)
    splits = trial_splits(cfg)  # as haco.train.loop.setup and test_metrics build them
    train, _ = build_loader(cfg, specs_for(cfg, list(splits.train), "train"), "train")
    steps = len(train)
    if cfg.train.steps_per_epoch:
        steps = min(steps, int(cfg.train.steps_per_epoch))
    val, _ = build_loader(cfg, specs_for(cfg, list(splits.val), "val"), "val", train=False)
    tests = sum(len(build_loader(cfg, specs_for(cfg, [n], "test"), "test", train=False)[0])
                for n in splits.test)
    epochs = int(cfg.train.epochs)
    assert work == Workload(steps * epochs, len(val) * epochs + tests, epochs)


def test_real_data_not_imported_has_no_workload(tmp_path):
    cfg = smoke(tmp_path, "data.source=real")
    assert estimate.workload(cfg) is None


def test_unit_costs_add_up_per_unit_of_work():
    units = UnitCosts(build=2.0, step=0.5, eval_batch=0.1, forward=0.01, checkpoint=1.0)
    work = Workload(train_steps=10, eval_batches=20, checkpoints=3, forwards=13)
    assert units.seconds(work) == pytest.approx(2 + 5 + 2 + 0.13 + 3)


def test_measure_times_every_unit_on_this_device(twin_root, tmp_path):
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(smoke(twin_root), resolve=True)
    units = estimate.measure(cfg, tmp_path)
    assert all(v > 0 for v in vars(units).values())
    assert units.step > units.eval_batch / 10  # a step does a forward and a backward
    assert list(tmp_path.iterdir()) == []      # the timed checkpoint is not left behind


def test_measure_builds_a_model_started_from_a_dataset_s_mean(twin_root, tmp_path):
    from omegaconf import OmegaConf

    cfg = smoke(twin_root, "model.init=mean", "model.init_dataset=MOW")  # Table A1's row
    assert estimate.measure(OmegaConf.to_container(cfg, resolve=True), tmp_path).step > 0


def test_calibration_is_cached_per_device(twin_root, tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(smoke(twin_root), resolve=True)
    calls = []
    fake = UnitCosts(1.0, 0.1, 0.01, 0.001, 0.5)
    monkeypatch.setattr(estimate, "measure", lambda c, scratch: calls.append(c) or fake)
    device, first, measured = estimate.calibrate_here({"m1": cfg}, str(tmp_path))
    assert calls == [cfg] and first == {"m1": vars(fake)} and device and measured == 1
    _, again, measured = estimate.calibrate_here({"m1": cfg, "m2": cfg}, str(tmp_path))
    assert len(calls) == 2 and set(again) == {"m1", "m2"} and measured == 1  # only m2


def test_a_calibration_on_hardware_met_before_starts_no_task(twin_root, tmp_path,
                                                           monkeypatch):
    import ray

    tasks, nodes = [], [{"Alive": True, "NodeManagerHostname": "h",
                         "Resources": {"CPU": 2.0, "memory": 1e9}}]

    def remote(**resources):  # ray.remote(num_cpus=, num_gpus=)(fn), run in this process
        return lambda fn: SimpleNamespace(remote=lambda *a: tasks.append(resources) or fn(*a))
    monkeypatch.setattr(ray, "nodes", lambda: nodes)
    monkeypatch.setattr(ray, "remote", remote)
    monkeypatch.setattr(ray, "get", lambda found: found)
    monkeypatch.setattr(estimate, "measure", lambda c, scratch: UNITS)
    one = spec(smoke(twin_root))
    device, units, measured = estimate.calibrate([one], RESOURCES, tmp_path)
    assert len(tasks) == 1 and measured == 1 and set(units.values()) == {UNITS}
    nodes[0]["Resources"]["memory"] = 2e9  # free memory is not hardware
    assert estimate.calibrate([one], RESOURCES, tmp_path) == (device, units, 0)
    assert len(tasks) == 1
    other = spec(smoke(twin_root, "model.backbone=resnet-18"), "k1")
    assert estimate.calibrate([one, other], RESOURCES, tmp_path)[2] == 1  # a model not met
    assert len(tasks) == 2
    nodes.append({"Alive": True, "NodeManagerHostname": "g", "Resources": {"GPU": 1.0}})
    assert estimate.calibrate([one], RESOURCES, tmp_path)[2] == 0  # cached, but new
    assert len(tasks) == 3                                          # hardware: a task


def test_the_model_key_ignores_what_does_not_change_the_cost(twin_root):
    base = estimate.model_key(smoke(twin_root), RESOURCES)
    assert estimate.model_key(smoke(twin_root, "loss=vcb", "seed=3"), RESOURCES) == base
    assert estimate.model_key(smoke(twin_root, "model.backbone=resnet-18"), RESOURCES) != base
    assert estimate.model_key(smoke(twin_root), Resources(1.0, 0.0, 2)) != base


# ---------------------------------------------------------------------------- refinement

UNITS = UnitCosts(build=1.0, step=0.5, eval_batch=0.1, forward=0.01, checkpoint=0.2)


def spec(cfg, key="k0"):
    from omegaconf import OmegaConf

    return SimpleNamespace(key=key, config=cfg, cfg=OmegaConf.to_container(cfg),
                           config_hash=key)


def past(seconds, family=None, estimated=None, status="FINISHED"):
    tags = {}
    if family:
        tags[Tag.COST_FAMILY] = family
    if estimated:
        tags[Tag.ESTIMATE] = str(estimated)
    return SimpleNamespace(info=SimpleNamespace(status=status),
                           data=SimpleNamespace(metrics={TRIAL_SECONDS: seconds}, tags=tags))


@pytest.fixture
def no_ray(monkeypatch):
    """calibrate() without a Ray task: fixed unit costs for every model asked for."""
    asked = []

    def fake(specs, resources, cache_dir):
        asked.extend(specs)
        return ("test device", {estimate.model_key(s.config, resources): UNITS for s in specs},
                len(specs))
    monkeypatch.setattr(estimate, "calibrate", fake)
    return asked


def sweep_cfg(root, *overrides):
    return load_config("sweep", ["study=losses", "profile=smoke", f"data.root={root}",
                                 *overrides])


def test_without_history_a_trial_is_calibrated(twin_root, tmp_path, no_ray):
    cfg, one = sweep_cfg(twin_root), spec(smoke(twin_root))
    made = Estimator(cfg, RESOURCES, [one], [], tmp_path).of(one)
    expected = estimate.OVERHEAD_SECONDS["smoke"] + UNITS.seconds(estimate.workload(one.config))
    assert made.seconds == pytest.approx(expected)
    assert made.source == "calibrated on test device"


def test_finished_runs_of_the_family_set_the_estimate(twin_root, tmp_path, no_ray):
    cfg, one = sweep_cfg(twin_root), spec(smoke(twin_root))
    family = Estimator(cfg, RESOURCES, [one], [], tmp_path).of(one).family
    no_ray.clear()
    runs = [past(10.0, family), past(30.0, family), past(20.0, family),
            past(99.0, family, status="FAILED"), past(50.0, "another")]
    made = Estimator(cfg, RESOURCES, [one], runs, tmp_path).of(one)
    assert made.seconds == 20.0 and "median of 3 finished run(s)" in made.source
    assert no_ray == []  # nothing left to calibrate


def test_earlier_estimates_scale_a_new_family(twin_root, tmp_path, no_ray):
    cfg, one = sweep_cfg(twin_root), spec(smoke(twin_root))
    plain = Estimator(cfg, RESOURCES, [one], [], tmp_path).of(one).seconds
    runs = [past(15.0, "other", estimated=10.0), past(30.0, "other2", estimated=20.0)]
    made = Estimator(cfg, RESOURCES, [one], runs, tmp_path).of(one)
    assert made.seconds == pytest.approx(plain * 1.5) and "x 1.50" in made.source


def test_a_fixed_estimate_and_missing_data(twin_root, tmp_path, no_ray):
    fixed = Estimator(sweep_cfg(twin_root, "sweep.estimate_seconds=42"), RESOURCES,
                      [spec(smoke(twin_root))], [], tmp_path)
    assert fixed.of(spec(smoke(twin_root))).seconds == 42.0 and no_ray == []
    real = spec(smoke(tmp_path, "data.source=real"))
    made = Estimator(sweep_cfg(tmp_path), RESOURCES, [real], [], tmp_path).of(real)
    assert made.source.startswith("rule of thumb") and no_ray == []


def test_wall_seconds_packs_trials_into_slots():
    start = estimate.LAUNCH_SECONDS
    assert estimate.wall_seconds([3, 1, 1, 1], 1) == start + 6
    assert estimate.wall_seconds([3, 1, 1, 1], 2) == start + 3
    assert estimate.wall_seconds([1, 1, 3, 1], 2) == start + 4  # in order, not packed best
    assert estimate.wall_seconds([], 4) == 0


def test_a_trial_run_carries_its_estimate():
    tags = estimate.tags_of(TrialEstimate(12.34, "x", "fam"))
    assert tags == {Tag.COST_FAMILY: "fam", Tag.ESTIMATE: "12.3"}
