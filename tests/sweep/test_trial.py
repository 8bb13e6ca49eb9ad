"""haco.sweep.trial: the per-trial GPU memory cap of packed (fractional-GPU) trials."""

import pytest
import torch

from haco.sweep.trial import cap_gpu_memory


@pytest.mark.parametrize("gpus", [0.0, 1.0, 2.0])
def test_whole_gpus_or_none_are_not_capped(gpus):
    assert cap_gpu_memory(gpus) is None


def test_a_fraction_is_capped_only_where_there_is_a_gpu(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction",
                        lambda fraction: calls.append(fraction))
    assert cap_gpu_memory(0.5) == 0.5 and calls == [0.5]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cap_gpu_memory(0.25) is None and calls == [0.5]


def test_a_trial_stopped_by_the_scheduler_ends_killed_not_failed(tmp_path):
    """Tune's report raises SystemExit in a trial its scheduler (ASHA) stops."""
    from mlflow.tracking import MlflowClient

    from haco.config import load_config
    from haco.sweep.study import TrialSpec
    from haco.sweep.trial import Job, RunRecorder

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    run_id = client.create_run(client.create_experiment("x")).info.run_id
    cfg = load_config("train", ["profile=smoke", f"train.out_dir={tmp_path}/trial"])
    spec = TrialSpec("k-s0", "row", 0, "k", dict(cfg))
    RunRecorder(Job(spec, run_id, uri, False)).fail(SystemExit(0))
    run = client.get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["haco.stopped"] == "scheduler"
    assert "haco.error" not in run.data.tags
