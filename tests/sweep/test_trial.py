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
