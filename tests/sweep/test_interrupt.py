"""A launch killed mid-study (SIGTERM, like Ctrl-C; or SIGKILL, no chance to clean up) is
resumed by the same command: same runs, no duplicate, the trial continues from its
checkpoint, nothing stays RUNNING."""

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from haco import tracking
from haco.interrupt import INTERRUPTED
from haco.paths import project_root
from haco.sweep import launch


def wait_for_first_epoch(cfg, proc, timeout=180):
    """The trial's run once it has logged an epoch (so a checkpoint exists)."""
    client = tracking.client(cfg)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the launch ended before it could be interrupted"
        experiment = client.get_experiment_by_name("haco/sampling")
        if experiment is not None:
            for run in client.search_runs([experiment.experiment_id],
                                          "tags.`haco.row` != ''"):
                if client.get_metric_history(run.info.run_id, "train/loss"):
                    return run.info.run_id
        time.sleep(0.5)
    raise AssertionError("no epoch was logged in time")


@pytest.mark.parametrize("signum, left", [(signal.SIGTERM, "KILLED"),
                                          (signal.SIGKILL, "RUNNING")])
def test_a_killed_launch_is_resumed_by_the_same_command(study, signum, left):
    cfg, args = study("sampling", "sweep.rows=[w/o sampling]", "train.epochs=3",
                      "train.steps_per_epoch=60")
    proc = subprocess.Popen([sys.executable, "sweeps/sampling.py", *args[1:]],
                            cwd=project_root(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_id = wait_for_first_epoch(cfg, proc)
        children = psutil.Process(proc.pid).children(recursive=True)  # Ray, its workers
        if signum == signal.SIGKILL:
            os.killpg(proc.pid, signum)  # the driver and the Ray it started, at once
        else:
            proc.send_signal(signum)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    if signum == signal.SIGTERM:  # as Ctrl-C: exit 130, the Ray it started gone with it
        assert proc.returncode == INTERRUPTED
        assert psutil.wait_procs(children, timeout=30)[1] == []
    client = tracking.client(cfg)
    assert client.get_run(run_id).info.status == left

    assert launch(cfg, args) == 0  # the same command, again
    experiment = client.get_experiment_by_name("haco/sampling").experiment_id
    children = client.search_runs([experiment], "tags.`haco.row` != ''")
    assert [r.info.run_id for r in children] == [run_id]
    run = children[0]
    assert run.info.status == "FINISHED"
    assert run.data.tags["haco.attempts"] == "2"
    assert int(run.data.tags["haco.resumed_at_epoch"]) >= 1  # from the checkpoint
    steps = [m.step for m in client.get_metric_history(run_id, "train/loss")]
    assert steps == [0, 1, 2]
    parents = client.search_runs([experiment], "tags.`haco.launch` = 'true'")
    assert sorted(p.info.status for p in parents) == ["FINISHED", "KILLED"]
