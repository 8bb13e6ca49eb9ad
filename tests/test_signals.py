"""SIGTERM to a data command's pid alone (`kill <pid>`, as a scheduler sends it) ends it
as Ctrl-C does: exit 130 within seconds, no worker process left, nothing half-written,
and the same command continues to the result an uninterrupted run gives."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest

from haco.config import load_config
from haco.data import importer, integrity, shards
from haco.interrupt import INTERRUPTED
from haco.paths import project_root
from haco.pretrain.dataset import build_set, load_set, set_dir
from haco.synth.generate import plan
from haco.synth.layout import selected_twins, synth_dir

pytestmark = pytest.mark.slow  # whole commands in subprocesses: 10-40 s each


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "haco.cli", *args], cwd=project_root(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def terminate_once(proc, ready, timeout=120):
    """SIGTERM `proc` (its pid only) once `ready()`; its exit code, and the processes it
    had started, for the caller to check they are gone."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the command never got going"
        time.sleep(0.05)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    _, alive = psutil.wait_procs(children, timeout=5)
    assert alive == [], f"left running: {alive}"
    return code, children, proc.stderr.read()


def partials(root):
    return [p for p in root.rglob("*") if ".partial" in p.name]


def test_synth(tmp_path):
    root = tmp_path / "data"
    args = ["data", "synth", "profile=smoke", f"data.root={root}", "data.workers=2"]
    code, children, err = terminate_once(start(*args),
                                         lambda: any(root.rglob("shard-00000")))
    assert code == INTERRUPTED, err
    assert len(children) == 2  # the workers, ended with it
    assert "interrupted" in err.splitlines()[-1] and "Traceback" not in err
    assert partials(root) == []

    assert subprocess.run([sys.executable, "-m", "haco.cli", *args], cwd=project_root(),
                          capture_output=True, check=False).returncode == 0
    cfg = load_config("data_synth", args[2:])
    units = plan(cfg, selected_twins(cfg))
    for unit in units:  # every shard, whole, as an uninterrupted build lays them out
        shard = synth_dir(cfg) / unit.twin / unit.split / shards.shard_name(unit.shard)
        assert integrity.problem(shard) is None
        assert json.loads((shard / "meta.json").read_text())["count"] == unit.stop - unit.start


def test_pretrain(tmp_path):
    args = ["pretrain", "profile=smoke", f"data.root={tmp_path / 'data'}", "data.workers=2",
            "pretrain.samples=224", f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db"]
    cfg = load_config("pretrain", args[1:])
    root = set_dir(cfg)
    code, _, err = terminate_once(start(*args), lambda: any(root.glob("shard-*.npz")))
    assert code == INTERRUPTED, err
    assert partials(root) == [] and not (root / "recipe.json").exists()

    assert subprocess.run([sys.executable, "-m", "haco.cli", *args], cwd=project_root(),
                          capture_output=True, check=False).returncode == 0
    resumed = load_set(root)
    fresh = load_set(build_set(load_config("pretrain", [*args[1:],
                                                        f"data.root={tmp_path / 'fresh'}"]),
                               progress=False))
    for field, values in fresh.items():
        assert np.array_equal(resumed[field], values), field


def test_import(tmp_path):
    from .data.test_importer import good_input

    good_input(tmp_path / "in", 40)
    common = ["profile=smoke", "data.shard_size=4", "dataset=MOW", "split=test",
              f"input={tmp_path / 'in'}"]
    staging = tmp_path / "data" / "real" / "MOW" / ".test.importing"
    code, _, err = terminate_once(start("data", "import", f"data.root={tmp_path / 'data'}",
                                        *common), lambda: any(staging.glob(".chunk-*.json")))
    assert code == INTERRUPTED, err
    assert partials(staging) == [] and staging.is_dir()  # kept: the next run resumes it
    assert not (tmp_path / "data" / "real" / "MOW" / "test").exists()

    assert subprocess.run([sys.executable, "-m", "haco.cli", "data", "import",
                           f"data.root={tmp_path / 'data'}", *common], cwd=project_root(),
                          capture_output=True, check=False).returncode == 0
    whole = load_config("data_import", [*common, f"data.root={tmp_path / 'whole'}"])
    assert importer.import_command(whole) == 0
    reports = [json.loads(next((tmp_path / where).rglob("test.import_report.json"))
                          .read_text()) for where in ("data", "whole")]
    resumed, uninterrupted = ({k: v for k, v in r.items() if k != "output"} for r in reports)
    assert resumed == uninterrupted
    assert reports[0]["imported"] == 40 and reports[0]["shards"] == 10
