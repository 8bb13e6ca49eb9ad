"""haco bench sweep at smoke size: both sides run the same trials and the ratio is printed."""

from haco.config import load_config


def test_bench_sweep_times_both_sides_and_prints_the_ratio(ray_session, tmp_path, capsys):
    from haco.bench.sweep import bench_command

    cfg = load_config("bench_sweep", ["profile=smoke", f"data.root={tmp_path}",
                                      "rows=[CE loss]"])
    assert bench_command(cfg) == 0
    out = capsys.readouterr().out
    assert "1 trials of study losses (CE loss), profile smoke" in out
    assert "run(cfg) directly, one after another:" in out
    assert "overhead ratio" in out and "(target <= 1.05)" in out
    assert "before the clocks, once" in out and "calibration" in out
    assert "inside the trials' recorders:" in out and "outside them:" in out
    timed = out[out.rindex("Ray:"):]  # the timed launch finds the one-time steps done
    assert "0 computed" in timed and "0 model(s) measured" in timed
