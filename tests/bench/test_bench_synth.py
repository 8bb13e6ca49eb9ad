"""`haco bench synth` runs every group and reports both costs."""

from haco.bench.synth import bench_command
from haco.config import load_config


def test_bench_synth_reports_every_group(capsys):
    assert bench_command(load_config("bench_synth", ["profile=smoke", "samples=2"])) == 0
    out = capsys.readouterr().out
    for group in ("HO", "HH", "HS", "HB"):
        assert f"  {group} " in out
    assert "samples/s per core" in out
