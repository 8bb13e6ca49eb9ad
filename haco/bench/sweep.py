"""`haco bench sweep`: wall time of trials through the launcher vs. `run(cfg)` directly.

Both sides run the same trial configs on the same cores, one trial at a time: first
directly in this process, then through `haco.sweep.launch` (Ray start, Tune, a trial
actor per trial, MLflow runs with batch logging, artifacts, system metrics). Twins are
built before either clock starts. Each side writes to its own temporary store.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

from haco.config import load_config

TARGET = 1.10


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


def bench_command(cfg) -> int:
    from haco.sweep.prepare import prepare_data
    from haco.sweep.study import expand

    with tempfile.TemporaryDirectory(prefix="haco-bench-sweep-") as tmp:
        root = Path(tmp)
        direct_args = sweep_overrides(cfg, root, "direct")
        specs = expand(load_config("sweep", direct_args), direct_args)
        prepare_data(specs)
        direct = time_direct(specs)
        launched, ray_start = time_launcher(sweep_overrides(cfg, root, "launcher"))
    ratio = launched / direct
    print(f"\n{len(specs)} trials of study {cfg.study} ({', '.join(cfg.rows)}), profile "
          f"{cfg.profile}, overrides {OmegaConf.to_container(cfg.overrides)}")
    print(f"  run(cfg) directly, one after another: {direct:7.1f} s")
    print(f"  through the launcher (Ray + MLflow):  {launched:7.1f} s  (Ray start {ray_start:.1f} s)")
    print(f"  overhead ratio {ratio:.3f} (target <= {TARGET:.2f}): "
          f"{'met' if ratio <= TARGET else 'not met'}")
    return 0
