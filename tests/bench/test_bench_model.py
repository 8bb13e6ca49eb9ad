"""`haco bench model`, `haco bench losses` and `haco bench train` print what they promise."""

import pytest

from haco.config import load_config


@pytest.mark.slow  # builds and times all 12 backbones, ~15 s
def test_bench_model_meets_table_a3_for_all_12(capsys):
    from haco.bench.model import bench_command

    assert bench_command(load_config("bench_model", ["cpu_only=true"])) == 0
    out = capsys.readouterr().out
    assert "all 12 met" in out
    assert out.count("\n") >= 14  # a header, 12 backbones, the verdict


def test_bench_losses_times_every_loss_and_the_objective_share(capsys):
    from haco.bench.losses import bench_command
    from haco.losses import LOSSES

    bench_command(load_config("bench_losses", ["profile=smoke", "repeats=3"]))
    out = capsys.readouterr().out
    for name in [*LOSSES, "reg", "smooth"]:
        assert f"  {name} " in out
    assert "objective / step =" in out


@pytest.fixture(scope="module")
def smoke_root(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-train")


def test_bench_train_rates_each_backbone_beside_the_loader(smoke_root, capsys):
    from haco.bench.train import bench_command

    cfg = load_config("bench_train", ["profile=smoke", f"data.root={smoke_root}",
                                      "data.twins=[MOW]", "backbones=[test-resnet,test-vit]",
                                      "repeats=1", "loader_steps=2"])
    assert bench_command(cfg) == 0
    out = capsys.readouterr().out
    assert "loader alone:" in out
    assert "test-resnet" in out and "test-vit" in out
