"""A study on a simulated multi-node Ray cluster (a 0-CPU head and two 1-CPU worker
nodes, each node its own raylet on this machine): the trials spread over the nodes, a
trial whose node is lost mid-training is retried elsewhere and resumes from its
checkpoint, and a driver killed outright is resumed by the same command. Each test has
its own MLflow store and storage path; the cluster is shared (tests/sweep/cluster_driver.py
runs it in a process of its own, away from the session Ray of the pytest process)."""

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from haco.paths import project_root

EPOCHS = 16           # of STEPS steps: a trial lasts ~30 s, time to lose its node mid-way
STEPS = 32
ROWS = {"w/o sampling", "w/ sampling (Ours)"}  # haco/conf/study/sampling.yaml
WORKERS = 2           # 1-CPU worker nodes: one trial each
DRIVER_SECONDS = 600  # a whole launch, generous: other tests may share the two cores
PREFIX = "CLUSTER "   # cluster_driver.py's answers


class ClusterProcess:
    """tests/sweep/cluster_driver.py: a Cluster answering commands on a pipe."""

    def __init__(self, log: Path):
        self.temp = tempfile.mkdtemp(prefix="haco-rc-", dir="/tmp")  # short socket paths
        self.log = log
        with open(log, "w") as err:  # the child holds its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).with_name("cluster_driver.py"))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                env={**os.environ, "RAY_TMPDIR": self.temp}, start_new_session=True)
        self.answers = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        started = self.call("start", WORKERS)
        self.address = started["address"]

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith(PREFIX):
                self.answers.put(json.loads(line[len(PREFIX):]))
        self.answers.put(None)  # the process ended

    def call(self, *command, timeout=180) -> dict:
        self.proc.stdin.write(" ".join(map(str, command)) + "\n")
        self.proc.stdin.flush()
        answer = self.answers.get(timeout=timeout)
        assert answer is not None, f"the cluster process died:\n{tail(self.log)}"
        return answer

    def workers(self) -> list[str]:
        return self.call("nodes")["nodes"]

    def close(self):
        try:
            if self.proc.poll() is None:
                self.call("quit", timeout=120)
                self.proc.wait(timeout=60)
        except (OSError, queue.Empty, subprocess.TimeoutExpired, AssertionError):
            pass
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    cluster = ClusterProcess(tmp_path_factory.mktemp("ray-cluster") / "cluster.log")
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def cluster(ray_cluster):
    """The shared cluster with (at least) WORKERS idle 1-CPU worker nodes alive."""
    while len(ray_cluster.workers()) < WORKERS:
        ray_cluster.call("add")
    return ray_cluster


@pytest.fixture
def command(cluster, sweep_data, tmp_path):
    """The launch of the 2-cell sampling study on the cluster, on a throwaway MLflow store."""
    return [sys.executable, "sweeps/sampling.py", "profile=smoke", f"data.root={sweep_data}",
            f"mlflow.tracking_uri=sqlite:///{tmp_path}/mlflow.db",
            f"mlflow.artifact_root={tmp_path}/artifacts",
            f"sweep.storage_path={tmp_path}/runs", f"ray.address={cluster.address}",
            "resources.cpus_per_trial=1", "sweep.max_concurrent=2", "sweep.max_failures=2",
            f"train.epochs={EPOCHS}", f"train.steps_per_epoch={STEPS}"]


def mlflow_client(command):
    from mlflow.tracking import MlflowClient

    uri = next(a for a in command if a.startswith("mlflow.tracking_uri="))
    return MlflowClient(tracking_uri=uri.split("=", 1)[1])


def study_runs(client) -> tuple[list, list]:
    """(child runs, parent runs) of the sampling study."""
    experiment = client.get_experiment_by_name("haco/sampling")
    if experiment is None:
        return [], []
    runs = [r for r in client.search_runs([experiment.experiment_id], max_results=1000)
            if r.data.tags.get("haco.kind") != "baseline"]  # the input-blind floor's runs
    children = [r for r in runs if "haco.row" in r.data.tags]
    return children, [r for r in runs if r not in children]


def epochs(client, run_id) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, "train/loss"))


def wait_for(proc, log: Path, ready, what: str, timeout=300):
    """ready() once it is truthy, polling while the launch runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the launch ended (exit {proc.returncode}) before {what}:\n"
                                 + tail(log))
        found = ready()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}:\n" + tail(log))


def tail(log: Path, lines=60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def start(command, log: Path) -> subprocess.Popen:
    with open(log, "a") as out:  # the child holds its own descriptor
        return subprocess.Popen(command, cwd=project_root(), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def finish(proc, log: Path) -> int:
    try:
        return proc.wait(timeout=DRIVER_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError("the launch did not end in time:\n" + tail(log)) from None
    finally:
        kill(proc)


def kill(proc) -> None:
    """SIGKILL a launch's whole process group (the driver and what it started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def check_study_finished(client) -> dict:
    """Exactly one FINISHED child run per cell, every epoch logged once; {row: run}."""
    children, _ = study_runs(client)
    statuses = {}
    for run in children:
        statuses[run.info.status] = statuses.get(run.info.status, 0) + 1
    print(f"  child runs: {len(children)}, per status {statuses}")
    assert len(children) == len(ROWS)
    assert {r.data.tags["haco.row"] for r in children} == ROWS
    assert statuses == {"FINISHED": len(ROWS)}
    for run in children:
        assert epochs(client, run.info.run_id) == list(range(EPOCHS))  # each epoch once
    return {r.data.tags["haco.row"]: r for r in children}


def report(runs: dict) -> None:
    retried = [r for r in runs.values() if int(r.data.tags["haco.attempts"]) >= 2]
    print(f"  trials retried (attempts >= 2): {len(retried)}")
    for row, run in sorted(runs.items()):
        tags = run.data.tags
        print(f"  {row}: attempts {tags['haco.attempts']}, resumed_at_epoch "
              f"{tags['haco.resumed_at_epoch']}, node {tags['haco.node'][:8]}")


def test_a_study_spreads_over_nodes_and_survives_losing_one(cluster, command, tmp_path):
    log = tmp_path / "driver.log"
    client = mlflow_client(command)

    def spread():
        """{row: (run id, node, epochs logged)} once both trials run and one has
        checkpointed an epoch (a RUNNING run's node tag is its current attempt's)."""
        children, _ = study_runs(client)
        running = [r for r in children if r.info.status == "RUNNING"
                   and r.data.tags.get("haco.node")]
        if len(running) < len(ROWS) or not any(epochs(client, r.info.run_id) for r in running):
            return None
        return {r.data.tags["haco.row"]: (r.info.run_id, r.data.tags["haco.node"],
                                          len(epochs(client, r.info.run_id)))
                for r in running}

    started = time.monotonic()
    proc = start(command, log)
    try:
        placed = wait_for(proc, log, spread, "both trials ran and one logged an epoch")
        nodes = {node for _, node, _ in placed.values()}
        assert len(nodes) == len(ROWS)  # one trial per worker node
        assert nodes <= set(cluster.workers())  # never the 0-CPU head
        # Lose the node of a trial that has checkpointed (and is far from its end).
        row, (victim, lost, logged) = max(placed.items(), key=lambda p: p[1][2])
        assert logged < EPOCHS - 1, "the trial is almost done: lengthen train.epochs"
        cluster.call("remove", lost)
        fresh = cluster.call("add")["node"]  # somewhere for the retry to go
        code = finish(proc, log)
    finally:
        kill(proc)
    print(f"\n[node loss] launch took {time.monotonic() - started:.0f} s; node lost after "
          f"{logged} epoch(s) of {row!r}")
    assert code == 0, tail(log)
    runs = check_study_finished(client)
    report(runs)
    moved = runs[row].data.tags
    assert moved["haco.attempts"] == "2"
    assert int(moved["haco.resumed_at_epoch"]) >= 1  # from its checkpoint, not epoch 0
    assert moved["haco.node"] != lost  # the retry ran elsewhere
    print(f"  the retry ran on the {'fresh' if moved['haco.node'] == fresh else 'other'} node")
    assert runs[row].info.run_id == victim  # the same run, continued
    (other,) = set(ROWS) - {row}
    assert runs[other].data.tags["haco.attempts"] == "1"  # the other trial, untouched
    assert runs[other].data.tags["haco.resumed_at_epoch"] == "0"
    assert runs[other].data.tags["haco.node"] == placed[other][1]
    _, parents = study_runs(client)
    statuses = sorted(p.info.status for p in parents)
    print(f"  parent runs per status: {statuses}")
    assert statuses == ["FINISHED"]


def test_a_killed_driver_resumes_on_the_cluster(cluster, command, tmp_path):
    log = tmp_path / "driver.log"
    client = mlflow_client(command)

    def an_epoch():
        children, _ = study_runs(client)
        return [r.info.run_id for r in children if epochs(client, r.info.run_id)]

    started = time.monotonic()
    proc = start(command, log)
    try:
        checkpointed = wait_for(proc, log, an_epoch, "a trial logged an epoch")
    finally:
        kill(proc)  # the driver, at once; its trials live on the nodes
    children, _ = study_runs(client)
    assert {r.info.status for r in children} <= {"RUNNING", "SCHEDULED"}  # nobody settled

    code = finish(start(command, log), log)  # the same command, again
    print(f"\n[driver killed] both launches took {time.monotonic() - started:.0f} s")
    assert code == 0, tail(log)
    runs = check_study_finished(client)
    report(runs)
    for run in runs.values():
        if run.info.run_id in checkpointed:
            assert run.data.tags["haco.attempts"] == "2"
            assert int(run.data.tags["haco.resumed_at_epoch"]) >= 1
    assert {r.info.run_id for r in children} == {r.info.run_id for r in runs.values()}
    _, parents = study_runs(client)
    statuses = sorted(p.info.status for p in parents)
    print(f"  parent runs per status: {statuses}")
    assert statuses == ["FINISHED", "KILLED"]  # the killed launch's, closed by the next
