"""`haco bench sweep`: wall time of trials through the launcher vs. `run(cfg)` directly.

Both sides run the same trial configs on the same cores, one trial at a time: first
directly in this process, then through `haco.sweep.launch` (Ray start, Tune, a trial
actor per trial, MLflow runs with batch logging, artifacts, system metrics). Each side
writes to its own temporary store. The one-time steps a repeat launch finds done are done
before either clock starts, and printed: the twins, the plan's calibration (cached beside
the runs) and the input-blind floor's baselines (cached in the store). So the ratio is a
repeat launch's: what every launch pays, not what the first pays once.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

from haco.config import load_config

TARGET = 1.05  # issue 18: the launcher may cost at most 5% over run(cfg)


def sweep_overrides(cfg, root: Path, side: str) -> list[str]:
    rows = ",".join(f'"{r}"' for r in cfg.rows)
    return [f"study={cfg.study}", f"profile={cfg.profile}", f"sweep.rows=[{rows}]",
            f"data.root={cfg.data.root}" if cfg.data.root else "data.root=null",
            f"mlflow.tracking_uri=sqlite:///{root / side}/mlflow.db",
            f"mlflow.artifact_root={root / side}/artifacts",
            f"sweep.storage_path={root / side}/runs", *cfg.overrides]


def time_direct(specs) -> float:
    from haco.train import run

    start = time.perf_counter()
    for spec in specs:
        run(spec.config)
    return time.perf_counter() - start


def time_launcher(overrides: list[str]) -> tuple[float, float]:
    """(total seconds, of which Ray's start)."""
    import ray

    from haco.sweep import launch
    from haco.sweep.resources import connect

    owned = not ray.is_initialized()  # a session already running (tests) is left running
    start = time.perf_counter()
    sweep_cfg = load_config("sweep", overrides)
    connect(sweep_cfg)
    ray_start = time.perf_counter() - start
    status = launch(sweep_cfg, overrides)
    total = time.perf_counter() - start
    if owned:
        ray.shutdown()
    if status != 0:
        raise RuntimeError("the launched trials did not all finish; see the log above")
    return total, ray_start


def inside_trials(overrides: list[str]) -> float:
    """Seconds the launched trials spent inside their recorders (the sum of their
    sweep/trial_seconds): run(cfg) plus what a trial records around it."""
    from haco import ledger, tracking

    cfg = load_config("sweep", overrides)
    client = tracking.client(cfg)
    runs = ledger.trials_by_key(client, tracking.experiment_id(client, cfg, str(cfg.study.name)))
    return sum(run.data.metrics[ledger.TRIAL_SECONDS] for run in runs.values())


def warm_up(overrides: list[str]) -> tuple[float, float]:
    """(calibration seconds, baselines seconds): the launcher's one-time steps, done into
    its own storage and store by a dry run and the floor, Ray stopped again after."""
    import ray

    from haco import tracking
    from haco.sweep import launch
    from haco.sweep.floor import ensure_floor
    from haco.sweep.study import expand

    owned = not ray.is_initialized()
    calibration = time.perf_counter()
    launch(load_config("sweep", [*overrides, "sweep.dry_run=true"]), overrides)
    calibration = time.perf_counter() - calibration
    if owned:
        ray.shutdown()
    cfg = load_config("sweep", overrides)
    client = tracking.client(cfg)
    started = time.perf_counter()
    ensure_floor(cfg, client, tracking.experiment_id(client, cfg, str(cfg.study.name)),
                 expand(cfg, overrides))
    return calibration, time.perf_counter() - started


def bench_command(cfg) -> int:
    from haco.sweep.prepare import prepare_data
    from haco.sweep.study import expand

    with tempfile.TemporaryDirectory(prefix="haco-bench-sweep-") as tmp:
        root = Path(tmp)
        direct_args = sweep_overrides(cfg, root, "direct")
        specs = expand(load_config("sweep", direct_args), direct_args)
        prepare_data(specs)
        direct = time_direct(specs)
        launcher_args = sweep_overrides(cfg, root, "launcher")
        calibration, floor = warm_up(launcher_args)
        launched, ray_start = time_launcher(launcher_args)
        inside = inside_trials(launcher_args)
    ratio = launched / direct
    print(f"\n{len(specs)} trials of study {cfg.study} ({', '.join(cfg.rows)}), profile "
          f"{cfg.profile}, overrides {OmegaConf.to_container(cfg.overrides)}")
    print(f"  before the clocks, once (a repeat launch finds them done): twins, the plan's "
          f"calibration {calibration:.1f} s (a dry run, Ray's start included), the floor's "
          f"baselines {floor:.1f} s")
    print(f"  run(cfg) directly, one after another: {direct:7.1f} s")
    print(f"  through the launcher (Ray + MLflow):  {launched:7.1f} s  (Ray start {ray_start:.1f} s)")
    print(f"    inside the trials' recorders:       {inside:7.1f} s  (run(cfg) + "
          f"{inside - direct:.1f} s: params, provenance, epochs, artifacts, heatmaps)")
    print(f"    outside them:                       {launched - inside:7.1f} s  (Ray start, "
          f"plan, trial processes, Tune, settle, summary)")
    print(f"  overhead ratio {ratio:.3f} (target <= {TARGET:.2f}): "
          f"{'met' if ratio <= TARGET else 'not met'}")
    return 0
